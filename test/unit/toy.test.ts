// The toy teaching model (src/model/families/toy/) against an independent numpy re-derivation
// (scripts/reference/attention_ref.py → test/fixtures/attention/toy.json): its seeded embeddings,
// positions, weights, and every score function × normaliser; plus trace structure, offsets,
// errors, truncation and cancellation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { createToyModel, TOY_MODEL_ID, sinusoidalPositions, toyWordVector } from '../../src/model/families/toy/model';
import { recompute } from '../../src/model/attention/whatif';
import {
  AttentionInputError,
  NORMALISERS,
  SCORE_FUNCTIONS,
  findTensor,
  type Stage,
  type TensorData,
  type Trace,
} from '../../shared/trace';

interface F32 {
  readonly shape: number[];
  readonly b64: string;
}
interface ToyFixture {
  readonly text: string;
  readonly tokens: string[];
  readonly E: F32;
  readonly PE: F32;
  readonly X: F32;
  readonly Q: F32;
  readonly K: F32;
  readonly V: F32;
  readonly params: Record<'W' | 'W1' | 'W2' | 'v', F32>;
  readonly results: Record<string, { scores: F32; weights: F32; context: F32; output: F32 }>;
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'attention', 'toy.json'), 'utf8'),
) as ToyFixture;

function decode(a: F32): Float32Array {
  const buf = Buffer.from(a.b64, 'base64');
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

function assertClose(actual: TensorData | undefined, expected: F32, what: string): void {
  assert.ok(actual, `${what}: missing`);
  assert.deepEqual([...actual.shape], expected.shape, `${what}: shape`);
  const e = decode(expected);
  for (let i = 0; i < e.length; i++) {
    const a: number = actual.data[i]!;
    if (!(Math.abs(a - e[i]!) <= 1e-5 * Math.abs(e[i]!) + 1e-6)) assert.fail(`${what}[${i}] = ${a}, expected ${e[i]}`);
  }
}

const stage = (t: Trace, id: string): Stage => {
  const s = t.stages.find((x) => x.id === id);
  assert.ok(s, `stage ${id}`);
  return s;
};

async function setup(): Promise<void> {
  await initBackend();
}

test('trace structure: stages, kinds, shapes, axes, token maps and attention info', async () => {
  await setup();
  const model = createToyModel();
  assert.equal(model.info.id, TOY_MODEL_ID);
  assert.equal(model.info.heads, 2);
  assert.equal(model.info.dModel, 16);
  const t = await model.run('Attention is a weighted mean.');
  assert.equal(t.version, 1);
  assert.equal(t.model.id, 'toy-self-attention');
  assert.deepEqual(
    t.tokens.map((x) => x.text),
    ['Attention', 'is', 'a', 'weighted', 'mean', '.'],
  );
  assert.deepEqual(
    t.stages.map((s) => s.id),
    ['tokens', 'embedding', 'qkv', 'scores', 'weights', 'context'],
  );
  assert.deepEqual(
    t.stages.map((s) => s.kind),
    ['tokens', 'embedding', 'qkv', 'score', 'normalise', 'context'],
  );
  const T = 6;
  const shapes = (s: Stage): Record<string, number[]> =>
    Object.fromEntries(s.tensors.map((x) => [x.name, [...x.shape]]));
  assert.deepEqual(shapes(stage(t, 'tokens')), { ids: [T] });
  assert.deepEqual(shapes(stage(t, 'embedding')), { X: [T, 16], E: [T, 16], PE: [T, 16] });
  assert.deepEqual(shapes(stage(t, 'qkv')), {
    Q: [2, T, 8],
    K: [2, T, 8],
    V: [2, T, 8],
    W: [2, 8, 8],
    W1: [8, 8],
    W2: [8, 8],
    v: [8],
  });
  assert.deepEqual(shapes(stage(t, 'scores')), { scores: [2, T, T] });
  assert.deepEqual(shapes(stage(t, 'weights')), { weights: [2, T, T] });
  assert.deepEqual(shapes(stage(t, 'context')), { context: [2, T, 8], output: [T, 16] });
  for (const n of ['Q', 'K', 'V']) {
    const x = findTensor(stage(t, 'qkv'), n)!;
    assert.deepEqual(x.axes, ['head', 'token', 'd_k']);
    assert.deepEqual(x.tokenAxes, { token: 'input' });
  }
  assert.deepEqual(findTensor(stage(t, 'weights'), 'weights')!.tokenAxes, { query: 'input', key: 'input' });
  assert.deepEqual(findTensor(stage(t, 'weights'), 'weights')!.axes, ['head', 'query', 'key']);
  for (const id of ['qkv', 'scores', 'weights', 'context']) {
    assert.deepEqual(stage(t, id).attention, {
      queries: 'input',
      keys: 'input',
      causal: false,
      score: 'scaled-dot',
      normaliser: 'softmax',
    });
    assert.equal(stage(t, id).layer, 0);
  }
  for (const s of t.stages) {
    assert.ok(s.formula.length > 0 && s.explanation.length > 80, `${s.id} has a formula and an explanation`);
    for (const x of s.tensors)
      assert.equal(
        x.data.length,
        x.shape.reduce((a, b) => a * b, 1),
      );
  }
  assert.deepEqual(t.warnings, []);
  assert.equal(t.text, 'Attention is a weighted mean.');
  model.dispose();
});

test('every score function × normaliser matches the numpy re-derivation of the toy model', async () => {
  await setup();
  const model = createToyModel();
  let compared = 0;
  for (const score of SCORE_FUNCTIONS) {
    for (const normaliser of NORMALISERS) {
      const before = tf.memory().numTensors;
      const t = await model.run(fixture.text, { score, normaliser });
      assert.equal(tf.memory().numTensors, before, `${score}/${normaliser} leaked tensors`);
      assert.deepEqual(
        t.tokens.map((x) => x.text),
        fixture.tokens,
      );
      const emb = stage(t, 'embedding');
      assertClose(findTensor(emb, 'E'), fixture.E, 'E');
      assertClose(findTensor(emb, 'PE'), fixture.PE, 'PE');
      assertClose(findTensor(emb, 'X'), fixture.X, 'X');
      const qkv = stage(t, 'qkv');
      for (const n of ['Q', 'K', 'V'] as const) assertClose(findTensor(qkv, n), fixture[n], n);
      for (const n of ['W', 'W1', 'W2', 'v'] as const) assertClose(findTensor(qkv, n), fixture.params[n], n);
      const exp = fixture.results[`${score}/${normaliser}`]!;
      const what = `${score}/${normaliser}`;
      assertClose(findTensor(stage(t, 'scores'), 'scores'), exp.scores, `${what} scores`);
      assertClose(findTensor(stage(t, 'weights'), 'weights'), exp.weights, `${what} weights`);
      assertClose(findTensor(stage(t, 'context'), 'context'), exp.context, `${what} context`);
      assertClose(findTensor(stage(t, 'context'), 'output'), exp.output, `${what} output`);
      // The stage texts name the choice.
      assert.equal(stage(t, 'weights').attention?.score, score);
      assert.equal(stage(t, 'weights').attention?.normaliser, normaliser);
      assert.ok(stage(t, 'scores').title.includes(score) && stage(t, 'scores').explanation.length > 100);
      assert.ok(stage(t, 'weights').title.includes(normaliser) && stage(t, 'weights').formula.includes(normaliser));
      assert.ok(stage(t, 'qkv').explanation.includes(`${score} scores with ${normaliser}`));
      // The what-if on the toy's own Q, K, V and parameters reproduces the model's weights exactly.
      const r = recompute(
        {
          Q: findTensor(qkv, 'Q')!,
          K: findTensor(qkv, 'K')!,
          V: findTensor(qkv, 'V')!,
          params: {
            W: findTensor(qkv, 'W'),
            W1: findTensor(qkv, 'W1'),
            W2: findTensor(qkv, 'W2'),
            v: findTensor(qkv, 'v'),
          },
          causal: false,
        },
        score,
        normaliser,
      );
      assert.deepEqual(Array.from(r.weights.data), Array.from(findTensor(stage(t, 'weights'), 'weights')!.data));
      compared++;
    }
  }
  assert.equal(compared, SCORE_FUNCTIONS.length * NORMALISERS.length);
});

test('determinism: the same word gets the same vector, in every run and any case', async () => {
  await setup();
  const a = await createToyModel().run('The cat saw THE cat.', { score: 'additive', normaliser: 'sparsemax' });
  const b = await createToyModel().run('The cat saw THE cat.', { score: 'additive', normaliser: 'sparsemax' });
  for (let i = 0; i < a.stages.length; i++) {
    for (let j = 0; j < a.stages[i]!.tensors.length; j++)
      assert.deepEqual(a.stages[i]!.tensors[j]!.data, b.stages[i]!.tensors[j]!.data);
  }
  const E = findTensor(stage(a, 'embedding'), 'E')!.data;
  const row = (i: number): number[] => Array.from(E.subarray(i * 16, (i + 1) * 16));
  assert.deepEqual(row(0), row(3), '"The" and "THE" share a vector');
  assert.deepEqual(row(1), row(4), '"cat" twice');
  assert.notDeepEqual(row(0), row(1));
  assert.deepEqual(Array.from(toyWordVector('é')), Array.from(toyWordVector('E\u0301')), 'NFC + lower case');
  // Positions make the two "cat"s differ in X.
  const X = findTensor(stage(a, 'embedding'), 'X')!.data;
  assert.notDeepEqual(Array.from(X.subarray(16, 32)), Array.from(X.subarray(64, 80)));
  assert.equal(a.tokens[0]!.id, a.tokens[3]!.id);
  // PE(0) = [sin 0, cos 0, …] = [0, 1, 0, 1, …]
  assert.deepEqual(Array.from(sinusoidalPositions(1, 4)), [0, 1, 0, 1]);
});

test('token offsets map back into the text for emoji, combining marks, CRLF and RTL', async () => {
  await setup();
  const model = createToyModel();
  const texts = [
    'Family: 👩‍👩‍👧‍👦 and 🇬🇧, thumbs 👍🏽!',
    'Cafe\u0301 re\u0301sume\u0301 na\u0308ive',
    'line one\r\nline two\r\n\r\nline three',
    'שלום עולם, مرحبا بالعالم! mixed עברית text',
    '日本語のテキスト。',
  ];
  for (const text of texts) {
    const t = await model.run(text);
    assert.ok(t.tokens.length > 0);
    for (const tok of t.tokens)
      assert.equal(text.slice(tok.start, tok.end), tok.text, `${JSON.stringify(text)}: ${JSON.stringify(tok)}`);
    for (let i = 1; i < t.tokens.length; i++)
      assert.ok(t.tokens[i]!.start >= t.tokens[i - 1]!.end, 'tokens are in order and do not overlap');
    assert.equal(findTensor(stage(t, 'weights'), 'weights')!.shape[1], t.tokens.length);
  }
  const emoji = await model.run(texts[0]!);
  assert.ok(
    emoji.tokens.some((x) => x.text === '👩‍👩‍👧‍👦'),
    'the ZWJ family stays one token',
  );
  assert.ok(emoji.tokens.some((x) => x.text === '🇬🇧'));
  assert.ok(
    emoji.tokens.some((x) => x.text === '👍🏽'),
    'skin-tone modifier stays attached',
  );
  const marks = await model.run(texts[1]!);
  assert.deepEqual(
    marks.tokens.map((x) => x.text),
    ['Cafe\u0301', 're\u0301sume\u0301', 'na\u0308ive'],
  );
  const crlf = await model.run(texts[2]!);
  assert.deepEqual(
    crlf.tokens.map((x) => x.text),
    ['line', 'one', 'line', 'two', 'line', 'three'],
  );
});

test('empty, whitespace-only and invisible-only input throw AttentionInputError("empty")', async () => {
  await setup();
  const model = createToyModel();
  for (const text of ['', '   ', '\r\n\t \u00a0', '\u200b\u200b']) {
    const before = tf.memory().numTensors;
    await assert.rejects(
      model.run(text),
      (e: unknown) => e instanceof AttentionInputError && e.code === 'empty',
      JSON.stringify(text),
    );
    assert.equal(tf.memory().numTensors, before);
  }
  await assert.rejects(
    model.run('hi', { score: 'cosine' as never }),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'unsupported',
  );
});

test('over-long input is truncated to maxTokens with a warning naming the limit', async () => {
  await setup();
  const model = createToyModel();
  const long = 'word '.repeat(300);
  const t = await model.run(long);
  assert.equal(t.tokens.length, 256);
  assert.equal(t.warnings.length, 1);
  assert.match(t.warnings[0]!, /256/);
  assert.equal(t.text, long.slice(0, t.tokens[255]!.end));
  assert.equal(findTensor(stage(t, 'weights'), 'weights')!.shape[2], 256);
  const short = await model.run('one two three four five six', { maxTokens: 4 });
  assert.deepEqual(
    short.tokens.map((x) => x.text),
    ['one', 'two', 'three', 'four'],
  );
  assert.equal(short.text, 'one two three four');
  assert.match(short.warnings[0]!, /maxTokens = 4/);
  const exact = await model.run('one two three four', { maxTokens: 4 });
  assert.deepEqual(exact.warnings, [], 'exactly maxTokens tokens is not a truncation');
});

test('cancellation: an aborted signal, before or during a run, throws "cancelled" and leaks nothing', async () => {
  await setup();
  const model = createToyModel();
  const before = tf.memory().numTensors;
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(
    model.run('some words here', { signal: pre.signal }),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
  );
  assert.equal(tf.memory().numTensors, before);
  // Abort at each progress report in turn: the run stops there and frees what it holds.
  const seen: number[] = [];
  await model.run('some words here', { onProgress: (f) => seen.push(f) });
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
    'progress only goes forward',
  );
  assert.equal(seen[0], 0);
  assert.equal(seen[seen.length - 1], 1);
  for (let stop = 0; stop < seen.length - 1; stop++) {
    const c = new AbortController();
    let n = 0;
    const run = model.run('some words here', {
      signal: c.signal,
      onProgress: () => {
        if (n++ === stop) c.abort();
      },
    });
    await assert.rejects(
      run,
      (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
      `abort at report ${stop}`,
    );
    assert.equal(tf.memory().numTensors, before, `abort at report ${stop} leaked`);
  }
  const ok = await model.run('some words here');
  assert.equal(ok.tokens.length, 3);
  assert.equal(tf.memory().numTensors, before);
});
