// The traffic forecasters: hourly westbound I-94 volumes → (causal convolution →) LSTM encoder →
// LSTM decoder with temporal attention (general score) → the next H hours. Weights are trained by
// scripts/train/traffic.py and stored in models/traffic/<variant>.safetensors. The maths is in
// forward.ts, the words in lesson.ts, the stage layout in stages.ts, the CSV reading in input.ts;
// run() goes through the one run skeleton. No vscode import.
import * as path from 'node:path';
import { throwIfCancelled, yieldToEventLoop, type AttentionModel, type RunOptions } from '../../model';
import { readSafetensorsFile } from '../../formats/safetensors';
import { readJsonFile } from '../../formats/hfFolder';
import { Run } from '../../trace/run';
import { AttentionInputError, type ModelInfo, type Stage, type Token, type Trace } from '../../../../shared/trace';
import { TRAFFIC_VARIANTS, parseTrafficConfig, type TrafficConfig, type TrafficVariant } from './config';
import { buildTrafficWeights, type TrafficWeights } from './weights';
import { forward } from './forward';
import { hourTokens, parseTrafficInput, TRAFFIC_LIMITS } from './input';
import { trafficDescription, trafficName, type LessonContext } from './lesson';
import { encoderStages, inputStages, stepFacts, stepStages, summaryStages } from './stages';
import type { tf } from '../../runtime/backend';

export { TRAFFIC_VARIANTS, builtinTrafficDir, type TrafficVariant } from './config';

const fmt = (v: number): string => String(Math.round(v));

class TrafficModel implements AttentionModel {
  readonly info: ModelInfo;
  private disposed = false;

  constructor(
    private readonly variant: TrafficVariant,
    private readonly cfg: TrafficConfig,
    private readonly w: TrafficWeights,
    private readonly owned: tf.Tensor[],
    parameters: number,
  ) {
    this.info = {
      id: `traffic-${variant}`,
      name: trafficName(variant),
      family: 'traffic',
      description: trafficDescription(variant, cfg.window, cfg.horizon),
      layers: 1,
      heads: 1,
      dModel: cfg.d_hidden,
      // Its attention is over the window of past hours, however many rows the selection has.
      maxInputTokens: cfg.window,
      parameters,
      licence: 'Apache-2.0 (weights); data CC BY 4.0',
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.owned) t.dispose();
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    if (this.disposed) throw new Error('This traffic model has been disposed.');
    const { cfg, variant, w } = this;
    const M = cfg.window;
    const H = cfg.horizon;
    const run = Run.begin(text, options, {
      defaultMaxTokens: M,
      emptyMessage: `Select ${M} or more hourly traffic volumes (one per line, or rows of the Metro Interstate CSV).`,
    });
    const input = parseTrafficInput(text, { window: M, horizon: H, ...TRAFFIC_LIMITS });
    run.warnings.push(...input.warnings);
    if (options.score !== undefined && options.score !== 'general')
      run.warnings.push(`This model was trained with the general score; the requested "${options.score}" is ignored.`);
    if (options.normaliser !== undefined && options.normaliser !== 'softmax')
      run.warnings.push(
        `This model was trained with softmax; the requested normaliser "${options.normaliser}" is ignored.`,
      );
    const measured = cfg.variants[variant] ?? {};
    const lesson: LessonContext = {
      variant,
      M,
      H,
      keys: cfg.keys,
      d: cfg.d_hidden,
      C: cfg.conv_channels,
      K: cfg.conv_kernel,
      mean: cfg.mean,
      std: cfg.std,
      source: input.source,
      ...(measured.lag24_share !== undefined ? { lag24: measured.lag24_share } : {}),
      ...(measured.lag168_share !== undefined ? { lag168: measured.lag168_share } : {}),
      ...(measured.last3_share !== undefined ? { last3: measured.last3_share } : {}),
      ...(measured.test_mae !== undefined ? { testMae: measured.test_mae } : {}),
    };
    const volumes = Float32Array.from(input.window, (v) => v.value);
    const z = Float32Array.from(volumes, (v) => (v - cfg.mean) / cfg.std);
    const truth = Float32Array.from(input.truth, (v) => v.value);
    const first = input.window[0]!.time;
    const firstHour = first ? Date.parse(`${first.replace(' ', 'T')}:00Z`) / 3_600_000 : undefined;

    run.progress(0.1, `Running the encoder over ${M} hours`);
    await yieldToEventLoop();
    run.checkCancelled();
    const data = forward({
      w,
      z,
      keys: cfg.keys,
      horizon: H,
      mean: cfg.mean,
      std: cfg.std,
      between: () => run.checkCancelled(),
    });
    const stages: Stage[] = [...inputStages(lesson, volumes, z, firstHour), ...encoderStages(lesson, data)];
    const outputTokens: Token[] = [];
    data.steps.forEach((step, t) => {
      const known = input.truth[t];
      stages.push(...stepStages(lesson, stepFacts(lesson, t, step, known?.value), step, data.encoder.Wk));
      // A forecast hour whose truth is in the selection points at that number, so hovering it shows what the forecast attended to.
      outputTokens.push({
        text: `+${t + 1} h: ${fmt(step.forecast)} `, // the row label, and the panel's "decoded output" line
        id: t,
        start: known ? known.start : -1,
        end: known ? known.end : -1,
      });
    });
    stages.push(...summaryStages(lesson, data, truth));
    run.progress(0.95, `Forecast ${H} hours: ${data.steps.map((s) => fmt(s.forecast)).join(', ')}`);
    return run.finish({
      model: this.info,
      coveredLength: input.coveredLength,
      tokens: hourTokens(cfg.keys.map((k) => input.window[k]!)),
      outputTokens,
      stages,
    });
  }
}

/** Loads one trained variant from a directory holding config.json and <variant>.safetensors. */
export async function loadTraffic(
  dir: string,
  variant: TrafficVariant,
  options: { signal?: AbortSignal; onProgress?: (fraction: number, message: string) => void } = {},
): Promise<AttentionModel> {
  if (!TRAFFIC_VARIANTS.includes(variant))
    throw new AttentionInputError(
      'unsupported',
      `Unknown traffic variant "${String(variant)}"; choose one of ${TRAFFIC_VARIANTS.join(', ')}.`,
    );
  const cfgFile = path.join(dir, 'config.json');
  const cfg = parseTrafficConfig(await readJsonFile(cfgFile, 'file'), cfgFile);
  const file = path.join(dir, `${variant}.safetensors`);
  const map = await readSafetensorsFile(file, options);
  throwIfCancelled(options.signal);
  const { w, all, count } = buildTrafficWeights(map, cfg, variant, file);
  return new TrafficModel(variant, cfg, w, all, count);
}
