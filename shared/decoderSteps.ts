// A Transformer encoder–decoder read one output step at a time: at decoder position t the decoder
// reads its input token (the start token at t = 0, then the token produced at t − 1: the inputs are
// the outputs shifted right), attends over decoder positions 0…t (masked self-attention) and over
// the input tokens (cross-attention), and produces the token at t. Derived from the per-layer
// [head, T_out, T] weights the trace already has: no stage per step. Pure: no DOM, no tfjs.
import { attentionBlocks, stepsOf, type AttentionBlock } from './navigation';
import { decoderInputLabel, headData, tokenLabel } from './tensorView';
import type { Cursor } from './protocol';
import type { Stage, Trace } from './trace';
import { findTensor } from './trace';

export { START_LABEL, decoderInputLabel } from './tensorView';

/** The decoder's per-layer attention blocks (weights [head, T_out, keys]), not per-step ones (the RNN seq2seq models). */
function decoderBlocks(trace: Trace): AttentionBlock[] {
  return attentionBlocks(trace).filter(
    (b) =>
      b.info.queries === 'output' &&
      b.step === undefined &&
      b.stages.normalise.kind === 'normalise' &&
      b.weights.shape.length === 3,
  );
}

/** Whether the trace is a Transformer encoder–decoder the step view applies to (its steps are not stages already). */
export function hasDecoderSteps(trace: Trace): boolean {
  return (trace.outputTokens?.length ?? 0) > 0 && stepsOf(trace).length === 0 && decoderBlocks(trace).length > 0;
}

/** A decoder-side stage: its queries, or its tensors' token axes, are the output positions. */
export function isDecoderStage(stage: Stage): boolean {
  return (
    stage.attention?.queries === 'output' ||
    stage.tensors.some((x) => Object.values(x.tokenAxes ?? {}).includes('output'))
  );
}

export interface DecoderLayerBlocks {
  readonly layer: number;
  /** The decoder's masked self-attention (keys: decoder positions). */
  readonly self?: AttentionBlock;
  /** Cross-attention (keys: the input tokens). */
  readonly cross?: AttentionBlock;
}

/**
 * The decoder layer a stage shows by step: its own layer on a decoder stage of a layer; the last
 * decoder layer on the decoder's final norm and output stages, the first on its embedding.
 * Undefined on encoder stages or when the trace has no decoder steps to show.
 */
export function decoderLayerOf(trace: Trace, stage: Stage | undefined): DecoderLayerBlocks | undefined {
  if (!stage || !hasDecoderSteps(trace) || !isDecoderStage(stage)) return undefined;
  const blocks = decoderBlocks(trace);
  const layers = [...new Set(blocks.map((b) => b.layer ?? 0))].sort((a, b) => a - b);
  const layer =
    stage.layer !== undefined && layers.includes(stage.layer)
      ? stage.layer
      : stage.kind === 'embedding'
        ? layers[0]!
        : layers[layers.length - 1]!;
  const of = (b: AttentionBlock): boolean => (b.layer ?? 0) === layer;
  return {
    layer,
    self: blocks.find((b) => of(b) && b.role === 'self'),
    cross: blocks.find((b) => of(b) && b.role === 'cross'),
  };
}

/** Output steps (decoder positions) of the trace. */
export const stepCount = (trace: Trace): number => trace.outputTokens?.length ?? 0;

export interface Produced {
  readonly id: number;
  readonly text: string;
  readonly p: number;
}

/** The top-k the model gave at step t, best first, from the output stage's top_id / top_p rows. */
export function producedAt(trace: Trace, t: number): Produced[] {
  const out = trace.stages.find((s) => findTensor(s, 'top_id') && findTensor(s, 'top_p') && isDecoderStage(s));
  const ids = out && findTensor(out, 'top_id');
  const ps = out && findTensor(out, 'top_p');
  if (!ids || !ps || ids.shape.length !== 2 || ids.data.length === 0) return [];
  const [T, k] = ids.shape as [number, number];
  if (t < 0 || t >= T) return [];
  const texts = new Map<number, string>();
  for (const p of trace.predictions ?? []) for (const c of p.top) texts.set(c.id, c.text);
  for (const o of trace.outputTokens ?? []) texts.set(o.id, o.text);
  return Array.from({ length: k }, (_, i) => {
    const id = ids.data[t * k + i]!;
    const text = texts.get(id);
    return {
      id,
      text: text === undefined ? `#${id}` : tokenLabel({ text, id, start: -1, end: -1 }),
      p: ps.data[t * k + i]!,
    };
  });
}

/** One attention's row at step t: a row per head shown, its key labels, and which keys are masked. */
export interface StepRows {
  readonly block: AttentionBlock;
  /** The heads of the rows, −1 for the mean of heads. */
  readonly heads: readonly number[];
  /** [heads.length × keys], row-major. */
  readonly data: Float32Array;
  readonly keys: number;
  readonly keyLabels: readonly string[];
  /** Keys the step may not attend to (the decoder's future positions): masked, not zero-weight. */
  readonly masked: readonly boolean[];
}

/**
 * Row t of a block's weights for `head` (−1: the mean over heads), or for every head then their
 * mean (`allHeads`). Self-attention keys are labelled by the decoder input at each position.
 */
export function stepRows(trace: Trace, block: AttentionBlock, t: number, head: number, allHeads = false): StepRows {
  const [H, Q, K] = block.weights.shape as [number, number, number];
  if (!Number.isInteger(t) || t < 0 || t >= Q) throw new Error(`output step ${t + 1} is not one of the ${Q} steps`);
  const row = (h: number): Float32Array => headData(block.weights, h).subarray(t * K, (t + 1) * K);
  const mean = (): Float32Array => {
    const m = new Float32Array(K);
    for (let h = 0; h < H; h++) {
      const r = row(h);
      for (let j = 0; j < K; j++) m[j]! += r[j]! / H;
    }
    return m;
  };
  const heads = allHeads ? [...Array.from({ length: H }, (_, h) => h), -1] : [head < 0 ? -1 : Math.min(head, H - 1)];
  const data = new Float32Array(heads.length * K);
  heads.forEach((h, i) => data.set(h < 0 ? mean() : row(h), i * K));
  const mask = block.mask;
  const masked = Array.from({ length: K }, (_, j) =>
    mask && mask.shape.length === 2 && mask.shape[1] === K ? mask.data[t * K + j] === 0 : false,
  );
  const keyLabels =
    block.info.keys === 'output'
      ? Array.from({ length: K }, (_, j) => decoderInputLabel(trace, j))
      : block.keyTokens.slice(0, K).map(tokenLabel);
  return { block, heads, data, keys: K, keyLabels, masked };
}

/** The `n` keys a row attends to most, masked ones left out: [key, weight], largest first. */
export function strongestKeys(r: StepRows, rowIndex: number, n = 3): { key: number; weight: number }[] {
  const base = rowIndex * r.keys;
  return Array.from({ length: r.keys }, (_, j) => j)
    .filter((j) => !r.masked[j])
    .sort((a, b) => r.data[base + b]! - r.data[base + a]! || a - b)
    .slice(0, n)
    .map((key) => ({ key, weight: r.data[base + key]! }));
}

/** The step's sentence: "Output step 3 of 11 reads '0' and produces '2' (99.97%)". Steps are counted from 1. */
export function stepSentence(trace: Trace, t: number): string {
  const top = producedAt(trace, t)[0];
  const made = trace.outputTokens?.[t];
  const produced = made ? tokenLabel(made) : top?.text;
  const p = top && made && top.id === made.id ? ` (${(top.p * 100).toFixed(2)}%)` : '';
  return `Output step ${t + 1} of ${stepCount(trace)} reads ‘${decoderInputLabel(trace, t)}’ and produces ‘${produced ?? '?'}’${p}`;
}

/**
 * "Next/previous step" on a trace without a stage per step (a Transformer encoder–decoder): on a
 * decoder stage, the focused row (the output step) moves by `delta`, wrapping at the ends; else the
 * cursor is unchanged. Traces with step stages (the RNN seq2seq models) move by stage (moveStep).
 */
export function moveOutputStep(trace: Trace, c: Cursor, delta: number): Cursor {
  const T = stepCount(trace);
  if (T === 0 || !decoderLayerOf(trace, trace.stages[c.stage])) return c;
  const at = c.row === undefined ? (delta > 0 ? -1 : 0) : Math.max(0, Math.min(T - 1, c.row));
  return { ...c, row: (((at + delta) % T) + T) % T };
}
