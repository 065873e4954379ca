// An imitation of the Hugging Face Hub on 127.0.0.1 for the download client's tests: the
// api/models/<repo>/revision/<rev> listing and resolve/<rev>/<file> with the Hub's headers (ETag,
// X-Linked-Etag, X-Linked-Size, X-Repo-Commit, X-Error-Code), LFS files redirected (absolute
// Location) to a CDN-like path that honours Range, renamed repos redirected with a relative Location.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { gitBlobSha, sha256 } from './hfCacheTree';

export interface FakeRepo {
  readonly commit: string;
  readonly files: ReadonlyMap<string, Buffer>;
  /** Needs `Authorization: Bearer <token>`. */
  readonly token?: string;
}

export interface FakeHubOptions {
  /** CDN serves these files' bytes altered (wrong hash). */
  corrupt?: Set<string>;
  /** The CDN drops the connection after this many bytes of a file, once per name. */
  dropAfter?: Map<string, number>;
  /** The CDN sends this many bytes of a file, then waits (for cancel tests). */
  stallAfter?: Map<string, number>;
}

export interface FakeHub {
  readonly endpoint: string;
  readonly repos: Map<string, FakeRepo>;
  /** Old repo id → new one (answered with a relative 307, as the Hub does for renamed repos). */
  readonly renamed: Map<string, string>;
  readonly options: FakeHubOptions;
  /** "METHOD path range? auth?" per request. */
  readonly log: string[];
  close(): Promise<void>;
}

export function repoFromFolder(dir: string, commit: string, token?: string): FakeRepo {
  const files = new Map<string, Buffer>();
  for (const n of fs.readdirSync(dir).sort())
    if (n !== 'reference.json') files.set(n, fs.readFileSync(path.join(dir, n)));
  return { commit, files, token };
}

const isLfs = (name: string): boolean => name.endsWith('.safetensors');

export async function startFakeHub(options: FakeHubOptions = {}): Promise<FakeHub> {
  const repos = new Map<string, FakeRepo>();
  const renamed = new Map<string, string>();
  const log: string[] = [];
  const blobs = new Map<string, { name: string; bytes: Buffer }>();
  const sockets = new Set<import('node:net').Socket>();
  let endpoint = '';

  const fail = (res: http.ServerResponse, status: number, code: string, message: string): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code, 'x-error-message': message });
    res.end(JSON.stringify({ error: message }));
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    log.push(
      `${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}${req.headers.authorization ? ' auth' : ''}`,
    );
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    const repoId = api?.[1] ?? resolve?.[1];
    if (repoId && renamed.has(repoId)) {
      res.writeHead(307, { location: url.pathname.replace(repoId, renamed.get(repoId)!) });
      return res.end();
    }
    const repo = repoId ? repos.get(repoId) : undefined;
    if (repoId && !repo) return fail(res, 404, 'RepoNotFound', 'Repository not found');
    if (repo?.token && req.headers.authorization !== `Bearer ${repo.token}`)
      return fail(
        res,
        401,
        'GatedRepo',
        `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it.`,
      );
    if (api && repo) {
      const rev = decodeURIComponent(api[2]!);
      if (rev !== 'main' && rev !== repo.commit) return fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          id: repoId,
          sha: repo.commit,
          siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
        }),
      );
    }
    if (resolve && repo) {
      const rev = resolve[2]!;
      const name = decodeURIComponent(resolve[3]!);
      const bytes = repo.files.get(name);
      if (rev !== 'main' && rev !== repo.commit) return fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      if (!bytes) return fail(res, 404, 'EntryNotFound', `${name} does not exist`);
      const common = { 'x-repo-commit': repo.commit, 'accept-ranges': 'bytes' };
      if (isLfs(name)) {
        const sha = sha256(bytes);
        blobs.set(sha, { name, bytes });
        res.writeHead(302, {
          ...common,
          etag: `"${sha}"`,
          'x-linked-etag': `"${sha}"`,
          'x-linked-size': String(bytes.length),
          location: `${endpoint}/cdn/${sha}?X-Amz-Signature=abc`,
          'content-length': '0',
        });
        return res.end();
      }
      res.writeHead(200, { ...common, etag: `"${gitBlobSha(bytes)}"`, 'content-length': String(bytes.length) });
      return res.end(req.method === 'HEAD' ? undefined : bytes);
    }
    if (cdn && blobs.has(cdn[1]!)) {
      if (req.headers.authorization) return fail(res, 400, 'BadRequest', 'the CDN must not receive the Hub token');
      const { name, bytes: original } = blobs.get(cdn[1]!)!;
      const bytes = options.corrupt?.has(name)
        ? Buffer.from(original.map((b, i) => (i === 100 ? b ^ 1 : b)))
        : original;
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      const from = m ? Number(m[1]) : 0;
      const body = bytes.subarray(from);
      const head = { etag: `"${cdn[1]}"`, 'content-length': String(body.length), 'accept-ranges': 'bytes' };
      if (m) res.writeHead(206, { ...head, 'content-range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` });
      else res.writeHead(200, head);
      const drop = options.dropAfter?.get(name);
      const stall = options.stallAfter?.get(name);
      if (drop !== undefined) {
        options.dropAfter!.delete(name);
        res.write(body.subarray(0, drop), () => setTimeout(() => res.destroy(), 100));
        return;
      }
      if (stall !== undefined) return void res.write(body.subarray(0, stall));
      return res.end(req.method === 'HEAD' ? undefined : body);
    }
    fail(res, 404, 'NotFound', 'no such path');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    repos,
    renamed,
    options,
    log,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
