// The step view of a Transformer encoder–decoder (shared/decoderSteps.ts, webview/components/stepView.ts):
// every number it shows at output step t is row t of the trace's weights, checked against the
// independent numpy forward pass of the built-in dates-transformer (scripts/reference/transformer_ref.py,
// fixtures test/fixtures/transformer/dates_*.json); its labels say what the decoder reads (the
// outputs shifted right: the start token, then the token of step t − 1) and what it produces.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import {
  builtinDatesTransformerDir,
  loadEncoderDecoder,
  type EncoderDecoderModel,
} from '../../src/model/families/marian/model';
import { getModel } from '../../src/model/open/builtins';
import {
  START_LABEL,
  decoderInputLabel,
  decoderLayerOf,
  hasDecoderSteps,
  moveOutputStep,
  producedAt,
  stepRows,
  stepSentence,
  strongestKeys,
} from '../../shared/decoderSteps';
import { needsOf, traceIndex } from '../../shared/lazy';
import { DEFAULT_CURSOR } from '../../shared/protocol';
import type { Trace } from '../../shared/trace';
import { assertClose, decodeArr, type Arr } from './fixtureTools';
import { stepMatrix, stepOfCursor } from '../../webview/components/stepView';
import { decodedPieces } from '../../webview/components/predictions';
import { weightsCube } from '../../webview/attentionViews';
import { decodedOutput, toMatrix, tokenLabel } from '../../shared/tensorView';

interface Fixture {
  text: string;
  out_ids: number[];
  decoded: string;
  dec_in: number[];
  dec_layers: { self: { weights: Arr }; cross: { weights: Arr } }[];
  top_ids: number[][];
  top_p: number[][];
}
const DIR = path.join(__dirname, '..', 'fixtures', 'transformer');
const fixtures: Fixture[] = fs
  .readdirSync(DIR)
  .filter((f) => /^dates_\d+\.json$/.test(f))
  .sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) as Fixture);

let model: EncoderDecoderModel;
const traces: Trace[] = [];
before(async () => {
  await initBackend();
  model = await loadEncoderDecoder(builtinDatesTransformerDir());
  const n = tf.memory().numTensors;
  for (const fx of fixtures) traces.push(await model.run(fx.text, { topK: 5 }));
  assert.equal(tf.memory().numTensors, n, 'no tensors leak');
});
after(() => model?.dispose());

const at = (trace: Trace, id: string): number => trace.stages.findIndex((s) => s.id === id);

test('each step’s self- and cross-attention rows, per head and as the mean, equal the numpy reference', () => {
  assert.ok(fixtures.length >= 3);
  fixtures.forEach((fx, i) => {
    const trace = traces[i]!;
    assert.ok(hasDecoderSteps(trace));
    fx.dec_layers.forEach((L, l) => {
      const dec = decoderLayerOf(trace, trace.stages[at(trace, `dec${l}.cross.weights`)]!)!;
      assert.equal(dec.layer, l);
      assert.equal(dec.self!.id, `dec${l}.self.weights`);
      assert.equal(dec.cross!.id, `dec${l}.cross.weights`);
      const self = decodeArr(L.self.weights);
      const cross = decodeArr(L.cross.weights);
      const H = dec.self!.weights.shape[0]!;
      const T = fx.out_ids.length;
      const S = cross.length / (H * T);
      for (let t = 0; t < T; t++) {
        const s = stepRows(trace, dec.self!, t, 0, true);
        const c = stepRows(trace, dec.cross!, t, 0, true);
        assert.deepEqual(s.heads, [...Array.from({ length: H }, (_, h) => h), -1]);
        for (let h = 0; h < H; h++) {
          assertClose(
            s.data.subarray(h * T, (h + 1) * T),
            self.subarray((h * T + t) * T, (h * T + t + 1) * T),
            `l${l} h${h} t${t} self`,
          );
          assertClose(
            c.data.subarray(h * S, (h + 1) * S),
            cross.subarray((h * T + t) * S, (h * T + t + 1) * S),
            `l${l} h${h} t${t} cross`,
          );
        }
        const mean = (ref: Float32Array, K: number): Float32Array =>
          Float32Array.from({ length: K }, (_, j) => {
            let sum = 0;
            for (let h = 0; h < H; h++) sum += ref[(h * T + t) * K + j]!;
            return sum / H;
          });
        assertClose(s.data.subarray(H * T), mean(self, T), `l${l} t${t} self mean`);
        assertClose(c.data.subarray(H * S), mean(cross, S), `l${l} t${t} cross mean`);
        // One head, as the view shows it by default: exactly the trace's own row.
        const one = stepRows(trace, dec.cross!, t, 2);
        const w = dec.cross!.weights.data;
        assert.deepEqual(Array.from(one.data), Array.from(w.subarray((2 * T + t) * S, (2 * T + t + 1) * S)));
        // Masked: the future positions, and nothing else; they are not attended to at all.
        assert.deepEqual(
          s.masked,
          Array.from({ length: T }, (_, j) => j > t),
          `step ${t + 1}: positions after it are masked`,
        );
        for (let j = t + 1; j < T; j++) assert.equal(s.data[j], 0);
        assert.ok(
          c.masked.every((m) => !m),
          'cross-attention masks no input token',
        );
        assert.ok(
          strongestKeys(s, 0).every((k) => k.key <= t),
          'the strongest keys are never masked ones',
        );
      }
    });
  });
});

test('labels: the decoder reads the start token, then the previous step’s output; it produces the top prediction', () => {
  fixtures.forEach((fx, i) => {
    const trace = traces[i]!;
    const out = trace.outputTokens!;
    // The fixture's decoder input is the start id then every output but the last: shifted right.
    assert.deepEqual(fx.dec_in.slice(1), fx.out_ids.slice(0, -1));
    assert.equal(decoderInputLabel(trace, 0), START_LABEL);
    for (let t = 1; t < out.length; t++) assert.equal(decoderInputLabel(trace, t), tokenLabel(out[t - 1]!));
    const dec = decoderLayerOf(trace, trace.stages[at(trace, 'dec1.self.weights')]!)!;
    const s = stepRows(trace, dec.self!, 4, -1);
    assert.deepEqual(s.keyLabels, [START_LABEL, ...out.slice(0, -1).map(tokenLabel)]);
    assert.deepEqual(stepRows(trace, dec.cross!, 4, -1).keyLabels, trace.tokens.map(tokenLabel));
    for (let t = 0; t < out.length; t++) {
      const top = producedAt(trace, t);
      assert.deepEqual(
        top.map((x) => x.id),
        fx.top_ids[t],
      );
      assertClose(
        Float32Array.from(top, (x) => x.p),
        Float32Array.from(fx.top_p[t]!),
        `step ${t} p`,
      );
      assert.equal(top[0]!.id, fx.out_ids[t]);
      assert.equal(top[0]!.text, tokenLabel(out[t]!));
    }
    const p = (fx.top_p[2]![0]! * 100).toFixed(2);
    assert.equal(
      stepSentence(trace, 2),
      `Output step 3 of ${out.length} reads ‘${tokenLabel(out[1]!)}’ and produces ‘${tokenLabel(out[2]!)}’ (${p}%)`,
    );
    assert.match(stepSentence(trace, 0), /^Output step 1 of \d+ reads ‘‹start›’ and produces /);
    // The decoded output as per-step pieces is the same text as the panel's decoded output.
    assert.equal(
      decodedPieces(trace)
        .map((x) => x.text)
        .join(''),
      decodedOutput(trace),
    );
    assert.equal(decodedOutput(trace), fx.decoded);
    assert.deepEqual(
      decodedPieces(trace).map((x) => x.step),
      out.flatMap((x, t) => (x.special ? [] : [t])),
    );
  });
});

test('which layer a stage shows by step, and where the step view does not apply', async () => {
  const trace = traces[0]!;
  const layerAt = (id: string): number | undefined => decoderLayerOf(trace, trace.stages[at(trace, id)]!)?.layer;
  assert.equal(layerAt('dec0.self.qkv'), 0);
  assert.equal(layerAt('dec1.cross.context'), 1);
  assert.equal(layerAt('dec1.output'), 1);
  assert.equal(layerAt('output'), 1, 'the output stage: the last decoder layer');
  assert.equal(layerAt('dec.embedding'), 0, 'the decoder embedding: the first');
  assert.equal(layerAt('enc0.weights'), undefined, 'encoder stages have no output steps');
  assert.equal(layerAt('tokens'), undefined);
  await initBackend();
  const rnn = await (await getModel('seq2seq-dates-additive')).run('23/11/2026');
  assert.equal(hasDecoderSteps(rnn), false, 'the RNN seq2seq models have a stage per step already');
  assert.equal(decoderLayerOf(rnn, rnn.stages[rnn.stages.length - 1]!), undefined);
});

test('next/previous step moves the output step on decoder stages, wrapping; elsewhere nothing moves', () => {
  const trace = traces[0]!;
  const T = trace.outputTokens!.length;
  const c = { ...DEFAULT_CURSOR, stage: at(trace, 'dec0.cross.weights') };
  assert.equal(moveOutputStep(trace, c, 1).row, 0, 'no step yet: the first');
  assert.equal(moveOutputStep(trace, c, -1).row, T - 1);
  assert.equal(moveOutputStep(trace, { ...c, row: 3 }, 1).row, 4);
  assert.equal(moveOutputStep(trace, { ...c, row: T - 1 }, 1).row, 0);
  assert.equal(moveOutputStep(trace, { ...c, row: 0 }, -1).row, T - 1);
  const enc = { ...DEFAULT_CURSOR, stage: at(trace, 'enc0.weights'), row: 2 };
  assert.deepEqual(moveOutputStep(trace, enc, 1), enc);
  assert.throws(() => stepRows(trace, decoderLayerOf(trace, trace.stages[c.stage]!)!.cross!, T, 0), /output step/);
});

test('the step view loads the layer’s self- and cross-attention weights and the top-k, for a trace held elsewhere', () => {
  const trace = traces[0]!;
  const index = traceIndex(trace, 0);
  const c = { ...DEFAULT_CURSOR, stage: at(trace, 'dec1.cross.weights'), view: 'steps' as const, head: 1 };
  const want = needsOf(index, c).map((r) => `${r.stage}/${r.tensor}${r.head === undefined ? '' : `#${r.head}`}`);
  for (const t of ['dec1.self.weights/weights', 'dec1.cross.weights/weights', 'output/top_id', 'output/top_p'])
    assert.ok(want.includes(t), `${t} in ${want.join(', ')}`);
});

test('the step view’s matrix: a row per head shown, keys labelled, future positions masked; the step clamped', () => {
  const trace = traces[0]!;
  const dec = decoderLayerOf(trace, trace.stages[at(trace, 'dec0.self.weights')]!)!;
  const r = stepRows(trace, dec.self!, 2, 1, true);
  const m = stepMatrix(r, 'decoder input');
  assert.equal(m.rows, dec.self!.weights.shape[0]! + 1);
  assert.deepEqual(m.rowLabels.slice(-2), [String(m.rows - 2), 'mean']);
  assert.equal(m.rowAxis, 'head');
  assert.deepEqual(m.colLabels, r.keyLabels);
  assert.equal(m.masked!(0, 2), false);
  assert.equal(m.masked!(0, 3), true);
  assert.equal(stepOfCursor(undefined, 11), 0);
  assert.equal(stepOfCursor(40, 11), 10);
  assert.equal(stepOfCursor(-3, 11), 0);
});

test('the editor hover on cross-attention: each output step with what it reads and produces, and the panel’s step ranked', async () => {
  const { readBy } = await import('../../src/hover/attends');
  const trace = traces[0]!;
  const c = { ...DEFAULT_CURSOR, stage: at(trace, 'dec0.cross.weights'), head: 3, row: 2 };
  const w = trace.stages[c.stage]!.tensors.find((x) => x.name === 'weights')!;
  const [, Q, K] = w.shape as [number, number, number];
  const key = 5;
  const r = readBy(trace, c, key, 4)!;
  for (const e of r.entries) {
    assert.equal(e.weight, w.data[(3 * Q + e.query) * K + key]);
    assert.equal(e.reads, decoderInputLabel(trace, e.query));
    assert.equal(e.produces, tokenLabel(trace.outputTokens![e.query]!));
  }
  const f = r.focused!;
  assert.equal(f.query, 2);
  assert.equal(f.weight, w.data[(3 * Q + 2) * K + key]);
  const row = Array.from(w.data.subarray((3 * Q + 2) * K, (3 * Q + 3) * K));
  assert.equal(f.rank, 1 + row.filter((x) => x > f.weight).length);
  assert.equal(f.keys, K);
  assert.equal(readBy(trace, { ...c, row: undefined }, key, 4)!.focused, undefined);
});

test('the heatmaps label a decoder position by the token it reads: Y, the weights’ queries and the self-attention keys', () => {
  const trace = traces[0]!;
  const out = trace.outputTokens!;
  const reads = [START_LABEL, ...out.slice(0, -1).map(tokenLabel)];
  const of = (id: string, name: string) => trace.stages[at(trace, id)]!.tensors.find((x) => x.name === name)!;
  assert.deepEqual(
    toMatrix(trace, of('dec.embedding', 'Y'), 0).rowLabels,
    reads,
    'Y row 0 is the start token’s embedding',
  );
  const self = toMatrix(trace, of('dec0.self.weights', 'weights'), 1);
  assert.deepEqual(self.rowLabels, reads);
  assert.deepEqual(self.colLabels, reads);
  const cross = toMatrix(trace, of('dec1.cross.weights', 'weights'), -1);
  assert.deepEqual(cross.rowLabels, reads);
  assert.deepEqual(cross.colLabels, trace.tokens.map(tokenLabel));
  assert.deepEqual(toMatrix(trace, of('enc0.weights', 'weights'), 0).rowLabels, trace.tokens.map(tokenLabel));
});

test('the head, text and neuron views’ labels: a decoder position by the token it reads', () => {
  const trace = traces[0]!;
  const reads = [START_LABEL, ...trace.outputTokens!.slice(0, -1).map(tokenLabel)];
  const dec = decoderLayerOf(trace, trace.stages[at(trace, 'dec0.self.weights')]!)!;
  const self = weightsCube(dec.self!, trace)!;
  assert.deepEqual(self.rowLabels, reads);
  assert.deepEqual(self.colLabels, reads);
  const cross = weightsCube(dec.cross!, trace)!;
  assert.deepEqual(cross.rowLabels, reads);
  assert.deepEqual(cross.colLabels, trace.tokens.map(tokenLabel));
});

test('the text view names a decoder self-attention key by the token read there, as the heatmap does', async () => {
  const { JSDOM, VirtualConsole } = await import('jsdom');
  const dom = new JSDOM('<!DOCTYPE html><body></body>', { virtualConsole: new VirtualConsole() });
  const g = globalThis as Record<string, unknown>;
  const had = { window: g.window, document: g.document };
  g.window = dom.window;
  g.document = dom.window.document;
  try {
    const { textView } = await import('../../webview/components/textView');
    const trace = traces[0]!;
    const dec = decoderLayerOf(trace, trace.stages[at(trace, 'dec0.self.weights')]!)!;
    const cube = weightsCube(dec.self!, trace)!;
    const ctx = { theme: () => ({ foreground: '#000000', font: 'monospace' }) } as unknown as Parameters<
      typeof textView
    >[0];
    const fig = textView(ctx, trace, dec.self!, cube, 0, 2);
    const chips = [...fig.el.querySelectorAll('.tv-tok')].map((e) => e.textContent);
    assert.deepEqual(chips, [START_LABEL, ...trace.outputTokens!.slice(0, -1).map(tokenLabel)]);
  } finally {
    g.window = had.window;
    g.document = had.document;
  }
});
