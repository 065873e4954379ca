// Shared by the tests that compare a trace with a numpy fixture (base64 float32 arrays).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { findTensor, type Stage, type TensorData, type Trace } from '../../shared/trace';

export interface Arr {
  shape: number[];
  b64: string;
}

export function decodeArr(a: Arr): Float32Array {
  const buf = Buffer.from(a.b64, 'base64');
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/** |actual − expected| ≤ 1e-5·|expected| + 1e-6·max(1, max|expected|), element by element. */
export function assertClose(
  actual: Float32Array | readonly number[],
  expected: Float32Array | readonly number[],
  what: string,
  rtol = 1e-5,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  const atol = 1e-6 * scale;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e);
    if (!(err <= rtol * Math.abs(e) + atol))
      assert.fail(`${what}[${i}]: ${a} vs numpy ${e} (error ${err.toExponential(2)})`);
  }
}

export function stage(trace: Trace, id: string): Stage {
  const s = trace.stages.find((x) => x.id === id);
  assert.ok(s, `stage ${id} present`);
  return s;
}

export function t(s: Stage, name: string) {
  const x = findTensor(s, name);
  assert.ok(x, `${s.id} has tensor ${name}`);
  return x;
}

/** A reference for one attention block: Q, K, V, scores, weights, context, output (+ mask when one was applied). */
export type AttentionArrs = Record<'Q' | 'K' | 'V' | 'scores' | 'weights' | 'context' | 'output', Arr> & { mask?: Arr };

/**
 * Compares the four stages `${prefix}.qkv|scores|weights|context` of a trace (transformerStages'
 * attentionStages naming) with a reference block, shapes included. A reference mask must match the
 * trace's 0/1 mask; without one, the trace must show none either (or an all-ones one).
 */
export function assertAttentionStages(trace: Trace, prefix: string, ref: AttentionArrs, what: string): void {
  const cmp = (id: string, name: string, arr: Arr): void => {
    const x = t(stage(trace, `${prefix}.${id}`), name);
    assert.deepEqual([...x.shape], arr.shape, `${what} ${name}: shape`);
    assertClose(x.data, decodeArr(arr), `${what} ${name}`);
  };
  for (const k of ['Q', 'K', 'V'] as const) cmp('qkv', k, ref[k]);
  cmp('scores', 'scores', ref.scores);
  const mask = findTensor(stage(trace, `${prefix}.scores`), 'mask');
  if (ref.mask) cmp('scores', 'mask', ref.mask);
  else if (mask)
    assert.ok(
      mask.data.every((v) => v === 1),
      `${what}: the trace shows a mask the reference did not apply`,
    );
  cmp('weights', 'weights', ref.weights);
  cmp('context', 'context', ref.context);
  cmp('context', 'output', ref.output);
}

/** Temporary folders for a test file, removed when the file's tests are done. */
export function scratchDirs(): (prefix: string) => string {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return (prefix) => {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}

/** Same shape, axes and bit patterns (NaN payloads and −0 included): what "bit for bit" means in these tests. */
export function sameBits(a: TensorData, b: TensorData, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  assert.deepEqual(a.axes, b.axes, `${what}: axes`);
  assert.equal(a.data.length, b.data.length, `${what}: length`);
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  for (let i = 0; i < x.length; i++)
    if (x[i] !== y[i]) assert.fail(`${what}: value ${i} differs (${a.data[i]} vs ${b.data[i]})`);
}
