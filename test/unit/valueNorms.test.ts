// Value-weighted attention norms ‖αᵢⱼ vⱼ W_O^h‖ (Kobayashi et al., 2020) of the built-in Transformers
// against an independent numpy computation (scripts/reference/value_norms.py): TinyStories (grouped-
// query attention, 8 query heads over 4 K/V heads) and the English encoder (BERT, biases on V and O),
// every layer and head, to 1e-5; plus where the tensor sits, how it is labelled, and no leaked tensor.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { builtinTinyStoriesDir, loadLlama, type LlamaModel } from '../../src/model/families/llama/model';
import { builtinEnglishEncoderDir, loadBert, type BertModel } from '../../src/model/families/bert/model';
import { attentionBlocks } from '../../shared/navigation';
import { gridThumbnails } from '../../shared/derived';
import { fetchTensor, INLINE_BYTES, needsOf, traceIndex } from '../../shared/lazy';
import { DEFAULT_CURSOR } from '../../shared/protocol';
import { builtinSeq2seqDir, loadSeq2seq } from '../../src/model/families/seq2seq/model';
import { DEFAULT_SETTINGS, reduce, type PanelState } from '../../webview/store';
import { legendTitle, isSigned, scaleEndsFor } from '../../shared/tensorView';
import { findTensor, type Trace } from '../../shared/trace';
import { estimateRunBytes } from '../../src/worker/budget';
import { attendedBy } from '../../src/hover/attends';
import { assertClose, decodeArr, type Arr } from './fixtureTools';

interface Fixture {
  model: string;
  text: string;
  ids: number[];
  kvHeadOf: number[];
  layers: { weights: Arr; value_norms: Arr }[];
}
const readFixture = (name: string): Fixture =>
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'valueNorms', `${name}.json`), 'utf8')) as Fixture;

let llama: LlamaModel | undefined;
let bert: BertModel | undefined;
before(async () => {
  await initBackend();
  llama = await loadLlama(builtinTinyStoriesDir());
  bert = await loadBert(builtinEnglishEncoderDir());
});
after(() => {
  llama?.dispose();
  bert?.dispose();
});

function compare(trace: Trace, fx: Fixture): void {
  assert.deepEqual(
    trace.tokens.map((t) => t.id),
    fx.ids,
    'the same token ids as the reference',
  );
  const blocks = attentionBlocks(trace);
  assert.equal(blocks.length, fx.layers.length, 'one attention block per layer');
  blocks.forEach((b, l) => {
    const ref = fx.layers[l]!;
    const n = b.valueNorms;
    assert.ok(n, `layer ${l}: the weights stage has its value-weighted norms`);
    assert.deepEqual(n.shape, ref.value_norms.shape, `layer ${l}: [H, Tq, Tk]`);
    assert.deepEqual(n.axes, ['head', 'query', 'key']);
    assertClose(b.weights.data, decodeArr(ref.weights), `layer ${l} weights`);
    // Every layer and head: the whole [H, Tq, Tk] tensor.
    assertClose(n.data, decodeArr(ref.value_norms), `layer ${l} value norms`);
    assert.deepEqual(b.info.kvHeadOf ?? fx.kvHeadOf, fx.kvHeadOf, `layer ${l}: K/V heads`);
  });
}

test('TinyStories (grouped-query: 8 heads over 4 K/V heads): ‖α·v·W_O‖ of every layer and head matches numpy', async () => {
  const fx = readFixture('tinystories');
  assert.ok(new Set(fx.kvHeadOf).size < fx.kvHeadOf.length, 'the fixture is grouped-query');
  const before = tf.memory().numTensors;
  const trace = await llama!.run(fx.text);
  assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
  compare(trace, fx);
});

test('English encoder (BERT): ‖α·v·W_O‖ of every layer and head matches numpy', async () => {
  const fx = readFixture('english-encoder');
  const before = tf.memory().numTensors;
  const trace = await bert!.run(fx.text);
  assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
  compare(trace, fx);
});

test('the norms are labelled exactly, sit in the weights stage, and say the bias is left out', async () => {
  const trace = await llama!.run('Tom saw a big dog.');
  const b = attentionBlocks(trace)[0]!;
  const stage = b.stages.normalise;
  const t = findTensor(stage, 'value_norms');
  assert.equal(t, b.valueNorms);
  assert.match(t!.description!, /^‖α·v·W_O‖ \(value-weighted norm\)/);
  assert.match(t!.description!, /bias b_O is not part of it/);
  assert.match(stage.explanation, /Kobayashi et al\., 2020/);
  assert.match(stage.explanation, /The bias b_O is not part of it/);
  assert.equal(legendTitle('value_norms'), 'value-weighted norm ‖αvW_O‖');
  assert.equal(isSigned('value_norms'), false, 'a sequential scale');
  assert.deepEqual(scaleEndsFor('value_norms'), { min: 0 }, 'from 0 to the data’s maximum');
  // A norm of a non-negative multiple: zero exactly where the weight is (masked future keys).
  for (let i = 0; i < t!.data.length; i++) if (b.weights.data[i] === 0) assert.equal(t!.data[i], 0);
});

test('the run’s memory estimate counts the norms: four T×T matrices per head and layer', () => {
  const info = { id: 'x', name: 'x', family: 'llama', description: '', layers: 1, heads: 1, dModel: 1 };
  // T = 1000: 4·T² + 5·T·D floats.
  assert.equal(estimateRunBytes(info, 1000), (4 * 1000 * 1000 + 5 * 1000) * 4);
});

test('the grid pools the norms beside the weights; a seq2seq RNN (no per-head W_O) has none, so no toggle', async () => {
  const trace = await llama!.run('Tom saw a big dog.');
  const g = gridThumbnails(trace, 4);
  const row = g.sections[0]!.rows[1]!;
  assert.ok(row.norms, 'each Transformer row has pooled norms');
  assert.equal(row.norms.heads.length, 8);
  // Pooled like the weights: each thumbnail cell the mean of its block of norms.
  const b = attentionBlocks(trace)[1]!;
  const [, Q, K] = b.weights.shape as [number, number, number];
  const pool = g.sections[0]!.pool;
  let sum = 0;
  for (let q = 0; q < pool.rows && q < Q; q++)
    for (let k = 0; k < pool.cols && k < K; k++) sum += b.valueNorms!.data[2 * Q * K + q * K + k]!;
  const cells = Math.min(pool.rows, Q) * Math.min(pool.cols, K);
  assert.ok(Math.abs(row.norms.heads[2]!.data[0]! - sum / cells) < 1e-5);

  const seq = await loadSeq2seq(builtinSeq2seqDir(), 'additive');
  try {
    const t = await seq.run('23/11/2026');
    assert.ok(attentionBlocks(t).length > 0);
    assert.ok(
      attentionBlocks(t).every((x) => x.valueNorms === undefined),
      'no value-weighted norms without W_O',
    );
    assert.ok(gridThumbnails(t, 4).sections.every((sec) => sec.rows.every((r) => r.norms === undefined)));
  } finally {
    seq.dispose();
  }
});

test('“colour by” is panel state kept across runs; choosing the same one changes nothing', () => {
  const s0: PanelState = { cursor: DEFAULT_CURSOR, settings: DEFAULT_SETTINGS };
  const s1 = reduce(s0, { type: 'colourBy', by: 'value_norms' });
  assert.equal(s1.colourBy, 'value_norms');
  assert.equal(reduce(s1, { type: 'colourBy', by: 'value_norms' }), s1);
  assert.equal(reduce(s0, { type: 'colourBy', by: 'weights' }), s0, 'weights is the default');
  const s2 = reduce(s1, { type: 'trace', trace: undefined, cursor: DEFAULT_CURSOR });
  assert.equal(s2.colourBy, 'value_norms', 'a new run keeps the choice');
});

test('at long lengths the norms stay with the host like the weights, and the weights stage fetches them', async () => {
  const trace = await llama!.run('Tom saw a big dog. '.repeat(40));
  const b = attentionBlocks(trace)[0]!;
  const T = b.weights.shape[1]!;
  assert.ok(T * T * 8 * 4 > INLINE_BYTES, `${T} tokens: the [8, T, T] tensors are over the inline size`);
  const index = traceIndex(trace);
  const stageIndex = trace.stages.indexOf(b.stages.normalise);
  const shown = index.stages[stageIndex]!;
  assert.equal(findTensor(shown, 'value_norms')!.remote, true, 'left with the host');
  assert.equal(findTensor(shown, 'value_norms')!.data.length, 0);
  const wants = needsOf(index, { stage: stageIndex, head: 0, view: 'heatmap' });
  assert.ok(wants.some((w) => w.stage === shown.id && w.tensor === 'value_norms'));
  const got = fetchTensor(trace, { stage: shown.id, tensor: 'value_norms', head: 3 });
  assert.deepEqual(got.shape, [T, T]);
  assert.deepEqual(got.data, b.valueNorms!.data.subarray(3 * T * T, 4 * T * T));
});

test('the editor hover’s entries carry ‖αvW_O‖ beside α, one head and the mean of heads', async () => {
  const trace = await llama!.run('Tom saw a big dog.');
  const b = attentionBlocks(trace)[1]!;
  const [H, Q, K] = b.weights.shape as [number, number, number];
  const stage = trace.stages.indexOf(b.stages.normalise);
  const q = Q - 1;
  const one = attendedBy(trace, { stage, head: 5, view: 'heatmap' }, q, 3)!;
  for (const e of one.entries) assert.equal(e.norm, b.valueNorms!.data[(5 * Q + q) * K + e.key]);
  const mean = attendedBy(trace, { stage, head: -1, view: 'heatmap' }, q, 3)!;
  for (const e of mean.entries) {
    let sum = 0;
    for (let h = 0; h < H; h++) sum += b.valueNorms!.data[(h * Q + q) * K + e.key]!;
    assert.ok(Math.abs(e.norm! - sum / H) < 1e-6);
  }
});
