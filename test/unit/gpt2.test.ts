// The GPT-2 loader (and RoBERTa in the BERT loader) on tiny random checkpoints written by the test in
// Hugging Face's layout, against a plain Float64 forward pass written here with loops (no tfjs): every
// traced tensor, logits, greedy decoding, config aliases / defaults / errors, shape messages naming the
// tensor, tied vs untied lm_head, with and without the "transformer." prefix, the causal mask's exact
// zeros, truncation at n_positions, RoBERTa's offset positions, and tf.memory() after every path.
// (test/unit/hfFamilies.test.ts compares against an independent torch reference as well.)
import { test, before, after } from 'node:test';
import { mulberry32 } from '../../src/model/families/toy/model';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadBert, parseBertConfig, type BertModel } from '../../src/model/families/bert/model';
import { loadGpt2, parseGpt2Config } from '../../src/model/families/gpt2/model';
import { writeSafetensors } from '../../src/model/formats/safetensors';
import { HF_FAMILIES } from '../../src/model/formats/hfFolder';
import { AttentionInputError, type Trace } from '../../shared/trace';
import { assertClose, stage, t } from './fixtureTools';

// ---------------------------------------------------------------------------------------------
// Tiny checkpoints

type Tensors = Record<string, { shape: number[]; data: Float32Array }>;

/** A deterministic stream of uniform numbers in [0, 1). */
const rng = mulberry32;

function randomTensor(
  r: () => number,
  shape: number[],
  scale: number,
  centre = 0,
): { shape: number[]; data: Float32Array } {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, () => centre + (r() * 2 - 1) * scale) };
}

/** GPT-2's bytes_to_unicode: every byte gets a printable character (space → Ġ). */
function byteChars(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++)
    out[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return out;
}

const MERGES = ['Ġ t', 'h e', 'Ġt he', 'i n', 'Ġ a', 'a t', 'Ġ c', 'Ġc at'];

/** A byte-level BPE tokenizer.json: `front` special tokens, the 256 byte characters, merges, then `back` specials. */
function byteLevelTokenizer(front: string[], back: string[], post: unknown): { json: unknown; size: number } {
  const vocab: Record<string, number> = {};
  const added: unknown[] = [];
  let id = 0;
  const special = (content: string): void => {
    added.push({
      id,
      content,
      single_word: false,
      lstrip: content === '<mask>',
      rstrip: false,
      normalized: false,
      special: true,
    });
    vocab[content] = id++;
  };
  front.forEach(special);
  for (const ch of byteChars()) vocab[ch] = id++;
  for (const m of MERGES) vocab[m.replace(' ', '')] = id++;
  back.forEach(special);
  return {
    size: id,
    json: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: post,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: MERGES,
      },
    },
  };
}

const GPT2_TOKENIZER = byteLevelTokenizer([], ['<|endoftext|>'], {
  type: 'ByteLevel',
  add_prefix_space: true,
  trim_offsets: false,
  use_regex: true,
});
const EOT = GPT2_TOKENIZER.size - 1;

interface Gpt2Spec {
  D: number;
  H: number;
  L: number;
  P: number;
  I: number;
  V: number;
  eps: number;
  act: 'gelu_new' | 'relu';
  scale: boolean;
  inverse: boolean;
  tied: boolean;
}

const BASE: Gpt2Spec = {
  D: 8,
  H: 2,
  L: 2,
  P: 16,
  I: 32,
  V: GPT2_TOKENIZER.size,
  eps: 1e-5,
  act: 'gelu_new',
  scale: true,
  inverse: false,
  tied: true,
};

/** GPT-2 weights in HF names (without prefix), Conv1D layout [in, out]. */
function gpt2Weights(s: Gpt2Spec, seed: number): Tensors {
  const r = rng(seed);
  const w: Tensors = {
    'wte.weight': randomTensor(r, [s.V, s.D], 0.5),
    'wpe.weight': randomTensor(r, [s.P, s.D], 0.3),
    'ln_f.weight': randomTensor(r, [s.D], 0.2, 1),
    'ln_f.bias': randomTensor(r, [s.D], 0.1),
  };
  for (let l = 0; l < s.L; l++) {
    const p = `h.${l}.`;
    Object.assign(w, {
      [p + 'ln_1.weight']: randomTensor(r, [s.D], 0.2, 1),
      [p + 'ln_1.bias']: randomTensor(r, [s.D], 0.1),
      [p + 'attn.c_attn.weight']: randomTensor(r, [s.D, 3 * s.D], 0.6),
      [p + 'attn.c_attn.bias']: randomTensor(r, [3 * s.D], 0.1),
      [p + 'attn.c_proj.weight']: randomTensor(r, [s.D, s.D], 0.4),
      [p + 'attn.c_proj.bias']: randomTensor(r, [s.D], 0.1),
      [p + 'ln_2.weight']: randomTensor(r, [s.D], 0.2, 1),
      [p + 'ln_2.bias']: randomTensor(r, [s.D], 0.1),
      [p + 'mlp.c_fc.weight']: randomTensor(r, [s.D, s.I], 0.4),
      [p + 'mlp.c_fc.bias']: randomTensor(r, [s.I], 0.1),
      [p + 'mlp.c_proj.weight']: randomTensor(r, [s.I, s.D], 0.3),
      [p + 'mlp.c_proj.bias']: randomTensor(r, [s.D], 0.1),
    });
  }
  if (!s.tied) w['lm_head.weight'] = randomTensor(r, [s.V, s.D], 0.5);
  return w;
}

const tmpDirs: string[] = [];

function writeFolder(config: unknown, tensors: Tensors, tokenizer: unknown, tokenizerConfig?: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-unit-'));
  tmpDirs.push(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  if (tokenizerConfig) fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  fs.writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(tensors));
  return dir;
}

function gpt2Config(s: Gpt2Spec, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    n_embd: s.D,
    n_head: s.H,
    n_layer: s.L,
    n_positions: s.P,
    n_inner: s.I === 4 * s.D ? null : s.I,
    vocab_size: s.V,
    layer_norm_epsilon: s.eps,
    activation_function: s.act,
    scale_attn_weights: s.scale,
    scale_attn_by_inverse_layer_idx: s.inverse,
    tie_word_embeddings: s.tied,
    bos_token_id: EOT,
    eos_token_id: EOT,
    ...extra,
  };
}

/** Prefixes every name but lm_head with "transformer." and adds the attention buffers GPT2LMHeadModel may save. */
function asLmHeadModel(w: Tensors, s: Gpt2Spec): Tensors {
  const out: Tensors = {};
  for (const [k, v] of Object.entries(w)) out[k.startsWith('lm_head') ? k : 'transformer.' + k] = v;
  for (let l = 0; l < s.L; l++) {
    const tri = new Float32Array(s.P * s.P);
    for (let i = 0; i < s.P; i++) for (let j = 0; j <= i; j++) tri[i * s.P + j] = 1;
    out[`transformer.h.${l}.attn.bias`] = { shape: [1, 1, s.P, s.P], data: tri };
    out[`transformer.h.${l}.attn.masked_bias`] = { shape: [], data: new Float32Array([-1e4]) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The independent reference: plain loops in float64

type F = Float64Array;

function linear(x: F, T: number, n: number, w: Float32Array, m: number, b?: Float32Array): F {
  // x [T, n] · w [n, m] + b
  const out = new Float64Array(T * m);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < m; j++) {
      let acc = b ? b[j]! : 0;
      for (let k = 0; k < n; k++) acc += x[i * n + k]! * w[k * m + j]!;
      out[i * m + j] = acc;
    }
  }
  return out;
}

function linearT(x: F, T: number, n: number, w: Float32Array, m: number, b?: Float32Array): F {
  // x [T, n] · wᵀ, w stored [m, n] (torch.nn.Linear)
  const out = new Float64Array(T * m);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < m; j++) {
      let acc = b ? b[j]! : 0;
      for (let k = 0; k < n; k++) acc += x[i * n + k]! * w[j * n + k]!;
      out[i * m + j] = acc;
    }
  }
  return out;
}

function layerNormRef(x: F, T: number, D: number, g: Float32Array, b: Float32Array, eps: number): F {
  const out = new Float64Array(T * D);
  for (let i = 0; i < T; i++) {
    let mean = 0;
    for (let d = 0; d < D; d++) mean += x[i * D + d]!;
    mean /= D;
    let v = 0;
    for (let d = 0; d < D; d++) v += (x[i * D + d]! - mean) ** 2;
    v /= D;
    for (let d = 0; d < D; d++) out[i * D + d] = ((x[i * D + d]! - mean) / Math.sqrt(v + eps)) * g[d]! + b[d]!;
  }
  return out;
}

/** erf by its Taylor series (|x| < 6 here), accurate to ~1e-13 in float64. */
function erf(x: number): number {
  if (Math.abs(x) > 6) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const ACT: Record<string, (z: number) => number> = {
  gelu_new: (z) => 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3))),
  gelu: (z) => 0.5 * z * (1 + erf(z / Math.SQRT2)),
  relu: (z) => Math.max(0, z),
};

const add = (a: F, b: F): F => a.map((v, i) => v + b[i]!);

interface RefAttention {
  Q: F;
  K: F;
  V: F;
  scores: F;
  weights: F;
  context: F;
  output: F;
}

/** Multi-head attention from already projected q, k, v ([T, D] each, heads side by side). */
function attentionRef(
  q: F,
  k: F,
  v: F,
  T: number,
  H: number,
  hd: number,
  scale: number,
  causal: boolean,
  wo: Float32Array,
  bo: Float32Array,
  woLayout: 'conv' | 'linear',
): RefAttention {
  const D = H * hd;
  const Q = new Float64Array(H * T * hd);
  const K = new Float64Array(H * T * hd);
  const Vh = new Float64Array(H * T * hd);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < T; i++) {
      for (let d = 0; d < hd; d++) {
        Q[(h * T + i) * hd + d] = q[i * D + h * hd + d]!;
        K[(h * T + i) * hd + d] = k[i * D + h * hd + d]!;
        Vh[(h * T + i) * hd + d] = v[i * D + h * hd + d]!;
      }
    }
  }
  const scores = new Float64Array(H * T * T);
  const weights = new Float64Array(H * T * T);
  const context = new Float64Array(H * T * hd);
  const merged = new Float64Array(T * D);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += Q[(h * T + i) * hd + d]! * K[(h * T + j) * hd + d]!;
        scores[(h * T + i) * T + j] = dot * scale;
      }
      const last = causal ? i : T - 1;
      let max = -Infinity;
      for (let j = 0; j <= last; j++) max = Math.max(max, scores[(h * T + i) * T + j]!);
      let sum = 0;
      for (let j = 0; j <= last; j++) sum += Math.exp(scores[(h * T + i) * T + j]! - max);
      for (let j = 0; j <= last; j++) weights[(h * T + i) * T + j] = Math.exp(scores[(h * T + i) * T + j]! - max) / sum;
      for (let d = 0; d < hd; d++) {
        let c = 0;
        for (let j = 0; j < T; j++) c += weights[(h * T + i) * T + j]! * Vh[(h * T + j) * hd + d]!;
        context[(h * T + i) * hd + d] = c;
        merged[i * D + h * hd + d] = c;
      }
    }
  }
  const output = woLayout === 'conv' ? linear(merged, T, D, wo, D, bo) : linearT(merged, T, D, wo, D, bo);
  return { Q, K, V: Vh, scores, weights, context, output };
}

interface Gpt2Ref {
  E: F;
  P: F;
  X: F;
  layers: { residual: F; input: F; att: RefAttention; x1: F; h2: F; out: F }[];
  final: F;
  logits: F;
}

function gpt2Ref(s: Gpt2Spec, w: Tensors, ids: readonly number[]): Gpt2Ref {
  const { D, H, I, V } = s;
  const T = ids.length;
  const hd = D / H;
  const E = new Float64Array(T * D);
  const Pp = new Float64Array(T * D);
  ids.forEach((id, i) => {
    for (let d = 0; d < D; d++) {
      E[i * D + d] = w['wte.weight']!.data[id * D + d]!;
      Pp[i * D + d] = w['wpe.weight']!.data[i * D + d]!;
    }
  });
  let x = add(E, Pp);
  const X = x;
  const layers: Gpt2Ref['layers'] = [];
  for (let l = 0; l < s.L; l++) {
    const g = (n: string) => w[`h.${l}.${n}`]!.data;
    const h = layerNormRef(x, T, D, g('ln_1.weight'), g('ln_1.bias'), s.eps);
    const qkv = linear(h, T, D, g('attn.c_attn.weight'), 3 * D, g('attn.c_attn.bias'));
    const part = (c: number): F => {
      const o = new Float64Array(T * D);
      for (let i = 0; i < T; i++) for (let d = 0; d < D; d++) o[i * D + d] = qkv[i * 3 * D + c * D + d]!;
      return o;
    };
    const scale = (s.scale ? 1 / Math.sqrt(hd) : 1) / (s.inverse ? l + 1 : 1);
    const att = attentionRef(
      part(0),
      part(1),
      part(2),
      T,
      H,
      hd,
      scale,
      true,
      g('attn.c_proj.weight'),
      g('attn.c_proj.bias'),
      'conv',
    );
    const x1 = add(x, att.output);
    const h2 = layerNormRef(x1, T, D, g('ln_2.weight'), g('ln_2.bias'), s.eps);
    const mid = linear(h2, T, D, g('mlp.c_fc.weight'), I, g('mlp.c_fc.bias')).map(ACT[s.act]!);
    const out = add(x1, linear(mid, T, I, g('mlp.c_proj.weight'), D, g('mlp.c_proj.bias')));
    layers.push({ residual: x, input: h, att, x1, h2, out });
    x = out;
  }
  const final = layerNormRef(x, T, D, w['ln_f.weight']!.data, w['ln_f.bias']!.data, s.eps);
  const logits = linearT(final, T, D, (s.tied ? w['wte.weight'] : w['lm_head.weight'])!.data, V);
  return { E, P: Pp, X, layers, final, logits };
}

function topKRef(logits: F, T: number, V: number, k: number): { ids: number[]; p: number[] } {
  const ids: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < T; i++) {
    const row = Array.from(logits.subarray(i * V, (i + 1) * V));
    const max = Math.max(...row);
    const z = row.reduce((a, v) => a + Math.exp(v - max), 0);
    const order = row.map((v, id) => ({ id, p: Math.exp(v - max) / z })).sort((a, b) => b.p - a.p);
    for (const o of order.slice(0, k)) {
      ids.push(o.id);
      p.push(o.p);
    }
  }
  return { ids, p };
}

function compareGpt2(trace: Trace, ref: Gpt2Ref, s: Gpt2Spec, what: string): void {
  const near = (a: Float32Array, e: F, name: string): void => assertClose(a, Array.from(e), `${what} ${name}`);
  near(t(stage(trace, 'embedding'), 'X').data, ref.X, 'X');
  near(t(stage(trace, 'embedding'), 'E').data, ref.E, 'E');
  near(t(stage(trace, 'embedding'), 'P').data, ref.P, 'P');
  ref.layers.forEach((r, l) => {
    near(t(stage(trace, `L${l}.input`), 'residual').data, r.residual, `L${l} residual`);
    near(t(stage(trace, `L${l}.input`), 'hidden').data, r.input, `L${l} ln_1`);
    for (const k of ['Q', 'K', 'V'] as const) near(t(stage(trace, `L${l}.qkv`), k).data, r.att[k], `L${l} ${k}`);
    near(t(stage(trace, `L${l}.scores`), 'scores').data, r.att.scores, `L${l} scores`);
    near(t(stage(trace, `L${l}.weights`), 'weights').data, r.att.weights, `L${l} weights`);
    near(t(stage(trace, `L${l}.context`), 'context').data, r.att.context, `L${l} context`);
    near(t(stage(trace, `L${l}.context`), 'output').data, r.att.output, `L${l} attention output`);
    near(t(stage(trace, `L${l}.output`), 'attention_residual').data, r.x1, `L${l} x + attention`);
    near(t(stage(trace, `L${l}.output`), 'mlp_input').data, r.h2, `L${l} ln_2`);
    near(t(stage(trace, `L${l}.output`), 'hidden').data, r.out, `L${l} output`);
  });
  near(t(stage(trace, 'output'), 'hidden').data, ref.final, 'ln_f');
  const T = trace.tokens.length;
  const k = t(stage(trace, 'output'), 'top_id').shape[1]!;
  const top = topKRef(ref.logits, T, s.V, k);
  assert.deepEqual(Array.from(t(stage(trace, 'output'), 'top_id').data), top.ids, `${what}: top-k ids`);
  assertClose(t(stage(trace, 'output'), 'top_p').data, top.p, `${what}: top-k probabilities`);
}

const isInputError = (code: string, pattern?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof AttentionInputError, `AttentionInputError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (pattern) assert.match(e.message, pattern);
  return true;
};

// ---------------------------------------------------------------------------------------------
// GPT-2

const TEXT = 'the cat sat in the hat, at';

const VARIANTS: { name: string; spec: Gpt2Spec; prefixed: boolean; extra?: Record<string, unknown>; seed: number }[] = [
  {
    name: 'GPT2LMHeadModel (transformer. prefix, tied lm_head, attention buffers)',
    spec: BASE,
    prefixed: true,
    seed: 1,
  },
  {
    name: 'GPT2Model names, untied lm_head, relu, n_inner 20, no √d scaling, 1/(l+1) scaling',
    spec: { ...BASE, I: 20, act: 'relu', scale: false, inverse: true, tied: false, eps: 1e-3 },
    prefixed: false,
    seed: 2,
  },
  {
    name: 'scaled by 1/(√d·(l+1)), gelu_pytorch_tanh, 3 layers, 4 heads',
    spec: { ...BASE, L: 3, H: 4, inverse: true },
    prefixed: true,
    extra: { activation_function: 'gelu_pytorch_tanh' },
    seed: 3,
  },
];

before(async () => {
  await initBackend();
});

after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

for (const v of VARIANTS) {
  test(`GPT-2 ${v.name}: every tensor matches the float64 loops; nothing leaks`, async () => {
    const w = gpt2Weights(v.spec, v.seed);
    const dir = writeFolder(
      gpt2Config(v.spec, v.extra),
      v.prefixed ? asLmHeadModel(w, v.spec) : w,
      GPT2_TOKENIZER.json,
    );
    const start = tf.memory().numTensors;
    const model = await loadGpt2(dir);
    try {
      assert.equal(model.info.family, 'gpt2');
      assert.equal(model.info.layers, v.spec.L);
      assert.equal(model.info.heads, v.spec.H);
      // Parameters: every real tensor once; the attn.bias / masked_bias buffers are not parameters.
      const expectedParams = Object.values(w).reduce((a, x) => a + x.data.length, 0);
      assert.equal(model.info.parameters, expectedParams);
      const trace = await model.run(TEXT, { topK: 4 });
      const ids = trace.tokens.map((x) => x.id);
      assert.ok(ids.length > 8 && ids.length <= v.spec.P, `${ids.length} tokens`);
      assert.ok(
        ids.includes(256 + MERGES.indexOf('Ġc at')) && ids.includes(256 + MERGES.indexOf('Ġt he')),
        'merged tokens (Ġcat, Ġthe) are used',
      );
      const ref = gpt2Ref(v.spec, w, ids);
      compareGpt2(trace, ref, v.spec, v.name);
      assertClose(await model.logits(ids), Array.from(ref.logits), `${v.name} logits`);
      const attention = stage(trace, 'L1.weights').attention!;
      assert.equal(attention.causal, true);
      assert.equal(attention.score, v.spec.scale ? 'scaled-dot' : 'dot');
      if (v.spec.inverse) {
        assert.ok(
          stage(trace, 'L1.scores').formula.endsWith(v.spec.scale ? `/ √${v.spec.D / v.spec.H}·2` : '/ 2'),
          stage(trace, 'L1.scores').formula,
        );
        assert.match(stage(trace, 'L1.scores').explanation, /l \+ 1 = 2/);
      } else {
        assert.equal(stage(trace, 'L1.scores').formula, 'S[h] = Q[h] K[h]ᵀ / √4');
      }
      assert.match(stage(trace, 'output').formula, v.spec.tied ? /Eᵀ/ : /W_outᵀ/);
    } finally {
      model.dispose();
    }
    assert.equal(tf.memory().numTensors, start, 'load + run + dispose leaves tf.memory() where it was');
  });
}

test('tied vs untied: the untied lm_head is used for the logits, and ignored when tie_word_embeddings is true', async () => {
  const spec = { ...BASE, tied: false };
  const w = gpt2Weights(spec, 7);
  const ids = [10, 200, 40, 5, 262];
  const untiedDir = writeFolder(gpt2Config(spec), asLmHeadModel(w, spec), GPT2_TOKENIZER.json);
  const tiedDir = writeFolder(
    gpt2Config(spec, { tie_word_embeddings: true }),
    asLmHeadModel(w, spec),
    GPT2_TOKENIZER.json,
  );
  const defaultTiedDir = writeFolder(
    gpt2Config(spec, { tie_word_embeddings: undefined }),
    asLmHeadModel(w, spec),
    GPT2_TOKENIZER.json,
  );
  const untied = await loadGpt2(untiedDir);
  const tied = await loadGpt2(tiedDir);
  const byDefault = await loadGpt2(defaultTiedDir);
  try {
    assert.equal(byDefault.config.tieEmbeddings, true, 'tie_word_embeddings defaults to true');
    assertClose(await untied.logits(ids), Array.from(gpt2Ref(spec, w, ids).logits), 'untied logits');
    const tiedRef = Array.from(gpt2Ref({ ...spec, tied: true }, w, ids).logits);
    assertClose(await tied.logits(ids), tiedRef, 'tied logits');
    assertClose(await byDefault.logits(ids), tiedRef, 'default (tied) logits');
    assert.ok(untied.info.parameters! > tied.info.parameters!, 'an untied head counts as parameters');
  } finally {
    untied.dispose();
    tied.dispose();
    byDefault.dispose();
  }
});

test('greedy decoding picks the float64 argmax at every step and continueText decodes it', async () => {
  const w = gpt2Weights(BASE, 11);
  const model = await loadGpt2(writeFolder(gpt2Config(BASE), asLmHeadModel(w, BASE), GPT2_TOKENIZER.json));
  try {
    const prompt = model.tokenizer.encodeIds('the cat');
    const got = await model.generate(prompt, 5);
    const want: number[] = [];
    for (let step = 0; step < 5; step++) {
      const ctx = [...prompt, ...want];
      const logits = gpt2Ref(BASE, w, ctx).logits.subarray((ctx.length - 1) * BASE.V);
      let best = 0;
      for (let i = 1; i < BASE.V; i++) if (logits[i]! > logits[best]!) best = i;
      want.push(best);
      if (best === EOT) break;
    }
    assert.deepEqual(got, want);
    const text = await model.continueText('the cat', 5);
    assert.equal(text, model.tokenizer.decode(want));
    // Longer than n_positions: the context slides instead of failing.
    const long = await model.generate(
      Array.from({ length: BASE.P }, (_, i) => 40 + i),
      2,
    );
    assert.ok(long.length >= 1);
  } finally {
    model.dispose();
  }
});

test('the causal mask: masked weights are exact zeros, the mask tensor is lower-triangular, rows sum to 1', async () => {
  const model = await loadGpt2(
    writeFolder(gpt2Config(BASE), asLmHeadModel(gpt2Weights(BASE, 5), BASE), GPT2_TOKENIZER.json),
  );
  try {
    const trace = await model.run(TEXT);
    const T = trace.tokens.length;
    for (let l = 0; l < BASE.L; l++) {
      const mask = t(stage(trace, `L${l}.scores`), 'mask').data;
      const w = t(stage(trace, `L${l}.weights`), 'weights').data;
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) assert.equal(mask[i * T + j], j <= i ? 1 : 0);
        for (let h = 0; h < BASE.H; h++) {
          let sum = 0;
          for (let j = 0; j < T; j++) {
            const a = w[(h * T + i) * T + j]!;
            if (j > i) assert.ok(Object.is(a, 0), `L${l} head ${h}: weight[${i}][${j}] = ${a} is not exactly 0`);
            else assert.ok(a > 0);
            sum += a;
          }
          assert.ok(Math.abs(sum - 1) < 1e-6, `row ${i} sums to ${sum}`);
        }
      }
      // The scores above the diagonal are real numbers (shown, then masked), not −∞.
      assert.ok(Array.from(t(stage(trace, `L${l}.scores`), 'scores').data).every(Number.isFinite));
    }
    const first = trace.predictions![0]!;
    assert.equal(first.position, 0);
    assert.equal(trace.predictions!.length, T);
    assert.ok(first.top[0]!.p >= first.top[1]!.p);
  } finally {
    model.dispose();
  }
});

test('the trace: stage order, kinds, axes, tokens with offsets, explanations', async () => {
  const model = await loadGpt2(
    writeFolder(gpt2Config(BASE), asLmHeadModel(gpt2Weights(BASE, 5), BASE), GPT2_TOKENIZER.json),
  );
  try {
    const trace = await model.run(TEXT);
    const ids = ['tokens', 'embedding'];
    for (let l = 0; l < BASE.L; l++)
      ids.push(`L${l}.input`, `L${l}.qkv`, `L${l}.scores`, `L${l}.weights`, `L${l}.context`, `L${l}.output`);
    ids.push('output');
    assert.deepEqual(
      trace.stages.map((s) => s.id),
      ids,
    );
    assert.equal(stage(trace, 'output').kind, 'decoder-step');
    assert.deepEqual(t(stage(trace, 'L0.qkv'), 'Q').shape, [BASE.H, trace.tokens.length, BASE.D / BASE.H]);
    assert.deepEqual(t(stage(trace, 'L0.weights'), 'weights').tokenAxes, { query: 'input', key: 'input' });
    assert.match(stage(trace, 'L0.qkv').explanation, /c_attn/);
    assert.match(stage(trace, 'L0.input').title, /pre-norm/);
    for (const s of trace.stages) assert.ok(s.explanation.length > 60 && s.formula.length > 0, s.id);
    // GPT-2 adds no start token; every token has a span of the text that spells it.
    assert.ok(!trace.tokens.some((x) => x.special));
    const chars = byteChars();
    for (const tok of trace.tokens) {
      const spelled = [...Buffer.from(TEXT.slice(tok.start, tok.end), 'utf8')].map((b) => chars[b]).join('');
      assert.equal(spelled, tok.text);
    }
    assert.equal(trace.text, TEXT);
    assert.deepEqual(trace.warnings, []);
  } finally {
    model.dispose();
  }
});

test('truncation: at n_positions by default, at maxTokens when asked, with warnings naming the limit', async () => {
  const model = await loadGpt2(
    writeFolder(gpt2Config(BASE), asLmHeadModel(gpt2Weights(BASE, 5), BASE), GPT2_TOKENIZER.json),
  );
  try {
    const text = 'the cat sat in the hat '.repeat(10);
    const full = await model.run(text);
    assert.equal(full.tokens.length, BASE.P);
    assert.ok(
      full.warnings.some((w) => /truncated to 16 tokens/.test(w) && /n_positions/.test(w)),
      full.warnings.join('; '),
    );
    assert.ok(full.text.length < text.length && text.startsWith(full.text));
    assert.equal(full.text.length, full.tokens.at(-1)!.end);
    const over = await model.run(text, { maxTokens: 1000 });
    // Clamping to the model's own context is a note for the header, not a warning.
    assert.ok(
      (over.notes ?? []).some((w) =>
        /maxTokens 1000 is more than this model's 16 learned positions \(n_positions\)/.test(w),
      ),
      (over.notes ?? []).join('; '),
    );
    assert.ok(!over.warnings.some((w) => /is more than this model's/.test(w)), over.warnings.join('; '));
    assert.equal(over.tokens.length, BASE.P);
    const short = await model.run(text, { maxTokens: 5 });
    assert.equal(short.tokens.length, 5);
    assert.ok(
      short.warnings.some((w) => /truncated to 5 tokens \(maxTokens is 5\)/.test(w)),
      short.warnings.join('; '),
    );
    await assert.rejects(
      model.logits(Array.from({ length: BASE.P + 1 }, () => 40)),
      isInputError('too-long', /16 learned positions/),
    );
    await assert.rejects(model.logits([BASE.V]), isInputError('shape', /outside the embedding table/));
    for (const empty of ['', '  \n ']) await assert.rejects(model.run(empty), isInputError('empty'));
  } finally {
    model.dispose();
  }
});

test('cancellation (before, between layers, during load) throws "cancelled" and leaks no tensors', async () => {
  const spec = { ...BASE, L: 4 };
  const dir = writeFolder(gpt2Config(spec), asLmHeadModel(gpt2Weights(spec, 5), spec), GPT2_TOKENIZER.json);
  const start = tf.memory().numTensors;
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(loadGpt2(dir, { signal: pre.signal }), isInputError('cancelled'));
  assert.equal(tf.memory().numTensors, start, 'a cancelled load allocates nothing');
  const model = await loadGpt2(dir);
  const loaded = tf.memory().numTensors;
  try {
    await assert.rejects(model.run(TEXT, { signal: pre.signal }), isInputError('cancelled'));
    const mid = new AbortController();
    const seen: string[] = [];
    await assert.rejects(
      model.run(TEXT, {
        signal: mid.signal,
        onProgress: (f, m) => {
          seen.push(m);
          if (f >= 0.4) mid.abort();
        },
      }),
      isInputError('cancelled'),
    );
    assert.ok(
      seen.includes('Running layer 1 (layers 0–3)') && !seen.includes('Running layer 3 (layers 0–3)'),
      seen.join(', '),
    );
    assert.equal(tf.memory().numTensors, loaded, 'a cancelled run leaks nothing');
    const gen = new AbortController();
    gen.abort();
    await assert.rejects(model.generate([40, 41], 3, gen.signal), isInputError('cancelled'));
    assert.equal(tf.memory().numTensors, loaded);
  } finally {
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, start);
});

test('weights that do not fit config.json: messages name the tensor, its shape and the expected one; nothing leaks', async () => {
  const start = tf.memory().numTensors;
  const w = gpt2Weights(BASE, 5);
  const cases: { name: string; tensors: Tensors; config?: Record<string, unknown>; code: string; pattern: RegExp }[] = [
    {
      name: 'c_attn saved as a torch Linear [3D, D]',
      tensors: { ...asLmHeadModel(w, BASE), 'transformer.h.1.attn.c_attn.weight': randomTensor(rng(1), [24, 8], 0.1) },
      code: 'shape',
      pattern:
        /^transformer\.h\.1\.attn\.c_attn\.weight is 24×8 but n_embd × 3·n_embd \(Conv1D stores \[in, out\]\) is 8×24/,
    },
    {
      name: 'n_inner in the config disagrees with c_fc',
      tensors: asLmHeadModel(w, BASE),
      config: { n_inner: 16 },
      code: 'shape',
      pattern: /^transformer\.h\.0\.mlp\.c_fc\.weight is 8×32 but n_embd × n_inner .* is 8×16/,
    },
    {
      name: 'wpe shorter than n_positions',
      tensors: { ...w, 'wpe.weight': randomTensor(rng(1), [8, 8], 0.1) },
      code: 'shape',
      pattern: /^wpe\.weight is 8×8 but n_positions × n_embd is 16×8/,
    },
    {
      name: 'a missing ln_f.bias',
      tensors: Object.fromEntries(Object.entries(w).filter(([k]) => k !== 'ln_f.bias')),
      code: 'file',
      pattern: /has no tensor "transformer\.ln_f\.bias" or "ln_f\.bias"/,
    },
    {
      name: 'one layer fewer than n_layer',
      tensors: Object.fromEntries(Object.entries(w).filter(([k]) => !k.startsWith('h.1.'))),
      code: 'file',
      pattern: /"h\.1\.ln_1\.weight".*n_layer = 2/,
    },
    {
      name: 'untied without lm_head.weight',
      tensors: w,
      config: { tie_word_embeddings: false },
      code: 'file',
      pattern: /no tensor "lm_head\.weight".*tie_word_embeddings/,
    },
    {
      name: 'an untied lm_head of the wrong size',
      tensors: { ...w, 'lm_head.weight': randomTensor(rng(1), [BASE.V - 1, 8], 0.1) },
      config: { tie_word_embeddings: false },
      code: 'shape',
      pattern: new RegExp(`^lm_head\\.weight is ${BASE.V - 1}×8 but vocab_size × n_embd is ${BASE.V}×8`),
    },
    {
      name: 'a BERT config in the folder',
      tensors: w,
      config: { model_type: 'bert' },
      code: 'unsupported',
      pattern: /"bert" model, not GPT-2.*llama, gpt2, bert, distilbert, roberta.*marian/,
    },
    {
      name: 'a tokenizer larger than vocab_size',
      tensors: w,
      config: { vocab_size: 100 },
      code: 'shape',
      pattern: new RegExp(`tokenizer has ${BASE.V} tokens but config\\.json's vocab_size is 100`),
    },
  ];
  assert.equal(BASE.V, 256 + MERGES.length + 1, 'the tiny vocabulary: 256 bytes, the merges, <|endoftext|>');
  for (const c of cases) {
    const dir = writeFolder(gpt2Config(BASE, c.config), c.tensors, GPT2_TOKENIZER.json);
    await assert.rejects(loadGpt2(dir), isInputError(c.code, c.pattern), c.name);
    assert.equal(tf.memory().numTensors, start, `${c.name}: a failed load leaves tf.memory() where it was`);
  }
});

test('config.json: GPT2Config defaults, aliases and clear errors for bad values', () => {
  const d = parseGpt2Config({ model_type: 'gpt2' });
  assert.deepEqual(
    {
      D: d.hiddenSize,
      H: d.numHeads,
      L: d.numLayers,
      P: d.maxPositions,
      V: d.vocabSize,
      I: d.innerSize,
      hd: d.headDim,
    },
    { D: 768, H: 12, L: 12, P: 1024, V: 50257, I: 3072, hd: 64 },
  );
  assert.equal(d.eps, 1e-5);
  assert.equal(d.activation, 'gelu_new');
  assert.equal(d.scaleAttnWeights, true);
  assert.equal(d.scaleByInverseLayerIdx, false);
  assert.equal(d.tieEmbeddings, true);
  const a = parseGpt2Config({
    architectures: ['GPT2LMHeadModel'],
    hidden_size: 64,
    num_attention_heads: 4,
    num_hidden_layers: 3,
    max_position_embeddings: 128,
    n_inner: null,
    vocab_size: 300,
  });
  assert.deepEqual(
    [a.hiddenSize, a.numHeads, a.numLayers, a.maxPositions, a.innerSize, a.headDim],
    [64, 4, 3, 128, 256, 16],
  );
  const same = parseGpt2Config({ model_type: 'gpt2', n_embd: 64, hidden_size: 64, n_head: 8 });
  assert.equal(same.headDim, 8);
  assert.equal(
    parseGpt2Config({ model_type: 'gpt2', activation_function: 'gelu_pytorch_tanh' }).activation,
    'gelu_new',
  );
  assert.equal(parseGpt2Config({ model_type: 'gpt2', activation_function: 'gelu' }).activation, 'gelu');
  assert.equal(parseGpt2Config({ model_type: 'gpt2', eos_token_id: 50256 }).eosId, 50256);
  const err = (raw: unknown): string => {
    try {
      parseGpt2Config(raw, 'my/config.json');
    } catch (e) {
      assert.ok(e instanceof AttentionInputError);
      return `${e.code}: ${e.message}`;
    }
    return 'ok';
  };
  const g = { model_type: 'gpt2' };
  assert.match(err({ ...g, n_head: 5 }), /^config: my\/config\.json: n_embd 768 is not divisible by n_head 5/);
  assert.match(err({ ...g, n_layer: 0 }), /^config: .*"n_layer" must be a positive integer, not 0/);
  assert.match(err({ ...g, n_embd: 12.5 }), /^config: .*"n_embd" must be a positive integer, not 12\.5/);
  assert.match(
    err({ ...g, num_hidden_layers: '2' }),
    /^config: .*"num_hidden_layers" must be a positive integer, not "2"/,
  );
  assert.match(
    err({ ...g, n_embd: 64, hidden_size: 128 }),
    /^config: .*"n_embd" is 64 but its alias "hidden_size" is 128/,
  );
  assert.match(
    err({ ...g, layer_norm_epsilon: -1 }),
    /^config: .*"layer_norm_epsilon" must be a positive number, not -1/,
  );
  assert.match(err({ ...g, n_inner: 0 }), /^config: .*"n_inner"/);
  assert.match(
    err({ ...g, scale_attn_weights: 'yes' }),
    /^config: .*"scale_attn_weights" must be true or false, not "yes"/,
  );
  assert.match(err({ ...g, tie_word_embeddings: 1 }), /^config: .*"tie_word_embeddings" must be true or false/);
  assert.match(
    err({ ...g, activation_function: 'mish' }),
    /^unsupported: .*"mish" is not supported \(supported: gelu, gelu_new, relu, silu, swish, gelu_pytorch_tanh\)/,
  );
  assert.match(err({ ...g, add_cross_attention: true }), /^unsupported: .*add_cross_attention/);
  // The list grows with every family: the message names the original networks in order, then every supported model_type.
  const wrongFamily = err({ model_type: 'llama' });
  assert.match(
    wrongFamily,
    /^unsupported: my\/config\.json describes a "llama" model, not GPT-2 \("gpt2"\)\. Supported model_type values: llama, gpt2, bert, distilbert, roberta \(and xlm-roberta\), marian[,.]/,
  );
  for (const family of Object.keys(HF_FAMILIES))
    assert.ok(wrongFamily.includes(family), `the message names ${family}: ${wrongFamily}`);
  assert.match(err({ n_embd: 8 }), /^config: .*no "model_type".*Supported families: llama, gpt2/);
  assert.match(err([1]), /^config: my\/config\.json is not a JSON object/);
  assert.match(err(null), /^config: .*not a JSON object/);
});

// ---------------------------------------------------------------------------------------------
// RoBERTa (in the BERT loader)

const ROBERTA_TOKENIZER = byteLevelTokenizer(['<s>', '<pad>', '</s>', '<unk>'], ['<mask>'], {
  type: 'RobertaProcessing',
  sep: ['</s>', 2],
  cls: ['<s>', 0],
  trim_offsets: true,
  add_prefix_space: false,
});
const ROBERTA_TOKENIZER_CONFIG = {
  bos_token: '<s>',
  eos_token: '</s>',
  cls_token: '<s>',
  sep_token: '</s>',
  pad_token: '<pad>',
  unk_token: '<unk>',
  mask_token: '<mask>',
};

interface RobertaSpec {
  D: number;
  H: number;
  L: number;
  I: number;
  V: number;
  table: number;
  pad: number;
  eps: number;
  act: 'gelu_new' | 'relu';
}

const RB: RobertaSpec = {
  D: 8,
  H: 2,
  L: 2,
  I: 16,
  V: ROBERTA_TOKENIZER.size,
  table: 14,
  pad: 1,
  eps: 1e-5,
  act: 'relu',
};

function robertaWeights(s: RobertaSpec, seed: number, prefix: string): Tensors {
  const r = rng(seed);
  const p = prefix;
  const w: Tensors = {
    [p + 'embeddings.word_embeddings.weight']: randomTensor(r, [s.V, s.D], 0.5),
    [p + 'embeddings.position_embeddings.weight']: randomTensor(r, [s.table, s.D], 0.5),
    [p + 'embeddings.token_type_embeddings.weight']: randomTensor(r, [1, s.D], 0.3),
    [p + 'embeddings.LayerNorm.weight']: randomTensor(r, [s.D], 0.2, 1),
    [p + 'embeddings.LayerNorm.bias']: randomTensor(r, [s.D], 0.1),
    [p + 'pooler.dense.weight']: randomTensor(r, [s.D, s.D], 0.3),
    [p + 'pooler.dense.bias']: randomTensor(r, [s.D], 0.1),
    'lm_head.dense.weight': randomTensor(r, [s.D, s.D], 0.6),
    'lm_head.dense.bias': randomTensor(r, [s.D], 0.2),
    'lm_head.layer_norm.weight': randomTensor(r, [s.D], 0.2, 1),
    'lm_head.layer_norm.bias': randomTensor(r, [s.D], 0.1),
    'lm_head.bias': randomTensor(r, [s.V], 0.3),
  };
  for (let l = 0; l < s.L; l++) {
    const q = `${p}encoder.layer.${l}.`;
    const lin = (name: string, out: number, inp: number): void => {
      w[q + name + '.weight'] = randomTensor(r, [out, inp], 0.5);
      w[q + name + '.bias'] = randomTensor(r, [out], 0.1);
    };
    const ln = (name: string): void => {
      w[q + name + '.weight'] = randomTensor(r, [s.D], 0.2, 1);
      w[q + name + '.bias'] = randomTensor(r, [s.D], 0.1);
    };
    lin('attention.self.query', s.D, s.D);
    lin('attention.self.key', s.D, s.D);
    lin('attention.self.value', s.D, s.D);
    lin('attention.output.dense', s.D, s.D);
    ln('attention.output.LayerNorm');
    lin('intermediate.dense', s.I, s.D);
    lin('output.dense', s.D, s.I);
    ln('output.LayerNorm');
  }
  return w;
}

/** RobertaForMaskedLM in float64 loops: positions from pad + 1 (HF's create_position_ids_from_input_ids), post-norm layers, exact-GELU head. */
function robertaRef(
  s: RobertaSpec,
  w: Tensors,
  ids: readonly number[],
  prefix: string,
): { X: F; hidden: F[]; mlm: F; logits: F; positions: number[] } {
  const { D, H, I, V } = s;
  const T = ids.length;
  const g = (n: string) => w[prefix + n]!.data;
  let count = 0;
  const positions = ids.map((id) => (id === s.pad ? s.pad : s.pad + ++count));
  const sum = new Float64Array(T * D);
  ids.forEach((id, i) => {
    for (let d = 0; d < D; d++) {
      sum[i * D + d] =
        g('embeddings.word_embeddings.weight')[id * D + d]! +
        g('embeddings.position_embeddings.weight')[positions[i]! * D + d]! +
        g('embeddings.token_type_embeddings.weight')[d]!;
    }
  });
  let x = layerNormRef(sum, T, D, g('embeddings.LayerNorm.weight'), g('embeddings.LayerNorm.bias'), s.eps);
  const X = x;
  const hidden: F[] = [];
  for (let l = 0; l < s.L; l++) {
    const q = (n: string) => g(`encoder.layer.${l}.${n}`);
    const proj = (n: string): F => linearT(x, T, D, q(n + '.weight'), D, q(n + '.bias'));
    const att = attentionRef(
      proj('attention.self.query'),
      proj('attention.self.key'),
      proj('attention.self.value'),
      T,
      H,
      D / H,
      1 / Math.sqrt(D / H),
      false,
      q('attention.output.dense.weight'),
      q('attention.output.dense.bias'),
      'linear',
    );
    const h1 = layerNormRef(
      add(x, att.output),
      T,
      D,
      q('attention.output.LayerNorm.weight'),
      q('attention.output.LayerNorm.bias'),
      s.eps,
    );
    const mid = linearT(h1, T, D, q('intermediate.dense.weight'), I, q('intermediate.dense.bias')).map(ACT[s.act]!);
    x = layerNormRef(
      add(h1, linearT(mid, T, I, q('output.dense.weight'), D, q('output.dense.bias'))),
      T,
      D,
      q('output.LayerNorm.weight'),
      q('output.LayerNorm.bias'),
      s.eps,
    );
    hidden.push(x);
  }
  const mlm = layerNormRef(
    linearT(x, T, D, w['lm_head.dense.weight']!.data, D, w['lm_head.dense.bias']!.data).map(ACT['gelu']!),
    T,
    D,
    w['lm_head.layer_norm.weight']!.data,
    w['lm_head.layer_norm.bias']!.data,
    s.eps,
  );
  const logits = linearT(mlm, T, D, g('embeddings.word_embeddings.weight'), V, w['lm_head.bias']!.data);
  return { X, hidden, mlm, logits, positions };
}

function robertaConfig(s: RobertaSpec, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model_type: 'roberta',
    architectures: ['RobertaForMaskedLM'],
    hidden_size: s.D,
    num_attention_heads: s.H,
    num_hidden_layers: s.L,
    intermediate_size: s.I,
    vocab_size: s.V,
    max_position_embeddings: s.table,
    type_vocab_size: 1,
    pad_token_id: s.pad,
    bos_token_id: 0,
    eos_token_id: 2,
    layer_norm_eps: s.eps,
    hidden_act: s.act,
    ...extra,
  };
}

for (const prefix of ['roberta.', '']) {
  test(`RoBERTa (${prefix ? 'roberta. prefix' : 'no prefix'}): offset positions, <s> … </s>, exact-GELU MLM head match the float64 loops`, async () => {
    const w = robertaWeights(RB, 21, prefix);
    const dir = writeFolder(robertaConfig(RB), w, ROBERTA_TOKENIZER.json, ROBERTA_TOKENIZER_CONFIG);
    const start = tf.memory().numTensors;
    const model: BertModel = await loadBert(dir);
    try {
      assert.equal(model.info.family, 'roberta');
      assert.equal(model.config.maxPositions, RB.table - RB.pad - 1);
      assert.ok(model.hasMlmHead);
      const text = 'the cat <mask> in';
      const trace = await model.run(text, { topK: 3 });
      const toks = trace.tokens;
      assert.equal(toks[0]!.text, '<s>');
      assert.equal(toks.at(-1)!.text, '</s>');
      assert.equal(toks[0]!.id, 0);
      assert.equal(toks.at(-1)!.id, 2);
      const mask = toks.find((x) => x.text === '<mask>')!;
      assert.ok(mask.special && text.slice(mask.start, mask.end).trim() === '<mask>');
      const ids = toks.map((x) => x.id);
      const ref = robertaRef(RB, w, ids, prefix);
      assert.deepEqual(Array.from(model.positionIds(ids)), ref.positions);
      assert.deepEqual(ref.positions.slice(0, 3), [2, 3, 4], 'token i reads row i + padding_idx + 1');
      assertClose(t(stage(trace, 'embedding'), 'X').data, Array.from(ref.X), 'RoBERTa embedding');
      ref.hidden.forEach((h, l) =>
        assertClose(t(stage(trace, `L${l}.output`), 'hidden').data, Array.from(h), `RoBERTa L${l}`),
      );
      assertClose(
        t(stage(trace, 'output'), 'hidden').data,
        Array.from(ref.mlm),
        'RoBERTa MLM hidden (exact GELU even though hidden_act is relu)',
      );
      assertClose((await model.logits(ids))!, Array.from(ref.logits), 'RoBERTa logits');
      const top = topKRef(ref.logits, ids.length, RB.V, 3);
      assert.deepEqual(Array.from(t(stage(trace, 'output'), 'top_id').data), top.ids);
      assert.match(stage(trace, 'embedding').formula, /P\[i\+2\]/);
      assert.match(stage(trace, 'tokens').formula, /<s> w₁ … wₙ <\/s>/);
      assert.match(stage(trace, 'output').formula, /gelu\(/);
      // A typed <pad> takes position padding_idx and does not advance the count (HF's cumsum rule).
      const padded = [0, 200, 1, 201, 2];
      const padRef = robertaRef(RB, w, padded, prefix);
      assert.deepEqual(padRef.positions, [2, 3, 1, 4, 5]);
      assert.deepEqual(Array.from(model.positionIds(padded)), padRef.positions);
      assertClose((await model.logits(padded))!, Array.from(padRef.logits), 'RoBERTa logits with a <pad>');
    } finally {
      model.dispose();
    }
    assert.equal(tf.memory().numTensors, start);
  });
}

test('RoBERTa: the usable length is max_position_embeddings − padding_idx − 1, with truncation warnings', async () => {
  const model = await loadBert(
    writeFolder(
      robertaConfig(RB),
      robertaWeights(RB, 22, 'roberta.'),
      ROBERTA_TOKENIZER.json,
      ROBERTA_TOKENIZER_CONFIG,
    ),
  );
  try {
    const text = 'the cat sat in the hat '.repeat(6);
    const full = await model.run(text);
    assert.equal(full.tokens.length, 12);
    assert.ok(
      full.warnings.some((w) => /truncated to 12 tokens \(including <s> and <\/s>\)/.test(w)),
      full.warnings.join('; '),
    );
    const over = await model.run(text, { maxTokens: 14 });
    assert.ok(
      (over.notes ?? []).some((w) =>
        /more than this model's 12 positions \(max_position_embeddings 14 minus the 2 rows before the first position/.test(
          w,
        ),
      ),
      (over.notes ?? []).join('; '),
    );
    assert.equal(over.tokens.length, 12);
    await assert.rejects(model.logits(Array.from({ length: 13 }, () => 40)), isInputError('shape', /12 positions/));
  } finally {
    model.dispose();
  }
});

test('RoBERTa / XLM-RoBERTa config parsing', () => {
  const base = robertaConfig(RB);
  const c = parseBertConfig(base);
  assert.deepEqual(
    [c.family, c.positionTable, c.positionOffset, c.maxPositions, c.padId, c.mlmActivation, c.activation],
    ['roberta', 14, 2, 12, 1, 'gelu', 'relu'],
  );
  const noPad = parseBertConfig({ ...base, pad_token_id: undefined, max_position_embeddings: 514 });
  assert.deepEqual(
    [noPad.padId, noPad.maxPositions],
    [1, 512],
    'pad_token_id defaults to 1: roberta-base fits 512 tokens',
  );
  assert.equal(parseBertConfig({ ...base, pad_token_id: 0 }).positionOffset, 1);
  assert.equal(parseBertConfig({ ...base, model_type: 'xlm-roberta' }).family, 'xlm-roberta');
  assert.equal(
    parseBertConfig({ ...base, model_type: undefined, architectures: ['XLMRobertaForMaskedLM'] }).family,
    'xlm-roberta',
  );
  assert.equal(parseBertConfig({ ...base, model_type: undefined, architectures: ['RobertaModel'] }).family, 'roberta');
  const b = parseBertConfig({ ...base, model_type: 'bert' });
  assert.deepEqual(
    [b.positionOffset, b.maxPositions, b.padId, b.mlmActivation],
    [0, 14, undefined, 'relu'],
    'BERT keeps positions from 0 and hidden_act in its head',
  );
  const err = (raw: unknown): string => {
    try {
      parseBertConfig(raw);
    } catch (e) {
      assert.ok(e instanceof AttentionInputError);
      return `${e.code}: ${e.message}`;
    }
    return 'ok';
  };
  assert.match(err({ ...base, max_position_embeddings: 2 }), /^config: .*no positions after the padding offset/);
  assert.match(err({ ...base, pad_token_id: -1 }), /^config: .*"pad_token_id" must be a non-negative integer/);
  assert.match(
    err({ ...base, model_type: 'gpt2' }),
    /^unsupported: .*"gpt2" model.*Supported model_type values: llama, gpt2, bert, distilbert, roberta, xlm-roberta, marian/,
  );
});

test('RoBERTa weights that do not fit: messages name the tensor; nothing leaks', async () => {
  const start = tf.memory().numTensors;
  const w = robertaWeights(RB, 23, 'roberta.');
  const dir = writeFolder(
    robertaConfig(RB, { max_position_embeddings: 512 }),
    w,
    ROBERTA_TOKENIZER.json,
    ROBERTA_TOKENIZER_CONFIG,
  );
  await assert.rejects(
    loadBert(dir),
    isInputError(
      'shape',
      /^roberta\.embeddings\.position_embeddings\.weight is 14×8 but max_position_embeddings × hidden_size is 512×8/,
    ),
  );
  const bad = writeFolder(
    robertaConfig(RB),
    { ...w, 'lm_head.dense.weight': randomTensor(rng(3), [8, 4], 0.1) },
    ROBERTA_TOKENIZER.json,
    ROBERTA_TOKENIZER_CONFIG,
  );
  await assert.rejects(
    loadBert(bad),
    isInputError('shape', /^lm_head\.dense\.weight is 8×4 but hidden_size × hidden_size is 8×8/),
  );
  assert.equal(tf.memory().numTensors, start);
});
