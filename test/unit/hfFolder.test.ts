// Hugging Face folders: sharded safetensors checkpoints (same tensors and the same run as the single
// file; escapes, missing and inconsistent shards; progress and cancel across shards), refusal of
// pickled and other frameworks' weights without reading them, and tokenizers built from vocab.txt.
import { before, test } from 'node:test';
import { scratchDirs } from './fixtureTools';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import fsp from 'node:fs/promises';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadBert } from '../../src/model/families/bert/model';
import { locateWeights, readCheckpointTensors } from '../../src/model/formats/hfFolder';
import { HfTokenizer } from '../../src/model/tokenizers/hfTokenizer';
import { loadLlama } from '../../src/model/families/llama/model';
import { readSafetensorsFile, writeSafetensors, type SafeTensor } from '../../src/model/formats/safetensors';
import { AttentionInputError, type Trace } from '../../shared/trace';

const ROOT = path.join(__dirname, '..', '..');
const TINY = path.join(ROOT, 'models', 'tinystories-656k');
const ENCODER = path.join(ROOT, 'models', 'english-encoder');

const tmpDir = scratchDirs();
before(async () => {
  await initBackend();
});

const inputError =
  (code: AttentionInputError['code'], pattern?: RegExp) =>
  (e: unknown): boolean => {
    if (!(e instanceof AttentionInputError))
      assert.fail(`expected AttentionInputError('${code}'), got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };

/** A copy of a model folder without its weights (config, tokenizer, licence...). */
function copyWithoutWeights(src: string, skip: readonly string[] = ['model.safetensors']): string {
  const dir = tmpDir('hf-');
  for (const f of fs.readdirSync(src)) if (!skip.includes(f)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  return dir;
}

type Tensors = Record<string, { shape: readonly number[]; data: Float32Array }>;

/** Writes shards and an index; `assign(name, i)` gives each tensor's shard (several for duplicates). */
function writeSharded(
  dir: string,
  tensors: Map<string, SafeTensor>,
  shards: number,
  assign: (name: string, i: number) => number[],
  edit?: (weightMap: Record<string, string>) => void,
): string[] {
  const names = [...tensors.keys()];
  const files = Array.from(
    { length: shards },
    (_, k) => `model-${String(k + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`,
  );
  const parts: Tensors[] = files.map(() => ({}));
  const weightMap: Record<string, string> = {};
  let total = 0;
  names.forEach((name, i) => {
    const t = tensors.get(name)!;
    const targets = assign(name, i);
    for (const k of targets) parts[k]![name] = { shape: t.shape, data: t.data };
    weightMap[name] = files[targets[0]!]!;
    total += t.data.length * 4;
  });
  edit?.(weightMap);
  files.forEach((f, k) => fs.writeFileSync(path.join(dir, f), writeSafetensors(parts[k]!, { format: 'pt' })));
  fs.writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  );
  return files;
}

let tinyTensors: Map<string, SafeTensor>;
async function tiny(): Promise<Map<string, SafeTensor>> {
  tinyTensors ??= await readSafetensorsFile(path.join(TINY, 'model.safetensors'));
  return tinyTensors;
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

function sameTrace(a: Trace, b: Trace): void {
  assert.deepEqual(a.tokens, b.tokens);
  assert.equal(a.stages.length, b.stages.length);
  a.stages.forEach((s, i) => {
    const o = b.stages[i]!;
    assert.equal(s.id, o.id);
    assert.equal(s.tensors.length, o.tensors.length);
    s.tensors.forEach((t, k) => {
      assert.deepEqual(t.shape, o.tensors[k]!.shape);
      sameBits(t.data, o.tensors[k]!.data, `${s.id}/${t.name}`);
    });
  });
}

test('a 3-shard copy of TinyStories reads the same tensors and runs exactly like model.safetensors', async () => {
  const whole = await tiny();
  const dir = copyWithoutWeights(TINY);
  const files = writeSharded(dir, whole, 3, (_, i) => [i % 3]);
  assert.deepEqual(await locateWeights(dir), {
    kind: 'sharded',
    index: path.join(dir, 'model.safetensors.index.json'),
  });
  const progress: [number, string][] = [];
  const read = await readCheckpointTensors(dir, { onProgress: (f, m) => progress.push([f, m]) });
  assert.deepEqual(
    read.files,
    files.map((f) => path.join(dir, f)),
  );
  assert.equal(read.weightsPath, path.join(dir, 'model.safetensors.index.json'));
  assert.deepEqual([...read.tensors.keys()].sort(), [...whole.keys()].sort());
  for (const [name, t] of whole) {
    assert.deepEqual(read.tensors.get(name)!.shape, t.shape, name);
    sameBits(read.tensors.get(name)!.data, t.data, name);
  }
  // Progress by bytes across all shards: monotone, reaching 1, through every shard.
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i]![0] >= progress[i - 1]![0], 'monotone');
  assert.equal(progress.at(-1)![0], 1);
  for (const k of [1, 2, 3])
    assert.ok(
      progress.some(([, m]) => m.startsWith(`shard ${k} of 3`)),
      `progress names shard ${k}`,
    );
  const sizes = files.map((f) => fs.statSync(path.join(dir, f)).size);
  const endOfFirst = progress.filter(([, m]) => m.startsWith('shard 1 of 3')).at(-1)![0];
  assert.ok(
    Math.abs(endOfFirst - sizes[0]! / (sizes[0]! + sizes[1]! + sizes[2]!)) < 1e-9,
    `first shard ends at its share of the bytes (${endOfFirst})`,
  );

  const start = tf.memory().numTensors;
  const a = await loadLlama(TINY);
  const b = await loadLlama(dir);
  try {
    assert.equal(b.info.parameters, a.info.parameters);
    const text = 'Once upon a time, a little dog found a red ball.';
    sameTrace(await a.run(text), await b.run(text));
  } finally {
    a.dispose();
    b.dispose();
  }
  assert.equal(tf.memory().numTensors, start, 'no tensors leak');
});

test('shards: cancel between chunks of a later shard, and an aborted signal before anything is read', async () => {
  const dir = copyWithoutWeights(TINY);
  writeSharded(dir, await tiny(), 2, (_, i) => [i % 2]);
  const ac = new AbortController();
  const seen: string[] = [];
  await assert.rejects(
    readCheckpointTensors(dir, {
      signal: ac.signal,
      onProgress: (_, m) => {
        seen.push(m);
        if (m.startsWith('shard 2 of 2')) ac.abort();
      },
    }),
    inputError('cancelled'),
  );
  assert.ok(seen.some((m) => m.startsWith('shard 1 of 2')));
  const start = tf.memory().numTensors;
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(loadLlama(dir, { signal: pre.signal }), inputError('cancelled'));
  assert.equal(tf.memory().numTensors, start);
});

test('shard names must stay inside the folder', async () => {
  const whole = await tiny();
  const parent = tmpDir('hf-escape-');
  const dir = path.join(parent, 'model');
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(TINY))
    if (f !== 'model.safetensors') fs.copyFileSync(path.join(TINY, f), path.join(dir, f));
  // A valid checkpoint outside the folder that an escaping index could reach.
  fs.copyFileSync(path.join(TINY, 'model.safetensors'), path.join(parent, 'outside.safetensors'));
  const cases: [string, RegExp][] = [
    ['../outside.safetensors', /outside the model folder/],
    ['sub/../../outside.safetensors', /outside the model folder/],
    ['..\\outside.safetensors', /outside the model folder/],
    [path.join(parent, 'outside.safetensors'), /absolute path/],
    ['/etc/passwd.safetensors', /absolute path/],
    ['C:\\Windows\\x.safetensors', /absolute path/],
    ['\\\\server\\share\\x.safetensors', /absolute path/],
    ['', /empty or invalid/],
    ['model.bin', /not a \.safetensors file/],
  ];
  for (const [name, pattern] of cases) {
    writeSharded(
      dir,
      whole,
      2,
      (_, i) => [i % 2],
      (map) => (map['model.norm.weight'] = name),
    );
    const start = tf.memory().numTensors;
    await assert.rejects(loadLlama(dir), inputError('file', pattern), name);
    assert.equal(tf.memory().numTensors, start);
  }
});

test('missing, inconsistent and malformed shard indexes are clear errors', async () => {
  const whole = await tiny();
  const dir = copyWithoutWeights(TINY);
  const index = path.join(dir, 'model.safetensors.index.json');
  const reset = (): void => {
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.safetensors')) fs.rmSync(path.join(dir, f));
  };
  const expectError = async (what: string, pattern: RegExp): Promise<void> => {
    await assert.rejects(readCheckpointTensors(dir), inputError('file', pattern), what);
  };

  const files = writeSharded(dir, whole, 2, (_, i) => [i % 2]);
  fs.rmSync(path.join(dir, files[1]!));
  await expectError('missing shard', /The shard model-00002-of-00002\.safetensors named in .* is missing/);
  await assert.rejects(loadLlama(dir), inputError('file', /model-00002-of-00002\.safetensors .*missing/));

  reset();
  writeSharded(
    dir,
    whole,
    2,
    (name, i) => (name === 'model.norm.weight' ? [0] : [i % 2]),
    (map) => (map['model.norm.weight'] = 'model-00002-of-00002.safetensors'),
  );
  await expectError(
    'tensor in the other shard than the index says',
    /"model\.norm\.weight" is in model-00001-of-00002\.safetensors, but .* puts it in model-00002-of-00002\.safetensors\./,
  );

  reset();
  writeSharded(dir, whole, 2, (name, i) => (name === 'model.norm.weight' ? [0, 1] : [i % 2]));
  await expectError(
    'tensor stored twice',
    /"model\.norm\.weight" is stored in more than one shard \(model-00001-of-00002\.safetensors, model-00002-of-00002\.safetensors\)/,
  );

  reset();
  writeSharded(
    dir,
    whole,
    2,
    (_, i) => [i % 2],
    (map) => (map['extra.weight'] = 'model-00001-of-00002.safetensors'),
  );
  await expectError(
    'index lists a tensor the shard lacks',
    /puts tensor "extra\.weight" in model-00001-of-00002\.safetensors, but that shard does not hold it/,
  );

  reset();
  writeSharded(
    dir,
    whole,
    2,
    (_, i) => [i % 2],
    (map) => delete map['model.norm.weight'],
  );
  await expectError(
    'shard holds a tensor the index does not list',
    /holds tensor "model\.norm\.weight", which .* does not list/,
  );

  reset();
  const shardFiles = writeSharded(dir, whole, 2, (_, i) => [i % 2]);
  const bytes = fs.readFileSync(path.join(dir, shardFiles[1]!));
  fs.writeFileSync(path.join(dir, shardFiles[1]!), bytes.subarray(0, bytes.length - 100));
  await expectError('truncated shard', /model-00002-of-00002\.safetensors is truncated or corrupted/);

  for (const [what, text, pattern] of [
    ['not JSON', '{"weight_map": ', /not valid JSON/],
    ['no weight_map', '{"metadata": {}}', /no "weight_map" object/],
    ['weight_map array', '{"weight_map": []}', /no "weight_map" object/],
    ['empty weight_map', '{"weight_map": {}}', /empty weight_map/],
    ['shard not a string', '{"weight_map": {"a": 3}}', /not a file name/],
  ] as const) {
    fs.writeFileSync(index, text);
    await expectError(what, pattern);
  }
});

test("pickled and other frameworks' weights are refused by name, without opening them", async (ctx) => {
  const opened: string[] = [];
  const refusedName = /\.(bin|h5|msgpack|pt|pth|ckpt|gguf|onnx)$|\.ckpt\.|\.bin\.index\.json$/;
  const spy = <F extends (...a: never[]) => unknown>(fn: F): F =>
    ((...args: Parameters<F>) => {
      const p = String(args[0]);
      if (refusedName.test(p)) {
        opened.push(p);
        throw new Error(`test: ${p} must not be opened`);
      }
      return fn(...args);
    }) as F;
  const saved = { open: fsp.open, readFile: fsp.readFile, stat: fsp.stat };
  fsp.open = spy(saved.open);
  fsp.readFile = spy(saved.readFile);
  fsp.stat = spy(saved.stat);
  ctx.after(() => Object.assign(fsp, saved));

  const cases: [string[], RegExp][] = [
    [['pytorch_model.bin'], /PyTorch weights \(pytorch_model\.bin\).*pickle.*run any code/s],
    [
      ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin', 'pytorch_model.bin.index.json'],
      /PyTorch weights \(pytorch_model-00001-of-00002\.bin, pytorch_model-00002-of-00002\.bin, pytorch_model\.bin\.index\.json\)/,
    ],
    [['tf_model.h5'], /TensorFlow\/Keras weights.*needs TensorFlow.*from_tf=True/s],
    [['model.ckpt.index', 'model.ckpt.data-00000-of-00001'], /TensorFlow checkpoint.*from_tf=True/s],
    [['flax_model.msgpack'], /Flax weights.*needs JAX\/Flax.*from_flax=True/s],
    [['model.gguf'], /GGUF.*original Hugging Face checkpoint in safetensors/s],
  ];
  for (const [files, pattern] of cases) {
    const dir = copyWithoutWeights(TINY);
    for (const f of files) {
      // Unreadable and huge (sparse): reading it would fail or take long, as well as trip the spy.
      const p = path.join(dir, f);
      fs.writeFileSync(p, '');
      fs.truncateSync(p, 8 * 1024 ** 3);
      fs.chmodSync(p, 0o000);
    }
    const start = tf.memory().numTensors;
    await assert.rejects(loadLlama(dir), inputError('unsupported', pattern), files.join());
    assert.equal(tf.memory().numTensors, start);
    await assert.rejects(locateWeights(dir), inputError('unsupported', /loads safetensors only/));
  }
  // The PyTorch message says how to convert, naming the class from config.json.
  const dir = copyWithoutWeights(TINY);
  fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'not read');
  await assert.rejects(
    loadLlama(dir),
    inputError(
      'unsupported',
      /python -c 'from transformers import LlamaForCausalLM as M; M\.from_pretrained\(".*"\)\.save_pretrained\(".*", safe_serialization=True\)'/,
    ),
  );
  assert.deepEqual(opened, [], 'no refused file was opened');
  // A safetensors file beside the .bin wins; the .bin is still not opened.
  fs.copyFileSync(path.join(TINY, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  (await loadLlama(dir)).dispose();
  assert.deepEqual(opened, []);
});

test('folders without usable weights say what was looked for', async () => {
  const empty = copyWithoutWeights(TINY);
  await assert.rejects(
    loadLlama(empty),
    inputError(
      'file',
      /has no model weights\. Looked for model\.safetensors, or model\.safetensors\.index\.json with its shards/,
    ),
  );
  const shardsOnly = copyWithoutWeights(TINY);
  fs.copyFileSync(path.join(TINY, 'model.safetensors'), path.join(shardsOnly, 'model-00001-of-00001.safetensors'));
  await assert.rejects(
    loadLlama(shardsOnly),
    inputError('file', /index file model\.safetensors\.index\.json .* is missing/),
  );
  const renamed = copyWithoutWeights(TINY);
  fs.copyFileSync(path.join(TINY, 'model.safetensors'), path.join(renamed, 'weights.safetensors'));
  await assert.rejects(loadLlama(renamed), inputError('file', /Rename the weights file to model\.safetensors/));
  await assert.rejects(locateWeights(path.join(empty, 'nope')), inputError('file', /Cannot list the model folder/));
});

// ---------------------------------------------------------------------------------------------
// Tokenizers without tokenizer.json

const SENTENCES = [
  'The quick brown fox jumps over the lazy dog.',
  'Héllo, Wörld! Café naïve résumé — Ångström façade.',
  '日本語のテキストと中文混合 text, 한국어 too.',
  'emoji 🎉👍🏽 and 🇫🇷 flags; ZWJ 👨‍👩‍👧 family',
  "don't stop--now... (really?) [brackets] {braces} «quotes» ¿qué? 3.14 $5 100%",
  'A  B\tC\nD   e\u00a0f\u200bg',
  'ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ Ⅻ ﬁ ½ ²',
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
  '[CLS] typed [SEP] [MASK] tokens [UNK]',
];

test('vocab.txt alone (BERT-style) tokenizes exactly like tokenizer.json: ids and offsets', async () => {
  const dir = tmpDir('hf-vocab-');
  for (const f of ['vocab.txt', 'tokenizer_config.json', 'config.json'])
    fs.copyFileSync(path.join(ENCODER, f), path.join(dir, f));
  // Copied, not linked: a link that leads out of the model folder is refused (formats/files.ts).
  fs.copyFileSync(path.join(ENCODER, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  const fromJson = await HfTokenizer.load(ENCODER);
  const fromVocab = await HfTokenizer.load(dir);
  assert.equal(fromVocab.vocabSize, fromJson.vocabSize);
  assert.equal(fromVocab.unkId, fromJson.unkId);
  assert.equal(fromVocab.bosId, fromJson.bosId);
  for (const s of SENTENCES) {
    const ids = fromJson.encodeIds(s, false);
    assert.deepEqual(fromVocab.encodeIds(s, false), ids, s);
    assert.equal(fromVocab.decode(ids), fromJson.decode(ids), s);
    for (const id of ids) assert.equal(fromVocab.isSpecial(id), fromJson.isSpecial(id));
  }
  const start = tf.memory().numTensors;
  const a = await loadBert(ENCODER);
  const b = await loadBert(dir);
  try {
    for (const s of SENTENCES) {
      const x = a.tokenize(s, 128);
      assert.ok(x.tokens.some((t) => t.unknown) || x.tokens.length > 3, 'a real tokenization');
      assert.deepEqual(b.tokenize(s, 128), x, s);
    }
    const text = 'Café au lait, s’il vous plaît 🎉';
    sameTrace(await a.run(text), await b.run(text));
  } finally {
    a.dispose();
    b.dispose();
  }
  assert.equal(tf.memory().numTensors, start);

  // do_lower_case from tokenizer_config.json is honoured (the vocabulary is lower-case only).
  const cased = tmpDir('hf-vocab-cased-');
  fs.copyFileSync(path.join(ENCODER, 'vocab.txt'), path.join(cased, 'vocab.txt'));
  fs.writeFileSync(path.join(cased, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false }));
  const casedTok = await HfTokenizer.load(cased);
  assert.notDeepEqual(casedTok.encodeIds('Hello World', false), fromJson.encodeIds('Hello World', false));
  assert.deepEqual(casedTok.encodeIds('hello world', false), fromJson.encodeIds('hello world', false));
});

test('a folder with no tokenizer says what was looked for', async () => {
  const dir = tmpDir('hf-notok-');
  await assert.rejects(
    HfTokenizer.load(dir),
    inputError('file', /looked for tokenizer\.json, vocab\.txt .* and vocab\.json \+ merges\.txt/),
  );
  fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\na b\n');
  await assert.rejects(HfTokenizer.load(dir), inputError('file', /merges\.txt but no vocab\.json/));
  fs.writeFileSync(path.join(dir, 'vocab.json'), '[1,2]');
  await assert.rejects(HfTokenizer.load(dir), inputError('file', /vocab\.json is empty/));
  fs.rmSync(path.join(dir, 'merges.txt'));
  fs.rmSync(path.join(dir, 'vocab.json'));
  fs.writeFileSync(path.join(dir, 'vocab.txt'), 'a\nb\n');
  await assert.rejects(HfTokenizer.load(dir), inputError('file', /has no \[UNK\] token/));
});

// The test-size fixtures of other families (test/fixtures/hf/<family>/) carry both a tokenizer.json
// and the older vocabulary files; the tokenizer built from the latter must agree with the former.
const HF_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'hf');
for (const [family, files] of [
  ['bert', ['vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json']],
  ['distilbert', ['vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json']],
  ['gpt2', ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'config.json']],
  ['roberta', ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'config.json']],
] as const) {
  const src = path.join(HF_FIXTURES, family);
  const present =
    files.every((f) => f === 'special_tokens_map.json' || fs.existsSync(path.join(src, f))) &&
    fs.existsSync(path.join(src, 'tokenizer.json'));
  test(
    `${family} fixture: ${files[0]}${files[1] === 'merges.txt' ? ' + merges.txt' : ''} without tokenizer.json gives the same ids, pieces and offsets`,
    { skip: present ? false : `test/fixtures/hf/${family} not present` },
    async () => {
      const dir = tmpDir(`hf-${family}-`);
      for (const f of files)
        if (fs.existsSync(path.join(src, f))) fs.copyFileSync(path.join(src, f), path.join(dir, f));
      const fromJson = await HfTokenizer.load(src);
      const fromFiles = await HfTokenizer.load(dir);
      assert.equal(fromFiles.vocabSize, fromJson.vocabSize);
      assert.equal(fromFiles.bosId, fromJson.bosId);
      assert.equal(fromFiles.addBosDefault, fromJson.addBosDefault);
      let total = 0;
      for (const s of [
        ...SENTENCES,
        ' leading space',
        'trailing space ',
        'the cat sat on the mat. The Cat SAT!',
        '<|endoftext|> and <s> </s> typed',
      ]) {
        const ids = fromJson.encodeIds(s, false);
        total += ids.length;
        assert.deepEqual(fromFiles.encodeIds(s, false), ids, s);
        assert.deepEqual(fromFiles.encodeIds(s, true), fromJson.encodeIds(s, true), `${s} (with BOS)`);
        assert.deepEqual(fromFiles.encode(s), fromJson.encode(s), `${s}: tokens and offsets`);
        assert.equal(fromFiles.decode(ids), fromJson.decode(ids), s);
      }
      assert.ok(total > 100, 'the sentences were tokenized');
    },
  );
}
