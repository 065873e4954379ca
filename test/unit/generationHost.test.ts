// The panel's continue request on the host (src/panel/continue.ts) with a fake vscode and engine:
// the worker is asked for the trace's tokens and the checked settings; the session takes the new
// trace (posted before the answer); cancel reaches the engine; a model that is not a causal LM and a
// bad setting are refused with their messages; in an untrusted workspace a model file asks first and
// a built-in does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { created, fakeVscode, installFakeVscode } from './fakeVscode';
import { makeTrace } from './traceFixture';
import { continuedTrace } from './continuedFixture';
import type { HostMessage, PanelSettings } from '../../shared/protocol';
import type { GenerateRequest, RunRequest } from '../../shared/workerProtocol';
import type { Trace } from '../../shared/trace';

installFakeVscode();
const asked: string[] = [];
let trusted = true;
let answer: string | undefined;
Object.assign(fakeVscode.workspace, {
  getConfiguration: () => ({ get: () => undefined, inspect: () => undefined }),
});
Object.defineProperty(fakeVscode.workspace, 'isTrusted', { get: () => trusted });
Object.assign(fakeVscode.window, {
  showWarningMessage: async (message: string) => {
    asked.push(message);
    return answer;
  },
});
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { PanelManager } = require('../../src/panel/panel') as typeof import('../../src/panel/panel');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Session } = require('../../src/session') as typeof import('../../src/session');

const settings: PanelSettings = { colourMap: 'viridis', topK: 5, score: 'scaled-dot', normaliser: 'softmax' };
const log = { info: () => {}, warn: () => {}, error: () => {} };

async function setup(trace: Trace, request: RunRequest, answerWith: (r: GenerateRequest) => Promise<Trace>) {
  const session = new Session();
  const calls: GenerateRequest[] = [];
  let cancels = 0;
  const engine = {
    generate: (r: GenerateRequest, onProgress?: (f: number, m: string) => void) => {
      calls.push(r);
      onProgress?.(0.5, 'Generating token 2 of 2');
      return { promise: answerWith(r), cancel: () => cancels++ };
    },
  };
  const panels = new PanelManager(
    { path: '/ext' } as never,
    session,
    engine as never,
    log as never,
    () => settings,
    async () => true,
  );
  session.set(
    trace,
    { uri: 'file:///a.txt', version: 1, offset: 10 },
    { stage: 3, head: 1, view: 'heatmap', row: 0 },
    { title: 'running tinystories', request },
  );
  const before = created.length;
  panels.show();
  const panel = created[before]!;
  await panel.send({ type: 'ready' });
  let id = 0;
  const ask = async (request: unknown) => {
    const n = ++id;
    await panel.send({ type: 'request', id: n, request });
    return panel.posted.find(
      (m) => (m as { type: string; id?: number }).type === 'response' && (m as { id: number }).id === n,
    ) as (HostMessage & { type: 'response' }) | undefined;
  };
  return { session, panel, panels, calls, ask, cancels: () => cancels };
}

const causal = (): Trace => ({ ...makeTrace(), model: { ...makeTrace().model, causalLm: true } });
const BUILTIN: RunRequest = { modelId: 'tinystories-656k', text: 'The cat sat' };

test('continue: the worker gets the trace’s tokens and the settings; the session takes the new trace, same place', async () => {
  const next = continuedTrace();
  const s = await setup(causal(), BUILTIN, async () => next);
  const prior = s.session.trace!;
  const r = await s.ask({ kind: 'continue', tokens: 2, sampling: { temperature: 0.5, topK: 3, topP: 0.9, seed: 4 } });
  assert.deepEqual(r, { type: 'response', id: 1, ok: true, result: { generated: 1 } });
  assert.equal(s.calls.length, 1);
  const c = s.calls[0]!;
  assert.equal(c.modelId, 'tinystories-656k');
  assert.equal(c.text, prior.text);
  assert.equal(c.prior, prior.tokens);
  assert.equal(c.tokens, 2);
  assert.deepEqual(c.sampling, { temperature: 0.5, topK: 3, topP: 0.9, seed: 4 });
  assert.equal(c.topK, 5, 'attentionLens.hover.topK’s default');
  assert.equal(s.session.trace, next);
  assert.deepEqual(s.session.cursor, { stage: 3, head: 1, view: 'heatmap' }, 'same stage, head and view; no stale row');
  assert.deepEqual(s.session.source, { uri: 'file:///a.txt', version: 1, offset: 10 }, 'the editor text is untouched');
  assert.equal(s.session.request, BUILTIN);
  const types = s.panel.posted.map((m) => (m as { type: string }).type);
  assert.ok(types.indexOf('progress') < types.lastIndexOf('trace'), 'progress reached the webview');
  assert.ok(types.lastIndexOf('trace') < types.lastIndexOf('response'), 'the new trace is posted before the answer');
  s.panels.dispose();
});

test('continue: refused for a model that is not a causal LM, and for a bad setting, with their messages', async () => {
  const s = await setup(makeTrace(), BUILTIN, async () => continuedTrace());
  const r = await s.ask({ kind: 'continue', tokens: 2 });
  assert.equal(r?.ok, false);
  assert.match(
    (r as { error: { message: string } }).error.message,
    /^Fixture is not a decoder-only language model \(a causal LM\), so it cannot continue the text\.$/,
  );
  s.panels.dispose();
  const t = await setup(causal(), BUILTIN, async () => continuedTrace());
  const bad = await t.ask({ kind: 'continue', tokens: 500 });
  assert.equal(
    (bad as { error: { message: string } }).error.message,
    'Tokens must be a whole number from 1 to 64, not 500.',
  );
  assert.equal(t.calls.length, 0, 'the worker is not asked');
  t.panels.dispose();
});

test('continue: a cancel from the webview cancels the engine’s job', async () => {
  let reject!: (e: Error) => void;
  const s = await setup(causal(), BUILTIN, () => new Promise<Trace>((_, rj) => (reject = rj)));
  void s.panel.send({ type: 'request', id: 7, request: { kind: 'continue', tokens: 3 } });
  await new Promise((r) => setTimeout(r, 5));
  await s.panel.send({ type: 'cancel', id: 7 });
  assert.equal(s.cancels(), 1);
  reject(Object.assign(new Error('The run was cancelled.'), { code: 'cancelled' }));
  await new Promise((r) => setTimeout(r, 5));
  const r = s.panel.posted.find((m) => (m as { type: string }).type === 'response') as { ok: boolean; error: unknown };
  assert.deepEqual(r.error, { message: 'The run was cancelled.', code: 'cancelled' });
  s.panels.dispose();
});

test('untrusted workspace: a model file asks before it is loaded; a built-in does not', async () => {
  trusted = false;
  try {
    const file: RunRequest = { modelId: 'file:/models/tiny/config.json', text: 'The cat sat' };
    answer = undefined;
    const s = await setup(causal(), file, async () => continuedTrace());
    const r = await s.ask({ kind: 'continue', tokens: 1 });
    assert.equal(asked.length, 1);
    assert.match(asked[0]!, /This workspace is not trusted\. Load the model files in "\/models\/tiny\/config\.json"\?/);
    assert.equal((r as { error: { code?: string } }).error.code, 'cancelled');
    assert.equal(s.calls.length, 0);
    answer = 'Load';
    const again = await s.ask({ kind: 'continue', tokens: 1 });
    assert.equal(again?.ok, true);
    assert.equal(s.calls[0]!.modelId, file.modelId);
    s.panels.dispose();
    const b = await setup(causal(), BUILTIN, async () => continuedTrace());
    assert.equal((await b.ask({ kind: 'continue', tokens: 1 }))?.ok, true);
    assert.equal(asked.length, 2, 'a built-in model is not asked about');
    b.panels.dispose();
  } finally {
    trusted = true;
  }
});
