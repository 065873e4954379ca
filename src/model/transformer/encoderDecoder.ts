// The one encoder–decoder runner (T5, BART, mBART; Marian's layout is the same): the encoder stack
// once, greedy decoding with Hugging Face generate's rules (num_beams 1: banned ids, forced BOS at
// the first step, forced EOS at max_length), then the whole decoder once more over its own output
// (teacher-forced), so every decoder tensor covers every output step. A family supplies its blocks'
// configs and weights, its embeddings, its optional score bias and final norms, and its head.
import { tf } from '../runtime/backend';
import { f32 } from '../runtime/read';
import { additiveMask } from '../attention/mask';
import { throwIfCancelled, yieldToEventLoop } from '../model';
import { transformerBlock, type BlockRecord, type BlockWeights } from './block';
import { configOfLayer, type LayerConfigs } from './config';
import { runStack } from './stack';

export type Side = 'encoder' | 'decoder';

/** One side's stack: its layers' weights and configs. */
export interface StackOf {
  readonly layers: readonly BlockWeights[];
  readonly config: LayerConfigs;
}

/** What a family gives the runner. Every function is called inside a tf.tidy. */
export interface EncoderDecoderNet {
  readonly encoder: StackOf;
  readonly decoder: StackOf;
  /** ids [n] → [n, D]: the first layer's input (token rows, positions, embedding norms). */
  embed(side: Side, ids: readonly number[]): tf.Tensor2D;
  /** [H, T, T] added to every layer's self-attention scores (T5's relative position bias), or none. */
  selfBias?(side: Side, T: number): tf.Tensor3D;
  /** The encoder's last layer output → the memory cross-attention reads (a final norm), default itself. */
  encoderOut?(x: tf.Tensor2D): tf.Tensor2D;
  /** The decoder's last layer output → what the head reads (a final norm, T5's rescale), default itself. */
  decoderOut?(y: tf.Tensor2D): tf.Tensor2D;
  /** [T, D] → [T, V] logits. */
  head(y: tf.Tensor2D): tf.Tensor2D;
}

/** Hugging Face generate's greedy rules, from config.json / generation_config.json. */
export interface DecodingRules {
  readonly vocabSize: number;
  readonly decoderStartId: number;
  readonly eosId: number;
  /** max_length: the start token plus at most max_length − 1 generated tokens. */
  readonly maxLength: number;
  /** Never chosen (bad_words_ids of one token). */
  readonly bannedIds?: readonly number[];
  /** forced_bos_token_id: the first generated token. */
  readonly forcedBosId?: number;
  /** forced_eos_token_id: the token generated when max_length is reached. */
  readonly forcedEosId?: number;
  /** Generation settings of config.json that greedy decoding does not follow (num_beams 4, …), said in the run's warnings. */
  readonly notFollowed?: readonly string[];
}

/** The settings of a config.json's generation defaults that greedy decoding (num_beams 1, no length or repetition rules) does not follow. */
export function generationNotFollowed(c: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  const differs = (key: string, neutral: unknown): void => {
    const v = c[key];
    if (v !== undefined && v !== null && v !== neutral) out.push(`${key} ${JSON.stringify(v)}`);
  };
  differs('num_beams', 1);
  differs('do_sample', false);
  differs('no_repeat_ngram_size', 0);
  differs('min_length', 0);
  differs('length_penalty', 1);
  differs('repetition_penalty', 1);
  return out;
}

/** An encoder pass: the memory (caller disposes) and, when recorded, every layer's numbers. */
export interface Encoded {
  readonly memory: tf.Tensor2D;
  readonly embedding?: Float32Array;
  readonly bias?: Float32Array;
  readonly layers: BlockRecord[];
  /** The memory's numbers when the family has a final encoder norm (recorded runs). */
  readonly final?: Float32Array;
}

/** A recorded decoder pass over every step. */
export interface Decoded {
  readonly embedding: Float32Array;
  readonly bias?: Float32Array;
  readonly layers: BlockRecord[];
  /** What the head read, when it is not the last layer's output. */
  readonly final?: Float32Array;
}

/** The encoder over `ids`. */
export async function encode(
  net: EncoderDecoderNet,
  ids: readonly number[],
  record: boolean,
  signal?: AbortSignal,
): Promise<Encoded> {
  const S = ids.length;
  const x = tf.tidy(() => net.embed('encoder', ids));
  const selfBias = net.selfBias ? tf.tidy(() => net.selfBias!('encoder', S)) : undefined;
  const embedding = record ? f32(x) : undefined;
  const bias = record && selfBias ? f32(selfBias) : undefined;
  try {
    const { out, records } = await runStack(x, net.encoder.layers, net.encoder.config, selfBias ? { selfBias } : {}, {
      record,
      signal,
      yieldEach: record,
    });
    if (!net.encoderOut)
      return { memory: out, layers: records, ...(embedding ? { embedding } : {}), ...(bias ? { bias } : {}) };
    const memory = tf.tidy(() => net.encoderOut!(out));
    out.dispose();
    return {
      memory,
      layers: records,
      ...(embedding ? { embedding } : {}),
      ...(bias ? { bias } : {}),
      ...(record ? { final: f32(memory) } : {}),
    };
  } finally {
    selfBias?.dispose();
  }
}

/** The decoder over `decIn` (start token + tokens so far): logits [T, V] for every position. Inside a tidy. */
export function decodeIn(
  net: EncoderDecoderNet,
  decIn: readonly number[],
  memory: tf.Tensor2D,
  record: boolean,
): { logits: tf.Tensor2D; recorded?: Decoded } {
  const T = decIn.length;
  const selfMask = tf.tensor2d(additiveMask({ queries: T, keys: T, causal: true }), [T, T]);
  const selfBias = net.selfBias?.('decoder', T);
  let y = net.embed('decoder', decIn);
  const embedding = record ? f32(y) : undefined;
  const layers: BlockRecord[] = [];
  net.decoder.layers.forEach((w, l) => {
    const r = transformerBlock(
      y,
      w,
      configOfLayer(net.decoder.config, l),
      { layer: l, selfMask, memory, ...(selfBias ? { selfBias } : {}) },
      record,
    );
    if (r.record) layers.push(r.record);
    y = r.out;
  });
  const final = net.decoderOut ? net.decoderOut(y) : y;
  const logits = net.head(final); // [T, D] → [T, V]
  if (!record) return { logits };
  return {
    logits,
    recorded: {
      embedding: embedding!,
      layers,
      ...(selfBias ? { bias: f32(selfBias) } : {}),
      ...(net.decoderOut ? { final: f32(final) } : {}),
    },
  };
}

/** The token greedy decoding takes at generated position `n` (0-based) from the last logits row. */
function choose(rules: DecodingRules, n: number, last: tf.Tensor2D, ban: tf.Tensor2D | undefined): number {
  if (n === 0 && rules.forcedBosId !== undefined) return rules.forcedBosId;
  // HF's ForcedEOSTokenLogitsProcessor: when the sequence (start token included) reaches max_length.
  if (n + 2 === rules.maxLength && rules.forcedEosId !== undefined) return rules.forcedEosId;
  return tf.tidy(() => tf.argMax(ban ? tf.add(last, ban) : last, -1).dataSync()[0]!);
}

/** Argmax decoding from the start token: at most max_length − 1 tokens, stopping after EOS. */
export async function greedy(
  net: EncoderDecoderNet,
  rules: DecodingRules,
  memory: tf.Tensor2D,
  signal?: AbortSignal,
  onStep?: (n: number) => void,
): Promise<number[]> {
  const V = rules.vocabSize;
  const out: number[] = [];
  const banned = rules.bannedIds ?? [];
  const mask = new Float32Array(V);
  for (const id of banned) mask[id] = -Infinity;
  const ban = banned.length ? tf.tensor2d(mask, [1, V]) : undefined;
  try {
    for (let n = 0; n < rules.maxLength - 1; n++) {
      throwIfCancelled(signal);
      const next = tf.tidy(() => {
        const { logits } = decodeIn(net, [rules.decoderStartId, ...out], memory, false);
        return choose(rules, n, tf.slice(logits, [out.length, 0], [1, V]), ban); // [T, V] → [1, V]
      });
      out.push(next);
      onStep?.(out.length);
      if (next === rules.eosId) break;
      await yieldToEventLoop();
    }
  } finally {
    ban?.dispose();
  }
  return out;
}

/** Greedy output ids for source ids (no recording). */
export async function generate(
  net: EncoderDecoderNet,
  rules: DecodingRules,
  src: readonly number[],
  signal?: AbortSignal,
): Promise<number[]> {
  const { memory } = await encode(net, src, false, signal);
  try {
    return await greedy(net, rules, memory, signal);
  } finally {
    memory.dispose();
  }
}

/**
 * Encoder (recorded), greedy decoding, then the decoder recorded over [start, out₀ … out_{n−2}].
 * `readLogits` is called inside the final tidy with the [T, V] logits (top-k, …).
 */
export async function recordedRun(
  net: EncoderDecoderNet,
  rules: DecodingRules,
  src: readonly number[],
  readLogits: (logits: tf.Tensor2D) => void,
  opts: {
    readonly signal?: AbortSignal | undefined;
    readonly progress?: (fraction: number, message: string) => void;
  } = {},
): Promise<{ encoded: Omit<Encoded, 'memory'>; out: number[]; decoderInput: number[]; decoded: Decoded }> {
  const { signal, progress } = opts;
  progress?.(0.05, 'Encoder');
  const { memory, ...encoded } = await encode(net, src, true, signal);
  try {
    progress?.(0.3, 'Greedy decoding');
    const steps = rules.maxLength - 1;
    const out = await greedy(net, rules, memory, signal, (n) =>
      progress?.(0.3 + (0.6 * n) / steps, `Decoding step ${n}`),
    );
    throwIfCancelled(signal);
    progress?.(0.9, 'Recording the decoder over every step');
    const decoderInput = [rules.decoderStartId, ...out.slice(0, -1)];
    let decoded: Decoded | undefined;
    tf.tidy(() => {
      // Results leave the tidy through `decoded` (returning typed arrays would make tidy walk every element).
      const r = decodeIn(net, decoderInput, memory, true);
      readLogits(r.logits);
      decoded = r.recorded;
    });
    return { encoded, out, decoderInput, decoded: decoded! };
  } finally {
    memory.dispose();
  }
}
