// A trace as plain JSON for files (CLI --json, panel export): tensors as base64 little-endian
// float32 with shape and axes, never as nested number arrays. Round-trips exactly.
import type { GridThumbs, Thumb } from './derived';
import type { Stage, TensorData, Trace } from './trace';

export interface JsonTensor extends Omit<TensorData, 'data'> {
  readonly dtype: 'float32';
  readonly data: string;
}

function toBase64(a: Float32Array): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (typeof Buffer !== 'undefined') return Buffer.from(bytes).toString('base64');
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s: string): Float32Array {
  let bytes: Uint8Array;
  if (typeof Buffer !== 'undefined') bytes = new Uint8Array(Buffer.from(s, 'base64'));
  else {
    const bin = atob(s);
    bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  }
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

export function tensorToJson(t: TensorData): JsonTensor {
  return { ...t, dtype: 'float32', data: toBase64(t.data) };
}

export function traceToJson(trace: Trace): unknown {
  return { ...trace, stages: trace.stages.map((s) => ({ ...s, tensors: s.tensors.map(tensorToJson) })) };
}

export function traceFromJson(json: unknown): Trace {
  const t = json as Omit<Trace, 'stages'> & { stages: (Omit<Stage, 'tensors'> & { tensors: JsonTensor[] })[] };
  if (!t || t.version !== 1 || !Array.isArray(t.stages)) throw new Error('not an Attention Lens trace (version 1)');
  const stages: Stage[] = t.stages.map((s) => ({
    ...s,
    tensors: s.tensors.map(({ dtype: _d, data, ...rest }): TensorData => ({ ...rest, data: fromBase64(data) })),
  }));
  return { ...t, stages };
}

/**
 * The same tensors with their numbers in one ArrayBuffer (each tensor a view into it, shared data
 * kept shared). VS Code's webview transport carries a message's buffers separately, and with
 * hundreds of them (a 50-step seq2seq run has over 600) the later ones arrived empty.
 */
export function packTensors(tensors: readonly TensorData[]): TensorData[] {
  const offsets = new Map<Float32Array, number>();
  let floats = 0;
  for (const t of tensors)
    if (!offsets.has(t.data)) {
      offsets.set(t.data, floats);
      floats += t.data.length;
    }
  const all = new Float32Array(floats);
  for (const [data, at] of offsets) all.set(data, at);
  return tensors.map((t) => {
    const at = offsets.get(t.data)!;
    return { ...t, data: all.subarray(at, at + t.data.length) };
  });
}

/** The trace with every tensor packed into one buffer (packTensors). */
export function packTrace(trace: Trace): Trace {
  const flat = trace.stages.flatMap((s) => s.tensors);
  const packed = packTensors(flat);
  let i = 0;
  return { ...trace, stages: trace.stages.map((s) => ({ ...s, tensors: s.tensors.map(() => packed[i++]!) })) };
}

/** The grid with every thumbnail's numbers in one buffer (each a view into it), for the same reason as packTensors. */
export function packGrid(grid: GridThumbs): GridThumbs {
  let floats = 0;
  const count = (t: Thumb): Thumb => ((floats += t.data.length), t);
  const each = (g: GridThumbs, f: (t: Thumb) => Thumb): GridThumbs => ({
    ...g,
    sections: g.sections.map((sec) => ({
      ...sec,
      rows: sec.rows.map((r) => ({
        ...r,
        heads: r.heads.map(f),
        mean: f(r.mean),
        ...(r.norms ? { norms: { heads: r.norms.heads.map(f), mean: f(r.norms.mean) } } : {}),
      })),
    })),
    ...(g.rollout ? { rollout: f(g.rollout) } : {}),
  });
  each(grid, count);
  const all = new Float32Array(floats);
  let at = 0;
  return each(grid, (t) => {
    all.set(t.data, at);
    const data = all.subarray(at, (at += t.data.length));
    return { ...t, data };
  });
}
