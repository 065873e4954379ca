// The one safe file layer every loader reads through. A file belongs to a folder (the model's
// folder, the config's folder): its real path (links followed) must stay inside that folder's real
// path, it must be a regular file (a FIFO would hang a read, /dev/zero would never end), and its
// size is capped per kind before a byte is read. JSON is parsed with a nesting bound and errors that
// give a position, never the file's text. Every refusal is an AttentionInputError naming the file.
import { constants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { AttentionInputError } from '../../../shared/trace';

export type FileKind =
  | 'config'
  | 'tokenizer'
  | 'vocab'
  | 'index'
  | 'model-json'
  | 'attention-json'
  | 'text'
  | 'ref'
  | 'weights'
  | 'tfjs-shard';

const MB = 1024 * 1024;
/** Largest file of each kind read: real ones are far smaller (a config is kB, Gemma 3's tokenizer.json 33 MB). */
export const MAX_BYTES: Readonly<Record<FileKind, number>> = {
  config: 4 * MB,
  tokenizer: 128 * MB,
  vocab: 64 * MB,
  index: 64 * MB,
  'model-json': 64 * MB,
  'attention-json': 8 * MB,
  text: 4 * MB,
  // A Hugging Face cache ref holds one commit hash (40 characters).
  ref: 1024,
  // Read in bounded chunks at offsets their headers declare, never whole: the cap is only a sanity bound.
  weights: 2 ** 42,
  'tfjs-shard': 2 * 1024 * MB,
};

/** How messages name a kind of file. */
const WHAT: Readonly<Record<FileKind, string>> = {
  config: 'the config',
  tokenizer: 'the tokenizer file',
  vocab: 'the vocabulary file',
  index: 'the shard index',
  'model-json': 'the model.json',
  'attention-json': 'the attention config',
  text: 'the input file',
  ref: 'the cache ref',
  weights: 'the weights file',
  'tfjs-shard': 'the weight shard',
};

/** Deeper than any real config, tokenizer or model.json (Keras topologies nest about 12 levels). */
export const MAX_JSON_DEPTH = 200;

export interface InsideOptions {
  readonly kind: FileKind;
  /** The error code of a refusal (default 'file'). */
  readonly code?: 'file' | 'config';
  /** Overrides the kind's cap. */
  readonly maxBytes?: number;
  /** A missing file gives undefined instead of an error. */
  readonly optional?: boolean;
}

export interface InsideFile {
  readonly handle: fs.FileHandle;
  /** The path as the folder and the relative name give it (shown in messages). */
  readonly shown: string;
  /** The resolved real path that was opened. */
  readonly real: string;
  readonly size: number;
}

const isWindows = process.platform === 'win32';
const sep = (p: string): string => (p.endsWith(path.sep) ? p : p + path.sep);
const isUnder = (root: string, p: string): boolean => p === root || p.startsWith(sep(root));

/** Names as messages print them: short, and with control characters escaped (JSON string syntax). */
export function showName(name: string): string {
  return JSON.stringify(name.length > 100 ? name.slice(0, 100) + '…' : name).replace(
    /[\u0085\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * The folder that files in `folder` must stay inside: its real path, or for a Hugging Face cache
 * snapshot (models--org--name/snapshots/<rev>, whose files are links to ../../blobs/<sha>) the
 * repository folder that holds both.
 */
export async function containmentRoot(folder: string, code: 'file' | 'config' = 'file'): Promise<string> {
  let real: string;
  try {
    real = await fs.realpath(folder);
  } catch (err) {
    throw new AttentionInputError(code, `Cannot open the folder ${folder}: ${(err as Error).message}`);
  }
  const snapshots = path.dirname(real);
  const repo = path.dirname(snapshots);
  if (path.basename(snapshots) === 'snapshots' && /^(models|datasets|spaces)--/.test(path.basename(repo))) {
    const blobs = await fs.stat(path.join(repo, 'blobs')).catch(() => undefined);
    if (blobs?.isDirectory()) return repo;
  }
  return real;
}

/** Refuses names that are not plain relative paths: absolute, drive-lettered, with "..", empty or with NUL. */
export function checkRelative(rel: string, folder: string, what: string, code: 'file' | 'config' = 'file'): void {
  if (rel.length === 0 || rel.includes('\0'))
    throw new AttentionInputError(code, `${what} ${showName(rel)} is an empty or invalid file name.`);
  if (path.posix.isAbsolute(rel) || path.win32.isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) {
    throw new AttentionInputError(
      code,
      `${what} ${showName(rel)} is an absolute path; only files inside ${folder} are read.`,
    );
  }
  if (rel.split(/[/\\]/).includes('..'))
    throw new AttentionInputError(
      code,
      `${what} ${showName(rel)} points outside the model folder ${folder} (".."); only files inside it are read.`,
    );
}

/** The first component of `rel` (under `folder`) that is a symbolic link, for naming it in a refusal. */
async function firstLink(folder: string, rel: string): Promise<{ link: string; target: string } | undefined> {
  let at = folder;
  for (const part of rel.split(/[/\\]/).filter((p) => p && p !== '.')) {
    at = path.join(at, part);
    const st = await fs.lstat(at).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) return { link: path.relative(folder, at), target: await fs.readlink(at).catch(() => '?') };
  }
  return undefined;
}

/**
 * The real path of `folder/rel`, checked to stay inside the folder's containment root. A link that
 * leads out is refused with a message naming the link. Missing: undefined when `optional`.
 */
export async function resolveInside(
  folder: string,
  rel: string,
  options: {
    readonly what: string;
    readonly code?: 'file' | 'config';
    readonly optional?: boolean;
    readonly root?: string;
  },
): Promise<string | undefined> {
  const code = options.code ?? 'file';
  checkRelative(rel, folder, options.what, code);
  const shown = path.join(folder, rel);
  const root = options.root ?? (await containmentRoot(folder, code));
  let real: string;
  try {
    real = await fs.realpath(shown);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' && options.optional) return undefined;
    throw new AttentionInputError(
      code,
      `Cannot open ${options.what} ${shown}: ${errnoOf(err) === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  const inside = isWindows ? isUnder(root.toLowerCase(), real.toLowerCase()) : isUnder(root, real);
  if (!inside) {
    const link = await firstLink(folder, rel);
    const named = link
      ? `${showName(link.link)} is a link to ${showName(link.target)}, which`
      : `it resolves to ${showName(real)}, which`;
    throw new AttentionInputError(
      code,
      `${options.what} ${shown} is not read: ${named} is outside the model folder ${root}. Only files inside the folder are read; copy the file into it instead of linking.`,
    );
  }
  return real;
}

/** Opens with O_NONBLOCK so a FIFO cannot block the open, and O_NOFOLLOW on the resolved path. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);

function kindOfNode(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Opens `folder/rel` for reading after the checks above: contained, a regular file (fstat on the
 * opened handle), no larger than the kind's cap. The caller closes `handle`.
 */
export async function openInside(folder: string, rel: string, options: InsideOptions): Promise<InsideFile | undefined> {
  const code = options.code ?? 'file';
  const what = WHAT[options.kind];
  const shown = path.join(folder, rel);
  const real = await resolveInside(folder, rel, { what, code, optional: options.optional });
  if (real === undefined) return undefined;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(real, OPEN_FLAGS);
  } catch (err) {
    throw new AttentionInputError(code, `Cannot open ${what} ${shown}: ${(err as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile())
      throw new AttentionInputError(
        code,
        `Cannot open ${what} ${shown}: it is ${kindOfNode(st)}, not a regular file, and only regular files are read.`,
      );
    // A folder on the way swapped for a link between the check and the open: the handle is not the file that was checked.
    const again = await fs.realpath(shown).catch(() => undefined);
    const now = again === real ? await fs.stat(real).catch(() => undefined) : undefined;
    if (!now || now.ino !== st.ino || now.dev !== st.dev) {
      throw new AttentionInputError(
        code,
        `Cannot open ${what} ${shown}: it changed while it was being opened; try again.`,
      );
    }
    const max = options.maxBytes ?? MAX_BYTES[options.kind];
    if (st.size > max)
      throw new AttentionInputError(
        code,
        `${what} ${shown} is ${st.size} bytes, more than the ${max}-byte limit for ${what.replace(/^the /, 'a ')}; it is not read.`,
      );
    return { handle, shown, real, size: st.size };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

/** Fills `target` from `position`, looping over short reads; a file that ends early is `truncated`. */
export async function readFully(
  handle: fs.FileHandle,
  target: Uint8Array,
  position: number,
  truncated: string,
  code: 'file' | 'config' = 'file',
): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) throw new AttentionInputError(code, truncated);
    done += bytesRead;
  }
}

/** The whole file's bytes (at most its cap, and no more than fstat said it had), or undefined if optional and missing. */
export async function readBytesInside(
  folder: string,
  rel: string,
  options: InsideOptions,
): Promise<Uint8Array | undefined> {
  const f = await openInside(folder, rel, options);
  if (!f) return undefined;
  try {
    const bytes = new Uint8Array(f.size);
    await readFully(
      f.handle,
      bytes,
      0,
      `${WHAT[options.kind]} ${f.shown} is shorter than its size: it changed while it was read.`,
      options.code,
    );
    return bytes;
  } catch (err) {
    if (err instanceof AttentionInputError) throw err;
    throw new AttentionInputError(
      options.code ?? 'file',
      `Cannot read ${WHAT[options.kind]} ${f.shown}: ${(err as Error).message}`,
    );
  } finally {
    await f.handle.close().catch(() => undefined);
  }
}

/** UTF-8 text (a leading BOM dropped); invalid UTF-8 is refused rather than shown as replacement characters. */
export async function readTextInside(folder: string, rel: string, options: InsideOptions): Promise<string | undefined> {
  const bytes = await readBytesInside(folder, rel, options);
  if (bytes === undefined) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new AttentionInputError(
      options.code ?? 'file',
      `${WHAT[options.kind]} ${path.join(folder, rel)} is not UTF-8 text.`,
    );
  }
}

/** Parsed JSON of `folder/rel`, through parseJsonText; undefined if optional and missing. */
export async function readJsonInside(folder: string, rel: string, options: InsideOptions): Promise<unknown> {
  const text = await readTextInside(folder, rel, options);
  return text === undefined ? undefined : parseJsonText(text, path.join(folder, rel), options.code ?? 'file');
}

/** A file given by its full path, read as a file of its own folder (what most loaders are handed). */
export function splitPath(file: string): [folder: string, rel: string] {
  return [path.dirname(file), path.basename(file)];
}

/** Deepest nesting of JSON brackets outside strings and comments (counting stops past `stopAt`). */
export function jsonNestingDepth(text: string, stopAt = MAX_JSON_DEPTH): number {
  return scanJson(text, stopAt).depth;
}

/**
 * One linear pass, no recursion (safe before a recursive parser or walker): the deepest nesting
 * of brackets outside strings and comments, and how many containers open directly inside the top
 * one (a safetensors header's entries). Stops once either passes its bound.
 */
export function scanJson(
  text: string,
  stopAt = MAX_JSON_DEPTH,
  maxEntries = Infinity,
): { depth: number; entries: number } {
  let depth = 0;
  let max = 0;
  let entries = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2f) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
      if (depth === 2 && ++entries > maxEntries) break;
      if (max > stopAt) break;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return { depth: max, entries };
}

/** Line and column (1-based) of a UTF-16 offset. */
function lineColumn(text: string, offset: number): string {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      last = i;
    }
  }
  return `line ${line}, column ${offset - last}`;
}

/**
 * JSON.parse with a nesting bound (typed error instead of a stack overflow in whatever walks the
 * result) and errors that say where the JSON breaks without repeating any of its text.
 */
export function parseJsonText(
  text: string,
  where: string,
  code: 'file' | 'config' = 'file',
  maxDepth = MAX_JSON_DEPTH,
): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const depth = jsonNestingDepth(body, maxDepth);
  if (depth > maxDepth)
    throw new AttentionInputError(
      code,
      `${where} nests more than ${maxDepth} levels deep; no model file nests that deep, so it is not read.`,
    );
  try {
    return JSON.parse(body);
  } catch {
    const errors: ParseError[] = [];
    parseJsonc(body, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const e = errors[0];
    const at = e ? `: ${printParseErrorCode(e.error)} at ${lineColumn(body, e.offset)}` : '';
    throw new AttentionInputError(code, `${where} is not valid JSON${at}.`);
  }
}
