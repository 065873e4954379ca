// TensorFlow.js layers models with Keras attention layers: loading, the recorded attention maths
// against an independent numpy forward pass (scripts/reference/tfjs_layers_ref.py →
// test/fixtures/tfjs/reference.json), inspect mode changing nothing, typed errors, no tensor leaks.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadTfjsLayersModel } from '../../src/model/families/tfjsLayers/model';
import { MultiHeadAttention } from '../../src/model/families/tfjsLayers/kerasAttention';
import { AttentionInputError, findTensor } from '../../shared/trace';
import { assertClose, decodeArr, stage, t, type Arr } from './fixtureTools';

const ROOT = path.resolve(__dirname, '..', '..');
interface RefLayer {
  name: string;
  q: Arr;
  k: Arr;
  v: Arr;
  scores: Arr;
  weights: Arr;
  context: Arr;
  output: Arr;
  mask?: Arr;
}
interface Ref {
  texts: string[];
  models: Record<string, { folder: string; runs: { text: string; ids: number[]; layers: RefLayer[]; output: Arr }[] }>;
}
const ref = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/tfjs/reference.json'), 'utf8')) as Ref;

before(async () => {
  await initBackend('wasm');
});

async function expectError(p: Promise<unknown>, code: AttentionInputError['code'], pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AttentionInputError, `AttentionInputError expected, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

function tempCopy(folder: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-layers-'));
  for (const f of fs.readdirSync(path.join(ROOT, folder)))
    fs.copyFileSync(path.join(ROOT, folder, f), path.join(dir, f));
  return dir;
}

for (const [key, model] of Object.entries(ref.models)) {
  test(`${key}: every recorded tensor matches numpy; softmax rows sum to 1; masked cells are 0; no leaks`, async () => {
    const n0 = tf.memory().numTensors;
    const m = await loadTfjsLayersModel(path.join(ROOT, model.folder, 'model.json'));
    assert.ok(m.attentionLayers.length >= 1);
    for (const run of model.runs) {
      const trace = await m.run(run.text);
      assert.deepEqual(
        trace.tokens.map((x) => x.id),
        run.ids,
      );
      run.layers.forEach((L, i) => {
        const what = `${key} "${run.text}" ${L.name}`;
        const qkv = stage(trace, `L${i}.qkv`);
        assertClose(t(qkv, 'Q').data, decodeArr(L.q), `${what} Q`);
        assertClose(t(qkv, 'K').data, decodeArr(L.k), `${what} K`);
        assertClose(t(qkv, 'V').data, decodeArr(L.v), `${what} V`);
        assert.deepEqual([...t(qkv, 'V').shape], L.v.shape, `${what} V shape`);
        const sc = stage(trace, `L${i}.scores`);
        assertClose(t(sc, 'scores').data, decodeArr(L.scores), `${what} scores`);
        const mask = findTensor(sc, 'mask');
        assert.equal(mask !== undefined, L.mask !== undefined, `${what}: mask present in both or neither`);
        if (mask && L.mask) assert.deepEqual([...mask.data], [...decodeArr(L.mask)], `${what} mask`);
        const w = t(stage(trace, `L${i}.weights`), 'weights');
        assertClose(w.data, decodeArr(L.weights), `${what} weights`);
        const Tk = w.shape[2]!;
        for (let row = 0; row < w.data.length / Tk; row++) {
          let s = 0;
          for (let j = 0; j < Tk; j++) s += w.data[row * Tk + j]!;
          assert.ok(Math.abs(s - 1) < 1e-5, `${what}: weights row ${row} sums to ${s}`);
          if (mask) {
            const qi = row % w.shape[1]!;
            for (let j = 0; j < Tk; j++)
              if (mask.data[qi * Tk + j] === 0)
                assert.equal(w.data[row * Tk + j], 0, `${what}: masked weight [${row}, ${j}] is exactly 0`);
          }
        }
        const ctx = stage(trace, `L${i}.context`);
        assertClose(t(ctx, 'context').data, decodeArr(L.context), `${what} context`);
        assertClose(t(ctx, 'output').data, decodeArr(L.output), `${what} output`);
      });
      const out = stage(trace, 'output');
      const expected = decodeArr(run.output);
      const actual = (findTensor(out, 'probabilities') ?? t(out, 'output')).data;
      assertClose(actual, expected, `${key} "${run.text}" final output`);
      if (trace.predictions) {
        for (const p of trace.predictions)
          for (let r = 1; r < p.top.length; r++) assert.ok(p.top[r - 1]!.p >= p.top[r]!.p, 'top-k sorted');
      }
    }
    m.dispose();
    assert.equal(tf.memory().numTensors, n0, 'load + runs + dispose leave no tensors');
  });

  test(`${key}: inspect mode changes nothing`, async () => {
    const m = await loadTfjsLayersModel(path.join(ROOT, model.folder, 'model.json'));
    try {
      const ids = model.runs[1]!.ids;
      const inspected = m.forward(ids, true);
      const plain = m.forward(ids, false);
      assert.equal(plain.records.length, 0, 'no records without inspect');
      assert.deepEqual([...inspected.output], [...plain.output], 'same model output with and without recorders');
      const probe = m.plainOutputs(ids);
      assert.deepEqual([...probe.output], [...plain.output]);
      assert.equal(inspected.records.length, m.attentionLayers.length);
      for (const r of inspected.records)
        assert.deepEqual(
          [...r.output],
          [...probe.layers.get(r.layer)!],
          `${r.layer}: recorded output = the layer's output in a plain predict`,
        );
    } finally {
      m.dispose();
    }
  });
}

test('Keras-style MultiHeadAttention call (value passed as a keyword tensor) loads and gives the same numbers', async () => {
  const dir = tempCopy(ref.models['mha-charlm']!.folder);
  try {
    const file = path.join(dir, 'model.json');
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    const layer = j.modelTopology.config.layers.find((l: { name: string }) => l.name === 'self_attention');
    const [q] = layer.inbound_nodes[0];
    assert.equal(layer.config.use_causal_mask, true);
    delete layer.config.use_causal_mask; // Keras keeps it in the call, not the config
    layer.inbound_nodes = [[[q[0], q[1], q[2], { value: [q[0], q[1], q[2]], use_causal_mask: true }]]];
    fs.writeFileSync(file, JSON.stringify(j));
    const a = await loadTfjsLayersModel(file);
    const b = await loadTfjsLayersModel(path.join(ROOT, ref.models['mha-charlm']!.folder, 'model.json'));
    const ids = ref.models['mha-charlm']!.runs[0]!.ids;
    assert.deepEqual([...a.forward(ids, false).output], [...b.forward(ids, false).output]);
    a.dispose();
    b.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad model folders give typed errors and leak no tensors', async () => {
  const base = ref.models['mixed-classifier']!.folder;
  const n0 = tf.memory().numTensors;
  const v0 = Object.keys(tf.engine().registeredVariables).length;
  const dir = tempCopy(base);
  const file = path.join(dir, 'model.json');
  const original = fs.readFileSync(file, 'utf8');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form edits of a parsed model.json
  const edit = (f: (j: Record<string, any>) => void): void => {
    const j = JSON.parse(original);
    f(j);
    fs.writeFileSync(file, JSON.stringify(j));
  };
  try {
    // Truncated shard: named, with sizes.
    const shard = path.join(dir, 'group1-shard1of1.bin');
    const bytes = fs.readFileSync(shard);
    fs.writeFileSync(shard, bytes.subarray(0, bytes.length - 100));
    await expectError(
      loadTfjsLayersModel(file),
      'file',
      new RegExp(`group1-shard1of1\\.bin is truncated.*need ${bytes.length} bytes.*${bytes.length - 100}`),
    );
    fs.writeFileSync(shard, bytes);
    // Missing shard.
    edit((j) => (j.weightsManifest[0].paths = ['missing.bin']));
    await expectError(loadTfjsLayersModel(file), 'file', /missing\.bin.*cannot be read/);
    // A manifest path that leaves the folder.
    edit((j) => (j.weightsManifest[0].paths = ['../group1-shard1of1.bin']));
    await expectError(loadTfjsLayersModel(file), 'file', /outside the model's folder/);
    // A graph model.
    fs.writeFileSync(
      file,
      JSON.stringify({
        format: 'graph-model',
        modelTopology: { node: [], library: {}, versions: {} },
        weightsManifest: [],
      }),
    );
    await expectError(loadTfjsLayersModel(file), 'unsupported', /graph model.*layers-model/);
    // Malformed JSON.
    fs.writeFileSync(file, original.slice(0, 200));
    await expectError(loadTfjsLayersModel(file), 'file', /not valid JSON/);
    // A weight the model does not have (renamed in the manifest): fails after the model was built.
    edit((j) => (j.weightsManifest[0].weights[1].name = 'mha/query/kernel_renamed'));
    await expectError(loadTfjsLayersModel(file), 'file', /do not match the model's layers/);
    // An unknown layer class.
    edit((j) => (j.modelTopology.config.layers[5].class_name = 'MyCustomAttention'));
    await expectError(loadTfjsLayersModel(file), 'unsupported', /MyCustomAttention/);
    // No attention layer at all: the message lists what there is.
    const seq = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: 5, outputDim: 3, inputShape: [4] }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ],
    });
    await seq.save(
      tf.io.withSaveHandler(async (a) => {
        fs.writeFileSync(path.join(dir, 'plain.bin'), Buffer.from(a.weightData as ArrayBuffer));
        fs.writeFileSync(
          file,
          JSON.stringify({
            format: 'layers-model',
            modelTopology: a.modelTopology,
            weightsManifest: [{ paths: ['plain.bin'], weights: a.weightSpecs }],
          }),
        );
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    seq.dispose();
    await expectError(loadTfjsLayersModel(file), 'unsupported', /no attention layer.*Embedding, Flatten, Dense/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(tf.memory().numTensors, n0, 'failed loads leave no tensors');
  assert.equal(Object.keys(tf.engine().registeredVariables).length, v0, 'failed loads leave no variables');
});

test('a run rejects empty text and can be cancelled without leaking', async () => {
  const m = await loadTfjsLayersModel(path.join(ROOT, ref.models['mha-charlm']!.folder, 'model.json'));
  const n0 = tf.memory().numTensors;
  try {
    await expectError(m.run('   '), 'empty', /no text/);
    const ac = new AbortController();
    ac.abort();
    await expectError(m.run('the cat', { signal: ac.signal }), 'cancelled', /cancelled/);
    const long = await m.run('the cat '.repeat(20), { maxTokens: 10 });
    assert.equal(long.tokens.length, 10);
    assert.ok(long.warnings.some((w) => /truncated to 10/.test(w)));
  } finally {
    m.dispose();
  }
  assert.ok(tf.memory().numTensors < n0, 'dispose frees the weights');
});

test('a Keras mask (Embedding mask_zero) reaches the inspected layer as it reaches the layer in predict', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-mask-'));
  const n0 = tf.memory().numTensors;
  try {
    const ids = tf.input({ shape: [null], dtype: 'int32', name: 'ids' });
    const emb = tf.layers
      .embedding({ inputDim: 5, outputDim: 4, maskZero: true, name: 'emb' })
      .apply(ids) as tf.SymbolicTensor;
    const mha = new MultiHeadAttention({ numHeads: 2, keyDim: 3, name: 'mha' }).apply(emb) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 5, activation: 'softmax', name: 'out' }).apply(mha) as tf.SymbolicTensor;
    const built = tf.model({ inputs: ids, outputs: out });
    await built.save(
      tf.io.withSaveHandler(async (a) => {
        fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.from(a.weightData as ArrayBuffer));
        const meta = {
          attentionLens: { tokenizer: 'chars', vocab: ['?', 'a', 'b', 'c', ' '], unkId: 0, lowercase: false },
        };
        fs.writeFileSync(
          path.join(dir, 'model.json'),
          JSON.stringify({
            format: 'layers-model',
            modelTopology: a.modelTopology,
            userDefinedMetadata: meta,
            weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs }],
          }),
        );
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    built.dispose();
    const m = await loadTfjsLayersModel(path.join(dir, 'model.json'));
    try {
      const trace = await m.run('ab!c'); // '!' is not in the vocabulary: id 0, which mask_zero masks
      assert.deepEqual(
        trace.tokens.map((x) => x.id),
        [1, 2, 0, 3],
      );
      const mask = findTensor(stage(trace, 'L0.scores'), 'mask');
      assert.ok(mask, 'the masked key shows in the trace');
      const w = t(stage(trace, 'L0.weights'), 'weights');
      for (let h = 0; h < 2; h++)
        for (const i of [0, 1, 3]) {
          assert.equal(mask.data[i * 4 + 2], 0, `query ${i} may not see the masked key`);
          assert.equal(w.data[(h * 4 + i) * 4 + 2], 0, `head ${h} query ${i}: the masked key gets weight 0`);
        }
      const inspected = m.forward([1, 2, 0, 3], true);
      const probe = m.plainOutputs([1, 2, 0, 3]);
      assert.deepEqual(
        [...inspected.records[0]!.output],
        [...probe.layers.get('mha')!],
        'the inspected layer saw the same mask as in predict',
      );
      assert.deepEqual([...inspected.output], [...probe.output]);
      const unmasked = m.forward([1, 2, 3, 3], true);
      assert.equal(unmasked.records[0]!.mask, undefined, 'a mask that masks nothing is not shown');
    } finally {
      m.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(tf.memory().numTensors, n0, 'no tensors leaked');
});
