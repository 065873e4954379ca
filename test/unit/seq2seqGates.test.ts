// The recurrent cells' gates and states, GRU and LSTM, at every encoder position (both directions)
// and every decoder step, against the independent numpy pass of scripts/reference/seq2seq_ref.py
// (whose recurrences it checks against torch.nn.GRU / nn.LSTM) → test/fixtures/seq2seq/<variant>.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import type { AttentionModel } from '../../src/model/model';
import {
  builtinReverseDir,
  builtinSeq2seqDir,
  loadSeq2seq,
  type Cell,
  type Seq2seqTask,
  type Seq2seqVariant,
} from '../../src/model/families/seq2seq/model';
import { getModel } from '../../src/model/open/builtins';
import { findTensor, type Stage, type Trace } from '../../shared/trace';

interface F32 {
  readonly shape: number[];
  readonly b64: string;
}
type Fields = Readonly<Record<string, F32 | number | string | unknown>>;
interface Fixture {
  readonly variant: string;
  readonly cell: Cell;
  readonly score: Seq2seqVariant;
  readonly cases: (Fields & { readonly text: string; readonly decoded: string; readonly steps: Fields[] })[];
}

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'seq2seq');

function f32(x: unknown): Float32Array {
  const v = x as F32;
  assert.ok(v && typeof v.b64 === 'string', 'fixture tensor present');
  const bytes = Buffer.from(v.b64, 'base64');
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  assert.equal(
    out.length,
    v.shape.reduce((a, b) => a * b, 1),
  );
  return out;
}

/** The brief's tolerance: every element within 1e-4 of the float64 reference (gates are in (−1, 1)). */
function maxDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'same length');
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    worst = Number.isFinite(d) ? Math.max(worst, d) : Infinity;
  }
  return worst;
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): number {
  const d = maxDiff(actual, expected);
  assert.ok(d <= 1e-4, `${what}: |tfjs − reference| = ${d} > 1e-4`);
  return d;
}

function stage(trace: Trace, id: string): Stage {
  const s = trace.stages.find((x) => x.id === id);
  assert.ok(s, `stage ${id} exists`);
  return s;
}

function tensorOf(s: Stage, name: string, shape: readonly number[]): Float32Array {
  const t = findTensor(s, name);
  assert.ok(t, `stage ${s.id} has tensor "${name}"`);
  assert.deepEqual(t.shape, shape, `${s.id} "${name}" shape`);
  return t.data;
}

interface Spec {
  readonly fixture: string;
  readonly load: () => Promise<AttentionModel>;
}

const SPECS: readonly Spec[] = [
  ...(['additive', 'dot', 'general', 'scaled-dot', 'none'] as const).map((v) => ({
    fixture: v,
    load: () => loadSeq2seq(builtinSeq2seqDir(), v),
  })),
  { fixture: 'lstm-additive', load: () => loadSeq2seq(builtinSeq2seqDir(), 'additive', { cell: 'lstm' }) },
  ...(['additive', 'none'] as const).map((v) => ({
    fixture: `reverse-${v}`,
    load: () => loadSeq2seq(builtinReverseDir(), v, { task: 'reverse' as Seq2seqTask, id: `seq2seq-reverse-${v}` }),
  })),
];

/** The shown name of a gate and the fixture's key for it (rnnStep's 'n' is the GRU candidate h̃). */
const GATES: Readonly<Record<Cell, readonly (readonly [string, string])[]>> = {
  gru: [
    ['z', 'z'],
    ['r', 'r'],
    ['h̃', 'n'],
  ],
  lstm: [
    ['i', 'i'],
    ['f', 'f'],
    ['g', 'g'],
    ['o', 'o'],
  ],
};

for (const spec of SPECS) {
  test(`${spec.fixture}: every gate and state, every encoder position and decoder step, within 1e-4 of the reference`, async () => {
    await initBackend();
    const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${spec.fixture}.json`), 'utf8')) as Fixture;
    const m = await spec.load();
    try {
      let worst = 0;
      let checked = 0;
      for (const c of fx.cases) {
        const before = tf.memory().numTensors;
        const tr = await m.run(c.text);
        assert.equal(tf.memory().numTensors, before, 'a run leaves no tensor behind');
        const n = (c.ids as number[]).length;
        const where = `${spec.fixture} ${JSON.stringify(c.text)}`;
        const enc = stage(tr, 'encoder');
        const dh = f32(c.forward).length / n;
        const d = f32(c.s0).length;
        const note = (x: number): void => {
          worst = Math.max(worst, x);
          checked++;
        };
        note(close(tensorOf(enc, 'forward', [n, dh]), f32(c.forward), `${where} →h`));
        note(close(tensorOf(enc, 'backward', [n, dh]), f32(c.backward), `${where} ←h`));
        note(close(tensorOf(enc, 's0', [d]), f32(c.s0), `${where} s₀`));
        for (const dir of ['forward', 'backward'] as const)
          for (const [shown, key] of GATES[fx.cell]) {
            const t = findTensor(enc, `${dir} ${shown}`);
            assert.deepEqual(t?.axes, ['token', 'unit'], `${where} ${dir} ${shown} axes`);
            note(close(tensorOf(enc, `${dir} ${shown}`, [n, dh]), f32(c[`${dir}_${key}`]), `${where} ${dir} ${shown}`));
          }
        if (fx.cell === 'lstm') {
          note(close(tensorOf(enc, 'forward c', [n, dh]), f32(c.forward_c), `${where} →c`));
          note(close(tensorOf(enc, 'backward c', [n, dh]), f32(c.backward_c), `${where} ←c`));
          note(close(tensorOf(enc, 'c0', [d]), f32(c.c0), `${where} c₀`));
        } else {
          assert.equal(findTensor(enc, 'forward c'), undefined, 'a GRU has no cell state');
        }
        assert.equal(tr.outputTokens?.length, c.steps.length, `${where} decoder steps`);
        c.steps.forEach((s, t) => {
          const q = stage(tr, `dec${t}.query`);
          note(close(tensorOf(q, 'query', [d]), f32(s.query), `${where} step ${t} s_t`));
          for (const [shown, key] of GATES[fx.cell])
            note(close(tensorOf(q, shown, [d]), f32(s[`gate_${key}`]), `${where} step ${t} ${shown}`));
          if (fx.cell === 'lstm') note(close(tensorOf(q, 'c', [d]), f32(s.cell), `${where} step ${t} c`));
          // The final output too, so the LSTM and the reverse models are checked end to end.
          const o = stage(tr, `dec${t}.output`);
          note(close(tensorOf(o, 'probs', [f32(s.probs).length]), f32(s.probs), `${where} step ${t} probs`));
          if (s.weights !== undefined)
            note(close(tensorOf(stage(tr, `dec${t}.weights`), 'weights', [n]), f32(s.weights), `${where} step ${t} α`));
          assert.equal(tr.outputTokens![t]!.id, s.argmax, `${where} step ${t} argmax`);
        });
        const decoded = tr
          .outputTokens!.filter((t) => !t.special)
          .map((t) => t.text)
          .join('');
        assert.equal(decoded, c.decoded, `${where} decodes as the reference does`);
      }
      assert.ok(checked > 50, `${checked} tensors compared`);
      console.log(`${spec.fixture}: ${checked} tensors, largest difference ${worst.toExponential(2)}`);
    } finally {
      m.dispose();
    }
  });
}

test('the 1e-4 comparison catches a swapped gate pair (negative control)', async () => {
  await initBackend();
  const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'lstm-additive.json'), 'utf8')) as Fixture;
  const c = fx.cases[0]!;
  // Reading the forget gate where the input gate is, the PyTorch order (i, f, g, o) confused, differs by far more than 1e-4.
  assert.ok(maxDiff(f32(c.forward_i), f32(c.forward_f)) > 1e-2);
  assert.ok(maxDiff(f32(c.forward_i), f32(c.forward_i)) === 0);
});

test('stage text: each gate’s formula, exactly as the cell computes it', async () => {
  await initBackend();
  const lstm = await getModel('seq2seq-dates-lstm');
  const gru = await getModel('seq2seq-dates-additive');
  const tl = await lstm.run('Nov 23, 2026');
  const tg = await gru.run('Nov 23, 2026');
  const el = stage(tl, 'encoder');
  assert.equal(el.title, 'Bidirectional LSTM encoder');
  for (const f of [
    'iₜ = σ(W_i xₜ + U_i hₜ₋₁ + b_i)',
    'fₜ = σ(W_f xₜ + U_f hₜ₋₁ + b_f)',
    'gₜ = tanh(W_g xₜ + U_g hₜ₋₁ + b_g)',
    'oₜ = σ(W_o xₜ + U_o hₜ₋₁ + b_o)',
    'cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ gₜ',
    'hₜ = oₜ ⊙ tanh(cₜ)',
  ]) {
    assert.ok(el.formula.includes(f), `LSTM encoder formula has ${f}`);
    assert.ok(stage(tl, 'dec0.query').formula.includes(f), `LSTM decoder formula has ${f}`);
  }
  const eg = stage(tg, 'encoder');
  assert.equal(eg.title, 'Bidirectional GRU encoder');
  for (const f of [
    'zₜ = σ(W_z xₜ + U_z hₜ₋₁ + b_z)',
    'rₜ = σ(W_r xₜ + U_r hₜ₋₁ + b_r)',
    'h̃ₜ = tanh(W_h xₜ + b_h + rₜ ⊙ (U_h hₜ₋₁ + b_Uh))',
    'hₜ = (1 − zₜ) ⊙ h̃ₜ + zₜ ⊙ hₜ₋₁',
  ]) {
    assert.ok(eg.formula.includes(f), `GRU encoder formula has ${f}`);
    assert.ok(stage(tg, 'dec3.query').formula.includes(f), `GRU decoder formula has ${f}`);
  }
  assert.match(eg.explanation, /reset_after = true/);
  assert.match(el.explanation, /forget gate f/);
  assert.equal(lstm.info.id, 'seq2seq-dates-lstm');
  assert.match(lstm.info.description, /BiLSTM encoder → LSTM decoder with additive \(Bahdanau\) attention/);
  // The decoder's gates are per-unit vectors; sigmoid gates lie in (0, 1), the candidates in (−1, 1).
  const q = stage(tl, 'dec0.query');
  for (const g of ['i', 'f', 'o'])
    assert.ok(
      findTensor(q, g)!.data.every((x) => x > 0 && x < 1),
      `${g} in (0, 1)`,
    );
  assert.ok(
    findTensor(q, 'g')!.data.every((x) => x > -1 && x < 1),
    'g in (−1, 1)',
  );
});
