// The wasm backend on two threads (XNNPACK's pool over Node worker_threads) computes the same
// numbers as on one, starts from the package's own files, and lets the process exit by itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

interface ChildResult {
  backend: { name: string; threads: number; warning?: string };
  weights: number[];
  hidden: number[];
  label: string;
  leaked: number;
}

function runChild(threads: number): ChildResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'threadsChild.ts')], {
    env: { ...process.env, ATTENTION_LENS_THREADS: String(threads) },
    encoding: 'utf8',
    // A pool thread that kept the process alive would hang here; the timeout turns that into a failure.
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as ChildResult;
}

test('two threads: same attention weights and hidden states as one thread, no leak, clean exit', () => {
  const one = runChild(1);
  const two = runChild(2);
  assert.deepEqual(one.backend, { name: 'wasm', threads: 1 });
  assert.equal(two.backend.name, 'wasm');
  assert.equal(two.backend.threads, 2, `threaded wasm did not start: ${two.backend.warning ?? ''}`);
  assert.equal(one.label, 'wasm');
  assert.equal(two.label, 'wasm, 2 threads', 'the trace says what computed it');
  assert.equal(one.leaked, 0);
  assert.equal(two.leaked, 0);
  assert.equal(two.weights.length, one.weights.length);
  assert.ok(one.weights.length > 1000);
  for (const [name, a, b] of [
    ['weights', one.weights, two.weights],
    ['hidden', one.hidden, two.hidden],
  ] as const) {
    let worst = 0;
    for (let i = 0; i < a.length; i++)
      worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1e-6, Math.abs(a[i]!)));
    assert.ok(worst <= 1e-5, `${name} differ by ${worst} (relative) between 1 and 2 threads`);
  }
});
