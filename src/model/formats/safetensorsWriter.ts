// Whole-trace export: every tensor of a Trace into one safetensors file (F32, little-endian), and
// beside it `<name>.index.json` with what the numbers mean (model, tokens with their offsets, stages
// with their titles, formulas, attention info and the names of their tensors in the file,
// predictions, warnings). Streamed: the header is written first, then each tensor's own bytes in
// turn, in bounded chunks, so the export holds no second copy of the trace. Written to a temporary
// file beside the target and renamed when complete, so a cancelled or failed export leaves nothing
// half-written. Plain Node (no vscode, no tfjs): the host, the CLI and the bench call it.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  AttentionInputError,
  tensor,
  type AttentionInfo,
  type ModelInfo,
  type Prediction,
  type StageKind,
  type Token,
  type Trace,
} from '../../../shared/trace';
import { readSafetensorsFile, MAX_TENSORS } from './safetensors';

/** The `format` field of the index and of the safetensors `__metadata__`. */
export const TRACE_EXPORT_FORMAT = 'attention-lens-trace';
export const TRACE_EXPORT_VERSION = 1;

export interface ExportOptions {
  /** Checked between chunks; an aborted export removes its temporary file and throws AttentionInputError('cancelled'). */
  readonly signal?: AbortSignal;
  /** Fraction of the bytes written (0..1) and what is being written. */
  readonly onProgress?: (fraction: number, message: string) => void;
  /** Replace an existing file (and its index). Default false: an existing target is refused with a message. */
  readonly overwrite?: boolean;
  /**
   * Where each tensor's numbers come from when the trace does not hold them (tensors kept by the
   * worker, sent on request): called once per tensor, in file order, one at a time, so only one
   * tensor is in memory at once. Its result must have the tensor's shape's number of values.
   * Without it each tensor's own `data` is written.
   */
  readonly fetch?: (stageId: string, tensorName: string, shape: readonly number[]) => Promise<Float32Array>;
}

export interface ExportResult {
  /** The safetensors file's size in bytes. */
  readonly bytes: number;
  /** Tensors in the file (a tensor several stages share is written once). */
  readonly tensors: number;
  readonly path: string;
  readonly indexPath: string;
  readonly indexBytes: number;
}

/** One tensor of a stage, as the index lists it. */
export interface IndexTensor {
  /** The tensor's own name in the trace, e.g. 'weights'. */
  readonly name: string;
  /** Its name in the safetensors file, e.g. 'L0.weights/weights'. Several stages may name the same one. */
  readonly key: string;
  readonly shape: readonly number[];
  readonly axes: readonly string[];
  readonly tokenAxes?: Readonly<Record<string, 'input' | 'output'>>;
  readonly description?: string;
}

export interface IndexStage {
  readonly id: string;
  readonly kind: StageKind;
  readonly title: string;
  readonly formula: string;
  readonly explanation: string;
  readonly layer?: number;
  readonly step?: number;
  readonly attention?: AttentionInfo;
  readonly tensors: readonly IndexTensor[];
}

/** The JSON written beside the safetensors file. */
export interface TraceIndex {
  readonly format: typeof TRACE_EXPORT_FORMAT;
  readonly version: typeof TRACE_EXPORT_VERSION;
  /** The safetensors file's name (in the same folder). */
  readonly safetensors: string;
  readonly model: ModelInfo;
  readonly text: string;
  readonly textSha256: string;
  readonly backend: string;
  readonly elapsedMs: number;
  readonly tokens: readonly Token[];
  readonly outputTokens?: readonly Token[];
  readonly stages: readonly IndexStage[];
  readonly predictions?: readonly Prediction[];
  readonly warnings: readonly string[];
}

/** `OUT.safetensors` → `OUT.index.json`; any other name gets `.index.json` appended. */
export function indexPathFor(target: string): string {
  return target.toLowerCase().endsWith('.safetensors')
    ? target.slice(0, -'.safetensors'.length) + '.index.json'
    : target + '.index.json';
}

function fileError(message: string): never {
  throw new AttentionInputError('file', message);
}

/**
 * Checks, before anything runs, that `target` can be written: its folder exists and is a folder,
 * the target is not a folder, and neither it nor its index exists unless `overwrite`.
 * Throws AttentionInputError('file') with a message that names the path.
 */
export async function checkExportTarget(target: string, overwrite = false): Promise<void> {
  const dir = path.dirname(path.resolve(target));
  const st = await fs.stat(dir).catch(() => undefined);
  if (!st) fileError(`Cannot export to ${target}: the folder ${dir} does not exist.`);
  if (!st.isDirectory()) fileError(`Cannot export to ${target}: ${dir} is not a folder.`);
  for (const file of [target, indexPathFor(target)]) {
    const existing = await fs.lstat(file).catch(() => undefined);
    if (!existing) continue;
    if (existing.isDirectory()) fileError(`Cannot export to ${file}: it is a folder.`);
    if (!overwrite) fileError(`Cannot export to ${target}: ${file} already exists (replace it with --force).`);
  }
}

/** Tensor names in the file: `<stageId>/<tensorName>`, characters outside [A-Za-z0-9._/-] as '_', unique. */
export function exportName(stageId: string, tensorName: string, taken: ReadonlySet<string>): string {
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120) || '_';
  const base = `${clean(stageId)}/${clean(tensorName)}`;
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}~${i}`;
  return name;
}

interface Planned {
  readonly key: string;
  readonly stageId: string;
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  readonly data: Float32Array;
}

/** The file's tensors (shared data written once), the index, and the header bytes (8-byte aligned). */
function plan(
  trace: Trace,
  safetensorsName: string,
  fetched: boolean,
): { tensors: Planned[]; index: TraceIndex; header: Uint8Array } {
  const tensors: Planned[] = [];
  const byData = new Map<Float32Array, Planned[]>();
  const taken = new Set<string>();
  const stages: IndexStage[] = trace.stages.map((s) => ({
    id: s.id,
    kind: s.kind,
    title: s.title,
    formula: s.formula,
    explanation: s.explanation,
    ...(s.layer !== undefined ? { layer: s.layer } : {}),
    ...(s.step !== undefined ? { step: s.step } : {}),
    ...(s.attention ? { attention: s.attention } : {}),
    tensors: s.tensors.map((t) => {
      const size = t.shape.reduce((a, b) => a * b, 1);
      // A tensor several stages share (the same array) is written once; fetched tensors are not compared.
      const same = fetched ? undefined : byData.get(t.data)?.find((p) => p.shape.join() === t.shape.join());
      let key = same?.key;
      if (!key) {
        key = exportName(s.id, t.name, taken);
        taken.add(key);
        const p = { key, stageId: s.id, name: t.name, shape: t.shape, size, data: t.data };
        tensors.push(p);
        if (!fetched) byData.set(t.data, [...(byData.get(t.data) ?? []), p]);
      }
      return {
        name: t.name,
        key,
        shape: [...t.shape],
        axes: [...t.axes],
        ...(t.tokenAxes ? { tokenAxes: t.tokenAxes } : {}),
        ...(t.description !== undefined ? { description: t.description } : {}),
      };
    }),
  }));
  if (tensors.length > MAX_TENSORS)
    fileError(`The trace has ${tensors.length} tensors, more than the ${MAX_TENSORS} one safetensors file may hold.`);
  const textSha256 = createHash('sha256').update(trace.text, 'utf8').digest('hex');
  const index: TraceIndex = {
    format: TRACE_EXPORT_FORMAT,
    version: TRACE_EXPORT_VERSION,
    safetensors: safetensorsName,
    model: trace.model,
    text: trace.text,
    textSha256,
    backend: trace.backend,
    elapsedMs: trace.elapsedMs,
    tokens: trace.tokens,
    ...(trace.outputTokens ? { outputTokens: trace.outputTokens } : {}),
    stages,
    ...(trace.predictions ? { predictions: trace.predictions } : {}),
    warnings: trace.warnings,
  };
  const json: Record<string, unknown> = {
    __metadata__: {
      format: TRACE_EXPORT_FORMAT,
      version: String(TRACE_EXPORT_VERSION),
      model_id: trace.model.id,
      model_name: trace.model.name,
      model_family: trace.model.family,
      text_sha256: textSha256,
      tokens: String(trace.tokens.length),
      ...(trace.outputTokens ? { output_tokens: String(trace.outputTokens.length) } : {}),
      stages: String(trace.stages.length),
      index: path.basename(indexPathFor(safetensorsName)),
    },
  };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.size * 4;
    json[t.key] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let text = JSON.stringify(json);
  // The data must start at a multiple of 8 bytes: pad the header with spaces, as the reference writer does.
  text += ' '.repeat((8 - (Buffer.byteLength(text, 'utf8') % 8)) % 8);
  const body = Buffer.from(text, 'utf8');
  const header = new Uint8Array(8 + body.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(body.length), true);
  header.set(body, 8);
  return { tensors, index, header };
}

/** The largest single write: progress and cancel are checked between chunks. */
const CHUNK_BYTES = 16 * 1024 * 1024;
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkCancel(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AttentionInputError('cancelled', 'The export was cancelled; nothing was written.');
}

async function writeAll(handle: fs.FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('the disk accepted no more bytes');
    done += bytesWritten;
  }
}

/**
 * Writes `trace` to `target` (a safetensors file) and its index beside it (indexPathFor(target)).
 * Each tensor is written from its own Float32Array's bytes (no copy on little-endian hosts),
 * named `<stageId>/<tensorName>`; `__metadata__` holds the model id, the text's SHA-256 and the
 * token count. Resolves to the file's size and tensor count. Bad targets, full disks and the like
 * throw AttentionInputError('file'); an aborted `signal`, AttentionInputError('cancelled'). Either
 * way no partial file remains.
 */
export async function exportTraceSafetensors(
  trace: Trace,
  target: string,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const { signal, onProgress } = options;
  checkCancel(signal);
  await checkExportTarget(target, options.overwrite ?? false);
  const indexPath = indexPathFor(target);
  const { tensors, index, header } = plan(trace, path.basename(target), options.fetch !== undefined);
  const indexText = JSON.stringify(index, null, 1);
  const dataBytes = tensors.reduce((a, t) => a + t.size * 4, 0);
  const total = header.length + dataBytes;
  const suffix = `.${process.pid}.${Date.now().toString(36)}.partial`;
  const tmp = target + suffix;
  const tmpIndex = indexPath + suffix;
  let handle: fs.FileHandle | undefined;
  try {
    try {
      handle = await fs.open(tmp, 'wx');
    } catch (err) {
      fileError(`Cannot write ${target}: ${(err as Error).message}`);
    }
    onProgress?.(0, `Writing ${tensors.length} tensors`);
    await writeAll(handle, header, 0);
    let position = header.length;
    const scratch = littleEndian ? undefined : new Uint8Array(Math.min(CHUNK_BYTES, dataBytes));
    for (const t of tensors) {
      const bytes = t.size * 4;
      checkCancel(signal);
      const data = options.fetch ? await options.fetch(t.stageId, t.name, t.shape) : t.data;
      if (data.length !== t.size)
        throw new Error(
          `tensor ${t.key} has ${data.length} value${data.length === 1 ? '' : 's'} for shape [${t.shape.join(', ')}]`,
        );
      for (let off = 0; off < bytes; off += CHUNK_BYTES) {
        checkCancel(signal);
        const len = Math.min(CHUNK_BYTES, bytes - off);
        let chunk: Uint8Array;
        if (scratch) {
          // A big-endian host: the format is little-endian. Bit patterns, so NaN payloads survive.
          chunk = scratch.subarray(0, len);
          const view = new DataView(chunk.buffer, chunk.byteOffset, len);
          const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
          for (let i = 0; i < len / 4; i++) view.setUint32(i * 4, bits[off / 4 + i]!, true);
        } else {
          chunk = new Uint8Array(data.buffer, data.byteOffset + off, len);
        }
        await writeAll(handle, chunk, position);
        position += len;
        onProgress?.(position / total, `Writing ${t.key}`);
      }
    }
    await handle.close();
    handle = undefined;
    checkCancel(signal);
    await fs.writeFile(tmpIndex, indexText, { encoding: 'utf8', flag: 'wx' });
    await fs.rename(tmp, target);
    await fs.rename(tmpIndex, indexPath);
    onProgress?.(1, `Wrote ${tensors.length} tensors`);
    return {
      bytes: total,
      tensors: tensors.length,
      path: target,
      indexPath,
      indexBytes: Buffer.byteLength(indexText, 'utf8'),
    };
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    await fs.rm(tmpIndex, { force: true }).catch(() => undefined);
    if (err instanceof AttentionInputError) throw err;
    fileError(`Cannot write ${target}: ${(err as Error).message}`);
  }
}

/**
 * Reads an export back into a Trace (tests, tools): the index beside `file` and every tensor, a
 * tensor several stages share read once. Throws AttentionInputError('file') when the two do not
 * belong together (another index, a missing tensor, a shape that differs).
 */
export async function readTraceExport(file: string): Promise<Trace> {
  const indexPath = indexPathFor(file);
  let index: TraceIndex;
  try {
    index = JSON.parse(await fs.readFile(indexPath, 'utf8')) as TraceIndex;
  } catch (err) {
    fileError(`Cannot read the export's index ${indexPath}: ${(err as Error).message}`);
  }
  if (index?.format !== TRACE_EXPORT_FORMAT || index.version !== TRACE_EXPORT_VERSION)
    fileError(`${indexPath} is not an Attention Lens trace index (version ${TRACE_EXPORT_VERSION}).`);
  const data = await readSafetensorsFile(file);
  const hash = createHash('sha256').update(index.text, 'utf8').digest('hex');
  if (hash !== index.textSha256) fileError(`${indexPath}: its text does not match its textSha256.`);
  const stages = index.stages.map((s) => {
    const { tensors, ...rest } = s;
    return {
      ...rest,
      tensors: tensors.map((t) => {
        const stored = data.get(t.key);
        if (!stored) fileError(`${file} has no tensor ${JSON.stringify(t.key)}, which its index names.`);
        if (stored.shape.join() !== t.shape.join())
          fileError(
            `${file}: tensor ${t.key} has shape [${stored.shape.join(', ')}], its index [${t.shape.join(', ')}].`,
          );
        return tensor(t.name, t.shape, t.axes, stored.data, {
          ...(t.tokenAxes ? { tokenAxes: t.tokenAxes } : {}),
          ...(t.description !== undefined ? { description: t.description } : {}),
        });
      }),
    };
  });
  return {
    version: 1,
    model: index.model,
    text: index.text,
    tokens: index.tokens,
    ...(index.outputTokens ? { outputTokens: index.outputTokens } : {}),
    stages,
    ...(index.predictions ? { predictions: index.predictions } : {}),
    warnings: index.warnings,
    backend: index.backend,
    elapsedMs: index.elapsedMs,
  };
}
