// The command line's generation: --generate N [--temperature T] [--top-k K] [--top-p P] [--seed S].
// Greedy unless a sampling flag is given (temperature 0 is greedy); the seed makes sampling repeatable.
// Prints each new token with its probability, its alternatives, and where the predicting query looked.
import { tf } from './model/runtime/backend';
import type { AttentionModel } from './model/model';
import { appendedText, CausalLm } from './model/transformer/causalLm';
import type { GeneratedToken, Sampling } from './model/transformer/generate';
import { AttentionInputError } from '../shared/trace';

export interface GenerateArgs {
  n?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export const GENERATE_USAGE = `       attention-lens --generate N [--temperature T] [--top-k K] [--top-p P] [--seed S] [--model MODEL] "text"
--generate continues the text by N tokens with a decoder (greedy; sampled when --temperature > 0, --top-k,
--top-p or --seed is given: temperature 1, seed 0 unless set); with --json OUT.json it writes the new tokens,
each with its probability and alternatives, instead of the trace.`;

const FLAGS = ['--generate', '--temperature', '--top-k', '--top-p', '--seed'] as const;

export function isGenerateFlag(arg: string): boolean {
  return (FLAGS as readonly string[]).includes(arg);
}

/** Reads one generation flag's value into `g`; bad values throw `usage(message)`. */
export function readGenerateFlag(g: GenerateArgs, arg: string, v: string, usage: (message: string) => Error): void {
  const n = Number(v);
  const bad = (want: string) => usage(`${arg} must be ${want}; received ${JSON.stringify(v)}.`);
  const num = v.trim() !== '' && Number.isFinite(n);
  if (arg === '--generate') {
    if (!num || !Number.isInteger(n) || n <= 0) throw bad('a positive whole number');
    g.n = n;
  } else if (arg === '--temperature') {
    if (!num || n < 0) throw bad('a number ≥ 0 (0: greedy)');
    g.temperature = n;
  } else if (arg === '--top-k') {
    if (!num || !Number.isInteger(n) || n < 0) throw bad('a whole number ≥ 0 (0: no limit)');
    g.topK = n;
  } else if (arg === '--top-p') {
    if (!num || n <= 0 || n > 1) throw bad('a number in (0, 1]');
    g.topP = n;
  } else if (arg === '--seed') {
    if (!num || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw bad('a whole number from 0 to 4294967295');
    g.seed = n;
  }
}

/** The sampling the flags ask for, or undefined for greedy; flags without --generate are a usage error. */
export function samplingOf(g: GenerateArgs, usage: (message: string) => Error): Sampling | undefined {
  const sampled = g.topK !== undefined || g.topP !== undefined || g.seed !== undefined || (g.temperature ?? 0) > 0;
  if (g.n === undefined) {
    if (sampled || g.temperature !== undefined)
      throw usage('--temperature, --top-k, --top-p and --seed need --generate N.');
    return undefined;
  }
  if (!sampled) return undefined;
  if (g.temperature === 0)
    throw usage('--temperature 0 is greedy decoding; it cannot be combined with --top-k, --top-p or --seed.');
  return {
    temperature: g.temperature ?? 1,
    seed: g.seed ?? 0,
    ...(g.topK !== undefined ? { topK: g.topK } : {}),
    ...(g.topP !== undefined ? { topP: g.topP } : {}),
  };
}

const pct = (p: number): string => `${(p * 100).toFixed(p < 0.001 ? 3 : 1)}%`;

function stepLine(t: GeneratedToken, piece: (id: number) => string, sampled: boolean): string {
  const alts = t.alternatives.map((a) => `${JSON.stringify(a.piece)} ${pct(a.p)}`).join(', ');
  const drawn = sampled ? `, drawn with ${pct(t.drawP)}` : '';
  const lines = [
    `step ${t.step + 1}: ${JSON.stringify(t.piece)} (id ${t.id}) p ${pct(t.p)}${drawn}${t.cached ? '' : t.step === 0 ? " [the prompt's pass]" : ' [a full pass of the window]'}`,
    `    top: ${alts}`,
  ];
  const a = t.attention;
  if (a) {
    const L = a.weights.length;
    const K = a.keyIds.length;
    const w = a.weights[L - 1]!;
    const heads = Array.from({ length: a.heads }, (_, h) => {
      let best = 0;
      for (let k = 1; k < K; k++) if (w[h * K + k]! > w[h * K + best]!) best = k;
      return `h${h}→${best} ${JSON.stringify(piece(a.keyIds[best]!))} ${pct(w[h * K + best]!)}`;
    });
    lines.push(
      `    layer ${L - 1}, query ${a.query} ${JSON.stringify(piece(a.keyIds[a.query]!))}, most-attended key per head: ${heads.join(', ')}`,
    );
  }
  return lines.join('\n');
}

/** Continues the run's tokens (`prompt`, ids) by g.n tokens and prints each; the model must be a causal LM. */
export async function printGeneration(
  model: AttentionModel,
  prompt: readonly number[],
  g: GenerateArgs,
  sampling: Sampling | undefined,
  signal: AbortSignal,
): Promise<GenerationJson> {
  if (!(model instanceof CausalLm))
    throw new AttentionInputError(
      'config',
      `--generate needs a decoder-only language model (a causal LM); ${model.info.name} is not one.`,
    );
  const lm = model as CausalLm<unknown>;
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  const how = sampling
    ? `sampled: temperature ${sampling.temperature}${sampling.topK ? `, top-k ${sampling.topK}` : ''}${sampling.topP !== undefined ? `, top-p ${sampling.topP}` : ''}, seed ${sampling.seed}`
    : 'greedy';
  console.log(`\ngenerating ${g.n} tokens after ${prompt.length} (${how}, key/value cache)`);
  const piece = (id: number) => lm.tokenizer.piece(id);
  const tokens = await lm.generateTokens(prompt, g.n!, {
    attention: true,
    signal,
    ...(sampling ? { sampling } : {}),
    onToken: (t) => console.log(stepLine(t, piece, sampling !== undefined)),
  });
  const s = (performance.now() - t0) / 1000;
  const ids = tokens.map((t) => t.id);
  console.log(`generated: ${JSON.stringify(appendedText(lm.tokenizer, prompt, ids))}`);
  console.log(
    `${tokens.length} tokens in ${s.toFixed(2)} s (${(tokens.length / s).toFixed(1)} tokens/s)${tokens.length < g.n! ? ', stopped after the end-of-text token' : ''}`,
  );
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) console.error(`warning: generation leaked ${leaked} tensors`);
  return {
    model: model.info.id,
    promptIds: [...prompt],
    decoding: how,
    text: appendedText(lm.tokenizer, prompt, ids),
    tokens: tokens.map((t) => ({
      id: t.id,
      piece: t.piece,
      p: t.p,
      ...(sampling ? { drawP: t.drawP } : {}),
      alternatives: t.alternatives.map((a) => ({ id: a.id, piece: a.piece, p: a.p })),
    })),
  };
}

/** What --generate N --json OUT writes: the prompt's ids and each new token with its probability and alternatives. */
export interface GenerationJson {
  readonly model: string;
  readonly promptIds: readonly number[];
  readonly decoding: string;
  /** The text the new tokens append. */
  readonly text: string;
  readonly tokens: readonly {
    readonly id: number;
    readonly piece: string;
    readonly p: number;
    readonly drawP?: number;
    readonly alternatives: readonly { readonly id: number; readonly piece: string; readonly p: number }[];
  }[];
}
