// Generation for causal LMs: greedy or sampled (temperature, top-k, top-p, a seeded PRNG), one token a
// pass over a key/value cache, each token with its top alternatives and, on request, the attention of
// the query that predicted it (every layer and head over all keys). Where the cache cannot give what a
// full run gives (past the model's positions the window slides; longrope switching factors) the step
// is a full run of the visible window, so the output is always the full re-run's.
import { mulberry32 } from '../../../shared/random';
import { throwIfCancelled } from '../model';
import { AttentionInputError } from '../../../shared/trace';
import type { BlockRecord } from './block';
import type { KvCache } from './kvCache';

/** Sampling as transformers' generate(do_sample=True) applies it: temperature, then top-k, then top-p. */
export interface Sampling {
  /** > 0; logits are divided by it. */
  readonly temperature: number;
  /** Keep the k most probable tokens (0 or none: all). */
  readonly topK?: number;
  /** Keep the smallest set of most probable tokens whose probability reaches p (1 or none: all). */
  readonly topP?: number;
  /** The PRNG's seed: the same seed, prompt and settings give the same tokens. */
  readonly seed: number;
}

export interface Alternative {
  readonly id: number;
  readonly piece: string;
  /** softmax(logits): the model's own probability. */
  readonly p: number;
  /** The probability it was drawn with (after temperature, top-k, top-p; 0 when cut). Greedy: 1 for the argmax. */
  readonly drawP: number;
}

/** The attention of the query that predicted a token: the last input position, over every key. */
export interface StepAttention {
  /** The query's position and the ids of the keys 0..keys−1 it attends to (the visible window). */
  readonly query: number;
  readonly keyIds: readonly number[];
  /** Per layer: [heads, keys] row-major, the softmax weights of that query row. */
  readonly weights: readonly Float32Array[];
  readonly heads: number;
}

export interface GeneratedToken extends Alternative {
  /** Step index (0 for the first new token). */
  readonly step: number;
  /** The most probable tokens, best first, the chosen one among them if it is. */
  readonly alternatives: readonly Alternative[];
  readonly attention?: StepAttention;
  /** True when this step ran one position over the cache, false when it re-ran the window. */
  readonly cached: boolean;
}

export interface GenerateOptions {
  /** None: greedy (argmax, lowest id on a tie, as torch.argmax). */
  readonly sampling?: Sampling;
  /** How many alternatives each token lists (default 5). */
  readonly alternatives?: number;
  /** Record each step's attention (default false). */
  readonly attention?: boolean;
  /** Use the key/value cache (default true); false re-runs the window every step. */
  readonly cache?: boolean;
  readonly signal?: AbortSignal;
  /** Each token as it is chosen. */
  readonly onToken?: (t: GeneratedToken) => void;
}

/** What generation needs of a model (CausalLm implements it). */
export interface Decoder {
  readonly spec: { readonly vocabSize: number; readonly eosId: number | undefined };
  newCache(): KvCache;
  step(
    ids: readonly number[],
    cache: KvCache,
    opts: { record?: boolean; signal?: AbortSignal },
  ): Promise<{ logits: Float32Array; layers: BlockRecord[] }>;
  cacheFits(cache: KvCache, added: number): boolean;
  visible(sequence: number[]): number[];
  readonly tokenizer: { piece(id: number): string };
}

/** The seeded PRNG sampling draws from (mulberry32): the same seed gives the same tokens everywhere. */
export const seededRandom = mulberry32;

/** softmax in float64. */
export function softmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) if (z[i]! > max) max = z[i]!;
  const p = new Float64Array(z.length);
  let sum = 0;
  for (let i = 0; i < z.length; i++) sum += p[i] = Math.exp(z[i]! - max);
  for (let i = 0; i < z.length; i++) p[i]! /= sum;
  return p;
}

/** Ids by descending logit, ties by ascending id. */
function order(logits: ArrayLike<number>, V: number): number[] {
  return Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
}

export function checkSampling(s: Sampling): void {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new AttentionInputError('config', `Sampling: ${field} must be ${want}, not ${String(got)}.`);
  };
  if (!(Number.isFinite(s.temperature) && s.temperature > 0))
    bad('temperature', 'a number > 0 (use greedy decoding for 0)', s.temperature);
  if (s.topK !== undefined && !(Number.isInteger(s.topK) && s.topK >= 0)) bad('top-k', 'a whole number ≥ 0', s.topK);
  if (s.topP !== undefined && !(Number.isFinite(s.topP) && s.topP > 0 && s.topP <= 1))
    bad('top-p', 'in (0, 1]', s.topP);
  if (!Number.isInteger(s.seed)) bad('seed', 'a whole number', s.seed);
}

/** The distribution tokens are drawn from: softmax(logits / T), cut to the top-k, then to the top-p nucleus, renormalised. */
export function drawDistribution(logits: ArrayLike<number>, s: Sampling, V = logits.length): Float64Array {
  const z = new Float64Array(V);
  for (let i = 0; i < V; i++) z[i] = logits[i]! / s.temperature;
  const ids = order(z, V);
  let keep = V;
  if (s.topK !== undefined && s.topK > 0 && s.topK < V) {
    const kth = z[ids[s.topK - 1]!]!;
    keep = s.topK;
    while (keep < V && z[ids[keep]!] === kth) keep++; // transformers keeps every token tied with the k-th
  }
  const p = softmax(Array.from(ids.slice(0, keep), (i) => z[i]!));
  if (s.topP !== undefined && s.topP < 1) {
    let cum = 0;
    let n = 0;
    while (n < keep && cum < s.topP) cum += p[n++]!; // the smallest prefix reaching top-p (at least one token)
    keep = n;
  }
  const out = new Float64Array(V);
  let sum = 0;
  for (let r = 0; r < keep; r++) sum += p[r]!;
  for (let r = 0; r < keep; r++) out[ids[r]!] = p[r]! / sum;
  return out;
}

/** Draws an id from `p` with one uniform number from `random`. */
export function draw(p: Float64Array, random: () => number): number {
  const u = random();
  let cum = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i]! === 0) continue;
    last = i;
    cum += p[i]!;
    if (u < cum) return i;
  }
  return last; // rounding left cum just under 1
}

/** The last query row of a layer's weights ([H, Tq, Tk] → [H, Tk]). */
function lastRow(weights: Float32Array, heads: number, Tq: number, Tk: number): Float32Array {
  const out = new Float32Array(heads * Tk);
  for (let h = 0; h < heads; h++) out.set(weights.subarray((h * Tq + Tq - 1) * Tk, (h * Tq + Tq) * Tk), h * Tk);
  return out;
}

/** Generates up to `n` tokens after `prompt` (stops after the eos token). Returns them with their alternatives. */
export async function generateTokens(
  model: Decoder,
  prompt: readonly number[],
  n: number,
  opts: GenerateOptions = {},
): Promise<GeneratedToken[]> {
  if (opts.sampling) checkSampling(opts.sampling);
  if (!Number.isInteger(n) || n < 0)
    throw new AttentionInputError('config', `Generate: the number of tokens must be a whole number ≥ 0, not ${n}.`);
  const { vocabSize: V, eosId } = model.spec;
  const random = opts.sampling ? seededRandom(opts.sampling.seed) : undefined;
  const A = Math.max(1, Math.min(opts.alternatives ?? 5, V));
  const useCache = opts.cache !== false;
  const seq = [...prompt];
  const out: GeneratedToken[] = [];
  let cache = model.newCache();
  try {
    for (let i = 0; i < n; i++) {
      throwIfCancelled(opts.signal);
      // One position over the cache, or (first step, no cache, or the cache cannot follow) a full run of the window.
      const cached = useCache && cache.length > 0 && cache.length === seq.length - 1 && model.cacheFits(cache, 1);
      let input: number[];
      if (cached) input = [seq[seq.length - 1]!];
      else {
        cache.dispose();
        cache = model.newCache();
        input = model.visible(seq);
      }
      // A copy: visible() may hand back the growing sequence itself, which later steps push onto.
      const keyIds = cached ? [...cache.ids, ...input] : [...input];
      const r = await model.step(input, cache, {
        record: opts.attention ?? false,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const p = softmax(r.logits.subarray(0, V));
      const q = opts.sampling ? drawDistribution(r.logits, opts.sampling, V) : undefined;
      const ranked = order(r.logits, V);
      const id = q && random ? draw(q, random) : ranked[0]!;
      const alt = (j: number): Alternative => ({
        id: j,
        piece: model.tokenizer.piece(j),
        p: p[j]!,
        drawP: q ? q[j]! : j === ranked[0] ? 1 : 0,
      });
      const attention = opts.attention
        ? {
            query: keyIds.length - 1,
            keyIds,
            heads: r.layers[0] ? r.layers[0].self.weights.length / (input.length * keyIds.length) : 0,
            weights: r.layers.map((rec) => {
              const H = rec.self.weights.length / (input.length * keyIds.length);
              return lastRow(rec.self.weights, H, input.length, keyIds.length);
            }),
          }
        : undefined;
      const token: GeneratedToken = {
        ...alt(id),
        step: i,
        alternatives: ranked.slice(0, A).map(alt),
        cached,
        ...(attention ? { attention } : {}),
      };
      out.push(token);
      opts.onToken?.(token);
      seq.push(id);
      if (id === eosId) break;
      if (!useCache) cache.dispose();
    }
    return out;
  } finally {
    cache.dispose();
  }
}
