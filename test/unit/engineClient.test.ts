// The engine through the real worker bundle (dist/worker.js): it starts no thread until asked,
// answers runs and what-ifs over the one channel, and a cancelled run rejects as cancelled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { EngineClient, EngineError } from '../../src/engine/client';
import { attentionBlocks } from '../../shared/navigation';

const WORKER = path.resolve(__dirname, '..', '..', 'dist', 'worker.js');
const skip = !existsSync(WORKER) && 'run `npm run build` first';

test('no worker before the first request; runs, what-if and cancel over the channel', { skip }, async () => {
  const engine = new EngineClient(WORKER);
  try {
    assert.equal(engine.started, false, 'constructing the engine starts no thread');
    const trace = await engine.run({ modelId: 'tinystories-656k', text: 'Once upon a time there was a cat.' }).promise;
    assert.equal(engine.started, true);
    const block = attentionBlocks(trace)[0]!;
    const { Q, K, V } = { Q: block.q!, K: block.k!, V: block.v! };
    const again = await engine.whatIf({
      Q,
      K,
      V,
      kvHeadOf: block.info.kvHeadOf,
      causal: block.info.causal,
      score: 'scaled-dot',
      normaliser: 'softmax',
    });
    assert.deepEqual(again.weights.shape, block.weights.shape);
    // The host keeps its arrays: a what-if request copies, it does not detach the session's trace.
    assert.equal(
      Q.data.length,
      Q.shape.reduce((a, b) => a * b, 1),
    );
    let worst = 0;
    for (let i = 0; i < again.weights.data.length; i++)
      worst = Math.max(worst, Math.abs(again.weights.data[i]! - block.weights.data[i]!));
    assert.ok(
      worst < 1e-5,
      `what-if with the model's own score and normaliser reproduces its weights (worst ${worst})`,
    );
    await engine.run({ modelId: 'english-encoder', text: 'warm up' }).promise; // its weights load once
    const before = (await engine.memory()).numTensors;
    const handle = engine.run({ modelId: 'tinystories-656k', text: 'Once upon a time '.repeat(20) });
    handle.cancel();
    await assert.rejects(handle.promise, (e: EngineError) => e instanceof EngineError && e.code === 'cancelled');
    // Cancelled mid-run, from its first progress report: the worker's abort answers.
    const late = engine.run({ modelId: 'english-encoder', text: 'The cat sat on the mat. '.repeat(10) }, () =>
      late.cancel(),
    );
    await assert.rejects(late.promise, (e: EngineError) => e instanceof EngineError && e.code === 'cancelled');
    await assert.rejects(
      engine.run({ modelId: 'no-such-model', text: 'x' }).promise,
      (e: EngineError) => e instanceof EngineError && /Unknown model "no-such-model"/.test(e.message),
    );
    assert.equal((await engine.memory()).numTensors, before, 'a cancelled or failed run leaves no tensors behind');
  } finally {
    engine.dispose();
  }
});

test('a worker that dies at start-up fails its requests and backend() instead of hanging', async () => {
  const engine = new EngineClient(path.join(__dirname, 'no-such-worker.js'));
  try {
    await assert.rejects(engine.backend(), EngineError);
    await assert.rejects(engine.run({ modelId: 'toy-self-attention', text: 'x' }).promise, EngineError);
  } finally {
    engine.dispose();
  }
});
