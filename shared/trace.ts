// The one immutable value every view reads. No vscode import here: the model layer runs in
// plain Node, in a worker thread, in tests, the CLI and the benchmark.

/** A dense row-major tensor that crosses thread and webview boundaries as a typed array. */
export interface TensorData {
  readonly name: string;
  readonly shape: readonly number[];
  /** One name per axis, e.g. ['head', 'query', 'key'] or ['token', 'd_model']. */
  readonly axes: readonly string[];
  readonly data: Float32Array;
  /**
   * Which token list labels an axis, by axis name. 'input' = trace.tokens,
   * 'output' = trace.outputTokens. Axes not listed are numbered (feature dimensions, heads).
   */
  readonly tokenAxes?: Readonly<Record<string, 'input' | 'output'>>;
  /** Labels of an axis that is neither tokens nor numbered, by axis name (e.g. model names, length buckets). */
  readonly labels?: Readonly<Record<string, readonly string[]>>;
  /** 'curves': a [series, x] matrix drawn as one line per row (a chart), not a heatmap. */
  readonly plot?: 'curves';
  readonly description?: string;
  /** Left with the host in the panel's index of a big trace (shared/lazy.ts): `data` is filled when fetched. */
  readonly remote?: true;
}

export interface Token {
  readonly text: string;
  readonly id: number;
  /** UTF-16 offsets into the source text (the editor's own units); -1/-1 for special tokens. */
  readonly start: number;
  readonly end: number;
  readonly special?: boolean;
  readonly unknown?: boolean;
  /** Produced by the model's generation (Continue), not in the document: start and end are −1. */
  readonly generated?: boolean;
}

export type StageKind =
  | 'tokens'
  | 'embedding'
  | 'encoder-layer'
  | 'encoder-step'
  | 'qkv'
  | 'score'
  | 'normalise'
  | 'context'
  | 'self-attention'
  | 'cross-attention'
  | 'decoder-step'
  | 'output';

export type ScoreFunction = 'dot' | 'scaled-dot' | 'general' | 'additive';
/** Soft (softmax, sparsemax, sigmoid) and hard (hardmax, sampled) normalisers. */
export type Normaliser = 'softmax' | 'sparsemax' | 'sigmoid' | 'hardmax' | 'sampled';
export const SCORE_FUNCTIONS: readonly ScoreFunction[] = ['dot', 'scaled-dot', 'general', 'additive'];
export const NORMALISERS: readonly Normaliser[] = ['softmax', 'sparsemax', 'sigmoid', 'hardmax', 'sampled'];
/** The seed of sampled hard attention (mulberry32, shared/random.ts) when none is given. */
export const DEFAULT_SAMPLE_SEED = 1;

/** What an attention stage attends over, so views and hovers can label and map it. */
export interface AttentionInfo {
  /** Which token list the rows (queries) and columns (keys) belong to. */
  readonly queries: 'input' | 'output';
  readonly keys: 'input' | 'output';
  readonly causal: boolean;
  readonly score: ScoreFunction;
  readonly normaliser: Normaliser;
  /** Grouped-query attention: kvHeadOf[h] is the key/value head query head h reads. */
  readonly kvHeadOf?: readonly number[];
  /** The scaled-dot factor when it is not 1/√d_head (Gemma 2/3: 1/√query_pre_attn_scalar). */
  readonly scale?: number;
  /** Soft-capping of the scores, s ↦ c·tanh(s/c) before the mask (Gemma 2). */
  readonly softCap?: number;
  /** A [head, query, key] tensor added to the scores before the mask (T5's relative position bias): where it is. */
  readonly scoreBias?: { readonly stage: string; readonly tensor: string };
}

export interface Stage {
  readonly id: string;
  readonly kind: StageKind;
  readonly title: string;
  /** The formula at this step, in plain Unicode maths, e.g. 'α = softmax(QKᵀ/√d_k)'. */
  readonly formula: string;
  /** One paragraph saying what happens here and why. */
  readonly explanation: string;
  readonly layer?: number;
  /** Decoder step (0-based) for stages that belong to one output position. */
  readonly step?: number;
  readonly attention?: AttentionInfo;
  readonly tensors: readonly TensorData[];
}

export interface Prediction {
  /** Position in the token list whose next token is predicted (or decoder step). */
  readonly position: number;
  readonly top: readonly { readonly text: string; readonly id: number; readonly p: number }[];
}

/** What the panel's model info says beyond the shape: read from the model's folder when it has one. */
export interface ModelDetails {
  readonly vocabulary?: number;
  /** Positions the model was trained for (max_position_embeddings or the family's name for it). */
  readonly context?: number;
  /** The positional scheme in words, e.g. 'rotary (RoPE), θ = 10000'. */
  readonly positions?: string;
  /** The folder's files and their sizes in bytes, by name. */
  readonly files?: readonly { readonly name: string; readonly bytes: number }[];
  /** Where the weights come from (a built-in's SOURCE.md: its original model). */
  readonly credit?: string;
}

export interface ModelInfo {
  readonly id: string;
  readonly name: string;
  readonly family: string;
  readonly description: string;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads?: number;
  readonly dModel: number;
  readonly parameters?: number;
  readonly licence?: string;
  /** A decoder-only language model: it can continue the text (the panel's Continue, the CLI's --generate). */
  readonly causalLm?: boolean;
  /** No run sees more tokens than this, whatever the text's length (a forecaster's window of hours). */
  readonly maxInputTokens?: number;
  readonly details?: ModelDetails;
}

/** One generated token of a continued trace, with what the model offered at that step. */
export interface GenerationStep {
  /** Its index in trace.tokens; the query that chose it is the row before (position − 1). */
  readonly position: number;
  readonly id: number;
  readonly text: string;
  /** softmax(logits): the model's own probability of this token. */
  readonly p: number;
  /** Sampled steps: the probability it was drawn with (after temperature, top-k, top-p). */
  readonly drawP?: number;
  /** The most probable tokens at this step, best first, with the model's probabilities. */
  readonly alternatives: readonly { readonly id: number; readonly text: string; readonly p: number }[];
}

export interface Trace {
  readonly version: 1;
  readonly model: ModelInfo;
  /** The exact text the model saw (after truncation), and where it starts in the document; a continued trace's prompt. */
  readonly text: string;
  readonly tokens: readonly Token[];
  readonly outputTokens?: readonly Token[];
  readonly stages: readonly Stage[];
  readonly predictions?: readonly Prediction[];
  /** A continued trace: its generated tokens (flagged `generated` in tokens), oldest first. */
  readonly generation?: readonly GenerationStep[];
  readonly warnings: readonly string[];
  /** Said quietly in the panel's header, never as a notification (maxTokens clamped to the model's context, light mode). */
  readonly notes?: readonly string[];
  readonly backend: string;
  readonly elapsedMs: number;
}

export function tensor(
  name: string,
  shape: readonly number[],
  axes: readonly string[],
  data: Float32Array,
  extra: Pick<TensorData, 'tokenAxes' | 'labels' | 'plot' | 'description'> = {},
): TensorData {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size)
    throw new Error(`tensor ${name}: ${data.length} values do not fill shape [${shape.join('×')}]`);
  if (axes.length !== shape.length)
    throw new Error(`tensor ${name}: ${axes.length} axis names for ${shape.length} axes`);
  return { name, shape, axes, data, ...extra };
}

export function findTensor(stage: Stage, name: string): TensorData | undefined {
  return stage.tensors.find((t) => t.name === name);
}

/** The typed error every model entry point throws for bad input; `code` is stable for tests and UI. */
export class AttentionInputError extends Error {
  constructor(
    readonly code: 'empty' | 'too-long' | 'shape' | 'config' | 'file' | 'unsupported' | 'cancelled',
    message: string,
  ) {
    super(message);
    this.name = 'AttentionInputError';
  }
}
