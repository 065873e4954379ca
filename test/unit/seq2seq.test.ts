// The seq2seq date models against an independent numpy forward pass
// (scripts/reference/seq2seq_ref.py → test/fixtures/seq2seq/<variant>.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import type { AttentionModel } from '../../src/model/model';
import {
  builtinSeq2seqDir,
  loadSeq2seq,
  SEQ2SEQ_VARIANTS,
  type Seq2seqVariant,
} from '../../src/model/families/seq2seq/model';
import { CharVocab } from '../../src/model/tokenizers/charVocab';
import { AttentionInputError, findTensor, type Stage, type Trace } from '../../shared/trace';

interface F32 {
  readonly shape: number[];
  readonly b64: string;
}
interface FixtureStep {
  readonly input: F32;
  readonly query: F32;
  readonly W1q?: F32;
  readonly scores?: F32;
  readonly weights?: F32;
  readonly context?: F32;
  readonly combined: F32;
  readonly logits: F32;
  readonly probs: F32;
  readonly argmax: number;
}
interface FixtureCase {
  readonly text: string;
  readonly ids: number[];
  readonly chars: string[];
  readonly offsets: [number, number][];
  readonly decoded: string;
  readonly X: F32;
  readonly forward: F32;
  readonly backward: F32;
  readonly hidden: F32;
  readonly s0: F32;
  readonly W2k?: F32;
  readonly Wk?: F32;
  readonly steps: FixtureStep[];
}
interface Fixture {
  readonly variant: Seq2seqVariant;
  readonly cases: FixtureCase[];
}

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'seq2seq');
const DIR = builtinSeq2seqDir();

/** The right answers, independent of any model: the attention variants must get these. */
const ISO: Readonly<Record<string, string>> = {
  'Sunday 23rd of November 2026': '2026-11-23',
  'Monday 23rd of November 2026': '2026-11-23',
  'the 3rd of march 1999': '1999-03-03',
  'on Wednesday the 23rd of September in the year 2026': '2026-09-23',
  'MONDAY 1 JAN 2024': '2024-01-01',
  'Nov 23, 2026': '2026-11-23',
  '23/11/2026': '2026-11-23',
  'it was Tue the 16th of September 2087': '2087-09-16',
};

function f32(x: F32): Float32Array {
  const bytes = Buffer.from(x.b64, 'base64');
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  assert.equal(
    out.length,
    x.shape.reduce((a, b) => a * b, 1),
    'fixture size matches its shape',
  );
  return out;
}

/**
 * Element-wise closeness to the float64 reference: |a − b| ≤ 1e-5·|b| + 5e-6·max(1, max|b|).
 * The absolute floor scales with the tensor's magnitude: float32 arithmetic (tfjs, or numpy in float32)
 * carries errors proportional to the terms it sums, not to a small result. Measured: a float32 numpy
 * pass of the same equations differs from float64 by up to ~1.4e-5 in general-attention scores of
 * magnitude ~50 and ~2e-6 in context vectors downstream of them. Wrong maths (gate order, the b_hn
 * placement, a transposed matrix) gives errors of 1e-3 and more. Returns the first mismatch.
 */
function mismatch(actual: ArrayLike<number>, expected: ArrayLike<number>): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length} ≠ ${expected.length}`;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    if (!Number.isFinite(a) || Math.abs(a - b) > 1e-5 * Math.abs(b) + 5e-6 * scale) return `[${i}]: ${a} vs ${b}`;
  }
  return undefined;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  const m = mismatch(actual, expected);
  assert.equal(m, undefined, `${what} ${m}`);
}

function stage(trace: Trace, id: string): Stage {
  const s = trace.stages.find((x) => x.id === id);
  assert.ok(s, `stage ${id} exists`);
  return s;
}

function data(s: Stage, name: string, shape?: readonly number[]): Float32Array {
  const t = findTensor(s, name);
  assert.ok(t, `stage ${s.id} has tensor ${name}`);
  if (shape) assert.deepEqual(t.shape, shape, `${s.id}.${name} shape`);
  return t.data;
}

const models = new Map<Seq2seqVariant, Promise<AttentionModel>>();
function model(v: Seq2seqVariant): Promise<AttentionModel> {
  let m = models.get(v);
  if (!m) {
    m = initBackend().then(() => loadSeq2seq(DIR, v));
    models.set(v, m);
  }
  return m;
}

function readFixture(v: Seq2seqVariant): Fixture {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, `${v}.json`), 'utf8')) as Fixture;
}

test('the comparison is strict enough to catch a small error (negative control)', () => {
  const expected = Float32Array.from([0.5, -0.25, 3, 1e-3]);
  assert.equal(mismatch(expected, expected), undefined);
  const off = Float32Array.from(expected);
  off[2] = 3 * (1 + 1e-4);
  assert.notEqual(mismatch(off, expected), undefined);
  const tiny = Float32Array.from(expected);
  tiny[3] = 1e-3 + 5e-5;
  assert.notEqual(mismatch(tiny, expected), undefined);
});

test('the fixture comparison catches a 1e-3 change in one weight (negative control)', async () => {
  await initBackend();
  const fx = readFixture('dot');
  const c = fx.cases[0]!;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seq2seq-'));
  try {
    for (const f of ['config.json', 'vocab.json']) fs.copyFileSync(path.join(DIR, f), path.join(tmp, f));
    const bytes = new Uint8Array(fs.readFileSync(path.join(DIR, 'dot.safetensors')));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = Number(view.getBigUint64(0, true));
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<
      string,
      { data_offsets: [number, number] }
    >;
    // decoder.b_hh, candidate-gate block (r, z, n order): the b_hn that sits inside r ⊙ (W_hn h + b_hn)
    const at = 8 + n + header['decoder.b_hh']!.data_offsets[0] + 4 * (2 * 128 + 5);
    view.setFloat32(at, view.getFloat32(at, true) + 1e-3, true);
    fs.writeFileSync(path.join(tmp, 'dot.safetensors'), bytes);
    const m = await loadSeq2seq(tmp, 'dot');
    try {
      const tr = await m.run(c.text);
      const diffs = c.steps.map((s, t) => mismatch(data(stage(tr, `dec${t}.query`), 'query'), f32(s.query)));
      // (a step whose gates are saturated can hide the change; most steps must show it)
      const caught = diffs.filter((d) => d !== undefined).length;
      assert.ok(
        caught > c.steps.length / 2,
        `a perturbed weight must make the decoder states disagree with the fixture (${caught}/${c.steps.length})`,
      );
      assert.equal(
        mismatch(data(stage(tr, 'encoder'), 'hidden'), f32(c.hidden)),
        undefined,
        'the encoder does not use that weight',
      );
    } finally {
      m.dispose();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

for (const variant of SEQ2SEQ_VARIANTS) {
  test(`${variant}: every tensor matches the numpy reference`, async () => {
    const m = await model(variant);
    const fx = readFixture(variant);
    assert.equal(fx.variant, variant);
    assert.ok(fx.cases.length >= 2);
    const attn = variant !== 'none';
    for (const c of fx.cases) {
      const tr = await m.run(c.text);
      const n = c.ids.length;
      const where = `${variant} ${JSON.stringify(c.text)}`;
      // tokens: ids and UTF-16 offsets agree with the reference's own tokeniser
      assert.deepEqual(
        tr.tokens.map((t) => t.id),
        c.ids,
        `${where} ids`,
      );
      assert.deepEqual(
        tr.tokens.map((t) => [t.start, t.end]),
        c.offsets,
        `${where} offsets`,
      );
      assert.deepEqual(
        tr.tokens.map((t) => t.text),
        c.chars,
        `${where} chars`,
      );
      // encoder
      assertClose(data(stage(tr, 'embedding'), 'X', [n, 32]), f32(c.X), `${where} X`);
      const enc = stage(tr, 'encoder');
      assert.equal(enc.kind, 'encoder-step');
      assertClose(data(enc, 'forward', [n, 64]), f32(c.forward), `${where} forward`);
      assertClose(data(enc, 'backward', [n, 64]), f32(c.backward), `${where} backward`);
      assertClose(data(enc, 'hidden', [n, 128]), f32(c.hidden), `${where} hidden`);
      assertClose(data(enc, 's0', [128]), f32(c.s0), `${where} s0`);
      // decoder steps
      assert.equal(tr.outputTokens?.length, c.steps.length, `${where} number of decoder steps`);
      c.steps.forEach((s, t) => {
        const q = stage(tr, `dec${t}.query`);
        assert.equal(q.kind, 'decoder-step');
        assert.equal(q.step, t);
        assertClose(data(q, 'query', [128]), f32(s.query), `${where} step ${t} query`);
        assertClose(data(q, 'input', [32]), f32(s.input), `${where} step ${t} input embedding`);
        if (attn) {
          const sc = stage(tr, `dec${t}.scores`);
          assertClose(data(sc, 'scores', [n]), f32(s.scores!), `${where} step ${t} scores`);
          if (s.W1q) assertClose(data(sc, 'W1q'), f32(s.W1q), `${where} step ${t} W1q`);
          if (c.W2k) assertClose(data(sc, 'W2k'), f32(c.W2k), `${where} step ${t} W2k`);
          if (c.Wk) assertClose(data(sc, 'Wk'), f32(c.Wk), `${where} step ${t} Wk`);
          assertClose(
            data(stage(tr, `dec${t}.weights`), 'weights', [n]),
            f32(s.weights!),
            `${where} step ${t} weights`,
          );
          assertClose(
            data(stage(tr, `dec${t}.context`), 'context', [128]),
            f32(s.context!),
            `${where} step ${t} context`,
          );
        } else {
          assert.equal(s.scores, undefined);
        }
        const o = stage(tr, `dec${t}.output`);
        assertClose(data(o, 'combined', [128]), f32(s.combined), `${where} step ${t} combined`);
        assertClose(data(o, 'logits', [13]), f32(s.logits), `${where} step ${t} logits`);
        assertClose(data(o, 'probs', [13]), f32(s.probs), `${where} step ${t} probs`);
        assert.equal(tr.outputTokens![t]!.id, s.argmax, `${where} step ${t} argmax`);
        assert.equal(tr.predictions![t]!.position, t);
        assert.equal(tr.predictions![t]!.top[0]!.id, s.argmax);
      });
      const decoded = tr
        .outputTokens!.filter((t) => !t.special)
        .map((t) => t.text)
        .join('');
      assert.equal(decoded, c.decoded, `${where} decoded string equals the reference's`);
      if (attn) assert.equal(decoded, ISO[c.text], `${where} decodes to the right ISO date`);
      assert.equal(tr.outputTokens!.at(-1)!.text, '</s>');
      assert.equal(tr.outputTokens!.at(-1)!.special, true);
    }
  });
}

test('the brief’s examples decode correctly with every attention variant', async () => {
  for (const v of ['additive', 'dot', 'general', 'scaled-dot'] as const) {
    const m = await model(v);
    for (const [text, iso] of Object.entries(ISO)) {
      const tr = await m.run(text);
      const out = tr
        .outputTokens!.filter((t) => !t.special)
        .map((t) => t.text)
        .join('');
      assert.equal(out, iso, `${v}: ${text}`);
    }
  }
});

test('attention stages: weights sum to 1, axes, step and attention info, alignment matrix', async () => {
  for (const v of ['additive', 'dot', 'general', 'scaled-dot'] as const) {
    const tr = await (await model(v)).run('MONDAY 1 JAN 2024');
    const n = tr.tokens.length;
    const T = tr.outputTokens!.length;
    const align = stage(tr, 'alignment');
    assert.equal(align.kind, 'cross-attention');
    const A = findTensor(align, 'weights')!;
    assert.deepEqual(A.shape, [T, n]);
    assert.deepEqual(A.axes, ['output', 'input']);
    assert.deepEqual(A.tokenAxes, { output: 'output', input: 'input' });
    for (let t = 0; t < T; t++) {
      for (const kind of ['query', 'scores', 'weights', 'context', 'output']) {
        const s = stage(tr, `dec${t}.${kind}`);
        assert.equal(s.step, t);
        assert.deepEqual(s.attention, {
          queries: 'output',
          keys: 'input',
          causal: false,
          score: v,
          normaliser: 'softmax',
        });
        assert.ok(s.explanation.length > 80 && s.formula.length > 0);
      }
      const w = findTensor(stage(tr, `dec${t}.weights`), 'weights')!;
      assert.deepEqual(w.tokenAxes, { key: 'input' });
      assert.deepEqual(findTensor(stage(tr, `dec${t}.scores`), 'scores')!.tokenAxes, { key: 'input' });
      let sum = 0;
      for (const x of w.data) {
        assert.ok(x >= 0);
        sum += x;
      }
      assert.ok(Math.abs(sum - 1) < 1e-5, `step ${t} weights sum ${sum}`);
      assert.deepEqual(
        Array.from(A.data.subarray(t * n, (t + 1) * n)),
        Array.from(w.data),
        'alignment row = step weights',
      );
      assert.equal(tr.predictions![t]!.top.length, 5);
      const ps = tr.predictions![t]!.top.map((p) => p.p);
      assert.deepEqual(
        ps,
        [...ps].sort((a, b) => b - a),
        'top-k sorted by probability',
      );
    }
    // The day/month/year digits look at the right part of the input: the year's four output
    // characters (steps 0–3) put most weight on the input's "2024" (offsets 13–17).
    for (let t = 0; t < 4; t++) {
      const w = findTensor(stage(tr, `dec${t}.weights`), 'weights')!.data;
      let onYear = 0;
      tr.tokens.forEach((tok, i) => {
        if (tok.start >= 13) onYear += w[i]!;
      });
      assert.ok(onYear > 0.5, `${v} step ${t}: ${onYear.toFixed(3)} of the weight on the year`);
    }
  }
});

test('the none variant has no attention stages but explains its bottleneck', async () => {
  const tr = await (await model('none')).run('Nov 23, 2026');
  assert.ok(!tr.stages.some((s) => s.kind === 'score' || s.kind === 'normalise' || s.kind === 'cross-attention'));
  assert.ok(!tr.stages.some((s) => s.attention !== undefined));
  const b = stage(tr, 'bottleneck');
  assert.match(b.explanation, /s₀|bottleneck/);
  assert.deepEqual(Array.from(data(b, 's0')), Array.from(data(stage(tr, 'encoder'), 's0')));
  assert.ok(tr.outputTokens!.length >= 1);
  for (let t = 0; t < tr.outputTokens!.length; t++) {
    assert.equal(stage(tr, `dec${t}.query`).step, t);
    assert.equal(stage(tr, `dec${t}.output`).step, t);
  }
  assert.equal((await model('none')).info.heads, 0);
});

test('offsets map back to the text for odd Unicode; unknown characters are reported', async () => {
  const m = await model('additive');
  const text = '  \u202B🎉 Nov e\u0301 23,\r\n2026 ✓ 👩‍💻\t ';
  const tr = await m.run(text);
  for (const tok of tr.tokens)
    assert.equal(text.slice(tok.start, tok.end), tok.text, `token ${JSON.stringify(tok.text)}`);
  // code points, surrogate pairs whole
  assert.ok(tr.tokens.some((t) => t.text === '🎉' && t.end - t.start === 2));
  assert.ok(
    tr.tokens.some((t) => t.text === '\u0301' && t.unknown === true),
    'combining mark is its own token and unknown',
  );
  assert.equal(tr.tokens[0]!.text, '\u202B', 'outer whitespace skipped, RTL embedding mark kept');
  assert.equal(tr.tokens[0]!.start, 2);
  assert.equal(tr.tokens.at(-1)!.text, '💻');
  // inner CR/LF read as spaces, not unknown
  const cr = tr.tokens.find((t) => t.text === '\r')!;
  const space = tr.tokens.find((t) => t.text === ' ')!;
  assert.equal(cr.id, space.id);
  assert.ok(!cr.unknown);
  const unknown = tr.tokens.filter((t) => t.unknown).map((t) => t.text);
  assert.deepEqual(unknown, ['\u202B', '🎉', '\u0301', '✓', '👩', '\u200D', '💻']);
  const vocabJson = JSON.parse(fs.readFileSync(path.join(DIR, 'vocab.json'), 'utf8')) as { unk_id: number };
  assert.ok(tr.tokens.filter((t) => t.unknown).every((t) => t.id === vocabJson.unk_id));
  const warn = tr.warnings.find((w) => w.includes('<unk>'));
  assert.ok(warn, 'a warning names the unknown characters');
  assert.match(warn, /7 characters/);
  assert.match(warn, /'🎉'/);
});

test('CharVocab splits code points with UTF-16 offsets', () => {
  const vocab = CharVocab.fromJson(JSON.parse(fs.readFileSync(path.join(DIR, 'vocab.json'), 'utf8')));
  const e = vocab.encode('a😀b', 10);
  assert.deepEqual(
    e.tokens.map((t) => [t.text, t.start, t.end]),
    [
      ['a', 0, 1],
      ['😀', 1, 3],
      ['b', 3, 4],
    ],
  );
  const t = vocab.encode('abcdef', 3);
  assert.equal(t.truncated, true);
  assert.equal(t.tokens.length, 3);
  assert.throws(
    () => CharVocab.fromJson({ input: ['<pad>'] }),
    (err: unknown) => err instanceof AttentionInputError && err.code === 'file',
  );
});

test('empty or whitespace-only input throws AttentionInputError(empty)', async () => {
  const m = await model('dot');
  const before = tf.memory().numTensors;
  for (const text of ['', '   ', '\n\t\r\n']) {
    await assert.rejects(m.run(text), (err: unknown) => err instanceof AttentionInputError && err.code === 'empty');
  }
  assert.equal(tf.memory().numTensors, before);
});

test('over-long input is truncated to maxTokens with a warning naming the limit', async () => {
  const m = await model('general');
  const tr = await m.run('on Wednesday the 23rd of September in the year 2026', { maxTokens: 20 });
  assert.equal(tr.tokens.length, 20);
  assert.equal(tr.text, 'on Wednesday the 23rd of September in the year 2026'.slice(0, 20));
  assert.ok(
    tr.warnings.some((w) => w.includes('20')),
    tr.warnings.join('\n'),
  );
  await assert.rejects(
    m.run('1/1/2000', { maxTokens: 0 }),
    (err: unknown) => err instanceof AttentionInputError && err.code === 'shape',
  );
});

test('runs leave tf.memory().numTensors unchanged', async () => {
  for (const v of SEQ2SEQ_VARIANTS) {
    const m = await model(v);
    await m.run('warm up 1/1/2000');
    const before = tf.memory().numTensors;
    for (const text of ['Sunday 23rd of November 2026', 'x', '🎉🎉 2 Feb 1950']) await m.run(text);
    assert.equal(tf.memory().numTensors, before, v);
  }
});

test('cancelling a run throws cancelled and leaks nothing', async () => {
  for (const v of ['additive', 'none'] as const) {
    const m = await model(v);
    const before = tf.memory().numTensors;
    // already aborted
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(
      m.run('1 Jan 2000', { signal: pre.signal }),
      (err: unknown) => err instanceof AttentionInputError && err.code === 'cancelled',
    );
    // aborted mid-run: after the encoder, and after a few decoder steps
    for (const at of [0.3, 0.6]) {
      const ac = new AbortController();
      let seen = 0;
      await assert.rejects(
        m.run('on Wednesday the 23rd of September in the year 2026', {
          signal: ac.signal,
          onProgress: (f) => {
            seen = Math.max(seen, f);
            if (f >= at) ac.abort();
          },
        }),
        (err: unknown) => err instanceof AttentionInputError && err.code === 'cancelled',
      );
      assert.ok(seen >= at && seen < 1, `cancelled part-way (progress ${seen})`);
      assert.equal(tf.memory().numTensors, before, `${v}: no tensors leaked when cancelled at ${at}`);
    }
  }
});

test('loading: builtin dir, unknown variant, malformed files', async () => {
  await initBackend();
  assert.ok(fs.existsSync(path.join(builtinSeq2seqDir(), 'vocab.json')));
  await assert.rejects(
    loadSeq2seq(DIR, 'bogus' as Seq2seqVariant),
    (err: unknown) => err instanceof AttentionInputError,
  );
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seq2seq-'));
  try {
    for (const f of ['config.json', 'vocab.json']) fs.copyFileSync(path.join(DIR, f), path.join(tmp, f));
    const before = tf.memory().numTensors;
    // weights file truncated
    const bytes = fs.readFileSync(path.join(DIR, 'dot.safetensors'));
    fs.writeFileSync(path.join(tmp, 'dot.safetensors'), bytes.subarray(0, bytes.length - 100));
    await assert.rejects(
      loadSeq2seq(tmp, 'dot'),
      (err: unknown) => err instanceof AttentionInputError && err.code === 'file',
    );
    // wrong variant's weights (missing attention.W) leave no tensors behind
    fs.copyFileSync(path.join(DIR, 'dot.safetensors'), path.join(tmp, 'general.safetensors'));
    await assert.rejects(
      loadSeq2seq(tmp, 'general'),
      (err: unknown) => err instanceof AttentionInputError && err.code === 'file' && /attention\.W/.test(err.message),
    );
    assert.equal(tf.memory().numTensors, before);
    // broken config
    fs.writeFileSync(path.join(tmp, 'config.json'), '{"d_emb": 32');
    await assert.rejects(
      loadSeq2seq(tmp, 'dot'),
      (err: unknown) => err instanceof AttentionInputError && err.code === 'file',
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const m = await loadSeq2seq(DIR, 'scaled-dot');
  const count = tf.memory().numTensors;
  m.dispose();
  assert.ok(tf.memory().numTensors < count, 'dispose frees the weights');
  assert.ok(m.info.parameters! > 10_000);
});
