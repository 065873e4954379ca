// Continue's trace (src/model/transformer/continueTrace.ts) on the real TinyStories weights: the
// generated ids are generateTokens' (whose greedy output equals torch's, test/unit/generate.test.ts),
// and the full re-run's row of the query that chose each token equals the attention the key/value
// cache's step computed when it chose it, in every layer and head. Continuing again keeps the
// earlier steps; sampling repeats by seed; generated tokens have no document offsets; no leaks.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import type { CausalLm } from '../../src/model/transformer/causalLm';
import { continueTrace } from '../../src/model/transformer/continueTrace';
import { attendedBy, tokenAt } from '../../src/hover/attends';
import { findTensor, AttentionInputError, type Trace } from '../../shared/trace';
import { DEFAULT_CURSOR } from '../../shared/protocol';
import { choosingRow } from '../../shared/generation';

const TEXT = 'Once upon a time, there was a little girl';
let lm: CausalLm<unknown>;
let prompt: Trace;

before(async () => {
  await initBackend();
  lm = (await getModel('tinystories-656k')) as CausalLm<unknown>;
  prompt = await lm.run(TEXT);
});

const weightsOf = (t: Trace, layer: number) =>
  findTensor(t.stages.find((s) => s.id === `L${layer}.weights`)!, 'weights')!;

test('the trace of prompt + 3 greedy tokens: its choosing rows are the cached steps’ attention, layer by layer, head by head', async () => {
  const start = tf.memory().numTensors;
  const ids = prompt.tokens.map((t) => t.id);
  const T = ids.length;
  const kv = await lm.generateTokens(ids, 3, { attention: true });
  const next = await continueTrace(lm, { text: prompt.text, prior: prompt.tokens, tokens: 3 }, { topK: 5 });
  assert.equal(tf.memory().numTensors, start, 'no tensor leaked');
  assert.equal(next.model.causalLm, true);
  assert.equal(next.text, prompt.text, 'the trace names the prompt, the editor’s text');
  assert.equal(next.tokens.length, T + 3);
  assert.deepEqual(next.tokens.slice(0, T), prompt.tokens, 'the prompt’s tokens, offsets and all');
  assert.deepEqual(
    next.tokens.slice(T).map((t) => [t.id, t.start, t.end, t.generated]),
    kv.map((g) => [g.id, -1, -1, true]),
  );
  assert.deepEqual(
    next.generation!.map((g) => [g.position, g.id, g.text]),
    kv.map((g, i) => [T + i, g.id, g.piece]),
  );
  next.generation!.forEach((g, i) => {
    assert.equal(g.p, kv[i]!.p);
    assert.equal(g.drawP, undefined, 'greedy: no draw probability');
    assert.deepEqual(
      g.alternatives.map((a) => a.id),
      kv[i]!.alternatives.map((a) => a.id),
    );
    assert.ok(
      g.alternatives.some((a) => a.id === g.id) && g.alternatives[0]!.id === g.id,
      'greedy: the best is chosen',
    );
  });
  assert.equal(
    next.stages[0]!.explanation,
    `${prompt.stages[0]!.explanation} Then 3 tokens the model generated (Continue), drawn dashed: they are not in the editor's text.`,
    'the lesson counts the text’s pieces; the generated ones are named apart',
  );
  const N = T + 3;
  let worst = 0;
  let compared = 0;
  kv.forEach((g, step) => {
    const a = g.attention!;
    const row = choosingRow(T + step);
    assert.equal(a.query, row, `step ${step}: the cached query is the row before the token`);
    assert.deepEqual(a.keyIds, [...ids, ...kv.slice(0, step).map((x) => x.id)], `step ${step}: the keys it read`);
    assert.equal(g.cached, step > 0, 'later steps ran over the cache');
    a.weights.forEach((w, layer) => {
      const full = weightsOf(next, layer);
      const H = full.shape[0]!;
      assert.deepEqual(full.shape, [H, N, N]);
      assert.equal(a.heads, H);
      for (let h = 0; h < H; h++)
        for (let k = 0; k < N; k++) {
          const got = full.data[(h * N + row) * N + k]!;
          const want = k <= row ? w[h * (row + 1) + k]! : 0; // later keys are masked in the full run
          worst = Math.max(worst, Math.abs(got - want));
          compared++;
        }
    });
  });
  assert.ok(worst < 2e-6, `largest difference ${worst} over ${compared} weights`);
  console.log(`choosing rows vs cached steps: largest difference ${worst.toExponential(2)} over ${compared} weights`);
});

test('Continue again keeps the earlier steps and equals one longer greedy generation', async () => {
  const once = await continueTrace(lm, { text: prompt.text, prior: prompt.tokens, tokens: 3 }, {});
  const twice = await continueTrace(
    lm,
    { text: once.text, prior: once.tokens, steps: once.generation!, tokens: 2 },
    {},
  );
  const five = await lm.generateTokens(
    prompt.tokens.map((t) => t.id),
    5,
  );
  assert.deepEqual(
    twice.generation!.map((g) => g.id),
    five.map((g) => g.id),
  );
  assert.deepEqual(twice.generation!.slice(0, 3), once.generation);
  assert.deepEqual(
    twice.generation!.map((g) => g.position),
    [0, 1, 2, 3, 4].map((i) => prompt.tokens.length + i),
  );
});

test('sampling: the same seed gives the same tokens, each with the probability it was drawn with', async () => {
  const sampling = { temperature: 1.5, topK: 20, topP: 0.95, seed: 7 };
  const a = await continueTrace(lm, { text: prompt.text, prior: prompt.tokens, tokens: 4, sampling }, {});
  const b = await continueTrace(lm, { text: prompt.text, prior: prompt.tokens, tokens: 4, sampling }, {});
  assert.deepEqual(a.generation, b.generation);
  for (const g of a.generation!) assert.ok(g.drawP! > 0 && g.drawP! <= 1, `drawP ${g.drawP}`);
  const c = await continueTrace(
    lm,
    { text: prompt.text, prior: prompt.tokens, tokens: 4, sampling: { ...sampling, seed: 8 } },
    {},
  );
  assert.notDeepEqual(
    c.generation!.map((g) => g.id),
    a.generation!.map((g) => g.id),
    'another seed, other tokens (for these two seeds)',
  );
});

test('hover and decorations: generated tokens are never under the mouse; their rows still read', async () => {
  const next = await continueTrace(lm, { text: prompt.text, prior: prompt.tokens, tokens: 3 }, {});
  // Every character of the prompt finds the same token as in the prompt's own trace.
  for (let i = 0; i < prompt.text.length; i++)
    assert.equal(tokenAt(next.tokens, i), tokenAt(prompt.tokens, i), `@${i}`);
  assert.equal(tokenAt(next.tokens, prompt.text.length), -1, 'past the text: nothing');
  const a = attendedBy(next, DEFAULT_CURSOR, next.tokens.length - 1, 3)!;
  assert.equal(a.row.length, next.tokens.length);
});

test('refusals: past the model’s positions, and a model that is not a causal LM', async () => {
  const { positions } = lm.spec.limit;
  await assert.rejects(
    continueTrace(lm, { text: prompt.text, prior: prompt.tokens, tokens: positions }, {}),
    (e: unknown) =>
      e instanceof AttentionInputError &&
      e.code === 'too-long' &&
      e.message.includes(`continue by at most ${positions - prompt.tokens.length}`),
  );
  const toy = await getModel('toy-self-attention');
  const t = await toy.run('The cat sat.');
  assert.equal(t.model.causalLm, undefined);
  await assert.rejects(
    continueTrace(toy, { text: t.text, prior: t.tokens, tokens: 1 }, {}),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'unsupported' && /cannot continue/.test(e.message),
  );
});
