// The panel's index of a trace (shared/lazy.ts) on real runs of every built-in kind: every tensor
// it leaves with the host comes back bit for bit, whole or head by head; what a cursor needs is
// exactly the remote tensors of the stages its view draws; the grid's pooled thumbnails are the
// block means of the weights.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { EMPTY, embeddable, fetchTensor, needsOf, stagesShown, traceIndex, INLINE_BYTES } from '../../shared/lazy';
import { gridThumbnails, selfAttentionBlocks } from '../../shared/derived';
import { headCount } from '../../shared/tensorView';
import { tensor, type Trace } from '../../shared/trace';
import { makeTrace } from './traceFixture';
import { packGrid, traceFromJson, traceToJson } from '../../shared/codec';

const RUNS: readonly [string, string][] = [
  ['tinystories-656k', 'Once upon a time there was a little cat.'],
  ['english-encoder', 'the cat sat on the mat'],
  ['dates-transformer', '23 November 2026'],
  ['seq2seq-dates-additive', 'Nov 23, 2026'],
  ['toy-self-attention', 'The cat sat on the mat.'],
];
const traces = new Map<string, Trace>();

before(async () => {
  await initBackend();
  for (const [id, text] of RUNS) {
    const model = await getModel(id);
    const n = tf.memory().numTensors;
    traces.set(id, await model.run(text));
    assert.equal(tf.memory().numTensors, n, `${id} disposed what it made`);
  }
});

test('every tensor left with the host comes back bit for bit, whole and head by head', () => {
  for (const [id, trace] of traces) {
    const index = traceIndex(trace, 0);
    assert.equal(index.stages.length, trace.stages.length);
    for (const [i, s] of trace.stages.entries()) {
      const is = index.stages[i]!;
      assert.deepEqual({ ...is, tensors: [] }, { ...s, tensors: [] }, `${id} ${s.id}: the stage itself travels`);
      for (const [j, t] of s.tensors.entries()) {
        const it = is.tensors[j]!;
        assert.equal(it.data, EMPTY);
        assert.deepEqual([it.shape, it.axes, it.name], [t.shape, t.axes, t.name]);
        const whole = fetchTensor(trace, { stage: s.id, tensor: t.name });
        assert.deepEqual(new Uint32Array(whole.data.buffer), new Uint32Array(t.data.buffer), `${id} ${s.id}/${t.name}`);
        const H = headCount(t);
        if (H === 0) continue;
        const heads = Array.from({ length: H }, (_, h) => fetchTensor(trace, { stage: s.id, tensor: t.name, head: h }));
        assert.deepEqual(heads[0]!.shape, t.shape.slice(1));
        const joined = new Float32Array(t.data.length);
        heads.forEach((x, h) => joined.set(x.data, h * x.data.length));
        assert.deepEqual(
          new Uint32Array(joined.buffer),
          new Uint32Array(t.data.buffer),
          `${id} ${s.id}/${t.name} by head`,
        );
      }
    }
  }
});

test('a small trace travels whole; past the inline size only the big tensors stay behind', () => {
  const trace = traces.get('tinystories-656k')!;
  assert.equal(traceIndex(trace), trace, 'nothing here is bigger than the inline size');
  const cut = 2_000;
  const index = traceIndex(trace, cut);
  for (const [i, s] of trace.stages.entries())
    for (const [j, t] of s.tensors.entries()) {
      const it = index.stages[i]!.tensors[j]!;
      if (t.data.byteLength <= cut) assert.equal(it, t);
      else assert.equal(it.remote, true);
    }
  assert.ok(INLINE_BYTES >= 64 * 1024);
});

test('a cursor needs the remote tensors of its stage and its attention block, and nothing else', () => {
  for (const [id, trace] of traces) {
    const index = traceIndex(trace, 0);
    for (const [i, s] of index.stages.entries()) {
      const shown = stagesShown(index, { stage: i, head: 0, view: 'heatmap' });
      assert.equal(shown[0], s);
      const want = needsOf(index, { stage: i, head: 0, view: 'heatmap' });
      assert.deepEqual(
        want.map((r) => `${r.stage}/${r.tensor}`).sort(),
        shown.flatMap((x) => x.tensors.map((t) => `${x.id}/${t.name}`)).sort(),
        `${id} ${s.id}`,
      );
      // Past the whole-block size, one head each; a grouped-query K/V names the shared head.
      const perHead = needsOf(index, { stage: i, head: 1, view: 'heatmap' }, 0);
      for (const r of perHead) {
        const st = index.stages.find((x) => x.id === r.stage)!;
        const t = st.tensors.find((x) => x.name === r.tensor)!;
        if (headCount(t) === 0 || t.shape.length !== 3) assert.equal(r.head, undefined);
        else if (t.axes[0] === 'kv_head')
          assert.equal(r.head, st.attention?.kvHeadOf?.[1] ?? Math.min(1, t.shape[0]! - 1));
        else assert.equal(r.head, Math.min(1, t.shape[0]! - 1));
      }
      assert.deepEqual(needsOf(index, { stage: i, head: 0, view: 'grid' }), []);
    }
  }
});

test('grid thumbnails: one per head and layer, each cell the mean of its block of weights; sinks measured', () => {
  const trace = traces.get('english-encoder')!;
  const g = gridThumbnails(trace, 4);
  const blocks = selfAttentionBlocks(trace);
  assert.deepEqual(
    g.sections.map((s) => s.kind),
    ['self'],
  );
  const sec = g.sections[0]!;
  assert.equal(sec.rows.length, blocks.length);
  const [H, Q, K] = blocks[0]!.weights.shape as [number, number, number];
  assert.equal(sec.rows[0]!.heads.length, H);
  const fr = Math.ceil(Q / 4);
  const fc = Math.ceil(K / 4);
  assert.deepEqual(sec.pool, { rows: fr, cols: fc });
  const t = sec.rows[0]!.heads[1]!;
  const w = blocks[0]!.weights.data.subarray(Q * K, 2 * Q * K);
  let sum = 0;
  let n = 0;
  for (let r = 0; r < Math.min(fr, Q); r++)
    for (let c = 0; c < Math.min(fc, K); c++) {
      sum += w[r * K + c]!;
      n++;
    }
  assert.ok(Math.abs(t.data[0]! - sum / n) < 1e-6);
  // The share on the first key ([CLS]) and on the special keys ([CLS], [SEP]), by head.
  const special = blocks[0]!.keyTokens.flatMap((tok, j) => (tok.special ? [j] : []));
  assert.ok(special.length >= 2, 'the encoder adds [CLS] and [SEP]');
  let first = 0;
  let spec = 0;
  for (let q = 0; q < Q; q++) {
    first += w[q * K]!;
    for (const j of special) spec += w[q * K + j]!;
  }
  assert.ok(Math.abs(sec.rows[0]!.first[1]! - first / Q) < 1e-6);
  assert.ok(Math.abs(sec.rows[0]!.special![1]! - spec / Q) < 1e-6);
  assert.ok(g.rollout && g.rollout.rows === Q, 'rollout at full size at this length');
});

test('the grid travels to the panel in one buffer: the same thumbnails, each a view of it', () => {
  const g = gridThumbnails(traces.get('dates-transformer')!, 8);
  const packed = packGrid(g);
  assert.deepEqual(packed, g);
  const thumbs = packed.sections.flatMap((s) =>
    s.rows.flatMap((r) => [...r.heads, r.mean, ...(r.norms ? [...r.norms.heads, r.norms.mean] : [])]),
  );
  assert.ok(thumbs.length > 20);
  assert.equal(new Set([...thumbs, ...(packed.rollout ? [packed.rollout] : [])].map((t) => t.data.buffer)).size, 1);
});

test('the grid of an encoder–decoder has its encoder self-, decoder self- and cross-attention, each labelled', () => {
  const g = gridThumbnails(traces.get('dates-transformer')!, 72);
  assert.deepEqual(
    g.sections.map((s) => [s.kind, s.title]),
    [
      ['encoder-self', 'encoder self-attention'],
      ['decoder-self', 'decoder masked self-attention'],
      ['cross', 'cross-attention (output → input)'],
    ],
  );
  const trace = traces.get('dates-transformer')!;
  const cross = g.sections[2]!;
  assert.deepEqual(cross.size, { rows: trace.outputTokens!.length, cols: trace.tokens.length });
});

test('a standalone page past its size embeds the stage shown whole and says what it left out', () => {
  const trace = traces.get('dates-transformer')!;
  assert.equal(embeddable(trace, { stage: 0, head: 0, view: 'heatmap' }), trace, 'small: whole');
  const at = trace.stages.findIndex((s) => s.kind === 'normalise');
  const page = traceFromJson(
    JSON.parse(JSON.stringify(traceToJson(embeddable(trace, { stage: at, head: 0, view: 'heatmap' }, 0)))),
  );
  const kept = new Set(stagesShown(trace, { stage: at, head: 0, view: 'heatmap' }).map((s) => s.id));
  for (const [i, s] of page.stages.entries())
    for (const [j, t] of s.tensors.entries()) {
      const orig = trace.stages[i]!.tensors[j]!;
      if (kept.has(s.id) || orig.data.byteLength <= INLINE_BYTES)
        assert.deepEqual(t.data, orig.data, `${s.id}/${t.name}`);
      else assert.ok(t.remote && t.data.length === 0);
    }
  assert.match(
    page.warnings.at(-1)!,
    /This page embeds the tensors of “.+” and every tensor up to 256 KB; the run's \d+ KB of tensors/,
  );
});

test('packTrace: every tensor a view into one buffer, shared data kept shared, values unchanged', async () => {
  const { packTrace } = await import('../../shared/codec');
  const shared = Float32Array.from([1, 2, 3, 4]);
  const base = makeTrace();
  const trace = {
    ...base,
    stages: [
      ...base.stages,
      {
        id: 'x',
        kind: 'output' as const,
        title: 'x',
        formula: '',
        explanation: '',
        tensors: [tensor('a', [4], ['d'], shared)],
      },
      {
        id: 'y',
        kind: 'output' as const,
        title: 'y',
        formula: '',
        explanation: '',
        tensors: [tensor('b', [2, 2], ['r', 'c'], shared)],
      },
    ],
  };
  const packed = packTrace(trace);
  const all = packed.stages.flatMap((s) => s.tensors);
  assert.equal(new Set(all.map((t) => t.data.buffer)).size, 1, 'one buffer');
  const before = trace.stages.flatMap((s) => s.tensors);
  all.forEach((t, i) => assert.deepEqual([...t.data], [...before[i]!.data], `${t.name} unchanged`));
  const [a, b] = packed.stages.slice(-2).map((s) => s.tensors[0]!);
  assert.equal(a!.data.byteOffset, b!.data.byteOffset, 'shared data is stored once');
});
