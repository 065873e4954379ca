// Turning a checkpoint's shape-checked tensors into the tfjs tensors a model keeps (the weight-map
// helpers every family's weights.ts uses), and freeing them once. No vscode import.
import { tf } from '../runtime/backend';
import type { SafeTensor } from '../formats/safetensors';
import { EmbeddingTable } from '../layers/embedding';
import type { Dense } from '../layers/linear';
import type { LN, NormWeights } from '../layers/norms';
import { float32Bytes, StreamedLayers, streamThreshold, type LayerList } from './streamedWeights';

export interface WeightMaker {
  keep<T extends tf.Tensor>(t: T): T;
  has(name: string): boolean;
  t1(name: string): tf.Tensor1D;
  /** As stored. */
  t2(name: string): tf.Tensor2D;
  /** Transposed: a torch Linear's [out, in] becomes the [in, out] that x·W wants. */
  t2T(name: string): tf.Tensor2D;
  /** `name.weight` (torch Linear, transposed) and `name.bias` when `bias` (default true). */
  linear(name: string, bias?: boolean): Dense;
  /** `name.weight` stored [in, out] (GPT-2's Conv1D) and `name.bias`. */
  conv1d(name: string): Dense;
  /**
   * A fused Conv1D ([in, parts·out], GPT-2's c_attn) cut into `parts` dense layers of `out` columns
   * each, at load: Q, K and V become three plain projections.
   */
  conv1dSplit(name: string, parts: number): Dense[];
  /**
   * A fused torch Linear without bias ([Σ rows, in], Phi-3's qkv_proj and gate_up_proj) cut by rows
   * into one dense layer per entry of `rows`, each transposed to [in, rows]: plain projections at load.
   */
  linearRows(name: string, rows: readonly number[]): Dense[];
  layerNorm(name: string): LN;
  /** `name.weight`, and `name.bias` for LayerNorm. */
  norm(name: string, kind: 'layer' | 'rms'): NormWeights;
  table(name: string): EmbeddingTable;
  /**
   * Gemma's RMSNorm gain, stored zero-centred: `name.weight` is w and the norm multiplies by 1 + w
   * (HF's GemmaRMSNorm computes 1 + w in float32, as this does once at load).
   */
  rmsPlusOne(name: string): NormWeights;
  /**
   * The model's `count` layers, each built by `build` with a maker for that layer: resident tensors,
   * or (a checkpoint over the stream threshold, streamedWeights.ts) built anew each time a layer runs.
   */
  layers<T extends object>(count: number, build: (m: WeightMaker, layer: number) => T): LayerList<T>;
  /** Disposes everything made so far (a load that failed half-way). */
  freeAll(): void;
}

export function weightMaker(tensors: ReadonlyMap<string, SafeTensor>, stream = false): WeightMaker {
  const created: tf.Tensor[] = [];
  const get = (name: string): SafeTensor => {
    const t = tensors.get(name);
    if (!t) throw new Error(`weight ${name} was not checked before use`);
    return t;
  };
  const keep = <T extends tf.Tensor>(t: T): T => {
    created.push(t);
    return t;
  };
  const t1 = (name: string): tf.Tensor1D => keep(tf.tensor1d(get(name).data, 'float32'));
  const t2 = (name: string): tf.Tensor2D => {
    const w = get(name);
    return keep(tf.tensor2d(w.data, [w.shape[0]!, w.shape[1]!], 'float32'));
  };
  const t2T = (name: string): tf.Tensor2D => {
    const w = get(name);
    return keep(tf.tidy(() => tf.transpose(tf.tensor2d(w.data, [w.shape[0]!, w.shape[1]!], 'float32')) as tf.Tensor2D)); // [out, in] → [in, out]
  };
  const layerNorm = (name: string): LN => ({ g: t1(name + '.weight'), b: t1(name + '.bias') });
  const maker: WeightMaker = {
    keep,
    has: (name) => tensors.has(name),
    t1,
    t2,
    t2T,
    linear: (name, bias = true) =>
      bias ? { w: t2T(name + '.weight'), b: t1(name + '.bias') } : { w: t2T(name + '.weight') },
    conv1d: (name) => ({ w: t2(name + '.weight'), b: t1(name + '.bias') }),
    conv1dSplit: (name, parts) => {
      const w = get(name + '.weight');
      const b = get(name + '.bias');
      const [inp, width] = [w.shape[0]!, w.shape[1]!];
      if (width % parts !== 0 || b.shape[0] !== width)
        throw new Error(
          `${name}: ${w.shape.join('×')} and bias ${b.shape.join('×')} do not split into ${parts} equal parts`,
        );
      return tf.tidy(() => {
        const ws = tf.split(tf.tensor2d(w.data, [inp, width], 'float32'), parts, 1) as tf.Tensor2D[]; // [in, parts·out] → parts × [in, out]
        const bs = tf.split(tf.tensor1d(b.data, 'float32'), parts) as tf.Tensor1D[]; // [parts·out] → parts × [out]
        return ws.map((wi, i) => ({ w: keep(tf.keep(wi)), b: keep(tf.keep(bs[i]!)) }));
      });
    },
    linearRows: (name, rows) => {
      const w = get(name + '.weight');
      const [out, inp] = [w.shape[0]!, w.shape[1]!];
      if (rows.reduce((a, b) => a + b, 0) !== out)
        throw new Error(`${name}.weight: ${w.shape.join('×')} does not split into rows ${rows.join(' + ')}`);
      return tf.tidy(() => {
        const parts = tf.split(tf.tensor2d(w.data, [out, inp], 'float32'), [...rows], 0) as tf.Tensor2D[]; // [Σ rows, in] → rows × [rᵢ, in]
        return parts.map((p) => ({ w: keep(tf.keep(tf.transpose(p) as tf.Tensor2D)) })); // [rᵢ, in] → [in, rᵢ]
      });
    },
    layerNorm,
    norm: (name, kind) => (kind === 'layer' ? layerNorm(name) : { g: t1(name + '.weight') }),
    table: (name) => {
      const w = get(name);
      return new EmbeddingTable(w.data, w.shape[0]!, w.shape[1]!);
    },
    rmsPlusOne: (name) => {
      const w = get(name + '.weight').data;
      const g = new Float32Array(w.length);
      for (let i = 0; i < w.length; i++) g[i] = 1 + w[i]!;
      return { g: keep(tf.tensor1d(g, 'float32')) };
    },
    layers: <T extends object>(count: number, build: (m: WeightMaker, layer: number) => T): LayerList<T> => {
      if (!stream) return Array.from({ length: count }, (_, l) => build(maker, l));
      const buildOne = (l: number): T => {
        const own = weightMaker(tensors);
        try {
          return build(own, l);
        } catch (err) {
          own.freeAll();
          throw err;
        }
      };
      return new StreamedLayers(count, buildOne, disposeTensorsIn);
    },
    freeAll: () => {
      for (const t of created.splice(0)) t.dispose();
    },
  };
  return maker;
}

/** Disposes every tensor reachable from a model's weight record (each once, however often shared). */
export function disposeTensorsIn(weights: object): void {
  const all = new Set<tf.Tensor>();
  const add = (x: unknown): void => {
    if (x instanceof tf.Tensor) all.add(x);
    else if (x && typeof x === 'object' && !ArrayBuffer.isView(x)) for (const v of Object.values(x)) add(v);
  };
  add(weights);
  for (const t of all) t.dispose();
}

/**
 * Builds a model's weights with `make`; if it throws half-way, what was made is freed. Layers made
 * with `m.layers` are streamed when the tensors' float32 bytes exceed the stream threshold.
 */
export function buildWith<W>(tensors: ReadonlyMap<string, SafeTensor>, make: (m: WeightMaker) => W): W {
  const made = weightMaker(tensors, float32Bytes(tensors.values()) > streamThreshold());
  try {
    return make(made);
  } catch (err) {
    made.freeAll();
    throw err;
  }
}
