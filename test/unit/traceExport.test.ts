// Whole-trace export (src/model/formats/safetensorsWriter.ts): real runs (a built-in model, the GPT-2
// and BERT Hugging Face fixtures) written as safetensors + index and read back equal bit for bit,
// by our reader and by an independent numpy reader (scripts/reference/read_trace_export.py) comparing
// a SHA-256 per tensor; NaN payloads, −0 and ±Inf survive; names are sanitised and unique; a shared
// tensor is written once; existing files, missing folders and cancelling behave as documented.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { loadHfModel } from '../../src/model/open/modelFiles';
import { readSafetensorsHeader } from '../../src/model/formats/safetensors';
import {
  checkExportTarget,
  exportTraceSafetensors,
  indexPathFor,
  readTraceExport,
} from '../../src/model/formats/safetensorsWriter';
import { AttentionInputError, tensor, type Trace } from '../../shared/trace';
import { makeTrace } from './traceFixture';
import { scratchDirs } from './fixtureTools';

const ROOT = path.join(__dirname, '..', '..');
const FIX = path.join(ROOT, 'test', 'fixtures', 'hf');
const scratch = scratchDirs();

before(async () => {
  await initBackend('wasm', { threads: 1 });
});

const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
const sha = (a: Float32Array): string =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

/** Everything but the typed arrays, which are compared bit for bit. */
function assertSameTrace(got: Trace, want: Trace): void {
  const strip = (t: Trace): unknown => ({
    ...t,
    stages: t.stages.map((s) => ({ ...s, tensors: s.tensors.map((x) => ({ ...x, data: x.data.length })) })),
  });
  assert.deepEqual(strip(got), strip(want));
  for (const [i, s] of want.stages.entries()) {
    for (const [j, x] of s.tensors.entries()) {
      const y = got.stages[i]!.tensors[j]!;
      assert.deepEqual(bitsOf(y.data), bitsOf(x.data), `${s.id}/${x.name} differs`);
    }
  }
}

interface PyReport {
  header_bytes: number;
  metadata: Record<string, string>;
  tensors: Record<string, { shape: number[]; sha256: string; max_row_sum_error: number | null }>;
  index: { stages: number; tokens: number; safetensors: string; missing: string[]; unreferenced: string[] };
}

function pythonRead(file: string): PyReport {
  const out = execFileSync(
    '/usr/bin/python3',
    [path.join(ROOT, 'scripts', 'reference', 'read_trace_export.py'), file],
    {
      encoding: 'utf8',
    },
  );
  return JSON.parse(out) as PyReport;
}

/** Exports, reads back with both readers, and checks every tensor against the trace. */
async function roundTrip(trace: Trace, name: string): Promise<{ file: string; py: PyReport }> {
  const file = path.join(scratch('al-export-'), `${name}.safetensors`);
  const progress: number[] = [];
  const result = await exportTraceSafetensors(trace, file, { onProgress: (f) => progress.push(f) });
  assert.equal(result.bytes, fs.statSync(file).size);
  assert.equal(result.indexPath, path.join(path.dirname(file), `${name}.index.json`));
  assert.ok(fs.existsSync(result.indexPath));
  assert.equal(progress[0], 0);
  assert.equal(progress[progress.length - 1], 1);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!, 'progress never goes back');
  assert.deepEqual(
    fs.readdirSync(path.dirname(file)).sort(),
    [`${name}.index.json`, `${name}.safetensors`],
    'no temporary file is left',
  );

  assertSameTrace(await readTraceExport(file), trace);

  const py = pythonRead(file);
  assert.equal(py.header_bytes % 8, 0);
  assert.deepEqual(py.index.missing, []);
  assert.deepEqual(py.index.unreferenced, []);
  assert.equal(py.index.stages, trace.stages.length);
  assert.equal(py.index.tokens, trace.tokens.length);
  assert.equal(py.index.safetensors, `${name}.safetensors`);
  assert.equal(py.metadata['model_id'], trace.model.id);
  assert.equal(py.metadata['tokens'], String(trace.tokens.length));
  assert.equal(py.metadata['text_sha256'], createHash('sha256').update(trace.text, 'utf8').digest('hex'));
  assert.equal(Object.keys(py.tensors).length, result.tensors);
  const index = JSON.parse(fs.readFileSync(result.indexPath, 'utf8')) as {
    stages: { id: string; tensors: { name: string; key: string }[] }[];
  };
  for (const [i, s] of trace.stages.entries()) {
    for (const [j, x] of s.tensors.entries()) {
      const key = index.stages[i]!.tensors[j]!.key;
      assert.equal(index.stages[i]!.id, s.id);
      const p = py.tensors[key]!;
      assert.ok(p, `python found ${key}`);
      assert.deepEqual(p.shape, [...x.shape], key);
      assert.equal(p.sha256, sha(x.data), `${key}: numpy's bytes are ours`);
    }
  }
  return { file, py };
}

test('a built-in model run (toy self-attention, additive scores) round-trips bit for bit, also through numpy', async () => {
  const model = await getModel('toy-self-attention');
  const before = tf.memory().numTensors;
  const trace = await model.run('the cat sat on the mat', { score: 'additive' });
  assert.equal(tf.memory().numTensors, before);
  const { py } = await roundTrip(trace, 'toy');
  assert.ok(py.tensors['weights/weights']!.max_row_sum_error! < 1e-5, 'numpy reads real softmax rows');
});

test('Hugging Face fixture runs (GPT-2, BERT) round-trip bit for bit; a tensor stages share is written once', async () => {
  for (const family of ['gpt2', 'bert']) {
    const model = await loadHfModel(path.join(FIX, family));
    try {
      const trace = await model.run('The quick brown fox jumps over the lazy dog', {});
      const { file, py } = await roundTrip(trace, family);
      const weights = Object.entries(py.tensors).filter(([k]) => /^L\d+\.weights\/weights$/.test(k));
      assert.equal(weights.length, trace.model.layers, `${family}: one weights tensor per layer`);
      for (const [k, v] of weights) assert.ok(v.max_row_sum_error! < 1e-5, `${family} ${k}: rows sum to 1`);
      // Distinct arrays in the trace = tensors in the file (GPT-2's layers share one causal mask).
      const distinct = new Set(trace.stages.flatMap((s) => s.tensors.map((t) => t.data)));
      const header = await readSafetensorsHeader(file);
      assert.equal(header.tensors.length, distinct.size);
      const all = trace.stages.reduce((a, s) => a + s.tensors.length, 0);
      if (family === 'gpt2') assert.ok(distinct.size < all, 'GPT-2 layers share their mask');
      assert.equal(header.metadata['format'], 'attention-lens-trace');
      assert.equal(header.metadata['index'], `${family}.index.json`);
    } finally {
      model.dispose();
    }
  }
});

test('NaN payloads, −0, ±Infinity and empty tensors survive; odd stage and tensor names are sanitised and unique', async () => {
  const base = makeTrace(1, 2, 3);
  const odd = new Float32Array(6);
  const bits = bitsOf(odd);
  bits[0] = 0x7fc00001; // a NaN with a payload
  bits[1] = 0xffa00000; // a negative signalling-pattern NaN
  bits[2] = 0x80000000; // −0
  odd[3] = Infinity;
  odd[4] = -Infinity;
  bits[5] = 0x00000001; // the smallest subnormal
  const trace: Trace = {
    ...base,
    text: 'The cat sat — ünïcode ✓',
    stages: [
      ...base.stages,
      {
        id: 'odd stage/ü',
        kind: 'output',
        title: 'Odd',
        formula: 'y = ∑ x',
        explanation: '',
        tensors: [
          tensor('a b', [2, 3], ['r', 'c'], odd, { description: 'special values' }),
          tensor('a:b', [0, 3], ['r', 'c'], new Float32Array(0)),
          tensor('a b', [1], ['x'], new Float32Array([42])),
        ],
      },
    ],
  };
  const { file, py } = await roundTrip(trace, 'odd');
  const keys = Object.keys(py.tensors);
  assert.ok(keys.includes('odd_stage__/a_b'), keys.join(', '));
  assert.ok(keys.includes('odd_stage__/a_b~2'), 'the second "a b" gets its own name');
  assert.ok(keys.includes('odd_stage__/a_b~3'), '"a:b" sanitises to a taken name too');
  for (const k of keys) assert.match(k, /^[A-Za-z0-9._/~-]+$/);
  const back = await readTraceExport(file);
  const got = bitsOf(back.stages[back.stages.length - 1]!.tensors[0]!.data);
  assert.deepEqual([...got], [...bits]);
});

test('an existing file is refused unless overwrite; a missing folder, a file as folder and a folder as target are named', async () => {
  const dir = scratch('al-export-exists-');
  const trace = makeTrace();
  const file = path.join(dir, 'run.safetensors');
  await exportTraceSafetensors(trace, file);
  const first = fs.readFileSync(file);
  await assert.rejects(
    exportTraceSafetensors(trace, file),
    (e: unknown) =>
      e instanceof AttentionInputError &&
      e.code === 'file' &&
      e.message === `Cannot export to ${file}: ${file} already exists (replace it with --force).`,
  );
  assert.deepEqual(fs.readFileSync(file), first, 'the refused export left the file alone');
  // Only the index left over from another export is in the way: refused too.
  const other = path.join(dir, 'other.safetensors');
  fs.writeFileSync(indexPathFor(other), '{}');
  await assert.rejects(exportTraceSafetensors(trace, other), /other\.index\.json already exists/);
  const changed: Trace = { ...trace, text: 'The dog sat' };
  const r = await exportTraceSafetensors(changed, file, { overwrite: true });
  assert.equal(r.bytes, fs.statSync(file).size);
  assert.equal((await readTraceExport(file)).text, 'The dog sat');

  await assert.rejects(
    checkExportTarget(path.join(dir, 'nope', 'x.safetensors')),
    new RegExp(`the folder ${path.join(dir, 'nope').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not exist`),
  );
  await assert.rejects(checkExportTarget(path.join(file, 'x.safetensors')), /run\.safetensors is not a folder/);
  fs.mkdirSync(path.join(dir, 'd.safetensors'));
  await assert.rejects(checkExportTarget(path.join(dir, 'd.safetensors'), true), /d\.safetensors: it is a folder/);
  assert.equal(indexPathFor('/x/run.SafeTensors'), '/x/run.index.json');
  assert.equal(indexPathFor('/x/run.bin'), '/x/run.bin.index.json');
});

test('cancelling mid-export throws "cancelled" and leaves no file, not even a partial one', async () => {
  const dir = scratch('al-export-cancel-');
  // 4 × 16 MB tensors: the export is cancelled after the first chunk.
  const big = makeTrace(1, 2, 3);
  const stages = [
    ...big.stages,
    {
      id: 'big',
      kind: 'output' as const,
      title: 'Big',
      formula: '',
      explanation: '',
      tensors: [0, 1, 2, 3].map((i) => tensor(`t${i}`, [4, 1 << 20], ['a', 'b'], new Float32Array(4 << 20).fill(i))),
    },
  ];
  const controller = new AbortController();
  const file = path.join(dir, 'big.safetensors');
  await assert.rejects(
    exportTraceSafetensors({ ...big, stages }, file, {
      signal: controller.signal,
      onProgress: (f) => {
        if (f > 0) controller.abort();
      },
    }),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
  );
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('with fetch, tensors the trace does not hold are asked for one at a time, in file order, and written the same', async () => {
  const model = await loadHfModel(path.join(FIX, 'gpt2'));
  const trace = await model.run('The quick brown fox', {});
  model.dispose();
  // The trace as an index: shapes, no numbers (as a host holding tensors in the worker would see it).
  const empty = new Float32Array(0);
  const index: Trace = {
    ...trace,
    stages: trace.stages.map((s) => ({ ...s, tensors: s.tensors.map((t) => ({ ...t, data: empty })) })),
  };
  const asked: string[] = [];
  let inFlight = 0;
  const file = path.join(scratch('al-export-fetch-'), 'lazy.safetensors');
  const r = await exportTraceSafetensors(index, file, {
    fetch: async (stageId, name, shape) => {
      assert.equal(inFlight++, 0, 'one tensor at a time');
      await new Promise((resolve) => setImmediate(resolve));
      asked.push(`${stageId}/${name}`);
      const t = trace.stages.find((s) => s.id === stageId)!.tensors.find((x) => x.name === name)!;
      assert.deepEqual(shape, t.shape);
      inFlight--;
      return t.data;
    },
  });
  const all = trace.stages.flatMap((s) => s.tensors.map((t) => `${s.id}/${t.name}`));
  assert.deepEqual(asked, all, 'every tensor once, in trace order (nothing shared without the arrays)');
  assert.equal(r.tensors, all.length);
  assertSameTrace(await readTraceExport(file), trace);
  await assert.rejects(
    exportTraceSafetensors(index, path.join(path.dirname(file), 'short.safetensors'), {
      fetch: async () => new Float32Array(1),
    }),
    /Cannot write .*short\.safetensors: tensor tokens\/ids has 1 value for shape \[4\]/,
  );
  assert.ok(!fs.existsSync(path.join(path.dirname(file), 'short.safetensors')));
});
