// Streamed layers (transformer/streamedWeights.ts): a checkpoint over the stream threshold keeps its
// layers' weights out of the wasm heap and uploads each layer as it runs. Forcing streaming with a
// threshold of 0, the same fixture run both ways must give bit-identical tensors in every stage and
// identical predictions (the resident path is checked against torch in hfDecoders/hfGemma), keep
// fewer tensors resident, and leak no tensor.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadHfModel } from '../../src/model/open/modelFiles';
import { setStreamThreshold, StreamedLayers, withLayer } from '../../src/model/transformer/streamedWeights';
import { readSafetensorsCompact, readSafetensorsFile, writeSafetensors } from '../../src/model/formats/safetensors';
import * as os from 'node:os';
import type { Trace } from '../../shared/trace';

const HF = path.join(__dirname, '..', 'fixtures', 'hf');
const textOf = (family: string): string =>
  (JSON.parse(fs.readFileSync(path.join(HF, family, 'reference.json'), 'utf8')) as { cases: { text: string }[] })
    .cases[0]!.text;

before(async () => {
  await initBackend();
});
after(() => setStreamThreshold(undefined));

/** Loads, runs `text`, disposes; returns the trace and how many tensors the loaded model kept. */
async function runOnce(family: string, threshold: number | undefined): Promise<{ trace: Trace; kept: number }> {
  setStreamThreshold(threshold);
  const start = tf.memory().numTensors;
  const model = await loadHfModel(path.join(HF, family));
  try {
    const kept = tf.memory().numTensors - start;
    const trace = await model.run(textOf(family));
    assert.equal(tf.memory().numTensors - start, kept, `${family}: a run leaves the tensor count unchanged`);
    return { trace, kept };
  } finally {
    model.dispose();
    assert.equal(tf.memory().numTensors, start, `${family}: dispose frees every tensor`);
  }
}

/** Every tensor of every stage, bit for bit (NaN-safe: compares the bytes). */
function assertIdentical(a: Trace, b: Trace, family: string): void {
  assert.deepEqual(
    b.tokens.map((t) => t.id),
    a.tokens.map((t) => t.id),
    `${family}: token ids`,
  );
  assert.deepEqual(
    b.stages.map((s) => s.id),
    a.stages.map((s) => s.id),
    `${family}: stages`,
  );
  let compared = 0;
  a.stages.forEach((sa, i) => {
    const sb = b.stages[i]!;
    assert.equal(sb.tensors.length, sa.tensors.length, `${family} ${sa.id}: tensor count`);
    sa.tensors.forEach((ta, j) => {
      const tb = sb.tensors[j]!;
      const where = `${family} ${sa.id}.${ta.name}`;
      assert.deepEqual(tb.shape, ta.shape, `${where}: shape`);
      const bytesA = new Uint8Array(ta.data.buffer, ta.data.byteOffset, ta.data.byteLength);
      const bytesB = new Uint8Array(tb.data.buffer, tb.data.byteOffset, tb.data.byteLength);
      if (!Buffer.from(bytesA).equals(Buffer.from(bytesB))) {
        const k = ta.data.findIndex((v, n) => !Object.is(v, tb.data[n]));
        assert.fail(`${where}: streamed differs from resident at index ${k}: ${tb.data[k]} vs ${ta.data[k]}`);
      }
      compared++;
    });
  });
  assert.ok(compared > 20, `${family}: compared ${compared} tensors`);
  assert.deepEqual(b.predictions, a.predictions, `${family}: predictions`);
}

// Llama layout with QK-norm (Qwen3), fused qkv/gate_up cut at load (Phi-3), Gemma 2's post-norms and
// local layers, GPT-NeoX's interleaved fused qkv and parallel residual.
for (const family of ['qwen3', 'phi3', 'gemma2', 'gptneox']) {
  test(`${family}: streamed layers give bit-identical tensors to resident ones, with fewer tensors kept and no leak`, async () => {
    const resident = await runOnce(family, undefined);
    const streamed = await runOnce(family, 0);
    assertIdentical(resident.trace, streamed.trace, family);
    assert.ok(
      streamed.kept < resident.kept,
      `${family}: streamed keeps ${streamed.kept} tensors resident, resident ${resident.kept}`,
    );
  });
}

test('withLayer frees a streamed layer even when the layer throws, and refuses a layer outside the list', () => {
  const start = tf.memory().numTensors;
  const layers = new StreamedLayers(
    2,
    (l) => ({ w: tf.fill([2, 2], l) }),
    (w) => tf.dispose(Object.values(w)),
  );
  assert.equal(
    withLayer(layers, 1, (w) => w.w.dataSync()[0]),
    1,
  );
  assert.throws(
    () =>
      withLayer(layers, 0, () => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(tf.memory().numTensors, start);
  assert.throws(() => layers.acquire(2), /layer 2 is outside 0…1/);
  assert.throws(() => setStreamThreshold(-1), /stream threshold must be ≥ 0 bytes, got -1/);
});

/** Both readers on one file: the same tensors, dtypes, shapes, float32 bytes and unusable-value reports. */
async function assertSameRead(file: string, folder: string): Promise<number> {
  const full = await readSafetensorsFile(file, { folder });
  const compact = await readSafetensorsCompact(file, { folder });
  assert.deepEqual([...compact.keys()], [...full.keys()], `${file}: tensor names`);
  for (const [name, t] of full) {
    const c = compact.get(name)!;
    assert.equal(c.dtype, t.dtype, `${name}: dtype`);
    assert.deepEqual(c.shape, t.shape, `${name}: shape`);
    assert.deepEqual(c.nonFinite, t.nonFinite, `${name}: unusable values`);
    const a = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const b = Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength);
    assert.ok(a.equals(b), `${name}: compact data differs from the float32 read`);
  }
  return full.size;
}

test('readSafetensorsCompact converts to the same float32 bits as readSafetensorsFile (BF16, F16, F32) and finds the same unusable values', async () => {
  const dtypes = new Set<string>();
  for (const family of ['qwen3', 'gptneox', 'gemma2', 'bert']) {
    const folder = path.join(HF, family);
    const file = path.join(folder, 'model.safetensors');
    assert.ok((await assertSameRead(file, folder)) > 5);
    for (const t of (await readSafetensorsFile(file, { folder })).values()) dtypes.add(t.dtype);
  }
  assert.deepEqual([...dtypes].sort(), ['BF16', 'F16', 'F32'], 'the fixtures cover every dtype');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compact-'));
  try {
    const data = new Float32Array(3000).map((_, i) => i / 7);
    data[2500] = Number.NaN;
    data[2900] = Infinity;
    fs.writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors({ w: { shape: [30, 100], data } }));
    await assertSameRead(path.join(dir, 'model.safetensors'), dir);
    const c = (await readSafetensorsCompact(path.join(dir, 'model.safetensors'), { folder: dir })).get('w')!;
    assert.deepEqual({ ...c.nonFinite }, { count: 2, index: 2500, value: Number.NaN });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
