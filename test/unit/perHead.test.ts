// The panel's per-head storage (webview/tensors.ts, shared/tensorView.ts headData): a big tensor
// fetched a head at a time keeps only those heads, each in a buffer of its own, and the loader
// counts exactly their bytes. Every view's numbers drawn from that storage equal, value for value,
// those drawn from the whole tensor (heatmap, lines, Q/K/V matrices with grouped-query K/V, CSV
// and SVG exports, the JSON export, the text view, the neuron view, a what-if's difference, the
// step view's rows); a reader that needs every head fails loudly instead of drawing zeros.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { initBackend } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { loadHfModel } from '../../src/model/open/modelFiles';
import { packTensors } from '../../shared/codec';
import { gridThumbnails, headMean } from '../../shared/derived';
import { decoderLayerOf, stepRows } from '../../shared/decoderSteps';
import { fetchTensor, needsOf, stagesShown, traceIndex, type TensorRequest } from '../../shared/lazy';
import { blockOf, type AttentionBlock } from '../../shared/navigation';
import { neuronPair, neuronSource, rowMismatch } from '../../shared/neuron';
import type { Cursor } from '../../shared/protocol';
import { headData, headsHeld, isWhole, toMatrix, wholeData, type Matrix } from '../../shared/tensorView';
import type { Stage, TensorData, Trace } from '../../shared/trace';
import { headLines, textShading, weightsCube } from '../../webview/attentionViews';
import { exportedTensor, heatmapSvg, matrixToCsv } from '../../webview/exporters';
import { difference, exportTarget, matrixOf, shownTensors } from '../../webview/matrices';
import { Store } from '../../webview/store';
import { TensorLoader } from '../../webview/tensors';

const ROOT = path.join(__dirname, '..', '..');
let gqa: Trace; // tinystories-656k: 8 query heads over 4 key/value heads, causal
let t5: Trace; // T5 fixture: a position bias on the scores, cross-attention
let dates: Trace; // a Transformer encoder–decoder (the step view)

before(async () => {
  await initBackend();
  gqa = await (await getModel('tinystories-656k')).run('Once upon a time, there was a little dog.');
  t5 = await (await loadHfModel(path.join(ROOT, 'test', 'fixtures', 'hf', 't5'))).run('Hello world, hi there.');
  dates = await (await getModel('dates-transformer')).run('23 November 2026');
});

/** The panel's loader on `full`'s index (every tensor remote), served as the host does: packed into one buffer. */
function panel(full: Trace, budget?: number) {
  const index = traceIndex(full, 0);
  const fetched: TensorRequest[][] = [];
  const loader = new TensorLoader(
    {
      tensors: async (want) => {
        fetched.push([...want]);
        return packTensors(want.map((r) => fetchTensor(full, r)));
      },
      thumbnails: async (max) => gridThumbnails(full, max),
    },
    budget,
    0, // every block a head at a time, as a big run's
  );
  return { index, loader, fetched };
}

const tensorOf = (trace: Trace, stage: string, name: string): TensorData =>
  trace.stages.find((s) => s.id === stage)!.tensors.find((t) => t.name === name)!;

const bits = (d: Float32Array): number[] => Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length));

function sameMatrix(a: Matrix, b: Matrix, what: string): void {
  assert.deepEqual(
    [a.rows, a.cols, a.rowAxis, a.colAxis, a.rowLabels, a.colLabels],
    [b.rows, b.cols, b.rowAxis, b.colAxis, b.rowLabels, b.colLabels],
    what,
  );
  assert.equal(a.data.length, a.rows * a.cols, `${what}: as many values as cells`);
  assert.deepEqual(bits(a.data), bits(b.data), `${what}: values`);
  assert.equal(a.masked === undefined, b.masked === undefined, `${what}: mask`);
  if (a.masked)
    for (let r = 0; r < a.rows; r++)
      for (let c = 0; c < a.cols; c++) assert.equal(a.masked(r, c), b.masked!(r, c), `${what}: mask at ${r},${c}`);
}

/** Every figure of the cursor's view: each tensor of the stages it shows, as the heatmap draws it. */
function sameFigures(index: Trace, full: Trace, c: Cursor): number {
  let n = 0;
  for (const s of stagesShown(full, c)) {
    const i = full.stages.indexOf(s);
    const block = blockOf(full, s);
    for (const t of shownTensors(s)) {
      const mine = index.stages[i]!.tensors[s.tensors.indexOf(t)]!;
      const kv = s.attention?.kvHeadOf;
      const mask = block?.mask;
      const ownMask = mask && blockOf(index, index.stages[i]!)!.mask;
      sameMatrix(
        matrixOf(index, mine, c.head, kv, ownMask),
        matrixOf(full, t, c.head, kv, mask),
        `${s.id}/${t.name} h${c.head}`,
      );
      n++;
    }
  }
  return n;
}

const attentionStage = (trace: Trace, id: string): number => trace.stages.findIndex((s) => s.id === id);

test('a head fetched alone is kept alone: no full-size array, its own buffer, exactly its bytes counted', async () => {
  const { index, loader, fetched } = panel(gqa);
  const c: Cursor = { stage: attentionStage(gqa, 'L0.weights'), head: 5, view: 'heatmap' };
  await loader.ensure(index, c);
  assert.equal(fetched.length, 1);
  let bytes = 0;
  for (const r of fetched[0]!) {
    const t = tensorOf(index, r.stage, r.tensor);
    if (r.head === undefined) {
      // The [query, key] mask has no head axis: it comes whole.
      assert.ok(isWhole(t) && t.shape.length === 2, `${r.tensor} whole`);
      bytes += t.data.byteLength;
      continue;
    }
    assert.equal(t.data.length, 0, `${r.stage}/${r.tensor}: no full-size array`);
    assert.deepEqual([...headsHeld(t).keys()], [r.head]);
    const d = headData(t, r.head);
    assert.equal(d.buffer.byteLength, d.byteLength, `${r.tensor}: a buffer of its own, not the fetch's`);
    assert.deepEqual(bits(d), bits(headData(tensorOf(gqa, r.stage, r.tensor), r.head)), `${r.tensor} values`);
    bytes += d.byteLength;
  }
  // Query head 5 reads key/value head 2 (kvHeadOf), and that is the head of K and V fetched.
  const asked = Object.fromEntries(fetched[0]!.map((r) => [r.tensor, r.head]));
  assert.equal(asked.weights, 5);
  assert.equal(asked.K, 2);
  assert.equal(asked.V, 2);
  assert.equal(asked.Q, 5);
  assert.equal(loader.heldBytes, bytes);
  // By shape alone: a head of each per-head tensor (1/H of it), the others whole.
  const byShape = fetched[0]!.reduce((n, r) => {
    const t = tensorOf(gqa, r.stage, r.tensor);
    return n + t.data.byteLength / (r.head === undefined ? 1 : t.shape[0]!);
  }, 0);
  assert.equal(loader.heldBytes, byShape);
});

test('every view of one head drawn from the heads held equals the one from the whole tensors (GQA K/V too)', async () => {
  const { index, loader } = panel(gqa);
  for (const [id, head] of [
    ['L0.weights', 0],
    ['L0.qkv', 5],
    ['L1.scores', 7],
    ['L1.context', 3],
  ] as const) {
    const stage = attentionStage(gqa, id);
    for (const view of ['heatmap', 'lines', 'matrices'] as const) {
      const c: Cursor = { stage, head, view };
      await loader.ensure(index, c);
      assert.ok(sameFigures(index, gqa, c) > 0, `${id} ${view}: figures compared`);
      // The CSV and SVG of the visible matrix.
      const mine = exportTarget(new Store({ trace: index, cursor: c }).state);
      const theirs = exportTarget(new Store({ trace: gqa, cursor: c }).state);
      assert.ok(mine && theirs);
      sameMatrix(mine.matrix, theirs.matrix, `${id} ${view} export`);
      assert.equal(matrixToCsv(mine.matrix), matrixToCsv(theirs.matrix));
      const o = { title: 't', colourMap: 'viridis' as const, fixedRange: { min: 0, max: 1 } };
      assert.equal(heatmapSvg(mine.matrix, o), heatmapSvg(theirs.matrix, o));
    }
    // Other heads were never fetched: the held tensor has only the cursor's (and no data of its own).
    const w = index.stages[stage]!.tensors[0]!;
    if (w.axes[0] === 'head') assert.ok(!isWhole(w) && headsHeld(w).size >= 1);
  }
});

test('the text view, the neuron view and the JSON export of one head equal the whole tensors’', async () => {
  for (const [name, full, id, head] of [
    ['tinystories', gqa, 'L1.weights', 6],
    ['t5 (position bias)', t5, undefined, 1],
  ] as const) {
    const { index, loader } = panel(full);
    const blockOfFull = (trace: Trace): AttentionBlock => {
      const b = id
        ? blockOf(trace, trace.stages[attentionStage(trace, id)]!)!
        : blockOf(trace, trace.stages.find((s) => s.attention?.scoreBias && s.kind === 'normalise')!)!;
      return b;
    };
    const whole = blockOfFull(full);
    const stage = full.stages.indexOf(whole.stages.normalise);
    const mine = blockOfFull(index);
    for (const view of ['text', 'neuron'] as const) await loader.ensure(index, { stage, head, view });
    assert.ok(!isWhole(mine.weights), `${name}: per head`);
    const cubeMine = weightsCube(mine, index)!;
    const cubeFull = weightsCube(whole, full)!;
    for (let row = 0; row < cubeFull.rows; row++)
      assert.deepEqual(textShading(cubeMine, head, row), textShading(cubeFull, head, row), `${name} text row ${row}`);
    const biasOf = (t: Trace, b: AttentionBlock): Stage | undefined =>
      b.info.scoreBias && t.stages.find((s) => s.id === b.info.scoreBias!.stage);
    const srcMine = neuronSource(mine, biasOf(index, mine));
    const srcFull = neuronSource(whole, biasOf(full, whole));
    assert.ok(srcMine.ok && srcFull.ok, `${name}: neuron view available from one head`);
    if (name.startsWith('t5')) assert.ok(srcMine.bias && !isWhole(srcMine.bias), 't5: its bias held per head');
    for (let q = 0; q < whole.queryTokens.length; q++) {
      const key = (q * 5 + 1) % whole.keyTokens.length;
      const a = neuronPair(mine, srcMine, head, q, key);
      assert.deepEqual(a, neuronPair(whole, srcFull, head, q, key), `${name} neuron q${q}`);
      assert.deepEqual(rowMismatch(mine, a), rowMismatch(whole, a));
    }
    // The JSON export saves the head held, its axis labelled with the head's index.
    const j = exportedTensor(mine.weights);
    assert.deepEqual(j.shape, [1, ...whole.weights.shape.slice(1)]);
    assert.deepEqual(j.labels?.head, [String(head)]);
    assert.equal(j.remote, undefined);
    assert.deepEqual(bits(j.data), bits(headData(whole.weights, head)));
    assert.equal(exportedTensor(whole.weights).data, whole.weights.data, 'a whole tensor is saved as it is');
  }
});

test('a what-if’s difference from the model’s own, from one head held, equals the one from the whole tensor', async () => {
  const { index, loader } = panel(gqa);
  const stage = attentionStage(gqa, 'L0.weights');
  const head = 3;
  await loader.ensure(index, { stage, head, view: 'heatmap' });
  for (const name of ['scores', 'weights', 'context'] as const) {
    const stageId = name === 'scores' ? 'L0.scores' : name === 'weights' ? 'L0.weights' : 'L0.context';
    const full = tensorOf(gqa, stageId, name);
    const what = { ...full, data: full.data.map((v, i) => (Number.isFinite(v) ? v * 0.5 + (i % 7) : v)) };
    const a = difference(what, tensorOf(index, stageId, name), 'd', head)!;
    const b = difference(what, full, 'd', head)!;
    sameMatrix(toMatrix(index, a.tensor, head), toMatrix(gqa, b.tensor, head), `${name} difference`);
    assert.throws(() => toMatrix(index, a.tensor, (head + 1) % 8), /not loaded/, 'only the head shown is made');
  }
});

test('readers of every head fail loudly on a tensor held a head at a time; the mean of heads fetches it whole', async () => {
  const { index, loader, fetched } = panel(gqa);
  const stage = attentionStage(gqa, 'L0.weights');
  await loader.ensure(index, { stage, head: 2, view: 'heatmap' });
  const w = index.stages[stage]!.tensors.find((t) => t.name === 'weights')!;
  const block = blockOf(index, index.stages[stage]!)!;
  assert.throws(() => toMatrix(index, w, -1), /not loaded whole \(only head 2\)/);
  assert.throws(() => wholeData(w), /only head 2/);
  assert.throws(() => headData(w, 3), /head 3 of tensor weights is not loaded/);
  const cube = weightsCube(block, index)!;
  assert.throws(() => headLines(cube, new Set([0, 1, 2, 3, 4, 5, 6, 7])), /not loaded/);
  assert.throws(() => textShading(cube, -1, 0), /not loaded/);
  // The mean of heads: every head fetched whole, the heads held alone let go, and the mean is the whole tensor's.
  const before = fetched.length;
  await loader.ensure(index, { stage, head: -1, view: 'heatmap' });
  assert.ok(
    fetched
      .slice(before)
      .flat()
      .every((r) => r.head === undefined),
  );
  assert.ok(isWhole(w) && headsHeld(w).size === 0);
  const full = tensorOf(gqa, 'L0.weights', 'weights');
  const [H, Q, K] = full.shape as [number, number, number];
  assert.deepEqual(bits(toMatrix(index, w, -1).data), bits(headMean(full.data, H, Q, K)));
  sameFigures(index, gqa, { stage, head: -1, view: 'heatmap' });
  assert.equal(
    loader.heldBytes,
    needsOf(index, { stage, head: -1, view: 'heatmap' }).reduce(
      (n, r) => n + tensorOf(gqa, r.stage, r.tensor).data.byteLength,
      0,
    ),
    'whole tensors counted once, no head twice',
  );
});

test('the step view’s rows of one head held equal the whole tensor’s; every head’s rows need them all', async () => {
  const { index, loader } = panel(dates);
  const fullDec = decoderLayerOf(
    dates,
    dates.stages.find((s) => s.attention?.queries === 'output'),
  )!;
  const stage = dates.stages.indexOf(fullDec.cross!.stages.normalise);
  const head = 1;
  await loader.ensure(index, { stage, head, view: 'heatmap' });
  const mineDec = decoderLayerOf(index, index.stages[stage])!;
  assert.ok(!isWhole(mineDec.cross!.weights));
  for (let t = 0; t < fullDec.cross!.weights.shape[1]!; t++) {
    const a = stepRows(index, mineDec.cross!, t, head);
    const b = stepRows(dates, fullDec.cross!, t, head);
    assert.deepEqual([a.heads, a.keyLabels, a.masked, bits(a.data)], [b.heads, b.keyLabels, b.masked, bits(b.data)]);
  }
  assert.throws(() => stepRows(index, mineDec.cross!, 0, head, true), /not loaded/);
});

test('under a tiny budget the panel lets go of every head of the tensors it left, and counts what it keeps', async () => {
  const { index, loader } = panel(gqa, 1);
  const at = (id: string) => attentionStage(gqa, id);
  const c0: Cursor = { stage: at('L0.weights'), head: 1, view: 'heatmap' };
  await loader.ensure(index, c0);
  await loader.ensure(index, { ...c0, head: 2 });
  const w0 = index.stages[c0.stage]!.tensors.find((t) => t.name === 'weights')!;
  // The cursor's own tensors are kept whatever the budget, with every head they hold.
  assert.deepEqual([...headsHeld(w0).keys()].sort(), [1, 2]);
  const held = (c: Cursor): number =>
    needsOf(index, c).reduce((n, r) => {
      const t = tensorOf(index, r.stage, r.tensor);
      return n + t.data.byteLength + [...headsHeld(t).values()].reduce((m, d) => m + d.byteLength, 0);
    }, 0);
  const c1: Cursor = { stage: at('L1.weights'), head: 1, view: 'heatmap' };
  await loader.ensure(index, c1);
  assert.equal(headsHeld(w0).size, 0, 'layer 0 let go');
  assert.ok(!loader.has(w0, 1) && !loader.has(w0, 2));
  assert.equal(w0.data.length, 0);
  assert.throws(() => headData(w0, 1), /not loaded/);
  assert.equal(loader.heldBytes, held(c1), 'only layer 1’s head 1 is held, and counted');
  // Back to layer 0: fetched again, the same numbers.
  await loader.ensure(index, c0);
  sameFigures(index, gqa, c0);
  assert.equal(loader.heldBytes, held(c0));
});
