// models/seq2seq-dates/config.json: the sizes of the character seq2seq model, checked on load.
import { findBuiltinDir } from '../../formats/hfFolder';
import { AttentionInputError, type ScoreFunction } from '../../../../shared/trace';

export type Seq2seqVariant = ScoreFunction | 'none';
/** What a trained model does: models/seq2seq-dates (dates → ISO) or models/seq2seq-reverse (reverse letters). */
export type Seq2seqTask = 'dates' | 'reverse';
export const SEQ2SEQ_VARIANTS: readonly Seq2seqVariant[] = ['additive', 'dot', 'general', 'scaled-dot', 'none'];

/** models/seq2seq-dates/config.json (the fields this loader reads). */
export interface Seq2seqConfig {
  readonly d_emb: number;
  readonly d_enc: number;
  readonly d_key: number;
  readonly d_dec: number;
  readonly d_out_emb: number;
  readonly d_attn: number;
  /** Run-time input limit (characters); longer inputs are truncated with a warning. */
  readonly max_input: number;
  /** The longest input seen in training (optional; defaults to max_input). */
  readonly trained_max_input?: number;
  readonly max_output: number;
}

/** The built-in model's folder, found by walking up from this file (source tree or dist/). */
export function builtinSeq2seqDir(startDir: string = __dirname): string {
  return findBuiltinDir('models/seq2seq-dates', startDir);
}

/** The bottleneck models' folder (scripts/train/bottleneck.py). */
export function builtinReverseDir(startDir: string = __dirname): string {
  return findBuiltinDir('models/seq2seq-reverse', startDir);
}

export function parseSeq2seqConfig(json: unknown, file: string): Seq2seqConfig {
  if (typeof json !== 'object' || json === null) throw new AttentionInputError('file', `${file}: not a JSON object`);
  const j = json as Record<string, unknown>;
  const keys = ['d_emb', 'd_enc', 'd_key', 'd_dec', 'd_out_emb', 'd_attn', 'max_input', 'max_output'] as const;
  for (const k of keys) {
    const v = j[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 1 << 16) {
      throw new AttentionInputError('file', `${file}: "${k}" must be a positive integer`);
    }
  }
  const tmi = j.trained_max_input;
  if (tmi !== undefined && (typeof tmi !== 'number' || !Number.isInteger(tmi) || tmi <= 0)) {
    throw new AttentionInputError('file', `${file}: "trained_max_input" must be a positive integer`);
  }
  const c = j as unknown as Seq2seqConfig;
  if (c.d_key !== 2 * c.d_enc)
    throw new AttentionInputError('file', `${file}: d_key (${c.d_key}) must be 2·d_enc (${2 * c.d_enc})`);
  if (c.d_dec !== c.d_key)
    throw new AttentionInputError(
      'file',
      `${file}: d_dec (${c.d_dec}) must equal d_key (${c.d_key}) so s₀ = [→h_n ; ←h_1]`,
    );
  return c;
}

/** models/<dir>/accuracy-by-length.json (written by scripts/train/bottleneck.py): the fields the chart reads. */
export interface AccuracyByLength {
  readonly buckets: readonly string[];
  readonly models: Readonly<Record<string, { readonly exact: readonly number[]; readonly char: readonly number[] }>>;
}

/** Checks accuracy-by-length.json: both curves as long as the buckets, every value a share in [0, 1]. */
export function parseAccuracyByLength(json: unknown, file: string): AccuracyByLength {
  const bad = (why: string): never => {
    throw new AttentionInputError('file', `${file}: ${why}`);
  };
  if (typeof json !== 'object' || json === null) bad('not a JSON object');
  const j = json as Record<string, unknown>;
  const buckets = j.buckets;
  if (!Array.isArray(buckets) || buckets.length < 2 || !buckets.every((b) => typeof b === 'string'))
    bad('"buckets" must list at least two length buckets');
  const models = j.models as Record<string, unknown> | undefined;
  if (typeof models !== 'object' || models === null) bad('"models" must be an object');
  for (const [name, m] of Object.entries(models!)) {
    for (const k of ['exact', 'char'] as const) {
      const v = (m as Record<string, unknown> | null)?.[k];
      if (!Array.isArray(v) || v.length !== (buckets as string[]).length)
        bad(`models.${name}.${k} must have one value per bucket`);
      if (!(v as unknown[]).every((x) => typeof x === 'number' && x >= 0 && x <= 1))
        bad(`models.${name}.${k} must be shares between 0 and 1`);
    }
  }
  return json as AccuracyByLength;
}
