// Host and worker side of hostile input: a run whose estimated memory exceeds the budget is refused
// before it starts, naming the token count that fits, and that count then runs; settings read from
// a workspace are clamped. Through the real worker bundle (dist/worker.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { EngineClient, EngineError } from '../../src/engine/client';
import { checkBudget, estimateRunBytes, tokenBound } from '../../src/worker/budget';
import { AttentionInputError, type ModelInfo } from '../../shared/trace';

const WORKER = path.resolve(__dirname, '..', '..', 'dist', 'worker.js');

test('the estimate grows with tokens², layers and heads, and names what fits', () => {
  const info = { family: 'llama', layers: 2, heads: 8, dModel: 128, parameters: 0 } as unknown as ModelInfo;
  const one = estimateRunBytes(info, 100);
  assert.equal(estimateRunBytes({ ...info, layers: 4 }, 100), 2 * one);
  assert.ok(estimateRunBytes(info, 200) > 3.5 * one);
  assert.equal(tokenBound('héllo', 2048), 10, 'UTF-8 bytes + specials bound the tokens');
  assert.equal(tokenBound('x'.repeat(10_000), 256), 256);
  // A config claiming a billion layers is refused before anything is allocated.
  assert.throws(
    () => checkBudget({ ...info, layers: 1e9 }, 'some text', 256, 2048),
    (e: unknown) => e instanceof AttentionInputError && /more than attentionLens\.memoryBudgetMB/.test(e.message),
  );
});

test(
  'a run over the memory budget is refused with the token count that fits, which then runs',
  { skip: !existsSync(WORKER) && 'run `npm run build` first' },
  async () => {
    const engine = new EngineClient(WORKER);
    try {
      const text = 'Once upon a time there was a cat. '.repeat(60);
      const started = Date.now();
      let fits = 0;
      await assert.rejects(
        engine.run({ modelId: 'tinystories-656k', text, maxTokens: 2048, memoryBudgetMB: 4 }).promise,
        (e: EngineError) => {
          assert.equal(e.code, 'too-long', e.message);
          const m = /Set attentionLens\.maxTokens to (\d+) or fewer/.exec(e.message);
          assert.ok(m, e.message);
          fits = Number(m[1]);
          return true;
        },
      );
      assert.ok(Date.now() - started < 30_000);
      assert.ok(fits > 1 && fits < 2048, `fits ${fits}`);
      const trace = await engine.run({ modelId: 'tinystories-656k', text, maxTokens: fits, memoryBudgetMB: 4 }).promise;
      assert.ok(trace.tokens.length > 0 && trace.tokens.length <= fits);
    } finally {
      engine.dispose();
    }
  },
);
