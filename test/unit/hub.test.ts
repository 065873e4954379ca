// The Hub download client against an imitation Hub on 127.0.0.1 (test/unit/fakeHub.ts): the standard
// cache layout, redirects, resume with Range, sha256 checks, gated and missing repos, a dropped
// connection, cancel, .bin-only repos, tokens and proxies.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  downloadPlan,
  downloadRepo,
  HubError,
  parseRepoArg,
  planDownload,
  readHfToken,
  type DownloadProgress,
} from '../../src/model/open/hub';
import { listCachedModels } from '../../src/model/open/hfCache';
import { blobId, sha256 } from './hfCacheTree';
import { repoFromFolder, startFakeHub, type FakeHub } from './fakeHub';

const FIX = path.join(__dirname, '..', 'fixtures', 'hf');
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const hubs: FakeHub[] = [];
after(async () => {
  for (const h of hubs) await h.close();
});

async function hub(opts: Parameters<typeof startFakeHub>[0] = {}): Promise<FakeHub> {
  const h = await startFakeHub(opts);
  hubs.push(h);
  const repo = repoFromFolder(path.join(FIX, 'gpt2'), COMMIT);
  (repo.files as Map<string, Buffer>).set('README.md', Buffer.from('# tiny gpt2\n'));
  h.repos.set('tiny/gpt2', repo);
  return h;
}
const tmpCache = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'al-hub-'));
const env = {};

async function rejectsWith(p: Promise<unknown>, kind: HubError['kind'], message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof HubError, String(err));
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, message);
    return true;
  });
}

test('downloads config, tokenizer and weights into the standard cache layout, showing the total first', async () => {
  const h = await hub();
  const cacheDir = tmpCache();
  const plan = await planDownload('tiny/gpt2', 'main', { endpoint: h.endpoint, cacheDir, env });
  // What a visualisation needs; the repo's other files (README.md, the fixture's reference outputs) are not fetched.
  const fixtureFiles = [
    'config.json',
    'generation_config.json',
    'merges.txt',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
    'vocab.json',
  ];
  assert.deepEqual(
    plan.files.map((f) => f.name),
    fixtureFiles,
  );
  const total = fixtureFiles.reduce((a, n) => a + fs.statSync(path.join(FIX, 'gpt2', n)).size, 0);
  assert.equal(plan.totalBytes, total);
  assert.equal(plan.bytesToFetch, total);
  assert.equal(plan.commit, COMMIT);
  const weights = plan.files.find((f) => f.name === 'model.safetensors')!;
  assert.equal(weights.sha256, sha256(fs.readFileSync(path.join(FIX, 'gpt2', 'model.safetensors'))));
  assert.match(weights.url, /\/cdn\/[0-9a-f]{64}/);

  const progress: DownloadProgress[] = [];
  const snap = await downloadPlan(plan, { endpoint: h.endpoint, cacheDir, env, onProgress: (p) => progress.push(p) });
  const repo = path.join(cacheDir, 'models--tiny--gpt2');
  assert.equal(snap, path.join(repo, 'snapshots', COMMIT));
  assert.equal(fs.readFileSync(path.join(repo, 'refs', 'main'), 'utf8'), COMMIT);
  for (const n of fixtureFiles) {
    const bytes = fs.readFileSync(path.join(FIX, 'gpt2', n));
    // huggingface_hub's names: blobs/<sha256> for LFS files, blobs/<git blob sha1> for others; relative links.
    assert.equal(fs.readlinkSync(path.join(snap, n)), path.join('..', '..', 'blobs', blobId(n, bytes)));
    assert.deepEqual(fs.readFileSync(path.join(snap, n)), bytes, n);
  }
  assert.equal(progress.at(-1)!.bytesDone, total);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.bytesDone >= progress[i - 1]!.bytesDone);
  assert.ok(!h.log.some((l) => l.startsWith('GET /cdn/') && l.endsWith('auth')), 'the CDN never sees the token');
  const [listed] = await listCachedModels(cacheDir);
  assert.equal(listed!.family, 'gpt2');
  assert.equal(listed!.supported, true, listed!.reason);

  // Again: every file is already in the cache, nothing is fetched.
  const again = await planDownload('tiny/gpt2', 'main', { endpoint: h.endpoint, cacheDir, env });
  assert.equal(again.bytesToFetch, 0);
  const gets = h.log.filter((l) => l.startsWith('GET /cdn/')).length;
  await downloadPlan(again, { endpoint: h.endpoint, cacheDir, env });
  assert.equal(h.log.filter((l) => l.startsWith('GET /cdn/')).length, gets);
});

test('a renamed repo is followed through its relative redirect; a revision by commit writes no ref', async () => {
  const h = await hub();
  h.renamed.set('old/gpt2', 'tiny/gpt2');
  const cacheDir = tmpCache();
  const snap = await downloadRepo('old/gpt2', COMMIT, { endpoint: h.endpoint, cacheDir, env });
  assert.ok(fs.existsSync(path.join(snap, 'model.safetensors')));
  assert.ok(!fs.existsSync(path.join(cacheDir, 'models--old--gpt2', 'refs')));
});

test('a connection dropped mid-file keeps the partial file, and the next run resumes it with Range', async () => {
  const h = await hub({ dropAfter: new Map([['model.safetensors', 1000]]) });
  const cacheDir = tmpCache();
  const o = { endpoint: h.endpoint, cacheDir, env };
  await rejectsWith(
    downloadRepo('tiny/gpt2', 'main', o),
    'network',
    /connection dropped during model\.safetensors after 1000 of \d+ bytes.*resume/,
  );
  const blobs = path.join(cacheDir, 'models--tiny--gpt2', 'blobs');
  const partial = fs.readdirSync(blobs).find((n) => n.endsWith('.incomplete'))!;
  assert.equal(fs.statSync(path.join(blobs, partial)).size, 1000);
  const snap = await downloadRepo('tiny/gpt2', 'main', o);
  assert.ok(
    h.log.some((l) => /^GET \/cdn\/[0-9a-f]+ bytes=1000-$/.test(l)),
    h.log.join('\n'),
  );
  assert.deepEqual(
    fs.readFileSync(path.join(snap, 'model.safetensors')),
    fs.readFileSync(path.join(FIX, 'gpt2', 'model.safetensors')),
  );
  assert.ok(!fs.readdirSync(blobs).some((n) => n.endsWith('.incomplete')));
});

test('bytes that do not match the Hub’s sha256 are refused and deleted', async () => {
  const h = await hub({ corrupt: new Set(['model.safetensors']) });
  const cacheDir = tmpCache();
  await rejectsWith(
    downloadRepo('tiny/gpt2', 'main', { endpoint: h.endpoint, cacheDir, env }),
    'hash',
    /model\.safetensors does not match the Hub's sha256 \(expected [0-9a-f]{64}, received [0-9a-f]{64}\)/,
  );
  const blobs = fs.readdirSync(path.join(cacheDir, 'models--tiny--gpt2', 'blobs'));
  assert.ok(
    !blobs.some(
      (n) => n.endsWith('.incomplete') || n === sha256(fs.readFileSync(path.join(FIX, 'gpt2', 'model.safetensors'))),
    ),
  );
});

test('a gated repo asks for a token (401), and downloads with HF_TOKEN', async () => {
  const h = await hub();
  h.repos.set('meta/gated', repoFromFolder(path.join(FIX, 'llama'), COMMIT, 'hf_secret'));
  const cacheDir = tmpCache();
  await rejectsWith(
    planDownload('meta/gated', 'main', { endpoint: h.endpoint, cacheDir, env }),
    'gated',
    /HTTP 401.*set HF_TOKEN or run `huggingface-cli login`.*restricted/,
  );
  await rejectsWith(
    planDownload('meta/gated', 'main', { endpoint: h.endpoint, cacheDir, env: { HF_TOKEN: 'wrong' } }),
    'gated',
    /token given .* was refused/,
  );
  const snap = await downloadRepo('meta/gated', 'main', {
    endpoint: h.endpoint,
    cacheDir,
    env: { HF_TOKEN: 'hf_secret' },
  });
  assert.ok(fs.existsSync(path.join(snap, 'model.safetensors')));
});

test('a missing repo or revision gives a clear 404 message', async () => {
  const h = await hub();
  const o = { endpoint: h.endpoint, cacheDir: tmpCache(), env };
  await rejectsWith(
    planDownload('nobody/nothing', 'main', o),
    'not-found',
    /nobody\/nothing: .*HTTP 404.*no such model/,
  );
  await rejectsWith(planDownload('tiny/gpt2', 'v9', o), 'not-found', /revision does not exist/);
});

test('a repo with only pytorch_model.bin is refused with the conversion one-liner', async () => {
  const h = await hub();
  h.repos.set('old/bin', {
    commit: COMMIT,
    files: new Map([
      ['config.json', Buffer.from('{}')],
      ['pytorch_model.bin', Buffer.from('x')],
    ]),
  });
  await rejectsWith(
    planDownload('old/bin', 'main', { endpoint: h.endpoint, cacheDir: tmpCache(), env }),
    'unsupported',
    /only PyTorch pickles \(pytorch_model\.bin\).*save_pretrained\('OUT_FOLDER', safe_serialization=True\)/,
  );
});

test('cancel stops mid-file and keeps the partial file for resuming', async () => {
  const h = await hub({ stallAfter: new Map([['model.safetensors', 500]]) });
  const cacheDir = tmpCache();
  const ac = new AbortController();
  const run = downloadRepo('tiny/gpt2', 'main', {
    endpoint: h.endpoint,
    cacheDir,
    env,
    signal: ac.signal,
    onProgress: (p) => {
      if (p.file === 'model.safetensors' && p.bytesDone > 0) setTimeout(() => ac.abort(), 50);
    },
  });
  await rejectsWith(run, 'cancelled', /cancelled during model\.safetensors; 500 of \d+ bytes kept/);
  const blobs = fs.readdirSync(path.join(cacheDir, 'models--tiny--gpt2', 'blobs'));
  assert.ok(blobs.some((n) => n.endsWith('.incomplete')));
});

test('an unreachable Hub is a network error naming the address', async () => {
  const h = await hub();
  const endpoint = h.endpoint;
  await h.close();
  await rejectsWith(
    planDownload('tiny/gpt2', 'main', { endpoint, cacheDir: tmpCache(), env }),
    'network',
    /cannot reach http:\/\/127\.0\.0\.1:\d+/,
  );
});

test('requests go through an http proxy when one is given (VS Code’s http.proxy) or in the environment', async () => {
  const h = await hub();
  const seen: string[] = [];
  const proxy = http.createServer((req, res) => {
    seen.push(req.url!);
    const up = http.request(req.url!, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  try {
    await downloadRepo('tiny/gpt2', 'main', { endpoint: h.endpoint, cacheDir: tmpCache(), env, proxy: proxyUrl });
    assert.ok(seen.some((u) => u.startsWith(`${h.endpoint}/api/models/tiny/gpt2`)));
    assert.ok(seen.some((u) => u.startsWith(`${h.endpoint}/cdn/`)));
    const n = seen.length;
    await planDownload('tiny/gpt2', 'main', {
      endpoint: h.endpoint,
      cacheDir: tmpCache(),
      env: { http_proxy: proxyUrl },
    });
    assert.ok(seen.length > n);
    await planDownload('tiny/gpt2', 'main', {
      endpoint: h.endpoint,
      cacheDir: tmpCache(),
      env: { http_proxy: proxyUrl, no_proxy: '127.0.0.1' },
    });
  } finally {
    await new Promise<void>((r) => proxy.close(() => r()));
  }
});

test('repo arguments and the token file', () => {
  assert.deepEqual(parseRepoArg('openai-community/gpt2'), { repoId: 'openai-community/gpt2', revision: 'main' });
  assert.deepEqual(parseRepoArg('Qwen/Qwen2.5-0.5B@v1.0'), { repoId: 'Qwen/Qwen2.5-0.5B', revision: 'v1.0' });
  assert.throws(() => parseRepoArg('../etc'), /not a Hugging Face repo id/);
  assert.throws(() => parseRepoArg('a/b/c'), /not a Hugging Face repo id/);
  assert.throws(() => parseRepoArg('a/b@../x'), /not a revision/);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'al-home-'));
  assert.equal(readHfToken({}, home), undefined);
  fs.mkdirSync(path.join(home, '.cache', 'huggingface'), { recursive: true });
  fs.writeFileSync(path.join(home, '.cache', 'huggingface', 'token'), 'hf_file\n');
  assert.equal(readHfToken({}, home), 'hf_file');
  assert.equal(readHfToken({ HF_TOKEN: 'hf_env' }, home), 'hf_env');
  fs.mkdirSync(path.join(home, 'hfhome'));
  fs.writeFileSync(path.join(home, 'hfhome', 'token'), 'hf_home');
  assert.equal(readHfToken({ HF_HOME: path.join(home, 'hfhome') }, home), 'hf_home');
});
