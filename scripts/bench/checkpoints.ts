// Random-weight checkpoints at real shapes in the Hugging Face layout, from a seed, written once
// into os.tmpdir()/attention-lens-bench and reused: the scale bench (scale.ts), the big-checkpoint
// bench (bigCheckpoints.ts) and the real-size e2e test (test/e2e/realSize.test.ts) share them.
// BERT-base-sized (12 × 12 heads, 768 wide, 512 positions, F32), GPT-2-small-sized (12 × 12, 768,
// 1024 positions, F32) and a SmolLM2-360M-shaped Llama (32 layers, 15 heads on 5 key/value heads,
// 960 wide, BF16), each with a tokenizer from test/fixtures/hf. Plain Node: no tfjs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '../../shared/random';

const ROOT = path.resolve(__dirname, '..', '..');
/** Where generated checkpoints live (outside the repository). */
// `npm test` points TMPDIR at a directory it removes afterwards; the checkpoints outlive it.
export const CHECKPOINT_CACHE =
  process.env.ATTENTION_LENS_BENCH_CACHE ?? path.join(os.tmpdir(), 'attention-lens-bench');
const CACHE = CHECKPOINT_CACHE;

/** How a tensor's values are drawn: weights U(±0.04), norms 1 + U(±0.1), biases U(±0.02), a causal tril of ones. */
export type Init = 'weight' | 'norm' | 'bias' | 'tril';

/** A checkpoint's shape: its config.json, tensors in the Hub's names, tokenizer fixture and bench lengths. */
export interface Shape {
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

export const BERT_BASE: Shape = {
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

export const GPT2_SMALL: Shape = {
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

export const LLAMA_GQA: Shape = {
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

export const SCALE_SHAPES: readonly Shape[] = [BERT_BASE, GPT2_SMALL, LLAMA_GQA];

/**
 * Writes a safetensors file tensor by tensor from a seed (bounded memory: one 16 MB chunk), through
 * `file`.part so a killed writer never leaves a file that looks complete. BF16 keeps the top half
 * of each float32 (truncation). Returns the parameter count (causal trils not counted).
 */
export function writeRandomSafetensors(
  file: string,
  tensors: readonly (readonly [string, readonly number[], Init])[],
  dtype: 'F32' | 'BF16',
  seed: number,
): number {
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

/** The checkpoint of shape `s` in `cache` (written from seed 1013 the first time, reused after); its folder. */
export function ensureScaleCheckpoint(s: Shape, cache = CACHE): string {
  const dir = path.join(cache, `scale-${s.name}`);
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const tok = path.join(ROOT, 'test', 'fixtures', 'hf', s.tokenizer);
  for (const f of s.tokenizerFiles) fs.copyFileSync(path.join(tok, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(s.config, null, 2));
  const t0 = performance.now();
  const params = writeRandomSafetensors(path.join(dir, 'model.safetensors'), s.tensors(), s.dtype, 1013);
  console.log(
    `wrote ${dir}: ${(params / 1e6).toFixed(1)} M parameters (${s.dtype}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return dir;
}
