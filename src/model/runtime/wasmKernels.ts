// Kernels for the wasm backend, measured against tfjs-backend-wasm 4.22's own (npm run bench):
// - Slice, Unpack and SplitV replace kernels whose JS code copies the whole input out of the wasm
//   heap (readSync) once per output before slicing it: unstacking 12 heads of a [12, 512, 64]
//   tensor allocated and copied 12 × 1.5 MB. These read the input through a view of the heap and
//   copy only the part each output needs; the same values, bit for bit.
// - GeluErf and LayerNorm (new): exact GELU and layer normalisation in WebAssembly SIMD
//   (src/model/simd.ts); the backend's Erf is scalar libm code (~20 ns an element) followed by
//   four more passes, and a layer norm is nine tfjs ops.
// - readConcatenated reads per-head tensors straight into one array, without a stack in the heap.
// test/unit/wasmKernels.test.ts checks all of them against independent arithmetic.
import * as tf from '@tensorflow/tfjs';
import { SimdKernels } from './simd';

type Heap = Float32Array | Int32Array | Uint8Array;

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Heap;
}

/**
 * Copies x[begin : begin + size] into a new tensor. Views of the heap are taken after
 * makeOutput: its malloc may grow (and so replace) the heap.
 */
function sliceOf(
  backend: WasmBackend,
  x: tf.TensorInfo,
  begin: readonly number[],
  size: readonly number[],
): tf.TensorInfo {
  const out = backend.makeOutput([...size], x.dtype);
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const shape = x.shape;
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0]!;
    return out;
  }
  const strides = [...tf.util.computeStrides(shape), 1];
  // The trailing dims taken whole, together with the one before them, are one contiguous run.
  let k = rank - 1;
  while (k > 0 && size[k] === shape[k] && begin[k] === 0) k--;
  const run = size.slice(k).reduce((a, b) => a * b, 1);
  let offset = 0;
  for (let d = 0; d < rank; d++) offset += begin[d]! * strides[d]!;
  if (k === 0) {
    dst.set(src.subarray(offset, offset + run));
    return out;
  }
  // Odometer over dims 0..k−1.
  const index = new Array<number>(k).fill(0);
  for (let at = 0; at < total; at += run) {
    dst.set(src.subarray(offset, offset + run), at);
    let d = k - 1;
    for (; d >= 0; d--) {
      index[d]!++;
      offset += strides[d]!;
      if (index[d]! < size[d]!) break;
      offset -= index[d]! * strides[d]!;
      index[d] = 0;
    }
  }
  return out;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function asBackend(args: KernelArgs): WasmBackend {
  return args.backend as unknown as WasmBackend;
}

function slice(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs['x']!;
  const attrs = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.TensorInfo as tf.Tensor, attrs.begin, attrs.size);
  return sliceOf(asBackend(args), x, begin, size);
}

function unpack(args: KernelArgs): tf.TensorInfo[] {
  const value = args.inputs['value']!;
  const rank = value.shape.length;
  let axis = (args.attrs as unknown as { axis: number }).axis;
  if (axis < 0) axis += rank;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const begin = new Array<number>(rank).fill(0);
  const size = [...value.shape];
  size[axis] = 1;
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]!; i++) {
    begin[axis] = i;
    const out = sliceOf(asBackend(args), value, begin, size);
    outs.push({ dataId: out.dataId, dtype: out.dtype, shape: outShape });
  }
  return outs;
}

function splitV(args: KernelArgs): tf.TensorInfo[] {
  const x = args.inputs['x']!;
  const attrs = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[axis] = s;
    const out = sliceOf(asBackend(args), x, begin, size);
    begin[axis]! += s;
    return out;
  });
}

/** Names of the SIMD kernels (wasm backend only; elsewhere transformerStages composes tf ops). */
export const GELU_ERF = 'AttentionLensGeluErf';
export const LAYER_NORM = 'AttentionLensLayerNorm';

function geluErf(simd: SimdKernels, args: KernelArgs): tf.TensorInfo {
  const x = args.inputs['x']!;
  const backend = asBackend(args);
  const out = backend.makeOutput([...x.shape], 'float32');
  simd.gelu(backend.typedArrayFromHeap(x) as Float32Array, backend.typedArrayFromHeap(out) as Float32Array);
  return out;
}

/** Inputs x, g and (for a layer norm, not RMSNorm) b; attrs { eps }. */
function layerNorm(simd: SimdKernels, args: KernelArgs): tf.TensorInfo {
  const { x, g, b } = args.inputs as { x: tf.TensorInfo; g: tf.TensorInfo; b?: tf.TensorInfo };
  const backend = asBackend(args);
  const out = backend.makeOutput([...x.shape], 'float32');
  const heap = (t: tf.TensorInfo): Float32Array => backend.typedArrayFromHeap(t) as Float32Array;
  simd.layerNorm(
    heap(x),
    heap(g),
    b && heap(b),
    (args.attrs as unknown as { eps: number }).eps,
    x.shape[x.shape.length - 1]!,
    heap(out),
  );
  return out;
}

const REPLACEMENTS: Record<string, (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]> = {
  Slice: slice,
  Unpack: unpack,
  SplitV: splitV,
};

let installed = false;

/**
 * Swaps in the kernels above for the wasm backend (idempotent). Strings keep tfjs's own kernel;
 * the wasm backend has no other dtype these could not read from the heap.
 */
export function installWasmKernels(): void {
  if (installed) return;
  for (const [name, replacement] of Object.entries(REPLACEMENTS)) {
    const original = tf.getKernel(name, 'wasm');
    if (!original) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      ...original,
      kernelFunc: (args) =>
        Object.values(args.inputs).some((t) => t?.dtype === 'string') ? original.kernelFunc(args) : replacement(args),
    });
  }
  const simd = SimdKernels.create();
  if (simd) {
    for (const [kernelName, fn] of [
      [GELU_ERF, geluErf],
      [LAYER_NORM, layerNorm],
    ] as const) {
      if (!tf.getKernel(kernelName, 'wasm'))
        tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: (args) => fn(simd, args) });
    }
  }
  installed = true;
}

/** True when the current backend has the SIMD kernel `name` (GELU_ERF, LAYER_NORM). */
export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * The values of `parts` end to end in one new Float32Array (or `into`): one copy per part straight
 * out of the wasm heap, instead of stacking them in the heap first and then copying the stack out.
 */
export function readConcatenated(parts: readonly tf.Tensor[], into?: Float32Array): Float32Array {
  const size = parts.reduce((n, t) => n + t.size, 0);
  if (into && into.length !== size) throw new Error(`readConcatenated: ${size} values into ${into.length}`);
  const out = into ?? new Float32Array(size);
  const backend = tf.getBackend() === 'wasm' ? (tf.backend() as unknown as WasmBackend) : undefined;
  let at = 0;
  for (const t of parts) {
    if (t.dtype !== 'float32') throw new Error(`readConcatenated: ${t.dtype} tensor`);
    out.set(backend ? backend.typedArrayFromHeap(t) : t.dataSync(), at);
    at += t.size;
  }
  return out;
}
