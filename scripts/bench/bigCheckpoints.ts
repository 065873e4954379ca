// `npm run bench -- --only=big`: checkpoints at real shapes (random weights from a seed, in the Hugging
// Face layout, written once into os.tmpdir()/attention-lens-bench and reused): SmolLM2-135M,
// Qwen2.5-0.5B, Gemma-3-270M, T5-small and a Llama-3.2-1B-shaped decoder (1.24B parameters, BF16,
// whose float32 weights do not fit tfjs-wasm's 4 GB heap, so its layers are streamed). Each is loaded
// and run at 128 and 512 tokens in a fresh Node process (peak RSS is that process's high-water mark),
// beside torch float32 on the same files. Figures, not assertions.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { CHECKPOINT_CACHE, writeRandomSafetensors, type Init } from './checkpoints';

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE = CHECKPOINT_CACHE;
const GB = 1024 ** 3;
const PY = '/usr/bin/python3';

interface DecoderShape {
  readonly name: string;
  readonly modelType: 'llama' | 'qwen2';
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly inner: number;
  readonly vocab: number;
  readonly extra: Record<string, unknown>;
}

const SHAPES: readonly DecoderShape[] = [
  {
    name: 'smollm2-135m',
    modelType: 'llama',
    hidden: 576,
    layers: 30,
    heads: 9,
    kvHeads: 3,
    inner: 1536,
    vocab: 49152,
    extra: { rope_theta: 100000, rms_norm_eps: 1e-5, max_position_embeddings: 8192, rope_scaling: null },
  },
  {
    name: 'qwen2.5-0.5b',
    modelType: 'qwen2',
    hidden: 896,
    layers: 24,
    heads: 14,
    kvHeads: 2,
    inner: 4864,
    vocab: 151936,
    extra: {
      rope_theta: 1000000,
      rms_norm_eps: 1e-6,
      max_position_embeddings: 32768,
      use_sliding_window: false,
      sliding_window: 32768,
      max_window_layers: 24,
    },
  },
  {
    name: 'llama-3.2-1b',
    modelType: 'llama',
    hidden: 2048,
    layers: 16,
    heads: 32,
    kvHeads: 8,
    inner: 8192,
    vocab: 128256,
    extra: {
      rope_theta: 500000,
      rms_norm_eps: 1e-5,
      max_position_embeddings: 131072,
      head_dim: 64,
      rope_scaling: {
        rope_type: 'llama3',
        factor: 32,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 8192,
      },
    },
  },
];

/** The decoder's tensors in the Hub's names (tied head: no lm_head.weight), in file order. */
function decoderTensors(s: DecoderShape): [string, number[]][] {
  const hd = (s.extra['head_dim'] as number | undefined) ?? s.hidden / s.heads;
  const out: [string, number[]][] = [['model.embed_tokens.weight', [s.vocab, s.hidden]]];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    out.push([p + 'input_layernorm.weight', [s.hidden]]);
    for (const [x, rows] of [
      ['q', s.heads * hd],
      ['k', s.kvHeads * hd],
      ['v', s.kvHeads * hd],
    ] as const) {
      out.push([`${p}self_attn.${x}_proj.weight`, [rows, s.hidden]]);
      if (s.modelType === 'qwen2') out.push([`${p}self_attn.${x}_proj.bias`, [rows]]);
    }
    out.push([p + 'self_attn.o_proj.weight', [s.hidden, s.heads * hd]]);
    out.push([p + 'post_attention_layernorm.weight', [s.hidden]]);
    out.push([p + 'mlp.gate_proj.weight', [s.inner, s.hidden]]);
    out.push([p + 'mlp.up_proj.weight', [s.inner, s.hidden]]);
    out.push([p + 'mlp.down_proj.weight', [s.hidden, s.inner]]);
  }
  out.push(['model.norm.weight', [s.hidden]]);
  return out;
}

function ensureDecoder(s: DecoderShape): string {
  const dir = path.join(CACHE, s.name);
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const hd = (s.extra['head_dim'] as number | undefined) ?? s.hidden / s.heads;
  // A small tokenizer from the fixtures (its ids are inside the vocabulary): the bench times the model.
  const tok = path.join(ROOT, 'test', 'fixtures', 'hf', s.modelType === 'qwen2' ? 'qwen2' : 'smollm2');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(tok, f), path.join(dir, f));
  const config = {
    architectures: [s.modelType === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: s.modelType,
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    intermediate_size: s.inner,
    vocab_size: s.vocab,
    head_dim: hd,
    hidden_act: 'silu',
    tie_word_embeddings: true,
    torch_dtype: 'bfloat16',
    bos_token_id: 320,
    eos_token_id: 321,
    ...s.extra,
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const t0 = performance.now();
  // Norms 1 + U(±0.1), everything else (biases too) U(±0.04), in BF16.
  const tensors = decoderTensors(s).map(
    ([name, shape]) =>
      [name, shape, shape.length === 1 && name.endsWith('norm.weight') ? 'norm' : 'weight'] as [string, number[], Init],
  );
  const params = writeRandomSafetensors(path.join(dir, 'model.safetensors'), tensors, 'BF16', 14);
  console.log(
    `wrote ${dir}: ${(params / 1e6).toFixed(1)} M parameters in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return dir;
}

function ensureGemma(): string {
  const dir = path.join(CACHE, 'gemma-3-270m');
  if (!fs.existsSync(path.join(dir, 'model.safetensors')))
    execFileSync(PY, [path.join(ROOT, 'scripts/reference/hf_gemma.py'), '--real', 'gemma-3-270m', dir], {
      stdio: 'inherit',
    });
  return dir;
}

/** T5-small; hf_encdec.py prints its torch timings when it writes the folder, kept beside it. */
function ensureT5(): string {
  const dir = path.join(CACHE, 't5-small');
  if (!fs.existsSync(path.join(dir, 'model.safetensors'))) {
    const out = execFileSync(PY, [path.join(ROOT, 'scripts/reference/hf_encdec.py'), '--bench-t5-small', dir], {
      encoding: 'utf8',
    });
    fs.writeFileSync(path.join(dir, 'torch.txt'), out);
  }
  return dir;
}

/** What the child process reports. */
interface OursResult {
  loadMs: number;
  runMs: Record<number, number>;
  tokens: Record<number, number>;
  streamed: boolean;
  heapBytes: number;
  peakRssGb: number;
  leaked: number;
  fileGb: number;
}

const TEXT = Array.from(
  { length: 600 },
  (_, i) => ['once', 'upon', 'a', 'time', 'there', 'was', 'a', 'little', 'girl', 'named', 'Mia', `${i}`][i % 12],
).join(' ');

/** In a fresh process: load, run at each length (maxTokens), dispose; prints one JSON line. */
export async function measureChild(dir: string, lengths: number[]): Promise<void> {
  const { initBackend, tf, defaultThreads } = await import('../../src/model/runtime/backend');
  const { loadHfModel } = await import('../../src/model/open/modelFiles');
  const { streamThreshold } = await import('../../src/model/transformer/streamedWeights');
  const { readSafetensorsHeader } = await import('../../src/model/formats/safetensors');
  await initBackend('wasm', { threads: defaultThreads() });
  const start = tf.memory().numTensors;
  const t0 = performance.now();
  const model = await loadHfModel(dir);
  const loadMs = performance.now() - t0;
  const heapBytes = tf.memory().numBytes;
  const runMs: Record<number, number> = {};
  const tokens: Record<number, number> = {};
  for (const n of lengths) {
    const t1 = performance.now();
    const trace = await model.run(TEXT, { maxTokens: n });
    runMs[n] = performance.now() - t1;
    tokens[n] = trace.tokens.length;
  }
  model.dispose();
  const file = path.join(dir, 'model.safetensors');
  const fileBytes = fs.statSync(file).size;
  // As buildWith decides: the tensors' float32 bytes against the threshold.
  const { tensors } = await readSafetensorsHeader(file);
  const f32Bytes = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1) * 4, 0);
  const result: OursResult = {
    loadMs,
    runMs,
    tokens,
    streamed: f32Bytes > streamThreshold(),
    heapBytes,
    peakRssGb: (process.resourceUsage().maxRSS * 1024) / GB,
    leaked: tf.memory().numTensors - start,
    fileGb: fileBytes / GB,
  };
  process.stdout.write('\n' + JSON.stringify(result) + '\n');
}

function ours(dir: string, lengths: number[], env: Record<string, string> = {}): OursResult {
  const script = `require(${JSON.stringify(__filename)}).measureChild(${JSON.stringify(dir)}, ${JSON.stringify(lengths)}).catch((e) => { console.error(e); process.exit(1); });`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as OursResult;
}

interface TorchResult {
  loadMs?: number;
  runMs: Record<number, number>;
  peakRssGb: number;
}

/** torch float32 on the same files, with the process's peak RSS. */
function torch(kind: 'decoder' | 'gemma' | 't5', dir: string, lengths: number[]): TorchResult {
  if (kind === 't5') {
    const text = fs.readFileSync(path.join(dir, 'torch.txt'), 'utf8');
    const m = /encoder on (\d+) tokens (\d+) ms, greedy decoding of (\d+) tokens (\d+) ms/.exec(text);
    return { runMs: m ? { [Number(m[1])]: Number(m[2]) + Number(m[4]) } : {}, peakRssGb: NaN };
  }
  const [script, args] =
    kind === 'gemma'
      ? [path.join(ROOT, 'scripts/reference/hf_gemma.py'), ['--time', dir, ...lengths.map(String)]]
      : [path.join(ROOT, 'scripts/bench/big_ref.py'), [dir, ...lengths.map(String)]];
  const wrapper = `import resource, runpy, sys, json\nsys.argv = ${JSON.stringify([script, ...args])}\ntry:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit:\n    pass\nprint(json.dumps({'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))`;
  const lines = execFileSync(PY, ['-c', wrapper], { encoding: 'utf8', maxBuffer: 1 << 26 })
    .trim()
    .split('\n');
  const rss = JSON.parse(lines.pop()!) as { maxrss_kb: number };
  const timed = JSON.parse(lines.pop()!) as { load_ms?: number; results: { tokens: number; ms: number }[] };
  return {
    ...(timed.load_ms !== undefined ? { loadMs: timed.load_ms } : {}),
    runMs: Object.fromEntries(timed.results.map((r) => [r.tokens, r.ms])),
    peakRssGb: (rss.maxrss_kb * 1024) / GB,
  };
}

export async function benchBig(): Promise<void> {
  // Imported here, not at the top: the measuring child process loads this file and must not start the bench.
  const { table } = await import('./bench');
  fs.mkdirSync(CACHE, { recursive: true });
  const lengths = [128, 512];
  const rows: (string | number)[][] = [];
  const s = (ms: number | undefined): string =>
    ms === undefined || Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`;
  const gb = (x: number): string => (Number.isNaN(x) ? '–' : `${x.toFixed(2)} GB`);
  const add = (
    name: string,
    dir: string,
    kind: 'decoder' | 'gemma' | 't5',
    env: Record<string, string> = {},
    label = '',
  ): void => {
    const o = ours(dir, lengths, env);
    // Printed now: torch on a 1B checkpoint takes minutes more.
    console.log(`${name}${label}: ours ${JSON.stringify(o)}`);
    const t = label ? undefined : torch(kind, dir, lengths);
    rows.push([
      name + label,
      gb(o.fileGb),
      o.streamed ? 'streamed' : 'resident',
      s(o.loadMs),
      s(o.runMs[128]),
      `${s(o.runMs[512])} (${o.tokens[512]} tokens)`,
      gb(o.peakRssGb),
      gb(o.heapBytes / GB),
      o.leaked,
      t ? s(t.loadMs) : '',
      t ? s(t.runMs[128]) : '',
      t ? s(t.runMs[512] ?? t.runMs[Number(Object.keys(t.runMs)[0])]) : '',
      t ? gb(t.peakRssGb) : '',
    ]);
    console.log(rows[rows.length - 1]!.join(' | '));
  };
  const rowsWanted = process.env['BIG_ROWS']?.split(',');
  const want = (name: string): boolean => !rowsWanted || rowsWanted.includes(name);
  for (const shape of [...SHAPES].reverse().filter((x) => want(x.name))) {
    const dir = ensureDecoder(shape);
    add(shape.name, dir, 'decoder');
    if (shape.name === 'smollm2-135m')
      add(shape.name, dir, 'decoder', { ATTENTION_LENS_STREAM_BYTES: '0' }, ' (forced streaming)');
  }
  if (want('gemma-3-270m')) add('gemma-3-270m', ensureGemma(), 'gemma');
  if (want('t5-small')) add('t5-small', ensureT5(), 't5');
  table(
    'Checkpoints at real shapes (random weights; ours: whole run() with the trace, wasm on default threads; torch: float32 forward pass, 2 threads)',
    [
      'model',
      'file',
      'layers',
      'load',
      'run 128',
      'run 512',
      'peak RSS',
      'tfjs heap after load',
      'leaked tensors',
      'torch load',
      'torch 128',
      'torch 512',
      'torch peak RSS',
    ],
    rows,
  );
}
