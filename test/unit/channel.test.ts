// The one request/response channel: typed requests, out-of-order answers, errors with codes,
// timeouts, cancel, progress, failAll, and transfer of typed arrays instead of copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Channel, ChannelError, transferables, type ChannelMessage, type HandlerContext } from '../../shared/channel';

type Ask =
  | { readonly kind: 'echo'; readonly text: string }
  | { readonly kind: 'slow'; readonly ms: number; readonly tag: string }
  | { readonly kind: 'fail' }
  | { readonly kind: 'array'; readonly n: number }
  | { readonly kind: 'wait' };
interface AskRes {
  echo: string;
  slow: string;
  fail: never;
  array: { readonly data: Float32Array };
  wait: 'done';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Two channels joined as by postMessage: asynchronous delivery through structuredClone with the transfer list. */
function pair(
  opts: {
    timeoutMs?: number;
    transferResults?: boolean;
    handlers?: Partial<Record<Ask['kind'], (r: never, c: HandlerContext) => unknown>>;
  } = {},
) {
  const log: ChannelMessage[] = [];
  const ends: { client?: Channel<Ask, AskRes>; server?: Channel<never, never, Ask, AskRes> } = {};
  const deliver = (to: () => { receive(m: unknown): boolean }) => (m: ChannelMessage, transfer: ArrayBuffer[]) => {
    log.push(m);
    const copy = structuredClone(m, { transfer });
    setImmediate(() => assert.ok(to().receive(copy)));
  };
  const seenAborts: number[] = [];
  const handlers = {
    echo: (r: Extract<Ask, { kind: 'echo' }>) => `echo: ${r.text}`,
    slow: async (r: Extract<Ask, { kind: 'slow' }>) => {
      await sleep(r.ms);
      return r.tag;
    },
    fail: () => {
      throw Object.assign(new Error('bad input [2×3]'), { code: 'shape' });
    },
    array: (r: Extract<Ask, { kind: 'array' }>) => ({ data: new Float32Array(r.n).fill(1.5) }),
    wait: async (_r: Extract<Ask, { kind: 'wait' }>, c: HandlerContext): Promise<'done'> => {
      for (let i = 0; i < 100; i++) {
        c.progress(i / 100, `step ${i}`);
        await sleep(2);
        if (c.signal.aborted) {
          seenAborts.push(i);
          throw new ChannelError('The run was cancelled.', 'cancelled');
        }
      }
      return 'done';
    },
    ...opts.handlers,
  } as never;
  const client = (ends.client = new Channel<Ask, AskRes>({
    post: deliver(() => ends.server!),
    timeoutMs: opts.timeoutMs,
  }));
  const server = (ends.server = new Channel<never, never, Ask, AskRes>({
    post: deliver(() => ends.client!),
    handlers,
    transferResults: opts.transferResults,
  }));
  return { client, server, log, seenAborts };
}

test('typed requests resolve with their own results, out of order', async () => {
  const { client } = pair();
  const slow = client.request({ kind: 'slow', ms: 40, tag: 'first sent' });
  const fast = client.request({ kind: 'slow', ms: 1, tag: 'second sent' });
  const order: string[] = [];
  await Promise.all([slow.then((v) => order.push(v)), fast.then((v) => order.push(v))]);
  assert.deepEqual(order, ['second sent', 'first sent']);
  assert.equal(await client.request({ kind: 'echo', text: 'hi' }), 'echo: hi');
  assert.equal(client.pending, 0);
});

test('a handler error rejects with its message and code; a missing handler says so', async () => {
  const { client } = pair({ handlers: { echo: undefined as never } });
  await assert.rejects(
    client.request({ kind: 'fail' }),
    (e: ChannelError) => e.message === 'bad input [2×3]' && e.code === 'shape',
  );
  await assert.rejects(client.request({ kind: 'echo', text: 'x' }), /no handler for request "echo"/);
});

test('errorOf maps remote errors to the caller’s class', async () => {
  class MyError extends Error {}
  const ends: { server?: Channel<never, never, Ask, AskRes> } = {};
  const client = new Channel<Ask, AskRes>({
    post: (m) => setImmediate(() => ends.server!.receive(structuredClone(m))),
    errorOf: (e) => new MyError(`${e.code}: ${e.message}`),
  });
  ends.server = new Channel<never, never, Ask, AskRes>({
    post: (m) => setImmediate(() => client.receive(structuredClone(m))),
    handlers: { fail: () => Promise.reject(Object.assign(new Error('no'), { code: 'config' })) } as never,
  });
  await assert.rejects(
    client.request({ kind: 'fail' }),
    (e: Error) => e instanceof MyError && e.message === 'config: no',
  );
});

test('a request times out once, tells the other side to stop, and its late answer is ignored', async () => {
  const { client, log } = pair({ timeoutMs: 20 });
  const started = Date.now();
  await assert.rejects(
    client.request({ kind: 'slow', ms: 80, tag: 'late' }),
    (e: ChannelError) => e.code === 'timeout' && /slow timed out after 0.02 s/.test(e.message),
  );
  assert.ok(Date.now() - started < 70, 'rejected at the timeout, not at the answer');
  assert.ok(
    log.some((m) => m.type === 'cancel'),
    'a cancel was posted',
  );
  await sleep(100);
  assert.equal(client.pending, 0);
  // A per-request timeout overrides the default.
  assert.equal(await client.request({ kind: 'slow', ms: 40, tag: 'ok' }, { timeoutMs: 1000 }), 'ok');
});

test('cancel aborts the handler, whose cancelled error settles the call; progress arrives before', async () => {
  const { client, seenAborts } = pair();
  const progress: number[] = [];
  const call = client.call({ kind: 'wait' }, { onProgress: (f) => progress.push(f) });
  await sleep(20);
  assert.ok(client.isPending(call.id));
  call.cancel();
  await assert.rejects(call.promise, (e: ChannelError) => e.code === 'cancelled');
  assert.equal(seenAborts.length, 1);
  assert.ok(seenAborts[0]! < 99, 'the handler stopped early');
  assert.ok(progress.length > 0 && progress.every((f, i) => i === 0 || f > progress[i - 1]!), 'progress in order');
  assert.equal(client.isPending(call.id), false);
  call.cancel(); // after settlement: nothing posted, nothing thrown
});

test('an AbortSignal cancels too', async () => {
  const { client } = pair();
  const ac = new AbortController();
  const p = client.request({ kind: 'wait' }, { signal: ac.signal });
  setTimeout(() => ac.abort(), 10);
  await assert.rejects(p, (e: ChannelError) => e.code === 'cancelled');
});

test('failAll rejects everything in flight; foreign messages are not the channel’s', async () => {
  const { client } = pair();
  const a = client.request({ kind: 'slow', ms: 50, tag: 'a' });
  const b = client.request({ kind: 'wait' });
  client.failAll(new Error('worker died'));
  await assert.rejects(a, /worker died/);
  await assert.rejects(b, /worker died/);
  assert.equal(client.pending, 0);
  assert.equal(client.receive({ type: 'trace', trace: {} }), false);
  assert.equal(client.receive({ type: 'ready' }), false);
  assert.equal(client.receive(null), false);
  assert.equal(
    client.receive({ type: 'response', id: 999, ok: true, result: 1 }),
    true,
    'an unknown id is ours, and ignored',
  );
});

test('results’ typed arrays are transferred when asked, copied otherwise', async () => {
  for (const transferResults of [true, false]) {
    const sent: ArrayBuffer[][] = [];
    const ends: { server?: Channel<never, never, Ask, AskRes> } = {};
    const client = new Channel<Ask, AskRes>({
      post: (m, t) => setImmediate(() => ends.server!.receive(structuredClone(m, { transfer: t }))),
    });
    let kept: Float32Array | undefined;
    ends.server = new Channel<never, never, Ask, AskRes>({
      post: (m, t) => {
        sent.push(t);
        setImmediate(() => client.receive(structuredClone(m, { transfer: t })));
      },
      handlers: { array: (r: { n: number }) => ({ data: (kept = new Float32Array(r.n).fill(2)) }) } as never,
      transferResults,
    });
    const got = await client.request({ kind: 'array', n: 1000 });
    assert.equal(got.data.length, 1000);
    assert.equal(got.data[999], 2);
    assert.equal(
      kept!.length,
      transferResults ? 0 : 1000,
      transferResults ? 'moved: the sender’s array is detached' : 'copied: the sender keeps its array',
    );
    assert.equal(sent.at(-1)!.length, transferResults ? 1 : 0);
  }
});

test('a request that cannot be posted rejects at once', async () => {
  const client = new Channel<Ask, AskRes>({
    post: () => {
      throw new Error('could not be cloned');
    },
    timeoutMs: 10_000,
  });
  await assert.rejects(client.request({ kind: 'echo', text: 'x' }), /could not be cloned/);
  assert.equal(client.pending, 0);
});

test('transferables finds each buffer once, through objects and arrays, and skips shared memory', () => {
  const a = new Float32Array(4);
  const b = new Uint8Array(8);
  const view = new Float32Array(a.buffer, 4, 2);
  const shared = new Float32Array(new SharedArrayBuffer(16));
  const v = { x: [a, { y: view }, b], z: { shared }, s: 'text', n: 3 };
  const buffers = transferables(v);
  assert.equal(buffers.length, 2);
  assert.ok(buffers.includes(a.buffer as ArrayBuffer) && buffers.includes(b.buffer as ArrayBuffer));
});
