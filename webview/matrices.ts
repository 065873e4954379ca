// Which matrix a figure draws: a tensor's head slice (or head mean) with its block's mask, and
// which figure of a stage the exports save. Pure: no DOM.
import type { Stage, TensorData, Trace } from '../shared/trace';
import { findTensor } from '../shared/trace';
import { blockOf } from '../shared/navigation';
import { EMPTY } from '../shared/lazy';
import { headData, headOfTensor, holdHead, isWhole, toMatrix, wholeData, type Matrix } from '../shared/tensorView';
import { currentStage, type PanelState } from './store';

/** Attention matrices ([query, key] per head) are drawn with their block's mask hatched. */
export function isAttentionMatrix(tensor: TensorData): boolean {
  return (
    tensor.name === 'weights' ||
    tensor.name === 'value_norms' ||
    tensor.name === 'scores' ||
    tensor.name === 'difference'
  );
}

/** The 2-D matrix a figure shows for a tensor and head; mask = the block's [query, key] mask. */
export function matrixOf(
  trace: Trace,
  tensor: TensorData,
  head: number,
  kvHeadOf?: readonly number[],
  mask?: TensorData,
): Matrix {
  const m = toMatrix(trace, tensor, head, kvHeadOf);
  return isAttentionMatrix(tensor) ? withMask(m, mask) : m;
}

/** The tensor the lines view draws: the weights, or the scores of a stage that has no weights. */
export function linesTensor(stage: Stage): TensorData | undefined {
  const t = findTensor(stage, 'weights') ?? findTensor(stage, 'scores');
  return t && t.shape.length >= 2 ? t : undefined;
}

/**
 * The tensors a stage shows as heatmaps: not its mask (hatched on the attention matrices instead),
 * nor its top-k ids and probabilities (the predictions table shows them as text: ids are no colours).
 */
export function shownTensors(stage: Stage): TensorData[] {
  const topK = findTensor(stage, 'top_id') !== undefined;
  return stage.tensors.filter((t) => t.name !== 'mask' && t.name !== 'top_id' && !(topK && t.name === 'top_p'));
}

export interface ExportTarget {
  readonly matrix: Matrix;
  readonly title: string;
  readonly tensorName: string;
  readonly stage: Stage;
}

/** The matrix the CSV and SVG exports save: the lines view's, else the stage's weights, scores, or first tensor. */
export function exportTarget(s: PanelState): ExportTarget | undefined {
  const trace = s.trace;
  const stage = currentStage(s);
  if (!trace || !stage || stage.kind === 'tokens' || s.cursor.view === 'grid') return undefined;
  const mask = blockOf(trace, stage)?.mask;
  const kvHeadOf = stage.attention?.kvHeadOf;
  const lines = s.cursor.view === 'lines' ? linesTensor(stage) : undefined;
  const tensors = shownTensors(stage);
  const t =
    lines ?? tensors.find((x) => x.name === 'weights') ?? tensors.find((x) => x.name === 'scores') ?? tensors[0];
  if (!t) return undefined;
  // The lines view hatches masked pairs whatever the tensor is called.
  const matrix = lines
    ? withMask(toMatrix(trace, t, s.cursor.head, kvHeadOf), mask)
    : matrixOf(trace, t, s.cursor.head, kvHeadOf, mask);
  return { matrix, title: `${stage.title} — ${t.name}`, tensorName: t.name, stage };
}

export function withMask(m: Matrix, mask: TensorData | undefined): Matrix {
  return mask && mask.shape.length === 2 ? { ...m, masked: (r, c) => mask.data[r * m.cols + c] === 0 } : m;
}

/**
 * `mine` − `theirs` (a what-if's tensor and the model's own), named `name`, and its values. Whole
 * when the model's tensor is here whole; else (a big run's, fetched a head at a time) only head
 * `head`, held as that head of a tensor of the same shape, so the figure reads it as any other.
 * Undefined when the shapes differ; throws when the model's numbers for the view are not here.
 */
export function difference(
  mine: TensorData,
  theirs: TensorData,
  name: string,
  head: number,
): { tensor: TensorData; values: Float32Array } | undefined {
  if (mine.shape.join() !== theirs.shape.join()) return undefined;
  if (isWhole(theirs) || head < 0) {
    const b = wholeData(theirs);
    const values = wholeData(mine).map((v, i) => v - b[i]!);
    return { tensor: { ...mine, name, data: values }, values };
  }
  const h = headOfTensor(theirs, head);
  const b = headData(theirs, h);
  const values = headData(mine, h).map((v, i) => v - b[i]!);
  const tensor: TensorData = { ...mine, name, data: EMPTY };
  holdHead(tensor, h, values);
  return { tensor, values };
}
