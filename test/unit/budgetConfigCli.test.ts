// The memory budget (src/worker/budget.ts) applies to *.attention.json runs and to the command line,
// not only to built-ins and model files: a config naming a model (its own input text) and a
// hand-built config (its own tokens) are refused in the real worker with the count that fits, which
// then runs; the CLI's --memory-budget MB (default: the setting's default) refuses a run with exit 1
// naming the flags, and rejects a bad value with exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineClient, EngineError } from '../../src/engine/client';
import { DEFAULT_MEMORY_BUDGET_MB, estimateRunBytes } from '../../src/worker/budget';
import { handBuiltInfo } from '../../src/model/open/runConfig';
import { parseAttentionConfig, type HandBuiltConfig } from '../../src/model/formats/attentionConfig';

const ROOT = path.resolve(__dirname, '..', '..');
const WORKER = path.join(ROOT, 'dist', 'worker.js');
const skip = !existsSync(WORKER) && 'run `npm run build` first';
const DIR = mkdtempSync(path.join(os.tmpdir(), 'al-budget-'));
const LONG = 'Once upon a time there was a cat who liked to sit in the sun. '.repeat(40);

const modelConfig = JSON.stringify({
  kind: 'model',
  title: 'long story',
  architecture: 'transformer-decoder',
  builtin: 'tinystories-656k',
  input: { text: LONG },
});

function handBuilt(n: number): string {
  const row = (i: number) => [Math.sin(i), Math.cos(i), Math.sin(2 * i), Math.cos(3 * i)];
  const eye = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => (i === j ? 1 : 0)));
  return JSON.stringify({
    kind: 'hand-built',
    title: `${n} tokens`,
    tokens: Array.from({ length: n }, (_, i) => `w${i}`),
    embeddings: Array.from({ length: n }, (_, i) => row(i)),
    W_q: eye,
    W_k: eye,
    W_v: eye,
  });
}

test('the package default and the CLI default are one number', async () => {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { default?: unknown }> } };
  };
  assert.equal(
    pkg.contributes.configuration.properties['attentionLens.memoryBudgetMB']!.default,
    DEFAULT_MEMORY_BUDGET_MB,
  );
});

test(
  'a config run in the worker is refused over the budget, then runs with the count that fits',
  { skip },
  async () => {
    const engine = new EngineClient(WORKER);
    const config = (text: string) => ({ modelId: 'config', text: '', config: { text, baseDir: DIR } });
    try {
      // A model config: its own input text, bounded by maxTokens.
      let fits = 0;
      await assert.rejects(
        engine.run({ ...config(modelConfig), maxTokens: 2048, memoryBudgetMB: 4 }).promise,
        (e: EngineError) => {
          assert.equal(e.code, 'too-long', e.message);
          assert.match(e.message, /more than attentionLens\.memoryBudgetMB \(4 MB\)/);
          const m = /Set attentionLens\.maxTokens to (\d+) or fewer/.exec(e.message);
          assert.ok(m, e.message);
          fits = Number(m[1]);
          return true;
        },
      );
      assert.ok(fits > 1 && fits < 2048, `fits ${fits}`);
      const trace = await engine.run({ ...config(modelConfig), maxTokens: fits, memoryBudgetMB: 4 }).promise;
      assert.ok(trace.tokens.length > 0 && trace.tokens.length <= fits);

      // A hand-built config: its tokens are its own, so the advice is to list fewer.
      const big = handBuilt(2000);
      const parsed = parseAttentionConfig(big).config as HandBuiltConfig;
      const need = estimateRunBytes(handBuiltInfo(parsed), 2000);
      assert.ok(need > 4 * 1024 * 1024, `${need} bytes`);
      let listed = 0;
      await assert.rejects(engine.run({ ...config(big), memoryBudgetMB: 4 }).promise, (e: EngineError) => {
        assert.equal(e.code, 'too-long', e.message);
        assert.match(e.message, /2000 tokens × 1 layers × 1 heads/);
        const m = /List (\d+) tokens or fewer, or raise the budget/.exec(e.message);
        assert.ok(m, e.message);
        listed = Number(m[1]);
        return true;
      });
      assert.ok(listed > 1 && listed < 2000, `listed ${listed}`);
      const ok = await engine.run({ ...config(handBuilt(listed)), memoryBudgetMB: 4 }).promise;
      assert.equal(ok.tokens.length, listed);
      // No budget in the request (an older host): nothing is refused.
      assert.equal((await engine.run(config(big)).promise).tokens.length, 2000);
    } finally {
      engine.dispose();
    }
  },
);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts'), ...args],
      { cwd: ROOT, encoding: 'utf8', timeout: 180_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

test('CLI: --memory-budget refuses a run (exit 1) naming the flags, and the count it names runs', async () => {
  const over = await cli(['--model', 'tinystories-656k', '--max-tokens', '2048', '--memory-budget', '64', LONG]);
  assert.equal(over.code, 1, over.stderr);
  assert.match(over.stderr, /more than --memory-budget \(64 MB\)/);
  const m = /Set --max-tokens to (\d+) or fewer/.exec(over.stderr);
  assert.ok(m, over.stderr);
  const fits = Number(m[1]);
  assert.ok(fits > 1 && fits < 2048, `fits ${fits}`);
  const ok = await cli(['--model', 'tinystories-656k', '--max-tokens', String(fits), '--memory-budget', '64', LONG]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /TinyStories|tinystories/i);

  // A config file through the CLI: the same check, with the CLI's names.
  const file = path.join(DIR, 'story.attention.json');
  writeFileSync(file, modelConfig);
  const cfg = await cli(['--model', file, '--max-tokens', '2048', '--memory-budget', '64']);
  assert.equal(cfg.code, 1, cfg.stderr);
  assert.match(cfg.stderr, /more than --memory-budget \(64 MB\).*Set --max-tokens to \d+ or fewer/);
});

test('CLI: the default budget is the setting’s default, and bad values exit 2 naming the flag', async () => {
  // tinystories on 2048 tokens is estimated at ~800 MB: under the 2048 MB default, over 512.
  const tight = await cli(['--model', 'tinystories-656k', '--max-tokens', '2048', '--memory-budget', '512', LONG]);
  assert.equal(tight.code, 1, tight.stderr);
  assert.match(tight.stderr, /more than --memory-budget \(512 MB\)/);
  const fine = await cli(['--model', 'tinystories-656k', '--max-tokens', '2048', LONG]);
  assert.equal(fine.code, 0, fine.stderr);
  // 6000 tokens (~6.9 GB estimated) is over the default without any flag.
  const huge = await cli(['--model', 'tinystories-656k', '--max-tokens', '6000', 'a '.repeat(3000)]);
  assert.equal(huge.code, 1, huge.stderr);
  assert.match(huge.stderr, /more than --memory-budget \(2,048 MB\)/);
  for (const v of ['abc', '10', '1.5']) {
    const r = await cli(['--memory-budget', v, 'hello']);
    assert.equal(r.code, 2, `${v}: ${r.stderr}`);
    assert.match(r.stderr, /--memory-budget must be a whole number of MB from 64 to 65536/);
  }
  const help = await cli(['--help']);
  assert.match(help.stdout, /--memory-budget MB refuses a run estimated to need more \(64 to 65536; default 2048\)/);
});
