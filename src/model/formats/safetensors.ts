// A hardened reader (and a small F32 writer) for the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
// UTF-8 JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": {..} }`, then the
// tensor bytes, offsets relative to the end of the header. Every problem with a file (truncated,
// corrupted, unsupported dtype, overlapping ranges, ...) is an AttentionInputError('file'), never a
// crash, a hang or an allocation larger than the file itself. No vscode, no tfjs: plain TypeScript.
// Over 400 lines: header validation is a long list of checks, each with its own message.
import type * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { AttentionInputError } from '../../../shared/trace';
import { openInside, readFully, scanJson } from './files';

export type SafeDtype = 'F32' | 'F16' | 'BF16';

export interface SafeTensor {
  /** The dtype stored in the file; `data` is always float32 (exactly converted). */
  readonly dtype: SafeDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array;
  /** Values that are NaN, ±Inf or beyond ±MAX_WEIGHT (found while converting); absent when all are usable. */
  readonly nonFinite?: NonFinite;
}

/** How many of a tensor's values are unusable, and the first of them. */
export interface NonFinite {
  readonly count: number;
  readonly index: number;
  readonly value: number;
}

/** Larger than any trained weight; a product of two such values overflows float32 to Inf. */
export const MAX_WEIGHT = 1e30;

/** Counts a tensor's unusable values (NaN, ±Inf, |x| > MAX_WEIGHT): one pass, no allocation. */
export function findNonFinite(data: Float32Array): NonFinite | undefined {
  let count = 0;
  let index = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // Written so NaN fails the test too.
    if (!(v <= MAX_WEIGHT && v >= -MAX_WEIGHT)) {
      if (count++ === 0) index = i;
    }
  }
  return count === 0 ? undefined : { count, index, value: data[index]! };
}

/** "tensor w has 3 unusable values (…); the first is NaN at [0, 2]. …": the refusal of a tensor that would poison a run. */
export function nonFiniteMessage(name: string, shape: readonly number[], { count, index, value }: NonFinite): string {
  const at: number[] = [];
  let rest = index;
  for (let i = shape.length - 1; i >= 0; i--) {
    at.unshift(rest % shape[i]!);
    rest = Math.floor(rest / shape[i]!);
  }
  const shown = Number.isNaN(value) ? 'NaN' : Math.abs(value) === Infinity ? String(value) : value.toExponential(2);
  return (
    `tensor ${name} has ${count} unusable value${count === 1 ? '' : 's'} (NaN, ±Infinity or beyond ±${MAX_WEIGHT}); the first is ${shown} at [${at.join(', ')}]. ` +
    'The checkpoint is corrupted or overflowed when it was saved, so it is not run.'
  );
}

/** One tensor's entry in a validated header; offsets are absolute byte positions in the file. */
export interface SafeTensorEntry {
  readonly name: string;
  readonly dtype: SafeDtype;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** Total header size in bytes, including the 8-byte length prefix: where the tensor data starts. */
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** Sorted by position in the file. */
  readonly tensors: readonly SafeTensorEntry[];
  /** The file's size in bytes (the header and the data it declares, nothing more). */
  readonly fileSize: number;
}

/** The largest JSON header accepted (the reference implementation uses the same bound). */
export const MAX_HEADER_BYTES = 100_000_000;
/** The most tensors one file may hold (the largest real checkpoints have a few thousand per file). */
export const MAX_TENSORS = 65_536;

const DTYPE_BYTES: Readonly<Record<SafeDtype, number>> = { F32: 4, F16: 2, BF16: 2 };
/** Dtypes the format defines that we recognise but cannot convert to float32 for display. */
const KNOWN_OTHER_DTYPES = new Set([
  'F64',
  'I64',
  'I32',
  'I16',
  'I8',
  'U64',
  'U32',
  'U16',
  'U8',
  'BOOL',
  'F8_E4M3',
  'F8_E5M2',
  'F8_E8M0',
  'F6_E2M3',
  'F6_E3M2',
  'F4',
  'C64',
]);

function fail(message: string): never {
  throw new AttentionInputError('file', message);
}

function describe(name: string): string {
  return JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name);
}

// ---------------------------------------------------------------------------------------------
// Header parsing and validation

/** Reads the 8-byte little-endian header length, rejecting values that cannot be a header. */
function readHeaderLength(prefix: Uint8Array, fileSize: number, where: string): number {
  if (prefix.length < 8 || fileSize < 8) {
    fail(`${where} is not a safetensors file: it has ${fileSize} bytes, fewer than the 8-byte header length.`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    fail(
      `${where} is not a valid safetensors file: its header claims ${n} bytes, more than the ${MAX_HEADER_BYTES}-byte limit (corrupted or not a safetensors file).`,
    );
  }
  const len = Number(n);
  if (len < 2)
    fail(`${where} is not a valid safetensors file: its header is ${len} bytes long, too short for a JSON object.`);
  if (8 + len > fileSize) {
    fail(
      `${where} is truncated: the header claims ${len} bytes but only ${fileSize - 8} bytes follow the length prefix.`,
    );
  }
  return len;
}

/** Deeper than any valid header ({name: {shape: [...]}} is 3 levels), yet lenient with extra fields. */
const MAX_NESTING = 16;

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Validates a header against the size of the data section that follows it.
 * `dataLength` is the number of bytes after the header (file size − 8 − N).
 */
function validateHeader(
  headerBytes: Uint8Array,
  dataStart: number,
  dataLength: number,
  where: string,
): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail(`${where} is corrupted: its header is not valid UTF-8.`);
  }
  // Counted before JSON.parse, so a header of a million tiny entries costs one pass, not a parse.
  const { depth, entries } = scanJson(text, 1000, MAX_TENSORS + 1);
  if (entries > MAX_TENSORS + 1)
    fail(`${where} lists more than ${MAX_TENSORS} tensors, the most one file may hold (corrupted or crafted).`);
  if (depth > MAX_NESTING) {
    fail(
      `${where} is corrupted: its header nests ${depth > 1000 ? 'more than 1000' : depth} levels deep, but a safetensors header is a map of tensor entries (3 levels).`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    fail(`${where} is corrupted: its header is not valid JSON (${(err as Error).message}).`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    fail(
      `${where} is corrupted: its header must be a JSON object mapping tensor names to {dtype, shape, data_offsets}.`,
    );
  }
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const tensors: SafeTensorEntry[] = [];
  const fields = Object.entries(json as Record<string, unknown>);
  const count = fields.length - ('__metadata__' in (json as object) ? 1 : 0);
  if (count > MAX_TENSORS)
    fail(`${where} lists ${count} tensors, more than the ${MAX_TENSORS} one file may hold (corrupted or crafted).`);
  for (const [name, raw] of fields) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        fail(`${where}: "__metadata__" must be an object of strings.`);
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${where}: "__metadata__" value for ${describe(k)} is not a string.`);
        metadata[k] = v;
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      fail(`${where}: the header entry for tensor ${describe(name)} is not an object.`);
    }
    const entry = raw as Record<string, unknown>;
    const dtype = entry['dtype'];
    if (typeof dtype !== 'string') fail(`${where}: tensor ${describe(name)} has no dtype.`);
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
      const known = KNOWN_OTHER_DTYPES.has(dtype);
      fail(
        `${where}: tensor ${describe(name)} has dtype ${JSON.stringify(dtype.slice(0, 20))}, ` +
          (known ? 'which Attention Lens cannot use; ' : 'which is not a safetensors dtype; ') +
          'only F32, F16 and BF16 weights are supported.',
      );
    }
    const shape = entry['shape'];
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
      fail(`${where}: tensor ${describe(name)} has an invalid shape (expected a list of non-negative integers).`);
    }
    const offsets = entry['data_offsets'];
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !isNonNegativeInteger(offsets[0]) ||
      !isNonNegativeInteger(offsets[1])
    ) {
      fail(`${where}: tensor ${describe(name)} has invalid data_offsets (expected [begin, end] byte offsets).`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin)
      fail(`${where}: tensor ${describe(name)} has data_offsets [${begin}, ${end}] that end before they begin.`);
    if (end > dataLength) {
      fail(
        `${where} is truncated or corrupted: tensor ${describe(name)} ends at byte ${end} of the data section, which has only ${dataLength} bytes.`,
      );
    }
    let elements = 1;
    for (const d of shape as number[]) {
      elements *= d;
      if (elements > Number.MAX_SAFE_INTEGER) fail(`${where}: tensor ${describe(name)} has an impossibly large shape.`);
    }
    const bytes = elements * DTYPE_BYTES[dtype];
    if (bytes !== end - begin) {
      fail(
        `${where}: tensor ${describe(name)} has shape [${(shape as number[]).join(', ')}] of ${dtype} (${bytes} bytes) ` +
          `but its data_offsets span ${end - begin} bytes.`,
      );
    }
    tensors.push({ name, dtype, shape: (shape as number[]).slice(), begin: dataStart + begin, end: dataStart + end });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  // The format requires the data section to be covered exactly: no overlaps, no holes, no trailing bytes.
  let cursor = dataStart;
  for (const t of tensors) {
    if (t.begin < cursor) {
      const prev = tensors[tensors.indexOf(t) - 1];
      fail(`${where} is corrupted: tensors ${describe(prev?.name ?? '?')} and ${describe(t.name)} overlap.`);
    }
    if (t.begin > cursor)
      fail(`${where} is corrupted: ${t.begin - cursor} bytes before tensor ${describe(t.name)} belong to no tensor.`);
    cursor = t.end;
  }
  if (cursor !== dataStart + dataLength) {
    fail(`${where} is corrupted: ${dataStart + dataLength - cursor} bytes after the last tensor belong to no tensor.`);
  }
  return { dataStart, metadata, tensors, fileSize: dataStart + dataLength };
}

/** Parses and validates only the header of an in-memory file. */
export function parseSafetensorsHeader(bytes: Uint8Array, where = 'The safetensors data'): SafetensorsHeader {
  const n = readHeaderLength(bytes, bytes.length, where);
  return validateHeader(bytes.subarray(8, 8 + n), 8 + n, bytes.length - 8 - n, where);
}

// ---------------------------------------------------------------------------------------------
// dtype conversion (exact)

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
let f16Table: Float32Array | undefined;

/** Every half-precision bit pattern → its exact float32 value (normals, subnormals, ±0, ±inf, NaN). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // ±0 and subnormals: mant · 2⁻²⁴, exact in float32 (a normal float32 or zero).
      table[h] = (sign ? -1 : 1) * mant * 2 ** -24;
      if (mant === 0) bits[h] = sign;
    } else if (exp === 31) {
      bits[h] = sign | 0x7f800000 | (mant << 13); // inf, or NaN with its payload kept
    } else {
      bits[h] = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
  }
  f16Table = table;
  return table;
}

/** Converts `count` little-endian values of `dtype` from `src` into `out[outOffset..]`. */
function convertInto(dtype: SafeDtype, src: Uint8Array, out: Float32Array, outOffset: number): void {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (dtype === 'F32') {
    const n = src.byteLength / 4;
    if (littleEndian) {
      new Uint8Array(out.buffer, out.byteOffset + outOffset * 4, src.byteLength).set(src);
    } else {
      for (let i = 0; i < n; i++) out[outOffset + i] = view.getFloat32(i * 4, true);
    }
    return;
  }
  const n = src.byteLength / 2;
  // Written as bit patterns, so NaN payloads survive (a JS number may canonicalise them).
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  if (dtype === 'F16') {
    const table = new Uint32Array(halfTable().buffer);
    for (let i = 0; i < n; i++) bits[outOffset + i] = table[view.getUint16(i * 2, true)]!;
    return;
  }
  // BF16 is the upper half of a float32.
  for (let i = 0; i < n; i++) bits[outOffset + i] = view.getUint16(i * 2, true) << 16;
}

/** Exact float32 value of one IEEE half-precision bit pattern. */
export function f16ToF32(bits: number): number {
  return halfTable()[bits & 0xffff]!;
}

/** Exact float32 value of one bfloat16 bit pattern. */
export function bf16ToF32(bits: number): number {
  const u = new Uint32Array([(bits & 0xffff) << 16]);
  return new Float32Array(u.buffer)[0]!;
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Parses a whole safetensors file held in memory. Throws AttentionInputError('file') on any defect. */
export function parseSafetensors(bytes: Uint8Array, where = 'The safetensors data'): Map<string, SafeTensor> {
  const header = parseSafetensorsHeader(bytes, where);
  const out = new Map<string, SafeTensor>();
  for (const t of header.tensors) {
    const elements = (t.end - t.begin) / DTYPE_BYTES[t.dtype];
    const data = new Float32Array(elements);
    convertInto(t.dtype, bytes.subarray(t.begin, t.end), data, 0);
    out.set(t.name, tensorOf(t, data));
  }
  return out;
}

function tensorOf(t: SafeTensorEntry, data: Float32Array): SafeTensor {
  const nonFinite = findNonFinite(data);
  return nonFinite ? { dtype: t.dtype, shape: t.shape, data, nonFinite } : { dtype: t.dtype, shape: t.shape, data };
}

export interface ReadSafetensorsOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number, message: string) => void;
  /** The folder the file belongs to (default: its own): it is read only if its real path stays inside. */
  readonly folder?: string;
}

/** Largest single read; F16/BF16 tensors are converted chunk by chunk through a buffer this size. */
const CHUNK_BYTES = 4 * 1024 * 1024;

function cancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AttentionInputError('cancelled', 'Loading the model weights was cancelled.');
}

/** Opens a weights file through the safe file layer: contained in its folder, a regular file. */
async function openWeights(file: string, folder: string | undefined): Promise<{ handle: fs.FileHandle; size: number }> {
  const dir = folder ?? path.dirname(file);
  const opened = await openInside(dir, path.relative(dir, file), { kind: 'weights' });
  return { handle: opened!.handle, size: opened!.size };
}

/**
 * Reads a safetensors file: the header first, then each tensor straight into its float32 array
 * (F32 is read in place; F16/BF16 through one bounded chunk buffer). Memory is the tensors plus
 * at most one chunk. Honours `signal` between chunks and reports progress by bytes read.
 */
export async function readSafetensorsFile(
  file: string,
  options: ReadSafetensorsOptions = {},
): Promise<Map<string, SafeTensor>> {
  const { signal, onProgress } = options;
  const where = `The weights file ${file}`;
  cancelled(signal);
  const { handle, size } = await openWeights(file, options.folder);
  try {
    const readExactly = (target: Uint8Array, position: number, what: string): Promise<void> =>
      readFully(handle, target, position, `${where} is truncated: reading ${what} hit the end of the file.`);
    const prefix = new Uint8Array(8);
    if (size >= 8) await readExactly(prefix, 0, 'the header length');
    const n = readHeaderLength(prefix, size, where);
    const headerBytes = new Uint8Array(n);
    await readExactly(headerBytes, 8, 'the header');
    const header = validateHeader(headerBytes, 8 + n, size - 8 - n, where);
    const total = Math.max(1, size - header.dataStart);
    let readSoFar = 0;
    onProgress?.(0, `Reading ${header.tensors.length} tensors`);
    const out = new Map<string, SafeTensor>();
    let chunk: Uint8Array | undefined;
    for (const t of header.tensors) {
      cancelled(signal);
      const byteLength = t.end - t.begin;
      const elements = byteLength / DTYPE_BYTES[t.dtype];
      const data = new Float32Array(elements);
      if (t.dtype === 'F32' && littleEndian) {
        const target = new Uint8Array(data.buffer);
        for (let off = 0; off < byteLength; off += CHUNK_BYTES) {
          cancelled(signal);
          const len = Math.min(CHUNK_BYTES, byteLength - off);
          await readExactly(target.subarray(off, off + len), t.begin + off, `tensor ${describe(t.name)}`);
          readSoFar += len;
          onProgress?.(readSoFar / total, `Reading ${t.name}`);
        }
      } else {
        chunk ??= new Uint8Array(CHUNK_BYTES);
        const width = DTYPE_BYTES[t.dtype];
        for (let off = 0; off < byteLength; off += CHUNK_BYTES) {
          cancelled(signal);
          const len = Math.min(CHUNK_BYTES, byteLength - off);
          const part = chunk.subarray(0, len);
          await readExactly(part, t.begin + off, `tensor ${describe(t.name)}`);
          convertInto(t.dtype, part, data, off / width);
          readSoFar += len;
          onProgress?.(readSoFar / total, `Reading ${t.name}`);
        }
      }
      out.set(t.name, tensorOf(t, data));
    }
    onProgress?.(1, `Read ${header.tensors.length} tensors`);
    return out;
  } catch (err) {
    if (err instanceof AttentionInputError) throw err;
    fail(`Cannot read the weights file ${file}: ${(err as Error).message}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Reads and validates only the header of a safetensors file (cheap: two small reads). */
export async function readSafetensorsHeader(file: string, folder?: string): Promise<SafetensorsHeader> {
  const where = `The weights file ${file}`;
  const { handle, size } = await openWeights(file, folder);
  try {
    const prefix = new Uint8Array(8);
    if (size >= 8) await readFully(handle, prefix, 0, `${where} is truncated inside its header length.`);
    const n = readHeaderLength(prefix, size, where);
    const headerBytes = new Uint8Array(n);
    await readFully(handle, headerBytes, 8, `${where} is truncated inside its header.`);
    return validateHeader(headerBytes, 8 + n, size - 8 - n, where);
  } catch (err) {
    if (err instanceof AttentionInputError) throw err;
    fail(`Cannot read the weights file ${file}: ${(err as Error).message}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Writes F32 tensors in safetensors format (header padded to 8 bytes, as the reference writer does). */
export function writeSafetensors(
  tensors: Record<string, { shape: readonly number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header['__metadata__'] = { ...metadata };
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new Error('writeSafetensors: "__metadata__" is not a valid tensor name');
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length)
      throw new Error(`writeSafetensors: ${name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + size * 4] };
    offset += size * 4;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let headerBytes = enc.encode(json);
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    headerBytes = enc.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  const view = new DataView(out.buffer);
  for (const [, t] of entries) {
    for (let i = 0; i < t.data.length; i++) view.setFloat32(pos + i * 4, t.data[i]!, true);
    pos += t.data.length * 4;
  }
  return out;
}

/** Values converted at a time while scanning a compact tensor for unusable values. */
const SCAN_VALUES = 1 << 20;

/**
 * Like readSafetensorsFile, but each tensor keeps the bytes it has in the file (F16/BF16: 2 bytes a
 * value) and its float32 `data` is converted (exactly, as readSafetensorsFile does) each time it is
 * read, into a new array nothing here keeps. For checkpoints whose float32 copy would be too big to
 * hold: a 1B BF16 decoder is 2.5 GB this way, 4.9 GB as float32. Unusable values are found while reading.
 */
export async function readSafetensorsCompact(
  file: string,
  options: ReadSafetensorsOptions = {},
): Promise<Map<string, SafeTensor>> {
  const { signal, onProgress } = options;
  const where = `The weights file ${file}`;
  cancelled(signal);
  const { handle, size } = await openWeights(file, options.folder);
  try {
    const prefix = new Uint8Array(8);
    if (size >= 8) await readFully(handle, prefix, 0, `${where} is truncated inside its header length.`);
    const n = readHeaderLength(prefix, size, where);
    const headerBytes = new Uint8Array(n);
    await readFully(handle, headerBytes, 8, `${where} is truncated inside its header.`);
    const header = validateHeader(headerBytes, 8 + n, size - 8 - n, where);
    const total = Math.max(1, size - header.dataStart);
    const out = new Map<string, SafeTensor>();
    const scratch = new Float32Array(SCAN_VALUES);
    for (const t of header.tensors) {
      const bytes = new Uint8Array(t.end - t.begin);
      for (let off = 0; off < bytes.length; off += CHUNK_BYTES) {
        cancelled(signal);
        const part = bytes.subarray(off, Math.min(bytes.length, off + CHUNK_BYTES));
        await readFully(
          handle,
          part,
          t.begin + off,
          `${where} is truncated: reading tensor ${describe(t.name)} hit the end of the file.`,
        );
        onProgress?.((t.begin - header.dataStart + off + part.length) / total, `Reading ${t.name}`);
      }
      const width = DTYPE_BYTES[t.dtype];
      let bad: { count: number; index: number; value: number } | undefined;
      for (let i = 0; i < bytes.length / width; i += SCAN_VALUES) {
        const m = Math.min(SCAN_VALUES, bytes.length / width - i);
        const view = scratch.subarray(0, m);
        convertInto(t.dtype, bytes.subarray(i * width, (i + m) * width), view, 0);
        const found = findNonFinite(view);
        if (found) bad = bad ? { ...bad, count: bad.count + found.count } : { ...found, index: i + found.index };
      }
      const entry = t;
      out.set(t.name, {
        dtype: t.dtype,
        shape: t.shape,
        get data(): Float32Array {
          const data = new Float32Array(bytes.length / DTYPE_BYTES[entry.dtype]);
          convertInto(entry.dtype, bytes, data, 0);
          return data;
        },
        ...(bad ? { nonFinite: bad } : {}),
      });
    }
    onProgress?.(1, `Read ${header.tensors.length} tensors`);
    return out;
  } catch (err) {
    if (err instanceof AttentionInputError) throw err;
    fail(`Cannot read the weights file ${file}: ${(err as Error).message}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
