// The Hugging Face Hub download client (plain Node, no vscode). It speaks the Hub's own protocol as
// huggingface_hub does: api/models/<repo>/revision/<rev> for the file list and commit, a HEAD on
// resolve/<commit>/<file> for ETag / X-Linked-Etag / X-Linked-Size / X-Repo-Commit / Location, then a
// GET (with Range to resume) from where it redirects. It writes the standard cache layout
// (blobs/<etag>, snapshots/<commit>/<file> as relative links, refs/<rev>) so Python sees the same files.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { hfCacheDir, repoFolderName } from './hfCache';
import { openRequest, type Proxy, proxyFor } from './hubHttp';

export type HubErrorKind = 'bad-repo' | 'not-found' | 'gated' | 'unsupported' | 'network' | 'hash' | 'cancelled';

export class HubError extends Error {
  constructor(
    readonly kind: HubErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

export interface HubOptions {
  /** https://huggingface.co, or HF_ENDPOINT. */
  readonly endpoint?: string;
  /** Defaults to readHfToken(). */
  readonly token?: string;
  /** Defaults to hfCacheDir(). */
  readonly cacheDir?: string;
  /** VS Code's http.proxy; else https_proxy / HTTPS_PROXY / http_proxy (and no_proxy) from the environment. */
  readonly proxy?: string;
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
}

export interface PlannedFile {
  readonly name: string;
  readonly size: number;
  /** The blob's name in the cache: the LFS sha256 for weights, git's blob id for small files. */
  readonly etag: string;
  /** Set for LFS files: the sha256 the bytes must have. */
  readonly sha256?: string;
  /** Where the bytes are served (the resolve URL, or where it redirects). */
  readonly url: string;
  /** The bytes are on the Hub itself (not a CDN it redirected to): the token may go with the request. */
  readonly onHub: boolean;
  /** Already complete in the cache. */
  readonly cached: boolean;
}

export interface DownloadPlan {
  readonly repoId: string;
  readonly revision: string;
  readonly commit: string;
  readonly files: readonly PlannedFile[];
  /** Bytes of every file. */
  readonly totalBytes: number;
  /** Bytes still to fetch (files not already complete in the cache). */
  readonly bytesToFetch: number;
}

export interface DownloadProgress {
  readonly file: string;
  readonly fileIndex: number;
  readonly fileCount: number;
  /** Bytes of all files present so far, of plan.totalBytes. */
  readonly bytesDone: number;
  readonly totalBytes: number;
}

/** The files a visualisation needs: config, generation config, tokenizer files, safetensors weights. */
const WANTED =
  /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|added_tokens\.json|vocab\.json|vocab\.txt|merges\.txt|(spiece|tokenizer|sentencepiece\.bpe|source|target)\.spm|spiece\.model|tokenizer\.model|model\.safetensors|model\.safetensors\.index\.json|model-\d+-of-\d+\.safetensors)$/;
const PICKLED = /^pytorch_model(-\d+-of-\d+)?\.bin$/;

/** "org/name" or "org/name@rev" (also "name"); refuses anything the Hub would not accept as a repo id. */
export function parseRepoArg(arg: string): { repoId: string; revision: string } {
  const at = arg.lastIndexOf('@');
  const repoId = at > 0 ? arg.slice(0, at) : arg;
  const revision = at > 0 ? arg.slice(at + 1) : 'main';
  if (!/^([A-Za-z0-9][\w.-]{0,95}\/)?[A-Za-z0-9][\w.-]{0,95}$/.test(repoId) || repoId.includes('..'))
    throw new HubError('bad-repo', `"${arg}" is not a Hugging Face repo id (expected org/name or org/name@revision).`);
  if (!revision || revision.includes('..') || !/^[\w./-]+$/.test(revision))
    throw new HubError('bad-repo', `"${revision}" is not a revision (a branch, tag or commit).`);
  return { repoId, revision };
}

/** HF_TOKEN, else the token file huggingface-cli login writes (HF_TOKEN_PATH, $HF_HOME/token, ~/.cache/huggingface/token). */
export function readHfToken(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string | undefined {
  if (env['HF_TOKEN']?.trim()) return env['HF_TOKEN'].trim();
  const hfHome = env['HF_HOME'] ?? path.join(env['XDG_CACHE_HOME'] ?? path.join(home, '.cache'), 'huggingface');
  const file = env['HF_TOKEN_PATH'] ?? path.join(hfHome, 'token');
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

interface Ctx {
  readonly endpoint: string;
  readonly token?: string;
  readonly proxy: (url: URL) => Proxy | undefined;
  readonly signal?: AbortSignal;
  readonly repoId: string;
}

function context(repoId: string, o: HubOptions): Ctx {
  const env = o.env ?? process.env;
  const endpoint = (o.endpoint ?? env['HF_ENDPOINT'] ?? 'https://huggingface.co').replace(/\/+$/, '');
  return {
    endpoint,
    token: o.token ?? readHfToken(env),
    proxy: (u) => proxyFor(u, o.proxy, env),
    signal: o.signal,
    repoId,
  };
}

/** The message for a refused response, using the Hub's X-Error-Code / X-Error-Message when present. */
function refusal(res: http.IncomingMessage, what: string, ctx: Ctx): HubError {
  const code = String(res.headers['x-error-code'] ?? '');
  const hubSays = res.headers['x-error-message'] ? ` (the Hub says: ${String(res.headers['x-error-message'])})` : '';
  const status = res.statusCode ?? 0;
  if (status === 401 || status === 403 || code === 'GatedRepo') {
    const fix = ctx.token
      ? 'the token given (HF_TOKEN or the token file) was refused or has not been granted access: accept the model’s conditions on its Hub page with the account the token belongs to'
      : 'it is gated or private: accept its conditions on its Hub page, then set HF_TOKEN or run `huggingface-cli login`';
    return new HubError('gated', `${ctx.repoId}: ${what} was refused (HTTP ${status}); ${fix}.${hubSays}`);
  }
  if (status === 404) {
    const which =
      code === 'RevisionNotFound'
        ? 'that revision does not exist'
        : code === 'EntryNotFound'
          ? 'that file does not exist'
          : 'no such model (check the spelling; a private repo also answers 404 without a token)';
    return new HubError('not-found', `${ctx.repoId}: ${what} was not found (HTTP 404): ${which}.${hubSays}`);
  }
  return new HubError('network', `${ctx.repoId}: ${what} failed with HTTP ${status}.${hubSays}`);
}

function headers(ctx: Ctx, url: URL, extra: Record<string, string>, toHub: boolean): Record<string, string> {
  // The token goes only to the Hub itself, never to the (signed) CDN address it redirects to.
  const auth: Record<string, string> =
    ctx.token && toHub && url.origin === new URL(ctx.endpoint).origin ? { authorization: `Bearer ${ctx.token}` } : {};
  return { 'user-agent': 'attention-lens/0.1; hf_hub-compatible', 'accept-encoding': 'identity', ...auth, ...extra };
}

/** A request that follows redirects: every one for GET, only relative ones for HEAD (as huggingface_hub does). */
async function request(
  ctx: Ctx,
  method: 'GET' | 'HEAD',
  start: URL,
  extra: Record<string, string> = {},
  toHub = true,
): Promise<{ res: http.IncomingMessage; url: URL; redirected?: URL }> {
  let url = start;
  let redirected: URL | undefined;
  for (let hops = 0; hops < 10; hops++) {
    const res = await openRequest(url, method, headers(ctx, url, extra, toHub), ctx.proxy(url), ctx.signal).catch(
      (err: Error) => {
        if (ctx.signal?.aborted) throw new HubError('cancelled', `Download of ${ctx.repoId} cancelled.`);
        throw new HubError('network', `${ctx.repoId}: cannot reach ${url.origin} (${err.message}).`);
      },
    );
    const loc = res.headers.location;
    if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && loc) {
      res.resume();
      const next = new URL(loc, url);
      // A relative Location is the Hub moving a repo (followed); an absolute one on a HEAD is the CDN holding the bytes.
      if (method === 'HEAD' && /^[a-z][a-z0-9+.-]*:/i.test(loc)) return { res, url, redirected: next };
      if (next.origin !== url.origin) toHub = false;
      url = next;
      continue;
    }
    return { res, url, redirected };
  }
  throw new HubError('network', `${ctx.repoId}: more than 10 redirects from ${start.href}.`);
}

function cleanEtag(raw: string | string[] | undefined): string | undefined {
  const v = Array.isArray(raw) ? raw[0] : raw;
  return v?.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

async function readJson(res: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

function repoDir(cacheDir: string, repoId: string): string {
  return path.join(cacheDir, repoFolderName(repoId));
}

/** The files to fetch, their sizes and the commit, before anything is written: the size a user agrees to. */
export async function planDownload(repoId: string, revision = 'main', o: HubOptions = {}): Promise<DownloadPlan> {
  parseRepoArg(`${repoId}@${revision}`);
  const ctx = context(repoId, o);
  const api = new URL(`${ctx.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}`);
  const { res } = await request(ctx, 'GET', api);
  if (res.statusCode !== 200) {
    res.resume();
    throw refusal(res, 'the model’s file list', ctx);
  }
  const info = (await readJson(res)) as { sha?: unknown; siblings?: { rfilename?: unknown }[] };
  const names = (info.siblings ?? []).map((s) => String(s.rfilename)).filter((n) => !n.includes('/'));
  const commit = typeof info.sha === 'string' && /^[0-9a-f]{40}$/.test(info.sha) ? info.sha : undefined;
  if (!commit) throw new HubError('network', `${repoId}: the Hub's answer for revision ${revision} names no commit.`);
  const wanted = names.filter((n) => WANTED.test(n)).sort();
  if (!wanted.includes('config.json'))
    throw new HubError(
      'unsupported',
      `${repoId} has no config.json at its top level: it is not a transformers checkpoint.`,
    );
  if (!wanted.some((n) => n.endsWith('.safetensors'))) {
    const pickled = names.filter((n) => PICKLED.test(n));
    const hint = pickled.length
      ? ` It has only PyTorch pickles (${pickled.join(', ')}), which are never opened because unpickling can run code. Convert once with transformers: python -c "from transformers import AutoModel; AutoModel.from_pretrained('${repoId}').save_pretrained('OUT_FOLDER', safe_serialization=True)" and open OUT_FOLDER/config.json.`
      : '';
    throw new HubError(
      'unsupported',
      `${repoId} has no safetensors weights (model.safetensors or model-*-of-*.safetensors).${hint}`,
    );
  }
  const cache = o.cacheDir ?? hfCacheDir(o.env);
  const files: PlannedFile[] = [];
  for (const name of wanted) files.push(await planFile(ctx, commit, name, repoDir(cache, repoId)));
  const totalBytes = files.reduce((a, f) => a + f.size, 0);
  const bytesToFetch = files.filter((f) => !f.cached).reduce((a, f) => a + f.size, 0);
  return { repoId, revision, commit, files, totalBytes, bytesToFetch };
}

async function planFile(ctx: Ctx, commit: string, name: string, repo: string): Promise<PlannedFile> {
  const resolve = new URL(`${ctx.endpoint}/${ctx.repoId}/resolve/${commit}/${encodeURIComponent(name)}`);
  const { res, url, redirected } = await request(ctx, 'HEAD', resolve);
  res.resume();
  if (!res.statusCode || res.statusCode >= 400) throw refusal(res, `${name}`, ctx);
  const linked = cleanEtag(res.headers['x-linked-etag']);
  const etag = linked ?? cleanEtag(res.headers.etag);
  const size = Number(res.headers['x-linked-size'] ?? res.headers['content-length']);
  if (!etag || !/^[\w.-]+$/.test(etag))
    throw new HubError(
      'network',
      `${ctx.repoId}: ${name} came without a usable ETag (received ${String(res.headers.etag)}).`,
    );
  if (!Number.isSafeInteger(size) || size < 0)
    throw new HubError('network', `${ctx.repoId}: ${name} came without a size (Content-Length / X-Linked-Size).`);
  const sha256 = linked && /^[0-9a-f]{64}$/.test(linked) ? linked : undefined;
  const blob = await fsp.stat(path.join(repo, 'blobs', etag)).catch(() => undefined);
  return { name, size, etag, sha256, url: (redirected ?? url).href, onHub: !redirected, cached: blob?.size === size };
}

/** Fetches what the plan lists into the cache; returns the snapshot folder (models--org--name/snapshots/<commit>). */
export async function downloadPlan(
  plan: DownloadPlan,
  o: HubOptions & { onProgress?: (p: DownloadProgress) => void } = {},
): Promise<string> {
  const ctx = context(plan.repoId, o);
  const repo = repoDir(o.cacheDir ?? hfCacheDir(o.env), plan.repoId);
  const snapshot = path.join(repo, 'snapshots', plan.commit);
  await fsp.mkdir(path.join(repo, 'blobs'), { recursive: true });
  await fsp.mkdir(snapshot, { recursive: true });
  let before = 0;
  for (const [i, f] of plan.files.entries()) {
    const report = (fileBytes: number): void =>
      o.onProgress?.({
        file: f.name,
        fileIndex: i,
        fileCount: plan.files.length,
        bytesDone: before + fileBytes,
        totalBytes: plan.totalBytes,
      });
    const blob = path.join(repo, 'blobs', f.etag);
    if (!f.cached || (await fsp.stat(blob).catch(() => undefined))?.size !== f.size)
      await fetchBlob(ctx, f, blob, report);
    report(f.size);
    before += f.size;
    const link = path.join(snapshot, f.name);
    await fsp.rm(link, { force: true });
    await fsp.symlink(path.relative(path.dirname(link), blob), link);
  }
  if (plan.revision !== plan.commit) {
    const ref = path.join(repo, 'refs', plan.revision);
    await fsp.mkdir(path.dirname(ref), { recursive: true });
    await fsp.writeFile(ref, plan.commit);
  }
  return snapshot;
}

/** plan + download in one call, for the CLI and tests. */
export async function downloadRepo(
  repoId: string,
  revision = 'main',
  o: HubOptions & { onProgress?: (p: DownloadProgress) => void } = {},
): Promise<string> {
  return downloadPlan(await planDownload(repoId, revision, o), o);
}

/** Downloads one file into blobs/<etag>.incomplete (resuming it with Range), checks its sha256, then renames it. */
async function fetchBlob(ctx: Ctx, f: PlannedFile, blob: string, report: (bytes: number) => void): Promise<void> {
  const partial = `${blob}.incomplete`;
  let have = (await fsp.stat(partial).catch(() => undefined))?.size ?? 0;
  if (have > f.size) have = 0;
  const hash = createHash('sha256');
  if (have > 0) for await (const c of fs.createReadStream(partial, { end: have - 1 })) hash.update(c as Buffer);
  const range: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
  const { res } = await request(ctx, 'GET', new URL(f.url), range, f.onHub);
  if (res.statusCode === 200 && have > 0) {
    // The server ignored Range: start again.
    have = 0;
    hash.destroy();
    return fetchBody(ctx, f, res, partial, blob, 0, createHash('sha256'), report);
  }
  if (res.statusCode !== 200 && res.statusCode !== 206) {
    res.resume();
    throw refusal(res, f.name, ctx);
  }
  return fetchBody(ctx, f, res, partial, blob, have, hash, report);
}

async function fetchBody(
  ctx: Ctx,
  f: PlannedFile,
  res: http.IncomingMessage,
  partial: string,
  blob: string,
  start: number,
  hash: ReturnType<typeof createHash>,
  report: (bytes: number) => void,
): Promise<void> {
  const out = await fsp.open(partial, start > 0 ? 'a' : 'w');
  let got = start;
  try {
    for await (const chunk of res) {
      const c = chunk as Buffer;
      if (got + c.length > f.size)
        throw new HubError('network', `${ctx.repoId}: ${f.name} is longer than the ${f.size} bytes the Hub announced.`);
      await out.write(c);
      hash.update(c);
      got += c.length;
      report(got);
    }
  } catch (err) {
    if (err instanceof HubError) throw err;
    if (ctx.signal?.aborted)
      throw new HubError(
        'cancelled',
        `Download of ${ctx.repoId} cancelled during ${f.name}; ${got} of ${f.size} bytes kept to resume.`,
      );
    throw new HubError(
      'network',
      `${ctx.repoId}: the connection dropped during ${f.name} after ${got} of ${f.size} bytes (${(err as Error).message}); run the download again to resume.`,
    );
  } finally {
    await out.close();
  }
  if (ctx.signal?.aborted)
    throw new HubError(
      'cancelled',
      `Download of ${ctx.repoId} cancelled during ${f.name}; ${got} of ${f.size} bytes kept to resume.`,
    );
  if (got !== f.size)
    throw new HubError(
      'network',
      `${ctx.repoId}: the connection dropped during ${f.name} after ${got} of ${f.size} bytes; run the download again to resume.`,
    );
  const digest = hash.digest('hex');
  if (f.sha256 && digest !== f.sha256) {
    await fsp.rm(partial, { force: true });
    throw new HubError(
      'hash',
      `${ctx.repoId}: ${f.name} does not match the Hub's sha256 (expected ${f.sha256}, received ${digest}); the partial file was deleted, run the download again.`,
    );
  }
  await fsp.rename(partial, blob);
}
