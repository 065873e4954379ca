// A reloaded panel's run read back from disk (src/panel/restoreCache.ts): exactly the run that was
// kept, or nothing (and the bad file gone) when the file does not read back; least recently used
// files let go past the cap; a changed model file misses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decode, encode, fileStamps, RestoreCache } from '../../src/panel/restoreCache';
import { makeTrace } from './traceFixture';
import type { Trace } from '../../shared/trace';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'attention-lens-restore-'));
const MB = 2 ** 20;

function richTrace(): Trace {
  const t = makeTrace(2, 2, 3);
  // Two stages sharing one array, a NaN, notes and predictions: all must come back as they were.
  const shared = t.stages.find((s) => s.tensors.length > 0)!.tensors[0]!;
  shared.data[0] = NaN;
  return {
    ...t,
    stages: [...t.stages, { ...t.stages[2]!, id: 'again', tensors: [shared] }],
    notes: ['clamped to 3 tokens'],
    predictions: [{ position: 2, top: [{ id: 1, text: 'cat', p: 0.5 }] }],
  };
}

function sameTrace(a: Trace, b: Trace): void {
  assert.deepEqual({ ...a, stages: [] }, { ...b, stages: [] });
  assert.equal(a.stages.length, b.stages.length);
  a.stages.forEach((s, i) => {
    const o = b.stages[i]!;
    assert.equal(s.id, o.id);
    assert.deepEqual({ ...s, tensors: [] }, { ...o, tensors: [] });
    s.tensors.forEach((t, j) => {
      const u = o.tensors[j]!;
      assert.deepEqual({ ...t, data: [] }, { ...u, data: [] }, `${s.id}/${t.name}`);
      assert.deepEqual(
        new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length),
        new Uint32Array(u.data.buffer, u.data.byteOffset, u.data.length),
      );
    });
  });
}

test('a kept run reads back bit for bit: metadata, notes, predictions, NaN, shared arrays stored once', async () => {
  const trace = richTrace();
  const bytes = encode(trace);
  const floats = new Set(trace.stages.flatMap((s) => s.tensors.map((t) => t.data))).size;
  assert.ok(floats < trace.stages.flatMap((s) => s.tensors).length, 'the fixture shares an array');
  sameTrace(decode(bytes).trace, trace);
  const cache = new RestoreCache(tmp(), { capBytes: () => 8 * MB });
  const key = RestoreCache.key({ modelId: 'm', text: 'The cat sat' }, ['a']);
  assert.equal(await cache.get(key), undefined);
  assert.equal(await cache.put(key, trace), true);
  sameTrace((await cache.get(key))!.trace, trace);
  // With a grid: its thumbnails' numbers come back exactly, each its own array.
  const head = { data: new Float32Array([0.25, NaN, 1e-8, 0.5]), rows: 2, cols: 2 };
  const grid = {
    sections: [
      {
        kind: 'self' as const,
        title: 'self-attention',
        rows: [{ stage: 'L0.w', layer: 0, title: 'w', heads: [head], mean: head, first: [0.5] }],
        size: { rows: 4, cols: 4 },
        pool: { rows: 2, cols: 2 },
      },
    ],
    rollout: { data: new Float32Array([1, 0, 0.5, 0.5]), rows: 2, cols: 2 },
  };
  assert.ok(await cache.put(key, trace, grid));
  const back = (await cache.get(key))!;
  sameTrace(back.trace, trace);
  assert.deepEqual(back.grid, grid);
  const row = back.grid!.sections[0]!.rows[0]!;
  assert.notEqual(row.heads[0]!.data, row.mean.data, 'each thumbnail its own array');
  assert.equal(decode(encode(trace)).grid, undefined);
});

test('a file that does not read back is a miss and is deleted: truncated, another version, bad lengths or JSON, not a file', async () => {
  const dir = tmp();
  const cache = new RestoreCache(dir, { capBytes: () => 8 * MB });
  const trace = richTrace();
  const key = RestoreCache.key('r', []);
  const file = path.join(dir, `${key}.trace`);
  const bytes = encode(trace);
  for (const broken of [
    bytes.subarray(0, bytes.length - 4),
    bytes.subarray(0, 10),
    Uint8Array.from(bytes, (b, i) => (i === 4 ? 2 : b)),
    Uint8Array.from(bytes, (b, i) => (i === 8 ? b + 1 : b)),
    Uint8Array.from(bytes, (b, i) => (i === 12 ? 0x20 : b)),
  ]) {
    fs.writeFileSync(file, broken);
    assert.equal(await cache.get(key), undefined);
    assert.equal(fs.existsSync(file), false, 'the bad file is gone');
  }
  // A symlink or a folder where the file would be is not followed or read.
  const elsewhere = path.join(tmp(), 'x.trace');
  fs.writeFileSync(elsewhere, bytes);
  fs.symlinkSync(elsewhere, file);
  assert.equal(await cache.get(key), undefined);
  fs.rmSync(file);
  fs.mkdirSync(file);
  assert.equal(await cache.get(key), undefined);
  assert.throws(() => decode(new Uint8Array(3)), /too short/);
});

test('past the cap the least recently used runs are let go; too big a run or a cap of 0 keeps nothing', async () => {
  const dir = tmp();
  const trace = richTrace();
  const size = encode(trace).byteLength;
  let cap = 2.5 * size;
  const cache = new RestoreCache(dir, { capBytes: () => cap });
  const [a, b, c] = ['a', 'b', 'c'].map((r) => RestoreCache.key(r, []));
  assert.ok(await cache.put(a!, trace));
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(await cache.put(b!, trace));
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(await cache.get(a!), 'reading a makes it the most recent');
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(await cache.put(c!, trace));
  assert.ok(await cache.get(a!));
  assert.equal(await cache.get(b!), undefined, 'b was the least recently used');
  assert.ok(await cache.get(c!));
  const small = new RestoreCache(tmp(), { capBytes: () => 8 * MB, entryBytes: size - 1 });
  assert.equal(await small.put(a!, trace), false);
  cap = 0;
  assert.equal(cache.enabled, false);
  assert.equal(await cache.get(a!), undefined);
  assert.equal(await cache.put(a!, trace), false);
  // A light form's tensors left to the worker come back remote and empty, each with its own array.
  const remote = { ...trace.stages[2]!.tensors[0]!, data: new Float32Array(0), remote: true as const };
  const { trace: back } = decode(
    encode({ ...trace, stages: [{ ...trace.stages[2]!, tensors: [remote, trace.stages[2]!.tensors[0]!] }] }),
  );
  const [r, kept] = back.stages[0]!.tensors;
  assert.equal(r!.remote, true);
  assert.equal(r!.data.length, 0);
  assert.notEqual(r!.data.buffer, kept!.data.buffer, 'not a view of the file that a transfer would take');
  assert.deepEqual([...kept!.data], [...trace.stages[2]!.tensors[0]!.data]);
});

test('the key follows the request and the model files: a changed file in a checkpoint folder misses', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'config.json'), '{}');
  fs.writeFileSync(path.join(dir, 'model.safetensors'), 'x');
  const before = await fileStamps([dir]);
  assert.equal(before.length, 3);
  assert.deepEqual(await fileStamps([dir]), before);
  fs.writeFileSync(path.join(dir, 'model.safetensors'), 'xy');
  const after = await fileStamps([dir]);
  assert.notDeepEqual(after, before);
  assert.notEqual(RestoreCache.key({ text: 'a' }, before), RestoreCache.key({ text: 'a' }, after));
  assert.notEqual(RestoreCache.key({ text: 'a' }, before), RestoreCache.key({ text: 'b' }, before));
  assert.deepEqual(await fileStamps([path.join(dir, 'gone')]), [`${path.join(dir, 'gone')}:missing`]);
});
