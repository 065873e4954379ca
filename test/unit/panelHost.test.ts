// The panel's host side with a fake vscode: the trace is posted once per run, show() only
// reveals, a cursor move from the webview is not echoed to it, one from a command is; what-if
// requests are answered over the channel from the attention block of any of its stages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { created, errorsShown, installFakeVscode } from './fakeVscode';
import { INLINE_BYTES } from '../../shared/lazy';
import { tensor, type TensorData, type Trace } from '../../shared/trace';
import { makeTrace } from './traceFixture';
import { DEFAULT_CURSOR, type HostMessage, type PanelSettings } from '../../shared/protocol';
import type { WhatIfRequest } from '../../shared/workerProtocol';
import { EngineClient } from '../../src/engine/client';

installFakeVscode();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { PanelManager } = require('../../src/panel/panel') as typeof import('../../src/panel/panel');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Session } = require('../../src/session') as typeof import('../../src/session');

const settings: PanelSettings = { colourMap: 'viridis', topK: 5, score: 'scaled-dot', normaliser: 'softmax' };
const log = { info: () => {}, warn: () => {}, error: () => {} };

function setup() {
  const session = new Session();
  const asked: WhatIfRequest[] = [];
  // The real client (no worker starts: these traces are whole, so their tensors are read in place), its what-if recorded.
  const engine = Object.assign(new EngineClient('/no-worker.js'), {
    whatIf: async (r: WhatIfRequest) => {
      asked.push(r);
      return { scores: r.Q, weights: r.K, context: r.V };
    },
  });
  const panels = new PanelManager(
    { path: '/ext' } as never,
    session,
    engine,
    log as never,
    () => settings,
    async () => true,
  );
  return { session, panels, asked };
}

const ofType = (posted: unknown[], type: HostMessage['type']) => posted.filter((m) => (m as HostMessage).type === type);

test('a run posts its trace once, whether the panel is new or already open', async () => {
  const { session, panels } = setup();
  const before = created.length;
  // A run: the session takes the trace, then the command shows the panel (runAndShow's order).
  session.set(makeTrace(), undefined);
  panels.show();
  const panel = created[before]!;
  assert.equal(ofType(panel.posted, 'trace').length, 0, 'nothing before the webview is ready');
  await panel.send({ type: 'ready' });
  assert.equal(ofType(panel.posted, 'trace').length, 1);
  // A second run with the panel open and ready.
  session.set(makeTrace(3), undefined);
  panels.show();
  assert.equal(created.length, before + 1, 'the one panel is reused');
  assert.equal(panel.reveals, 1);
  assert.equal(ofType(panel.posted, 'trace').length, 2, 'one more trace for one more run, not two');
  panels.dispose();
});

test('a cursor move from the webview is not echoed back; one from a command is sent', async () => {
  const { session, panels } = setup();
  const before = created.length;
  session.set(makeTrace(), undefined);
  panels.show();
  const panel = created[before]!;
  await panel.send({ type: 'ready' });
  await panel.send({ type: 'cursor', cursor: { ...DEFAULT_CURSOR, stage: 3 } });
  assert.equal(session.cursor.stage, 3, 'the session follows the webview');
  assert.equal(ofType(panel.posted, 'cursor').length, 0, 'not echoed to the webview that moved it');
  session.moveCursor({ ...DEFAULT_CURSOR, stage: 2 });
  assert.deepEqual(ofType(panel.posted, 'cursor'), [{ type: 'cursor', cursor: { ...DEFAULT_CURSOR, stage: 2 } }]);
  panels.dispose();
});

test('what-if: answered over the channel from the block of the named stage; errors come back as errors', async () => {
  const { session, panels, asked } = setup();
  const before = created.length;
  const trace = makeTrace(2);
  session.set(trace, undefined);
  panels.show();
  const panel = created[before]!;
  await panel.send({ type: 'ready' });
  // makeTrace has no Q/K/V: the block exists, but there is nothing to recompute from.
  await panel.send({
    type: 'request',
    id: 7,
    request: { kind: 'whatIf', stageId: 'L1.scores', score: 'dot', normaliser: 'softmax' },
  });
  const [reply] = ofType(panel.posted, 'response') as Extract<HostMessage, { type: 'response' }>[];
  assert.equal(reply!.id, 7);
  assert.equal(reply!.ok, false);
  assert.match(!reply!.ok ? reply!.error.message : '', /has no Q, K and V/);
  await panel.send({
    type: 'request',
    id: 8,
    request: { kind: 'whatIf', stageId: 'nope', score: 'dot', normaliser: 'softmax' },
  });
  const second = ofType(panel.posted, 'response')[1] as Extract<HostMessage, { type: 'response' }>;
  assert.match(!second.ok ? second.error.message : '', /No attention stage "nope"/);
  assert.equal(asked.length, 0);
  panels.dispose();
});

test('what-if from any stage of a block recomputes from that block’s Q, K, V and score parameters', async () => {
  const { initBackend } = await import('../../src/model/runtime/backend');
  const { getModel } = await import('../../src/model/open/builtins');
  const { blockOf } = await import('../../shared/navigation');
  await initBackend();
  const trace = await (await getModel('toy-self-attention')).run('The cat sat on the mat.');
  const { session, panels, asked } = setup();
  const before = created.length;
  session.set(trace, undefined);
  panels.show();
  const panel = created[before]!;
  await panel.send({ type: 'ready' });
  await panel.send({
    type: 'request',
    id: 1,
    request: { kind: 'whatIf', stageId: 'weights', score: 'additive', normaliser: 'sparsemax' },
  });
  const reply = ofType(panel.posted, 'response')[0] as Extract<HostMessage, { type: 'response' }>;
  assert.equal(reply.ok, true);
  const block = blockOf(trace, trace.stages.find((s) => s.id === 'weights')!)!;
  assert.equal(asked.length, 1);
  assert.equal(asked[0]!.Q, block.q);
  assert.equal(asked[0]!.K, block.k);
  assert.equal(asked[0]!.V, block.v);
  assert.deepEqual(Object.keys(asked[0]!.params ?? {}).sort(), ['W', 'W1', 'W2', 'v']);
  assert.equal(asked[0]!.score, 'additive');
  assert.equal(asked[0]!.normaliser, 'sparsemax');
  assert.equal(asked[0]!.causal, block.info.causal);
  panels.dispose();
});

/** makeTrace with one layer's weights past the inline size, so the panel gets them by fetch. */
function bigTrace(): Trace {
  const t = makeTrace(1, 2, 3);
  const n = INLINE_BYTES / 4 + 6; // two heads × (n/2) values: just over the inline size
  const big = tensor(
    'weights',
    [2, 1, n / 2],
    ['head', 'query', 'key'],
    new Float32Array(n).map((_, i) => i / n),
  );
  return { ...t, stages: t.stages.map((s) => (s.id === 'L0.weights' ? { ...s, tensors: [big] } : s)) };
}

test('a big trace goes out as an index; its tensors are answered per request, for the trace shown only', async () => {
  const { session, panels } = setup();
  const before = created.length;
  const trace = bigTrace();
  session.set(trace, undefined, DEFAULT_CURSOR, {
    title: 'running toy',
    request: { modelId: 'm', text: 'The cat sat' },
  });
  panels.show();
  const panel = created[before]!;
  await panel.send({ type: 'ready' });
  const [msg] = ofType(panel.posted, 'trace') as Extract<HostMessage, { type: 'trace' }>[];
  const sent = msg!.trace.stages.find((s) => s.id === 'L0.weights')!.tensors[0]!;
  assert.equal(sent.remote, true);
  assert.equal(sent.data.length, 0);
  assert.deepEqual(sent.shape, [2, 1, INLINE_BYTES / 8 + 3]);
  assert.deepEqual(
    msg!.trace.stages[1]!.tensors[0]!.data,
    trace.stages[1]!.tensors[0]!.data,
    'small tensors travel along',
  );
  // …packed into one buffer: VS Code's webview transport lost buffers of messages with hundreds of them.
  assert.equal(new Set(msg!.trace.stages.flatMap((s) => s.tensors.map((t) => t.data.buffer))).size, 1);
  assert.deepEqual(msg!.run, { title: 'running toy', request: { modelId: 'm', text: 'The cat sat' } });
  await panel.send({
    type: 'request',
    id: 1,
    request: { kind: 'tensors', key: msg!.key, want: [{ stage: 'L0.weights', tensor: 'weights', head: 1 }] },
  });
  const reply = ofType(panel.posted, 'response')[0] as Extract<HostMessage, { type: 'response'; ok: true }>;
  const [head1] = reply.result as TensorData[];
  const full = trace.stages.find((s) => s.id === 'L0.weights')!.tensors[0]!.data;
  assert.deepEqual(head1!.shape, [1, INLINE_BYTES / 8 + 3]);
  assert.deepEqual(head1!.data, full.subarray(full.length / 2));
  assert.notEqual(head1!.data.buffer, full.buffer, 'a copy of the slice, not the whole buffer');
  // A newer run replaces the trace: a fetch for the old one is refused, not answered from the new one.
  session.set(bigTrace(), undefined);
  await panel.send({
    type: 'request',
    id: 2,
    request: { kind: 'tensors', key: msg!.key, want: [{ stage: 'L0.weights', tensor: 'weights' }] },
  });
  const stale = ofType(panel.posted, 'response')[1] as Extract<HostMessage, { type: 'response'; ok: false }>;
  assert.equal(stale.ok, false);
  assert.match(stale.error.message, /replaced by a newer one/);
  panels.dispose();
});

test('a trace the panel cannot receive is reported to the user with its cause', async () => {
  const { session, panels } = setup();
  const before = created.length;
  session.set(makeTrace(), undefined);
  panels.show();
  const panel = created[before]!;
  panel.failPosts = 'Data cannot be cloned, out of memory.';
  await panel.send({ type: 'ready' });
  await new Promise((r) => setTimeout(r, 0));
  assert.match(errorsShown.at(-1) ?? '', /could not be shown in the panel: Data cannot be cloned, out of memory/);
  panels.dispose();
});
