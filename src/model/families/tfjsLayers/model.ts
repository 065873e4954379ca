// TensorFlow.js layers models (model.json in "layers-model" format + binary weight shards): load with
// tfjs's own deserialiser, find the Keras attention layers (MultiHeadAttention, Attention,
// AdditiveAttention — kerasAttention.ts), and run the model in inspect mode (inspect.ts) so the
// trace shows their Q, K, V, scores, mask, weights and context.
//
// Input. A layers model takes tensors, not text. The text becomes token ids, in this order of preference:
//   1. userDefinedMetadata.attentionLens in model.json: { tokenizer: "chars", vocab: [...], unkId, padId,
//      lowercase?, maxLength?, positionsInput?, output?: "next-token" | "classes", labels? }
//      (what scripts/train/tfjs_attention_models.ts writes): one id per character;
//   2. a Hugging Face tokenizer beside model.json (tokenizer.json, or vocab.txt / vocab.json + merges.txt).
// The model must have one int input of shape [batch, time] (the ids); a second input whose name
// contains "pos" gets the positions 0…T−1. The output is shown as next-token predictions per
// position when it is [batch, time, vocab] probabilities, as top classes when it is [batch, classes].
// Files are read and checked in files.ts, text encoded in encoders.ts, stages laid out in stages.ts.
// No vscode import. Every tensor is disposed: load (also a failed one), run and dispose leave
// tf.memory().numTensors where they found it.
import * as path from 'node:path';
import { tf } from '../../runtime/backend';
import { HfTokenizer } from '../../tokenizers/hfTokenizer';
import {
  KERAS_ATTENTION_CLASSES,
  isKerasAttentionLayer,
  type AttentionLayerRecord,
  type KerasAttentionLayer,
} from './kerasAttention';
import { Inspector } from './inspect';
import {
  countList,
  describeFormat,
  layerClassList,
  parseCharMetadata,
  prepareTopology,
  readShards,
  type TfjsCharMetadata,
} from './files';
import { charEncoder, hfEncoder, type Encoded, type TextEncoderLike } from './encoders';
import { layerStages, outputStage } from './stages';
import { tfjsLesson } from './lesson';
import { throwIfCancelled, type AttentionModel, type RunOptions } from '../../model';
import { Run } from '../../trace/run';
import { f32 } from '../../runtime/read';
import { readJsonFile } from '../../formats/hfFolder';
import { AttentionInputError, tensor, type ModelInfo, type Stage, type Trace } from '../../../../shared/trace';

export type { TfjsCharMetadata } from './files';

export interface LoadTfjsOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
}

// ---------------------------------------------------------------------------------------------
// The model

interface Forward {
  readonly records: AttentionLayerRecord[];
  readonly output: Float32Array;
  readonly outputShape: number[];
}

export class TfjsLayersModel implements AttentionModel {
  readonly info: ModelInfo;
  private model: tf.LayersModel | undefined;
  readonly attentionLayers: readonly KerasAttentionLayer[];
  /** Built on the first inspected run; shares the model's layers (never disposed on its own). */
  private inspector: Inspector | undefined;

  constructor(
    model: tf.LayersModel,
    private readonly encoder: TextEncoderLike,
    private readonly meta: TfjsCharMetadata | undefined,
    private readonly positionsIndex: number | undefined,
    info: ModelInfo,
    readonly loadWarnings: readonly string[],
  ) {
    this.model = model;
    this.info = info;
    this.attentionLayers = model.layers.filter(isKerasAttentionLayer);
  }

  dispose(): void {
    this.inspector = undefined;
    this.model?.dispose();
    this.model = undefined;
  }

  private live(): tf.LayersModel {
    if (!this.model) throw new Error(`${this.info.name} has been disposed.`);
    return this.model;
  }

  get maxTokens(): number {
    return this.meta?.maxLength ?? 512;
  }

  /** Token ids for `text` (the first maxTokens), as the run feeds them. */
  encode(text: string, maxTokens = this.maxTokens): Encoded {
    return this.encoder.encode(text, Math.min(maxTokens, this.maxTokens));
  }

  private inputs(ids: readonly number[]): tf.Tensor[] {
    const T = ids.length;
    const list: tf.Tensor[] = [];
    this.live().inputs.forEach((_, i) => {
      list.push(
        i === this.positionsIndex
          ? tf.range(0, T, 1, 'int32').reshape([1, T])
          : tf.tensor2d(ids.slice(), [1, T], 'int32'),
      );
    });
    return list;
  }

  /** Runs the model; with `inspect`, also what each attention layer computed (inspect.ts). */
  forward(ids: readonly number[], inspect: boolean): Forward {
    const model = this.live();
    if (inspect) {
      const inspector = (this.inspector ??= new Inspector(model, this.attentionLayers));
      let inspected: Forward | undefined;
      tf.tidy(() => {
        inspected = inspector.run(this.inputs(ids));
      });
      return inspected!;
    }
    let out: { output: Float32Array; shape: number[] } | undefined;
    tf.tidy(() => {
      const y = model.predict(this.inputs(ids)) as tf.Tensor | tf.Tensor[];
      const first = Array.isArray(y) ? y[0]! : y;
      out = { output: f32(first), shape: first.shape.slice() };
    });
    return { records: [], output: out!.output, outputShape: out!.shape };
  }

  /**
   * The attention layers' outputs and the model's output from plain tfjs: a second tf.model over
   * the same layers, so tests can check that inspect mode changes nothing.
   */
  plainOutputs(ids: readonly number[]): { layers: Map<string, Float32Array>; output: Float32Array } {
    const model = this.live();
    const probe = tf.model({
      inputs: model.inputs,
      outputs: [...this.attentionLayers.map((l) => l.getOutputAt(0) as tf.SymbolicTensor), model.outputs[0]!],
    });
    const layers = new Map<string, Float32Array>();
    let output: Float32Array = new Float32Array(0);
    tf.tidy(() => {
      const ys = probe.predict(this.inputs(ids)) as tf.Tensor[];
      this.attentionLayers.forEach((l, i) => layers.set(l.name, f32(ys[i]!)));
      output = f32(ys[ys.length - 1]!);
    });
    return { layers, output };
  }

  async run(text: string, options: RunOptions = {}): Promise<Trace> {
    const requested =
      options.maxTokens !== undefined && Number.isFinite(options.maxTokens)
        ? Math.max(1, Math.floor(options.maxTokens))
        : this.maxTokens;
    // The model's own position limit wins, with a warning only when the text was actually cut.
    const run = Run.begin(
      text,
      { ...options, maxTokens: Math.min(requested, this.maxTokens) },
      { emptyMessage: 'There is no text to run: select some text first.' },
    );
    run.warnings.push(...this.loadWarnings);
    run.progress(0, 'Tokenising');
    const enc = this.encode(text, run.maxTokens);
    run.admit(
      { tokens: enc.tokens, truncated: enc.truncated, coveredLength: enc.covered },
      {
        noTokens: 'The text gave no tokens.',
        truncatedWhy: (maxTokens) =>
          requested > this.maxTokens ? `(this model's ${this.maxTokens} positions)` : `(maxTokens ${maxTokens})`,
        unknown: tfjsLesson.unknown,
      },
    );
    const ids = enc.tokens.map((t) => t.id);
    run.progress(0.2, 'Running the model with its attention layers in inspect mode');
    await Promise.resolve();
    run.checkCancelled();
    let fwd: Forward;
    try {
      fwd = this.forward(ids, true);
    } catch (err) {
      if (err instanceof AttentionInputError) throw err;
      throw new AttentionInputError(
        'shape',
        `The model could not run on ${ids.length} tokens: ${(err as Error).message}`,
      );
    }
    const T = ids.length;
    const stages: Stage[] = [
      {
        id: 'tokens',
        kind: 'tokens',
        ...tfjsLesson.tokens({
          chars: this.meta !== undefined,
          encoderKind: this.encoder.kind,
          vocabSize: this.encoder.vocabSize,
          T,
          positions: this.positionsIndex !== undefined,
        }),
        tensors: [
          tensor('ids', [T], ['token'], Float32Array.from(ids), {
            tokenAxes: { token: 'input' },
            description: 'Token ids fed to the model',
          }),
        ],
      },
    ];
    fwd.records.forEach((r, i) => {
      if (r.queryCount !== T || r.keyCount !== T)
        run.warnings.push(tfjsLesson.offPositions(r.layer, r.queryCount, r.keyCount, T));
      stages.push(...layerStages(r, i));
    });
    const label = (c: number): string => this.meta?.labels?.[c] ?? `class ${c}`;
    const out = outputStage(
      { T, topK: run.topK, kind: this.meta?.output ?? 'next-token', piece: (id) => this.encoder.piece(id), label },
      fwd.output,
      fwd.outputShape,
    );
    stages.push(out.stage);
    return run.finish({
      model: this.info,
      coveredLength: enc.covered,
      tokens: enc.tokens,
      stages,
      ...(out.predictions ? { predictions: out.predictions } : {}),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

function disposeNewVariables(before: ReadonlySet<string>): void {
  const vars = tf.engine().registeredVariables;
  for (const name of Object.keys(vars)) if (!before.has(name)) vars[name]!.dispose();
}

/**
 * Loads a TensorFlow.js layers model.json and its weight shards from disk. tf.loadLayersModel builds
 * the model (tfjs's own deserialiser, with the Keras attention classes registered); the shards are
 * checked (paths inside the folder, files present and long enough) and decoded with
 * tf.io.decodeWeights + model.loadWeights, the calls tfjs itself makes, so that any mismatch is
 * reported clearly and nothing leaks.
 */
export async function loadTfjsLayersModel(
  modelJsonPath: string,
  options: LoadTfjsOptions = {},
): Promise<TfjsLayersModel> {
  const { signal, onProgress } = options;
  throwIfCancelled(signal);
  const file = path.resolve(modelJsonPath);
  const dir = path.dirname(file);
  onProgress?.(0, 'Reading model.json');
  const raw = await readJsonFile(file, 'file');
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new AttentionInputError('file', `${file} is not a JSON object, so it is not a TensorFlow.js model.json.`);
  const j = raw as Record<string, unknown>;
  describeFormat(j, file);
  const classes = layerClassList(j.modelTopology);
  if (!classes.some((c) => (KERAS_ATTENTION_CLASSES as readonly string[]).includes(c))) {
    throw new AttentionInputError(
      'unsupported',
      `${file} has no attention layer (MultiHeadAttention, Attention or AdditiveAttention), so there is no attention to show. Its layers are: ${countList(classes) || 'none'}.`,
    );
  }
  const meta = parseCharMetadata(j.userDefinedMetadata, file);
  onProgress?.(0.1, 'Reading weight shards');
  const { specs, data, warnings } = await readShards(dir, file, j.weightsManifest, signal);
  let encoder: TextEncoderLike;
  if (meta) encoder = charEncoder(meta);
  else {
    try {
      encoder = hfEncoder(await HfTokenizer.load(dir));
    } catch (err) {
      throw new AttentionInputError(
        'config',
        `${file} has no character vocabulary in userDefinedMetadata.attentionLens and no usable tokenizer beside it, so text cannot be turned into its input ids. ` +
          `(${(err as Error).message})`,
      );
    }
  }
  throwIfCancelled(signal);
  onProgress?.(0.5, 'Building the model');
  const topology = prepareTopology(j.modelTopology);
  const before = new Set(Object.keys(tf.engine().registeredVariables));
  let model: tf.LayersModel;
  try {
    const artifacts: tf.io.ModelArtifacts = {
      modelTopology: topology as tf.io.ModelArtifacts['modelTopology'],
      format: 'layers-model',
    };
    if (j.userDefinedMetadata && typeof j.userDefinedMetadata === 'object')
      artifacts.userDefinedMetadata = j.userDefinedMetadata as NonNullable<tf.io.ModelArtifacts['userDefinedMetadata']>;
    model = await tf.loadLayersModel({ load: async () => artifacts }, { strict: false });
  } catch (err) {
    disposeNewVariables(before);
    if (err instanceof AttentionInputError) throw err;
    const msg = (err as Error).message;
    throw new AttentionInputError(
      /Unknown layer/i.test(msg) ? 'unsupported' : 'file',
      `${file}: tfjs could not build the model: ${msg}`,
    );
  }
  try {
    onProgress?.(0.8, 'Loading weights');
    const weights = tf.io.decodeWeights(data, specs as tf.io.WeightsManifestEntry[]);
    try {
      model.loadWeights(weights, true);
    } catch (err) {
      throw new AttentionInputError(
        'file',
        `${file}: the weight shards do not match the model's layers: ${(err as Error).message}`,
      );
    } finally {
      tf.dispose(Object.values(weights));
    }
    const inputs = model.inputs;
    let positionsIndex: number | undefined;
    if (inputs.length === 2) {
      positionsIndex = inputs.findIndex((t) =>
        meta?.positionsInput ? t.name.startsWith(meta.positionsInput) : /pos/i.test(t.name),
      );
      if (positionsIndex < 0)
        throw new AttentionInputError(
          'unsupported',
          `${file}: the model has 2 inputs (${inputs.map((t) => t.name).join(', ')}); a second input is only understood when its name contains "pos" (positions 0…T−1).`,
        );
    } else if (inputs.length !== 1) {
      throw new AttentionInputError(
        'unsupported',
        `${file}: the model has ${inputs.length} inputs; this loader feeds one input of token ids (plus optionally positions).`,
      );
    }
    for (const [i, t] of inputs.entries()) {
      if (t.shape.length !== 2)
        throw new AttentionInputError(
          'unsupported',
          `${file}: input ${i} "${t.name}" has shape [${t.shape.map((d) => d ?? 'null').join(', ')}]; a [batch, time] tensor of ids was expected.`,
        );
    }
    const attention = model.layers.filter(isKerasAttentionLayer);
    const first = attention.find((l) => l instanceof tf.layers.Layer && 'numHeads' in l) as
      | { numHeads?: number; keyDim?: number }
      | undefined;
    const base = path.basename(dir);
    const info: ModelInfo = {
      id: `tfjs-layers:${base}`,
      name: base,
      family: 'tfjs-layers',
      description:
        meta?.description ??
        `TensorFlow.js layers model with ${attention.length} attention layer${attention.length === 1 ? '' : 's'}: ${attention.map((l) => `${l.name} (${l.getClassName()})`).join(', ')}.`,
      layers: attention.length,
      heads: first?.numHeads ?? 1,
      dModel:
        ((model.inputs[0] &&
          model.layers.find((l) => l.getClassName() === 'Embedding')?.getConfig().outputDim) as number) ?? 0,
      parameters: model.countParams(),
    };
    onProgress?.(1, 'Model ready');
    return new TfjsLayersModel(model, encoder, meta, positionsIndex, info, warnings);
  } catch (err) {
    model.dispose();
    disposeNewVariables(before);
    throw err;
  }
}
