// Qwen2, the proof that a family differing from Llama only in configuration is a config and a
// weight map: its config reader's errors, its sliding-window rule, the q/k/v biases the weight
// map requires (checked before anything is allocated), the one family list, and its words.
// The numbers against torch are in hfFamilies.test.ts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadQwen2, parseQwen2Config } from '../../src/model/families/qwen2/model';
import { HF_FAMILIES, hfFamilyOf, SUPPORTED_MODEL_TYPES } from '../../src/model/formats/hfFolder';
import { readSafetensorsFile, writeSafetensors } from '../../src/model/formats/safetensors';
import { AttentionInputError } from '../../shared/trace';

const DIR = path.join(__dirname, '..', 'fixtures', 'hf', 'qwen2');
const CONFIG = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>;

before(async () => {
  await initBackend();
});

const err = (raw: unknown): string => {
  try {
    parseQwen2Config(raw, 'my/config.json');
  } catch (e) {
    assert.ok(e instanceof AttentionInputError);
    return `${e.code}: ${e.message}`;
  }
  return 'no error';
};

test('config: Qwen2 defaults, biases on q/k/v, no start token; clear errors', () => {
  const c = parseQwen2Config(CONFIG);
  assert.equal(c.qkvBias, true);
  assert.equal(c.startToken, false);
  assert.equal(c.ropeTheta, 1e6);
  assert.equal(c.tieEmbeddings, true);
  const bare = parseQwen2Config({
    model_type: 'qwen2',
    hidden_size: 8,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    intermediate_size: 16,
    vocab_size: 10,
  });
  assert.equal(bare.maxPositions, 32768, "Qwen2Config's default max_position_embeddings");
  assert.equal(bare.ropeTheta, 10000, "Qwen2Config's default rope_theta");
  assert.equal(bare.numKvHeads, 2, 'kv heads default to the query heads');
  // Qwen2Config's rule: with use_sliding_window, layers from max_window_layers on see a window.
  assert.deepEqual(parseQwen2Config({ ...CONFIG, use_sliding_window: true }).windows, [undefined, 4]);
  assert.deepEqual(
    parseQwen2Config(CONFIG).windows,
    [undefined, undefined],
    'use_sliding_window false: full causal attention',
  );
  assert.match(err({ ...CONFIG, num_key_value_heads: 3 }), /^config: .*not a multiple of num_key_value_heads 3/);
  assert.match(
    err({ ...CONFIG, model_type: 'llama', architectures: ['LlamaForCausalLM'] }),
    /^unsupported: .*"llama" model; this loader reads Qwen2 models \(model_type "qwen2"\)/,
  );
  assert.match(err({ ...CONFIG, hidden_act: 'gelu' }), /^unsupported: .*Qwen2 uses "silu"/);
});

test('the one family list knows qwen2 by model_type and by architecture', () => {
  assert.equal(HF_FAMILIES.qwen2.role, 'decoder');
  assert.equal(hfFamilyOf(CONFIG, 'config.json'), 'qwen2');
  assert.equal(hfFamilyOf({ architectures: ['Qwen2ForCausalLM'] }, 'config.json'), 'qwen2');
  assert.match(SUPPORTED_MODEL_TYPES, /qwen2/);
});

test('weights: a missing q_proj bias or a wrong-shaped one fails before any tensor is allocated', async () => {
  const tensors = await readSafetensorsFile(path.join(DIR, 'model.safetensors'));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'qwen2-'));
  try {
    cpSync(DIR, tmp, { recursive: true });
    const write = (edit: (m: Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>) => void): void => {
      const m = new Map(
        [...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, shape: [...t.shape], data: t.data }]),
      );
      edit(m);
      writeFileSync(path.join(tmp, 'model.safetensors'), writeSafetensors(Object.fromEntries(m)));
    };
    const start = tf.memory().numTensors;
    write((m) => m.delete('model.layers.1.self_attn.k_proj.bias'));
    await assert.rejects(
      loadQwen2(tmp),
      (e: unknown) =>
        e instanceof AttentionInputError &&
        e.code === 'file' &&
        /k_proj\.bias/.test(e.message) &&
        /kv_heads·head_dim, 16/.test(e.message),
    );
    write((m) =>
      m.set('model.layers.0.self_attn.q_proj.bias', { dtype: 'F32', shape: [8], data: new Float32Array(8) }),
    );
    await assert.rejects(
      loadQwen2(tmp),
      (e: unknown) =>
        e instanceof AttentionInputError &&
        e.code === 'shape' &&
        /q_proj\.bias is 8 but heads·head_dim is 32/.test(e.message),
    );
    assert.equal(tf.memory().numTensors, start, 'failed loads allocate nothing');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a run says what is Qwen2 about it, shows K/V per shared head, and leaks no tensors', async () => {
  const start = tf.memory().numTensors;
  const model = await loadQwen2(DIR);
  try {
    const trace = await model.run('The quick fox', { topK: 3 });
    const qkv = trace.stages.find((s) => s.id === 'L0.qkv')!;
    assert.match(qkv.explanation, /Qwen2 adds a learned bias/);
    assert.match(qkv.formula, /b_Q/);
    assert.deepEqual([...qkv.tensors.find((t) => t.name === 'K')!.shape], [2, trace.tokens.length, 8]);
    assert.match(trace.stages[0]!.explanation, /Qwen2 adds no start token/);
    assert.equal(trace.predictions![0]!.top.length, 3);
    const short = await model.run('The quick brown fox jumps', { maxTokens: 2 });
    assert.equal(short.tokens.length, 2);
    assert.ok(
      short.warnings.some((w) => /truncated to 2 tokens \(maxTokens is 2\)/.test(w)),
      short.warnings.join('; '),
    );
  } finally {
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, start);
});

test('use_sliding_window: layers from max_window_layers on attend only inside the window, drawn as the mask', async () => {
  const start = tf.memory().numTensors;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'qwen2-window-'));
  try {
    cpSync(DIR, tmp, { recursive: true });
    writeFileSync(path.join(tmp, 'config.json'), JSON.stringify({ ...CONFIG, use_sliding_window: true }));
    const full = await loadQwen2(DIR);
    const windowed = await loadQwen2(tmp);
    try {
      const text = 'The quick fox jumps over the lazy dog';
      const [a, b] = [await full.run(text), await windowed.run(text)];
      const T = a.tokens.length;
      assert.ok(T > 5, 'long enough for the window of 4 to matter');
      const weights = (tr: typeof a, l: number) =>
        tr.stages.find((s) => s.id === `L${l}.weights`)!.tensors.find((x) => x.name === 'weights')!.data;
      assert.deepEqual(
        [...weights(b, 0)],
        [...weights(a, 0)],
        'layer 0 (below max_window_layers) keeps full causal attention',
      );
      const w1 = weights(b, 1);
      const mask = b.stages.find((s) => s.id === 'L1.scores')!.tensors.find((x) => x.name === 'mask')!.data;
      for (let h = 0; h < 4; h++) {
        for (let i = 0; i < T; i++) {
          let sum = 0;
          for (let j = 0; j < T; j++) {
            const inside = j <= i && i - j < 4;
            assert.equal(mask[i * T + j], inside ? 1 : 0, `mask at (${i}, ${j})`);
            const w = w1[(h * T + i) * T + j]!;
            if (!inside) assert.equal(w, 0, `head ${h}: query ${i} gives key ${j} no weight outside the window`);
            sum += w;
          }
          assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i} sums to 1`);
        }
      }
      assert.notDeepEqual([...w1], [...weights(a, 1)], 'the window changes layer 1');
    } finally {
      full.dispose();
      windowed.dispose();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  assert.equal(tf.memory().numTensors, start);
});
