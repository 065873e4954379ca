// Generation benchmark (`npm run bench -- --only=generate`): tokens per second of greedy decoding
// with the key/value cache and with a full re-run per token (cache off), beside torch float32's
// full re-run loop on the same folder (scripts/reference/generate_ref.py --time), for the built-in
// TinyStories decoder and a few decoder fixtures. Both sides: a prompt of the same length, the same count of new tokens.
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { tf } from '../../src/model/runtime/backend';
import { loadHfModel } from '../../src/model/open/modelFiles';
import type { CausalLm } from '../../src/model/transformer/causalLm';
import { table } from './bench';

const ROOT = path.resolve(__dirname, '..', '..');
const FOLDERS = [
  'models/tinystories-656k',
  'test/fixtures/hf/gpt2',
  'test/fixtures/hf/qwen2',
  'test/fixtures/hf/gemma2',
  'test/fixtures/hf/gptneox',
];

/** torch's tokens per second from generate_ref.py --time (its prompt: random ids of the same length). */
function torchLoop(dir: string, n: number, prompt: number): { tokens_per_s: number; ms_per_token: number } | string {
  try {
    return JSON.parse(
      execFileSync(
        '/usr/bin/python3',
        [path.join(ROOT, 'scripts/reference/generate_ref.py'), '--time', dir, String(n), String(prompt)],
        { encoding: 'utf8' },
      ),
    ) as { tokens_per_s: number; ms_per_token: number };
  } catch (err) {
    return `torch failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

export async function benchGenerate(opts: { quick: boolean }): Promise<void> {
  const prompt = 8;
  const n = opts.quick ? 8 : 24;
  const rows: (string | number)[][] = [];
  for (const rel of FOLDERS) {
    const dir = path.join(ROOT, rel);
    const model = (await loadHfModel(dir)) as CausalLm<unknown>;
    const before = tf.memory().numTensors;
    const ids = Array.from({ length: prompt }, (_, i) => 3 + ((i * 37) % Math.min(297, model.spec.vocabSize - 3)));
    const once = async (cache: boolean): Promise<number> => {
      const t0 = performance.now();
      const got = await model.generateTokens(ids, n, { cache, alternatives: 5 });
      return (got.length * 1000) / (performance.now() - t0);
    };
    await once(true); // warm-up (kernels, tables)
    await once(false);
    // Alternating, median of 3: the machine is shared, and these models are small enough for noise to show.
    const runs: [number[], number[]] = [[], []];
    for (let r = 0; r < 3; r++) {
      runs[0].push(await once(true));
      runs[1].push(await once(false));
    }
    const mid = (xs: number[]) => [...xs].sort((x, y) => x - y)[1]!;
    const rate = async (cache: boolean): Promise<number> => mid(runs[cache ? 0 : 1]);
    const cached = await rate(true);
    const full = await rate(false);
    const leaked = tf.memory().numTensors - before;
    model.dispose();
    const torch = torchLoop(dir, n, prompt);
    rows.push([
      rel,
      model.spec.layers,
      cached.toFixed(1),
      full.toFixed(1),
      (cached / full).toFixed(2) + '×',
      typeof torch === 'string' ? torch : torch.tokens_per_s.toFixed(1),
      leaked,
    ]);
  }
  table(
    `Generation: tokens per second, greedy, ${prompt}-token prompt, ${n} new tokens (ours: the whole step with its top-5 alternatives; torch float32 on 2 threads, a full re-run per token as generate(use_cache=False) does)`,
    ['model', 'layers', 'KV cache tok/s', 'full re-run tok/s', 'cache speed-up', 'torch loop tok/s', 'leaked tensors'],
    rows,
  );
}
