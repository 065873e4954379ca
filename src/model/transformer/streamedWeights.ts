// Layers whose weights live outside the wasm heap and are uploaded into tfjs only while the layer
// runs: a checkpoint whose float32 weights would not fit tfjs-wasm's 4 GB heap (a 1B decoder is
// ~4.9 GB) runs one layer at a time. Small models keep their weights resident, which is faster:
// XNNPACK packs a constant weight once, and a fresh weight tensor costs ~10× per matmul.
// No vscode import.
import type { SafeTensor } from '../formats/safetensors';

/** Default threshold: stream when the checkpoint's float32 weights exceed 1.5 GiB. */
export const DEFAULT_STREAM_BYTES = 1.5 * 2 ** 30;

const fromEnv = Number(process.env['ATTENTION_LENS_STREAM_BYTES']);
let threshold = Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv : DEFAULT_STREAM_BYTES;

/** Streams layers of checkpoints whose float32 weights exceed `bytes` (undefined: back to the default). Tests force it with 0. */
export function setStreamThreshold(bytes: number | undefined): void {
  if (bytes !== undefined && !(bytes >= 0)) throw new RangeError(`stream threshold must be ≥ 0 bytes, got ${bytes}`);
  threshold = bytes ?? DEFAULT_STREAM_BYTES;
}

export function streamThreshold(): number {
  return threshold;
}

/** Bytes the tensors would take as float32 (in the wasm heap). */
export function float32Bytes(tensors: Iterable<SafeTensor>): number {
  let n = 0;
  // From the shapes: reading a compact tensor's data would convert it.
  for (const t of tensors) n += t.shape.reduce((a, b) => a * b, 1) * 4;
  return n;
}

/**
 * `length` layers built on demand: acquire(l) uploads layer l's weights into tfjs (the same code and
 * bytes as the resident path, so the tensors are bit-identical); release() disposes them.
 */
export class StreamedLayers<T extends object> {
  readonly #build: (layer: number) => T;
  // Takes any weight record, so a StreamedLayers of a narrower record is one of BlockWeights.
  readonly #free: (weights: object) => void;

  constructor(
    readonly length: number,
    build: (layer: number) => T,
    free: (weights: object) => void,
  ) {
    this.#build = build;
    this.#free = free;
  }

  acquire(layer: number): T {
    if (!(Number.isInteger(layer) && layer >= 0 && layer < this.length))
      throw new RangeError(`layer ${layer} is outside 0…${this.length - 1}`);
    return this.#build(layer);
  }

  release(weights: T): void {
    this.#free(weights);
  }
}

/** A model's layers: resident tensors, or streamed one layer at a time. */
export type LayerList<T extends object> = readonly T[] | StreamedLayers<T>;

/** Runs `fn` with layer l's weights, uploading and freeing them around it when they are streamed. */
export function withLayer<T extends object, R>(layers: LayerList<T>, l: number, fn: (weights: T) => R): R {
  if (!(layers instanceof StreamedLayers)) {
    const w = layers[l];
    if (!w) throw new RangeError(`layer ${l} is outside 0…${layers.length - 1}`);
    return fn(w);
  }
  const w = layers.acquire(l);
  try {
    return fn(w);
  } finally {
    layers.release(w);
  }
}
