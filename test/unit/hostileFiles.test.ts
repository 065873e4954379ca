// Hostile and broken files, generated at test time: links that lead out of a model folder, FIFOs,
// devices, huge declared sizes, absurd config numbers, deep JSON, quotes in folder names, NaN
// weights. Each case must give a typed error naming the file (or tensor) within a time and memory
// bound, must not read the sentinel outside the folder (fs is intercepted, and the sentinel's text
// never appears in a message), and the next ordinary run must still work.
// Over 400 lines: one case list per class of hostile input, each built in place, kept together
// with the one refusal check (time, memory, message, nothing read outside) they all go through.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
// The modules themselves (default imports), so the loaders' own calls go through the interception.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadModelFile } from '../../src/model/open/modelFiles';
import { runConfigFile } from '../../src/model/open/runConfig';
import { parseAttentionConfig } from '../../src/model/formats/attentionConfig';
import { configBound } from '../../src/model/formats/hfFolder';
import { parseSafetensors, readSafetensorsFile, writeSafetensors } from '../../src/model/formats/safetensors';
import { AttentionInputError } from '../../shared/trace';

const ROOT = path.resolve(__dirname, '..', '..');
const LLAMA = path.join(ROOT, 'test', 'fixtures', 'hf', 'llama');
const TFJS = path.join(ROOT, 'samples', 'models', 'tfjs-mha-charlm');
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-'));
const OUTSIDE = path.join(WORK, 'outside');
const SENTINEL = `SENTINEL-${process.pid}-${Math.random().toString(36).slice(2)}`;
const SECRET = path.join(OUTSIDE, 'secret.txt');

// Every path the loaders open or read, to prove nothing outside the folder was.
const touched: string[] = [];
/** Run once just before the next open: a race between the check and the open, made deterministic. */
const beforeOpen: (() => void)[] = [];
const original = { open: fsp.open, readFile: fsp.readFile, readFileSync: fs.readFileSync, openSync: fs.openSync };
before(async () => {
  await initBackend();
  fs.mkdirSync(OUTSIDE);
  fs.writeFileSync(SECRET, `${SENTINEL} the text of a file outside every model folder\n`);
  fs.copyFileSync(path.join(LLAMA, 'model.safetensors'), path.join(OUTSIDE, 'model.safetensors'));
  fs.cpSync(LLAMA, path.join(OUTSIDE, 'llama'), { recursive: true });
  fs.cpSync(TFJS, path.join(OUTSIDE, 'tfjs'), { recursive: true });
  const record = (p: unknown): void => void touched.push(String(p instanceof URL ? p.pathname : p));
  fsp.open = ((p: fs.PathLike, ...rest: unknown[]) => (
    record(p),
    beforeOpen.splice(0).forEach((f) => f()),
    (original.open as (...a: unknown[]) => unknown)(p, ...rest)
  )) as typeof fsp.open;
  fsp.readFile = ((p: fs.PathLike, ...rest: unknown[]) => (
    record(p),
    (original.readFile as (...a: unknown[]) => unknown)(p, ...rest)
  )) as typeof fsp.readFile;
  fs.readFileSync = ((p: fs.PathLike, ...rest: unknown[]) => (
    record(p),
    (original.readFileSync as (...a: unknown[]) => unknown)(p, ...rest)
  )) as typeof fs.readFileSync;
  fs.openSync = ((p: fs.PathLike, ...rest: unknown[]) => (
    record(p),
    (original.openSync as (...a: unknown[]) => unknown)(p, ...rest)
  )) as typeof fs.openSync;
});
after(() => {
  Object.assign(fsp, { open: original.open, readFile: original.readFile });
  Object.assign(fs, { readFileSync: original.readFileSync, openSync: original.openSync });
  fs.rmSync(WORK, { recursive: true, force: true });
});

function assertNothingOutsideRead(): void {
  for (const p of touched.splice(0)) {
    let real = p;
    try {
      real = fs.realpathSync(p);
    } catch {
      // gone or never existed: its name is what counts
    }
    assert.ok(
      !real.startsWith(OUTSIDE + path.sep) && !/^\/dev\//.test(real),
      `read outside the folder: ${p} (${real})`,
    );
  }
}

let n = 0;
/** A fresh copy of a fixture folder (the Llama checkpoint by default). */
function folder(src = LLAMA, name = `case${n++}`): string {
  const dir = path.join(WORK, name);
  fs.cpSync(src, dir, { recursive: true });
  return dir;
}

function replaceWithLink(file: string, target: string): void {
  fs.rmSync(file, { force: true });
  fs.symlinkSync(target, file);
}

function replaceWithFifo(file: string): void {
  fs.rmSync(file, { force: true });
  execFileSync('mkfifo', [file]);
}

/** A sparse file of `bytes` (nothing written, nothing to read: only the size check may refuse it). */
function sparse(file: string, bytes: number): void {
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, '{');
  fs.truncateSync(file, bytes);
}

const MS = 5000;
const RSS_MB = 400;

/** Runs `work`, expecting a typed refusal: code, a message matching `pattern`, in time and memory, with nothing outside read. */
async function refused(
  work: () => Promise<unknown>,
  code: AttentionInputError['code'],
  pattern: RegExp,
  what: string,
): Promise<string> {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still running after ${MS} ms`)), MS)),
  );
  let message = '';
  try {
    await Promise.race([work(), timeout]);
    assert.fail(`${what}: expected AttentionInputError('${code}'), but it succeeded`);
  } catch (e) {
    if (!(e instanceof AttentionInputError))
      throw new Error(
        `${what}: expected AttentionInputError('${code}'), got ${(e as Error)?.name}: ${(e as Error)?.message}`,
      );
    message = e.message;
    assert.equal(e.code, code, `${what}: ${e.message}`);
    assert.match(e.message, pattern, what);
  } finally {
    clearTimeout(timer);
  }
  assert.ok(!message.includes(SENTINEL), `${what}: the message repeats the outside file: ${message}`);
  assert.ok(performance.now() - t0 < MS, `${what}: took ${performance.now() - t0} ms`);
  assert.ok(
    process.memoryUsage().rss - rss0 < RSS_MB * 2 ** 20,
    `${what}: memory grew by ${(process.memoryUsage().rss - rss0) / 2 ** 20} MB`,
  );
  assertNothingOutsideRead();
  return message;
}

/** The next ordinary run of the fixture works and leaks nothing. */
async function ordinaryRunWorks(): Promise<void> {
  const tensors = tf.memory().numTensors;
  const model = await loadModelFile(path.join(LLAMA, 'config.json'));
  try {
    const trace = await model.run('Once upon a time');
    assert.ok(trace.tokens.length > 0);
    assert.ok(!trace.warnings.some((w) => /Non-finite/.test(w)), trace.warnings.join('\n'));
  } finally {
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, tensors);
  touched.length = 0;
}

const loadDir = (dir: string) => () => loadModelFile(path.join(dir, 'config.json'));

test('links that lead out of the model folder are refused, naming the link', async () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    [
      'model.safetensors',
      (d) => replaceWithLink(path.join(d, 'model.safetensors'), path.join(OUTSIDE, 'model.safetensors')),
      /"model\.safetensors" is a link to .*outside the model folder/,
    ],
    [
      'config.json',
      (d) => replaceWithLink(path.join(d, 'config.json'), SECRET),
      /config\.json is not read: "config\.json" is a link/,
    ],
    ['tokenizer.json', (d) => replaceWithLink(path.join(d, 'tokenizer.json'), SECRET), /"tokenizer\.json" is a link/],
    [
      'tokenizer_config.json',
      (d) => replaceWithLink(path.join(d, 'tokenizer_config.json'), SECRET),
      /"tokenizer_config\.json" is a link/,
    ],
    [
      'a relative link',
      (d) => replaceWithLink(path.join(d, 'tokenizer.json'), '../outside/secret.txt'),
      /"tokenizer\.json" is a link to "\.\.\/outside\/secret\.txt"/,
    ],
    [
      '/dev/zero',
      (d) => replaceWithLink(path.join(d, 'model.safetensors'), '/dev/zero'),
      /"model\.safetensors" is a link to "\/dev\/zero"/,
    ],
  ];
  for (const [what, make, pattern] of cases) {
    const dir = folder();
    make(dir);
    await refused(loadDir(dir), 'file', pattern, what);
  }
  // A shard, and a shard inside a linked folder: the index names them by plain relative names.
  for (const [shard, link, target] of [
    ['model-00001-of-00001.safetensors', 'model-00001-of-00001.safetensors', path.join(OUTSIDE, 'model.safetensors')],
    ['sub/model-00001-of-00001.safetensors', 'sub', OUTSIDE],
  ] as const) {
    const dir = folder();
    const tensors = [...parseSafetensors(new Uint8Array(fs.readFileSync(path.join(dir, 'model.safetensors')))).keys()];
    fs.rmSync(path.join(dir, 'model.safetensors'));
    if (shard === 'sub/model-00001-of-00001.safetensors')
      fs.copyFileSync(path.join(OUTSIDE, 'model.safetensors'), path.join(OUTSIDE, 'model-00001-of-00001.safetensors'));
    fs.symlinkSync(target, path.join(dir, link));
    fs.writeFileSync(
      path.join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: Object.fromEntries(tensors.map((t) => [t, shard])) }),
    );
    await refused(
      loadDir(dir),
      'file',
      new RegExp(`"${link.replace(/\./g, '\\.')}" is a link to .*outside the model folder`),
      `shard ${shard}`,
    );
  }
  await ordinaryRunWorks();
});

test('a TensorFlow.js weight shard or model.json that links out is refused', async () => {
  const dir = folder(TFJS);
  replaceWithLink(path.join(dir, 'group1-shard2of3.bin'), path.join(OUTSIDE, 'tfjs', 'group1-shard2of3.bin'));
  await refused(
    () => loadModelFile(path.join(dir, 'model.json')),
    'file',
    /group1-shard2of3\.bin listed in .*cannot be read: .*"group1-shard2of3\.bin" is a link/,
    'tfjs shard',
  );
  const zero = folder(TFJS);
  replaceWithLink(path.join(zero, 'group1-shard1of3.bin'), '/dev/zero');
  await refused(
    () => loadModelFile(path.join(zero, 'model.json')),
    'file',
    /group1-shard1of3\.bin.*is a link to "\/dev\/zero"/,
    'tfjs shard → /dev/zero',
  );
  const linked = folder(TFJS);
  replaceWithLink(path.join(linked, 'model.json'), path.join(OUTSIDE, 'tfjs', 'model.json'));
  await refused(() => loadModelFile(path.join(linked, 'model.json')), 'file', /"model\.json" is a link/, 'model.json');
  await ordinaryRunWorks();
});

test("a config's model path and input.file stay inside the config's folder, links included", async () => {
  const base = path.join(WORK, `cfg${n++}`);
  fs.mkdirSync(base);
  fs.symlinkSync(path.join(OUTSIDE, 'llama'), path.join(base, 'model'));
  fs.symlinkSync(SECRET, path.join(base, 'input.txt'));
  fs.cpSync(LLAMA, path.join(base, 'own'), { recursive: true });
  const cfg = (p: string, input: object): string =>
    JSON.stringify({ kind: 'model', architecture: 'transformer-decoder', path: p, input });
  await refused(
    () => runConfigFile(cfg('model', { text: 'hi' }), base),
    'config',
    /model folder "path" .*"model" is a link to .*outside the model folder/,
    'model path',
  );
  await refused(
    () => runConfigFile(cfg('own', { file: 'input.txt' }), base),
    'config',
    /input file .*"input\.txt" is a link/,
    'input.file',
  );
  await refused(
    () => runConfigFile(cfg('own', { file: '../outside/secret.txt' }), base),
    'file',
    /outside the config's folder/,
    'input.file with ..',
  );
  replaceWithFifo(path.join(base, 'input.txt'));
  await refused(() => runConfigFile(cfg('own', { file: 'input.txt' }), base), 'config', /FIFO/, 'input.file FIFO');
  fs.rmSync(path.join(base, 'input.txt')); // writing into the FIFO would wait for a reader
  fs.writeFileSync(path.join(base, 'input.txt'), 'Once upon a time');
  const trace = await runConfigFile(cfg('own', { file: 'input.txt' }), base);
  assert.equal(trace.text, 'Once upon a time');
  touched.length = 0;
  await ordinaryRunWorks();
});

test('FIFOs and devices are refused without hanging: only regular files are opened', async () => {
  for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
    const dir = folder();
    replaceWithFifo(path.join(dir, name));
    await refused(
      loadDir(dir),
      'file',
      new RegExp(`${name.replace('.', '\\.')}: it is a FIFO \\(named pipe\\), not a regular file`),
      `FIFO ${name}`,
    );
  }
  const tf1 = folder(TFJS);
  replaceWithFifo(path.join(tf1, 'group1-shard3of3.bin'));
  await refused(
    () => loadModelFile(path.join(tf1, 'model.json')),
    'file',
    /group1-shard3of3\.bin.*FIFO/,
    'FIFO tfjs shard',
  );
  const dir = folder();
  fs.rmSync(path.join(dir, 'model.safetensors'));
  fs.mkdirSync(path.join(dir, 'model.safetensors'));
  await refused(loadDir(dir), 'file', /model\.safetensors: it is a folder/, 'a folder named model.safetensors');
  // A device node inside the folder (needs root to create; the check is fstat's, whatever the node).
  const dev = folder();
  fs.rmSync(path.join(dev, 'model.safetensors'));
  let made = true;
  try {
    execFileSync('mknod', [path.join(dev, 'model.safetensors'), 'c', '1', '5'], { stdio: 'ignore' });
  } catch {
    made = false;
  }
  if (made) await refused(loadDir(dev), 'file', /model\.safetensors: it is a device/, 'a device node');
  await ordinaryRunWorks();
});

test('size caps are checked before reading, and a header cannot declare more than its file holds', async () => {
  const cases: [string, number, AttentionInputError['code'], RegExp][] = [
    ['config.json', 5 * 2 ** 20, 'file', /config\.json is 5242880 bytes, more than the 4194304-byte limit/],
    ['tokenizer.json', 200 * 2 ** 20, 'file', /tokenizer\.json is 209715200 bytes, more than the/],
    ['tokenizer_config.json', 200 * 2 ** 20, 'file', /tokenizer_config\.json is 209715200 bytes/],
  ];
  for (const [name, bytes, code, pattern] of cases) {
    const dir = folder();
    sparse(path.join(dir, name), bytes);
    await refused(loadDir(dir), code, pattern, `${name} of ${bytes} bytes`);
  }
  const idx = folder();
  fs.rmSync(path.join(idx, 'model.safetensors'));
  sparse(path.join(idx, 'model.safetensors.index.json'), 100 * 2 ** 20);
  await refused(
    loadDir(idx),
    'file',
    /index\.json is 104857600 bytes, more than the 67108864-byte limit for a shard index/,
    'index',
  );
  const mj = folder(TFJS);
  sparse(path.join(mj, 'model.json'), 100 * 2 ** 20);
  await refused(
    () => loadModelFile(path.join(mj, 'model.json')),
    'file',
    /model\.json is 104857600 bytes/,
    'model.json',
  );
  const big = JSON.stringify({ kind: 'hand-built', tokens: ['a'], pad: 'x'.repeat(9 * 2 ** 20) });
  assert.match(parseAttentionConfig(big).problems[0]!.message, /more than the 8388608 accepted; it is not parsed/);
  const many = JSON.stringify({
    kind: 'hand-built',
    tokens: Array.from({ length: 20_000 }, (_, i) => `t${i}`),
    embeddings: [[1]],
    W_q: [[1]],
    W_k: [[1]],
    W_v: [[1]],
  });
  assert.ok(parseAttentionConfig(many).problems.some((p) => /lists 20000 tokens; at most 2048/.test(p.message)));
  // A tensor that declares a billion floats in a 100-byte file; and a million tensors in one header.
  const st = folder();
  const header = JSON.stringify({ w: { dtype: 'F32', shape: [1_000_000_000], data_offsets: [0, 4_000_000_000] } });
  const file = Buffer.alloc(8 + header.length + 100);
  file.writeBigUInt64LE(BigInt(header.length));
  file.write(header, 8);
  fs.writeFileSync(path.join(st, 'model.safetensors'), file);
  await refused(
    loadDir(st),
    'file',
    /ends at byte 4000000000 of the data section, which has only 100 bytes/,
    'declared size',
  );
  const million =
    '{' +
    Array.from({ length: 1_000_000 }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`).join(',') +
    '}';
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(million)));
  fs.writeFileSync(path.join(st, 'model.safetensors'), Buffer.concat([head, Buffer.from(million)]));
  await refused(
    () => readSafetensorsFile(path.join(st, 'model.safetensors')),
    'file',
    /lists more than 65536 tensors/,
    'a million tensors',
  );
  await ordinaryRunWorks();
});

/** A copy of the fixture with config.json edited. */
function withConfig(edit: (c: Record<string, unknown>) => void): string {
  const dir = folder();
  const c = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit(c);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c));
  return dir;
}

test('numbers from files are checked against bounds and the tensors present before anything is allocated', async () => {
  for (const [key, value] of [
    ['num_hidden_layers', 1e9],
    ['num_attention_heads', 1e9],
    ['num_key_value_heads', 1e9],
    ['hidden_size', 1e9],
    ['vocab_size', 1e12],
    ['intermediate_size', 2 ** 40],
    ['max_position_embeddings', 1e15],
    ['bos_token_id', 4e9],
  ] as const) {
    await refused(
      loadDir(withConfig((c) => (c[key] = value))),
      'config',
      new RegExp(`"${key}" is ${value}, but at most \\d+ is accepted`),
      `${key} = ${value}`,
    );
  }
  // Within bounds but not what the file holds: the one weight check names the missing tensor.
  await refused(
    loadDir(withConfig((c) => (c['num_hidden_layers'] = 3))),
    'file',
    /has no tensor "model\.layers\.2\./,
    '3 layers in a 2-layer file',
  );
  for (const id of [4e9, -1, 1.5]) {
    const dir = folder();
    const tok = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as {
      model: { vocab: Record<string, number> };
    };
    tok.model.vocab[Object.keys(tok.model.vocab)[5]!] = id;
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tok));
    await refused(
      loadDir(dir),
      'file',
      new RegExp(
        `tokenizer\\.json: token .* has id ${id}, but with \\d+ tokens listed ids must be integers from 0 to \\d+`,
      ),
      `token id ${id}`,
    );
  }
  await ordinaryRunWorks();
});

test('deeply nested or broken JSON is a typed error that never repeats the file', async () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  for (const [name, code] of [
    ['config.json', 'file'],
    ['tokenizer.json', 'file'],
    ['tokenizer_config.json', 'file'],
  ] as const) {
    const dir = folder();
    fs.writeFileSync(path.join(dir, name), deep);
    await refused(
      loadDir(dir),
      code,
      new RegExp(`${name.replace('.', '\\.')} nests more than 200 levels deep`),
      `deep ${name}`,
    );
    fs.writeFileSync(path.join(dir, name), `{"a": ${SENTINEL}}`);
    await refused(
      loadDir(dir),
      code,
      new RegExp(`${name.replace('.', '\\.')} is not valid JSON: InvalidSymbol at line 1, column 7`),
      `broken ${name}`,
    );
  }
  const idx = folder();
  fs.rmSync(path.join(idx, 'model.safetensors'));
  fs.writeFileSync(path.join(idx, 'model.safetensors.index.json'), deep);
  await refused(loadDir(idx), 'file', /index\.json nests more than 200 levels deep/, 'deep index');
  const mj = folder(TFJS);
  fs.writeFileSync(path.join(mj, 'model.json'), deep);
  await refused(
    () => loadModelFile(path.join(mj, 'model.json')),
    'file',
    /model\.json nests more than 200 levels deep/,
    'deep model.json',
  );
  assert.match(parseAttentionConfig('{"kind": ' + deep + '}').problems[0]!.message, /nests more than 200 levels deep/);
  await ordinaryRunWorks();
});

test('the pickle refusal suggests a command that no folder name can break out of', async () => {
  const name = `it's "q" $(touch pwned) \`touch pwned2\`; echo x \\ \u202e end`;
  const dir = path.join(WORK, name);
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(LLAMA, 'config.json'), path.join(dir, 'config.json'));
  fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'never read');
  const message = await refused(loadDir(dir), 'unsupported', /pickle/, 'quotes in the folder name');
  const line = message.split('\n').find((l) => l.startsWith('python -c '))!;
  assert.ok(!/[\u202e\u2028\u2029]/.test(line), 'no bidi or line-separator characters in the command');
  // The shell must hand python one argument whose string literals are exactly the folder's path.
  const out = path.join(WORK, 'argv.txt');
  execFileSync('/bin/sh', ['-c', `python() { printf '%s' "$2" > '${out}'; }; ${line}`], { cwd: WORK });
  assert.ok(
    !fs.existsSync(path.join(WORK, 'pwned')) && !fs.existsSync(path.join(WORK, 'pwned2')),
    'the command ran nothing else',
  );
  const literals = execFileSync(
    '/usr/bin/python3',
    [
      '-c',
      'import ast,sys,json; t=ast.parse(open(sys.argv[1]).read()); print(json.dumps([n.value for n in ast.walk(t) if isinstance(n, ast.Constant) and isinstance(n.value, str)]))',
      out,
    ],
    { encoding: 'utf8' },
  );
  assert.deepEqual(JSON.parse(literals), [path.resolve(dir), path.resolve(dir)]);
  touched.length = 0;
});

/** The fixture with one weight's first value replaced. */
function withWeight(value: number): { dir: string; name: string } {
  const dir = folder();
  const tensors = parseSafetensors(new Uint8Array(fs.readFileSync(path.join(dir, 'model.safetensors'))));
  const name = 'model.layers.1.self_attn.k_proj.weight';
  const data = Float32Array.from(tensors.get(name)!.data);
  data[3] = value;
  const out = Object.fromEntries(
    [...tensors].map(([k, t]) => [k, { shape: t.shape, data: k === name ? data : t.data }]),
  );
  fs.writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(out));
  return { dir, name };
}

test('NaN, ±Infinity and overflowing weights are refused at load, naming the tensor and the index', async () => {
  for (const [value, shown] of [
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [-Infinity, '-Infinity'],
    [1e38, '1.00e\\+38'],
  ] as const) {
    const { dir, name } = withWeight(value);
    await refused(
      loadDir(dir),
      'file',
      new RegExp(
        `tensor ${name
          .replace(/^model\./, '')
          .replace(/\.weight$/, '')
          .replace(/\./g, '\\.')} has 1 unusable value .*the first is ${shown} at \\[0, 3\\]`,
      ),
      `weight ${value}`,
    );
  }
  const tfDir = folder(TFJS);
  const shard = path.join(tfDir, 'group1-shard1of3.bin');
  const bytes = fs.readFileSync(shard);
  bytes.writeFloatLE(NaN, 4 * 33);
  fs.writeFileSync(shard, bytes);
  await refused(
    () => loadModelFile(path.join(tfDir, 'model.json')),
    'file',
    /weight "token_embedding\/embeddings" has 1 unusable value .*NaN at \[1, 1\]/,
    'tfjs NaN',
  );
  await ordinaryRunWorks();
});

test('a run whose numbers overflow names the stage where NaN or Infinity first appears', async () => {
  const big = 1e30;
  const text = JSON.stringify({
    kind: 'hand-built',
    tokens: ['a', 'b'],
    embeddings: [
      [big, 1],
      [1, big],
    ],
    W_q: [
      [big, 0],
      [0, 1],
    ],
    W_k: [
      [1, 0],
      [0, 1],
    ],
    W_v: [
      [1, 0],
      [0, 1],
    ],
  });
  const trace = await runConfigFile(text, WORK);
  assert.ok(
    trace.warnings.some((w) => /^Non-finite numbers: stage ".+" \(.+\) has \d+ (NaN|infinite) value/.test(w)),
    trace.warnings.join('\n'),
  );
  const fine = await runConfigFile(text.replace(/1e\+30/g, '2'), WORK);
  assert.ok(!fine.warnings.some((w) => /Non-finite/.test(w)));
  touched.length = 0;
});

test('a Hugging Face cache snapshot may link into its own blobs/, and nowhere else', async () => {
  const repo = path.join(WORK, 'hub', 'models--org--tiny');
  const snap = path.join(repo, 'snapshots', 'abc123');
  fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
  fs.mkdirSync(snap, { recursive: true });
  for (const f of fs.readdirSync(LLAMA)) {
    fs.copyFileSync(path.join(LLAMA, f), path.join(repo, 'blobs', `sha-${f}`));
    fs.symlinkSync(`../../blobs/sha-${f}`, path.join(snap, f));
  }
  const model = await loadModelFile(path.join(snap, 'config.json'));
  model.dispose();
  replaceWithLink(path.join(snap, 'tokenizer.json'), SECRET);
  await refused(
    () => loadModelFile(path.join(snap, 'config.json')),
    'file',
    /"tokenizer\.json" is a link to .*outside the model folder .*models--org--tiny/,
    'snapshot link out of the repo',
  );
  await ordinaryRunWorks();
});

test('a shard listed under two spellings is one shard, read once; a LICENSE that is a FIFO or links out is not read', async () => {
  const dir = folder();
  const tensors = [...parseSafetensors(new Uint8Array(fs.readFileSync(path.join(dir, 'model.safetensors')))).keys()];
  fs.renameSync(path.join(dir, 'model.safetensors'), path.join(dir, 'model-00001-of-00001.safetensors'));
  const spell = (i: number): string =>
    i % 2 ? './model-00001-of-00001.safetensors' : 'model-00001-of-00001.safetensors';
  fs.writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ weight_map: Object.fromEntries(tensors.map((t, i) => [t, spell(i)])) }),
  );
  replaceWithFifo(path.join(dir, 'LICENSE'));
  touched.length = 0;
  const model = await loadModelFile(path.join(dir, 'config.json'));
  model.dispose();
  const opens = touched.filter((p) => p.endsWith('model-00001-of-00001.safetensors')).length;
  assert.equal(opens, 2, 'the shard is opened once for its header check and once for its data');
  replaceWithLink(path.join(dir, 'LICENSE'), SECRET);
  touched.length = 0;
  (await loadModelFile(path.join(dir, 'config.json'))).dispose();
  assertNothingOutsideRead();
});

test('the CLI (--model FOLDER) gives the same refusal, exits 1, and runs the next folder', () => {
  const cli = (dir: string) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts'), '--model', dir, 'Once upon a time'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
  const linked = folder();
  replaceWithLink(path.join(linked, 'tokenizer.json'), SECRET);
  // One refusal and one ordinary run (each spawn starts tsx and the wasm backend: seconds); the other cases share its loaders.
  const r = cli(linked);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^error: .*"tokenizer\.json" is a link to .*outside the model folder/m);
  assert.ok(!(r.stdout + r.stderr).includes(SENTINEL));
  const ok = cli(LLAMA);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /on \d+ tokens/);
});

test('every fixture family refuses an absurd count in each bounded config field, quickly', async () => {
  const HF = path.join(ROOT, 'test', 'fixtures', 'hf');
  for (const family of fs.readdirSync(HF).filter((f) => fs.existsSync(path.join(HF, f, 'config.json')))) {
    const cfg = JSON.parse(fs.readFileSync(path.join(HF, family, 'config.json'), 'utf8')) as Record<string, unknown>;
    // The first field of each bounded kind (layer count, head count, width, …): the bound is per kind.
    const bounded = Object.keys(cfg).filter((k) => typeof cfg[k] === 'number' && configBound(k).max < 1e9);
    const keys = bounded.filter((k, i) => bounded.findIndex((j) => configBound(j).what === configBound(k).what) === i);
    let refusals = 0;
    for (const key of keys) {
      const dir = folder(path.join(HF, family));
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, [key]: 1e9 }));
      const t0 = performance.now();
      try {
        // A family that does not read the field (BART reads encoder_layers, not num_hidden_layers) loads as before.
        (await loadModelFile(path.join(dir, 'config.json'))).dispose();
      } catch (e) {
        assert.ok(
          e instanceof AttentionInputError &&
            e.code === 'config' &&
            e.message.includes(`"${key}" is 1000000000, but at most`),
          `${family} ${key}: ${(e as Error).message}`,
        );
        refusals++;
      }
      assert.ok(performance.now() - t0 < MS, `${family} ${key}: ${performance.now() - t0} ms`);
      fs.rmSync(dir, { recursive: true });
    }
    assert.ok(refusals > 0 || keys.length === 0, `${family}: no bounded field was refused`);
  }
  touched.length = 0;
  await ordinaryRunWorks();
});

test('a folder swapped for a link between the check and the open is caught on the opened handle', async () => {
  const dir = folder();
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.copyFileSync(path.join(dir, 'model.safetensors'), path.join(dir, 'sub', 'model.safetensors'));
  beforeOpen.push(() => {
    fs.renameSync(path.join(dir, 'sub'), path.join(dir, 'sub-was'));
    fs.symlinkSync(OUTSIDE, path.join(dir, 'sub'));
  });
  await assert.rejects(
    readSafetensorsFile(path.join(dir, 'sub', 'model.safetensors'), { folder: dir }),
    (e: unknown) =>
      e instanceof AttentionInputError && e.code === 'file' && /changed while it was being opened/.test(e.message),
  );
  touched.length = 0; // the outside file was opened (that is the race) but not read: the handle was refused
  await ordinaryRunWorks();
});
