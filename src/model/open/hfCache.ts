// The models a user already has: the Hugging Face hub cache (HF_HUB_CACHE, else HF_HOME/hub, else
// ~/.cache/huggingface/hub; models--org--name/snapshots/<commit>/ with refs/<name> holding a commit)
// and any folders a setting names. Each snapshot is described without reading tensor data: family
// from config.json through the one family list, parameters from the safetensors headers.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  HF_FAMILIES,
  hfFamilyOf,
  locateWeights,
  readJsonFile,
  type HfFamily,
  type ModelRole,
} from '../formats/hfFolder';
import { readSafetensorsHeader } from '../formats/safetensors';
import { readJsonInside, readTextInside } from '../formats/files';

export interface CachedModel {
  /** "org/name" for a cache entry; the folder's name for a folder from the setting. */
  readonly repoId: string;
  /** The snapshot's commit; undefined for a plain folder. */
  readonly revision?: string;
  /** The refs (branches, tags) that point at this revision: ["main"]. */
  readonly refs: readonly string[];
  /** The folder holding config.json (the snapshot folder). */
  readonly dir: string;
  readonly family?: HfFamily;
  readonly role?: ModelRole;
  /** Total number of weights in the safetensors headers. */
  readonly parameters?: number;
  /** Bytes of the files the snapshot links to (each blob once). */
  readonly bytesOnDisk: number;
  readonly supported: boolean;
  /** Why it cannot be visualised, when it cannot. */
  readonly reason?: string;
}

/** The hub cache folder, as huggingface_hub resolves it. */
export function hfCacheDir(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string {
  if (env['HF_HUB_CACHE']) return env['HF_HUB_CACHE'];
  if (env['HF_HOME']) return path.join(env['HF_HOME'], 'hub');
  const xdg = env['XDG_CACHE_HOME'];
  return path.join(xdg ? xdg : path.join(home, '.cache'), 'huggingface', 'hub');
}

/** "org/name" ⇄ "models--org--name" (huggingface_hub's repo_folder_name). */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

function repoIdOf(folderName: string): string | undefined {
  const m = /^models--(.+)$/.exec(folderName);
  return m ? m[1]!.split('--').join('/') : undefined;
}

async function listDir(dir: string): Promise<string[]> {
  return (await fs.readdir(dir).catch(() => [] as string[])).sort();
}

/** Every file under `dir` (following links), with its real path; broken links reported apart. */
async function filesUnder(dir: string, rel = ''): Promise<{ files: Map<string, number>; broken: string[] }> {
  const files = new Map<string, number>();
  const broken: string[] = [];
  for (const name of await listDir(path.join(dir, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    const full = path.join(dir, r);
    const st = await fs.stat(full).catch(() => undefined);
    if (!st) {
      broken.push(r);
      continue;
    }
    if (st.isDirectory()) {
      const sub = await filesUnder(dir, r);
      for (const [k, v] of sub.files) files.set(k, v);
      broken.push(...sub.broken);
    } else if (st.isFile()) files.set(await fs.realpath(full), st.size);
  }
  return { files, broken };
}

/** The safetensors files of a folder's checkpoint: model.safetensors, or the shards its index lists. */
async function weightFiles(dir: string): Promise<string[]> {
  const where = await locateWeights(dir);
  if (where.kind === 'single') return [where.file];
  const index = (await readJsonInside(dir, path.basename(where.index), { kind: 'index' })) as { weight_map?: unknown };
  const map = index?.weight_map;
  if (typeof map !== 'object' || map === null) throw new Error(`${where.index} has no weight_map.`);
  const shards = [...new Set(Object.values(map as Record<string, unknown>).map(String))].sort();
  return shards.map((s) => path.join(dir, s));
}

async function parameterCount(dir: string): Promise<number> {
  let n = 0;
  for (const file of await weightFiles(dir)) {
    const header = await readSafetensorsHeader(file, dir);
    for (const t of header.tensors) n += t.shape.reduce((a, b) => a * b, 1);
  }
  return n;
}

/** Describes one checkpoint folder: family, parameters, size on disk, and whether it can be visualised. */
export async function describeModelFolder(
  dir: string,
  repoId: string = path.basename(dir),
  revision?: string,
  refs: readonly string[] = [],
): Promise<CachedModel> {
  const { files, broken } = await filesUnder(dir);
  const bytesOnDisk = [...files.values()].reduce((a, b) => a + b, 0);
  const base = { repoId, revision, refs, dir, bytesOnDisk };
  let family: HfFamily | undefined;
  try {
    const brokenNote = broken.length ? ` (broken links: ${broken.join(', ')})` : '';
    if (broken.includes('config.json'))
      return { ...base, supported: false, reason: `config.json is a broken link${brokenNote}.` };
    const raw = await readJsonFile(path.join(dir, 'config.json'), 'config');
    family = hfFamilyOf(raw, `${repoId}'s config.json`);
    const parameters = await parameterCount(dir);
    const missing = broken.filter((b) => /\.safetensors$|^tokenizer/.test(b));
    const reason = missing.length ? `broken links to ${missing.join(', ')} (an interrupted download?)` : undefined;
    return { ...base, family, role: HF_FAMILIES[family].role, parameters, supported: !reason, reason };
  } catch (err) {
    const reason = (err as Error).message;
    return { ...base, family, role: family && HF_FAMILIES[family].role, supported: false, reason };
  }
}

/** Every snapshot of every model in the cache, newest ref first within a repo; revisions no ref names are listed too. */
export async function listCachedModels(cacheDir: string = hfCacheDir()): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  for (const folder of await listDir(cacheDir)) {
    const repoId = repoIdOf(folder);
    if (!repoId) continue;
    const repoDir = path.join(cacheDir, folder);
    const refsOf = new Map<string, string[]>();
    for (const ref of await refNames(path.join(repoDir, 'refs'))) {
      const commit = await refCommit(repoDir, ref);
      if (commit) refsOf.set(commit, [...(refsOf.get(commit) ?? []), ref]);
    }
    const revisions = await listDir(path.join(repoDir, 'snapshots'));
    // The revision refs/main names first, then other named ones, then unnamed.
    const rank = (rev: string): number => (refsOf.get(rev)?.includes('main') ? 0 : refsOf.has(rev) ? 1 : 2);
    revisions.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
    for (const rev of revisions) {
      const dir = path.join(repoDir, 'snapshots', rev);
      if (!(await fs.stat(dir).catch(() => undefined))?.isDirectory()) continue;
      out.push(await describeModelFolder(dir, repoId, rev, refsOf.get(rev) ?? []));
    }
  }
  return out;
}

/**
 * The commit a ref names, read through the safe file layer (inside the repo folder by real path, a
 * regular file, at most MAX_BYTES.ref): a ref that links out of the cache, a FIFO or a device, or
 * anything but a commit hash names nothing, and the listing goes on without it.
 */
async function refCommit(repoDir: string, ref: string): Promise<string | undefined> {
  try {
    const text = await readTextInside(repoDir, `refs/${ref}`, { kind: 'ref', optional: true });
    const commit = text?.trim();
    return commit && /^[0-9a-f]{40}$/i.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** refs/main, refs/v1.0, refs/pr/1 (nested names); links are listed, not followed (their reads are checked). */
async function refNames(dir: string, prefix = '', depth = 0): Promise<string[]> {
  const names: string[] = [];
  if (depth > 8) return names;
  for (const name of await listDir(path.join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = await fs.lstat(path.join(dir, rel)).catch(() => undefined);
    if (st?.isDirectory()) names.push(...(await refNames(dir, rel, depth + 1)));
    else if (st?.isFile() || st?.isSymbolicLink()) names.push(rel);
  }
  return names;
}

/** Models from the cache and from extra folders (each a checkpoint folder, or a cache folder of its own). */
export async function findModels(
  cacheDir: string = hfCacheDir(),
  folders: readonly string[] = [],
): Promise<CachedModel[]> {
  const out = await listCachedModels(cacheDir);
  for (const f of folders) {
    const st = await fs.stat(f).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    const hasConfig = await fs.stat(path.join(f, 'config.json')).catch(() => undefined);
    if (hasConfig) out.push(await describeModelFolder(f));
    else out.push(...(await listCachedModels(f)));
  }
  return out;
}

/** "124.4M", "1.1B", "656.6K" */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** "548.1 MB" (decimal units, as the Hub shows sizes) */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** One line for a list: "org/name@abc1234 (main) gpt2 · 124.4M parameters · 548.1 MB · supported". */
export function describeLine(m: CachedModel): string {
  const rev = m.revision ? `@${m.revision.slice(0, 7)}` : '';
  const refs = m.refs.length ? ` (${m.refs.join(', ')})` : '';
  const parts = [m.family ?? 'unknown family'];
  if (m.parameters !== undefined) parts.push(`${formatCount(m.parameters)} parameters`);
  parts.push(formatBytes(m.bytesOnDisk));
  parts.push(m.supported ? 'supported' : `not supported: ${m.reason ?? ''}`);
  return `${m.repoId}${rev}${refs}  ${parts.join(' · ')}`;
}
