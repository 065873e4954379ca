// The seq2seq date-normalisation model: character embedding → bidirectional GRU encoder →
// GRU decoder with (Luong-style) attention, greedy decoding. Weights are trained by
// scripts/train/seq2seq.py and stored in models/seq2seq-dates/<variant>.safetensors.
// The maths is in forward.ts (attention through the shared core), the words in lesson.ts, the
// stage layout in stages.ts; run() goes through the one run skeleton. No vscode import.
import * as path from 'node:path';
import { tf } from '../../runtime/backend';
import { CharVocab, describeChar } from '../../tokenizers/charVocab';
import { throwIfCancelled, yieldToEventLoop, type AttentionModel, type RunOptions } from '../../model';
import { readSafetensorsFile } from '../../formats/safetensors';
import { readJsonFile } from '../../formats/hfFolder';
import { Run, topKPredictions } from '../../trace/run';
import { f32 } from '../../runtime/read';
import {
  AttentionInputError,
  type AttentionInfo,
  type ModelInfo,
  type Prediction,
  type Stage,
  type Token,
  type Trace,
} from '../../../../shared/trace';
import { SEQ2SEQ_VARIANTS, parseSeq2seqConfig, type Seq2seqConfig, type Seq2seqVariant } from './config';
import { buildWeights, type Seq2seqWeights } from './weights';
import { decoderStep, encode, prepareKeys, type DecoderStepOptions, type PreparedKeys } from './forward';
import { seq2seqDescription, seq2seqName, seq2seqWarnings, type LessonContext } from './lesson';
import { alignmentStage, encoderStages, inputStages, stepStages, type StepContext } from './stages';

export { SEQ2SEQ_VARIANTS, builtinSeq2seqDir, type Seq2seqConfig, type Seq2seqVariant } from './config';

/** Indices of the k largest probabilities, largest first (ties: lower id first, as a stable sort gives). */
function topIds(probs: Float32Array, k: number): number[] {
  return Array.from({ length: probs.length }, (_, i) => i)
    .sort((p, q) => probs[q]! - probs[p]!)
    .slice(0, k);
}

class Seq2seqModel implements AttentionModel {
  readonly info: ModelInfo;
  private disposed = false;

  constructor(
    private readonly variant: Seq2seqVariant,
    private readonly cfg: Seq2seqConfig,
    private readonly vocab: CharVocab,
    private readonly w: Seq2seqWeights,
    private readonly owned: tf.Tensor[],
    parameters: number,
  ) {
    this.info = {
      id: `seq2seq-dates-${variant}`,
      name: seq2seqName(variant),
      family: 'seq2seq',
      description: seq2seqDescription(variant),
      layers: 1,
      heads: variant === 'none' ? 0 : 1,
      dModel: cfg.d_dec,
      parameters,
      licence: 'Apache-2.0',
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.owned) t.dispose();
  }

  /** Starts the run: checks, encodes and records the tokenizer's and the options' warnings. */
  private admit(
    text: string,
    options: RunOptions,
  ): { run: Run; tokens: Token[]; ids: number[]; coveredLength: number } {
    if (this.disposed) throw new Error('This seq2seq model has been disposed.');
    const { cfg, variant } = this;
    const run = Run.begin(text, options, {
      defaultMaxTokens: cfg.max_input,
      vocabSize: this.vocab.outputSize,
      emptyMessage: 'Select some text with a date in it: the input is empty or only whitespace.',
    });
    if (options.maxTokens !== undefined && (!Number.isInteger(options.maxTokens) || options.maxTokens < 1)) {
      throw new AttentionInputError('shape', `maxTokens must be a positive integer (got ${options.maxTokens}).`);
    }
    const enc = this.vocab.encode(text, run.maxTokens);
    const coveredLength = enc.truncated ? enc.tokens[enc.tokens.length - 1]!.end : text.length;
    run.admit(
      { tokens: enc.tokens, truncated: enc.truncated, coveredLength },
      {
        noTokens: 'The input has no characters to read.',
        truncatedWhy: (maxTokens) => `(maxTokens = ${maxTokens})`,
        unknown: (n) =>
          seq2seqWarnings.unknown(
            enc.unknown.slice(0, 8).map((u) => `${describeChar(u.char)} at ${u.start}`),
            n,
          ),
      },
    );
    const trained = cfg.trained_max_input ?? cfg.max_input;
    if (enc.tokens.length > trained)
      run.warnings.push(seq2seqWarnings.longerThanTrained(enc.tokens.length, trained, variant));
    if (options.score !== undefined && options.score !== variant)
      run.warnings.push(seq2seqWarnings.scoreIgnored(variant, options.score));
    if (options.normaliser !== undefined && options.normaliser !== 'softmax')
      run.warnings.push(seq2seqWarnings.normaliserIgnored(options.normaliser));
    return { run, tokens: enc.tokens, ids: enc.ids, coveredLength };
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const { run, tokens, ids, coveredLength } = this.admit(text, options);
    const { w, cfg, vocab, variant } = this;
    const n = tokens.length;
    const lesson: LessonContext = { variant, n, dEmb: cfg.d_emb, dh: cfg.d_enc, dk: cfg.d_key, d: cfg.d_dec };
    const score = variant === 'none' ? undefined : variant;
    const info: AttentionInfo | undefined = score
      ? { queries: 'output', keys: 'input', causal: false, score, normaliser: 'softmax' }
      : undefined;

    run.progress(0.05, 'Embedding characters');
    run.progress(0.1, 'Running the encoder');
    await yieldToEventLoop();
    run.checkCancelled();
    const enc = encode({ w, ids });
    let state = enc.s0;
    let keys: PreparedKeys | undefined;
    try {
      const stages: Stage[] = inputStages(lesson, ids, f32(enc.X));
      stages.push(
        ...encoderStages(lesson, { H: f32(enc.H), Hf: f32(enc.Hf), Hb: f32(enc.Hb), s0: f32(enc.s0).slice() }),
      );
      run.checkCancelled();
      run.progress(0.3, 'Decoding');

      keys = score ? prepareKeys(w, score, enc.H) : undefined;
      const attention: DecoderStepOptions['attention'] = keys ? { score: keys.score, H: enc.H } : undefined;
      const ctx: StepContext = {
        lesson,
        vocab,
        dOutEmb: cfg.d_out_emb,
        dAttn: cfg.d_attn,
        ...(info ? { info } : {}),
        ...(keys?.shown ? { keys: keys.shown } : {}),
      };
      const outputTokens: Token[] = [];
      const predictions: Prediction[] = [];
      const alignment: Float32Array[] = [];
      let prev = vocab.bosId;
      let finished = false;
      for (let t = 0; t < cfg.max_output && !finished; t++) {
        await yieldToEventLoop();
        run.checkCancelled();
        const step = decoderStep({ w, prev, state, attention });
        if (state !== enc.s0) state.dispose();
        state = step.state;
        const { data } = step;
        const best = topIds(data.probs, 1)[0]!;
        const top = topIds(data.probs, run.topK);
        predictions.push(
          ...topKPredictions(
            top,
            top.map((id) => data.probs[id]!),
            1,
            top.length,
            (id) => vocab.outputText(id),
            () => t,
          ),
        );
        const isEos = best === vocab.eosId;
        outputTokens.push({
          text: vocab.outputText(best),
          id: best,
          start: -1,
          end: -1,
          ...(isEos ? { special: true } : {}),
        });
        stages.push(
          ...stepStages(
            ctx,
            { t, prevText: vocab.outputText(prev), outText: vocab.outputText(best), isEos, p: data.probs[best]! },
            data,
          ),
        );
        if (data.weights) alignment.push(data.weights);
        run.progress(0.3 + (0.65 * (t + 1)) / cfg.max_output, `Decoded ${t + 1} character${t === 0 ? '' : 's'}`);
        prev = best;
        finished = isEos;
      }
      if (!finished) run.warnings.push(seq2seqWarnings.noEos(cfg.max_output));
      if (info) stages.push(alignmentStage(info, alignment, n));
      return run.finish({ model: this.info, coveredLength, tokens, outputTokens, stages, predictions });
    } finally {
      if (state !== enc.s0) state.dispose();
      keys?.projected?.dispose();
      for (const t of [enc.X, enc.Hf, enc.Hb, enc.H, enc.s0]) t.dispose();
    }
  }
}

/** Loads one trained variant from a directory holding config.json, vocab.json and <variant>.safetensors. */
export async function loadSeq2seq(
  dir: string,
  variant: Seq2seqVariant,
  options: { signal?: AbortSignal; onProgress?: (fraction: number, message: string) => void } = {},
): Promise<AttentionModel> {
  if (!SEQ2SEQ_VARIANTS.includes(variant)) {
    throw new AttentionInputError(
      'unsupported',
      `Unknown seq2seq variant "${String(variant)}"; choose one of ${SEQ2SEQ_VARIANTS.join(', ')}.`,
    );
  }
  const cfgFile = path.join(dir, 'config.json');
  const cfg = parseSeq2seqConfig(await readJsonFile(cfgFile, 'file'), cfgFile);
  const vocabFile = path.join(dir, 'vocab.json');
  const vocab = CharVocab.fromJson(await readJsonFile(vocabFile, 'file'), vocabFile);
  const file = path.join(dir, `${variant}.safetensors`);
  const map = await readSafetensorsFile(file, options);
  throwIfCancelled(options.signal);
  const { w, all, count } = buildWeights(map, cfg, vocab, variant, file);
  return new Seq2seqModel(variant, cfg, vocab, w, all, count);
}
