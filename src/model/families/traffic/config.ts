// models/traffic/config.json: the sizes and normalisation of the traffic forecasters, checked on load.
import { findBuiltinDir } from '../../formats/hfFolder';
import { AttentionInputError } from '../../../../shared/trace';
import { TRAFFIC_VARIANTS as VARIANTS } from '../../../../shared/catalog';

export type TrafficVariant = (typeof VARIANTS)[number];
export const TRAFFIC_VARIANTS: readonly TrafficVariant[] = VARIANTS;

/** models/traffic/config.json (the fields this loader reads). */
export interface TrafficConfig {
  /** M: past hours read; H: hours forecast. */
  readonly window: number;
  /** The window's hours (0-based, increasing, ending at M − 1) the encoder reads: the last 24 and the same hour on earlier days. */
  readonly keys: readonly number[];
  readonly horizon: number;
  /** LSTM hidden size (encoder and decoder), conv channels and kernel (hybrid). */
  readonly d_hidden: number;
  readonly conv_channels: number;
  readonly conv_kernel: number;
  /** The training years' volume mean and standard deviation (vehicles/hour): z = (v − mean) / std. */
  readonly mean: number;
  readonly std: number;
  /** The data's credit line (CC BY 4.0). */
  readonly credit: string;
  /** Measured on the 2018 test windows by scripts/train/traffic.py, quoted in the lesson. */
  readonly variants: Readonly<
    Record<
      string,
      {
        readonly test_mae?: number;
        readonly test_rmse?: number;
        readonly lag24_share?: number;
        readonly lag168_share?: number;
        readonly last3_share?: number;
      }
    >
  >;
}

/** The built-in model's folder, found by walking up from this file (source tree or dist/). */
export function builtinTrafficDir(startDir: string = __dirname): string {
  return findBuiltinDir('models/traffic', startDir);
}

export function parseTrafficConfig(json: unknown, file: string): TrafficConfig {
  if (typeof json !== 'object' || json === null) throw new AttentionInputError('file', `${file}: not a JSON object`);
  const j = json as Record<string, unknown>;
  for (const k of ['window', 'horizon', 'd_hidden', 'conv_channels', 'conv_kernel'] as const) {
    const v = j[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 1 << 16)
      throw new AttentionInputError('file', `${file}: "${k}" must be a positive integer`);
  }
  for (const k of ['mean', 'std'] as const) {
    const v = j[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || (k === 'std' && v <= 0))
      throw new AttentionInputError('file', `${file}: "${k}" must be a ${k === 'std' ? 'positive ' : ''}finite number`);
  }
  const keys = j.keys;
  const M = j.window as number;
  if (
    !Array.isArray(keys) ||
    keys.length === 0 ||
    keys.some((k, i) => !Number.isInteger(k) || k < 0 || k >= M || (i > 0 && k <= (keys[i - 1] as number))) ||
    keys[keys.length - 1] !== M - 1
  )
    throw new AttentionInputError(
      'file',
      `${file}: "keys" must be increasing hours of the window (0 … ${M - 1}), ending at ${M - 1}`,
    );
  if (typeof j.credit !== 'string') throw new AttentionInputError('file', `${file}: "credit" must be a string`);
  if (typeof j.variants !== 'object' || j.variants === null)
    throw new AttentionInputError('file', `${file}: "variants" must be an object`);
  return j as unknown as TrafficConfig;
}
