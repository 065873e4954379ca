// A reloaded panel's run, read from disk instead of made again: whole traces, and big ones (that a
// worker held) in light form (shared/lazy.ts lightForm: a worker adopts it and makes each layer
// again from its input), kept in the extension's storage, one file each, keyed by the
// run's request and the model files' stamps, least recently used let go past a byte cap. A file
// that does not read back exactly (truncated, another version, edited) is deleted and the run is
// made again. No vscode import: the host passes the folder.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { GridThumbs } from '../../shared/derived';
import type { Stage, TensorData, Trace } from '../../shared/trace';

const MAGIC = 0x43524c41; // "ALRC", little-endian
const VERSION = 1;
const HEAD = 12; // magic, version, JSON byte length

/** A tensor in the file's JSON: its numbers at `at` (floats) in the data that follows. */
type StoredTensor = Omit<TensorData, 'data'> & { readonly at: number; readonly n: number };

/** What a file keeps: a run, and with a light form the grid's thumbnails (pooled from every layer, which a worker would otherwise make again). */
export interface Kept {
  readonly trace: Trace;
  readonly grid?: GridThumbs;
}

export interface RestoreCacheOptions {
  /** Bytes the folder may hold, read when used (a setting); 0 turns the cache off. */
  readonly capBytes: () => number;
  /** A trace bigger than this is not kept (it is cheaper to run again than to hold). */
  readonly entryBytes?: number;
}

export class RestoreCache {
  constructor(
    private readonly dir: string,
    private readonly options: RestoreCacheOptions,
  ) {}

  /** The cache key of a run: its request as JSON and the stamps of the files it read. */
  static key(request: unknown, stamps: readonly string[]): string {
    return createHash('sha256').update(JSON.stringify({ request, stamps })).digest('hex');
  }

  get enabled(): boolean {
    return this.options.capBytes() > 0;
  }

  /** Keeps `trace` (and its grid) under `key`; false when it is not kept (too big, cache off). Never throws. */
  async put(key: string, trace: Trace, grid?: GridThumbs): Promise<boolean> {
    if (!this.enabled) return false;
    try {
      const bytes = encode(trace, grid);
      if (bytes.byteLength > Math.min(this.options.entryBytes ?? Infinity, this.options.capBytes())) return false;
      await fs.mkdir(this.dir, { recursive: true });
      const file = this.file(key);
      const tmp = `${file}.${process.pid}.${Date.now().toString(36)}.partial`;
      await fs.writeFile(tmp, bytes, { flag: 'wx' });
      await fs.rename(tmp, file);
      await this.prune(file);
      return true;
    } catch {
      return false;
    }
  }

  /** What is kept under `key`, or undefined (none, or a file that does not read back: it is deleted). */
  async get(key: string): Promise<Kept | undefined> {
    if (!this.enabled) return undefined;
    const file = this.file(key);
    let bytes: Buffer;
    try {
      const st = await fs.lstat(file);
      if (!st.isFile() || st.size > this.options.capBytes()) throw new Error('not a cache file');
      bytes = await fs.readFile(file);
    } catch {
      return undefined;
    }
    try {
      const kept = decode(bytes);
      const now = new Date();
      await fs.utimes(file, now, now).catch(() => undefined);
      return kept;
    } catch {
      await fs.rm(file, { force: true }).catch(() => undefined);
      return undefined;
    }
  }

  private file(key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error('a cache key is a SHA-256 in hex');
    return path.join(this.dir, `${key}.trace`);
  }

  /** Lets go of the least recently used files until the folder fits its cap; `keep` stays. */
  private async prune(keep: string): Promise<void> {
    const names = (await fs.readdir(this.dir)).filter((n) => n.endsWith('.trace'));
    const files = await Promise.all(
      names.map(async (n) => {
        const p = path.join(this.dir, n);
        const st = await fs.lstat(p).catch(() => undefined);
        return st?.isFile() ? { p, size: st.size, used: st.mtimeMs } : undefined;
      }),
    );
    const list = files.filter((f): f is NonNullable<typeof f> => f !== undefined).sort((a, b) => a.used - b.used);
    let total = list.reduce((n, f) => n + f.size, 0);
    const cap = this.options.capBytes();
    for (const f of list) {
      if (total <= cap) break;
      if (f.p === keep) continue;
      await fs.rm(f.p, { force: true }).catch(() => undefined);
      total -= f.size;
    }
  }
}

/**
 * One file: the header, the trace (and a grid, under `grid`) as JSON with each array of numbers
 * replaced by where it is, then the numbers.
 */
export function encode(trace: Trace, grid?: GridThumbs): Uint8Array {
  const offsets = new Map<Float32Array, number>();
  let floats = 0;
  const place = (data: Float32Array): number => {
    let at = offsets.get(data);
    if (at === undefined) {
      offsets.set(data, (at = floats));
      floats += data.length;
    }
    return at;
  };
  const stages = trace.stages.map((s) => ({
    ...s,
    tensors: s.tensors.map((t): StoredTensor => {
      // A light form's big tensors (remote, empty) are made again by the worker that adopts it.
      const { data, ...rest } = t;
      return { ...rest, at: place(data), n: data.length };
    }),
  }));
  // A thumbnail's numbers as { at, n }, like a tensor's.
  const stored =
    grid &&
    JSON.parse(
      JSON.stringify(grid, (_k, v: unknown) => (v instanceof Float32Array ? { at: place(v), n: v.length } : v)),
    );
  const json = Buffer.from(JSON.stringify({ ...trace, stages, ...(stored ? { grid: stored } : {}) }), 'utf8');
  const dataAt = HEAD + Math.ceil(json.length / 4) * 4;
  const out = new Uint8Array(dataAt + floats * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, HEAD);
  const data = new Float32Array(out.buffer, dataAt, floats);
  for (const [d, at] of offsets) data.set(d, at);
  return out;
}

/** What `encode` wrote; throws on anything else (a truncated or edited file, another version). */
export function decode(bytes: Uint8Array): Kept {
  if (bytes.byteLength < HEAD) throw new Error('too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== VERSION) throw new Error('not a cache file');
  const jsonLength = view.getUint32(8, true);
  const dataAt = HEAD + Math.ceil(jsonLength / 4) * 4;
  if (dataAt > bytes.byteLength || (bytes.byteLength - dataAt) % 4 !== 0) throw new Error('truncated');
  const { grid, ...meta } = JSON.parse(
    Buffer.from(bytes.buffer, bytes.byteOffset + HEAD, jsonLength).toString('utf8'),
  ) as Omit<Trace, 'stages'> & { stages: (Omit<Stage, 'tensors'> & { tensors: StoredTensor[] })[]; grid?: unknown };
  if (meta?.version !== 1 || !Array.isArray(meta.stages)) throw new Error('not a trace');
  // One aligned copy of the numbers (a Buffer from readFile may sit at any offset in its pool).
  const floats = new Float32Array(new Uint8Array(bytes.subarray(dataAt)).buffer);
  const stages: Stage[] = meta.stages.map((s) => ({
    ...s,
    tensors: s.tensors.map(({ at, n, ...rest }): TensorData => {
      const size = rest.remote === true ? 0 : rest.shape.reduce((a, b) => a * b, 1);
      const numbers = span(floats, at, n);
      if (!numbers || n !== size) throw new Error(`tensor ${rest.name}: its numbers are not in the file`);
      // A remote tensor's empty array is its own, not a view of the file's (which a transfer would take).
      return { ...rest, data: rest.remote === true ? new Float32Array(0) : numbers };
    }),
  }));
  return { trace: { ...meta, stages }, ...(grid !== undefined ? { grid: gridOf(grid, floats) } : {}) };
}

/** The `n` numbers at `at` of the file's data, if a stored { at, n } names numbers that are there. */
function span(floats: Float32Array, at: unknown, n: unknown): Float32Array | undefined {
  if (typeof at !== 'number' || typeof n !== 'number' || !Number.isInteger(at) || !Number.isInteger(n))
    return undefined;
  return at >= 0 && n >= 0 && at + n <= floats.length ? floats.subarray(at, at + n) : undefined;
}

/** A kept grid with its thumbnails' numbers in hand (copies); its fit to the run is the adopting worker's to check. */
function gridOf(stored: unknown, floats: Float32Array): GridThumbs {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v !== 'object' || v === null) return v;
    const o = v as Record<string, unknown>;
    if ('rows' in o && 'cols' in o && typeof o.data === 'object' && o.data !== null) {
      const { at, n } = o.data as { at?: unknown; n?: unknown };
      const numbers = span(floats, at, n);
      if (!numbers) throw new Error('a thumbnail of the grid is not in the file');
      return { ...o, data: numbers.slice() };
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
  };
  const grid = walk(stored) as GridThumbs;
  if (!Array.isArray(grid?.sections)) throw new Error('not a grid');
  return grid;
}

/**
 * Stamps of the files a run read, so an edited or replaced checkpoint misses the cache: each path's
 * size and modification time, and for a folder those of the files directly in it. Missing paths
 * stamp as missing.
 */
export async function fileStamps(paths: readonly string[]): Promise<string[]> {
  const stamp = async (p: string): Promise<string> => {
    const st = await fs.stat(p).catch(() => undefined);
    return st ? `${p}:${st.size}:${st.mtimeMs}` : `${p}:missing`;
  };
  const out: string[] = [];
  for (const p of paths) {
    out.push(await stamp(p));
    const entries = await fs.readdir(p).catch(() => [] as string[]);
    for (const e of entries.sort()) out.push(await stamp(path.join(p, e)));
  }
  return out;
}
