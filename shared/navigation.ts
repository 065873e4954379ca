// Moving the stage cursor: shared by the webview's buttons and the host's step commands.
import type { AttentionInfo, Stage, StageKind, TensorData, Token, Trace } from './trace';
import { findTensor } from './trace';
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
  return [...new Set(trace.stages.map((s) => s.layer).filter((l): l is number => l !== undefined))].sort(
    (a, b) => a - b,
  );
}

export function stepsOf(trace: Trace): number[] {
  return [...new Set(trace.stages.map((s) => s.step).filter((l): l is number => l !== undefined))].sort(
    (a, b) => a - b,
  );
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
  // In an attention block: the same part of the same attention (a decoder's cross-attention
  // stays cross-attention), not merely the first stage of that kind in the target layer.
  const block = blockOf(trace, cur);
  const part = block && PART_OF[cur.kind];
  if (block && part) {
    const peer = attentionBlocks(trace).find((b) => b[key] === target && sameAttention(b, block) && b.stages[part]);
    if (peer) return { ...c, stage: trace.stages.indexOf(peer.stages[part]!) };
  }
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
  // Within an attention block, its own stage of that phase.
  const block = cur && blockOf(trace, cur);
  const own =
    block &&
    [block.stages.qkv, block.stages.score, block.stages.normalise, block.stages.context].find((s) => s && matches(s));
  if (own) return { ...c, stage: trace.stages.indexOf(own) };
  const preferred = trace.stages.findIndex((s) => matches(s) && s.layer === cur?.layer && s.step === cur?.step);
  const any = trace.stages.findIndex(matches);
  const i = preferred >= 0 ? preferred : any;
  return i >= 0 ? { ...c, stage: i } : c;
}

/**
 * One attention block, self-contained: everything a viewer needs about one attention (one layer's
 * self-attention, a decoder layer's cross-attention, one decoder step) without searching the
 * stage list again. Like bertviz's attn_data: a record per attention, not per stage.
 */
export interface AttentionBlock {
  /** Stable: the id of the stage holding the weights. */
  readonly id: string;
  readonly layer?: number;
  readonly step?: number;
  readonly info: AttentionInfo;
  /** 'cross' when queries and keys come from different token lists (decoder → encoder). */
  readonly role: 'self' | 'cross';
  readonly q?: TensorData;
  readonly k?: TensorData;
  readonly v?: TensorData;
  /** 1 = may attend, 0 = masked; [query, key]. */
  readonly mask?: TensorData;
  readonly scores?: TensorData;
  readonly weights: TensorData;
  /** ‖αᵢⱼ vⱼ W_Oʰ‖ (Kobayashi et al., 2020), like the weights; where the block has an output projection W_O. */
  readonly valueNorms?: TensorData;
  readonly context?: TensorData;
  readonly queryTokens: readonly Token[];
  readonly keyTokens: readonly Token[];
  readonly stages: {
    readonly qkv?: Stage;
    readonly score?: Stage;
    readonly normalise: Stage;
    readonly context?: Stage;
  };
}

type Part = 'qkv' | 'score' | 'normalise' | 'context';
const PART_OF: Partial<Record<StageKind, Part>> = {
  qkv: 'qkv',
  score: 'score',
  normalise: 'normalise',
  context: 'context',
  'self-attention': 'normalise',
  'cross-attention': 'normalise',
};

interface Blocks {
  readonly list: readonly AttentionBlock[];
  readonly byStage: ReadonlyMap<Stage, AttentionBlock>;
}
const memo = new WeakMap<Trace, Blocks>();

/**
 * Groups the stage list into attention blocks: consecutive-or-not stages of kind qkv, score,
 * normalise and context that share layer, step and attention lists (queries, keys). A part seen
 * twice under one key opens a new block, so two attentions of one kind in one layer stay apart.
 * A summary stage ('self-attention' / 'cross-attention' kind) is a block of its own.
 */
function build(trace: Trace): Blocks {
  type Open = { -readonly [P in Part]?: Stage };
  const groups: Open[] = [];
  const openByKey = new Map<string, Open>();
  for (const s of trace.stages) {
    const part = PART_OF[s.kind];
    if (!part || !s.attention) continue;
    const summary = s.kind === 'self-attention' || s.kind === 'cross-attention';
    const key = `${s.layer ?? ''}|${s.step ?? ''}|${s.attention.queries}|${s.attention.keys}`;
    let g = summary ? undefined : openByKey.get(key);
    if (!g || g[part]) {
      g = {};
      groups.push(g);
      if (!summary) openByKey.set(key, g);
    }
    g[part] = s;
  }
  const list: AttentionBlock[] = [];
  const byStage = new Map<Stage, AttentionBlock>();
  const tokensOf = (which: 'input' | 'output'): readonly Token[] =>
    which === 'input' ? trace.tokens : (trace.outputTokens ?? []);
  for (const g of groups) {
    const normalise = g.normalise;
    const weights = normalise && findTensor(normalise, 'weights');
    if (!normalise || !weights) continue;
    const info = normalise.attention!;
    const parts = [g.qkv, g.score, normalise, g.context].filter((s): s is Stage => s !== undefined);
    const mask = parts.map((s) => findTensor(s, 'mask')).find((t) => t !== undefined);
    const block: AttentionBlock = {
      id: normalise.id,
      layer: normalise.layer,
      step: normalise.step,
      info,
      role: info.queries === info.keys ? 'self' : 'cross',
      q: g.qkv && findTensor(g.qkv, 'Q'),
      k: g.qkv && findTensor(g.qkv, 'K'),
      v: g.qkv && findTensor(g.qkv, 'V'),
      mask,
      scores: g.score && findTensor(g.score, 'scores'),
      weights,
      valueNorms: findTensor(normalise, 'value_norms'),
      context: g.context && findTensor(g.context, 'context'),
      queryTokens: tokensOf(info.queries),
      keyTokens: tokensOf(info.keys),
      stages: { qkv: g.qkv, score: g.score, normalise, context: g.context },
    };
    list.push(block);
    for (const s of parts) byStage.set(s, block);
  }
  return { list, byStage };
}

/** Same attention in another layer or step: same token lists, same role. */
function sameAttention(a: AttentionBlock, b: AttentionBlock): boolean {
  return (
    a.role === b.role &&
    a.info.queries === b.info.queries &&
    a.info.keys === b.info.keys &&
    a.stages.normalise.kind === b.stages.normalise.kind
  );
}

function blocks(trace: Trace): Blocks {
  let b = memo.get(trace);
  if (!b) memo.set(trace, (b = build(trace)));
  return b;
}

/** Every attention block of a trace, in stage order. Memoised per trace. */
export function attentionBlocks(trace: Trace): readonly AttentionBlock[] {
  return blocks(trace).list;
}

/** The block any of its stages (Q/K/V, scores, weights, context) belongs to. */
export function blockOf(trace: Trace, stage: Stage): AttentionBlock | undefined {
  return blocks(trace).byStage.get(stage);
}

/**
 * The block the hover and decorations read for the cursor: the cursor's own block, else (on a
 * stage outside any block, e.g. a layer's input) a per-head weights block of the same layer and
 * step, of the same layer, or the first.
 */
export function blockAt(trace: Trace, c: Cursor): AttentionBlock | undefined {
  const cur = trace.stages[c.stage];
  const own = cur && blockOf(trace, cur);
  if (own) return own;
  const perHead = attentionBlocks(trace).filter((b) => b.stages.normalise.kind === 'normalise');
  return (
    perHead.find((b) => b.layer === cur?.layer && b.step === cur?.step) ??
    perHead.find((b) => b.layer === cur?.layer) ??
    perHead[0]
  );
}

/** The attention-weights stage the hover and decorations read for the cursor's layer/step. */
export function weightsStageFor(trace: Trace, c: Cursor): Stage | undefined {
  return blockAt(trace, c)?.stages.normalise;
}
