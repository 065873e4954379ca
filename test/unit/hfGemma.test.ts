// Gemma, Gemma 2 and Gemma 3 (text) against an independent torch forward pass: random-weight
// checkpoints in the Hub's layout (test/fixtures/hf/{gemma,gemma2,gemma3}/, written with reference.json
// by scripts/reference/hf_gemma.py from HF's modelling conventions) are loaded by our loaders and run
// on the same text. Token ids must be equal; every attention tensor of every layer (Q, K, V, scores as
// soft-capped, the mask as drawn, weights, context, output), every hidden state and the logits must
// match within normwise 1e-5 (‖ours − torch‖ / ‖torch‖).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadGemma, parseGemmaConfig, type GemmaModel } from '../../src/model/families/gemma/model';
import { loadGemma2, parseGemma2Config } from '../../src/model/families/gemma2/model';
import { loadGemma3, parseGemma3Config } from '../../src/model/families/gemma3/model';
import { HfTokenizer } from '../../src/model/tokenizers/hfTokenizer';
import { hfFamilyOf, HF_FAMILIES, SUPPORTED_MODEL_TYPES } from '../../src/model/formats/hfFolder';
import { loadModelFile } from '../../src/model/open/modelFiles';
import { readSafetensorsFile } from '../../src/model/formats/safetensors';
import type { Trace } from '../../shared/trace';
import { decodeArr, stage, t, type Arr, type AttentionArrs } from './fixtureTools';

const dir = (family: string): string => path.join(__dirname, '..', 'fixtures', 'hf', family);

interface Layer extends AttentionArrs {
  mask: Arr;
  residual: Arr;
  input: Arr;
  attn_hidden: Arr;
  mlp_input: Arr;
  hidden: Arr;
  kind: 'sliding_attention' | 'full_attention';
}
interface Case {
  text: string;
  ids: number[];
  embedding: Arr;
  layers: Layer[];
  final: Arr;
  logit_rows: number[];
  logits: Arr;
  raw_logits?: Arr;
}
interface Reference {
  family: string;
  dtype: 'F32' | 'BF16';
  kv_head_of: number[];
  cases: Case[];
  tokenizer_cases: { text: string; ids: number[] }[];
}

const reference = (family: string): Reference =>
  JSON.parse(fs.readFileSync(path.join(dir(family), 'reference.json'), 'utf8')) as Reference;
const config = (family: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(dir(family), 'config.json'), 'utf8')) as Record<string, unknown>;

/**
 * ‖a − e‖₂ / ‖e‖₂ ≤ 1e-5 (measured: at most 5.3e-7 here). Not elementwise: Gemma 2's post-norms rescale
 * small sub-block outputs to unit size, so float32 rounding in a near-zero element is amplified.
 */
function normClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let d = 0;
  let n = 0;
  for (let i = 0; i < expected.length; i++) {
    d += (actual[i]! - expected[i]!) ** 2;
    n += expected[i]! ** 2;
  }
  const rel = Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
  assert.ok(rel <= 1e-5, `${what}: normwise error ${rel.toExponential(2)} > 1e-5`);
}

function close(trace: Trace, id: string, name: string, arr: Arr, what: string): void {
  const x = t(stage(trace, id), name);
  assert.deepEqual([...x.shape], arr.shape, `${what}: shape`);
  normClose(x.data, decodeArr(arr), what);
}

before(async () => {
  await initBackend();
});

const LOADERS = { gemma: loadGemma, gemma2: loadGemma2, gemma3: loadGemma3 } as const;

async function checkFamily(
  family: keyof typeof LOADERS,
  extra: (model: GemmaModel, trace: Trace, c: Case) => void,
): Promise<void> {
  const ref = reference(family);
  const start = tf.memory().numTensors;
  const model = await LOADERS[family](dir(family));
  try {
    assert.deepEqual(model.kvHeadOf, ref.kv_head_of);
    const stored = new Set(
      [...(await readSafetensorsFile(path.join(dir(family), 'model.safetensors'))).values()].map((x) => x.dtype),
    );
    assert.deepEqual([...stored], [ref.dtype], `${family}: stored as ${ref.dtype}`);
    for (const c of ref.cases) {
      const trace = await model.run(c.text);
      assert.deepEqual(
        trace.tokens.map((x) => x.id),
        c.ids,
        `${family} "${c.text}": token ids (<bos> first)`,
      );
      let peak = 0;
      for (const L of c.layers) for (const v of decodeArr(L.weights)) peak = Math.max(peak, v);
      assert.ok(peak > 0.5, `${family}: the reference's attention is far from uniform (max weight ${peak})`);
      close(trace, 'embedding', 'X', c.embedding, `${family} embedding × √d`);
      c.layers.forEach((L, l) => {
        const p = `L${l}`;
        close(trace, `${p}.input`, 'residual', L.residual, `${family} ${p} residual`);
        close(trace, `${p}.input`, 'hidden', L.input, `${family} ${p} input_layernorm`);
        close(trace, `${p}.qkv`, 'Q', L.Q, `${family} ${p} Q`);
        close(trace, `${p}.qkv`, 'K', L.K, `${family} ${p} K`);
        close(trace, `${p}.qkv`, 'V', L.V, `${family} ${p} V`);
        close(trace, `${p}.scores`, 'scores', L.scores, `${family} ${p} scores`);
        close(trace, `${p}.scores`, 'mask', L.mask, `${family} ${p} mask (${L.kind})`);
        close(trace, `${p}.weights`, 'weights', L.weights, `${family} ${p} weights`);
        close(trace, `${p}.context`, 'context', L.context, `${family} ${p} context`);
        close(trace, `${p}.context`, 'output', L.output, `${family} ${p} o_proj output`);
        close(trace, `${p}.output`, 'attention_residual', L.attn_hidden, `${family} ${p} x + attention`);
        close(trace, `${p}.output`, 'mlp_input', L.mlp_input, `${family} ${p} MLP input norm`);
        close(trace, `${p}.output`, 'hidden', L.hidden, `${family} ${p} hidden`);
        const local = L.kind === 'sliding_attention';
        assert.equal(
          /\(local, window \d+\)/.test(stage(trace, `${p}.scores`).title),
          local,
          `${family} ${p}: the title says whether the layer is local`,
        );
      });
      close(trace, 'output', 'hidden', c.final, `${family} final norm`);
      const V = model.config.vocabSize;
      const logits = await model.logits(c.ids);
      assert.deepEqual(decodeArr(c.logits).length, c.logit_rows.length * V);
      const rows = new Float32Array(c.logit_rows.length * V);
      c.logit_rows.forEach((r, i) => rows.set(logits.subarray(r * V, (r + 1) * V), i * V));
      normClose(rows, decodeArr(c.logits), `${family} logits`);
      extra(model, trace, c);
    }
    const tok = await HfTokenizer.load(dir(family));
    for (const tc of ref.tokenizer_cases) {
      assert.deepEqual(
        model.tokenize(tc.text, 1000).tokens.map((x) => x.id),
        tc.ids,
        `${family} tokenizer: ${JSON.stringify(tc.text)}`,
      );
      assert.equal(
        tok.decode(tc.ids.slice(1)),
        tc.text.replace(/<start_of_turn>|<end_of_turn>/g, ''),
        `${family} decodes ${JSON.stringify(tc.text)} back`,
      );
    }
  } finally {
    model.dispose();
  }
  assert.equal(
    tf.memory().numTensors,
    start,
    `${family}: load + run + dispose leaves tf.memory().numTensors unchanged`,
  );
}

test('Gemma (GeGLU gelu_tanh, RMSNorm × (1 + w), embeddings × √d, head_dim ≠ d/H, one K/V head, BF16): every tensor matches torch', async () => {
  await checkFamily('gemma', (model, trace) => {
    assert.equal(
      model.config.activation,
      'gelu_pytorch_tanh',
      'hidden_activation wins over the legacy hidden_act "gelu"',
    );
    assert.ok(model.config.headDim * model.config.numHeads !== model.config.hiddenSize);
    assert.match(stage(trace, 'L0.scores').formula, /^S\[h\] = Q\[h\] K\[g\(h\)\]ᵀ \/ √12$/);
    assert.match(stage(trace, 'L0.input').formula, /\(1 \+ w\)/);
  });
});

test('Gemma 2 (post-norms, soft-capped scores and logits, query_pre_attn_scalar, local layer 0 with a 3-token window, F32): every tensor matches torch', async () => {
  await checkFamily('gemma2', (model, trace, c) => {
    assert.deepEqual(model.config.layerTypes, ['sliding_attention', 'full_attention']);
    assert.equal(stage(trace, 'L0.scores').formula, 'S[h] = 2·tanh(Q[h] K[g(h)]ᵀ / (2·√16))');
    assert.match(stage(trace, 'L0.scores').title, /^Layer 0 \(local, window 3\): attention scores$/);
    assert.match(stage(trace, 'L1.scores').title, /^Layer 1 \(global\): attention scores$/);
    assert.match(stage(trace, 'output').formula, /softmax\(3·tanh\(z\/3\)\)/);
    // The capping bites: the raw logits leave ±3, the capped ones stay inside.
    const raw = decodeArr(c.raw_logits!);
    assert.ok(
      raw.some((v) => Math.abs(v) > 3) && decodeArr(c.logits).every((v) => Math.abs(v) < 3),
      'final soft-capping changes the logits',
    );
    const scores = t(stage(trace, 'L0.scores'), 'scores').data;
    assert.ok(
      scores.every((v) => Math.abs(v) <= 2),
      'scores stay inside ±attn_logit_softcapping',
    );
    assert.ok(
      scores.some((v) => Math.abs(v) > 1.5),
      'and reach the saturating part of tanh',
    );
  });
});

test('Gemma 3 (QK-norm, layer_types, local RoPE base 1e4, global 1e6 with linear scaling 2, BF16): every tensor matches torch', async () => {
  await checkFamily('gemma3', (model, trace) => {
    assert.deepEqual(model.config.layerTypes, ['sliding_attention', 'sliding_attention', 'full_attention']);
    assert.equal(model.config.ropeLocalTheta, 10000);
    assert.equal(model.config.ropeLinearFactor, 2);
    assert.equal(model.config.eosId, 1, 'the first of eos_token_id [1, 6]');
    assert.match(stage(trace, 'L0.qkv').explanation, /θᵢ = 10000\^\(−2i\/12\) \(the local layers' base/);
    assert.match(stage(trace, 'L2.qkv').explanation, /θᵢ = 1e6\^\(−2i\/12\) \/ 2 \(rope_scaling linear/);
  });
});

test('configs: defaults, local/global patterns and refusals name the field', () => {
  const g2 = config('gemma2');
  const bare2 = parseGemma2Config({
    ...g2,
    attn_logit_softcapping: undefined,
    final_logit_softcapping: undefined,
    query_pre_attn_scalar: undefined,
    num_hidden_layers: 4,
  });
  assert.equal(bare2.attnSoftCap, 50, "Gemma2Config's default attn_logit_softcapping");
  assert.equal(bare2.finalSoftCap, 30);
  assert.equal(bare2.queryPreAttnScalar, 256);
  assert.deepEqual(
    bare2.layerTypes,
    ['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'],
    'even layers slide',
  );
  assert.equal(
    parseGemma2Config({ ...g2, attn_logit_softcapping: null }).attnSoftCap,
    undefined,
    'null turns capping off',
  );
  const g3 = config('gemma3');
  const { layer_types: _lt, ...noTypes } = g3;
  const p3 = parseGemma3Config({ ...noTypes, num_hidden_layers: 7, sliding_window_pattern: 6 });
  assert.deepEqual(
    p3.layerTypes.map((x) => x[0]),
    ['s', 's', 's', 's', 's', 'f', 's'],
    'every sixth layer is global',
  );
  assert.equal(parseGemma3Config({ ...g3, rope_scaling: null }).ropeLinearFactor, undefined);
  // transformers 5 writes rope_parameters instead of rope_theta, rope_local_base_freq and rope_scaling.
  const { rope_theta: _rt, rope_local_base_freq: _rl, rope_scaling: _rs, ...noRope } = g3;
  const v5 = parseGemma3Config({
    ...noRope,
    rope_parameters: {
      full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 },
      sliding_attention: { rope_type: 'default', rope_theta: 1e4 },
    },
  });
  assert.deepEqual([v5.ropeTheta, v5.ropeLocalTheta, v5.ropeLinearFactor], [1e6, 1e4, 8]);
  assert.equal(
    parseGemmaConfig({ ...config('gemma'), hidden_activation: null }).activation,
    'gelu_pytorch_tanh',
    'null hidden_activation means gelu_pytorch_tanh',
  );
  assert.equal(parseGemmaConfig(config('gemma')).embedScale, Math.fround(Math.sqrt(24)));
  const err = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      return `${(e as { code?: string }).code}: ${(e as Error).message}`;
    }
    return 'no error';
  };
  assert.match(
    err(() => parseGemma3Config({ ...g3, rope_scaling: { rope_type: 'yarn', factor: 4 } })),
    /^unsupported: .*rope_scaling .*yarn.*only \{"rope_type": "linear"/,
  );
  assert.match(
    err(() => parseGemma2Config({ ...g2, layer_types: ['full_attention'] })),
    /^config: .*"layer_types" must list .* each of the 2 layers/,
  );
  assert.match(
    err(() => parseGemmaConfig({ ...config('gemma'), hidden_activation: 'relu' })),
    /^unsupported: .*hidden_activation "relu"/,
  );
  assert.match(
    err(() => parseGemma2Config({ ...g2, model_type: 'gemma', architectures: ['GemmaForCausalLM'] })),
    /^unsupported: .*"gemma" model; this loader reads Gemma 2 models/,
  );
  assert.match(
    err(() => parseGemma3Config({ ...g3, use_bidirectional_attention: true })),
    /^unsupported: .*use_bidirectional_attention/,
  );
});

test('the one family list knows the Gemma families; a folder loads through its config.json', async () => {
  assert.equal(hfFamilyOf(config('gemma'), 'config.json'), 'gemma');
  assert.equal(hfFamilyOf(config('gemma2'), 'config.json'), 'gemma2');
  assert.equal(hfFamilyOf(config('gemma3'), 'config.json'), 'gemma3_text');
  assert.equal(HF_FAMILIES.gemma3_text.role, 'decoder');
  assert.match(SUPPORTED_MODEL_TYPES, /gemma, gemma2, gemma3_text/);
  const start = tf.memory().numTensors;
  const model = await loadModelFile(path.join(dir('gemma3'), 'config.json'));
  try {
    assert.equal(model.info.family, 'gemma3_text');
    assert.match(model.info.description, /Gemma 3 causal LM: 3 layers \(2 local with a 4-token window, 1 global\)/);
  } finally {
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, start);
});

test('a missing Gemma 2 post-norm is named with its shape', async () => {
  const { gemmaWeights } = await import('../../src/model/families/gemma/weights');
  const tensors = await readSafetensorsFile(path.join(dir('gemma2'), 'model.safetensors'));
  tensors.delete('model.layers.1.post_feedforward_layernorm.weight');
  assert.throws(
    () => gemmaWeights(tensors, parseGemma2Config(config('gemma2')), 'model.safetensors'),
    /model\.safetensors has no tensor "model\.layers\.1\.post_feedforward_layernorm\.weight".*hidden_size, 24/,
  );
});

test('the CLI runs each Gemma fixture folder (--model FOLDER)', async () => {
  const { execFileSync } = await import('node:child_process');
  const root = path.join(__dirname, '..', '..');
  for (const family of ['gemma', 'gemma2', 'gemma3'] as const) {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), '--model', dir(family), 'The lazy dog sleeps'],
      { cwd: root, encoding: 'utf8' },
    );
    assert.match(out, new RegExp(`^${family} on 10 tokens`), `${family}: the summary names the folder`);
    assert.match(out, /tokens: "<bos>" "The" "▁" "l" "azy" "▁dog"/);
    if (family === 'gemma2') {
      assert.match(
        out,
        /\[L0\.scores\] Layer 0 \(local, window 3\): attention scores {3}S\[h\] = 2·tanh\(Q\[h\] K\[g\(h\)\]ᵀ \/ \(2·√16\)\)/,
      );
      assert.match(out, /\[L1\.scores\] Layer 1 \(global\): attention scores/);
    }
    if (family === 'gemma3')
      assert.match(out, /\[L2\.qkv\] Layer 2 \(global\): queries, keys, values \(GQA, QK-norm \+ RoPE\)/);
  }
});

test("what-if with the model's own scaled-dot reproduces a Gemma 2 local layer: its scale, soft-cap and window mask", async () => {
  const { recompute } = await import('../../src/model/attention/whatif');
  const { blockOf } = await import('../../shared/navigation');
  const model = await loadGemma2(dir('gemma2'));
  try {
    const trace = await model.run(reference('gemma2').cases[0]!.text);
    for (const id of ['L0.scores', 'L1.scores']) {
      const block = blockOf(trace, stage(trace, id))!;
      assert.equal(block.info.softCap, 2);
      assert.equal(block.info.scale, 1 / Math.sqrt(16));
      // What the panel sends (src/panel/panel.ts): the block's Q, K, V, mask and AttentionInfo.
      const input = {
        Q: block.q!,
        K: block.k!,
        V: block.v!,
        kvHeadOf: block.info.kvHeadOf!,
        causal: true,
        mask: block.mask!,
        scale: block.info.scale,
        softCap: block.info.softCap,
      };
      const same = recompute(input, 'scaled-dot', 'softmax');
      normClose(same.scores.data, t(stage(trace, id), 'scores').data, `${id} what-if scores`);
      normClose(same.weights.data, t(block.stages.normalise, 'weights').data, `${id} what-if weights`);
      normClose(same.context.data, t(block.stages.context!, 'context').data, `${id} what-if context`);
    }
    // Without the window, layer 0's query 3 would see key 0.
    const b0 = blockOf(trace, stage(trace, 'L0.scores'))!;
    const { mask: _m, ...noMask } = {
      Q: b0.q!,
      K: b0.k!,
      V: b0.v!,
      kvHeadOf: b0.info.kvHeadOf!,
      causal: true,
      mask: b0.mask!,
      scale: 0.25,
      softCap: 2,
    };
    const T = b0.q!.shape[1]!;
    assert.ok(
      recompute(noMask, 'scaled-dot', 'softmax').weights.data[3 * T + 0]! > 0,
      'the window is what zeroes key 0 for query 3',
    );
    assert.equal(t(b0.stages.normalise, 'weights').data[3 * T + 0], 0);
  } finally {
    model.dispose();
  }
});
