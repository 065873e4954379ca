// Users' model files: the loader is chosen from the file itself (config.json's model_type, or a
// TensorFlow.js model.json), unsupported families are named, and the worker's cache reloads a
// checkpoint that changed on disk and frees the one it replaces.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { hfFamilyOf, loadModelFile, ModelFileCache } from '../../src/model/open/modelFiles';
import { AttentionInputError } from '../../shared/trace';

const ROOT = path.resolve(__dirname, '..', '..');
const HF = path.join(ROOT, 'test', 'fixtures', 'hf');

before(async () => {
  await initBackend();
});

test('every fixture family loads through its config.json and reports its family', async () => {
  const expected: Record<string, string> = {
    llama: 'llama',
    gpt2: 'gpt2',
    bert: 'bert',
    distilbert: 'distilbert',
    roberta: 'roberta',
    marian: 'marian',
    qwen2: 'qwen2',
  };
  for (const [dir, family] of Object.entries(expected)) {
    const before = tf.memory().numTensors;
    const model = await loadModelFile(path.join(HF, dir, 'config.json'));
    try {
      assert.equal(model.info.family, family, dir);
      const trace = await model.run('Hello there');
      assert.ok(
        trace.stages.some((s) => s.tensors.some((t) => t.name === 'weights')),
        `${dir} shows attention weights`,
      );
    } finally {
      model.dispose();
    }
    assert.equal(tf.memory().numTensors, before, `${dir} leaks no tensors`);
  }
});

test('a TensorFlow.js model.json goes to the layers loader', async () => {
  const model = await loadModelFile(path.join(ROOT, 'samples', 'models', 'tfjs-mha-charlm', 'model.json'));
  try {
    const trace = await model.run('once upon a time');
    assert.ok(trace.stages.some((s) => s.tensors.some((t) => t.name === 'weights')));
  } finally {
    model.dispose();
  }
});

test('unsupported or unrecognisable files get messages that say what is supported', async () => {
  const err = (raw: unknown): string => {
    try {
      hfFamilyOf(raw, 'config.json');
    } catch (e) {
      assert.ok(e instanceof AttentionInputError);
      return `${e.code}: ${e.message}`;
    }
    return 'ok';
  };
  assert.match(
    err({ model_type: 'mamba' }),
    /^unsupported: .*"mamba".*llama, gpt2, bert, distilbert, roberta, xlm-roberta, marian/,
  );
  assert.match(err({ architectures: ['T5ForConditionalGeneration'] }), /^unsupported: .*T5ForConditionalGeneration/);
  assert.equal(err({ architectures: ['LlamaForCausalLM'] }), 'ok');
  assert.match(err([1, 2]), /^config: .*not a JSON object/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-modelfile-'));
  try {
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ hidden_size: 8 }));
    await assert.rejects(
      loadModelFile(path.join(dir, 'config.json')),
      (e: unknown) =>
        e instanceof AttentionInputError &&
        /neither a Hugging Face config\.json.*nor a TensorFlow\.js model\.json/.test(e.message),
    );
    writeFileSync(path.join(dir, 'config.json'), '{"model_type": "llama",');
    await assert.rejects(
      loadModelFile(path.join(dir, 'config.json')),
      (e: unknown) => e instanceof AttentionInputError && /not valid JSON/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the cache keeps one model, reloads it when a file changes, and frees what it replaces', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-cache-'));
  cpSync(path.join(HF, 'gpt2'), dir, { recursive: true });
  const file = path.join(dir, 'config.json');
  const before = tf.memory().numTensors;
  const cache = new ModelFileCache();
  try {
    const a = await cache.get(file);
    assert.equal(await cache.get(file), a, 'same files: same model');
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(dir, 'model.safetensors'), later, later);
    const b = await cache.get(file);
    assert.notEqual(b, a, 'a re-saved checkpoint is loaded again');
    const llama = await cache.get(path.join(HF, 'llama', 'config.json'));
    assert.equal(llama.info.family, 'llama');
    cache.dispose();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(tf.memory().numTensors, before, 'replaced and disposed models free their weights');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
