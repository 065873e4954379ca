// A trace the panel can hold at any length: an index (every stage, token and small tensor) with
// the big tensors left with the host, fetched by what shows them — one head of one block, or a
// whole tensor. The host keeps the full trace; these pure functions build the index, answer a
// fetch and say what a cursor needs.
import type { Cursor, ViewMode } from './protocol';
import { blockOf } from './navigation';
import { decoderLayerOf } from './decoderSteps';
import { headCount, headOfTensor } from './tensorView';
import { AttentionInputError, type Stage, type TensorData, type Trace } from './trace';

/** Tensors up to this size travel with the index; bigger ones are fetched when shown. */
export const INLINE_BYTES = 256 * 1024;

/** One fetch: a tensor of a stage, whole or one head (the index into its first, head axis). */
export interface TensorRequest {
  readonly stage: string;
  readonly tensor: string;
  readonly head?: number;
}

export const EMPTY = new Float32Array(0);

/** Whether a tensor of the index was left with the host (its data is empty until fetched). */
export function isRemote(t: TensorData): boolean {
  return t.remote === true;
}

export function tensorBytes(t: Pick<TensorData, 'shape'>): number {
  return t.shape.reduce((a, b) => a * b, 1) * 4;
}

/** Bytes of every tensor of the trace, by shape (an index is as big as the run it describes). */
export function traceBytes(trace: Trace): number {
  let n = 0;
  for (const s of trace.stages) for (const t of s.tensors) n += tensorBytes(t);
  return n;
}

export function hasRemote(trace: Trace): boolean {
  return trace.stages.some((s) => s.tensors.some(isRemote));
}

/** The trace as the panel first receives it: tensors above `inlineBytes` keep their shape and axes, not their data. */
export function traceIndex(trace: Trace, inlineBytes = INLINE_BYTES): Trace {
  if (trace.stages.every((s) => s.tensors.every((t) => t.data.byteLength <= inlineBytes))) return trace;
  return {
    ...trace,
    stages: trace.stages.map((s) =>
      s.tensors.every((t) => t.data.byteLength <= inlineBytes)
        ? s
        : {
            ...s,
            tensors: s.tensors.map((t) =>
              t.data.byteLength <= inlineBytes ? t : { ...t, data: EMPTY, remote: true as const },
            ),
          },
    ),
  };
}

/**
 * Light mode: stages with their big tensors left out (empty, `remote`), except those `keep` names
 * (the input a layer is recomputed from). The model makes them again on request.
 */
export function lighten(
  stages: readonly Stage[],
  keep: (stage: Stage, tensor: TensorData) => boolean,
  inlineBytes = INLINE_BYTES,
): Stage[] {
  return stages.map((s) => ({
    ...s,
    tensors: s.tensors.map((t) =>
      t.data.byteLength <= inlineBytes || keep(s, t) ? t : { ...t, data: EMPTY, remote: true as const },
    ),
  }));
}

/** Whether `t` of `stage` is a layer's input, which a light trace keeps to make the layer again from. */
export const isLayerInput = (stage: Stage, t: TensorData): boolean =>
  stage.layer !== undefined && stage.id === `L${stage.layer}.input` && t.name === 'residual';

/** Layer `layer`'s input in `trace` (what isLayerInput names), if it has one. */
export function layerInput(trace: Trace, layer: number): TensorData | undefined {
  const stage = trace.stages.find((s) => s.layer === layer && s.id === `L${layer}.input`);
  return stage?.tensors.find((t) => isLayerInput(stage, t));
}

/**
 * A held run in light form, for the restore cache: what a light run keeps (every tensor outside
 * the layers, each layer's input, the small tensors), its other tensors marked remote, to be made
 * again by the model (AttentionModel.recomputeLayer) from the layer's input. `fetch` brings the
 * tensors the trace does not have in hand.
 */
export async function lightForm(
  trace: Trace,
  fetch: (want: readonly TensorRequest[]) => Promise<readonly TensorData[]>,
): Promise<Trace> {
  const keep = (s: Stage, t: TensorData): boolean => s.layer === undefined || isLayerInput(s, t);
  const want = trace.stages.flatMap((s) =>
    s.tensors.filter((t) => isRemote(t) && keep(s, t)).map((t) => ({ stage: s.id, tensor: t.name })),
  );
  const got = want.length ? await fetch(want) : [];
  if (got.length !== want.length) throw new Error(`asked for ${want.length} tensors, got ${got.length}`);
  const byKey = new Map(want.map((r, i) => [`${r.stage}\u0000${r.tensor}`, got[i]!]));
  return {
    ...trace,
    stages: lighten(
      trace.stages.map((s) => ({ ...s, tensors: s.tensors.map((t) => byKey.get(`${s.id}\u0000${t.name}`) ?? t) })),
      keep,
    ),
  };
}

/** Throws unless `trace` is a light form a model of `layers` layers, `dModel` wide, can make its layers again from. */
export function checkLightForm(trace: Trace, layers: number, dModel: number): void {
  const T = trace.tokens.length;
  for (let l = 0; l < layers; l++) {
    const input = layerInput(trace, l);
    if (!input || isRemote(input) || input.data.length !== T * dModel)
      throw new AttentionInputError(
        'shape',
        `The kept run has no input of layer ${l} (${T} × ${dModel}) to make it again from.`,
      );
  }
  for (const s of trace.stages)
    for (const t of s.tensors)
      if (isRemote(t) && s.layer === undefined)
        throw new AttentionInputError('shape', `The kept run lacks the tensor ${t.name} of ${s.title}.`);
  if (trace.stages.some((s) => s.layer !== undefined && s.layer >= layers))
    throw new AttentionInputError('shape', `The kept run has more layers than the model (${layers}).`);
}

/**
 * A light-mode trace's layers, made again by `recompute` when read and the last `keep` kept (a
 * switch back and forth costs nothing; memory follows `keep` layers, not all of them).
 */
export class LayerCache {
  private readonly layers = new Map<number, Stage[]>();

  constructor(
    private readonly trace: Trace,
    private readonly recompute: (trace: Trace, layer: number) => Stage[],
    private readonly keep = 2,
  ) {}

  /** The stages of the layer `stage` belongs to, whole. */
  stagesOf(stage: Stage): Stage[] {
    const l = stage.layer;
    if (l === undefined)
      throw new Error(`Stage "${stage.title}" has a tensor this run did not keep, and no way to make it again.`);
    let stages = this.layers.get(l);
    if (stages) this.layers.delete(l);
    else stages = this.recompute(this.trace, l);
    this.layers.set(l, stages);
    while (this.layers.size > this.keep) this.layers.delete(this.layers.keys().next().value!);
    return stages;
  }

  /** Layer `layer`'s stages if they are cached, leaving the cache's order as it is. */
  peek(layer: number): Stage[] | undefined {
    return this.layers.get(layer);
  }

  /** One tensor's numbers, from the trace or its recomputed layer. */
  data(stageId: string, tensor: string): Float32Array {
    const stage = this.trace.stages.find((s) => s.id === stageId);
    const t = stage?.tensors.find((x) => x.name === tensor);
    if (!stage || !t) throw new Error(`The run has no tensor ${stageId}/${tensor}.`);
    if (!isRemote(t)) return t.data;
    const again = this.stagesOf(stage)
      .find((s) => s.id === stageId)
      ?.tensors.find((x) => x.name === tensor);
    if (!again) throw new Error(`Recomputing layer ${stage.layer} gave no tensor ${stageId}/${tensor}.`);
    return again.data;
  }
}

/**
 * `next` with the stages it shares with `prev` (same place, id, tensor names and shapes) taken from
 * `prev`: a streamed run's next partial trace, or its finished one, keeps the tensors the panel
 * already fetched (the numbers are the same, bit for bit).
 */
export function carryStages(prev: Trace, next: Trace): Trace {
  let carried = 0;
  const stages = next.stages.map((s, i) => {
    const p = prev.stages[i];
    const same =
      p !== undefined &&
      p.id === s.id &&
      p.tensors.length === s.tensors.length &&
      p.tensors.every((t, j) => t.name === s.tensors[j]!.name && t.shape.join() === s.tensors[j]!.shape.join());
    if (same) carried++;
    return same ? p : s;
  });
  return carried === 0 ? next : { ...next, stages };
}

/** The answer to one fetch, from the full trace; a copy, so posting it never drags the whole buffer along. */
export function fetchTensor(trace: Trace, r: TensorRequest): TensorData {
  const stage = trace.stages.find((s) => s.id === r.stage);
  if (!stage) throw new Error(`The run shown has no stage "${r.stage}" (it may have been replaced by a newer run).`);
  const t = stage.tensors.find((x) => x.name === r.tensor);
  if (!t) throw new Error(`Stage "${stage.title}" has no tensor "${r.tensor}".`);
  if (r.head === undefined) return { ...t, data: t.data.slice() };
  const H = headCount(t);
  if (H === 0 || !Number.isInteger(r.head) || r.head < 0 || r.head >= H)
    throw new Error(`Tensor "${r.tensor}" of stage "${stage.title}" has no head ${r.head}.`);
  const size = t.data.length / H;
  return {
    ...t,
    shape: t.shape.slice(1),
    axes: t.axes.slice(1),
    data: t.data.slice(r.head * size, (r.head + 1) * size),
  };
}

/** Views that read every head of a tensor at once (the mean of heads reads them all too; the step view's all-heads rows). */
const ALL_HEADS: ReadonlySet<ViewMode> = new Set<ViewMode>(['grid', 'heads', 'steps']);

/** The stages whose tensors the cursor's view draws: its own and those of its attention block. */
export function stagesShown(trace: Trace, c: Cursor): Stage[] {
  const stage = trace.stages[Math.max(0, Math.min(c.stage, trace.stages.length - 1))];
  if (!stage) return [];
  const block = blockOf(trace, stage);
  const list = [stage];
  if (block) for (const s of Object.values(block.stages)) if (s && !list.includes(s)) list.push(s);
  // The step view reads the decoder layer's self- and cross-attention weights and the top-k of every step.
  if (c.view === 'steps') {
    const dec = decoderLayerOf(trace, stage);
    const out = trace.stages.find((s) => s.tensors.some((t) => t.name === 'top_id'));
    for (const s of [dec?.self?.stages.normalise, dec?.cross?.stages.normalise, out])
      if (s && !list.includes(s)) list.push(s);
  }
  const bias = stage.attention?.scoreBias;
  const biasStage = bias && trace.stages.find((s) => s.id === bias.stage);
  if (biasStage && !list.includes(biasStage)) list.push(biasStage);
  return list;
}

/**
 * What the cursor's view needs of the remote tensors: one head of each where the view shows one
 * head, whole tensors where it shows the mean of heads, or when the block is small enough that
 * one fetch of everything is cheaper than asking again per head.
 */
export function needsOf(trace: Trace, c: Cursor, wholeUpTo = 32 * 1024 * 1024): TensorRequest[] {
  if (c.view === 'grid') return [];
  const stages = stagesShown(trace, c);
  const remote = stages.flatMap((s) => s.tensors.filter(isRemote).map((t) => ({ s, t })));
  const total = remote.reduce((n, { t }) => n + tensorBytes(t), 0);
  const perHead = c.head >= 0 && !ALL_HEADS.has(c.view) && total > wholeUpTo;
  return remote.map(({ s, t }) =>
    perHead && headCount(t) > 0 && t.shape.length === 3
      ? { stage: s.id, tensor: t.name, head: headOfTensor(t, c.head, s.attention?.kvHeadOf) }
      : { stage: s.id, tensor: t.name },
  );
}

/** A standalone page embeds a trace up to this size whole; past it, the index and the cursor's block. */
export const EMBED_WHOLE_BYTES = 48 * 1024 * 1024;

/**
 * The trace a standalone page embeds: whole when it is small; else the index plus every tensor of
 * the stages the cursor's view draws, with a warning that says what was left out.
 */
export function embeddable(trace: Trace, c: Cursor, wholeUpTo = EMBED_WHOLE_BYTES): Trace {
  const bytes = traceBytes(trace);
  if (bytes <= wholeUpTo && !hasRemote(trace)) return trace;
  const keep = new Set(stagesShown(trace, c).map((s) => s.id));
  const index = traceIndex(trace);
  const mb = (n: number): string => (n < 2 ** 20 ? `${(n / 1024).toFixed(0)} KB` : `${(n / 2 ** 20).toFixed(0)} MB`);
  return {
    ...index,
    stages: index.stages.map((s, i) => (keep.has(s.id) ? trace.stages[i]! : s)),
    warnings: [
      ...trace.warnings,
      `This page embeds the tensors of “${trace.stages[c.stage]?.title ?? 'the stage shown'}” and every tensor up to ${mb(INLINE_BYTES)}; the run's ${mb(bytes)} of tensors do not fit in one page. Other stages' big tensors are left out.`,
    ],
  };
}
