// `npm run bench -- --only=scale`: real model sizes at real lengths, beside torch and BertViz's data
// path. Random-weight checkpoints from a seed in the Hugging Face layout (written once into
// os.tmpdir()/attention-lens-bench/scale-*, reused): BERT-base-sized (12 × 12 heads, 768 wide, 512
// positions, F32), GPT-2-small-sized (12 × 12, 768, 1024 positions, F32) and a SmolLM2-360M-shaped
// Llama (32 layers, 15 heads on 5 key/value heads, 960 wide, BF16), each with a fixture tokenizer.
// Each row (model × length) runs in fresh processes so peak RSS is that row's high-water mark:
//   ours   — load, one 16-token warm-up, model.run at the length (as the worker runs it), the trace's
//            tensor bytes, then the whole-trace safetensors export (time, size, RSS after);
//   torch  — scripts/bench/scale_ref.py: the bare forward pass returning every layer's attention
//            (HF's output_attentions), float32, 2 threads;
//   BertViz — the same forward + torch.stack + .tolist() + json.dumps of head_view's params.
// A row whose estimated memory exceeds the limit (--max-gb=N, default 13, and what the machine has
// free) is skipped and says so. --quick: 128 and 512 tokens only. --scale-rows=gpt2-small:512,bert-base:512
// picks rows. Figures, not assertions.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '../../src/model/families/toy/model';

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE = path.join(os.tmpdir(), 'attention-lens-bench');
const PY = '/usr/bin/python3';
const GB = 1024 ** 3;
const MB = 1024 ** 2;

type Init = 'weight' | 'norm' | 'bias' | 'tril';

interface Shape {
  readonly name: string;
  readonly label: string;
  readonly dtype: 'F32' | 'BF16';
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly hidden: number;
  readonly positions: number;
  readonly lengths: readonly number[];
  readonly tokenizer: string;
  readonly tokenizerFiles: readonly string[];
  readonly config: Record<string, unknown>;
  readonly tensors: () => [string, number[], Init][];
}

const BERT: Shape = {
  name: 'bert-base',
  label: 'BERT-base-sized (12×12, 768)',
  dtype: 'F32',
  layers: 12,
  heads: 12,
  kvHeads: 12,
  hidden: 768,
  positions: 512,
  lengths: [128, 512, 1024],
  tokenizer: 'bert',
  tokenizerFiles: ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json'],
  config: {
    architectures: ['BertForMaskedLM'],
    model_type: 'bert',
    hidden_act: 'gelu',
    hidden_size: 768,
    intermediate_size: 3072,
    layer_norm_eps: 1e-12,
    max_position_embeddings: 512,
    num_attention_heads: 12,
    num_hidden_layers: 12,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    torch_dtype: 'float32',
    type_vocab_size: 2,
    vocab_size: 30522,
  },
  tensors: () => {
    const D = 768;
    const e = 'bert.embeddings.';
    const out: [string, number[], Init][] = [
      [e + 'word_embeddings.weight', [30522, D], 'weight'],
      [e + 'position_embeddings.weight', [512, D], 'weight'],
      [e + 'token_type_embeddings.weight', [2, D], 'weight'],
      [e + 'LayerNorm.weight', [D], 'norm'],
      [e + 'LayerNorm.bias', [D], 'bias'],
    ];
    for (let l = 0; l < 12; l++) {
      const p = `bert.encoder.layer.${l}.`;
      for (const x of ['query', 'key', 'value'])
        out.push([`${p}attention.self.${x}.weight`, [D, D], 'weight'], [`${p}attention.self.${x}.bias`, [D], 'bias']);
      out.push(
        [p + 'attention.output.dense.weight', [D, D], 'weight'],
        [p + 'attention.output.dense.bias', [D], 'bias'],
        [p + 'attention.output.LayerNorm.weight', [D], 'norm'],
        [p + 'attention.output.LayerNorm.bias', [D], 'bias'],
        [p + 'intermediate.dense.weight', [3072, D], 'weight'],
        [p + 'intermediate.dense.bias', [3072], 'bias'],
        [p + 'output.dense.weight', [D, 3072], 'weight'],
        [p + 'output.dense.bias', [D], 'bias'],
        [p + 'output.LayerNorm.weight', [D], 'norm'],
        [p + 'output.LayerNorm.bias', [D], 'bias'],
      );
    }
    out.push(
      ['cls.predictions.bias', [30522], 'bias'],
      ['cls.predictions.transform.dense.weight', [D, D], 'weight'],
      ['cls.predictions.transform.dense.bias', [D], 'bias'],
      ['cls.predictions.transform.LayerNorm.weight', [D], 'norm'],
      ['cls.predictions.transform.LayerNorm.bias', [D], 'bias'],
    );
    return out;
  },
};

const GPT2: Shape = {
  name: 'gpt2-small',
  label: 'GPT-2-small-sized (12×12, 768)',
  dtype: 'F32',
  layers: 12,
  heads: 12,
  kvHeads: 12,
  hidden: 768,
  positions: 1024,
  lengths: [128, 512, 1024],
  tokenizer: 'gpt2',
  tokenizerFiles: ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt'],
  config: {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    bos_token_id: 50256,
    eos_token_id: 50256,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: 1024,
    n_embd: 768,
    n_head: 12,
    n_inner: null,
    n_layer: 12,
    n_positions: 1024,
    scale_attn_weights: true,
    torch_dtype: 'float32',
    vocab_size: 50257,
  },
  tensors: () => {
    const D = 768;
    const out: [string, number[], Init][] = [
      ['wte.weight', [50257, D], 'weight'],
      ['wpe.weight', [1024, D], 'weight'],
    ];
    for (let l = 0; l < 12; l++) {
      const p = `h.${l}.`;
      out.push(
        [p + 'ln_1.weight', [D], 'norm'],
        [p + 'ln_1.bias', [D], 'bias'],
        [p + 'attn.bias', [1, 1, 1024, 1024], 'tril'],
        [p + 'attn.c_attn.weight', [D, 3 * D], 'weight'],
        [p + 'attn.c_attn.bias', [3 * D], 'bias'],
        [p + 'attn.c_proj.weight', [D, D], 'weight'],
        [p + 'attn.c_proj.bias', [D], 'bias'],
        [p + 'ln_2.weight', [D], 'norm'],
        [p + 'ln_2.bias', [D], 'bias'],
        [p + 'mlp.c_fc.weight', [D, 4 * D], 'weight'],
        [p + 'mlp.c_fc.bias', [4 * D], 'bias'],
        [p + 'mlp.c_proj.weight', [4 * D, D], 'weight'],
        [p + 'mlp.c_proj.bias', [D], 'bias'],
      );
    }
    out.push(['ln_f.weight', [D], 'norm'], ['ln_f.bias', [D], 'bias']);
    return out;
  },
};

const LLAMA: Shape = {
  name: 'llama-gqa',
  label: 'SmolLM2-360M-shaped Llama (32 layers, 15 heads / 5 kv, 960)',
  dtype: 'BF16',
  layers: 32,
  heads: 15,
  kvHeads: 5,
  hidden: 960,
  positions: 8192,
  lengths: [128, 512, 1024, 2048],
  tokenizer: 'smollm2',
  tokenizerFiles: ['tokenizer.json', 'tokenizer_config.json'],
  config: {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    hidden_size: 960,
    intermediate_size: 2560,
    max_position_embeddings: 8192,
    num_attention_heads: 15,
    num_hidden_layers: 32,
    num_key_value_heads: 5,
    head_dim: 64,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 100000,
    tie_word_embeddings: true,
    torch_dtype: 'bfloat16',
    vocab_size: 49152,
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: 320,
    eos_token_id: 321,
  },
  tensors: () => {
    const D = 960;
    const out: [string, number[], Init][] = [['model.embed_tokens.weight', [49152, D], 'weight']];
    for (let l = 0; l < 32; l++) {
      const p = `model.layers.${l}.`;
      out.push(
        [p + 'input_layernorm.weight', [D], 'norm'],
        [p + 'self_attn.q_proj.weight', [15 * 64, D], 'weight'],
        [p + 'self_attn.k_proj.weight', [5 * 64, D], 'weight'],
        [p + 'self_attn.v_proj.weight', [5 * 64, D], 'weight'],
        [p + 'self_attn.o_proj.weight', [D, 15 * 64], 'weight'],
        [p + 'post_attention_layernorm.weight', [D], 'norm'],
        [p + 'mlp.gate_proj.weight', [2560, D], 'weight'],
        [p + 'mlp.up_proj.weight', [2560, D], 'weight'],
        [p + 'mlp.down_proj.weight', [D, 2560], 'weight'],
      );
    }
    out.push(['model.norm.weight', [D], 'norm']);
    return out;
  },
};

export const SCALE_SHAPES: readonly Shape[] = [BERT, GPT2, LLAMA];

/** Writes a safetensors file tensor by tensor from a seed (bounded memory). */
function writeRandom(file: string, tensors: [string, number[], Init][], dtype: 'F32' | 'BF16', seed: number): number {
  const width = dtype === 'F32' ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype, shape, data_offsets: [offset, offset + width * n] };
    offset += width * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const fd = fs.openSync(file + '.part', 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeSync(fd, len);
  fs.writeSync(fd, json);
  const rand = mulberry32(seed);
  const f32 = new Float32Array(1 << 22);
  const bits = new Uint32Array(f32.buffer);
  const bf16 = new Uint16Array(f32.length);
  let params = 0;
  for (const [, shape, init] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    const cols = shape[shape.length - 1]!;
    for (let done = 0; done < n; done += f32.length) {
      const m = Math.min(f32.length, n - done);
      for (let i = 0; i < m; i++) {
        const k = done + i;
        f32[i] =
          init === 'norm'
            ? 1 + (rand() - 0.5) * 0.2
            : init === 'bias'
              ? (rand() - 0.5) * 0.04
              : init === 'tril'
                ? k % cols <= Math.floor(k / cols) % cols
                  ? 1
                  : 0
                : (rand() - 0.5) * 0.08;
      }
      if (dtype === 'F32') fs.writeSync(fd, f32.subarray(0, m));
      else {
        for (let i = 0; i < m; i++) bf16[i] = bits[i]! >>> 16;
        fs.writeSync(fd, bf16.subarray(0, m));
      }
    }
    if (init !== 'tril') params += n;
  }
  fs.closeSync(fd);
  fs.renameSync(file + '.part', file);
  return params;
}

export function ensureScaleCheckpoint(s: Shape): string {
  const dir = path.join(CACHE, `scale-${s.name}`);
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const tok = path.join(ROOT, 'test', 'fixtures', 'hf', s.tokenizer);
  for (const f of s.tokenizerFiles) fs.copyFileSync(path.join(tok, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(s.config, null, 2));
  const t0 = performance.now();
  const params = writeRandom(path.join(dir, 'model.safetensors'), s.tensors(), s.dtype, 1013);
  console.log(
    `wrote ${dir}: ${(params / 1e6).toFixed(1)} M parameters (${s.dtype}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return dir;
}

const TEXT = Array.from(
  { length: 4000 },
  (_, i) => ['once', 'upon', 'a', 'time', 'there', 'was', 'a', 'little', 'girl', 'named', 'Mia', 'who'][i % 12],
).join(' ');

interface OursRow {
  tokens: number;
  loadMs: number;
  runMs: number;
  traceBytes: number;
  rssAfterRunGb: number;
  exportMs: number;
  exportBytes: number;
  exportTensors: number;
  peakRssGb: number;
  leaked: number;
}

/** In a fresh process: load, warm up on 16 tokens, run at `n`, export the trace; prints one JSON line. */
export async function measureScaleChild(dir: string, n: number): Promise<void> {
  const { initBackend, tf, defaultThreads } = await import('../../src/model/runtime/backend');
  const { loadHfModel } = await import('../../src/model/open/modelFiles');
  const { exportTraceSafetensors } = await import('../../src/model/formats/safetensorsWriter');
  await initBackend('wasm', { threads: defaultThreads() });
  const start = tf.memory().numTensors;
  const t0 = performance.now();
  const model = await loadHfModel(dir);
  const loadMs = performance.now() - t0;
  await model.run(TEXT, { maxTokens: 16 });
  const t1 = performance.now();
  const trace = await model.run(TEXT, { maxTokens: n });
  const runMs = performance.now() - t1;
  const rssAfterRunGb = (process.resourceUsage().maxRSS * 1024) / GB;
  let traceBytes = 0;
  for (const s of trace.stages) for (const t of s.tensors) traceBytes += t.data.byteLength;
  model.dispose();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'al-scale-export-'));
  const file = path.join(out, 'trace.safetensors');
  const t2 = performance.now();
  const r = await exportTraceSafetensors(trace, file);
  const exportMs = performance.now() - t2;
  fs.rmSync(out, { recursive: true, force: true });
  const row: OursRow = {
    tokens: trace.tokens.length,
    loadMs,
    runMs,
    traceBytes,
    rssAfterRunGb,
    exportMs,
    exportBytes: r.bytes,
    exportTensors: r.tensors,
    peakRssGb: (process.resourceUsage().maxRSS * 1024) / GB,
    leaked: tf.memory().numTensors - start,
  };
  process.stdout.write('\n' + JSON.stringify(row) + '\n');
}

function ours(dir: string, n: number): OursRow {
  const script = `require(${JSON.stringify(__filename)}).measureScaleChild(${JSON.stringify(dir)}, ${n}).catch((e) => { console.error(e); process.exit(1); });`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as OursRow;
}

interface PyRow {
  tokens: number;
  forward_ms: number;
  attention_bytes: number;
  tolist_ms?: number;
  dumps_ms?: number;
  json_bytes?: number;
  peak_rss_kb: number;
}

function python(mode: 'forward' | 'bertviz', dir: string, n: number): PyRow {
  const out = execFileSync(PY, [path.join(__dirname, 'scale_ref.py'), mode, dir, String(n)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '2' },
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as PyRow;
}

/** GB the machine can give a row now (MemAvailable, less 2 GB for everything else). */
function availableGb(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return (Number(m[1]) * 1024) / GB - 2;
  } catch {
    // not Linux: fall through
  }
  return os.freemem() / GB - 2;
}

/** Rough peaks, to skip a row before it exhausts the machine. */
function estimates(s: Shape, n: number): { oursGb: number; bertvizGb: number; torchGb: number } {
  const weightsGb = (s.tensors().reduce((a, [, sh]) => a + sh.reduce((x, y) => x * y, 1), 0) * 4) / GB;
  const attention = s.layers * s.heads * n * n; // values per [layer, head, query, key]
  // Our eager trace: scores + weights per head, a mask, and ~12 [token × width] tensors per layer.
  const traceGb = (4 * (2 * attention + s.layers * n * n + s.layers * 12 * n * s.hidden)) / GB;
  return {
    oursGb: weightsGb * 1.5 + traceGb + 0.5,
    // Python floats (24 B) + list slots (8 B) + ~16 B of JSON text each, + the torch tensors.
    bertvizGb: weightsGb + (attention * (32 + 16 + 8)) / GB + 1,
    torchGb: weightsGb + (attention * 12) / GB + 1,
  };
}

export async function benchScale(options: { quick: boolean; argv: readonly string[] }): Promise<void> {
  const { table } = await import('./bench');
  const flag = (name: string): string | undefined =>
    options.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const maxGb = Number(flag('max-gb') ?? 13);
  const picked = flag('scale-rows')?.split(',');
  fs.mkdirSync(CACHE, { recursive: true });
  const rows: (string | number)[][] = [];
  const s = (ms: number | undefined): string => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
  const gb = (x: number | undefined): string => (x === undefined ? '–' : `${x.toFixed(2)} GB`);
  const mb = (x: number | undefined): string => (x === undefined ? '–' : `${(x / MB).toFixed(0)} MB`);
  const ratio = (a: number | undefined, b: number | undefined): string =>
    a === undefined || b === undefined ? '–' : `${(a / b).toFixed(2)}×`;
  console.log(
    `\nscale: checkpoints in ${CACHE}; rows ${picked ? picked.join(', ') : options.quick ? '128 and 512 tokens (--quick)' : 'all lengths'}; memory limit ${maxGb} GB per row (--max-gb=N)`,
  );
  for (const shape of SCALE_SHAPES) {
    const lengths = shape.lengths.filter((n) =>
      picked ? picked.includes(`${shape.name}:${n}`) : !options.quick || n <= 512,
    );
    if (lengths.length === 0) continue;
    const dir = ensureScaleCheckpoint(shape);
    for (const n of lengths) {
      const name = `${shape.name} @ ${n}`;
      if (n > shape.positions) {
        rows.push([name, `n/a: the model has ${shape.positions} positions`, ...Array(12).fill('')]);
        continue;
      }
      const load = os.loadavg()[0]!.toFixed(1);
      const est = estimates(shape, n);
      const limit = Math.min(maxGb, availableGb());
      const skip = (gbNeeded: number): string | undefined =>
        gbNeeded > limit ? `skipped: needs ~${gbNeeded.toFixed(0)} GB, limit ${limit.toFixed(0)} GB` : undefined;
      const o = skip(est.oursGb) ? undefined : ours(dir, n);
      console.log(`${name}: ours ${o ? JSON.stringify(o) : skip(est.oursGb)}`);
      const tokens = o?.tokens ?? n;
      const t = skip(est.torchGb) ? undefined : python('forward', dir, tokens);
      console.log(`${name}: torch ${t ? JSON.stringify(t) : skip(est.torchGb)}`);
      const b = skip(est.bertvizGb) ? undefined : python('bertviz', dir, tokens);
      console.log(`${name}: bertviz ${b ? JSON.stringify(b) : skip(est.bertvizGb)}`);
      const bertvizMs = b ? b.forward_ms + b.tolist_ms! + b.dumps_ms! : undefined;
      rows.push([
        name,
        o ? `${s(o.runMs)} (${o.tokens} tok)` : skip(est.oursGb)!,
        o ? mb(o.traceBytes) : '',
        o ? gb(o.peakRssGb) : '',
        o ? `${s(o.exportMs)}, ${mb(o.exportBytes)}` : '',
        t ? s(t.forward_ms) : skip(est.torchGb)!,
        t ? gb((t.peak_rss_kb * 1024) / GB) : '',
        b ? `${s(b.forward_ms)} + ${s(b.tolist_ms)} + ${s(b.dumps_ms)}` : skip(est.bertvizGb)!,
        b ? mb(b.json_bytes) : '',
        b ? gb((b.peak_rss_kb * 1024) / GB) : '',
        ratio(o?.runMs, t?.forward_ms),
        ratio(bertvizMs, o ? o.runMs + o.exportMs : undefined),
        ratio(b ? b.peak_rss_kb * 1024 : undefined, o ? o.peakRssGb * GB : undefined),
        load,
      ]);
      console.log(rows[rows.length - 1]!.join(' | '));
    }
  }
  table(
    'Real sizes at real lengths (random weights; ours: model.run with the whole eager trace, wasm, default threads, fresh process per row; export: the whole trace as safetensors; torch: float32 forward with output_attentions, 2 threads; BertViz: forward + .tolist() + json.dumps)',
    [
      'model @ tokens',
      'ours run',
      'trace tensors',
      'ours peak RSS',
      'ours export',
      'torch forward',
      'torch peak RSS',
      'BertViz forward + tolist + dumps',
      'BertViz JSON',
      'BertViz peak RSS',
      'ours / torch',
      'BertViz / ours (run + export)',
      'BertViz / ours peak RSS',
      'load avg at start',
    ],
    rows,
  );
}
