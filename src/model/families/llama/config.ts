// Llama's config.json → the Transformer block (pre-RMSNorm, RoPE on Q and K, grouped-query
// attention, SwiGLU MLP, no biases). Qwen2, Qwen3, Mistral, SmolLM3 and Phi-3 read the same keys
// with their own defaults and differences (q/k/v biases, QK-norm, sliding windows, layers without
// RoPE, partial rotary, RoPE scaling), so the reader takes the layout's differences as a value.
import { configReader } from '../../formats/hfFolder';
import { scaledDot, type BlockConfig } from '../../transformer/config';
import { parseRopeScaling } from '../../transformer/ropeScaling';
import type { RopeScaling } from '../../layers/positions';
import { AttentionInputError } from '../../../../shared/trace';

export interface LlamaConfig {
  readonly hiddenSize: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly numLayers: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly rmsEps: number;
  readonly ropeTheta: number;
  readonly tieEmbeddings: boolean;
  /** Biases on the q, k and v projections (Qwen2); Llama has none. */
  readonly qkvBias: boolean;
  /** Every input starts with the BOS token; false: none (Qwen2). */
  readonly startToken: boolean;
  /** Whether the tokenizer (add_bos_token, its post-processor) decides startToken instead (Llama 3, SmolLM2). */
  readonly startTokenFromTokenizer: boolean;
  /** Dimensions of each head RoPE turns (head_dim × partial_rotary_factor; Phi-4-mini: 0.75). */
  readonly rotaryDim: number;
  readonly ropeScaling: RopeScaling | undefined;
  /** Per layer: the sliding window of its attention, or undefined for full causal attention. */
  readonly windows: readonly (number | undefined)[];
  /** Per layer: whether RoPE turns its queries and keys (SmolLM3's NoPE layers: false). */
  readonly ropeLayers: readonly boolean[];
  /** Qwen3: RMSNorm of each head's query and key (q_norm, k_norm) before RoPE. */
  readonly qkNorm: boolean;
  /** Phi-3: q, k and v in one qkv_proj, gate and up in one gate_up_proj. */
  readonly fused: boolean;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
}

/** What differs between the families read in the Llama layout. */
export interface RopeDecoderLayout {
  readonly modelType: string;
  readonly name: string;
  readonly architecture: string;
  readonly maxPositions: number;
  readonly ropeTheta: number;
  readonly qkvBias: boolean;
  /** 'tokenizer': as the tokenizer's add_bos_token / post-processor say (Llama 3, SmolLM2). */
  readonly startToken: boolean | 'tokenizer';
  /** rope_scaling types this family's checkpoints use; others are refused by name. */
  readonly ropeScalings?: readonly RopeScaling['type'][];
  /**
   * Which layers slide (HF's layer_types when the config has them, else the family's rule):
   * 'all': every layer when sliding_window is set (Mistral, Phi-3); 'upper': layers ≥ max_window_layers
   * when use_sliding_window (Qwen3); 'nope': the layers without RoPE when use_sliding_window (SmolLM3).
   */
  readonly sliding?: 'all' | 'upper' | 'nope';
  /** SmolLM3: no_rope_layers, or every no_rope_layer_interval-th layer without RoPE. */
  readonly noRopeLayers?: boolean;
  readonly qkNorm?: boolean;
  /** Phi-3: partial_rotary_factor is read. */
  readonly partialRotary?: boolean;
  /** Phi-3: fused qkv_proj and gate_up_proj. */
  readonly fused?: boolean;
  /** Phi3Config's original_max_position_embeddings when config.json has none (longrope's short/long switch). */
  readonly originalMaxPositions?: number;
}

export const LLAMA_LAYOUT: RopeDecoderLayout = {
  modelType: 'llama',
  name: 'Llama',
  architecture: 'LlamaForCausalLM',
  maxPositions: 2048,
  ropeTheta: 10000,
  qkvBias: false,
  startToken: 'tokenizer',
  ropeScalings: ['llama3'],
};

/** Validates a config.json in the Llama layout; clear errors for missing or inconsistent fields. */
export function parseRopeDecoderConfig(raw: unknown, where: string, layout: RopeDecoderLayout): LlamaConfig {
  const { c, int, num, optInt, fail, architectures } = configReader(raw, where);
  const type = c['model_type'];
  if (type !== undefined && type !== layout.modelType && !architectures.includes(layout.architecture)) {
    throw new AttentionInputError(
      'unsupported',
      `${where} describes a "${String(type)}" model; this loader reads ${layout.name} models (model_type "${layout.modelType}").`,
    );
  }
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  const numLayers = int('num_hidden_layers');
  const intermediateSize = int('intermediate_size');
  const vocabSize = int('vocab_size');
  const maxPositions = int('max_position_embeddings', layout.maxPositions);
  const rmsEps = num('rms_norm_eps', 1e-6);
  // transformers 5 writes rope_parameters {rope_theta, rope_type, …} instead of rope_theta and rope_scaling.
  const params =
    c['rope_parameters'] != null && typeof c['rope_parameters'] === 'object'
      ? (c['rope_parameters'] as Record<string, unknown>)
      : undefined;
  const ropeTheta = params
    ? configReader(params, `${where} rope_parameters`).num('rope_theta', layout.ropeTheta)
    : num('rope_theta', layout.ropeTheta);
  if (c['head_dim'] == null && hiddenSize % numHeads !== 0) {
    fail(
      `${where}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads} (and no head_dim is given).`,
    );
  }
  const headDim = c['head_dim'] == null ? hiddenSize / numHeads : int('head_dim');
  if (headDim % 2 !== 0) fail(`${where}: head_dim ${headDim} must be even for rotary position embeddings.`);
  const partial = layout.partialRotary ? num('partial_rotary_factor', 1) : 1;
  const rotaryDim = Math.round(headDim * partial);
  if (partial > 1 || rotaryDim % 2 !== 0 || rotaryDim === 0)
    fail(
      `${where}: partial_rotary_factor ${partial} of head_dim ${headDim} gives ${headDim * partial} rotary dimensions; it must be an even number from 2 to head_dim.`,
    );
  if (numHeads % numKvHeads !== 0) {
    fail(
      `${where}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}, so query heads cannot share key/value heads evenly.`,
    );
  }
  const act = c['hidden_act'] ?? 'silu';
  if (act !== 'silu')
    throw new AttentionInputError(
      'unsupported',
      `${where}: hidden_act "${String(act)}" is not supported; ${layout.name} uses "silu".`,
    );
  const originalMaxPositions =
    c['original_max_position_embeddings'] == null
      ? layout.originalMaxPositions
      : int('original_max_position_embeddings');
  const ropeScaling = parseRopeScaling(params ?? c['rope_scaling'], where, {
    maxPositions,
    rotaryDim,
    ...(originalMaxPositions !== undefined ? { originalMaxPositions } : {}),
  });
  if (ropeScaling && !layout.ropeScalings?.includes(ropeScaling.type)) {
    throw new AttentionInputError(
      'unsupported',
      `${where}: rope_scaling type "${ropeScaling.type}" is not supported for ${layout.name}; ` +
        (layout.ropeScalings?.length
          ? `${layout.name} checkpoints use ${layout.ropeScalings.join(', ')}.`
          : 'only plain RoPE is.'),
    );
  }
  const ropeLayers = layout.noRopeLayers
    ? noRopeLayers(c, numLayers, where)
    : Array.from({ length: numLayers }, () => true);
  if (c['attention_bias'] === true || c['mlp_bias'] === true) {
    throw new AttentionInputError(
      'unsupported',
      `${where}: attention_bias / mlp_bias are not supported (${layout.name} has ${layout.qkvBias ? 'biases on q, k and v only' : 'no biases'}).`,
    );
  }
  return {
    rotaryDim,
    ropeScaling,
    windows: layerWindows(c, numLayers, ropeLayers, layout, where),
    ropeLayers,
    qkNorm: layout.qkNorm === true,
    fused: layout.fused === true,
    startTokenFromTokenizer: layout.startToken === 'tokenizer',
    hiddenSize,
    numHeads,
    numKvHeads,
    headDim,
    numLayers,
    intermediateSize,
    vocabSize,
    maxPositions,
    rmsEps,
    ropeTheta,
    tieEmbeddings: c['tie_word_embeddings'] === true,
    qkvBias: layout.qkvBias,
    startToken: layout.startToken === true,
    bosId: optInt('bos_token_id'),
    // Llama 3.x lists several ([128001, 128008, 128009]); greedy decoding stops at the first.
    eosId: Array.isArray(c['eos_token_id'])
      ? configReader({ eos_token_id: c['eos_token_id'][0] }, where).optInt('eos_token_id')
      : optInt('eos_token_id'),
  };
}

/** SmolLM3's NoPE layers: no_rope_layers[l] = 1 keeps RoPE, 0 drops it; by default every no_rope_layer_interval-th layer has none. */
function noRopeLayers(c: Record<string, unknown>, L: number, where: string): boolean[] {
  const given = c['no_rope_layers'];
  if (given == null) {
    const every = c['no_rope_layer_interval'] ?? 4;
    if (typeof every !== 'number' || !Number.isInteger(every) || every < 1)
      throw new AttentionInputError(
        'config',
        `${where}: "no_rope_layer_interval" must be a positive integer, not ${JSON.stringify(every)}.`,
      );
    return Array.from({ length: L }, (_, l) => (l + 1) % every !== 0);
  }
  if (!Array.isArray(given) || given.length < L || given.some((v) => v !== 0 && v !== 1)) {
    throw new AttentionInputError(
      'config',
      `${where}: "no_rope_layers" must list 0 or 1 for each of the ${L} layers, not ${JSON.stringify(given).slice(0, 80)}.`,
    );
  }
  return given.slice(0, L).map((v) => v === 1);
}

/** Each layer's sliding window (undefined: full causal attention), by HF's layer_types or the family's rule. */
function layerWindows(
  c: Record<string, unknown>,
  L: number,
  ropeLayers: readonly boolean[],
  layout: RopeDecoderLayout,
  where: string,
): (number | undefined)[] {
  const full = Array.from({ length: L }, () => undefined);
  if (!layout.sliding) return full;
  const raw = c['sliding_window'];
  if (raw != null && (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1))
    throw new AttentionInputError(
      'config',
      `${where}: "sliding_window" must be a positive integer or null, not ${JSON.stringify(raw)}.`,
    );
  const switched = layout.sliding === 'all' || c['use_sliding_window'] === true;
  const window = switched && typeof raw === 'number' ? raw : undefined;
  if (window === undefined) return full;
  const types = c['layer_types'];
  if (types != null) {
    if (
      !Array.isArray(types) ||
      types.length < L ||
      types.some((t) => t !== 'full_attention' && t !== 'sliding_attention')
    ) {
      throw new AttentionInputError(
        'config',
        `${where}: "layer_types" must give "full_attention" or "sliding_attention" for each of the ${L} layers.`,
      );
    }
    return types.slice(0, L).map((t) => (t === 'sliding_attention' ? window : undefined));
  }
  if (layout.sliding === 'all') return full.map(() => window);
  if (layout.sliding === 'nope') return ropeLayers.map((rope) => (rope ? undefined : window));
  const from = typeof c['max_window_layers'] === 'number' ? c['max_window_layers'] : L;
  return full.map((_, l) => (l >= from ? window : undefined));
}

/** Validates a Hugging Face Llama config.json. */
export function parseLlamaConfig(raw: unknown, where = 'config.json'): LlamaConfig {
  return parseRopeDecoderConfig(raw, where, LLAMA_LAYOUT);
}

/** The block a Llama-layout config describes: layer `layer`'s (windows and RoPE may differ per layer), layer 0's by default. */
export function llamaBlock(cfg: LlamaConfig, layer = 0): BlockConfig {
  const window = cfg.windows[layer];
  return {
    dModel: cfg.hiddenSize,
    norm: { kind: 'rms', eps: cfg.rmsEps },
    placement: 'pre',
    self: {
      heads: cfg.numHeads,
      kvHeads: cfg.numKvHeads,
      headDim: cfg.headDim,
      causal: true,
      scale: scaledDot(cfg.headDim),
      ...(cfg.ropeLayers[layer]
        ? {
            rope: {
              theta: cfg.ropeTheta,
              rotaryDim: cfg.rotaryDim,
              ...(cfg.ropeScaling ? { scaling: cfg.ropeScaling } : {}),
            },
          }
        : {}),
      ...(window !== undefined ? { slidingWindow: window } : {}),
      ...(cfg.qkNorm ? { qkNorm: true } : {}),
    },
    mlp: { kind: 'gated', activation: 'silu', inner: cfg.intermediateSize },
  };
}

/** One block config per layer when the layers differ, else undefined (one for all). */
export function llamaLayers(cfg: LlamaConfig): BlockConfig[] | undefined {
  const differ = cfg.windows.some((w) => w !== cfg.windows[0]) || cfg.ropeLayers.some((r) => r !== cfg.ropeLayers[0]);
  return differ ? Array.from({ length: cfg.numLayers }, (_, l) => llamaBlock(cfg, l)) : undefined;
}
