// The decoder families of the Llama lineage (Llama 3's RoPE scaling, Qwen3, Mistral, SmolLM3, Phi-3,
// GPT-NeoX) against independent torch forward passes: random-weight checkpoints in each family's
// exact Hub layout (test/fixtures/hf/<family>/, written with reference.json by
// scripts/reference/hf_decoders.py) are loaded through the model-file loader (config.json's
// model_type picks the family) and run on the same text; token ids, every attention tensor of every
// layer and head (Q, K, V, scores, mask, weights, context, output), the hidden states and the logits
// must match torch float64 within 1e-5 relative. Load + run + dispose must leak no tensor.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadHfModel } from '../../src/model/open/modelFiles';
import type { LlamaModel } from '../../src/model/families/llama/model';
import { findTensor, type Trace } from '../../shared/trace';
import { assertAttentionStages, assertClose, decodeArr, stage, t, type Arr, type AttentionArrs } from './fixtureTools';

const HF = path.join(__dirname, '..', 'fixtures', 'hf');
const dir = (family: string): string => path.join(HF, family);

type Layer = AttentionArrs & Record<'residual' | 'input' | 'hidden', Arr> & Partial<Record<'mlp_input' | 'attn_residual', Arr>>;
interface Case {
  text: string;
  ids: number[];
  embedding: Arr;
  layers: Layer[];
  final: Arr;
  logit_rows: number[];
  logits: Arr;
}
interface Reference {
  family: string;
  dtype: string;
  kv_head_of?: number[];
  /** Per layer: [sliding window or null, uses RoPE]. */
  layer_plan?: [number | null, boolean][];
  cases: Case[];
}

const reference = (family: string): Reference => JSON.parse(fs.readFileSync(path.join(dir(family), 'reference.json'), 'utf8')) as Reference;

const close = (trace: Trace, id: string, name: string, arr: Arr, what: string): void => {
  const x = t(stage(trace, id), name);
  assert.deepEqual([...x.shape], arr.shape, `${what}: shape`);
  assertClose(x.data, decodeArr(arr), what);
};

before(async () => {
  await initBackend();
});

/** Loads `family`'s fixture through config.json's model_type, checks every case, and that nothing leaks. */
async function matchesTorch(family: string, check: (model: LlamaModel, ref: Reference) => void = () => {}): Promise<void> {
  const ref = reference(family);
  const start = tf.memory().numTensors;
  const model = (await loadHfModel(dir(family))) as LlamaModel;
  try {
    check(model, ref);
    if (ref.kv_head_of) assert.deepEqual(model.kvHeadOf, ref.kv_head_of, 'grouped-query heads');
    let peak = 0;
    for (const c of ref.cases) {
      const trace = await model.run(c.text);
      assert.deepEqual(
        trace.tokens.map((x) => x.id),
        c.ids,
        `${family} "${c.text}": token ids`,
      );
      close(trace, 'embedding', 'X', c.embedding, 'embedding');
      c.layers.forEach((L, l) => {
        for (const v of decodeArr(L.weights)) peak = Math.max(peak, v);
        close(trace, `L${l}.input`, 'residual', L.residual, `L${l} residual`);
        close(trace, `L${l}.input`, 'hidden', L.input, `L${l} norm`);
        assertAttentionStages(trace, `L${l}`, L, `${family} L${l}`);
        if (L.attn_residual) close(trace, `L${l}.output`, 'attention_residual', L.attn_residual, `L${l} x + attention`);
        if (L.mlp_input) close(trace, `L${l}.output`, 'mlp_input', L.mlp_input, `L${l} MLP input`);
        close(trace, `L${l}.output`, 'hidden', L.hidden, `L${l} hidden`);
      });
      close(trace, 'output', 'hidden', c.final, 'final norm');
      const logits = await model.logits(c.ids);
      const V = model.spec.vocabSize;
      const got = new Float32Array(c.logit_rows.length * V);
      c.logit_rows.forEach((r, i) => got.set(logits.subarray(r * V, (r + 1) * V), i * V));
      assertClose(got, decodeArr(c.logits), `${family} logits`);
    }
    assert.ok(peak > 0.5, `${family}: the reference attention is peaked (max weight ${peak}), so matching it is a real check`);
  } finally {
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, start, `${family}: load + run + dispose leaves tf.memory().numTensors unchanged`);
}

/** The 0/1 mask a trace shows for layer l. */
const maskOf = (trace: Trace, l: number): Float32Array => findTensor(stage(trace, `L${l}.scores`), 'mask')!.data;

test('Llama 3.x (rope_scaling llama3, BOS from the tokenizer’s TemplateProcessing, untied head): every tensor matches torch', async () => {
  await matchesTorch('llama3', (model) => {
    assert.equal(model.info.family, 'llama');
    assert.equal(model.config.ropeScaling?.type, 'llama3');
    assert.equal(model.config.startToken, true, 'the tokenizer adds <|begin_of_text|>');
    assert.equal(model.config.tieEmbeddings, false);
  });
});

test('Qwen3 (q_norm/k_norm before RoPE, head_dim 16 ≠ hidden/heads, layer 1 slides by max_window_layers): every tensor matches torch', async () => {
  await matchesTorch('qwen3', (model, ref) => {
    assert.equal(model.info.family, 'qwen3');
    assert.equal(model.config.headDim, 16);
    assert.equal(model.config.qkNorm, true);
    assert.deepEqual(model.config.windows, ref.layer_plan!.map(([w]) => w ?? undefined));
    assert.equal(model.config.startToken, false);
  });
});

test('Mistral (sliding_window 4 on every layer, drawn as the mask; SentencePiece BPE with BOS): every tensor matches torch', async () => {
  await matchesTorch('mistral', (model) => {
    assert.equal(model.info.family, 'mistral');
    assert.deepEqual(model.config.windows, [4, 4]);
    assert.equal(model.config.startToken, true);
  });
  const model = (await loadHfModel(dir('mistral'))) as LlamaModel;
  try {
    const trace = await model.run(reference('mistral').cases[0]!.text);
    const T = trace.tokens.length;
    const m = maskOf(trace, 0);
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) assert.equal(m[i * T + j], j <= i && i - j < 4 ? 1 : 0, `mask[${i}, ${j}]: the 4 most recent keys`);
    const s = stage(trace, 'L0.weights');
    assert.match(s.formula, /M\[i, j\] = 0 if i − 4 < j ≤ i, else −∞/);
    assert.match(stage(trace, 'L0.scores').explanation, /sliding-window attention: query i sees only keys j with i − 4 < j ≤ i/);
  } finally {
    model.dispose();
  }
});

test('SmolLM3 (no_rope_layers [1, 0]: layer 1 has no RoPE; no start token; tied): every tensor matches torch', async () => {
  await matchesTorch('smollm3', (model) => {
    assert.equal(model.info.family, 'smollm3');
    assert.deepEqual(model.config.ropeLayers, [true, false]);
    assert.equal(model.config.startToken, false);
    assert.equal(model.config.tieEmbeddings, true);
  });
});

test('GPT-NeoX / Pythia (fused per-head query_key_value, rotary_pct 0.25, LayerNorm biases, parallel residual, F16): every tensor matches torch', async () => {
  await matchesTorch('gptneox', (model) => {
    assert.equal(model.info.family, 'gpt_neox');
    assert.equal(model.spec.block.mlpInput, 'layer-input', 'use_parallel_residual: the MLP reads the layer input');
    assert.equal(model.spec.block.self.rope?.rotaryDim, 2, 'rotary on 2 of 8 head dimensions');
  });
});

test('Phi-4-mini layout (fused qkv_proj and gate_up_proj, partial rotary 0.75, longrope short and long factors, sliding window, tied): every tensor matches torch', async () => {
  await matchesTorch('phi3', (model) => {
    assert.equal(model.info.family, 'phi3');
    assert.equal(model.config.fused, true);
    assert.equal(model.config.rotaryDim, 6, '0.75 of head_dim 8');
    const s = model.config.ropeScaling;
    assert.ok(s?.type === 'longrope');
    assert.ok(Math.abs(s.attentionFactor - Math.sqrt(1 + Math.log(256 / 8) / Math.log(8))) < 1e-12, 'attention factor from max / original positions');
  });
});
