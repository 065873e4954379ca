// The panel's store and parts in jsdom: a cursor change renders once and rebuilds only the parts
// drawn from what changed; an equal cursor (e.g. from the host) renders nothing and is not echoed.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM, VirtualConsole } from 'jsdom';
import type { Cursor, HostMessage, PersistedState, RunRef, WebviewMessage } from '../../shared/protocol';
import { tensor, type Trace } from '../../shared/trace';
import { makeTrace } from './traceFixture';
import { fetchTensor, traceIndex, type TensorRequest } from '../../shared/lazy';
import { gridThumbnails } from '../../shared/derived';
import { headData, headsHeld } from '../../shared/tensorView';
import type { Store as StoreT, PanelState } from '../../webview/store';
import type { PanelContext } from '../../webview/components/part';

type Modules = {
  store: typeof import('../../webview/store');
  panel: typeof import('../../webview/components/panel');
  host: typeof import('../../webview/host');
  persist: typeof import('../../webview/persist');
  navigate: typeof import('../../webview/navigate');
  tensors: typeof import('../../webview/tensors');
};
let m: Modules;

before(async () => {
  // Silent console: jsdom has no canvas 2-D context, which the figures tolerate (they draw nothing).
  const dom = new JSDOM('<!DOCTYPE html><body><div id="app"></div></body>', { virtualConsole: new VirtualConsole() });
  const g = globalThis as Record<string, unknown>;
  g.window = dom.window;
  g.document = dom.window.document;
  m = {
    store: await import('../../webview/store'),
    panel: await import('../../webview/components/panel'),
    host: await import('../../webview/host'),
    persist: await import('../../webview/persist'),
    navigate: await import('../../webview/navigate'),
    tensors: await import('../../webview/tensors'),
  };
});

function mount(
  trace: Trace,
  cursor: Cursor,
  request: PanelContext['request'] = () => Promise.reject(new Error('no host in this test')),
  standalone = false,
  /** The host's whole trace, when `trace` is its index (big tensors fetched from it). */
  full?: Trace,
  loaderOptions: { budget?: number; wholeUpTo?: number; delayMs?: number } = {},
) {
  const store: StoreT = new m.store.Store({ trace, cursor });
  const root = document.getElementById('app')!;
  const posted: WebviewMessage[] = [];
  const fetched: TensorRequest[][] = [];
  const loader = new m.tensors.TensorLoader(
    {
      tensors: async (want) => {
        fetched.push([...want]);
        if (loaderOptions.delayMs) await new Promise((r) => setTimeout(r, loaderOptions.delayMs));
        return want.map((r) => fetchTensor(full ?? trace, r));
      },
      thumbnails: async (max) => gridThumbnails(full ?? trace, max),
    },
    loaderOptions.budget,
    loaderOptions.wholeUpTo,
  );
  const nav = m.navigate.navigator(store, loader);
  const ctx: PanelContext = {
    store,
    navigate: (c) => nav.go(c, 'panel'),
    tensors: loader,
    standalone,
    request,
    exportAs: () => {},
    width: () => 800,
    theme: () => ({ foreground: '#000', font: 'monospace' }),
    builds: new Map(),
  };
  const panel = m.panel.mountPanel(root, ctx);
  const fromHost = m.host.connectHost(store, nav, {
    post: (msg) => posted.push(msg),
    settle: () => {},
    exportAs: () => {},
    traceKey: () => {},
  });
  let renders = 0;
  store.subscribe(() => renders++);
  const builds = (): Record<string, number> => Object.fromEntries(ctx.builds);
  const q = <E extends Element = HTMLElement>(sel: string): E => root.querySelector<E>(sel)!;
  return { store, root, panel, posted, fromHost, builds, q, renders: () => renders, fetched, loader };
}

const WEIGHTS_L0 = 3; // tokens, embedding, L0.scores, L0.weights, L1.scores, L1.weights

test('a head switch renders once and rebuilds only the figures', () => {
  const p = mount(makeTrace(2, 2, 3), { stage: WEIGHTS_L0, head: 0, view: 'heatmap' });
  const header = p.q('header.model');
  const pipeline = p.q('nav.pipeline');
  const controls = p.q('.controls');
  const canvas = p.q('[data-testid="heatmap-weights"]');
  const before = p.builds();
  p.q<HTMLButtonElement>('[aria-label="Next head"]').click();
  assert.equal(p.renders(), 1);
  assert.equal(p.store.state.cursor.head, 1);
  const after = p.builds();
  assert.equal(after.content, before.content! + 1, 'the figures are redrawn for the new head');
  for (const part of ['header', 'pipeline', 'controls', 'stage-info', 'view-switch', 'export'])
    assert.equal(after[part], before[part], `${part} is not rebuilt by a head switch`);
  assert.equal(p.q('header.model'), header);
  assert.equal(p.q('nav.pipeline'), pipeline);
  assert.equal(p.q('.controls'), controls);
  assert.notEqual(p.q('[data-testid="heatmap-weights"]'), canvas);
  assert.match(p.root.querySelector('figcaption')!.textContent!, /head 1/);
  assert.equal(p.q('[data-testid="head-select"] vscode-option[selected]').getAttribute('value'), '1');
  // The panel's own move goes to the host, once.
  assert.deepEqual(p.posted, [{ type: 'cursor', cursor: p.store.state.cursor }]);
  p.panel.dispose();
});

test('controls that do not apply are hidden: no view tabs or head picker on the tokens stage', () => {
  const p = mount(makeTrace(2, 2, 3), { stage: 0, head: 0, view: 'heatmap' });
  const tabs = p.q('[data-testid="view-switch"]');
  const head = p.q('[data-testid="head-select"]').closest('label')!;
  const next = p.q('[aria-label="Next head"]');
  assert.equal(p.store.state.trace!.stages[0]!.kind, 'tokens');
  assert.ok(tabs.hidden && head.hidden && next.hidden, 'hidden on the tokens stage');
  p.fromHost({ type: 'cursor', cursor: { stage: WEIGHTS_L0, head: 0, view: 'heatmap' } });
  assert.ok(!tabs.hidden && !head.hidden && !next.hidden, 'shown on the attention weights');
  p.panel.dispose();
});

test('the host sending the cursor already shown renders nothing and is not echoed', () => {
  const p = mount(makeTrace(2, 2, 3), { stage: WEIGHTS_L0, head: 0, view: 'heatmap' });
  const canvas = p.q('[data-testid="heatmap-weights"]');
  const before = p.builds();
  p.fromHost({ type: 'cursor', cursor: { stage: WEIGHTS_L0, head: 0, view: 'heatmap' } });
  assert.equal(p.renders(), 0);
  assert.deepEqual(p.builds(), before);
  assert.equal(p.q('[data-testid="heatmap-weights"]'), canvas);
  // A different cursor from the host renders once and is not sent back.
  p.fromHost({ type: 'cursor', cursor: { stage: WEIGHTS_L0 + 2, head: 0, view: 'heatmap' } });
  assert.equal(p.renders(), 1);
  assert.equal(p.q('[data-testid="stage-title"]').textContent, 'Layer 1 weights');
  assert.equal(p.q('[data-testid="stage-position"]').textContent, `${WEIGHTS_L0 + 3} / 6`);
  assert.deepEqual(p.posted, []);
  // Same settings again: nothing.
  const settings = p.store.state.settings;
  p.fromHost({ type: 'settings', settings: { ...settings } } as HostMessage);
  assert.equal(p.renders(), 1);
  p.panel.dispose();
});

test('a stage move in the same phase keeps the header and stage bar; a resize rebuilds nothing', () => {
  const p = mount(makeTrace(2, 2, 3), { stage: WEIGHTS_L0, head: 0, view: 'heatmap' });
  const before = p.builds();
  const current = p.q('.phase.current');
  p.store.dispatch({ type: 'cursor', cursor: { ...p.store.state.cursor, stage: WEIGHTS_L0 + 2 }, from: 'panel' });
  const after = p.builds();
  assert.equal(after.header, before.header);
  assert.equal(after.pipeline, before.pipeline);
  assert.equal(after['stage-info'], before['stage-info']! + 1);
  assert.equal(p.q('.phase.current'), current, 'still the normalise phase, highlighted in place');
  const canvas = p.q('[data-testid="heatmap-weights"]');
  p.panel.resize();
  assert.deepEqual(p.builds(), after);
  assert.equal(p.q('[data-testid="heatmap-weights"]'), canvas);
  // Switching phase moves the highlight without rebuilding the bar.
  p.q<HTMLButtonElement>('nav.pipeline .phase').click();
  assert.equal(p.q('.phase.current').textContent, 'tokens');
  assert.equal(p.builds().pipeline, before.pipeline);
  assert.ok(p.q('[data-testid="tokens"]'));
  p.panel.dispose();
});

test('on a layer’s own stage (its input) the bar shows that layer’s attention steps, none current; a step opens it', () => {
  const base = makeTrace(2, 2, 3);
  const input = {
    id: 'L1.input',
    kind: 'encoder-layer' as const,
    title: 'Layer 1: input',
    formula: 'x',
    explanation: '',
    layer: 1,
    tensors: [],
  };
  const at = base.stages.findIndex((x) => x.layer === 1);
  const trace = { ...base, stages: [...base.stages.slice(0, at), input, ...base.stages.slice(at)] };
  const p = mount(trace, { stage: at, head: 0, view: 'heatmap' });
  const sub = p.q<HTMLElement>('nav.pipeline .steps');
  assert.equal(sub.hidden, false, 'the steps of layer 1 show on its input');
  assert.equal(p.q('nav.pipeline .step.current'), null, 'none is current');
  const weights = [...sub.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.textContent === 'weights')!;
  weights.click();
  const now = p.store.state.trace!.stages[p.store.state.cursor.stage]!;
  assert.equal(now.layer, 1);
  assert.equal(now.kind, 'normalise');
  assert.equal(p.q('nav.pipeline .step.current')!.textContent, 'weights');
  // On the tokens stage (no layer) the steps stay hidden.
  p.q<HTMLButtonElement>('nav.pipeline .phase').click();
  assert.equal(sub.hidden, true);
  p.panel.dispose();
});

test('a new trace renders every part once; the predictions say the k the run computed', () => {
  const base = makeTrace(1, 1, 3);
  const trace: Trace = {
    ...base,
    outputTokens: [{ text: 'a', id: 0, start: -1, end: -1 }],
    stages: [
      ...base.stages,
      {
        id: 'dec0',
        kind: 'decoder-step',
        step: 0,
        title: 'Step 0',
        formula: '',
        explanation: '',
        tensors: [tensor('state', [4], ['d'], new Float32Array(4))],
      },
    ],
    predictions: [
      {
        position: 0,
        top: [
          { text: 'x', id: 1, p: 0.5 },
          { text: 'y', id: 2, p: 0.3 },
          { text: 'z', id: 3, p: 0.2 },
        ],
      },
    ],
  };
  const p = mount(makeTrace(1, 1, 3), { stage: 0, head: 0, view: 'heatmap' });
  const before = p.builds();
  p.fromHost({
    type: 'trace',
    trace,
    key: 1,
    cursor: { stage: 4, head: 0, view: 'heatmap' },
    settings: { ...p.store.state.settings, topK: 9 },
  });
  assert.equal(p.renders(), 1);
  const after = p.builds();
  for (const part of ['header', 'pipeline', 'controls', 'stage-info', 'content', 'predictions'])
    assert.equal(after[part], (before[part] ?? 0) + 1, part);
  assert.match(p.q('[data-testid="predictions"] th:nth-child(2)').textContent!, /^top-3 next tokens$/);
  p.panel.dispose();
});

test('the reducer ignores actions that change nothing', () => {
  const s0: PanelState = { cursor: { stage: 1, head: 0, view: 'lines' }, settings: m.store.DEFAULT_SETTINGS };
  assert.equal(m.store.reduce(s0, { type: 'cursor', cursor: { stage: 1, head: 0, view: 'lines' }, from: 'host' }), s0);
  assert.equal(m.store.reduce(s0, { type: 'settings', settings: { ...m.store.DEFAULT_SETTINGS } }), s0);
  assert.equal(m.store.reduce(s0, { type: 'banner', banner: undefined }), s0);
  const s1 = m.store.reduce(s0, { type: 'banner', banner: { text: 'Saved', kind: 'busy' } });
  assert.notEqual(s1, s0);
  // A cursor move clears the banner of the view it was about.
  assert.equal(
    m.store.reduce(s1, { type: 'cursor', cursor: { stage: 2, head: 0, view: 'lines' }, from: 'panel' }).banner,
    undefined,
  );
});

test('the all-heads grid moves its highlight in place and opens a head full size', () => {
  const p = mount(makeTrace(2, 2, 3), { stage: WEIGHTS_L0, head: 0, view: 'grid' });
  const grid = p.q('[data-testid="heads-grid-self"]');
  assert.match(
    p.q('.grid-cell.current').getAttribute('aria-label')!,
    /^self-attention, layer 0 head 0: mean weight on the first key \d+%$/,
  );
  p.fromHost({ type: 'cursor', cursor: { stage: WEIGHTS_L0 + 2, head: -1, view: 'grid' } });
  assert.equal(p.q('[data-testid="heads-grid-self"]'), grid, 'not rebuilt');
  assert.deepEqual(
    [...p.root.querySelectorAll('.grid-cell.current')].map((e) => e.getAttribute('aria-label')),
    ['self-attention, layer 1 mean of heads'],
  );
  p.root.querySelectorAll<HTMLButtonElement>('[data-testid="heads-grid-self"] button')[1]!.click();
  assert.deepEqual(p.store.state.cursor, { stage: WEIGHTS_L0, head: 1, view: 'heatmap' });
  assert.ok(p.q('[data-testid="heatmap-weights"]'));
  assert.deepEqual(p.posted, [{ type: 'cursor', cursor: { stage: WEIGHTS_L0, head: 1, view: 'heatmap' } }]);
  p.panel.dispose();
});

test('a reload restores the run and the cursor of every move; the state never holds tensors', () => {
  const store = new m.store.Store();
  const saved: PersistedState[] = [];
  const persist = m.persist.persistence(store, { setState: (st) => saved.push(st) }, undefined);
  const trace = makeTrace(1, 1, 3);
  const run: RunRef = { title: 'running toy', request: { modelId: 'toy-self-attention', text: 'a b c' } };
  store.dispatch({ type: 'trace', trace, cursor: { stage: 2, head: 0, view: 'heatmap' } });
  persist.traceShown(run);
  assert.deepEqual(saved.at(-1), { run, cursor: { stage: 2, head: 0, view: 'heatmap' } });
  store.dispatch({ type: 'cursor', cursor: { stage: 3, head: 0, view: 'heatmap' }, from: 'panel' });
  assert.deepEqual(saved.at(-1), { run, cursor: { stage: 3, head: 0, view: 'heatmap' } });
  const n = saved.length;
  store.dispatch({ type: 'cursor', cursor: { stage: 3, head: 0, view: 'heatmap' }, from: 'host' });
  assert.equal(saved.length, n, 'an unchanged cursor is not saved again');
  assert.ok(JSON.stringify(saved).length < 400, 'the saved state is the request and the cursor only');
});

/** makeTrace with a Q/K/V stage before each layer's scores, so what-if has something to recompute from. */
function withQkv(t: Trace): Trace {
  const stages = t.stages.flatMap((s) => {
    if (s.kind !== 'score') return [s];
    const [H, n] = s.tensors[0]!.shape as [number, number];
    const x = (name: string) =>
      tensor(name, [H, n, 2], ['head', 'token', 'd_k'], new Float32Array(H * n * 2).fill(1), {
        tokenAxes: { token: 'input' },
      });
    return [
      {
        ...s,
        id: `L${s.layer}.qkv`,
        kind: 'qkv' as const,
        title: `Layer ${s.layer} Q, K, V`,
        tensors: [x('Q'), x('K'), x('V')],
      },
      s,
    ];
  });
  return { ...t, stages };
}

test('what-if asks for its block, draws the answer, and drops an answer for a trace no longer shown', async () => {
  const trace = withQkv(makeTrace(1, 2, 3));
  const weightsAt = trace.stages.findIndex((s) => s.id === 'L0.weights');
  const asked: unknown[] = [];
  let answer: (v: unknown) => void = () => {};
  const request = ((r: unknown) => {
    asked.push(r);
    return new Promise((res) => (answer = res as (v: unknown) => void));
  }) as PanelContext['request'];
  const p = mount(trace, { stage: weightsAt, head: 0, view: 'heatmap' }, request);
  const w = trace.stages[weightsAt]!.tensors[0]!;
  p.q<HTMLButtonElement>('[data-testid="whatif-sparsemax"]').click();
  assert.deepEqual(asked, [{ kind: 'whatIf', stageId: 'L0.qkv', score: 'scaled-dot', normaliser: 'sparsemax' }]);
  answer({ scores: w, weights: { ...w, data: w.data.map((v) => v / 2) }, context: w });
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(p.q('[data-testid="whatif-sparsemax"]').getAttribute('aria-pressed'), 'true');
  assert.ok(p.q('[data-testid="heatmap-whatif-weights"]'));
  assert.ok(p.q('[data-testid="heatmap-whatif-diff"]'));
  // The result belongs to the block: the scores stage of the same layer shows it too.
  p.store.dispatch({ type: 'cursor', cursor: { stage: weightsAt - 1, head: 0, view: 'heatmap' }, from: 'panel' });
  assert.ok(p.q('[data-testid="heatmap-whatif-weights"]'));
  // An answer that arrives after a new trace is dropped.
  p.q<HTMLButtonElement>('[data-testid="whatif-sigmoid"]').click();
  p.fromHost({
    type: 'trace',
    trace: withQkv(makeTrace(1, 2, 3)),
    key: 2,
    cursor: { stage: weightsAt, head: 0, view: 'heatmap' },
    settings: p.store.state.settings,
  });
  answer({ scores: w, weights: w, context: w });
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(p.store.state.whatIf, undefined);
  assert.equal(p.root.querySelector('[data-testid="heatmap-whatif-weights"]'), null);
  p.panel.dispose();
});

test('a standalone page has no what-if and no export bar (no host to ask)', () => {
  const trace = withQkv(makeTrace(1, 2, 3));
  const p = mount(
    trace,
    { stage: trace.stages.findIndex((s) => s.id === 'L0.weights'), head: 0, view: 'heatmap' },
    undefined,
    true,
  );
  assert.ok(p.q('[data-testid="heatmap-weights"]'));
  assert.equal(p.root.querySelector('[data-testid="whatif"]'), null);
  assert.equal(p.root.querySelector('[data-testid="export-csv"]'), null);
  p.panel.dispose();
});

// ---- a big trace: the panel holds an index and fetches what it shows (webview/tensors.ts) ----

const tick = () => new Promise((r) => setTimeout(r, 0));

test('a big trace: a stage move fetches its block first, then draws the host’s very numbers', async () => {
  const full = withQkv(makeTrace(2, 2, 3));
  const index = traceIndex(full, 0);
  assert.ok(index.stages.every((s) => s.tensors.every((t) => t.remote && t.data.length === 0)));
  const p = mount(index, { stage: 0, head: 0, view: 'heatmap' }, undefined, false, full);
  const weightsAt = full.stages.findIndex((s) => s.id === 'L1.weights');
  p.fromHost({ type: 'cursor', cursor: { stage: weightsAt, head: 1, view: 'heatmap' } });
  assert.equal(p.store.state.cursor.stage, 0, 'not moved before its tensors are here');
  await tick();
  assert.equal(p.store.state.cursor.stage, weightsAt);
  // The whole block (Q/K/V, scores, weights) came in one fetch, whole tensors (it is small).
  assert.deepEqual(
    p.fetched.map((f) => f.map((r) => `${r.stage}/${r.tensor}${r.head === undefined ? '' : `@${r.head}`}`)),
    [['L1.weights/weights', 'L1.qkv/Q', 'L1.qkv/K', 'L1.qkv/V', 'L1.scores/scores']],
  );
  for (const [i, s] of index.stages.entries())
    for (const [j, t] of s.tensors.entries())
      if (s.layer === 1) assert.deepEqual(t.data, full.stages[i]!.tensors[j]!.data, `${s.id}/${t.name}`);
  assert.ok(p.q('[data-testid="heatmap-weights"]'));
  assert.deepEqual(p.posted, [], 'a host move is not echoed');
  p.panel.dispose();
});

test('a big block is fetched one head at a time; the mean of heads fetches them all', async () => {
  const full = withQkv(makeTrace(1, 2, 3));
  const p = mount(traceIndex(full, 0), { stage: 0, head: 0, view: 'heatmap' }, undefined, false, full, {
    wholeUpTo: 0,
  });
  const at = full.stages.findIndex((s) => s.id === 'L0.weights');
  const asked = () => p.fetched.at(-1)!.map((r) => `${r.tensor}@${r.head ?? 'all'}`);
  p.fromHost({ type: 'cursor', cursor: { stage: at, head: 1, view: 'heatmap' } });
  await tick();
  const names = (i: number) => p.fetched[i]!.map((r) => `${r.tensor}@${r.head ?? 'all'}`);
  assert.deepEqual(names(0), ['weights@1', 'Q@1', 'K@1', 'V@1', 'scores@1']);
  const w = p.store.state.trace!.stages[at]!.tensors[0]!;
  const n = 9;
  assert.deepEqual(headData(w, 1), full.stages[at]!.tensors[0]!.data.subarray(n, 2 * n));
  assert.equal(w.data.length, 0, 'no full-size array for one head');
  assert.ok(p.loader.has(w, 1) && !p.loader.has(w));
  // Once head 1 is on screen, its neighbour (head 0; there is no head 2) comes in the background.
  assert.deepEqual(names(1), ['weights@0', 'Q@0', 'K@0', 'V@0', 'scores@0']);
  assert.equal(p.fetched.length, 2);
  assert.ok(p.loader.has(w, 0));
  assert.deepEqual(headData(w, 0), full.stages[at]!.tensors[0]!.data.subarray(0, n));
  // One head of weights and scores (3 × 3) and of Q, K, V (3 × 2 each), twice: the heads held, in bytes.
  const perHead = (2 * n + 3 * 6) * 4;
  assert.equal(p.loader.heldBytes, 2 * perHead);
  // Head 0, and head 1 again: nothing to fetch, so the moves render at once.
  const count = p.fetched.length;
  p.fromHost({ type: 'cursor', cursor: { stage: at, head: 0, view: 'heatmap' } });
  assert.equal(p.store.state.cursor.head, 0);
  p.fromHost({ type: 'cursor', cursor: { stage: at, head: 1, view: 'lines' } });
  assert.equal(p.fetched.length, count);
  assert.equal(p.store.state.cursor.view, 'lines');
  p.fromHost({ type: 'cursor', cursor: { stage: at, head: -1, view: 'heatmap' } });
  await tick();
  assert.deepEqual(asked(), ['weights@all', 'Q@all', 'K@all', 'V@all', 'scores@all']);
  assert.deepEqual(w.data, full.stages[at]!.tensors[0]!.data);
  assert.equal(headsHeld(w).size, 0, 'the heads held alone are let go once the tensor is whole');
  assert.equal(p.loader.heldBytes, 2 * perHead);
  p.panel.dispose();
});

test('a move to a head still being prefetched waits for that fetch instead of asking again', async () => {
  const full = withQkv(makeTrace(1, 3, 3));
  const p = mount(traceIndex(full, 0), { stage: 0, head: 0, view: 'heatmap' }, undefined, false, full, {
    wholeUpTo: 0,
    delayMs: 30,
  });
  const at = full.stages.findIndex((s) => s.id === 'L0.weights');
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  p.fromHost({ type: 'cursor', cursor: { stage: at, head: 1, view: 'heatmap' } });
  await wait(45);
  assert.equal(p.store.state.cursor.head, 1);
  // Head 2 was asked for as head 1 was drawn, and is still on its way (head 0 waits its turn).
  const heads = () => p.fetched.map((f) => [...new Set(f.map((r) => r.head))].join());
  assert.deepEqual(heads(), ['1', '2']);
  const w = p.store.state.trace!.stages[at]!.tensors[0]!;
  assert.ok(!p.loader.has(w, 2));
  p.fromHost({ type: 'cursor', cursor: { stage: at, head: 2, view: 'heatmap' } });
  assert.equal(p.store.state.cursor.head, 1, 'not moved before head 2 is here');
  await wait(45);
  assert.equal(p.store.state.cursor.head, 2);
  assert.equal(p.fetched.filter((f) => f.some((r) => r.head === 2)).length, 1, 'head 2 was not asked for twice');
  await wait(45);
  // The move to head 2 ended head 1's guesses: head 0 (beside head 1, not head 2) was never asked for.
  assert.deepEqual(heads(), ['1', '2']);
  const host = full.stages[at]!.tensors[0]!;
  for (const hd of [1, 2]) assert.deepEqual(headData(w, hd), headData(host, hd), `head ${hd} is the host’s`);
  p.panel.dispose();
});

test('after a head is drawn, the same head of the next layer comes in the background; not past the last layer', async () => {
  const full = withQkv(makeTrace(2, 1, 3));
  const p = mount(traceIndex(full, 0), { stage: 0, head: 0, view: 'heatmap' }, undefined, false, full, {
    wholeUpTo: 0,
  });
  const at = (id: string) => full.stages.findIndex((s) => s.id === id);
  const asked = () => p.fetched.map((f) => [...new Set(f.map((r) => `${r.stage}@${r.head}`))].join());
  p.fromHost({ type: 'cursor', cursor: { stage: at('L0.weights'), head: 0, view: 'heatmap' } });
  await tick();
  assert.deepEqual(asked(), ['L0.weights@0,L0.qkv@0,L0.scores@0', 'L1.weights@0,L1.qkv@0,L1.scores@0']);
  const w1 = p.store.state.trace!.stages[at('L1.weights')]!.tensors[0]!;
  assert.ok(p.loader.has(w1, 0));
  p.fromHost({ type: 'cursor', cursor: { stage: at('L1.weights'), head: 0, view: 'heatmap' } });
  assert.equal(p.store.state.cursor.stage, at('L1.weights'), 'drawn at once');
  await tick();
  assert.equal(p.fetched.length, 2, 'the last layer does not wrap round to layer 0');
  p.panel.dispose();
});

test('under a small budget the panel lets go of blocks it left, and fetches them again on return', async () => {
  const full = withQkv(makeTrace(2, 2, 3));
  const p = mount(traceIndex(full, 0), { stage: 0, head: 0, view: 'heatmap' }, undefined, false, full, {
    budget: 1,
  });
  const at = (id: string) => full.stages.findIndex((s) => s.id === id);
  p.fromHost({ type: 'cursor', cursor: { stage: at('L0.weights'), head: 0, view: 'heatmap' } });
  await tick();
  const w0 = p.store.state.trace!.stages[at('L0.weights')]!.tensors[0]!;
  assert.ok(p.loader.has(w0));
  p.fromHost({ type: 'cursor', cursor: { stage: at('L1.weights'), head: 0, view: 'heatmap' } });
  await tick();
  assert.equal(p.store.state.cursor.stage, at('L1.weights'));
  assert.ok(!p.loader.has(w0), 'layer 0 was let go');
  assert.equal(w0.data.length, 0);
  assert.ok(p.loader.heldBytes > 0, 'the cursor’s own block is kept, whatever the budget');
  p.fromHost({ type: 'cursor', cursor: { stage: at('L0.weights'), head: 0, view: 'heatmap' } });
  await tick();
  assert.deepEqual(w0.data, full.stages[at('L0.weights')]!.tensors[0]!.data);
  assert.equal(p.fetched.length, 3);
  p.panel.dispose();
});

test('the grid of a big trace comes pooled from the host; a failed fetch says why and keeps the view', async () => {
  const full = withQkv(makeTrace(2, 2, 3));
  const p = mount(traceIndex(full, 0), { stage: 0, head: 0, view: 'heatmap' }, undefined, false, full);
  p.fromHost({ type: 'cursor', cursor: { stage: 3, head: 0, view: 'grid' } });
  await tick();
  assert.equal(p.root.querySelectorAll('[data-testid="heads-grid-self"] button').length, 2 * 3);
  assert.equal(p.fetched.length, 0, 'thumbnails, not tensors');
  // A stage the host no longer has (its run was replaced): the error is shown, the cursor stays.
  const broken = mount(traceIndex(full, 0), { stage: 0, head: 0, view: 'heatmap' }, undefined, false, makeTrace(1));
  broken.fromHost({ type: 'cursor', cursor: { stage: 6, head: 0, view: 'heatmap' } });
  await tick();
  assert.equal(broken.store.state.cursor.stage, 0);
  assert.equal(broken.store.state.banner?.kind, 'error');
  assert.match(broken.store.state.banner!.text, /Could not load “Layer 1 scores” \(head 0\): .*no stage "L1\.\w+"/);
  p.panel.dispose();
  broken.panel.dispose();
});
