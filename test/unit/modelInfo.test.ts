// The panel's model info: what a Hugging Face folder's config.json and files say (positional scheme,
// context, vocabulary, files and sizes, credit), and the rows the panel shows, for the built-in
// English encoder (BERT) and TinyStories (Llama, grouped-query), against their own files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/model/runtime/backend';
import { builtinEnglishEncoderDir, loadBert } from '../../src/model/families/bert/model';
import { builtinTinyStoriesDir, loadLlama } from '../../src/model/families/llama/model';
import { contextOf, folderDetails, positionalScheme } from '../../src/model/open/modelDetails';
import { byteSize, modelFiles, modelInfoRows } from '../../shared/modelInfo';

test('the positional scheme and context under each family’s names', () => {
  assert.equal(positionalScheme({ model_type: 'llama', rope_theta: 500000 }), 'rotary (RoPE), θ = 500000');
  assert.equal(
    positionalScheme({ model_type: 'qwen2', rope_theta: 1e6, rope_scaling: { type: 'yarn' } }),
    'rotary (RoPE), θ = 1000000 with rope_scaling',
  );
  assert.equal(positionalScheme({ model_type: 'gpt_neox', rotary_pct: 0.25 }), 'rotary (RoPE), θ = 10000');
  assert.equal(positionalScheme({ model_type: 'bert' }), 'learned absolute (added to the embeddings)');
  assert.equal(positionalScheme({ model_type: 'gpt2' }), 'learned absolute (added to the embeddings)');
  assert.equal(positionalScheme({ model_type: 'marian' }), 'sinusoidal (fixed, added to the embeddings)');
  assert.match(positionalScheme({ model_type: 't5' })!, /^relative position bias/);
  assert.equal(positionalScheme({ model_type: 'something-else' }), undefined, 'unknown: not guessed');
  assert.equal(contextOf({ n_positions: 1024 }), 1024);
  assert.equal(contextOf({ max_position_embeddings: 512, n_positions: 7 }), 512);
  assert.equal(contextOf({ max_position_embeddings: -1 }), undefined);
  assert.equal(byteSize(649), '649 B');
  assert.equal(byteSize(2626168), '2.50 MB');
});

test('the English encoder’s details are its config’s and its folder’s', async () => {
  const dir = builtinEnglishEncoderDir();
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number>;
  const d = await folderDetails(dir, raw, raw.vocab_size!);
  assert.equal(d.vocabulary, 4044);
  assert.equal(d.context, 128);
  assert.equal(d.positions, 'learned absolute (added to the embeddings)');
  assert.match(d.credit ?? '', /^English encoder: a small BERT trained here/);
  const names = fs
    .readdirSync(dir)
    .filter((n) => fs.statSync(path.join(dir, n)).isFile())
    .sort();
  assert.deepEqual(
    d.files,
    names.map((name) => ({ name, bytes: fs.statSync(path.join(dir, name)).size })),
  );
});

test('a loaded model’s trace carries the details; the panel’s rows say them', async () => {
  await initBackend();
  const bert = await loadBert(builtinEnglishEncoderDir());
  const llama = await loadLlama(builtinTinyStoriesDir());
  try {
    const b = await bert.run('The cat sat.');
    const rows = Object.fromEntries(modelInfoRows(b).map((r) => [r.label, r.value]));
    assert.equal(rows['family'], b.model.family);
    assert.equal(rows['heads'], '4');
    assert.equal(rows['key/value heads'], '4 (one per query head)');
    assert.equal(rows['width d_model'], '128');
    assert.equal(rows['vocabulary'], '4,044 tokens');
    assert.equal(rows['context'], '128 positions');
    assert.equal(rows['parameters'], b.model.parameters!.toLocaleString('en-US'));
    assert.ok(modelFiles(b).some((f) => f.label === 'model.safetensors'));

    const l = await llama.run('Tom saw a big dog.');
    const lr = Object.fromEntries(modelInfoRows(l).map((r) => [r.label, r.value]));
    assert.equal(lr['key/value heads'], '4 (grouped-query: 2 query heads share each)');
    assert.equal(lr['positional scheme'], 'rotary (RoPE), θ = 10000');
    assert.equal(lr['licence'], 'Apache-2.0');
    assert.equal(lr['parameters'], '656,000');
  } finally {
    bert.dispose();
    llama.dispose();
  }
});
