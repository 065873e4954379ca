// The what-if box with hard and local attention, in jsdom, answered by the real what-if maths
// (src/model/attention/whatif.ts) in process: what each control asks for, and what is drawn back.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM, VirtualConsole } from 'jsdom';
import type { Cursor, Request } from '../../shared/protocol';
import { findTensor, tensor, type Trace } from '../../shared/trace';
import { makeTrace } from './traceFixture';
import type { Store as StoreT } from '../../webview/store';
import type { PanelContext } from '../../webview/components/part';
import { wholeTraceContext } from './panelContext';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { recompute } from '../../src/model/attention/whatif';

type Modules = {
  store: typeof import('../../webview/store');
  panel: typeof import('../../webview/components/panel');
};
let m: Modules;

before(async () => {
  const dom = new JSDOM('<!DOCTYPE html><body><div id="app"></div></body>', { virtualConsole: new VirtualConsole() });
  const g = globalThis as Record<string, unknown>;
  g.window = dom.window;
  g.document = dom.window.document;
  m = { store: await import('../../webview/store'), panel: await import('../../webview/components/panel') };
  await initBackend();
});

/** makeTrace with a Q/K/V stage before each layer's scores; Q = K = 1, so every allowed score ties. */
function withQkv(t: Trace): Trace {
  const stages = t.stages.flatMap((s) => {
    if (s.kind !== 'score') return [s];
    const [H, n] = s.tensors[0]!.shape as [number, number];
    const x = (name: string, f: (i: number) => number) =>
      tensor(
        name,
        [H, n, 2],
        ['head', 'token', 'd_k'],
        new Float32Array(H * n * 2).map((_, i) => f(i)),
        {
          tokenAxes: { token: 'input' },
        },
      );
    return [
      {
        ...s,
        id: `L${s.layer}.qkv`,
        kind: 'qkv' as const,
        title: `Layer ${s.layer} Q, K, V`,
        tensors: [x('Q', () => 1), x('K', () => 1), x('V', (i) => i)],
      },
      s,
    ];
  });
  return { ...t, stages };
}

async function mount(trace: Trace, cursor: Cursor) {
  const asked: Request[] = [];
  const qkv = trace.stages.find((s) => s.kind === 'qkv')!;
  const request = (async (r: Request) => {
    asked.push(r);
    if (r.kind !== 'whatIf') throw new Error('only what-if here');
    const [Q, K, V] = (['Q', 'K', 'V'] as const).map((n) => findTensor(qkv, n)!);
    return recompute({ Q: Q!, K: K!, V: V!, causal: true }, r.score, r.normaliser, {
      ...(r.local ? { local: r.local } : {}),
      ...(r.seed !== undefined ? { seed: r.seed } : {}),
    });
  }) as PanelContext['request'];
  const store: StoreT = new m.store.Store({ trace, cursor });
  const root = document.getElementById('app')!;
  const ctx = await wholeTraceContext(store, request);
  const panel = m.panel.mountPanel(root, ctx);
  const q = <E extends Element = HTMLElement>(sel: string): E => root.querySelector<E>(sel)!;
  const lastWhatIf = (): Request & { kind: 'whatIf' } => {
    const r = asked.at(-1)!;
    assert.equal(r.kind, 'whatIf');
    return r as Request & { kind: 'whatIf' };
  };
  const caption = (id: string): string =>
    root.querySelector(`[data-testid="heatmap-${id}"]`)?.closest('figure')?.querySelector('figcaption')?.textContent ??
    '';
  return { store, root, panel, q, asked, caption, lastWhatIf };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

test('hardmax, local-m, Gaussian, D and sampled: each control asks for its window and seed, and every figure is labelled', async () => {
  const trace = withQkv(makeTrace(1, 2, 3));
  const at = trace.stages.findIndex((s) => s.id === 'L0.weights');
  const before = tf.memory().numTensors;
  const p = await mount(trace, { stage: at, head: 0, view: 'heatmap' });
  // The toy trace has no W_p, v_p: local-p is offered disabled, saying why.
  assert.equal(p.q<HTMLButtonElement>('[data-testid="whatif-local-p"]').disabled, true);
  assert.match(p.q('[data-testid="whatif-local-p"]').title, /needs Luong’s trained W_p and v_p/);

  p.q<HTMLButtonElement>('[data-testid="whatif-hardmax"]').click();
  await settle();
  assert.deepEqual(p.asked.at(-1), { kind: 'whatIf', stageId: 'L0.qkv', score: 'scaled-dot', normaliser: 'hardmax' });
  // All scores tie: hardmax splits each causal row evenly, exactly the trace's own 1/(q+1) weights.
  const w = p.store.state.whatIf!.result.weights.data;
  assert.deepEqual(Array.from(w.subarray(0, 9)), [1, 0, 0, 0.5, 0.5, 0, 1 / 3, 1 / 3, 1 / 3].map(Math.fround));
  // makeTrace records no context of its own: no context difference, and the box says so.
  assert.equal(p.root.querySelector('[data-testid="heatmap-whatif-diff-context"]'), null);
  assert.match(p.q('[data-testid="whatif-no-diff"]').textContent!, /^No difference for context/);
  for (const id of ['whatif-scores', 'whatif-weights', 'whatif-context', 'whatif-diff-scores', 'whatif-diff'])
    assert.ok(p.q(`[data-testid="heatmap-${id}"]`), id);
  assert.match(p.caption('whatif-weights'), /^what-if weights α \(scaled-dot \+ hardmax\)/);
  assert.match(p.caption('whatif-diff'), /^what-if − model: weights/);
  assert.match(
    p.q('[data-testid="heatmap-whatif-diff-scores"]').getAttribute('data-legend')!,
    /^Δ score \(what-if − model\)/,
  );
  assert.match(p.q('[data-testid="whatif-hard-note"]').textContent!, /gradient is 0 almost everywhere/);

  p.q<HTMLButtonElement>('[data-testid="whatif-local-m"]').click();
  await settle();
  assert.deepEqual(p.asked.at(-1), {
    kind: 'whatIf',
    stageId: 'L0.qkv',
    score: 'scaled-dot',
    normaliser: 'hardmax',
    local: { alignment: 'monotonic', D: 2, gaussian: false },
  });
  assert.equal(p.q('[data-testid="whatif-local-m"]').getAttribute('aria-pressed'), 'true');
  assert.match(p.caption('whatif-weights'), /hardmax, local-m, D = 2\)/);
  assert.deepEqual(Array.from(p.store.state.whatIf!.result.windowMask!.data), [1, 0, 0, 1, 1, 0, 1, 1, 1]);

  const d = p.q<HTMLInputElement>('[data-testid="whatif-window-d"]');
  d.value = '1';
  d.dispatchEvent(new window.Event('change'));
  await settle();
  assert.deepEqual(p.lastWhatIf().local, {
    alignment: 'monotonic',
    D: 1,
    gaussian: false,
  });
  // Query 2 may now see keys 1 and 2 only: the tie is split over two.
  assert.deepEqual(Array.from(p.store.state.whatIf!.result.weights.data.subarray(6, 9)), [0, 0.5, 0.5]);
  // A D that is not an integer ≥ 1 is refused in the box itself: no request.
  const n = p.asked.length;
  const d2 = p.q<HTMLInputElement>('[data-testid="whatif-window-d"]');
  d2.value = '0';
  d2.dispatchEvent(new window.Event('change'));
  await settle();
  assert.equal(p.asked.length, n);
  assert.equal(d2.value, '1');

  const g = p.q<HTMLInputElement>('[data-testid="whatif-gaussian"]');
  g.checked = true;
  g.dispatchEvent(new window.Event('change'));
  await settle();
  assert.match(p.caption('whatif-weights'), /local-m, D = 1, Gaussian σ = 0.5\)/);
  // Query 2: 0.5·exp(−1/(2·0.25)) at key 1, 0.5 at key 2, not renormalised.
  const row2 = Array.from(p.store.state.whatIf!.result.weights.data.subarray(6, 9));
  assert.ok(Math.abs(row2[1]! - 0.5 * Math.exp(-2)) < 1e-7 && row2[2] === 0.5, `${row2}`);
  assert.match(p.q('[data-testid="whatif-window-note"]').textContent!, /not renormalised/);

  p.q<HTMLButtonElement>('[data-testid="whatif-global"]').click();
  await settle();
  p.q<HTMLButtonElement>('[data-testid="whatif-sampled"]').click();
  await settle();
  assert.deepEqual(p.asked.at(-1), {
    kind: 'whatIf',
    stageId: 'L0.qkv',
    score: 'scaled-dot',
    normaliser: 'sampled',
    seed: 1,
  });
  assert.match(
    p.q('[data-testid="whatif-sampled-keys"]').textContent!,
    /^Sampled keys \(seed 1, head 0\): The \(#0\) → The \(#0\), cat \(#1\) → /,
  );
  assert.match(p.caption('whatif-weights'), /sampled, seed 1\)/);
  const seed = p.q<HTMLInputElement>('[data-testid="whatif-seed"]');
  seed.value = '77';
  seed.dispatchEvent(new window.Event('change'));
  await settle();
  assert.equal(p.lastWhatIf().seed, 77);
  assert.match(p.q('[data-testid="whatif-sampled-keys"]').textContent!, /seed 77/);
  assert.equal(tf.memory().numTensors, before, 'what-if leaked tensors');
  p.panel.dispose();
});
