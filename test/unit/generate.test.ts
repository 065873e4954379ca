// Generation for every decoder family fixture: greedy ids equal torch's full re-run loop
// (scripts/reference/generate_ref.py → test/fixtures/hf/<family>/generate.json), the key/value
// cache's logits and attention equal a full re-run at every step, sampling is reproducible by seed
// and draws as its distribution says (chi-square), and nothing leaks.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadHfModel } from '../../src/model/open/modelFiles';
import type { CausalLm } from '../../src/model/transformer/causalLm';
import { draw, drawDistribution, seededRandom, softmax } from '../../src/model/transformer/generate';
import { AttentionInputError } from '../../shared/trace';

const HF = path.join(__dirname, '..', 'fixtures', 'hf');
const FAMILIES = [
  'llama',
  'llama3',
  'qwen2',
  'qwen3',
  'mistral',
  'phi3',
  'smollm2',
  'smollm3',
  'gpt2',
  'gptneox',
  'gemma',
  'gemma2',
  'gemma3',
];

interface GenerateRef {
  prompt_ids: number[];
  eos_id: number | null;
  steps: { id: number; margin: number; top: [number, number][] }[];
}
const reference = (family: string): GenerateRef =>
  JSON.parse(fs.readFileSync(path.join(HF, family, 'generate.json'), 'utf8')) as GenerateRef;
const load = async (family: string) => (await loadHfModel(path.join(HF, family))) as CausalLm<unknown>;

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, what: string): number {
  assert.equal(a.length, b.length, `${what}: length`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

before(async () => {
  await initBackend();
});

for (const family of FAMILIES) {
  test(`${family}: greedy generation equals torch's, and the key/value cache equals a full re-run at every step`, async () => {
    const ref = reference(family);
    const start = tf.memory().numTensors;
    const model = await load(family);
    try {
      const got = await model.generateTokens(ref.prompt_ids, ref.steps.length, { attention: true });
      assert.deepEqual(
        got.map((t) => t.id),
        ref.steps.map((s) => s.id),
        `${family}: greedy ids (torch's smallest best-vs-second margin ${Math.min(...ref.steps.map((s) => s.margin)).toExponential(2)})`,
      );
      got.forEach((t, i) => {
        const top = ref.steps[i]!.top;
        assert.deepEqual(
          t.alternatives.map((a) => a.id),
          top.map(([id]) => id),
          `${family} step ${i}: the top-5 alternatives' ids`,
        );
        t.alternatives.forEach((a, j) =>
          assert.ok(Math.abs(a.p - top[j]![1]) < 1e-5, `${family} step ${i}: p(${a.id}) ${a.p}, torch ${top[j]![1]}`),
        );
      });
      assert.ok(
        got.slice(1).some((t) => t.cached),
        `${family}: later steps ran over the cache`,
      );

      // The cache's pass against a full run of the whole sequence, step by step: logits and every layer's attention row.
      const seq = [...ref.prompt_ids];
      const cache = model.newCache();
      try {
        for (let i = 0; i < ref.steps.length; i++) {
          const fits = i > 0 && model.cacheFits(cache, 1);
          const input = fits ? [seq[seq.length - 1]!] : seq;
          if (!fits) cache.dispose();
          const step = await model.step(input, cache, { record: true });
          const full = model.newCache();
          const whole = await model.step(seq, full, { record: true });
          full.dispose();
          // Logits reach ~30 here, where float32's spacing is 2e-6: within 1e-5 relative to the largest.
          const scale = Math.max(1, ...Array.from(whole.logits, Math.abs));
          const d = maxDiff(step.logits, whole.logits, 'logits');
          assert.ok(
            d <= 1e-5 * scale,
            `${family} step ${i}: cached logits ${d.toExponential(2)} from a full re-run's (largest ${scale.toFixed(1)}), within 1e-5 relative`,
          );
          step.layers.forEach((rec, l) => {
            const T = seq.length;
            const H = rec.self.weights.length / (input.length * T);
            const fullRow = new Float32Array(H * T);
            for (let h = 0; h < H; h++)
              fullRow.set(whole.layers[l]!.self.weights.subarray((h * T + T - 1) * T, (h * T + T) * T), h * T);
            const stepRow = new Float32Array(H * T);
            for (let h = 0; h < H; h++)
              stepRow.set(
                rec.self.weights.subarray(
                  (h * input.length + input.length - 1) * T,
                  (h * input.length + input.length) * T,
                ),
                h * T,
              );
            assert.ok(
              maxDiff(stepRow, fullRow, 'weights') < 1e-5,
              `${family} step ${i} layer ${l}: the new query's attention within 1e-5 of a full re-run`,
            );
            assert.ok(
              maxDiff(stepRow, got[i]!.attention!.weights[l]!, 'recorded') === 0,
              `${family} step ${i} layer ${l}: the generated token carries that row`,
            );
          });
          seq.push(ref.steps[i]!.id);
        }
      } finally {
        cache.dispose();
      }
    } finally {
      model.dispose();
    }
    assert.equal(tf.memory().numTensors, start, `${family}: generation leaves tf.memory().numTensors unchanged`);
  });
}

test('phi3: longrope switches factors past original_max_position_embeddings, so the cache is not used across the switch', async () => {
  const model = await load('phi3');
  try {
    const prompt = reference('phi3').prompt_ids; // 3 tokens; the switch is at 8
    const cache = model.newCache();
    await model.step([...prompt, 5, 6, 7, 8, 9], cache); // 8 positions: short factors
    assert.equal(model.cacheFits(cache, 1), false, 'a 9th position would rotate every key with the long factors');
    cache.dispose();
  } finally {
    model.dispose();
  }
});

test('gpt2: past n_positions the window slides; generation with the cache equals generation without it', async () => {
  const ref = reference('gpt2'); // 18 prompt tokens, 32 positions
  const model = await load('gpt2');
  try {
    const withCache = await model.generateTokens(ref.prompt_ids, 20);
    const without = await model.generateTokens(ref.prompt_ids, 20, { cache: false });
    assert.deepEqual(
      withCache.map((t) => t.id),
      without.map((t) => t.id),
    );
    assert.ok(!withCache.some((t, i) => i > 0 && !t.cached && i < 14), 'cached until the window is full');
    assert.ok(
      withCache.slice(15).every((t) => !t.cached),
      'past 32 positions every step re-runs the window',
    );
    const greedy = await model.generate(ref.prompt_ids, 20);
    assert.deepEqual(
      withCache.map((t) => t.id),
      greedy,
      'the same as the existing greedy decoding',
    );
  } finally {
    model.dispose();
  }
});

test('sampling is reproducible by seed, differs across seeds, and its probabilities are what it drew with', async () => {
  const ref = reference('qwen2');
  const start = tf.memory().numTensors;
  const model = await load('qwen2');
  try {
    const sampling = { temperature: 1.5, topK: 50, topP: 0.95, seed: 7 };
    const a = await model.generateTokens(ref.prompt_ids, 8, { sampling });
    const b = await model.generateTokens(ref.prompt_ids, 8, { sampling });
    assert.deepEqual(
      a.map((t) => t.id),
      b.map((t) => t.id),
      'the same seed gives the same tokens',
    );
    const others = await Promise.all(
      [1, 2, 3].map((seed) => model.generateTokens(ref.prompt_ids, 8, { sampling: { ...sampling, seed } })),
    );
    assert.ok(
      others.some((o) => o.map((t) => t.id).join() !== a.map((t) => t.id).join()),
      'other seeds give other tokens',
    );
    for (const t of a) assert.ok(t.drawP > 0 && t.p > 0, `token ${t.id} was drawable (drawP ${t.drawP})`);
    await assert.rejects(
      model.generateTokens(ref.prompt_ids, 2, { sampling: { ...sampling, temperature: 0 } }),
      (e: unknown) => e instanceof AttentionInputError && /temperature/.test(e.message),
    );
    await assert.rejects(
      model.generateTokens(ref.prompt_ids, 2, { sampling: { ...sampling, topP: 1.5 } }),
      (e: unknown) => e instanceof AttentionInputError && /top-p must be in \(0, 1\], not 1.5/.test(e.message),
    );
  } finally {
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, start);
});

test('temperature, top-k and top-p give the distribution transformers does (by hand)', () => {
  const logits = [2, 1, 0, -1, -1];
  const close = (got: Float64Array, want: number[], what: string) =>
    assert.ok(maxDiff(got, want, what) < 1e-12, `${what}: ${Array.from(got)} vs ${want}`);
  const e = (x: number) => Math.exp(x);
  const z1 = e(2) + e(1) + e(0) + 2 * e(-1);
  close(
    drawDistribution(logits, { temperature: 1, seed: 0 }),
    [e(2) / z1, e(1) / z1, e(0) / z1, e(-1) / z1, e(-1) / z1],
    'T = 1',
  );
  const z2 = e(4) + e(2) + 1 + 2 * e(-2);
  close(
    drawDistribution(logits, { temperature: 0.5, seed: 0 }),
    [e(4) / z2, e(2) / z2, 1 / z2, e(-2) / z2, e(-2) / z2],
    'T = 0.5',
  );
  const z3 = e(2) + e(1);
  close(drawDistribution(logits, { temperature: 1, topK: 2, seed: 0 }), [e(2) / z3, e(1) / z3, 0, 0, 0], 'top-k 2');
  close(
    drawDistribution(logits, { temperature: 1, topK: 4, seed: 0 }),
    [e(2) / z1, e(1) / z1, e(0) / z1, e(-1) / z1, e(-1) / z1],
    'top-k 4 keeps the tie with the 4th',
  );
  // p ≈ [0.6103, 0.2245, 0.0826, …]: 0.6103 < 0.7, 0.6103 + 0.2245 ≥ 0.7 → the top two.
  close(drawDistribution(logits, { temperature: 1, topP: 0.7, seed: 0 }), [e(2) / z3, e(1) / z3, 0, 0, 0], 'top-p 0.7');
  close(
    drawDistribution(logits, { temperature: 1, topP: 0.5, seed: 0 }),
    [1, 0, 0, 0, 0],
    'top-p 0.5 keeps the best alone',
  );
});

test("draws follow the distribution: chi-square over 20 000 draws from a fixture model's next-token distribution", async () => {
  const model = await load('gpt2');
  try {
    const ref = reference('gpt2');
    const cache = model.newCache();
    const { logits } = await model.step(ref.prompt_ids, cache);
    cache.dispose();
    const p = drawDistribution(logits, { temperature: 2, topK: 8, seed: 0 });
    const kept = [...p.keys()].filter((i) => p[i]! > 0);
    assert.equal(kept.length, 8);
    const N = 20000;
    const random = seededRandom(12345);
    const count = new Map<number, number>();
    for (let n = 0; n < N; n++) {
      const id = draw(p, random);
      count.set(id, (count.get(id) ?? 0) + 1);
    }
    assert.ok(
      [...count.keys()].every((id) => p[id]! > 0),
      'nothing outside the top-k is drawn',
    );
    let chi2 = 0;
    for (const id of kept) chi2 += ((count.get(id) ?? 0) - N * p[id]!) ** 2 / (N * p[id]!);
    assert.ok(
      chi2 < 24.32,
      `chi-square ${chi2.toFixed(2)} with 7 degrees of freedom is under the 0.999 quantile 24.32`,
    );
    const skewed = softmax([...kept.map((id) => (id === kept[0] ? 1 : 0))]);
    let chi2Skewed = 0;
    kept.forEach((id, r) => (chi2Skewed += ((count.get(id) ?? 0) - N * skewed[r]!) ** 2 / (N * skewed[r]!)));
    assert.ok(chi2Skewed > 24.32, `the same draws reject another distribution (chi-square ${chi2Skewed.toFixed(0)})`);
  } finally {
    model.dispose();
  }
});

test('seededRandom: the same seed gives the same uniform numbers in [0, 1)', () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.03, `mean ${mean}`);
});
