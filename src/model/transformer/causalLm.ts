// A decoder-only causal language model (Llama, Qwen2, GPT-2): token embedding (+ learned
// positions), N parameterised Transformer blocks, a final norm and the next-token head. A family
// gives its config, weights, tokenizer rule and lesson; the forward pass, greedy decoding and
// run() are here, once. No vscode import. Every tf op is inside tf.tidy or disposed.
import { tf } from '../runtime/backend';
import { f32, readSmall } from '../runtime/read';
import { throwIfCancelled, type AttentionModel, type RunOptions } from '../model';
import { norm, type NormWeights } from '../layers/norms';
import type { EmbeddingTable } from '../layers/embedding';
import { Run, topKPredictions, type AdmittedInput, type AdmitWords, type PositionLimit } from '../trace/run';
import { attentionStages, topKRows, topKTensors, type AttentionWords } from '../trace/stages';
import type { HfTokenizer } from '../tokenizers/hfTokenizer';
import { kvHeadOf, transformerBlock, type BlockRecord, type BlockWeights } from './block';
import { runStack } from './stack';
import { withLayer, type LayerList } from './streamedWeights';
import { INLINE_BYTES, isLayerInput, layerInput, lighten } from '../../../shared/lazy';
import { embedTokens, positionIds, type PositionKind } from './embedding';
import { configOfLayer, type AttentionConfig, type BlockConfig, type LayerConfigs } from './config';
import { SelfInputs } from './selfInputs';
import { KvCache, StepInputs } from './kvCache';
import { generateTokens, type GenerateOptions, type GeneratedToken } from './generate';
import { LoadedModel } from './load';
import {
  AttentionInputError,
  tensor,
  type AttentionInfo,
  type ModelInfo,
  type ScoreFunction,
  type Stage,
  type TensorData,
  type Token,
  type Trace,
} from '../../../shared/trace';

/** What the shared decoder needs to know about a family's config. */
export interface CausalLmSpec {
  /** Every layer's config, unless `perLayer` gives each its own (the shapes, heads and norm are the same in all). */
  readonly block: BlockConfig;
  /** Layer l's config when layers differ (sliding-window or global, with or without RoPE). */
  readonly perLayer?: readonly BlockConfig[];
  readonly layers: number;
  readonly vocabSize: number;
  /** The model's context: RoPE models decode past it by sliding; learned positions refuse longer inputs. */
  readonly limit: PositionLimit;
  /** GPT-2's learned table (wpe), or RoPE inside attention (Llama, Qwen2). */
  readonly positions: Extract<PositionKind, { kind: 'rope' } | { kind: 'learned' }>;
  /** 2 when a start token is always added (it must leave room for one text token). */
  readonly minTokens: number;
  /** Greedy decoding stops after this token. */
  readonly eosId: number | undefined;
  readonly score: ScoreFunction;
  /** K and V are shown per key/value head (grouped-query families), on a 'kv_head' axis. */
  readonly groupedQuery: boolean;
  /** What the truncation and tokenizer warnings say. */
  readonly words: AdmitWords;
  /** Token rows are multiplied by this (Gemma: √hidden_size, rounded to float32 as HF does). */
  readonly embedScale?: number;
  /** Gemma 2 (final_logit_softcapping): the logits become c·tanh(z/c) before softmax. */
  readonly finalSoftCap?: number;
}

export interface CausalLmWeights {
  /** [vocab, D], rows copied for the input embedding. */
  readonly embed: EmbeddingTable;
  /** [positions, D]: GPT-2's learned positions. */
  readonly positions?: EmbeddingTable;
  /** Resident, or streamed one layer at a time (a checkpoint too big for the wasm heap). */
  readonly layers: LayerList<BlockWeights>;
  readonly finalNorm: NormWeights;
  /**
   * [D, vocab]: the output projection transposed (a transposed copy of embed when tied). tfjs-wasm's
   * matMul with transposeB is ~10× slower at GPT-2's vocabulary size.
   */
  readonly lmHeadT: tf.Tensor2D;
}

/** A stage's words; `describe` names its tensors' descriptions. */
export interface Words {
  readonly title: string;
  readonly formula: string;
  readonly explanation: string;
  readonly describe?: Readonly<Record<string, string>>;
}

export interface LessonContext<C> {
  readonly config: C;
  readonly tokens: readonly Token[];
  readonly topK: number;
  readonly tokenizer: HfTokenizer;
  readonly info: ModelInfo;
  readonly kvHeadOf: readonly number[];
}

/** What every layer's stages share (CausalLm.layerKit). */
interface LayerKit<C> {
  readonly c: LessonContext<C>;
  readonly L: CausalLmLesson<C>;
  readonly rows: (name: string, data: Float32Array, words: Words, fallback: string) => TensorData;
  readonly tok: { readonly token: 'input' };
  readonly attention: AttentionInfo;
  readonly cfgs: LayerConfigs;
  readonly masks: SelfInputs;
  readonly tokens: readonly Token[];
  readonly T: number;
  readonly D: number;
  readonly H: number;
  readonly KV: number;
  readonly hd: number;
}

/** The prose of a causal LM's trace, apart from its numbers (each family's lesson.ts). */
export interface CausalLmLesson<C> {
  /** The attention stages' title prefix (default `Layer l`): Gemma names local and global layers. */
  layerTitle?(c: LessonContext<C>, layer: number): string;
  tokens(c: LessonContext<C>): Words;
  embedding(c: LessonContext<C>): Words;
  layerInput(c: LessonContext<C>, layer: number): Words;
  attention(c: LessonContext<C>, layer: number): AttentionWords;
  layerOutput(c: LessonContext<C>, layer: number): Words;
  output(c: LessonContext<C>): Words;
}

/** The embedding stage's numbers. */
type Embedded = Pick<ForwardResult, 'tokenRows' | 'positionRows' | 'embedding'>;

interface ForwardResult {
  readonly tokenRows?: Float32Array;
  readonly positionRows?: Float32Array;
  readonly embedding?: Float32Array;
  readonly layers: BlockRecord[];
  readonly final?: Float32Array;
  readonly logits?: Float32Array;
  readonly topP?: Float32Array;
  readonly topId?: Int32Array;
}

export abstract class CausalLm<C> extends LoadedModel<C, CausalLmWeights> implements AttentionModel {
  /** kvHeadOf[h]: the key/value head query head h reads (grouped-query attention). */
  readonly kvHeadOf: readonly number[];

  constructor(
    config: C,
    readonly spec: CausalLmSpec,
    private readonly lesson: CausalLmLesson<C>,
    tokenizer: HfTokenizer,
    weights: CausalLmWeights,
    info: ModelInfo,
  ) {
    super(config, tokenizer, weights, info);
    this.kvHeadOf = kvHeadOf(spec.block.self);
  }

  /** The tokens the model sees for `text`, at most `maxTokens`. */
  abstract tokenize(text: string, maxTokens: number): AdmittedInput & { readonly tokens: readonly Token[] };

  /** The part of a growing sequence the model can see when decoding. */
  protected abstract window(sequence: number[]): number[];

  private checkIds(ids: readonly number[], past = 0): void {
    const { vocabSize: V, limit } = this.spec;
    if (ids.length === 0) throw new AttentionInputError('empty', 'There are no tokens to run.');
    if (this.spec.positions.kind === 'learned' && past + ids.length > limit.positions) {
      throw new AttentionInputError(
        'too-long',
        `${past + ids.length} tokens do not fit this model's ${limit.positions} ${limit.label}.`,
      );
    }
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= V)
        throw new AttentionInputError('shape', `Token id ${id} is outside the embedding table (vocab_size ${V}).`);
    }
  }

  /**
   * The forward pass. With `record`, every layer's tensors are pulled out for the trace (and only
   * the top-k of the logits); without, the logits of the last position (`lastOnly`) or of all.
   */
  private async forward(
    ids: readonly number[],
    opts: {
      record: boolean;
      lastOnly?: boolean;
      topK?: number;
      run?: Run;
      signal?: AbortSignal;
      cache?: KvCache;
      /** Light mode and streaming: each layer's record goes here as it is made, not into the result. */
      onLayer?: (layer: number, record: BlockRecord) => void;
      /** Light mode: records read only their small tensors (the light trace drops the rest). */
      light?: boolean;
      /** Light mode: the weights and value norms are read too (into reused buffers), for pooling the grid. */
      pooling?: boolean;
      /** Streaming: the embedding rows, as soon as they are made. */
      onEmbedding?: (rows: Embedded) => void;
    },
  ): Promise<ForwardResult> {
    const w = this.live();
    const { block, layers: L, positions } = this.spec;
    const { cache } = opts;
    const past = cache?.length ?? 0;
    this.checkIds(ids, past);
    const T = ids.length;
    const D = block.dModel;
    const { record } = opts;
    const signal = opts.run?.signal ?? opts.signal;
    const layers: BlockRecord[] = [];
    const result: { -readonly [K in keyof ForwardResult]: ForwardResult[K] } = { layers };
    const cfgs = this.layerConfigs();
    // With a cache: T new positions after `past` cached ones, attending to the cached keys too.
    const self = cache ? new StepInputs(T, past) : new SelfInputs(T, true);
    let x: tf.Tensor2D | undefined;
    try {
      x = tf.tidy(() => {
        if (positions.kind === 'learned' && !w.positions) throw new Error('learned positions need their table');
        const learned =
          positions.kind === 'learned' && w.positions
            ? { positions: w.positions, positionIds: positionIds(T, positions.offset + past) }
            : {};
        const scale = this.spec.embedScale !== undefined ? { scale: this.spec.embedScale } : {};
        const e = embedTokens(ids, w.embed, { ...learned, ...scale }); // [T] → [T, D]
        if (record) {
          result.embedding = f32(e.x);
          if (e.positionRows) {
            result.tokenRows = f32(e.tokenRows);
            result.positionRows = f32(e.positionRows);
          }
        }
        return e.x;
      });
      if (record) opts.onEmbedding?.(result);
      const embedded = x;
      x = undefined; // owned by the stack now
      const stack = await runStack(
        embedded,
        w.layers,
        cfgs,
        (l) =>
          self instanceof StepInputs
            ? self.for(configOfLayer(cfgs, l).self, cache!.layer(l))
            : self.for(configOfLayer(cfgs, l).self),
        {
          record,
          signal,
          progress: (l) => opts.run?.progress(l / (L + 1), `Running layer ${l} (layers 0–${L - 1})`),
          ...(opts.onLayer ? { onRecord: opts.onLayer } : {}),
          ...(opts.light ? { read: readSmall(INLINE_BYTES, opts.pooling) } : {}),
        },
      );
      x = stack.out;
      layers.push(...stack.records);
      cache?.ids.push(...ids);
      throwIfCancelled(signal);
      opts.run?.progress(L / (L + 1), 'Next-token predictions');
      const last = x;
      tf.tidy(() => {
        const src = opts.lastOnly || cache ? (tf.slice(last, [T - 1, 0], [1, D]) as tf.Tensor2D) : last; // [T, D] → [1, D]
        const final = norm(block.norm, src, w.finalNorm);
        const raw = tf.matMul(final, w.lmHeadT) as tf.Tensor2D; // [T, D] → [T, vocab]
        const cap = this.spec.finalSoftCap;
        const logits = cap !== undefined ? tf.mul<tf.Tensor2D>(tf.tanh(tf.div(raw, cap)), cap) : raw;
        // A run keeps only the top-k: the full [T × vocab] logits are ~100 MB at 512 tokens of GPT-2.
        // A decoding step keeps its last row's logits whole (it samples from them) beside its layers' records.
        if (!record || cache) result.logits = f32(logits);
        else {
          result.final = f32(final);
          const top = topKRows(logits, Math.max(1, Math.min(opts.topK ?? 5, this.spec.vocabSize)));
          result.topP = top.p;
          result.topId = top.id;
        }
      });
      return result;
    } catch (err) {
      cache?.dispose(); // some layers grew, others not: start again from the prompt
      throw err;
    } finally {
      x?.dispose();
      self.dispose();
    }
  }

  /** One config per layer, or the one for all. */
  protected layerConfigs(): LayerConfigs {
    const { perLayer, block, layers } = this.spec;
    if (perLayer && perLayer.length !== layers)
      throw new Error(`${perLayer.length} layer configs for ${layers} layers`);
    return perLayer ?? block;
  }

  /** Logits for every position, [ids.length × vocab_size] row-major (for tests and tools). */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    return (await this.forward(ids, { record: false })).logits!;
  }

  /** An empty key/value cache for this model's layers (the caller disposes it). */
  newCache(): KvCache {
    return new KvCache(this.spec.layers);
  }

  /**
   * One decoding pass over `ids` after the cached positions: the last position's logits ([vocab]) and,
   * with `record`, each layer's numbers (queries of the new positions over every key). The cache grows by `ids`.
   */
  async step(
    ids: readonly number[],
    cache: KvCache,
    opts: { record?: boolean; signal?: AbortSignal } = {},
  ): Promise<{ logits: Float32Array; layers: BlockRecord[] }> {
    const out = await this.forward(ids, {
      record: opts.record ?? false,
      cache,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return { logits: out.logits!, layers: out.layers };
  }

  /**
   * Whether `added` more positions can join the cache and give what a full run would: they must fit the
   * model's positions (past them the window slides and every position moves), and longrope must not
   * switch factors (a full run would rotate the cached keys with the other ones).
   */
  cacheFits(cache: KvCache, added: number): boolean {
    const total = cache.length + added;
    if (total > this.spec.limit.positions) return false;
    if (cache.length === 0) return true;
    const cfgs = this.layerConfigs();
    for (let l = 0; l < this.spec.layers; l++) {
      const s = configOfLayer(cfgs, l).self.rope?.scaling;
      if (s?.type === 'longrope' && cache.length > s.originalMaxPositions !== total > s.originalMaxPositions)
        return false;
    }
    return true;
  }

  /** The part of a growing sequence the model sees (its context window). */
  visible(sequence: number[]): number[] {
    return this.window(sequence);
  }

  /** Greedy or sampled generation over the key/value cache, each token with its alternatives (and attention on request). */
  async generateTokens(prompt: readonly number[], n: number, opts: GenerateOptions = {}): Promise<GeneratedToken[]> {
    return generateTokens(this, prompt, n, opts);
  }

  /** Greedy decoding: appends up to `n` argmax tokens (stops after EOS). Returns the new ids. */
  async generate(ids: readonly number[], n: number, signal?: AbortSignal): Promise<number[]> {
    return greedyTokens(ids, n, {
      next: async (context) =>
        (await this.forward(context, { record: false, lastOnly: true, ...(signal ? { signal } : {}) })).logits!,
      window: (seq) => this.window(seq),
      vocabSize: this.spec.vocabSize,
      eos: this.spec.eosId,
      ...(signal ? { signal } : {}),
    });
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const { limit, minTokens, vocabSize, words } = this.spec;
    const run = Run.begin(text, options, { limit, minTokens, vocabSize });
    run.progress(0, 'Tokenising');
    const enc = run.admit(this.tokenize(text, run.maxTokens), words);
    return this.traceOf(run, enc.tokens, enc.coveredLength);
  }

  /**
   * The trace of given tokens: a continued text's (its prompt tokens, then generated ones, flagged and
   * without document offsets). `text` is the prompt the trace names; maxTokens is not applied.
   */
  async runTokens(text: string, tokens: readonly Token[], options: RunOptions = {}): Promise<Trace> {
    const { limit, vocabSize } = this.spec;
    const run = Run.begin(text, { ...options, maxTokens: undefined }, { limit, vocabSize });
    if (tokens.length === 0) throw new AttentionInputError('empty', 'There are no tokens to run.');
    return this.traceOf(run, tokens, text.length);
  }

  private async traceOf(run: Run, tokens: readonly Token[], coveredLength: number): Promise<Trace> {
    const ids = tokens.map((t) => t.id);
    // Light mode: a layer's stages are made as soon as it has run, and only its input and small tensors kept.
    // Streaming: each layer's stages go out as soon as it has run, and the final trace reuses them.
    const kit = this.layerKit(tokens, run.topK);
    const { light, onStages, onLayerStages } = run.options;
    const model = { ...this.info, causalLm: true };
    const made: Stage[][] = [];
    let head: Stage[] | undefined;
    const emit = (): void =>
      onStages?.({
        trace: run.partial({ model, coveredLength, tokens, stages: [...(head ?? []), ...made.flat()] }),
        layersDone: made.length,
        layers: this.spec.layers,
      });
    const onLayer =
      light || onStages || onLayerStages
        ? (l: number, rec: BlockRecord) => {
            const stages = this.layerStages(kit, rec, l);
            made[l] = light ? lighten(stages, isLayerInput, INLINE_BYTES) : stages;
            emit();
            // After the layer has gone out (the pooling does not hold it back), before the next reuses its buffers.
            onLayerStages?.(run.partial({ model, coveredLength, tokens, stages: [...(head ?? []), ...stages] }));
          }
        : undefined;
    const onEmbedding = onStages
      ? (e: Embedded) => {
          head = this.headStages(kit, e);
          emit();
        }
      : undefined;
    const out = await this.forward(ids, {
      record: true,
      topK: run.topK,
      run,
      ...(onLayer ? { onLayer } : {}),
      ...(onEmbedding ? { onEmbedding } : {}),
      ...(light ? { light: true, pooling: onLayerStages !== undefined } : {}),
    });
    run.checkCancelled();
    return run.finish({
      model,
      coveredLength,
      tokens,
      stages: this.stages(kit, out, onLayer ? made : undefined, head),
      predictions: topKPredictions(out.topId!, out.topP!, ids.length, run.topK, (id) => this.tokenizer.piece(id)),
    });
  }

  recomputeLayer(trace: Trace, layer: number): Stage[] {
    const { block, layers } = this.spec;
    if (!Number.isInteger(layer) || layer < 0 || layer >= layers)
      throw new AttentionInputError('shape', `This model has no layer ${layer} (it has ${layers}).`);
    const T = trace.tokens.length;
    const residual = layerInput(trace, layer);
    if (!residual || residual.data.length !== T * block.dModel)
      throw new AttentionInputError('shape', `The trace keeps no input of layer ${layer} to recompute it from.`);
    const cfg = configOfLayer(this.layerConfigs(), layer);
    const inputs = new SelfInputs(T, true);
    try {
      const w = this.live();
      let rec: BlockRecord | undefined;
      // As runStack runs the layer: the same input values, weights and inputs (made outside the tidy), so the same numbers.
      const layerInputs = { ...inputs.for(cfg.self), layer };
      withLayer(w.layers, layer, (weights) =>
        tf.tidy(() => {
          const x = tf.tensor2d(residual.data, [T, block.dModel]);
          rec = transformerBlock(x, weights, cfg, layerInputs, true).record;
        }),
      );
      if (!rec) throw new Error(`layer ${layer} recorded nothing`);
      return this.layerStages(this.layerKit(trace.tokens, trace.predictions?.[0]?.top.length ?? 5), rec, layer);
    } finally {
      inputs.dispose();
    }
  }

  /** What every layer's stages share: the lesson's context, the row helper, the attention info and masks. */
  private layerKit(tokens: readonly Token[], topK: number): LayerKit<C> {
    const { block, groupedQuery, score } = this.spec;
    const T = tokens.length;
    const D = block.dModel;
    const { heads: H, kvHeads: KV, headDim: hd } = block.self;
    const c: LessonContext<C> = {
      config: this.config,
      // The lesson speaks of the text's tokens; a continued trace's generated ones are named by continueTrace.
      tokens: tokens.filter((t) => !t.generated),
      topK,
      tokenizer: this.tokenizer,
      info: this.info,
      kvHeadOf: this.kvHeadOf,
    };
    const L = this.lesson;
    const tok = { token: 'input' } as const;
    const rows = (name: string, data: Float32Array, words: Words, fallback: string) =>
      tensor(name, [T, D], ['token', 'd_model'], data, {
        tokenAxes: tok,
        description: words.describe?.[name] ?? fallback,
      });
    const attention: AttentionInfo = {
      queries: 'input',
      keys: 'input',
      causal: true,
      score,
      normaliser: 'softmax',
      ...(groupedQuery ? { kvHeadOf: this.kvHeadOf } : {}),
    };
    const cfgs = this.layerConfigs();
    const masks = new SelfInputs(T, true);
    return { c, L, rows, tok, attention, cfgs, masks, tokens, T, D, H, KV, hd };
  }

  /**
   * The trace's stages: tokens, embedding, each layer's (light mode and streaming: as made while it
   * ran), the output. `head`: the tokens and embedding stages a streamed run already made.
   */
  private stages(k: LayerKit<C>, out: ForwardResult, made?: readonly Stage[][], head?: Stage[]): Stage[] {
    const { c, L, rows, T } = k;
    const topK = c.topK;
    const stages = [...(head ?? this.headStages(k, out))];
    const layers = made ?? out.layers.map((rec, l) => this.layerStages(k, rec, l));
    for (const l of layers) stages.push(...l);
    const final = L.output(c);
    stages.push({
      id: 'output',
      kind: 'decoder-step',
      ...pick(final),
      tensors: [
        rows('hidden', out.final!, final, 'Final norm of the residual stream'),
        ...topKTensors(T, topK, out.topP!, out.topId!, k.tok, 'next tokens'),
      ],
    });
    return stages;
  }

  /** The tokens and embedding stages. */
  private headStages(k: LayerKit<C>, out: Embedded): Stage[] {
    const { c, L, rows, tok, tokens, T } = k;
    const tokensWords = L.tokens(c);
    const embeddingWords = L.embedding(c);
    return [
      {
        id: 'tokens',
        kind: 'tokens',
        ...pick(tokensWords),
        tensors: [
          tensor(
            'ids',
            [T],
            ['token'],
            Float32Array.from(tokens, (t) => t.id),
            { tokenAxes: tok, description: 'Token ids' },
          ),
        ],
      },
      {
        id: 'embedding',
        kind: 'embedding',
        ...pick(embeddingWords),
        tensors: [
          rows('X', out.embedding!, embeddingWords, 'Embedding rows'),
          ...(out.tokenRows ? [rows('E', out.tokenRows, embeddingWords, 'Token-embedding rows E[tᵢ]')] : []),
          ...(out.positionRows ? [rows('P', out.positionRows, embeddingWords, 'Position-embedding rows P[i]')] : []),
        ],
      },
    ];
  }

  /** Layer l's stages from its record: its input, its attention block, its output. */
  private layerStages(k: LayerKit<C>, rec: BlockRecord, l: number): Stage[] {
    const { c, L, rows, attention, cfgs, masks, T, D, H, KV, hd } = k;
    const { groupedQuery } = this.spec;
    const input = L.layerInput(c, l);
    const output = L.layerOutput(c, l);
    return [
      {
        id: `L${l}.input`,
        kind: 'encoder-layer',
        layer: l,
        ...pick(input),
        tensors: [
          rows('hidden', rec.attnInput, input, 'norm(x): the input to attention'),
          rows('residual', rec.residual, input, 'x: the residual stream entering the layer'),
        ],
      },
      ...attentionStages({
        prefix: `L${l}`,
        layer: l,
        title: L.layerTitle?.(c, l) ?? `Layer ${l}`,
        attention: layerAttention(attention, configOfLayer(cfgs, l).self, l),
        heads: H,
        ...(groupedQuery ? { kvHeads: KV } : {}),
        headDim: hd,
        dModel: D,
        queryCount: T,
        keyCount: T,
        record: rec.self,
        mask: masks.allowed(configOfLayer(cfgs, l).self),
        ...L.attention(c, l),
      }),
      {
        id: `L${l}.output`,
        kind: 'encoder-layer',
        layer: l,
        ...pick(output),
        tensors: [
          rows('hidden', rec.output, output, "x'': the residual stream after the layer"),
          rows('attention_residual', rec.afterSelf, output, "x' = x + attention output"),
          rows('mlp_input', rec.mlpInput, output, "norm(x'): the input to the MLP"),
        ],
      },
    ];
  }
}

/** A layer's AttentionInfo: its scale when not 1/√head_dim, and its soft-cap, so what-if recomputes what the model did. */
function layerAttention(info: AttentionInfo, a: AttentionConfig, layer: number): AttentionInfo {
  const scale = a.scale(layer);
  const own = scale !== 1 / Math.sqrt(a.headDim) ? { scale } : {};
  return { ...info, ...own, ...(a.softCap !== undefined ? { softCap: a.softCap } : {}) };
}

const pick = (w: Words): { title: string; formula: string; explanation: string } => ({
  title: w.title,
  formula: w.formula,
  explanation: w.explanation,
});

/** Greedy decoding for causal LMs: up to `n` argmax tokens, stopping after `eos`. Returns the new ids. */
export async function greedyTokens(
  ids: readonly number[],
  n: number,
  step: {
    /** Logits ([vocab]) for the token after `context`. */
    readonly next: (context: number[]) => Promise<Float32Array>;
    /** The part of the sequence the model can see (its positions are limited). */
    readonly window: (sequence: number[]) => number[];
    readonly vocabSize: number;
    readonly eos: number | undefined;
    readonly signal?: AbortSignal;
  },
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    throwIfCancelled(step.signal);
    const logits = await step.next(step.window([...ids, ...out]));
    let best = 0;
    for (let v = 1; v < step.vocabSize; v++) if (logits[v]! > logits[best]!) best = v;
    out.push(best);
    if (best === step.eos) break;
  }
  return out;
}

/** The text that `added` ids append to `ids`: the decoded difference, so pieces that merge across the boundary read right. */
export function appendedText(tokenizer: HfTokenizer, ids: readonly number[], added: readonly number[]): string {
  const before = tokenizer.decode(ids);
  const after = tokenizer.decode([...ids, ...added]);
  return after.startsWith(before) ? after.slice(before.length) : tokenizer.decode(added);
}
