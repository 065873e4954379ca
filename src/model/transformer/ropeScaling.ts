// config.json's rope_scaling (or transformers 5's rope_parameters) → the RoPE scaling the position
// tables implement (layers/positions.ts), with the field names of transformers' modeling_rope_utils.
// Types no family here uses are refused by name, with the list of those that are read.
import type { RopeScaling } from '../layers/positions';
import { AttentionInputError } from '../../../shared/trace';

const SUPPORTED = 'linear, llama3, longrope (and its old name su)';

/** What the rope_scaling fields are read against: the config's own context sizes. */
export interface RopeScalingContext {
  readonly maxPositions: number;
  /** Phi-3's top-level original_max_position_embeddings, when the config has one. */
  readonly originalMaxPositions?: number;
  /** Rotary dimensions per head (longrope's factor lists have half as many entries). */
  readonly rotaryDim: number;
}

/** The scaling a config.json's rope_scaling describes; undefined for none or "default". */
export function parseRopeScaling(raw: unknown, where: string, ctx: RopeScalingContext): RopeScaling | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new AttentionInputError(
      'config',
      `${where}: rope_scaling must be an object or null, not ${JSON.stringify(raw)}.`,
    );
  const r = raw as Record<string, unknown>;
  const type = r['rope_type'] ?? r['type'] ?? 'default';
  const num = (key: string, fallback?: number): number => {
    const v = r[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      throw new AttentionInputError(
        'config',
        `${where}: rope_scaling.${key} must be a positive number, not ${JSON.stringify(v)}.`,
      );
    return v;
  };
  switch (type) {
    case 'default':
      return undefined;
    case 'linear':
      return { type: 'linear', factor: num('factor') };
    case 'llama3': {
      const scaling = {
        type: 'llama3',
        factor: num('factor'),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositions: num('original_max_position_embeddings'),
      } as const;
      if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
        throw new AttentionInputError(
          'config',
          `${where}: rope_scaling.high_freq_factor ${scaling.highFreqFactor} must be larger than low_freq_factor ${scaling.lowFreqFactor}.`,
        );
      }
      return scaling;
    }
    case 'longrope':
    case 'su': {
      const half = ctx.rotaryDim / 2;
      const list = (key: string): number[] => {
        const v = r[key];
        if (
          !Array.isArray(v) ||
          v.length !== half ||
          v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x <= 0)
        ) {
          throw new AttentionInputError(
            'config',
            `${where}: rope_scaling.${key} must list ${half} positive numbers (one per rotary frequency), not ${Array.isArray(v) ? `${v.length} values` : JSON.stringify(v)}.`,
          );
        }
        return v as number[];
      };
      // As transformers: with a top-level original_max_position_embeddings (Phi-3), the factor is the ratio of the two sizes.
      const original = ctx.originalMaxPositions ?? ctx.maxPositions;
      const factor =
        ctx.originalMaxPositions !== undefined ? ctx.maxPositions / ctx.originalMaxPositions : num('factor', 1);
      const given = r['attention_factor'];
      const attentionFactor =
        given != null
          ? num('attention_factor')
          : factor <= 1
            ? 1
            : Math.sqrt(1 + Math.log(factor) / Math.log(original));
      return {
        type: 'longrope',
        shortFactor: list('short_factor'),
        longFactor: list('long_factor'),
        originalMaxPositions: original,
        attentionFactor,
      };
    }
    default:
      throw new AttentionInputError(
        'unsupported',
        `${where}: rope_scaling type ${JSON.stringify(type)} is not supported; supported: ${SUPPORTED}.`,
      );
  }
}
