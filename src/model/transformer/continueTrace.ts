// Continue: a causal LM generates `tokens` more tokens after a trace's tokens (over its key/value
// cache), then one full run over prompt + generated tokens gives the trace the panel shows. The
// generated tokens are flagged and have no document offsets; each carries its probability and the
// step's top alternatives. The full run's row of the query that chose a token is the attention the
// cached step computed (test/unit/generationTrace.test.ts).
import type { AttentionModel, RunOptions } from '../model';
import { CausalLm } from './causalLm';
import type { Sampling } from './generate';
import { AttentionInputError, type GenerationStep, type Token, type Trace } from '../../../shared/trace';
import type { ContinueSettings } from '../../../shared/generation';

export interface ContinueInput extends ContinueSettings {
  /** The trace's text (its prompt) and its tokens so far (prompt, then earlier generated ones). */
  readonly text: string;
  readonly prior: readonly Token[];
  /** The earlier Continue presses' steps, kept in the new trace. */
  readonly steps?: readonly GenerationStep[];
}

/** Generates after `input.prior` and returns the trace of prompt + generated tokens. */
export async function continueTrace(model: AttentionModel, input: ContinueInput, options: RunOptions): Promise<Trace> {
  if (!(model instanceof CausalLm))
    throw new AttentionInputError(
      'unsupported',
      `${model.info.name} is not a decoder-only language model (a causal LM), so it cannot continue the text.`,
    );
  const lm = model as CausalLm<unknown>;
  const prior = input.prior;
  const n = input.tokens;
  if (prior.length === 0) throw new AttentionInputError('empty', 'There are no tokens to continue from.');
  const { positions, label } = lm.spec.limit;
  if (prior.length + n > positions)
    throw new AttentionInputError(
      'too-long',
      `${prior.length} tokens + ${n} new ones do not fit this model's ${positions} ${label}` +
        (prior.length < positions ? `; continue by at most ${positions - prior.length}.` : '.'),
    );
  const ids = prior.map((t) => t.id);
  const total = n + 1;
  const progress = options.onProgress;
  progress?.(0, `Generating token 1 of ${n}`);
  const sampling: Sampling | undefined = input.sampling && { ...input.sampling };
  const generated = await lm.generateTokens(ids, n, {
    alternatives: Math.max(1, Math.min(options.topK ?? 5, 20)),
    ...(sampling ? { sampling } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onToken: (t) =>
      progress?.((t.step + 1) / total, t.step + 1 < n ? `Generating token ${t.step + 2} of ${n}` : 'Tracing'),
  });
  // Each token's text as the tokenizer spells it, like the prompt's tokens.
  const piece = (id: number): string => lm.tokenizer.piece(id);
  const tokens: Token[] = [
    ...prior,
    ...generated.map((g): Token => ({ text: piece(g.id), id: g.id, start: -1, end: -1, generated: true })),
  ];
  const steps: GenerationStep[] = generated.map((g, i) => ({
    position: prior.length + i,
    id: g.id,
    text: piece(g.id),
    p: g.p,
    ...(sampling ? { drawP: g.drawP } : {}),
    alternatives: g.alternatives.map((a) => ({ id: a.id, text: a.piece, p: a.p })),
  }));
  const trace = await lm.runTokens(input.text, tokens, {
    ...options,
    onProgress: (f, m) => progress?.((n + f) / total, m),
  });
  const warnings =
    generated.length < n
      ? [
          ...trace.warnings,
          `Generation stopped after ${generated.length} of ${n} tokens: the model produced its end-of-text token.`,
        ]
      : trace.warnings;
  const all = [...(input.steps ?? []), ...steps];
  const added = `Then ${all.length} token${all.length === 1 ? '' : 's'} the model generated (Continue), drawn dashed: they are not in the editor's text.`;
  const stages = trace.stages.map((s) =>
    s.kind === 'tokens' ? { ...s, explanation: `${s.explanation} ${added}` } : s,
  );
  return { ...trace, stages, generation: all, warnings };
}
