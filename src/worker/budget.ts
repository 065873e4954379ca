// A run's memory, estimated before it starts from the model's shape and an upper bound on its
// tokens, so a run that would exhaust the wasm heap (a trap, then a restart) is refused with the
// largest token count that fits instead. Every layer records, per head, T×T scores, weights, the
// value-weighted norms ‖αvW_O‖ and the mask/score inputs (4 float32 matrices), and T×d_model for Q, K, V, context and the residual.
// The weights are not counted: they are loaded (or streamed) already when the check runs.
import type { ModelInfo } from '../../shared/trace';
import { AttentionInputError } from '../../shared/trace';

const FLOAT = 4;
/** T×T tensors recorded per head per layer (scores, weights, value-weighted norms, and the masked scores). */
const SQUARE_PER_HEAD = 4;
/** T×d_model tensors recorded per layer (Q, K, V, context, output). */
const LINEAR_PER_LAYER = 5;

/** Bytes a run of `tokens` tokens records. Encoder–decoders counted twice (two stacks). */
export function estimateRunBytes(info: ModelInfo, tokens: number): number {
  const stacks = /encoder.decoder|marian|t5|bart|seq2seq/i.test(info.family) ? 2 : 1;
  const layers = Math.max(1, info.layers) * stacks;
  const square = tokens * tokens * Math.max(1, info.heads) * SQUARE_PER_HEAD * layers;
  const linear = tokens * Math.max(1, info.dModel) * LINEAR_PER_LAYER * layers;
  return (square + linear) * FLOAT;
}

/**
 * At most this many tokens come from `text`: UTF-8 bytes bound every tokenizer here, plus specials;
 * maxTokens and the model's own bound (ModelInfo.maxInputTokens) cap it.
 */
export function tokenBound(
  text: string,
  maxTokens: number | undefined,
  info?: Pick<ModelInfo, 'maxInputTokens'>,
): number {
  const bytes = Buffer.byteLength(text, 'utf8') + 4;
  return Math.max(1, Math.min(bytes, maxTokens ?? bytes, info?.maxInputTokens ?? bytes));
}

/** Bytes as the budget messages say them: whole MB, rounded up. */
const mb = (b: number): string => `${Math.ceil(b / (1024 * 1024)).toLocaleString('en-US')} MB`;

/** attentionLens.memoryBudgetMB's default, and the CLI's --memory-budget default (MB). */
export const DEFAULT_MEMORY_BUDGET_MB = 2048;

/** What the refusal calls the budget and the token limit: the settings, or the CLI's flags. */
export interface BudgetNames {
  readonly budget: string;
  /** Undefined when the tokens are fixed by the input (a hand-built config lists its own). */
  readonly maxTokens?: string;
}
export const SETTING_NAMES: BudgetNames = {
  budget: 'attentionLens.memoryBudgetMB',
  maxTokens: 'attentionLens.maxTokens',
};
export const CLI_NAMES: BudgetNames = { budget: '--memory-budget', maxTokens: '--max-tokens' };

/** Throws a 'too-long' error naming the estimate, the budget and the token count that fits. */
export function checkBudgetTokens(
  info: ModelInfo,
  tokens: number,
  budgetMB: number,
  names: BudgetNames = SETTING_NAMES,
): void {
  const need = estimateRunBytes(info, tokens);
  const budget = budgetMB * 1024 * 1024;
  if (need <= budget) return;
  let fits = 0;
  for (let lo = 1, hi = tokens; lo <= hi; ) {
    const mid = (lo + hi) >> 1;
    if (estimateRunBytes(info, mid) <= budget) {
      fits = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const fewer = names.maxTokens
    ? `Set ${names.maxTokens} to ${fits} or fewer, or select less text, or raise the budget.`
    : `List ${fits} tokens or fewer, or raise the budget.`;
  throw new AttentionInputError(
    'too-long',
    `This run could need about ${mb(need)} (${tokens} tokens × ${info.layers} layers × ${info.heads} heads of attention tensors), more than ${names.budget} (${mb(budget)}). ` +
      (fits > 0 ? fewer : 'Not even one token fits; raise the budget or choose a smaller model.'),
  );
}

/** checkBudget for a text: its tokens bounded by its UTF-8 bytes and maxTokens. */
export function checkBudget(
  info: ModelInfo,
  text: string,
  maxTokens: number | undefined,
  budgetMB: number,
  names: BudgetNames = SETTING_NAMES,
): void {
  checkBudgetTokens(info, tokenBound(text, maxTokens, info), budgetMB, names);
}

/**
 * Bytes a light-mode run keeps (RunOptions.light): every layer's input ([T, d_model]) and its
 * small tensors, plus one layer recorded whole while it runs and one recomputed when shown.
 */
export function estimateLightBytes(info: ModelInfo, tokens: number): number {
  const layers = Math.max(1, info.layers);
  // Each layer keeps its input and tensors up to 256 KB (a quarter more, generously).
  return (
    tokens * Math.max(1, info.dModel) * layers * FLOAT * 1.25 + 2 * estimateRunBytes({ ...info, layers: 1 }, tokens)
  );
}

/**
 * How a run fits the budget: eagerly (false), only in light mode (true, when the model can
 * recompute its layers), or not at all (throws the eager run's 'too-long' message).
 */
export function needsLight(
  info: ModelInfo,
  tokens: number,
  budgetMB: number,
  canLight: boolean,
  names: BudgetNames = SETTING_NAMES,
): boolean {
  const budget = budgetMB * 1024 * 1024;
  if (estimateRunBytes(info, tokens) <= budget) return false;
  if (canLight && estimateLightBytes(info, tokens) <= budget) return true;
  checkBudgetTokens(info, tokens, budgetMB, names);
  return false;
}

/** The note a light-mode trace carries: why, and what it means for the user. */
export function lightNote(
  info: ModelInfo,
  tokens: number,
  budgetMB: number,
  names: BudgetNames = SETTING_NAMES,
): string {
  return `Light mode: every tensor of this run would take about ${mb(estimateRunBytes(info, tokens))}, more than ${names.budget} (${mb(budgetMB * 1024 * 1024)}), so each layer's input is kept (about ${mb(estimateLightBytes(info, tokens))}) and a layer's attention is computed again, with the same numbers, when it is shown.`;
}
