// The engine's two lanes through the real worker bundle (dist/worker.js, built before the unit
// tests): small models on a single-threaded worker, large checkpoints on one that uses every core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineClient } from '../../src/engine/client';
import { fileModelId } from '../../shared/catalog';
import { scratchDirs } from './fixtureTools';

const ROOT = path.resolve(__dirname, '..', '..');
const WORKER = path.join(ROOT, 'dist', 'worker.js');
const tmpDir = scratchDirs();
const cores = Math.min(4, os.availableParallelism());

test(
  'small models run single-threaded, a checkpoint above the size limit on every core',
  { skip: !existsSync(WORKER) && 'run `npm run build` first' },
  async () => {
    const dir = tmpDir('attention-lens-lanes-');
    cpSync(path.join(ROOT, 'models', 'tinystories-656k'), dir, { recursive: true });
    // 1 MB limit: the 2.6 MB TinyStories copy counts as large.
    const engine = new EngineClient(
      WORKER,
      () => {},
      1500,
      () => ({ backend: 'wasm', threads: 0 }),
      1024 * 1024,
    );
    try {
      const text = 'Once upon a time there was a cat.';
      const small = await engine.run({ modelId: 'tinystories-656k', text }).promise;
      assert.equal(small.backend, 'wasm', 'built-in models run on one thread');
      const request = { modelId: fileModelId(path.join(dir, 'config.json')), text };
      assert.equal(await engine.laneFor(request), 'large');
      const large = await engine.run(request).promise;
      assert.equal(large.backend, cores > 1 ? `wasm, ${cores} threads` : 'wasm');
      // Same model, same numbers, whichever lane computed them.
      const weights = (t: typeof small): Float32Array =>
        t.stages.find((s) => s.tensors.some((x) => x.name === 'weights'))!.tensors.find((x) => x.name === 'weights')!
          .data;
      const a = weights(small);
      const b = weights(large);
      assert.equal(a.length, b.length);
      for (let i = 0; i < a.length; i++)
        assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-5 * Math.max(1e-3, Math.abs(a[i]!)), `weight ${i}: ${a[i]} vs ${b[i]}`);
      assert.equal((await engine.memory()).numTensors >= 0, true);
    } finally {
      engine.dispose();
    }
  },
);

test('an explicit thread count puts everything on one lane', async () => {
  const engine = new EngineClient(
    WORKER,
    () => {},
    1500,
    () => ({ backend: 'wasm', threads: 2 }),
    1,
  );
  try {
    assert.equal(
      await engine.laneFor({
        modelId: fileModelId(path.join(ROOT, 'models', 'tinystories-656k', 'config.json')),
        text: 'x',
      }),
      'small',
    );
    assert.equal(await engine.laneFor({ modelId: 'tinystories-656k', text: 'x' }), 'small');
  } finally {
    engine.dispose();
  }
});
