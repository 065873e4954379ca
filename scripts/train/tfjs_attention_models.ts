// Builds, briefly trains and saves the small TensorFlow.js layers models that show Keras's three
// attention layers (src/model/families/tfjsLayers/kerasAttention.ts), in tfjs's own layers format: model.json (with a
// character vocabulary in userDefinedMetadata) + binary weight shards.
//
//   samples/models/tfjs-mha-charlm/        MultiHeadAttention (2 heads, causal) over token + position embeddings
//   test/fixtures/tfjs/luong-charlm/       Attention (Luong, scaled dot, causal): query = GRU state, key = Dense(embedding), value = embedding
//   test/fixtures/tfjs/bahdanau-charlm/    AdditiveAttention (Bahdanau, causal): query = Dense(GRU state), value = key = embedding
//   test/fixtures/tfjs/mixed-classifier/   untrained, seeded: MHA (3 heads, value_dim ≠ key_dim, output_shape, no bias)
//                                          + Attention(score_mode "concat") + pooling → 3 classes
//
// The three character language models are trained for a few hundred steps on seeded synthetic
// sentences (next-character prediction), enough for the heatmaps to show structure.
// Run from the repository root (about 2–4 minutes on 2 cores):
//   node --import tsx scripts/train/tfjs_attention_models.ts
// then regenerate the numpy fixture: /usr/bin/python3 scripts/reference/tfjs_layers_ref.py
import { mulberry32 } from '../../src/model/families/toy/model';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { AdditiveAttention, Attention, MultiHeadAttention } from '../../src/model/families/tfjsLayers/kerasAttention';

const ROOT = path.resolve(__dirname, '..', '..');
const SEQ = 32; // training window
const MAX_LEN = 64; // positions the MHA model knows
const SHARD_BYTES = 16 * 1024; // small shards, so the loader's multi-shard path is exercised

// ---------------------------------------------------------------------------------------------
// Seeded synthetic corpus

const WORDS = {
  name: ['mia', 'tom', 'sam', 'lily', 'ben', 'anna'],
  animal: ['cat', 'dog', 'bird', 'fox', 'frog', 'duck'],
  adj: ['little', 'big', 'red', 'happy', 'small', 'old'],
  verb: ['saw', 'liked', 'found', 'helped', 'chased', 'met'],
  place: ['park', 'garden', 'house', 'tree', 'river', 'hill'],
};

function sentence(r: () => number): string {
  const pick = (list: readonly string[]): string => list[Math.floor(r() * list.length)]!;
  switch (Math.floor(r() * 4)) {
    case 0:
      return `${pick(WORDS.name)} ${pick(WORDS.verb)} a ${pick(WORDS.adj)} ${pick(WORDS.animal)}.`;
    case 1:
      return `the ${pick(WORDS.animal)} was in the ${pick(WORDS.place)}.`;
    case 2:
      return `${pick(WORDS.name)} and ${pick(WORDS.name)} went to the ${pick(WORDS.place)}.`;
    default:
      return `the ${pick(WORDS.adj)} ${pick(WORDS.animal)} ${pick(WORDS.verb)} ${pick(WORDS.name)}.`;
  }
}

const PAD = '<pad>';
const UNK = '<unk>';
const VOCAB = [PAD, UNK, ...' .abcdefghijklmnopqrstuvwxyz'];

function corpus(seed: number, chars: number): string {
  const r = mulberry32(seed);
  let s = '';
  while (s.length < chars) s += sentence(r) + ' ';
  return s;
}

function ids(text: string): number[] {
  return [...text].map((c) => {
    const i = VOCAB.indexOf(c);
    return i < 2 ? 1 : i;
  });
}

// ---------------------------------------------------------------------------------------------
// Models

type Built = { model: tf.LayersModel; positions: boolean };

function mhaCharLm(): Built {
  const V = VOCAB.length;
  const D = 32;
  const tokens = tf.input({ shape: [null], dtype: 'int32', name: 'tokens' });
  const positions = tf.input({ shape: [null], dtype: 'int32', name: 'positions' });
  const emb = tf.layers
    .embedding({
      inputDim: V,
      outputDim: D,
      name: 'token_embedding',
      embeddingsInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: 11 }),
    })
    .apply(tokens) as tf.SymbolicTensor;
  const pos = tf.layers
    .embedding({
      inputDim: MAX_LEN,
      outputDim: D,
      name: 'position_embedding',
      embeddingsInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: 12 }),
    })
    .apply(positions) as tf.SymbolicTensor;
  const x = tf.layers.add({ name: 'embed_sum' }).apply([emb, pos]) as tf.SymbolicTensor;
  // tfjs's predict/fit drop call kwargs, so the causal mask is a config option here (use_causal_mask);
  // the loader moves Keras's use_causal_mask call argument into the same place.
  const mha = new MultiHeadAttention({
    name: 'self_attention',
    numHeads: 2,
    keyDim: 16,
    useCausalMask: true,
    kernelInitializer: tf.initializers.glorotUniform({ seed: 13 }),
  });
  const a = mha.apply([x, x]) as tf.SymbolicTensor;
  const h = tf.layers.add({ name: 'residual' }).apply([x, a]) as tf.SymbolicTensor;
  const f = tf.layers
    .dense({
      units: 64,
      activation: 'relu',
      name: 'ffn',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 14 }),
    })
    .apply(h) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({
      units: V,
      activation: 'softmax',
      name: 'next_char',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 15 }),
    })
    .apply(f) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: [tokens, positions], outputs: out, name: 'mha_charlm' }), positions: true };
}

function gruBase(seed: number): { tokens: tf.SymbolicTensor; emb: tf.SymbolicTensor; gru: tf.SymbolicTensor } {
  const V = VOCAB.length;
  const tokens = tf.input({ shape: [null], dtype: 'int32', name: 'tokens' });
  const emb = tf.layers
    .embedding({
      inputDim: V,
      outputDim: 24,
      name: 'token_embedding',
      embeddingsInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed }),
    })
    .apply(tokens) as tf.SymbolicTensor;
  const gru = tf.layers
    .gru({
      units: 24,
      returnSequences: true,
      recurrentActivation: 'sigmoid',
      name: 'gru',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      recurrentInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }),
    })
    .apply(emb) as tf.SymbolicTensor;
  return { tokens, emb, gru };
}

function head(
  tokens: tf.SymbolicTensor,
  gru: tf.SymbolicTensor,
  context: tf.SymbolicTensor,
  seed: number,
  name: string,
): tf.LayersModel {
  const cat = tf.layers.concatenate({ name: 'state_and_context' }).apply([gru, context]) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({
      units: VOCAB.length,
      activation: 'softmax',
      name: 'next_char',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    })
    .apply(cat) as tf.SymbolicTensor;
  return tf.model({ inputs: tokens, outputs: out, name });
}

function luongCharLm(): Built {
  const { tokens, emb, gru } = gruBase(21);
  const key = tf.layers
    .dense({ units: 24, name: 'key_proj', kernelInitializer: tf.initializers.glorotUniform({ seed: 24 }) })
    .apply(emb) as tf.SymbolicTensor;
  const ctx = new Attention({ name: 'luong_attention', useScale: true, causal: true }).apply([
    gru,
    emb,
    key,
  ]) as tf.SymbolicTensor;
  return { model: head(tokens, gru, ctx, 25, 'luong_charlm'), positions: false };
}

function bahdanauCharLm(): Built {
  const { tokens, emb, gru } = gruBase(31);
  const query = tf.layers
    .dense({ units: 24, name: 'query_proj', kernelInitializer: tf.initializers.glorotUniform({ seed: 34 }) })
    .apply(gru) as tf.SymbolicTensor;
  const att = new AdditiveAttention({ name: 'bahdanau_attention', useScale: true, causal: true });
  const ctx = att.apply([query, emb]) as tf.SymbolicTensor;
  return { model: head(tokens, gru, ctx, 35, 'bahdanau_charlm'), positions: false };
}

function mixedClassifier(): Built {
  const tokens = tf.input({ shape: [null], dtype: 'int32', name: 'tokens' });
  const emb = tf.layers
    .embedding({
      inputDim: VOCAB.length,
      outputDim: 12,
      name: 'token_embedding',
      embeddingsInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: 41 }),
    })
    .apply(tokens) as tf.SymbolicTensor;
  const mha = new MultiHeadAttention({
    name: 'mha',
    numHeads: 3,
    keyDim: 4,
    valueDim: 6,
    outputShape: 10,
    useBias: false,
    kernelInitializer: tf.initializers.glorotUniform({ seed: 42 }),
  });
  const m = mha.apply(emb) as tf.SymbolicTensor;
  const q = tf.layers
    .dense({
      units: 8,
      name: 'q_proj',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 43 }),
      biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 46 }),
    })
    .apply(m) as tf.SymbolicTensor;
  const v = tf.layers
    .dense({ units: 8, name: 'v_proj', kernelInitializer: tf.initializers.glorotUniform({ seed: 44 }) })
    .apply(emb) as tf.SymbolicTensor;
  const att = new Attention({ name: 'concat_attention', scoreMode: 'concat', useScale: true });
  const c = att.apply([q, v]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling1d({ name: 'pool' }).apply(c) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({
      units: 3,
      activation: 'softmax',
      name: 'classes',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 45 }),
    })
    .apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: tokens, outputs: out, name: 'mixed_classifier' });
  // Give the scalar score weights values other than 1 so a mix-up would show.
  tf.tidy(() => {
    const ws = att.getWeights();
    att.setWeights([tf.scalar(0.7), tf.scalar(1.3)].slice(0, ws.length));
  });
  return { model, positions: false };
}

// ---------------------------------------------------------------------------------------------
// Training (next character, teacher forcing)

async function train(b: Built, steps: number, seed: number): Promise<number> {
  const text = ids(corpus(seed, 40000));
  const r = mulberry32(seed + 7);
  const batch = 16;
  b.model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy' });
  let loss = NaN;
  for (let step = 0; step < steps; step++) {
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < batch; i++) {
      const at = Math.floor(r() * (text.length - SEQ - 1));
      xs.push(...text.slice(at, at + SEQ));
      ys.push(...text.slice(at + 1, at + SEQ + 1));
    }
    const x = tf.tensor2d(xs, [batch, SEQ], 'int32');
    const y = tf.tensor3d(ys, [batch, SEQ, 1], 'float32');
    const inputs = b.positions
      ? [x, tf.tidy(() => tf.tile(tf.range(0, SEQ, 1, 'int32').reshape([1, SEQ]), [batch, 1]))]
      : x;
    const h = await b.model.trainOnBatch(inputs, y);
    loss = Array.isArray(h) ? (h[0] as number) : (h as number);
    tf.dispose([x, y, inputs]);
    if (step % 20 === 0 || step === steps - 1) console.log(`  ${b.model.name} step ${step}: loss ${loss.toFixed(3)}`);
  }
  return loss;
}

// ---------------------------------------------------------------------------------------------
// Saving: tfjs in Node has no file:// handler without tfjs-node, so write model.json + shards here.

function fileSaveHandler(dir: string, metadata: Record<string, unknown>): tf.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(dir)) if (/^group\d+-shard\d+of\d+\.bin$/.test(f)) fs.unlinkSync(path.join(dir, f));
    const data = new Uint8Array(artifacts.weightData as ArrayBuffer);
    const count = Math.max(1, Math.ceil(data.length / SHARD_BYTES));
    const paths: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `group1-shard${i + 1}of${count}.bin`;
      fs.writeFileSync(
        path.join(dir, name),
        data.subarray(i * SHARD_BYTES, Math.min(data.length, (i + 1) * SHARD_BYTES)),
      );
      paths.push(name);
    }
    const json = {
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
      userDefinedMetadata: metadata,
    };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json, null, 1) + '\n');
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: data.length } };
  });
}

function metadata(description: string, positions: boolean, output: 'next-token' | 'classes'): Record<string, unknown> {
  return {
    attentionLens: {
      description,
      tokenizer: 'chars',
      vocab: VOCAB,
      padId: 0,
      unkId: 1,
      lowercase: true,
      maxLength: MAX_LEN,
      ...(positions ? { positionsInput: 'positions' } : {}),
      output,
      ...(output === 'classes' ? { labels: ['first', 'second', 'third'] } : {}),
    },
  };
}

async function main(): Promise<void> {
  const status = await initBackend('cpu'); // wasm has no UnsortedSegmentSum (the Embedding gradient)
  console.log(`backend ${status.name}`);
  const only = process.argv[2];
  const jobs: {
    dir: string;
    build: () => Built;
    steps: number;
    seed: number;
    description: string;
    output: 'next-token' | 'classes';
  }[] = [
    {
      dir: 'samples/models/tfjs-mha-charlm',
      build: mhaCharLm,
      steps: 120,
      seed: 1,
      output: 'next-token',
      description:
        'A one-layer character language model with Keras MultiHeadAttention (2 heads of 16, causal mask) over token + position embeddings, trained briefly on simple synthetic sentences.',
    },
    {
      dir: 'test/fixtures/tfjs/luong-charlm',
      build: luongCharLm,
      steps: 60,
      seed: 2,
      output: 'next-token',
      description:
        'A GRU character language model that attends back over the characters so far with Keras Attention (Luong, learned scale, causal).',
    },
    {
      dir: 'test/fixtures/tfjs/bahdanau-charlm',
      build: bahdanauCharLm,
      steps: 60,
      seed: 3,
      output: 'next-token',
      description:
        'A GRU character language model that attends back over the characters so far with Keras AdditiveAttention (Bahdanau, causal).',
    },
    {
      dir: 'test/fixtures/tfjs/mixed-classifier',
      build: mixedClassifier,
      steps: 0,
      seed: 4,
      output: 'classes',
      description:
        'Untrained, seeded test model: MultiHeadAttention (3 heads, value_dim 6 ≠ key_dim 4, output_shape 10, no biases), then Attention with score_mode "concat", pooled into 3 classes.',
    },
  ];
  for (const job of jobs) {
    if (only && !job.dir.includes(only)) continue;
    const b = job.build();
    const t0 = performance.now();
    const loss = job.steps > 0 ? await train(b, job.steps, job.seed) : NaN;
    const meta = metadata(job.description, b.positions, job.output);
    if (job.steps > 0)
      (meta.attentionLens as Record<string, unknown>).training = {
        task: 'next character on seeded synthetic sentences',
        steps: job.steps,
        batch: 16,
        window: SEQ,
        finalLoss: Number(loss.toFixed(4)),
      };
    await b.model.save(fileSaveHandler(path.join(ROOT, job.dir), meta));
    console.log(
      `saved ${job.dir} (${b.model.countParams()} parameters, ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
    b.model.dispose();
  }
}

void main();
