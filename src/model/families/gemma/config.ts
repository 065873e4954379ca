// Gemma's config.json → the Transformer block, for all three generations (gemma2/ and gemma3/ give
// only their layout, as qwen2/ does for Llama's). Gemma: Llama's layout with a GeGLU MLP
// (gelu_pytorch_tanh), RMSNorm gains stored as w and applied as 1 + w, embeddings × √hidden_size and an
// explicit head_dim. Gemma 2 adds norms after attention and the MLP, soft-capped scores and logits,
// query_pre_attn_scalar for the score scale and local (sliding-window) layers alternating with global
// ones. Gemma 3 adds QK-norm and its own local/global pattern, local layers rotating with
// rope_local_base_freq and global ones with rope_theta (and rope_scaling).
import { configReader } from '../../formats/hfFolder';
import type { Activation } from '../../layers/activations';
import type { RopeConfig } from '../../layers/positions';
import type { BlockConfig } from '../../transformer/config';
import type { LlamaConfig } from '../llama/config';
import { AttentionInputError } from '../../../../shared/trace';

export type GemmaGeneration = 1 | 2 | 3;
export type LayerType = 'sliding_attention' | 'full_attention';

/** What differs between the Gemma generations' configs. */
export interface GemmaLayout {
  readonly generation: GemmaGeneration;
  readonly modelType: string;
  readonly name: string;
  readonly architecture: string;
  /** GemmaConfig / Gemma2Config / Gemma3TextConfig defaults. */
  readonly maxPositions: number;
  readonly ropeTheta: number;
  /** Used when the key is absent (null means none): Gemma2Config's 50 and 30, Gemma3TextConfig's none. */
  readonly attnSoftCap?: number;
  readonly finalSoftCap?: number;
}

export const GEMMA_LAYOUT: GemmaLayout = {
  generation: 1,
  modelType: 'gemma',
  name: 'Gemma',
  architecture: 'GemmaForCausalLM',
  maxPositions: 8192,
  ropeTheta: 10000,
};

/** The sizes Gemma shares with the Llama layout (ropeTheta: the global layers' base, every layer's before Gemma 3). */
type LlamaSizes = Pick<
  LlamaConfig,
  | 'hiddenSize'
  | 'numHeads'
  | 'numKvHeads'
  | 'headDim'
  | 'numLayers'
  | 'intermediateSize'
  | 'vocabSize'
  | 'maxPositions'
  | 'rmsEps'
  | 'ropeTheta'
>;

export interface GemmaConfig extends LlamaSizes {
  readonly generation: GemmaGeneration;
  /** 'Gemma', 'Gemma 2', 'Gemma 3'. */
  readonly name: string;
  readonly modelType: string;
  /** Gemma 3's local layers' RoPE base (rope_local_base_freq). */
  readonly ropeLocalTheta: number | undefined;
  /** rope_scaling {rope_type: linear, factor}: global layers' frequencies divided by this. */
  readonly ropeLinearFactor: number | undefined;
  readonly activation: Extract<Activation, 'gelu_pytorch_tanh' | 'gelu'>;
  /** Scores are QKᵀ / √queryPreAttnScalar (Gemma 2/3's query_pre_attn_scalar; head_dim for Gemma). */
  readonly queryPreAttnScalar: number;
  readonly attnSoftCap: number | undefined;
  readonly finalSoftCap: number | undefined;
  readonly slidingWindow: number | undefined;
  readonly layerTypes: readonly LayerType[];
  /** √hidden_size rounded to float32: HF's `torch.tensor(hidden_size ** 0.5, dtype=hidden_states.dtype)`. */
  readonly embedScale: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
}

const optionalPositive = (
  c: Record<string, unknown>,
  key: string,
  where: string,
  fallback: number | undefined,
): number | undefined => {
  const v = c[key] !== undefined ? c[key] : fallback; // absent: the config class's default; null: none
  if (v == null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new AttentionInputError(
      'config',
      `${where}: "${key}" must be a positive number or null, not ${JSON.stringify(v)}.`,
    );
  return v;
};

function readLayerTypes(
  c: Record<string, unknown>,
  where: string,
  layout: GemmaLayout,
  L: number,
  window: number | undefined,
): LayerType[] {
  const given = c['layer_types'];
  let types: LayerType[];
  if (given != null) {
    if (
      !Array.isArray(given) ||
      given.length !== L ||
      given.some((t) => t !== 'sliding_attention' && t !== 'full_attention')
    ) {
      throw new AttentionInputError(
        'config',
        `${where}: "layer_types" must list "sliding_attention" or "full_attention" for each of the ${L} layers, not ${JSON.stringify(given)}.`,
      );
    }
    types = given as LayerType[];
  } else if (layout.generation === 1) {
    types = Array.from({ length: L }, () => 'full_attention');
  } else {
    // Gemma 2: even layers are local; Gemma 3: every sliding_window_pattern-th layer is global.
    const raw = layout.generation === 2 ? 2 : (c['sliding_window_pattern'] ?? c['_sliding_window_pattern'] ?? 6);
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1)
      throw new AttentionInputError(
        'config',
        `${where}: "sliding_window_pattern" must be a positive integer, not ${JSON.stringify(raw)}.`,
      );
    types = Array.from({ length: L }, (_, i) => ((i + 1) % raw !== 0 ? 'sliding_attention' : 'full_attention'));
  }
  if (types.includes('sliding_attention') && window === undefined)
    throw new AttentionInputError(
      'config',
      `${where}: layers are "sliding_attention" but "sliding_window" is not set.`,
    );
  return types;
}

/** A rope_scaling (or transformers 5 rope_parameters entry) → the linear factor; anything but linear or default is refused. */
function linearFactor(
  rs: unknown,
  where: string,
  key: string,
  layout: GemmaLayout,
  allowed: boolean,
): number | undefined {
  if (rs == null) return undefined;
  const r = rs as Record<string, unknown>;
  const type = r['rope_type'] ?? r['type'] ?? 'default';
  if (type === 'default') return undefined;
  if (allowed && type === 'linear' && typeof r['factor'] === 'number' && r['factor'] > 0) return r['factor'];
  throw new AttentionInputError(
    'unsupported',
    `${where}: ${key} ${JSON.stringify(rs)} is not supported for ${layout.name}; ${allowed ? 'only {"rope_type": "linear", "factor": …} is' : 'only plain RoPE is'}.`,
  );
}

/** RoPE bases and scaling from rope_theta / rope_local_base_freq / rope_scaling, or transformers 5's rope_parameters. */
function readRope(
  c: Record<string, unknown>,
  where: string,
  layout: GemmaLayout,
  num: (key: string, fallback?: number) => number,
) {
  const gen = layout.generation;
  const params = c['rope_parameters'];
  if (params != null && typeof params === 'object' && !Array.isArray(params)) {
    const p = params as Record<string, unknown>;
    const global = (gen === 3 ? p['full_attention'] : p) as Record<string, unknown> | undefined;
    const local = gen === 3 ? (p['sliding_attention'] as Record<string, unknown> | undefined) : undefined;
    const theta = (e: Record<string, unknown> | undefined, fallback: number, key: string): number => {
      const v = e?.['rope_theta'] ?? fallback;
      if (typeof v !== 'number' || !(v > 0))
        throw new AttentionInputError(
          'config',
          `${where}: ${key}.rope_theta must be a positive number, not ${JSON.stringify(v)}.`,
        );
      return v;
    };
    linearFactor(local, where, 'rope_parameters.sliding_attention', layout, false);
    return {
      ropeTheta: theta(global, layout.ropeTheta, gen === 3 ? 'rope_parameters.full_attention' : 'rope_parameters'),
      ropeLocalTheta: gen === 3 ? theta(local, 10000, 'rope_parameters.sliding_attention') : undefined,
      ropeLinearFactor: linearFactor(
        global,
        where,
        gen === 3 ? 'rope_parameters.full_attention' : 'rope_parameters',
        layout,
        gen === 3,
      ),
    };
  }
  return {
    ropeTheta: num('rope_theta', layout.ropeTheta),
    ropeLocalTheta: gen === 3 ? num('rope_local_base_freq', 10000) : undefined,
    ropeLinearFactor: linearFactor(c['rope_scaling'], where, 'rope_scaling', layout, gen === 3),
  };
}

/** Validates a Gemma-family config.json; clear errors name the field. */
export function parseGemmaFamilyConfig(raw: unknown, where: string, layout: GemmaLayout): GemmaConfig {
  const { c, int, num, optInt, fail, architectures } = configReader(raw, where);
  const type = c['model_type'];
  if (type !== undefined && type !== layout.modelType && !architectures.includes(layout.architecture)) {
    throw new AttentionInputError(
      'unsupported',
      `${where} describes a "${String(type)}" model; this loader reads ${layout.name} models (model_type "${layout.modelType}").`,
    );
  }
  const gen = layout.generation;
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  const numLayers = int('num_hidden_layers');
  const headDim = int('head_dim', 256);
  if (headDim % 2 !== 0) fail(`${where}: head_dim ${headDim} must be even for rotary position embeddings.`);
  if (numHeads % numKvHeads !== 0)
    fail(
      `${where}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}, so query heads cannot share key/value heads evenly.`,
    );
  // GemmaMLP: hidden_activation decides; when it is null, gelu_pytorch_tanh (the legacy hidden_act is ignored).
  const act = c['hidden_activation'] ?? 'gelu_pytorch_tanh';
  if (act !== 'gelu_pytorch_tanh' && act !== 'gelu')
    throw new AttentionInputError(
      'unsupported',
      `${where}: hidden_activation ${JSON.stringify(act)} is not supported; ${layout.name} uses "gelu_pytorch_tanh".`,
    );
  if (c['attention_bias'] === true)
    throw new AttentionInputError(
      'unsupported',
      `${where}: attention_bias is true; ${layout.name} checkpoints have no biases and none are read.`,
    );
  if (c['use_bidirectional_attention'] === true)
    throw new AttentionInputError(
      'unsupported',
      `${where}: use_bidirectional_attention is true (an embedding model); only causal Gemma language models are supported.`,
    );
  const slidingWindow = gen > 1 ? int('sliding_window', 4096) : undefined;
  const eos = Array.isArray(c['eos_token_id']) ? (c['eos_token_id'] as unknown[])[0] : c['eos_token_id'];
  return {
    generation: gen,
    name: layout.name,
    modelType: layout.modelType,
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    numLayers,
    intermediateSize: int('intermediate_size'),
    vocabSize: int('vocab_size'),
    maxPositions: int('max_position_embeddings', layout.maxPositions),
    rmsEps: num('rms_norm_eps', 1e-6),
    ...readRope(c, where, layout, num),
    activation: act,
    queryPreAttnScalar: gen > 1 ? num('query_pre_attn_scalar', 256) : headDim,
    attnSoftCap: gen > 1 ? optionalPositive(c, 'attn_logit_softcapping', where, layout.attnSoftCap) : undefined,
    finalSoftCap: gen > 1 ? optionalPositive(c, 'final_logit_softcapping', where, layout.finalSoftCap) : undefined,
    slidingWindow,
    layerTypes: readLayerTypes(c, where, layout, numLayers, slidingWindow),
    embedScale: Math.fround(Math.sqrt(hiddenSize)),
    bosId: optInt('bos_token_id'),
    eosId: typeof eos === 'number' && Number.isInteger(eos) && eos >= 0 ? eos : undefined,
  };
}

/** Validates a Hugging Face Gemma config.json. */
export function parseGemmaConfig(raw: unknown, where = 'config.json'): GemmaConfig {
  return parseGemmaFamilyConfig(raw, where, GEMMA_LAYOUT);
}

/** Whether layer `l` is local (sliding-window). */
export const isLocal = (cfg: GemmaConfig, l: number): boolean => cfg.layerTypes[l] === 'sliding_attention';

/** Layer l's block: local layers see the last sliding_window keys and (Gemma 3) rotate with the local base. */
export function gemmaBlocks(cfg: GemmaConfig): BlockConfig[] {
  const scale = 1 / Math.sqrt(cfg.queryPreAttnScalar);
  const rope = (local: boolean): RopeConfig =>
    local && cfg.ropeLocalTheta !== undefined
      ? { theta: cfg.ropeLocalTheta, rotaryDim: cfg.headDim }
      : {
          theta: cfg.ropeTheta,
          rotaryDim: cfg.headDim,
          ...(cfg.ropeLinearFactor !== undefined ? { scaling: { type: 'linear', factor: cfg.ropeLinearFactor } } : {}),
        };
  return cfg.layerTypes.map((_, l) => {
    const local = isLocal(cfg, l);
    return {
      dModel: cfg.hiddenSize,
      norm: { kind: 'rms', eps: cfg.rmsEps },
      placement: 'pre',
      self: {
        heads: cfg.numHeads,
        kvHeads: cfg.numKvHeads,
        headDim: cfg.headDim,
        causal: true,
        scale: () => scale,
        rope: rope(local),
        ...(local ? { slidingWindow: cfg.slidingWindow! } : {}),
        ...(cfg.attnSoftCap !== undefined ? { softCap: cfg.attnSoftCap } : {}),
        ...(cfg.generation === 3 ? { qkNorm: true } : {}),
      },
      mlp: { kind: 'gated', activation: cfg.activation, inner: cfg.intermediateSize },
      ...(cfg.generation > 1 ? { postNorms: true } : {}),
    };
  });
}
