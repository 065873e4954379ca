// Two runs at once: the model cache counts who holds a model, so a run of one model file never
// has its model disposed by a run of another ("llama has been disposed." before), and a cancel
// stops only its own run, not another that shares its load. Directly on the cache, then through
// the real worker bundle.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { ModelFileCache } from '../../src/model/open/modelFiles';
import { EngineClient, EngineError } from '../../src/engine/client';
import { fileModelId } from '../../shared/catalog';
import { AttentionInputError } from '../../shared/trace';

const ROOT = path.resolve(__dirname, '..', '..');
const HF = path.join(ROOT, 'test', 'fixtures', 'hf');
const WORKER = path.join(ROOT, 'dist', 'worker.js');
const LLAMA = path.join(HF, 'llama', 'config.json');
const GPT2 = path.join(HF, 'gpt2', 'config.json');
const TEXT = 'The cat sat on the mat.';

before(async () => {
  await initBackend();
});

test('two models held at once both run; released models are freed', async () => {
  const tensors = tf.memory().numTensors;
  const cache = new ModelFileCache();
  const llama = await cache.acquire(LLAMA);
  const gpt2 = await cache.acquire(GPT2);
  const [a, b] = await Promise.all([llama.model.run(TEXT), gpt2.model.run(TEXT)]);
  assert.equal(a.model.family, 'llama');
  assert.equal(b.model.family, 'gpt2');
  // The same file again while held: the same model, loaded once.
  const again = await cache.acquire(LLAMA);
  assert.equal(again.model, llama.model);
  again.release();
  llama.release();
  gpt2.release();
  cache.dispose();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(tf.memory().numTensors, tensors, 'every model freed once no run holds it');
});

test('a cancel stops only its own wait; the run sharing the load gets the model', async () => {
  const cache = new ModelFileCache();
  const controller = new AbortController();
  const first = cache.acquire(GPT2, { signal: controller.signal });
  const second = cache.acquire(GPT2);
  controller.abort();
  await assert.rejects(first, (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled');
  const lease = await second;
  const trace = await lease.model.run(TEXT);
  assert.ok(trace.tokens.length > 0);
  lease.release();
  cache.dispose();
});

test(
  'through the worker: two runs of two model files at once both succeed; cancelling one leaves the other',
  { skip: !existsSync(WORKER) && 'run `npm run build` first' },
  async () => {
    const engine = new EngineClient(WORKER);
    try {
      const started = Date.now();
      const [a, b] = await Promise.all([
        engine.run({ modelId: fileModelId(LLAMA), text: TEXT }).promise,
        engine.run({ modelId: fileModelId(GPT2), text: TEXT }).promise,
      ]);
      assert.equal(a.model.family, 'llama');
      assert.equal(b.model.family, 'gpt2');
      assert.ok(Date.now() - started < 60_000);
      // Two runs of one new copy of a file: cancel one while the shared load is under way.
      const gone = engine.run({ modelId: fileModelId(path.join(HF, 'qwen2', 'config.json')), text: TEXT });
      const kept = engine.run({ modelId: fileModelId(path.join(HF, 'qwen2', 'config.json')), text: TEXT });
      gone.cancel();
      await assert.rejects(gone.promise, (e: EngineError) => e.code === 'cancelled');
      assert.equal((await kept.promise).model.family, 'qwen2');
      const next = await engine.run({ modelId: fileModelId(LLAMA), text: TEXT }).promise;
      assert.ok(next.tokens.length > 0, 'the next ordinary run succeeds');
    } finally {
      engine.dispose();
    }
  },
);
