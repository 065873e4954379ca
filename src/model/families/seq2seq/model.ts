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
import {
  SEQ2SEQ_VARIANTS,
  parseAccuracyByLength,
  parseSeq2seqConfig,
  type AccuracyByLength,
  type Seq2seqConfig,
  type Seq2seqTask,
  type Seq2seqVariant,
} from './config';
import { buildWeights, type Cell, type RnnState, type Seq2seqWeights } from './weights';
import {
  decoderStep,
  disposeEncoder,
  encode,
  prepareKeys,
  type DecoderStepOptions,
  type EncoderStates,
  type PreparedKeys,
} from './forward';
import { seq2seqDescription, seq2seqName, seq2seqWarnings, type LessonContext } from './lesson';
import { accuracyStage, alignmentStage, encoderStages, inputStages, stepStages, type StepContext } from './stages';

export {
  SEQ2SEQ_VARIANTS,
  builtinReverseDir,
  builtinSeq2seqDir,
  type Seq2seqConfig,
  type Seq2seqTask,
  type Seq2seqVariant,
} from './config';
export type { Cell } from './weights';

/** Which trained model a folder's file is: its id, cell, task, and the chart it carries (bottleneck models). */
interface ModelSpec {
  readonly id: string;
  readonly cell: Cell;
  readonly task: Seq2seqTask;
  readonly accuracy?: AccuracyByLength;
}

function disposeState(s: RnnState): void {
  s.h.dispose();
  s.c?.dispose();
}

/** The encoder's numbers for its stage. */
function encoderNumbers(e: EncoderStates) {
  const read = (g: Readonly<Record<string, tf.Tensor2D>>, C?: tf.Tensor2D): Record<string, Float32Array> => ({
    ...Object.fromEntries(Object.entries(g).map(([k, v]) => [k, f32(v).slice()])),
    ...(C ? { c: f32(C).slice() } : {}),
  });
  return {
    H: f32(e.H),
    Hf: f32(e.Hf),
    Hb: f32(e.Hb),
    s0: f32(e.s0.h).slice(),
    ...(e.s0.c ? { c0: f32(e.s0.c).slice() } : {}),
    gatesF: read(e.gatesF, e.Cf),
    gatesB: read(e.gatesB, e.Cb),
  };
}

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
    private readonly spec: ModelSpec,
  ) {
    this.info = {
      id: spec.id,
      name: seq2seqName(variant, spec.cell, spec.task),
      family: 'seq2seq',
      description: seq2seqDescription(variant, spec.cell, spec.task),
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
      emptyMessage:
        this.spec.task === 'reverse'
          ? 'Select some lower-case letters to reverse: the input is empty or only whitespace.'
          : 'Select some text with a date in it: the input is empty or only whitespace.',
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
    const { cell, task } = this.spec;
    const lesson: LessonContext = {
      variant,
      cell,
      task,
      n,
      dEmb: cfg.d_emb,
      dh: cfg.d_enc,
      dk: cfg.d_key,
      d: cfg.d_dec,
    };
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
      stages.push(...encoderStages(lesson, encoderNumbers(enc)));
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
        if (state !== enc.s0) disposeState(state);
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
      if (info) stages.push(alignmentStage(lesson, info, alignment, n));
      if (this.spec.accuracy) stages.push(accuracyStage(this.spec.accuracy));
      return run.finish({ model: this.info, coveredLength, tokens, outputTokens, stages, predictions });
    } finally {
      if (state !== enc.s0) disposeState(state);
      keys?.projected?.dispose();
      disposeEncoder(enc);
    }
  }
}

export interface LoadSeq2seqOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
  /** 'lstm' reads lstm-<variant>.safetensors (BiLSTM → LSTM); default 'gru' reads <variant>.safetensors. */
  cell?: Cell;
  /** The model's id (default seq2seq-dates-<variant>, seq2seq-dates-lstm for the LSTM). */
  id?: string;
  /** What the model was trained to do (default 'dates'); 'reverse' also reads accuracy-by-length.json for its chart. */
  task?: Seq2seqTask;
}

/**
 * Loads one trained variant from a directory holding config.json, vocab.json and <variant>.safetensors
 * (lstm-<variant>.safetensors for the LSTM), and accuracy-by-length.json for the reverse task.
 */
export async function loadSeq2seq(
  dir: string,
  variant: Seq2seqVariant,
  options: LoadSeq2seqOptions = {},
): Promise<AttentionModel> {
  const cell = options.cell ?? 'gru';
  const task = options.task ?? 'dates';
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
  let accuracy: AccuracyByLength | undefined;
  if (task === 'reverse') {
    const accFile = path.join(dir, 'accuracy-by-length.json');
    accuracy = parseAccuracyByLength(await readJsonFile(accFile, 'file'), accFile);
  }
  const file = path.join(dir, cell === 'lstm' ? `lstm-${variant}.safetensors` : `${variant}.safetensors`);
  const map = await readSafetensorsFile(file, options);
  throwIfCancelled(options.signal);
  const { w, all, count } = buildWeights(map, cfg, vocab, variant, file, cell);
  const id = options.id ?? (cell === 'lstm' ? 'seq2seq-dates-lstm' : `seq2seq-dates-${variant}`);
  return new Seq2seqModel(variant, cfg, vocab, w, all, count, { id, cell, task, ...(accuracy ? { accuracy } : {}) });
}
