// The command line as a user runs it (a child process): --model's forms, --list-cache, --download
// against the imitation Hub, validated numbers, --timeout, --export (safetensors + index) and the exit codes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addSnapshot } from './hfCacheTree';
import { repoFromFolder, startFakeHub, type FakeHub } from './fakeHub';
import { readTraceExport } from '../../src/model/formats/safetensorsWriter';
import { traceFromJson } from '../../shared/codec';

const ROOT = path.join(__dirname, '..', '..');
const FIX = path.join(ROOT, 'test', 'fixtures', 'hf');
const COMMIT = 'feedfacefeedfacefeedfacefeedfacefeedface';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts'), ...args],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, HF_TOKEN: '', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

const emptyCache = fs.mkdtempSync(path.join(os.tmpdir(), 'al-cli-empty-'));
const hubs: FakeHub[] = [];
after(async () => {
  for (const h of hubs) await h.close();
});

test('numbers are validated: --max-tokens abc, -5, 0 and 2.5 and --timeout x exit 2 naming the flag and the value', async () => {
  for (const v of ['abc', '-5', '0', '2.5']) {
    const r = await cli(['--max-tokens', v, 'hello']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`--max-tokens must be a positive whole number; received "${v.replace('.', '\\.')}"`),
    );
  }
  const t = await cli(['--timeout', 'x', 'hello']);
  assert.equal(t.code, 2);
  assert.match(t.stderr, /--timeout must be a positive number; received "x"/);
  const u = await cli(['--frobnicate']);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /unknown option --frobnicate/);
  const missing = await cli(['--model']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--model needs a value/);
});

test('--model that is neither a file, a built-in nor a cached repo exits 2 and says what it may be', async () => {
  const r = await cli(['--model', 'no-such/model', 'hello'], { HF_HUB_CACHE: emptyCache });
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /--model no-such\/model is not a file or folder, a built-in id \(tinystories-656k, .*\) or a repo in the Hugging Face cache .*--list-cache or --download no-such\/model/,
  );
});

test('--list-cache lists the cache; --model takes a cached repo id, a folder, a config.json, a model.json and an *.attention.json', async () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'al-cli-cache-'));
  addSnapshot(cache, 'tiny/gpt2', path.join(FIX, 'gpt2'), COMMIT, ['main']);
  const list = await cli(['--list-cache'], { HF_HUB_CACHE: cache });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 1 model snapshot\n`));
  assert.match(list.stdout, /tiny\/gpt2@feedfac \(main\) {2}gpt2 · [\d.]+K parameters · [\d.]+ kB · supported/);

  const byRepo = await cli(['--model', 'tiny/gpt2', 'The quick fox'], { HF_HUB_CACHE: cache });
  assert.equal(byRepo.code, 0, byRepo.stderr);
  // A snapshot is named after its repo, not its commit folder.
  assert.match(byRepo.stdout, /^tiny\/gpt2 on 3 tokens/);
  const byFolder = await cli(['--model', path.join(FIX, 'gpt2'), 'The quick fox']);
  const byConfig = await cli(['--model', path.join(FIX, 'gpt2', 'config.json'), 'The quick fox']);
  // The same model, the same tokens and the same predictions (the timing line differs).
  const body = (r: Run): string => r.stdout.split('\n').slice(1).join('\n');
  assert.equal(byFolder.code, 0, byFolder.stderr);
  assert.equal(body(byRepo), body(byFolder));
  assert.equal(body(byConfig), body(byFolder));
  assert.match(byFolder.stdout, /^tokens: "The" "Ġquick" "Ġfox"$/m);

  const tfjs = await cli(['--model', path.join(ROOT, 'samples', 'models', 'tfjs-mha-charlm', 'model.json'), 'hello']);
  assert.equal(tfjs.code, 0, tfjs.stderr);
  const attention = await cli([
    '--model',
    path.join(ROOT, 'samples', 'configs', 'dot-product-3-tokens.attention.json'),
  ]);
  assert.equal(attention.code, 0, attention.stderr);
  assert.match(attention.stdout, /on 3 tokens/);
});

test('a model that is refused exits 1 with its message', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-cli-bad-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'mamba' }));
  const r = await cli(['--model', dir, 'hello']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /model_type "mamba"/);
});

test('--download REPO@REV fetches into HF_HUB_CACHE and prints the snapshot; failures exit 3, a bad repo id 2', async () => {
  const h = await startFakeHub();
  hubs.push(h);
  h.repos.set('tiny/gpt2', repoFromFolder(path.join(FIX, 'gpt2'), COMMIT));
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'al-cli-dl-'));
  const env = { HF_HUB_CACHE: cache, HF_ENDPOINT: h.endpoint };
  const r = await cli(['--download', 'tiny/gpt2@main'], env);
  assert.equal(r.code, 0, r.stderr);
  const snap = path.join(cache, 'models--tiny--gpt2', 'snapshots', COMMIT);
  assert.equal(r.stdout.trim(), snap);
  assert.match(r.stderr, /^tiny\/gpt2@main \(commit feedfacefe\): 7 files, [\d.]+ kB, [\d.]+ kB to fetch into /);
  assert.ok(fs.existsSync(path.join(snap, 'model.safetensors')));

  const again = await cli(['--download', 'tiny/gpt2', 'The quick fox'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, / 0 B to fetch/);
  assert.match(again.stdout, /^tokens: "The" "Ġquick" "Ġfox"$/m);

  const missing = await cli(['--download', 'nobody/nothing'], env);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /error: nobody\/nothing: .*HTTP 404/);
  const bad = await cli(['--download', '../x'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not a Hugging Face repo id/);
});

test('--timeout ends a run that takes longer with exit 124', async () => {
  const r = await cli(['--timeout', '0.05', '--model', path.join(FIX, 'gpt2'), 'The quick fox']);
  assert.equal(r.code, 124, r.stderr);
  assert.match(r.stderr, /timed out after 0\.05 s/);
});

test('--export OUT.safetensors --file TEXT writes the whole trace and OUT.index.json, equal bit for bit to --json', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-cli-export-'));
  const text = path.join(dir, 'input.txt');
  fs.writeFileSync(text, 'The quick brown fox jumps over the lazy dog, and the cat sleeps.');
  const out = path.join(dir, 'run.safetensors');
  const json = path.join(dir, 'run.json');
  const r = await cli([
    '--model',
    path.join(FIX, 'gpt2'),
    '--max-tokens',
    '8',
    '--file',
    text,
    '--json',
    json,
    '--export',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(
    r.stderr,
    new RegExp(`wrote ${esc(out)} \\(\\d+ tensors, [\\d.]+ kB\\) and ${esc(path.join(dir, 'run.index.json'))}`),
  );
  const exported = await readTraceExport(out);
  const written = traceFromJson(JSON.parse(fs.readFileSync(json, 'utf8')));
  assert.equal(exported.tokens.length, 8);
  assert.deepEqual(exported.tokens, written.tokens);
  assert.deepEqual(
    exported.stages.map((s) => [s.id, s.title, s.formula, s.tensors.map((t) => [t.name, ...t.shape])]),
    written.stages.map((s) => [s.id, s.title, s.formula, s.tensors.map((t) => [t.name, ...t.shape])]),
  );
  for (const [i, s] of written.stages.entries())
    for (const [j, t] of s.tensors.entries())
      assert.deepEqual(
        new Uint32Array(exported.stages[i]!.tensors[j]!.data.slice().buffer),
        new Uint32Array(t.data.slice().buffer),
        `${s.id}/${t.name}`,
      );
  assert.deepEqual(exported.predictions, written.predictions);
});

test('--export refuses an existing file before the model runs (exit 2) unless --force; a missing folder and a bad --file exit 2', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-cli-export-'));
  const out = path.join(dir, 'run.safetensors');
  const model = ['--model', path.join(FIX, 'gpt2')];
  assert.equal((await cli([...model, '--export', out, 'The quick fox'])).code, 0);
  const first = fs.readFileSync(out);
  const again = await cli([...model, '--export', out, 'A lazy dog']);
  assert.equal(again.code, 2, again.stderr);
  assert.match(
    again.stderr,
    /--export: Cannot export to .*run\.safetensors: .*run\.safetensors already exists \(replace it with --force\)\./,
  );
  assert.equal(again.stdout, '', 'refused before the model ran');
  assert.deepEqual(fs.readFileSync(out), first);
  const forced = await cli([...model, '--export', out, '--force', 'A lazy dog']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal((await readTraceExport(out)).text, 'A lazy dog');

  const missing = await cli([...model, '--export', path.join(dir, 'no', 'run.safetensors'), 'hi']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--export: Cannot export to .*: the folder .*no does not exist\./);
  const underFile = await cli([...model, '--export', path.join(out, 'x.safetensors'), 'hi']);
  assert.equal(underFile.code, 2);
  assert.match(underFile.stderr, /run\.safetensors is not a folder/);
  const force = await cli([...model, '--force', 'hi']);
  assert.equal(force.code, 2);
  assert.match(force.stderr, /--force replaces an existing --export file/);
  const noFile = await cli([...model, '--file', path.join(dir, 'nothing.txt')]);
  assert.equal(noFile.code, 2);
  assert.match(noFile.stderr, /--file .*nothing\.txt: no such file\./);
});
