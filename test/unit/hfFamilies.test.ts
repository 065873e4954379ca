// Every Hugging Face family we load, against an independent torch forward pass: random-weight
// checkpoints in the exact Hub layout of each family (test/fixtures/hf/<family>/, written with
// reference.json by scripts/reference/hf_families.py) are loaded with our loaders and run on the same
// text; token ids, every attention tensor of every layer and head, every hidden state and the logits
// must match the torch float64 numbers within 1e-5 relative. Load + run + dispose must leak no tensor.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadBert } from '../../src/model/families/bert/model';
import { loadEncoderDecoder } from '../../src/model/families/marian/model';
import { loadGpt2 } from '../../src/model/families/gpt2/model';
import { loadLlama } from '../../src/model/families/llama/model';
import { loadQwen2 } from '../../src/model/families/qwen2/model';
import type { AttentionModel } from '../../src/model/model';
import { readSafetensorsFile } from '../../src/model/formats/safetensors';
import type { Trace } from '../../shared/trace';
import { assertAttentionStages, assertClose, decodeArr, stage, t, type Arr, type AttentionArrs } from './fixtureTools';

const HF = path.join(__dirname, '..', 'fixtures', 'hf');
const dir = (family: string): string => path.join(HF, family);

interface Reference<C> {
  family: string;
  dtype: 'F32' | 'F16' | 'BF16';
  kv_head_of?: number[];
  cases: C[];
}
type Layer<K extends string> = AttentionArrs & Record<K, Arr>;
interface DecoderOnlyCase {
  text: string;
  ids: number[];
  embedding: Arr;
  /** GPT-2 also has attn_residual (x + attention output). */
  layers: (Layer<'residual' | 'input' | 'hidden'> & Partial<Record<'attn_residual', Arr>>)[];
  final: Arr;
  logit_rows: number[];
  logits: Arr;
}
interface EncoderCase {
  text: string;
  ids: number[];
  positions: number[];
  embedding: Arr;
  layers: Layer<'attn_hidden' | 'hidden'>[];
  mlm_hidden: Arr;
  logit_rows: number[];
  logits: Arr;
}
interface MarianCase {
  text: string;
  ids: number[];
  output_ids: number[];
  decoder_input_ids: number[];
  encoder: { embedding: Arr; layers: Layer<'attn_hidden' | 'hidden'>[] };
  decoder: {
    embedding: Arr;
    layers: { self: AttentionArrs; cross: AttentionArrs; self_hidden: Arr; cross_hidden: Arr; hidden: Arr }[];
  };
  logits: Arr;
}

function reference<C>(family: string): Reference<C> {
  return JSON.parse(fs.readFileSync(path.join(dir(family), 'reference.json'), 'utf8')) as Reference<C>;
}

const close = (trace: Trace, id: string, name: string, arr: Arr, what: string): void => {
  const x = t(stage(trace, id), name);
  assert.deepEqual([...x.shape], arr.shape, `${what}: shape`);
  assertClose(x.data, decodeArr(arr), what);
};

/** Rows `rows` of a [T × V] logits matrix against the reference rows. */
function closeRows(logits: Float32Array, V: number, rows: readonly number[], ref: Arr, what: string): void {
  assert.deepEqual(ref.shape, [rows.length, V], `${what}: reference shape`);
  const got = new Float32Array(rows.length * V);
  rows.forEach((r, i) => got.set(logits.subarray(r * V, (r + 1) * V), i * V));
  assertClose(got, decodeArr(ref), what);
}

/** The reference's attention is far from uniform, so matching it is a real check. */
function assertPeaked(layers: readonly { weights: Arr }[], what: string): void {
  let max = 0;
  for (const l of layers) for (const v of decodeArr(l.weights)) max = Math.max(max, v);
  assert.ok(max > 0.5, `${what}: some head puts more than half its weight on one token (max ${max})`);
}

/** Loads, runs every case, disposes; the tensor count must be back where it started. */
async function withModel<M extends AttentionModel>(
  load: () => Promise<M>,
  body: (model: M) => Promise<void>,
): Promise<void> {
  const start = tf.memory().numTensors;
  const model = await load();
  try {
    await body(model);
  } finally {
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, start, 'load + run + dispose leaves tf.memory().numTensors unchanged');
}

before(async () => {
  await initBackend();
});

test('every fixture folder has the Hugging Face files and the stored dtype the reference names', async () => {
  const expected: Record<string, string[]> = {
    llama: ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'],
    bert: [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'special_tokens_map.json',
      'vocab.txt',
    ],
    distilbert: [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'special_tokens_map.json',
      'vocab.txt',
    ],
    roberta: [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.json',
      'merges.txt',
    ],
    gpt2: ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt'],
    marian: ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json'],
    qwen2: ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt'],
  };
  const dtypes = new Set<string>();
  for (const [family, files] of Object.entries(expected)) {
    for (const f of files) assert.ok(fs.existsSync(path.join(dir(family), f)), `${family}/${f}`);
    const ref = reference<unknown>(family);
    assert.equal(ref.family, family);
    const tensors = await readSafetensorsFile(path.join(dir(family), 'model.safetensors'));
    const stored = new Set([...tensors.values()].map((x) => x.dtype));
    assert.deepEqual([...stored], [ref.dtype], `${family}: every tensor stored as ${ref.dtype}`);
    dtypes.add(ref.dtype);
  }
  assert.ok(
    dtypes.has('F16') && dtypes.has('BF16') && dtypes.has('F32'),
    'F32, F16 and BF16 checkpoints are all exercised',
  );
});

test('Llama (GQA, RoPE, BF16 weights): every tensor matches torch', async () => {
  const ref = reference<DecoderOnlyCase>('llama');
  await withModel(
    () => loadLlama(dir('llama')),
    async (model) => {
      assert.deepEqual(model.kvHeadOf, ref.kv_head_of);
      assert.ok(model.config.numKvHeads < model.config.numHeads, 'grouped-query attention');
      for (const c of ref.cases) {
        const trace = await model.run(c.text);
        assert.deepEqual(
          trace.tokens.map((x) => x.id),
          c.ids,
          `${c.text}: token ids`,
        );
        assertPeaked(c.layers, 'llama');
        close(trace, 'embedding', 'X', c.embedding, 'embedding');
        c.layers.forEach((L, l) => {
          close(trace, `L${l}.input`, 'residual', L.residual, `L${l} residual`);
          close(trace, `L${l}.input`, 'hidden', L.input, `L${l} RMSNorm`);
          assertAttentionStages(trace, `L${l}`, L, `L${l}`);
          close(trace, `L${l}.output`, 'hidden', L.hidden, `L${l} hidden`);
        });
        close(trace, 'output', 'hidden', c.final, 'final norm');
        closeRows(await model.logits(c.ids), model.config.vocabSize, c.logit_rows, c.logits, 'logits');
      }
    },
  );
});

test('Qwen2 (the Llama layout with q/k/v biases, GQA, RoPE θ = 1e6, no start token, BF16 weights): every tensor matches torch', async () => {
  const ref = reference<DecoderOnlyCase>('qwen2');
  await withModel(
    () => loadQwen2(dir('qwen2')),
    async (model) => {
      assert.equal(model.info.family, 'qwen2');
      assert.deepEqual(model.kvHeadOf, ref.kv_head_of);
      assert.ok(model.config.numKvHeads < model.config.numHeads, 'grouped-query attention');
      assert.ok(model.config.qkvBias, 'biases on q, k and v');
      for (const c of ref.cases) {
        const trace = await model.run(c.text);
        assert.deepEqual(
          trace.tokens.map((x) => x.id),
          c.ids,
          `${c.text}: token ids (no start token: Qwen2 adds none)`,
        );
        assertPeaked(c.layers, 'qwen2');
        close(trace, 'embedding', 'X', c.embedding, 'embedding');
        c.layers.forEach((L, l) => {
          close(trace, `L${l}.input`, 'residual', L.residual, `L${l} residual`);
          close(trace, `L${l}.input`, 'hidden', L.input, `L${l} RMSNorm`);
          assertAttentionStages(trace, `L${l}`, L, `L${l}`);
          close(trace, `L${l}.output`, 'hidden', L.hidden, `L${l} hidden`);
        });
        close(trace, 'output', 'hidden', c.final, 'final norm');
        closeRows(await model.logits(c.ids), model.config.vocabSize, c.logit_rows, c.logits, 'logits');
      }
    },
  );
});

test('GPT-2 (fused Conv1D c_attn stored [in, out], attn.bias buffers in the file): every tensor matches torch', async () => {
  const ref = reference<DecoderOnlyCase>('gpt2');
  await withModel(
    () => loadGpt2(dir('gpt2')),
    async (model) => {
      for (const c of ref.cases) {
        const trace = await model.run(c.text);
        assert.deepEqual(
          trace.tokens.map((x) => x.id),
          c.ids,
          `${c.text}: token ids (no start token: GPT-2 adds none)`,
        );
        assertPeaked(c.layers, 'gpt2');
        close(trace, 'embedding', 'X', c.embedding, 'embedding');
        c.layers.forEach((L, l) => {
          close(trace, `L${l}.input`, 'residual', L.residual, `L${l} residual`);
          close(trace, `L${l}.input`, 'hidden', L.input, `L${l} ln_1`);
          assertAttentionStages(trace, `L${l}`, L, `L${l}`);
          close(trace, `L${l}.output`, 'attention_residual', L.attn_residual!, `L${l} x + attention`);
          close(trace, `L${l}.output`, 'hidden', L.hidden, `L${l} hidden`);
        });
        close(trace, 'output', 'hidden', c.final, 'ln_f');
        closeRows(await model.logits(c.ids), model.config.vocabSize, c.logit_rows, c.logits, 'logits');
      }
    },
  );
});

for (const family of ['bert', 'distilbert', 'roberta'] as const) {
  test(`${family} (${family === 'roberta' ? 'byte-level BPE, positions from padding_idx + 1' : 'WordPiece'}, MLM head): every tensor matches torch`, async () => {
    const ref = reference<EncoderCase>(family);
    await withModel(
      () => loadBert(dir(family)),
      async (model) => {
        assert.equal(model.info.family, family);
        for (const c of ref.cases) {
          const trace = await model.run(c.text);
          assert.deepEqual(
            trace.tokens.map((x) => x.id),
            c.ids,
            `${c.text}: token ids`,
          );
          assertPeaked(c.layers, family);
          close(trace, 'embedding', 'X', c.embedding, 'embedding');
          c.layers.forEach((L, l) => {
            assertAttentionStages(trace, `L${l}`, L, `L${l}`);
            close(trace, `L${l}.output`, 'attention_hidden', L.attn_hidden, `L${l} LayerNorm(x + attention)`);
            close(trace, `L${l}.output`, 'hidden', L.hidden, `L${l} hidden`);
          });
          close(trace, 'output', 'hidden', c.mlm_hidden, 'MLM transform');
          const logits = await model.logits(c.ids);
          assert.ok(logits, 'the checkpoint has an MLM head');
          closeRows(logits, model.config.vocabSize, c.logit_rows, c.logits, 'MLM logits');
        }
      },
    );
  });
}

test('Marian (shared embeddings, sinusoidal positions, final_logits_bias, F16): encoder, causal self- and cross-attention match torch', async () => {
  const ref = reference<MarianCase>('marian');
  await withModel(
    () => loadEncoderDecoder(dir('marian')),
    async (model) => {
      for (const c of ref.cases) {
        const trace = await model.run(c.text, { topK: 5 });
        assert.deepEqual(
          trace.tokens.map((x) => x.id),
          c.ids,
          `${c.text}: source ids`,
        );
        assert.deepEqual(
          trace.outputTokens?.map((x) => x.id),
          c.output_ids,
          'greedy output ids',
        );
        assertPeaked(c.encoder.layers, 'marian encoder');
        close(trace, 'embedding', 'X', c.encoder.embedding, 'encoder embedding');
        c.encoder.layers.forEach((L, l) => {
          assertAttentionStages(trace, `enc${l}`, L, `enc${l}`);
          close(trace, `enc${l}.output`, 'attention_hidden', L.attn_hidden, `enc${l} LN(x + attention)`);
          close(trace, `enc${l}.output`, 'hidden', L.hidden, `enc${l} hidden`);
        });
        close(trace, 'dec.embedding', 'Y', c.decoder.embedding, 'decoder embedding');
        c.decoder.layers.forEach((L, l) => {
          assertAttentionStages(trace, `dec${l}.self`, L.self, `dec${l} self`);
          assertAttentionStages(trace, `dec${l}.cross`, L.cross, `dec${l} cross`);
          close(trace, `dec${l}.output`, 'self_hidden', L.self_hidden, `dec${l} LN(y + self)`);
          close(trace, `dec${l}.output`, 'cross_hidden', L.cross_hidden, `dec${l} LN(h + cross)`);
          close(trace, `dec${l}.output`, 'hidden', L.hidden, `dec${l} hidden`);
        });
        // Logits are shown as the top-k probabilities per step: softmax of the reference logits.
        const [T, V] = c.logits.shape as [number, number];
        const logits = decodeArr(c.logits);
        const k = 5;
        const wantP: number[] = [];
        const wantId: number[] = [];
        for (let i = 0; i < T; i++) {
          const row = Array.from(logits.subarray(i * V, (i + 1) * V));
          const m = Math.max(...row);
          const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
          const order = row
            .map((v, id) => ({ id, p: Math.exp(v - m) / z }))
            .sort((a, b) => b.p - a.p)
            .slice(0, k);
          wantId.push(...order.map((o) => o.id));
          wantP.push(...order.map((o) => o.p));
        }
        assert.deepEqual(Array.from(t(stage(trace, 'output'), 'top_id').data), wantId, 'top-k ids per step');
        assertClose(t(stage(trace, 'output'), 'top_p').data, wantP, 'top-k probabilities per step');
      }
    },
  );
});
