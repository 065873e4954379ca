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
import { readSafetensorsFile } from '../../src/model/formats/safetensors';
import type { LlamaModel } from '../../src/model/families/llama/model';
import { parseLlamaConfig } from '../../src/model/families/llama/config';
import { parseQwen3Config } from '../../src/model/families/qwen3/config';
import { parseMistralConfig } from '../../src/model/families/mistral/config';
import { parseSmolLm3Config } from '../../src/model/families/smollm/config';
import { parsePhi3Config } from '../../src/model/families/phi3/config';
import { parseNeoxConfig } from '../../src/model/families/gptneox/config';
import { AttentionInputError, findTensor, type Trace } from '../../shared/trace';
import {
  assertAttentionStages,
  assertClose,
  decodeArr,
  scratchDirs,
  stage,
  t,
  type Arr,
  type AttentionArrs,
} from './fixtureTools';

const HF = path.join(__dirname, '..', 'fixtures', 'hf');
const dir = (family: string): string => path.join(HF, family);
const scratch = scratchDirs();

type Layer = AttentionArrs &
  Record<'residual' | 'input' | 'hidden', Arr> &
  Partial<Record<'mlp_input' | 'attn_residual', Arr>>;
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

const reference = (family: string): Reference =>
  JSON.parse(fs.readFileSync(path.join(dir(family), 'reference.json'), 'utf8')) as Reference;

const close = (trace: Trace, id: string, name: string, arr: Arr, what: string): void => {
  const x = t(stage(trace, id), name);
  assert.deepEqual([...x.shape], arr.shape, `${what}: shape`);
  assertClose(x.data, decodeArr(arr), what);
};

before(async () => {
  await initBackend();
});

/** Loads `family`'s fixture through config.json's model_type, checks every case, and that nothing leaks. */
async function matchesTorch(
  family: string,
  check: (model: LlamaModel, ref: Reference) => void = () => {},
): Promise<void> {
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
    assert.ok(
      peak > 0.5,
      `${family}: the reference attention is peaked (max weight ${peak}), so matching it is a real check`,
    );
  } finally {
    model.dispose();
  }
  assert.equal(
    tf.memory().numTensors,
    start,
    `${family}: load + run + dispose leaves tf.memory().numTensors unchanged`,
  );
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
    assert.deepEqual(
      model.config.windows,
      ref.layer_plan!.map(([w]) => w ?? undefined),
    );
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
    for (let i = 0; i < T; i++)
      for (let j = 0; j < T; j++)
        assert.equal(m[i * T + j], j <= i && i - j < 4 ? 1 : 0, `mask[${i}, ${j}]: the 4 most recent keys`);
    const s = stage(trace, 'L0.weights');
    assert.match(s.formula, /M\[i, j\] = 0 if i − 4 < j ≤ i, else −∞/);
    assert.match(
      stage(trace, 'L0.scores').explanation,
      /sliding-window attention: query i sees only keys j with i − 4 < j ≤ i/,
    );
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
    assert.ok(
      Math.abs(s.attentionFactor - Math.sqrt(1 + Math.log(256 / 8) / Math.log(8))) < 1e-12,
      'attention factor from max / original positions',
    );
  });
});

test('SmolLM2 (model_type llama: tied, a byte-level tokenizer that adds no start token, so none is added): every tensor matches torch', async () => {
  await matchesTorch('smollm2', (model) => {
    assert.equal(model.info.family, 'llama');
    assert.equal(model.config.startToken, false, 'the tokenizer adds no BOS, so neither does the model');
    assert.equal(model.config.tieEmbeddings, true);
  });
});

test('config readers: rope_scaling types a family does not use are refused by name; layer_types, NoPE intervals and defaults are read as transformers does', () => {
  const cfg = (family: string): Record<string, unknown> =>
    JSON.parse(fs.readFileSync(path.join(dir(family), 'config.json'), 'utf8')) as Record<string, unknown>;
  const refused = (parse: (raw: unknown) => unknown, raw: Record<string, unknown>, pattern: RegExp): void =>
    assert.throws(
      () => parse(raw),
      (e: unknown) => e instanceof AttentionInputError && pattern.test(e.message),
    );
  const llama3 = cfg('llama3');
  refused(
    parseLlamaConfig,
    { ...llama3, rope_scaling: { rope_type: 'yarn', factor: 4 } },
    /rope_scaling type "yarn" is not supported; supported: linear, llama3, longrope/,
  );
  refused(
    parseLlamaConfig,
    { ...llama3, rope_scaling: { rope_type: 'dynamic', factor: 2 } },
    /"dynamic" is not supported/,
  );
  refused(
    parseLlamaConfig,
    { ...llama3, rope_scaling: { rope_type: 'longrope', short_factor: [1, 1, 1, 1], long_factor: [1, 1, 1, 1] } },
    /"longrope" is not supported for Llama; Llama checkpoints use llama3/,
  );
  refused(
    parseLlamaConfig,
    { ...llama3, rope_scaling: { rope_type: 'llama3', factor: 8 } },
    /rope_scaling\.low_freq_factor must be a positive number/,
  );
  refused(
    parsePhi3Config,
    { ...cfg('phi3'), rope_scaling: { type: 'longrope', short_factor: [1, 2], long_factor: [1, 2, 3] } },
    /short_factor must list 3 positive numbers \(one per rotary frequency\), not 2 values/,
  );
  // transformers 5's rope_parameters carries the base and the scaling.
  const { rope_theta: _theta, rope_scaling: scaling, ...rest } = llama3;
  const v5 = parseLlamaConfig({ ...rest, rope_parameters: { ...(scaling as object), rope_theta: 500000 } });
  assert.equal(v5.ropeTheta, 500000);
  assert.equal(v5.ropeScaling?.type, 'llama3');
  assert.equal(
    parseLlamaConfig({ ...llama3, eos_token_id: [128001, 128008, 128009] }).eosId,
    128001,
    'Llama 3.x lists several end tokens',
  );
  // Qwen3: layer_types wins over max_window_layers; a window only with use_sliding_window; head_dim defaults to 128.
  const qwen3 = cfg('qwen3');
  assert.deepEqual(parseQwen3Config({ ...qwen3, layer_types: ['sliding_attention', 'full_attention'] }).windows, [
    4,
    undefined,
  ]);
  assert.deepEqual(parseQwen3Config({ ...qwen3, use_sliding_window: false }).windows, [undefined, undefined]);
  assert.equal(
    parseQwen3Config({ ...qwen3, head_dim: undefined, hidden_size: 256, num_attention_heads: 4 }).headDim,
    128,
  );
  // SmolLM3: without no_rope_layers every no_rope_layer_interval-th layer has no RoPE; those layers slide when use_sliding_window.
  const smol = { ...cfg('smollm3'), num_hidden_layers: 8, no_rope_layers: undefined, layer_types: undefined };
  assert.deepEqual(parseSmolLm3Config(smol).ropeLayers, [true, true, true, false, true, true, true, false]);
  assert.deepEqual(parseSmolLm3Config({ ...smol, use_sliding_window: true, sliding_window: 16 }).windows, [
    undefined,
    undefined,
    undefined,
    16,
    undefined,
    undefined,
    undefined,
    16,
  ]);
  refused(
    parseSmolLm3Config,
    { ...smol, no_rope_layers: [1, 2] },
    /"no_rope_layers" must list 0 or 1 for each of the 8 layers/,
  );
  // Mistral v0.3: sliding_window null is full attention.
  assert.deepEqual(parseMistralConfig({ ...cfg('mistral'), sliding_window: null }).windows, [undefined, undefined]);
  // Phi-3 without original_max_position_embeddings: Phi3Config's 4096.
  const { original_max_position_embeddings: _o, ...phi } = cfg('phi3');
  const s = parsePhi3Config({ ...phi, max_position_embeddings: 131072 }).ropeScaling;
  assert.ok(s?.type === 'longrope' && s.originalMaxPositions === 4096);
  // GPT-NeoX: rotary_pct and the parallel residual.
  const neox = cfg('gptneox');
  assert.equal(parseNeoxConfig({ ...neox, rotary_pct: 1 }).rotaryDim, 8);
  assert.equal(parseNeoxConfig({ ...neox, use_parallel_residual: false }).parallelResidual, false);
  refused(parseNeoxConfig, { ...neox, rotary_pct: 0.1 }, /rotary_pct 0.1 of head size 8 gives 0 rotary dimensions/);
});

test('GPT-NeoX with use_parallel_residual false: the MLP reads LN₂(x + attention), and the stage says so', async () => {
  const d = scratch('neox-seq-');
  for (const f of fs.readdirSync(dir('gptneox'))) fs.copyFileSync(path.join(dir('gptneox'), f), path.join(d, f));
  const raw = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...raw, use_parallel_residual: false }));
  const model = (await loadHfModel(d)) as LlamaModel;
  try {
    const trace = await model.run(reference('gptneox').cases[0]!.text);
    const out = stage(trace, 'L0.output');
    assert.match(out.title, /residual \+ MLP/);
    const D = model.spec.block.dModel;
    const x1 = t(out, 'attention_residual').data;
    const x = t(stage(trace, 'L0.input'), 'residual').data;
    // Sequential: the MLP reads LayerNorm₂(x + attention), computed here from the checkpoint's gain and bias.
    const w = await readSafetensorsFile(path.join(d, 'model.safetensors'));
    const g = w.get('gpt_neox.layers.0.post_attention_layernorm.weight')!.data;
    const b = w.get('gpt_neox.layers.0.post_attention_layernorm.bias')!.data;
    const want = new Float32Array(x1.length);
    for (let r = 0; r < x1.length / D; r++) {
      const row = x1.subarray(r * D, (r + 1) * D);
      const mean = row.reduce((a, v) => a + v, 0) / D;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
      for (let i = 0; i < D; i++) want[r * D + i] = ((row[i]! - mean) / Math.sqrt(variance + 1e-5)) * g[i]! + b[i]!;
    }
    assertClose(t(out, 'mlp_input').data, want, 'LN₂(x + attention)');
    assert.ok(
      x1.some((v, i) => v !== x[i]),
      'x + attention differs from x, so the check tells the two residual forms apart',
    );
  } finally {
    model.dispose();
  }
});

test('the CLI runs each fixture folder (--model FOLDER) and its stage lines say what differs per layer', async () => {
  const { execFileSync } = await import('node:child_process');
  const root = path.join(__dirname, '..', '..');
  const run = (family: string): string =>
    execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), '--model', dir(family), 'The quick fox'],
      { cwd: root, encoding: 'utf8' },
    );
  const expected: Record<string, RegExp[]> = {
    llama3: [/^llama3 on 4 tokens/, /tokens: "<\|begin_of_text\|>" "The" "Ġquick" "Ġfox"/],
    smollm2: [/^smollm2 on 3 tokens/, /tokens: "The" "Ġquick" "Ġfox"\n/],
    qwen3: [
      /\[L0\.qkv\] Layer 0: queries, keys, values \(GQA \+ RoPE, QK-norm\) {3}Q = RoPE\(RMSNorm_q\(h W_Qᵀ\)\)/,
      /\[L1\.scores\] Layer 1 \(sliding window 4\): attention scores/,
    ],
    mistral: [
      /\[L0\.weights\] Layer 0 \(sliding window 4\): attention weights {3}α = softmax\(S \+ M\), {2}M\[i, j\] = 0 if i − 4 < j ≤ i, else −∞/,
    ],
    smollm3: [
      /\[L0\.qkv\] Layer 0: queries, keys, values \(GQA \+ RoPE\)/,
      /\[L1\.qkv\] Layer 1 \(no RoPE\): queries, keys, values \(GQA, no RoPE\) {3}Q = h W_Qᵀ, K = h W_Kᵀ/,
    ],
    phi3: [/^phi3 on 3 tokens/, /\[L0\.qkv\] Layer 0 \(sliding window 6\)/],
    gptneox: [
      /\[L0\.output\] Layer 0: attention and MLP in parallel {3}x'' = x \+ attn\(LN₁\(x\)\) \+ W₂ gelu\(W₁ LN₂\(x\) \+ b₁\) \+ b₂/,
    ],
  };
  for (const [family, patterns] of Object.entries(expected)) {
    const out = run(family);
    for (const p of patterns) assert.match(out, p, `${family}: ${p}`);
  }
});

test("what-if with the model's own scaled-dot reproduces a Mistral layer, its sliding-window mask included", async () => {
  const { recompute } = await import('../../src/model/attention/whatif');
  const { blockOf } = await import('../../shared/navigation');
  const model = (await loadHfModel(dir('mistral'))) as LlamaModel;
  try {
    const trace = await model.run(reference('mistral').cases[0]!.text);
    const block = blockOf(trace, stage(trace, 'L1.scores'))!;
    // What the panel sends (src/panel/panel.ts): the block's Q, K, V, mask and AttentionInfo.
    const input = {
      Q: block.q!,
      K: block.k!,
      V: block.v!,
      kvHeadOf: block.info.kvHeadOf!,
      causal: true,
      mask: block.mask!,
    };
    const same = recompute(input, 'scaled-dot', 'softmax');
    assertClose(same.weights.data, t(block.stages.normalise, 'weights').data, 'what-if weights');
    assertClose(same.context.data, t(block.stages.context!, 'context').data, 'what-if context');
    const T = block.q!.shape[1]!;
    const { mask: _m, ...unmasked } = input;
    assert.ok(
      recompute(unmasked, 'scaled-dot', 'softmax').weights.data[5 * T + 0]! > 0,
      'without the window, query 5 would see key 0',
    );
    assert.equal(t(block.stages.normalise, 'weights').data[5 * T + 0], 0, 'the window zeroes key 0 for query 5');
  } finally {
    model.dispose();
  }
});

test('the tokens stage says what kind of vocabulary it is: byte-level (Qwen3, Llama 3: "Ġ", nothing unknown) or SentencePiece (Mistral: "▁", <unk>)', async () => {
  const said = async (family: string): Promise<string> => {
    const model = await loadHfModel(dir(family));
    try {
      return (await model.run('The quick fox')).stages[0]!.explanation;
    } finally {
      model.dispose();
    }
  };
  const qwen3 = await said('qwen3');
  assert.match(qwen3, /frequent byte sequences became single tokens.*no character is ever unknown.*"Ġ" marks a space/);
  assert.match(qwen3, /Qwen3 adds no start token/);
  assert.match(
    await said('llama3'),
    /"Ġ" marks a space.*The model always starts from <\|begin_of_text\|>, the token it saw at the start of every training document\.$/,
  );
  const mistral = await said('mistral');
  assert.match(mistral, /frequent character sequences.*"▁" marks a space/);
  assert.match(mistral, /characters missing from the vocabulary become <unk>/);
});
