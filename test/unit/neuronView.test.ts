// The neuron view's numbers (shared/neuron.ts), recomputed from a real run's Q and K, equal that
// run's own scores and weights tensors: every head, every query, every key of the row, for every
// score function and normaliser the view supports (dot, scaled dot with the model's scale and
// Gemma 2's soft-cap, T5's position bias, grouped-query K/V heads; general and additive where the
// trace holds W, W₁, W₂, v), and a clear refusal where it cannot be exact.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { loadHfModel } from '../../src/model/open/modelFiles';
import { runConfigFile } from '../../src/model/open/runConfig';
import { attentionBlocks, type AttentionBlock } from '../../shared/navigation';
import { kvHeadFor, neuronPair, neuronSource, normaliseRow, rowMismatch, NEURON_TOLERANCE } from '../../shared/neuron';
import type { Trace } from '../../shared/trace';

const ROOT = path.join(__dirname, '..', '..');
before(async () => {
  await initBackend();
});

const biasStageOf = (t: Trace, b: AttentionBlock) =>
  b.info.scoreBias && t.stages.find((s) => s.id === b.info.scoreBias!.stage);

/** Checks every head × query of every block the view supports; returns how many blocks were checked. */
function checkTrace(t: Trace, label: string): number {
  let checked = 0;
  for (const b of attentionBlocks(t)) {
    const src = neuronSource(b, biasStageOf(t, b));
    if (!src.ok) continue;
    checked++;
    const Tq = b.queryTokens.length;
    const Tk = b.keyTokens.length;
    for (let h = 0; h < src.heads; h++)
      for (let q = 0; q < Tq; q++) {
        const key = (q * 7 + h) % Tk;
        const p = neuronPair(b, src, h, q, key);
        const d = rowMismatch(b, p);
        assert.ok(d.scores < NEURON_TOLERANCE.scores, `${label} ${b.id} h${h} q${q}: scores differ by ${d.scores}`);
        assert.ok(d.weights < NEURON_TOLERANCE.weights, `${label} ${b.id} h${h} q${q}: weights differ by ${d.weights}`);
        // The pair's own numbers: the raw sum is the sum of the last vector, and the final score is the recorded one.
        const last = p.vectors[p.vectors.length - 1]!.values;
        assert.ok(Math.abs(last.reduce((a, x) => a + x, 0) - p.raw) < 1e-12);
        assert.ok(Math.abs(p.final - p.recorded.score) < NEURON_TOLERANCE.scores * Math.max(1, Math.abs(p.final)));
        assert.ok(Math.abs(p.row.weights[key]! - p.recorded.weight) < NEURON_TOLERANCE.weights);
        assert.equal(p.vectors[0]!.values.length, src.q.shape[2]);
      }
  }
  return checked;
}

test('tinystories-656k (grouped-query, scaled dot, causal): view = trace; K/V head shared by two query heads', async () => {
  const t = await (await getModel('tinystories-656k')).run('Once upon a time, there was a little dog.');
  assert.equal(checkTrace(t, 'tinystories'), attentionBlocks(t).length);
  const b = attentionBlocks(t)[0]!;
  assert.deepEqual(kvHeadFor(b, 5), { kvHead: 2, sharedBy: [4, 5] });
  const src = neuronSource(b);
  assert.ok(src.ok);
  const p = neuronPair(b, src, 5, 6, 2);
  assert.equal(p.kvHead, 2);
  assert.equal(p.scale.label, '1/√d_k = 1/√16');
  // A future key is masked: weight exactly 0, and not attendable.
  const f = neuronPair(b, src, 0, 2, 5);
  assert.equal(f.row.allowed[5], false);
  assert.equal(f.row.weights[5], 0);
});

test('toy, english-encoder, dates-transformer (self, causal and cross-attention): view = trace', async () => {
  for (const [id, text] of [
    ['toy-self-attention', 'The cat sat on the mat.'],
    ['english-encoder', 'The cat sat on the warm mat.'],
    ['dates-transformer', 'Monday 23rd of November 2026'],
  ] as const) {
    const t = await (await getModel(id)).run(text);
    const n = checkTrace(t, id);
    assert.ok(n > 0, `${id}: some block checked`);
    assert.equal(n, attentionBlocks(t).filter((b) => b.q).length, `${id}: every block with Q and K`);
  }
});

test('seq2seq (no per-head Q/K in the block): a clear refusal, no numbers', async () => {
  const t = await (await getModel('seq2seq-dates-dot')).run('23/11/2026');
  for (const b of attentionBlocks(t)) {
    const src = neuronSource(b);
    assert.equal(src.ok, false);
    if (!src.ok) assert.match(src.reason, /no per-head query and key vectors/);
  }
});

for (const fixture of ['gemma2', 'gemma3', 't5', 'qwen2', 'gpt2', 'bart'])
  test(`${fixture} fixture: view = trace (model scale, soft-cap, position bias, GQA, cross-attention)`, async () => {
    const m = await loadHfModel(path.join(ROOT, 'test', 'fixtures', 'hf', fixture));
    const t = await m.run('Hello world, hi there.');
    const blocks = attentionBlocks(t).filter((b) => b.q);
    assert.equal(checkTrace(t, fixture), blocks.length);
    if (fixture === 'gemma2') {
      const b = blocks[0]!;
      const p = neuronPair(b, neuronSource(b) as Extract<ReturnType<typeof neuronSource>, { ok: true }>, 1, 3, 1);
      assert.equal(p.softCap, 2);
      assert.equal(p.scale.value, 0.25);
      assert.ok(Math.abs(p.final - 2 * Math.tanh(p.scaled / 2)) < 1e-12);
    }
    if (fixture === 't5') {
      const b = blocks.find((x) => x.info.scoreBias)!;
      // Without the bias stage the view refuses rather than show a score that is not the model's.
      const src = neuronSource(b);
      assert.equal(src.ok, false);
      if (!src.ok) assert.match(src.reason, /position bias/);
      const full = neuronSource(b, biasStageOf(t, b));
      assert.ok(full.ok);
      const p = neuronPair(b, full, 0, 1, 2);
      assert.ok(p.bias !== undefined && Math.abs(p.final - (p.scaled + p.bias)) < 1e-12);
    }
  });

const BASE = JSON.parse(
  fs.readFileSync(path.join(ROOT, 'samples', 'configs', 'additive-bahdanau.attention.json'), 'utf8'),
);

test('hand-built configs: every score function × normaliser, causal and not: view = trace', async () => {
  const W = [
    [0.7, -0.2],
    [0.4, 1.3],
  ];
  for (const score of ['dot', 'scaled-dot', 'general', 'additive'] as const)
    for (const normaliser of ['softmax', 'sparsemax', 'sigmoid'] as const)
      for (const causal of [false, true]) {
        const cfg = { ...BASE, score, normaliser, causal, ...(score === 'general' ? { W } : {}) };
        if (score !== 'additive') for (const k of ['W1', 'W2', 'v']) delete cfg[k];
        const t = await runConfigFile(JSON.stringify(cfg), ROOT);
        const label = `${score}/${normaliser}/${causal ? 'causal' : 'full'}`;
        assert.equal(checkTrace(t, label), 1, label);
        const b = attentionBlocks(t)[0]!;
        const p = neuronPair(b, neuronSource(b) as Extract<ReturnType<typeof neuronSource>, { ok: true }>, 0, 1, 0);
        assert.deepEqual(
          p.vectors.map((v) => v.name),
          score === 'general'
            ? ['q', 'k', 'W k', 'q ⊙ W k']
            : score === 'additive'
              ? ['q', 'k', 'W₁ q', 'W₂ k', 'tanh(W₁q + W₂k)', 'v ⊙ tanh(…)']
              : ['q', 'k', 'q ⊙ k'],
        );
      }
});

test('normaliseRow: softmax, sparsemax and sigmoid of a known row, masked keys 0', () => {
  const s = Float64Array.from([2, 1, 0.1, 5]);
  const allowed = [true, true, true, false];
  const soft = normaliseRow(s, allowed, 'softmax');
  const z = Math.exp(2) + Math.exp(1) + Math.exp(0.1);
  assert.ok(Math.abs(soft[0]! - Math.exp(2) / z) < 1e-15);
  assert.equal(soft[3], 0);
  // sparsemax([2, 1, 0.1]): τ = (2 + 1 − 1)/2 = 1 → [1, 0, 0].
  assert.deepEqual(Array.from(normaliseRow(s, allowed, 'sparsemax')), [1, 0, 0, 0]);
  const sig = normaliseRow(s, allowed, 'sigmoid');
  assert.ok(Math.abs(sig[1]! - 1 / (1 + Math.exp(-1))) < 1e-15);
  assert.equal(sig[3], 0);
  assert.deepEqual(Array.from(normaliseRow(s, [false, false, false, false], 'softmax')), [0, 0, 0, 0]);
});
