// Which matrix a figure draws: a tensor's head slice (or head mean) with its block's mask, and
// which figure of a stage the exports save. Pure: no DOM.
import type { Stage, TensorData, Trace } from '../shared/trace';
import { findTensor } from '../shared/trace';
import { blockOf } from '../shared/navigation';
import { toMatrix, type Matrix } from '../shared/tensorView';
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
