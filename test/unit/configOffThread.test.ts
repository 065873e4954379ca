// *.attention.json parsed off the host's thread (src/configs/offThread.ts through the real bundle
// dist/configWorker.js): a large config within its cap gives the same problems and config as the
// in-place parse while the host's event loop keeps turning; short ones never start a thread; a parse
// that overruns its time stops the thread and is reported, and the next parse starts a fresh one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigChecker, INLINE_CHARS } from '../../src/configs/offThread';
import { MAX_PROBLEMS, checkAttentionConfig, parseAttentionConfig } from '../../src/model/formats/attentionConfig';
import { MAX_BYTES } from '../../src/model/formats/files';

const WORKER = path.resolve(__dirname, '..', '..', 'dist', 'configWorker.js');
const skip = !existsSync(WORKER) && 'run `npm run build` first';

/** A hand-built config of n tokens with d-wide embeddings: about 9·n·d characters. */
function bigConfig(n: number, d: number, tail = ''): string {
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5).toFixed(6) as never;
  const row = (w: number): number[] => Array.from({ length: w }, rnd).map(Number);
  const cfg = {
    kind: 'hand-built',
    title: 'big',
    tokens: Array.from({ length: n }, (_, i) => `t${i}`),
    embeddings: Array.from({ length: n }, () => row(d)),
    W_q: Array.from({ length: d }, () => row(4)),
    W_k: Array.from({ length: d }, () => row(4)),
    W_v: Array.from({ length: d }, () => row(4)),
  };
  return JSON.stringify(cfg, null, 1) + tail;
}

/** The longest gap between turns of the event loop (10 ms ticks) while `work` runs. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stall: number }> {
  let last = performance.now();
  let stall = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 10);
  try {
    const result = await work();
    stall = Math.max(stall, performance.now() - last);
    return { result, stall };
  } finally {
    clearInterval(tick);
  }
}

test('a large config is parsed in the worker: same result, and the host keeps turning', { skip }, async () => {
  const text = bigConfig(2000, 300);
  assert.ok(text.length > 4_000_000 && text.length < MAX_BYTES['attention-json'], `${text.length} characters`);
  const t0 = performance.now();
  const parsed = parseAttentionConfig(text);
  const blocking = performance.now() - t0;
  assert.equal(parsed.problems.length, 0);
  assert.equal(parsed.config?.kind, 'hand-built');
  const inPlace = checkAttentionConfig(text);
  assert.deepEqual(inPlace, { config: { kind: 'hand-built', title: 'big' }, problems: [] });
  const checker = new ConfigChecker(WORKER);
  try {
    // The thread is started by a first, medium-sized check (its start is not what is measured).
    const medium = bigConfig(20, 300);
    assert.ok(medium.length > INLINE_CHARS);
    assert.deepEqual(await checker.parse(medium), checkAttentionConfig(medium));
    const { result, stall } = await longestStall(() => checker.parse(text));
    assert.equal(checker.started, 1, 'one worker thread');
    assert.deepEqual(result, inPlace, 'the worker gives what the in-place parse gives');
    // The in-place parse held the thread for `blocking` ms; off the thread the loop never stops for
    // half that (on an idle machine: a few ms against seconds; the bound allows for a loaded one).
    assert.ok(stall < blocking / 2, `event loop stalled ${stall.toFixed(0)} ms (in place: ${blocking.toFixed(0)} ms)`);
    console.log(`in place ${blocking.toFixed(0)} ms; off thread the longest stall was ${stall.toFixed(0)} ms`);
    // A syntax error near the end of a large file is found at its offset.
    const broken = bigConfig(600, 300).replace(/\]\s*\}$/, ',, ]}');
    assert.ok(broken.length > INLINE_CHARS);
    const bad = await checker.parse(broken);
    assert.deepEqual(bad, checkAttentionConfig(broken));
    assert.ok(bad.problems.length > 0 && bad.problems[0]!.offset > broken.length - 10, 'the error is at the end');
    // A syntax error in every row: the first MAX_PROBLEMS problems, and how many more.
    const wrong = bigConfig(600, 300).replace(/\],/g, '],,');
    const many = await checker.parse(wrong);
    assert.equal(many.problems.length, MAX_PROBLEMS);
    assert.ok((many.moreProblems ?? 0) > 0, `${many.moreProblems} more`);
    assert.equal(many.problems.length + many.moreProblems!, parseAttentionConfig(wrong).problems.length);
    assert.equal(checker.started, 1, 'the thread is reused');
  } finally {
    checker.dispose();
  }
});

test('a short config is parsed in place and starts no thread', { skip }, async () => {
  const checker = new ConfigChecker(WORKER);
  const small = bigConfig(3, 4);
  assert.ok(small.length < INLINE_CHARS);
  assert.deepEqual(await checker.parse(small), checkAttentionConfig(small));
  // Over the cap only the length is looked at: no thread either.
  const huge = ' '.repeat(MAX_BYTES['attention-json'] + 1);
  const over = await checker.parse(huge);
  assert.match(over.problems[0]!.message, /more than the 8388608 accepted; it is not parsed/);
  assert.equal(checker.started, 0);
  assert.equal(checker.running, false);
  checker.dispose();
});

test('a parse over its time stops the thread with a problem; the next parse starts a fresh one', { skip }, async () => {
  const text = bigConfig(1500, 300);
  const hurried = new ConfigChecker(WORKER, { timeoutMs: 5 });
  try {
    const late = await hurried.parse(text);
    assert.equal(late.config, undefined);
    assert.equal(late.problems.length, 1);
    assert.match(late.problems[0]!.message, /could not be checked within 0\.005 s; the checker was stopped/);
    assert.equal(hurried.running, false, 'the overrunning thread was stopped');
  } finally {
    hurried.dispose();
  }
  const checker = new ConfigChecker(WORKER, { idleMs: 50 });
  try {
    const first = await checker.parse(text);
    assert.equal(first.problems.length, 0);
    assert.equal(checker.running, true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(checker.running, false, 'an idle thread is stopped');
    const again = await checker.parse(text);
    assert.deepEqual(again, first);
    assert.equal(checker.started, 2, 'a fresh thread after the idle stop');
  } finally {
    checker.dispose();
  }
});
