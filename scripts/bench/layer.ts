// BERT-base-sized encoder layer (768 wide, 12 heads, FFN 3072) through the engine's own HF BERT
// loader and run(), beside the same layer in numpy and torch (scripts/bench/layer_ref.py) on the
// same weights and inputs; plus the wasm backend's own matmul peak as the yardstick.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { defaultThreads, initBackend, tf } from '../../src/model/runtime/backend';
import { loadBert } from '../../src/model/families/bert/model';
import { writeSafetensors } from '../../src/model/formats/safetensors';
import { mulberry32 } from '../../src/model/families/toy/model';

const ROOT = path.resolve(__dirname, '..', '..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function matmulPeak(n = 1024, repeats = 5): Promise<number> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const xs: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    xs.push(performance.now() - t0);
    c.dispose();
  }
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / (median(xs.slice(1)) / 1e3) / 1e9;
}

/** A one-layer BERT-base-sized checkpoint in the Hugging Face layout, with the shipped tokenizer. */
export function bertBaseCheckpoint(dir: string): void {
  const D = 768;
  const F = 3072;
  const V = 4044;
  const rand = mulberry32(7);
  const w = (shape: number[], scale = 0.02): { shape: number[]; data: Float32Array } => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (rand() * 2 - 1) * scale * Math.sqrt(3);
    return { shape, data };
  };
  const ones = (n: number): { shape: number[]; data: Float32Array } => ({
    shape: [n],
    data: new Float32Array(n).fill(1),
  });
  const L = 'bert.encoder.layer.0.';
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {
    'bert.embeddings.word_embeddings.weight': w([V, D]),
    'bert.embeddings.position_embeddings.weight': w([512, D]),
    'bert.embeddings.token_type_embeddings.weight': w([2, D]),
    'bert.embeddings.LayerNorm.weight': ones(D),
    'bert.embeddings.LayerNorm.bias': w([D]),
  };
  for (const n of ['query', 'key', 'value']) {
    tensors[`${L}attention.self.${n}.weight`] = w([D, D]);
    tensors[`${L}attention.self.${n}.bias`] = w([D]);
  }
  Object.assign(tensors, {
    [`${L}attention.output.dense.weight`]: w([D, D]),
    [`${L}attention.output.dense.bias`]: w([D]),
    [`${L}attention.output.LayerNorm.weight`]: ones(D),
    [`${L}attention.output.LayerNorm.bias`]: w([D]),
    [`${L}intermediate.dense.weight`]: w([F, D]),
    [`${L}intermediate.dense.bias`]: w([F]),
    [`${L}output.dense.weight`]: w([D, F]),
    [`${L}output.dense.bias`]: w([D]),
    [`${L}output.LayerNorm.weight`]: ones(D),
    [`${L}output.LayerNorm.bias`]: w([D]),
  });
  writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(tensors));
  // GELU's tanh form (gelu_new), the one layer_ref.py computes in numpy and torch (numpy has no erf).
  const config = {
    architectures: ['BertModel'],
    model_type: 'bert',
    hidden_size: D,
    num_hidden_layers: 1,
    num_attention_heads: 12,
    intermediate_size: F,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_act: 'gelu_new',
    vocab_size: V,
    pad_token_id: 0,
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'])
    copyFileSync(path.join(ROOT, 'models', 'english-encoder', f), path.join(dir, f));
}

function python(): string | undefined {
  for (const p of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(p, ['-c', 'import numpy'], { stdio: 'pipe' });
      return p;
    } catch {
      /* try the next */
    }
  }
  return undefined;
}

/** Median ms of our whole BERT-layer run() per token count, on this process's backend. */
async function timeOurLayer(dir: string, lengths: number[], runs: number): Promise<{ tokens: number; ms: number }[]> {
  const model = await loadBert(dir);
  const out: { tokens: number; ms: number }[] = [];
  try {
    for (const T of lengths) {
      // WordPiece tokens of common words: T−2 words plus [CLS] and [SEP] = T tokens.
      const text = Array.from({ length: T - 2 }, (_, i) => ['the', 'cat', 'sat', 'on', 'a', 'mat'][i % 6]).join(' ');
      const xs: number[] = [];
      let tokens = 0;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const trace = await model.run(text, { maxTokens: 512 });
        xs.push(performance.now() - t0);
        tokens = trace.tokens.length;
      }
      out.push({ tokens, ms: median(xs.slice(1)) });
    }
  } finally {
    model.dispose();
  }
  return out;
}

interface LayerTimes {
  readonly threads: number;
  readonly peak: number;
  readonly times: { tokens: number; ms: number }[];
}

async function measureHere(dir: string, lengths: number[], runs: number, quick: boolean): Promise<LayerTimes> {
  const threads = (await initBackend()).threads;
  const peak = await matmulPeak(quick ? 512 : 1024, quick ? 2 : 5);
  return { threads, peak, times: await timeOurLayer(dir, lengths, runs) };
}

/** The same measurement in a fresh process with `threads` threads (the backend is chosen once per process). */
function measureInChild(
  dir: string,
  lengths: number[],
  runs: number,
  quick: boolean,
  threads: number,
): LayerTimes | string {
  try {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', __filename, '--child', dir, String(runs), quick ? 'quick' : 'full', ...lengths.map(String)],
      {
        encoding: 'utf8',
        env: { ...process.env, ATTENTION_LENS_THREADS: String(threads) },
        timeout: 600_000,
      },
    );
    return JSON.parse(out) as LayerTimes;
  } catch (err) {
    return `failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

/**
 * This process runs single-threaded, as the extension runs small models; the layer is also timed
 * in a child on every core, as the extension runs large checkpoints (src/engine/client.ts lanes).
 */
export async function benchLayers({ quick }: { quick: boolean }): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-bench-'));
  try {
    bertBaseCheckpoint(dir);
    const lengths = quick ? [128] : [128, 512];
    const runs = quick ? 3 : 8;
    const one = await measureHere(dir, lengths, runs, quick);
    const cores = defaultThreads();
    const many = cores > 1 ? measureInChild(dir, lengths, runs, quick, cores) : one;
    if (typeof many === 'string') console.log(`\nmulti-threaded run ${many}`);
    const best = typeof many === 'string' ? one : many;
    console.log(
      `\nwasm matmul peak: ${one.peak.toFixed(2)} GFLOP/s on 1 thread${best !== one ? `, ${best.peak.toFixed(2)} GFLOP/s on ${best.threads}` : ''} (${quick ? 512 : 1024}² float32 matmul)`,
    );
    const py = python();
    const rows: string[][] = [];
    for (const [i, { tokens, ms }] of best.times.entries()) {
      // FLOPs of one layer: QKV + output projections, scores and context, FFN.
      const D = 768;
      const flops = 2 * tokens * D * D * 4 + 2 * 2 * tokens * tokens * D + 2 * 2 * tokens * D * 3072;
      let ref: Record<string, number | string> = {};
      if (py) {
        try {
          ref = JSON.parse(
            execFileSync(
              py,
              [
                path.join(ROOT, 'scripts', 'bench', 'layer_ref.py'),
                path.join(dir, 'model.safetensors'),
                String(tokens),
                quick ? '2' : '4',
              ],
              { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } },
            ),
          );
        } catch (err) {
          ref = { error: (err as Error).message.split('\n')[0]! };
        }
      }
      const fmt = (v: number | string | undefined): string =>
        typeof v === 'number' ? `${v.toFixed(1)} ms` : (v ?? 'python3 with numpy not found');
      const ratio = (v: number | string | undefined): string =>
        typeof v === 'number' ? `${(ms / v).toFixed(2)}×` : '—';
      const gflops = flops / (ms / 1e3) / 1e9;
      const single = one.times[i]!.ms;
      // The layer's matmuls alone at the backend's measured peak: no wasm run of this layer can beat it.
      const floor = (flops / (best.peak * 1e9)) * 1e3;
      rows.push([
        String(tokens),
        `${ms.toFixed(1)} ms`,
        `${single.toFixed(1)} ms (${(single / ms).toFixed(2)}×)`,
        `${gflops.toFixed(2)} GFLOP/s (${((gflops / best.peak) * 100).toFixed(0)}% of peak)`,
        `${floor.toFixed(1)} ms`,
        fmt(ref['numpy_ms']),
        ratio(ref['numpy_ms']),
        fmt(ref['torch_ms']),
        ratio(ref['torch_ms']),
      ]);
    }
    console.log(
      `\n## BERT-base-sized layer (768, 12 heads, FFN 3072): ours = whole run() incl. embeddings and trace copies\n`,
    );
    console.log(
      `| tokens | ours (tfjs wasm, ${best.threads} thread${best.threads === 1 ? '' : 's'}) | ours on 1 thread | throughput | matmul floor at peak | numpy | ours/numpy | torch (2 threads) | ours/torch |`,
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log(
      '\nGELU is the tanh form here (gelu_new), as in the references. "matmul floor" is the layer\'s FLOPs at the peak above: ' +
        'wasm SIMD is 128 bits wide without FMA, so the peak is a fraction of what numpy/torch reach with native AVX2 + FMA.',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `--child DIR RUNS quick|full T…`: time our layer in this process and print JSON (see measureInChild).
if (process.argv[2] === '--child') {
  const [dir, runs, mode, ...lengths] = process.argv.slice(3);
  void measureHere(dir!, lengths.map(Number), Number(runs), mode === 'quick').then((r) =>
    process.stdout.write(JSON.stringify(r)),
  );
}
