// Discovery in a Hugging Face cache tree generated from the fixture folders: several revisions,
// refs, broken links, a .bin-only repo, an unknown family, HF_HUB_CACHE / HF_HOME resolution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeLine, findModels, hfCacheDir, listCachedModels } from '../../src/model/open/hfCache';
import { addSnapshot } from './hfCacheTree';

const FIX = path.join(__dirname, '..', 'fixtures', 'hf');
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

/** Parameters counted from the header alone, independently of the code under test. */
function headerParams(file: string): number {
  const bytes = fs.readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { shape?: number[] }>;
  let total = 0;
  for (const [k, v] of Object.entries(header)) if (k !== '__metadata__') total += v.shape!.reduce((a, b) => a * b, 1);
  return total;
}

function fixtureBytes(dir: string): number {
  return fs
    .readdirSync(dir)
    .filter((n) => n !== 'reference.json')
    .reduce((a, n) => a + fs.statSync(path.join(dir, n)).size, 0);
}

function makeCache(): string {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'al-hfcache-'));
  addSnapshot(cache, 'openai-community/gpt2', path.join(FIX, 'gpt2'), A, ['main']);
  addSnapshot(cache, 'openai-community/gpt2', path.join(FIX, 'gpt2'), B, ['v1.0']);
  addSnapshot(cache, 'meta/llama-tiny', path.join(FIX, 'llama'), C, ['main']);
  // A broken link: the weights blob of an interrupted download is gone.
  const qwen = addSnapshot(cache, 'Qwen/tiny', path.join(FIX, 'qwen2'), A, ['main']);
  fs.rmSync(fs.realpathSync(path.join(qwen, 'model.safetensors')));
  // .bin only, and an unknown model_type.
  const bin = addSnapshot(cache, 'old/bin-only', path.join(FIX, 'gpt2'), A, ['main'], (n) => n === 'config.json');
  fs.writeFileSync(path.join(bin, 'pytorch_model.bin'), 'not read');
  const odd = addSnapshot(cache, 'odd/mamba', path.join(FIX, 'gpt2'), A, ['main'], (n) => n === 'tokenizer.json');
  fs.writeFileSync(path.join(odd, 'config.json'), JSON.stringify({ model_type: 'mamba' }));
  fs.mkdirSync(path.join(cache, 'datasets--x--y', 'snapshots'), { recursive: true });
  fs.mkdirSync(path.join(cache, '.locks'));
  return cache;
}

test('the cache folder follows HF_HUB_CACHE, then HF_HOME/hub, then XDG_CACHE_HOME, then ~/.cache', () => {
  assert.equal(hfCacheDir({ HF_HUB_CACHE: '/x/hub', HF_HOME: '/h' }, '/home/u'), '/x/hub');
  assert.equal(hfCacheDir({ HF_HOME: '/h' }, '/home/u'), path.join('/h', 'hub'));
  assert.equal(hfCacheDir({ XDG_CACHE_HOME: '/xdg' }, '/home/u'), path.join('/xdg', 'huggingface', 'hub'));
  assert.equal(hfCacheDir({}, '/home/u'), path.join('/home/u', '.cache', 'huggingface', 'hub'));
});

test('lists every snapshot with repo id, refs, family, parameters, size on disk and support', async () => {
  const cache = makeCache();
  const models = await listCachedModels(cache);
  const ids = models.map((m) => `${m.repoId}@${m.revision!.slice(0, 1)}`);
  assert.deepEqual(ids, [
    'Qwen/tiny@a',
    'meta/llama-tiny@c',
    'odd/mamba@a',
    'old/bin-only@a',
    'openai-community/gpt2@a',
    'openai-community/gpt2@b',
  ]);
  const [qwen, llama, odd, bin, gpt2main, gpt2v1] = models;

  assert.deepEqual(gpt2main!.refs, ['main']);
  assert.deepEqual(gpt2v1!.refs, ['v1.0']);
  assert.equal(gpt2main!.family, 'gpt2');
  assert.equal(gpt2main!.role, 'decoder');
  assert.equal(gpt2main!.supported, true, gpt2main!.reason);
  assert.equal(gpt2main!.parameters, headerParams(path.join(FIX, 'gpt2', 'model.safetensors')));
  assert.equal(gpt2main!.bytesOnDisk, fixtureBytes(path.join(FIX, 'gpt2')));
  assert.equal(llama!.family, 'llama');
  assert.equal(llama!.parameters, headerParams(path.join(FIX, 'llama', 'model.safetensors')));
  assert.match(
    describeLine(gpt2main!),
    /^openai-community\/gpt2@aaaaaaa \(main\) {2}gpt2 · [\d.]+K? parameters · [\d.]+ (kB|MB) · supported$/,
  );

  assert.equal(qwen!.supported, false);
  assert.equal(qwen!.family, 'qwen2');
  assert.match(qwen!.reason!, /model\.safetensors/);
  assert.equal(bin!.supported, false);
  assert.match(bin!.reason!, /pytorch_model\.bin/);
  assert.equal(odd!.supported, false);
  assert.match(odd!.reason!, /model_type "mamba"/);
  fs.rmSync(cache, { recursive: true });
});

test('a missing cache lists nothing; extra folders add plain checkpoint folders and other caches', async () => {
  assert.deepEqual(await listCachedModels(path.join(os.tmpdir(), 'al-no-such-cache')), []);
  const cache = makeCache();
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'al-hfcache2-'));
  addSnapshot(other, 'google/t5-tiny', path.join(FIX, 't5'), B, ['main']);
  const models = await findModels(path.join(os.tmpdir(), 'al-no-such-cache'), [
    path.join(FIX, 'bert'),
    other,
    '/no/such',
  ]);
  assert.deepEqual(
    models.map((m) => [m.repoId, m.family, m.supported]),
    [
      ['bert', 'bert', true],
      ['google/t5-tiny', 't5', true],
    ],
  );
  assert.equal(models[0]!.revision, undefined);
  fs.rmSync(cache, { recursive: true });
  fs.rmSync(other, { recursive: true });
});
