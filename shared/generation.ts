// Continue (generation) in the panel, the parts both sides share: the settings a Continue is made
// with and their checks (the webview's form and the host's request: the same messages), and where
// a generated token's attention is: the row of the query that chose it, the token before it.
import { attentionBlocks, blockOf } from './navigation';
import type { Cursor } from './protocol';
import type { Trace } from './trace';

/** Sampling as transformers' generate(do_sample=True): temperature, then top-k, then top-p, a seeded PRNG. */
export interface SamplingSettings {
  /** > 0. */
  readonly temperature: number;
  /** Keep the k most probable tokens; 0: all. */
  readonly topK: number;
  /** Keep the smallest most-probable set reaching p; 1: all. */
  readonly topP: number;
  readonly seed: number;
}

/** What one press of Continue asks for: `tokens` new tokens, greedy (no sampling) or sampled. */
export interface ContinueSettings {
  readonly tokens: number;
  readonly sampling?: SamplingSettings;
}

/** The form's starting values (attentionLens.generate.*). */
export interface GenerateDefaults {
  readonly tokens: number;
  readonly mode: 'greedy' | 'sampling';
  readonly sampling: SamplingSettings;
}

export const MAX_CONTINUE_TOKENS = 64;
export const MAX_SEED = 0xffffffff;

export const DEFAULT_GENERATE: GenerateDefaults = {
  tokens: 3,
  mode: 'greedy',
  sampling: { temperature: 1, topK: 0, topP: 1, seed: 0 },
};

/** Each field's rule, as the form and the host's check say it. */
const RULES = {
  tokens: {
    ok: (v: number) => Number.isInteger(v) && v >= 1 && v <= MAX_CONTINUE_TOKENS,
    want: `a whole number from 1 to ${MAX_CONTINUE_TOKENS}`,
  },
  temperature: { ok: (v: number) => Number.isFinite(v) && v > 0 && v <= 100, want: 'a number above 0 (at most 100)' },
  topK: { ok: (v: number) => Number.isInteger(v) && v >= 0, want: 'a whole number ≥ 0 (0: no limit)' },
  topP: { ok: (v: number) => Number.isFinite(v) && v > 0 && v <= 1, want: 'a number in (0, 1] (1: no limit)' },
  seed: {
    ok: (v: number) => Number.isInteger(v) && v >= 0 && v <= MAX_SEED,
    want: `a whole number from 0 to ${MAX_SEED}`,
  },
} as const;

const LABELS: Record<keyof typeof RULES, string> = {
  tokens: 'Tokens',
  temperature: 'Temperature',
  topK: 'Top-k',
  topP: 'Top-p',
  seed: 'Seed',
};

function field(name: keyof typeof RULES, v: unknown): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : typeof v === 'number' ? v : NaN;
  if (!RULES[name].ok(n)) throw new Error(`${LABELS[name]} must be ${RULES[name].want}, not ${JSON.stringify(v)}.`);
  return n;
}

/** The settings a Continue request carries, checked (the host does not trust the webview): throws a clear message. */
export function checkContinue(x: { readonly tokens: unknown; readonly sampling?: unknown }): ContinueSettings {
  const tokens = field('tokens', x.tokens);
  if (x.sampling === undefined) return { tokens };
  const s = x.sampling as Record<string, unknown> | null;
  if (typeof s !== 'object' || s === null) throw new Error('Sampling must be an object or absent (greedy).');
  return {
    tokens,
    sampling: {
      temperature: field('temperature', s['temperature']),
      topK: field('topK', s['topK']),
      topP: field('topP', s['topP']),
      seed: field('seed', s['seed']),
    },
  };
}

/** The form's text fields: the settings, or the first field's problem. */
export function parseContinueForm(form: {
  readonly tokens: string;
  readonly mode: 'greedy' | 'sampling';
  readonly temperature: string;
  readonly topK: string;
  readonly topP: string;
  readonly seed: string;
}): { readonly settings: ContinueSettings } | { readonly error: string } {
  try {
    const { tokens, mode, ...sampling } = form;
    return { settings: checkContinue(mode === 'greedy' ? { tokens } : { tokens, sampling }) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** How a Continue decodes, in words: 'greedy' or 'sampling: temperature 0.8, top-k 40, top-p 0.9, seed 1'. */
export function decodingText(s: ContinueSettings): string {
  const p = s.sampling;
  if (!p) return 'greedy';
  const parts = [`temperature ${p.temperature}`];
  if (p.topK > 0) parts.push(`top-k ${p.topK}`);
  if (p.topP < 1) parts.push(`top-p ${p.topP}`);
  parts.push(`seed ${p.seed}`);
  return `sampling: ${parts.join(', ')}`;
}

/** A probability as the strip and the CLI print it: one decimal, three below 0.1%. */
export const percentText = (p: number): string => `${(p * 100).toFixed(p < 0.001 ? 3 : 1)}%`;

/** The attention row that chose the generated token at `position`: the query of the token before it. */
export const choosingRow = (position: number): number => position - 1;

/**
 * The cursor that shows how the generated token at `position` was chosen: the cursor's own attention
 * stage (self-attention over the input) if it is on one, else the last layer's weights; the row of
 * the query that chose it. The grid and matrices views become the heatmap (they show no row).
 */
export function generatedTokenCursor(trace: Trace, c: Cursor, position: number): Cursor {
  const here = trace.stages[c.stage];
  const own = here && blockOf(trace, here);
  const selfInput = (b: { info: { queries: string; keys: string } }) =>
    b.info.queries === 'input' && b.info.keys === 'input';
  let stage = c.stage;
  if (!own || !selfInput(own)) {
    const last = attentionBlocks(trace)
      .filter((b) => selfInput(b) && b.stages.normalise.kind === 'normalise')
      .at(-1);
    if (last) stage = trace.stages.indexOf(last.stages.normalise);
  }
  const view = c.view === 'lines' ? 'lines' : 'heatmap';
  return { stage, head: c.head, view, row: choosingRow(position) };
}
