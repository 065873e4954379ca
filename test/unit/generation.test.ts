// Continue's pure parts (shared/generation.ts): the checks the form and the host apply, with their
// exact messages; the cursor a generated token's click moves to (the row of the query that chose
// it); and the strip in the panel (jsdom): probabilities, alternatives, the click, the focus note.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM, VirtualConsole } from 'jsdom';
import {
  checkContinue,
  choosingRow,
  decodingText,
  generatedTokenCursor,
  parseContinueForm,
  percentText,
} from '../../shared/generation';
import type { Trace } from '../../shared/trace';
import { makeTrace } from './traceFixture';
import { continuedTrace } from './continuedFixture';
import type { PanelContext } from '../../webview/components/part';
import { wholeTraceContext } from './panelContext';

test('checkContinue: greedy, sampling, and each bad field named with what it must be', () => {
  assert.deepEqual(checkContinue({ tokens: 3 }), { tokens: 3 });
  assert.deepEqual(
    checkContinue({ tokens: '5', sampling: { temperature: '0.7', topK: '40', topP: '0.9', seed: '1' } }),
    {
      tokens: 5,
      sampling: { temperature: 0.7, topK: 40, topP: 0.9, seed: 1 },
    },
  );
  const bad = (x: Parameters<typeof checkContinue>[0], message: string) =>
    assert.throws(() => checkContinue(x), { message });
  bad({ tokens: 0 }, 'Tokens must be a whole number from 1 to 64, not 0.');
  bad({ tokens: 65 }, 'Tokens must be a whole number from 1 to 64, not 65.');
  bad({ tokens: 2.5 }, 'Tokens must be a whole number from 1 to 64, not 2.5.');
  bad({ tokens: '' }, 'Tokens must be a whole number from 1 to 64, not "".');
  const s = { temperature: 1, topK: 0, topP: 1, seed: 0 };
  bad({ tokens: 1, sampling: { ...s, temperature: 0 } }, 'Temperature must be a number above 0 (at most 100), not 0.');
  bad({ tokens: 1, sampling: { ...s, topK: -1 } }, 'Top-k must be a whole number ≥ 0 (0: no limit), not -1.');
  bad({ tokens: 1, sampling: { ...s, topP: 1.5 } }, 'Top-p must be a number in (0, 1] (1: no limit), not 1.5.');
  bad(
    { tokens: 1, sampling: { ...s, seed: 2 ** 32 } },
    'Seed must be a whole number from 0 to 4294967295, not 4294967296.',
  );
  bad({ tokens: 1, sampling: null }, 'Sampling must be an object or absent (greedy).');
});

test('the form: greedy ignores the sampling fields; sampling reports the first bad one', () => {
  const form = { tokens: '3', mode: 'greedy', temperature: 'x', topK: '', topP: '2', seed: '-1' } as const;
  assert.deepEqual(parseContinueForm(form), { settings: { tokens: 3 } });
  assert.deepEqual(parseContinueForm({ ...form, mode: 'sampling' }), {
    error: 'Temperature must be a number above 0 (at most 100), not "x".',
  });
  const ok = parseContinueForm({
    tokens: '2',
    mode: 'sampling',
    temperature: '0.8',
    topK: '40',
    topP: '0.9',
    seed: '7',
  });
  assert.ok('settings' in ok);
  assert.equal(decodingText(ok.settings), 'sampling: temperature 0.8, top-k 40, top-p 0.9, seed 7');
  assert.equal(
    decodingText({ tokens: 1, sampling: { temperature: 1, topK: 0, topP: 1, seed: 0 } }),
    'sampling: temperature 1, seed 0',
  );
  assert.equal(decodingText({ tokens: 1 }), 'greedy');
  assert.equal(percentText(0.3779), '37.8%');
  assert.equal(percentText(0.00028), '0.028%');
});

test('a generated token’s cursor: the row of the query that chose it, on an attention stage', () => {
  const t = continuedTrace();
  const L1weights = t.stages.findIndex((s) => s.id === 'L1.weights');
  const L0scores = t.stages.findIndex((s) => s.id === 'L0.scores');
  assert.equal(choosingRow(2), 1);
  // From Tokens (no attention): the last layer's weights, heatmap.
  assert.deepEqual(generatedTokenCursor(t, { stage: 0, head: 1, view: 'grid' }, 2), {
    stage: L1weights,
    head: 1,
    view: 'heatmap',
    row: 1,
  });
  // On an attention stage it stays there; the head view keeps its view.
  assert.deepEqual(generatedTokenCursor(t, { stage: L0scores, head: -1, view: 'lines' }, 2), {
    stage: L0scores,
    head: -1,
    view: 'lines',
    row: 1,
  });
});

let m: {
  store: typeof import('../../webview/store');
  panel: typeof import('../../webview/components/panel');
};
before(async () => {
  const dom = new JSDOM('<!DOCTYPE html><body><div id="app"></div></body>', { virtualConsole: new VirtualConsole() });
  const g = globalThis as Record<string, unknown>;
  g.window = dom.window;
  g.document = dom.window.document;
  m = {
    store: await import('../../webview/store'),
    panel: await import('../../webview/components/panel'),
  };
});

async function mount(trace: Trace, request: PanelContext['request'], standalone = false) {
  const store = new m.store.Store({ trace, cursor: { stage: 0, head: 0, view: 'heatmap' } });
  const root = document.getElementById('app')!;
  const ctx = await wholeTraceContext(store, request, standalone);
  const panel = m.panel.mountPanel(root, ctx);
  return { store, root, panel, q: <E extends Element = HTMLElement>(sel: string) => root.querySelector<E>(sel) };
}

test('the strip: each token with its probability and alternatives; a click focuses the choosing row, outlined', async () => {
  const asked: unknown[] = [];
  const p = await mount(continuedTrace(), async (r) => {
    asked.push(r);
    return { generated: 1 } as never;
  });
  assert.equal(p.q('[data-testid="gen-text"]')!.textContent, 'sat');
  assert.equal(p.q('[data-testid="gen-p"]')!.textContent, '50.0%');
  assert.deepEqual(
    [...p.root.querySelectorAll('.gen-alt')].map((e) => e.textContent),
    ['sat 50.0%', 'cat 0.040%'],
  );
  assert.equal(p.q('.gen-alt.chosen')!.textContent, 'sat 50.0%');
  assert.equal(p.root.querySelectorAll('.token.generated').length, 1, 'the tokens stage marks it');
  p.q<HTMLButtonElement>('[data-testid="gen-token"]')!.click();
  const c = p.store.state.cursor;
  assert.deepEqual(
    [c.stage, c.row, c.view],
    [continuedTrace().stages.findIndex((s) => s.id === 'L1.weights'), 1, 'heatmap'],
  );
  assert.equal(p.q('[data-testid="gen-token"]')!.getAttribute('aria-pressed'), 'true');
  const heatmap = p.q('[data-testid="heatmap-weights"]')!;
  assert.equal(heatmap.getAttribute('data-focus-row'), '1');
  assert.match(
    heatmap.getAttribute('aria-label')!,
    /; focused row: query cat \(#1\), largest: The \(#0\) 0\.5000, cat \(#1\) 0\.5000, sat \(#2\) 0$/,
    'the fixture has no mask: the later key is listed with its 0',
  );
  assert.equal(
    p.q('[data-testid="gen-focus"]')!.textContent,
    'Layer 1 weights: the outlined row is cat (#1), the query that chose sat (#2) over the tokens before it.',
  );
  // A bad form value is said in the panel and asks the host nothing.
  const tokens = p.q<HTMLInputElement>('[data-testid="gen-tokens"]')!;
  tokens.value = '0';
  tokens.dispatchEvent(new window.Event('input'));
  p.q<HTMLElement>('[data-testid="continue"]')!.click();
  assert.equal(p.q('[data-testid="gen-status"]')!.textContent, 'Tokens must be a whole number from 1 to 64, not "0".');
  assert.equal(asked.length, 0);
  tokens.value = '2';
  tokens.dispatchEvent(new window.Event('input'));
  p.q<HTMLElement>('[data-testid="continue"]')!.click();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(asked, [{ kind: 'continue', tokens: 2 }]);
  assert.equal(p.q('[data-testid="gen-status"]')!.textContent, 'Generated 1 token (greedy).');
  p.panel.dispose();
});

test('no Continue for a model that is not a causal LM; a standalone export shows the strip without the form', async () => {
  const plain = await mount(makeTrace(), () => Promise.reject(new Error('none')));
  assert.equal(plain.q('[data-testid="generation"]'), null);
  plain.panel.dispose();
  const standalone = await mount(continuedTrace(), () => Promise.reject(new Error('none')), true);
  assert.ok(standalone.q('[data-testid="gen-strip"]'));
  assert.equal(standalone.q('[data-testid="continue"]'), null);
  standalone.panel.dispose();
  // Nothing generated yet: an exported page has no Continue section at all (it could not continue).
  const { generation: _g, ...notContinued } = continuedTrace();
  const page = await mount(notContinued, () => Promise.reject(new Error('none')), true);
  assert.equal(page.q('[data-testid="generation"]'), null);
  page.panel.dispose();
});
