// Moving the stage cursor: shared by the webview's buttons and the host's step commands.
import type { Stage, StageKind, Trace } from './trace';
import type { Cursor } from './protocol';

/** The pipeline as a learner reads it; each stage kind belongs to one phase. */
export const PHASES = ['tokens', 'embedding', 'encoder', 'Q/K/V', 'scores', 'normalise', 'context', 'decoder'] as const;
export type Phase = (typeof PHASES)[number];

export function phaseOf(kind: StageKind): Phase {
  switch (kind) {
    case 'tokens':
      return 'tokens';
    case 'embedding':
      return 'embedding';
    case 'encoder-layer':
    case 'encoder-step':
      return 'encoder';
    case 'qkv':
      return 'Q/K/V';
    case 'score':
      return 'scores';
    case 'normalise':
    case 'self-attention':
    case 'cross-attention':
      return 'normalise';
    case 'context':
      return 'context';
    case 'decoder-step':
    case 'output':
      return 'decoder';
  }
}

const clampStage = (trace: Trace, i: number): number => Math.max(0, Math.min(trace.stages.length - 1, i));

/** Heads in the attention stages of a trace (max over stages), 0 if none. */
export function headsOf(trace: Trace): number {
  let n = 0;
  for (const s of trace.stages) for (const t of s.tensors) if (t.axes[0] === 'head') n = Math.max(n, t.shape[0]!);
  return n;
}

export function layersOf(trace: Trace): number[] {
  return [...new Set(trace.stages.map((s) => s.layer).filter((l): l is number => l !== undefined))].sort((a, b) => a - b);
}

export function stepsOf(trace: Trace): number[] {
  return [...new Set(trace.stages.map((s) => s.step).filter((l): l is number => l !== undefined))].sort((a, b) => a - b);
}

export function moveStage(trace: Trace, c: Cursor, delta: number): Cursor {
  return { ...c, stage: clampStage(trace, c.stage + delta) };
}

/** Same kind of stage in the next/previous layer (or decoder step), wrapping at the ends. */
function moveAlong(trace: Trace, c: Cursor, delta: number, key: 'layer' | 'step'): Cursor {
  const cur = trace.stages[c.stage];
  const values = key === 'layer' ? layersOf(trace) : stepsOf(trace);
  if (!cur || values.length === 0) return c;
  const at = cur[key] === undefined ? -1 : values.indexOf(cur[key]!);
  const target = values[(((at + delta) % values.length) + values.length) % values.length]!;
  const sameKind = trace.stages.findIndex((s) => s[key] === target && s.kind === cur.kind);
  const any = trace.stages.findIndex((s) => s[key] === target);
  const i = sameKind >= 0 ? sameKind : any;
  return i >= 0 ? { ...c, stage: i } : c;
}

export const moveLayer = (trace: Trace, c: Cursor, delta: number): Cursor => moveAlong(trace, c, delta, 'layer');
export const moveStep = (trace: Trace, c: Cursor, delta: number): Cursor => moveAlong(trace, c, delta, 'step');

export function moveHead(trace: Trace, c: Cursor, delta: number): Cursor {
  const n = headsOf(trace);
  if (n === 0) return c;
  // -1 (mean of heads) sits after the last head in the cycle.
  const order = [...Array.from({ length: n }, (_, i) => i), -1];
  const at = Math.max(0, order.indexOf(c.head));
  return { ...c, head: order[(((at + delta) % order.length) + order.length) % order.length]! };
}

/** Jump to the first stage of a phase, staying in the current layer/step where there is one. */
export function jumpToPhase(trace: Trace, c: Cursor, phase: Phase): Cursor {
  const cur = trace.stages[c.stage];
  const matches = (s: Stage): boolean => phaseOf(s.kind) === phase;
  const preferred = trace.stages.findIndex((s) => matches(s) && s.layer === cur?.layer && s.step === cur?.step);
  const any = trace.stages.findIndex(matches);
  const i = preferred >= 0 ? preferred : any;
  return i >= 0 ? { ...c, stage: i } : c;
}

/** The attention-weights stage the hover and decorations read for the cursor's layer/step. */
export function weightsStageFor(trace: Trace, c: Cursor): Stage | undefined {
  const cur = trace.stages[c.stage];
  const isWeights = (s: Stage): boolean => s.kind === 'normalise' && s.tensors.some((t) => t.name === 'weights');
  if (cur && isWeights(cur)) return cur;
  return (
    trace.stages.find((s) => isWeights(s) && s.layer === cur?.layer && s.step === cur?.step) ??
    trace.stages.find((s) => isWeights(s) && s.layer === cur?.layer) ??
    trace.stages.find(isWeights)
  );
}
