// The BERT loader against an independent numpy forward pass (scripts/reference/transformer_ref.py),
// tensor by tensor, plus offsets, the trace's structure, a learned head pattern, DistilBERT names,
// config errors, truncation, cancellation and memory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import {
  builtinEnglishEncoderDir,
  loadBert,
  parseBertConfig,
  type BertModel,
} from '../../src/model/families/bert/model';
import { AttentionInputError } from '../../shared/trace';
import { assertClose, decodeArr, stage, t, type Arr } from './fixtureTools';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'transformer');

type LayerKeys = 'Q' | 'K' | 'V' | 'scores' | 'weights' | 'context' | 'attn_output' | 'attn_hidden' | 'hidden';
interface BertFixture {
  text: string;
  ids: number[];
  pieces: string[];
  embedding: Arr;
  layers: Record<LayerKeys, Arr>[];
  mlm_hidden: Arr;
  top_ids: number[][];
  top_p: number[][];
  logit_rows: number[];
  logits: Arr;
}

const fixtures: BertFixture[] = fs
  .readdirSync(FIXTURES)
  .filter((f) => /^bert_\d+\.json$/.test(f))
  .sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) as BertFixture);

let model: BertModel;

before(async () => {
  await initBackend();
  model = await loadBert(builtinEnglishEncoderDir());
});

after(() => model?.dispose());

test('the built-in English encoder loads as a BERT with an MLM head', () => {
  assert.equal(model.info.id, 'english-encoder');
  assert.equal(model.info.family, 'bert');
  assert.ok(model.info.layers >= 2 && model.info.heads >= 4);
  assert.ok(model.hasMlmHead);
  assert.ok(fixtures.length >= 3, 'fixtures present');
});

test('every tensor matches the numpy reference within 1e-5', async () => {
  for (const fx of fixtures) {
    const before = tf.memory().numTensors;
    const trace = await model.run(fx.text, { topK: 5 });
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    assert.deepEqual(
      trace.tokens.map((x) => x.id),
      fx.ids,
      `${fx.text}: token ids`,
    );
    assert.deepEqual(
      trace.tokens.map((x) => x.text),
      fx.pieces,
      `${fx.text}: pieces`,
    );
    const T = fx.ids.length;
    const H = model.config.numHeads;
    const hd = model.config.headDim;
    assertClose(t(stage(trace, 'embedding'), 'X').data, decodeArr(fx.embedding), 'X');
    fx.layers.forEach((L, l) => {
      const qkv = stage(trace, `L${l}.qkv`);
      for (const k of ['Q', 'K', 'V'] as const) {
        assert.deepEqual(t(qkv, k).shape, [H, T, hd]);
        assertClose(t(qkv, k).data, decodeArr(L[k]), `L${l} ${k}`);
      }
      assertClose(t(stage(trace, `L${l}.scores`), 'scores').data, decodeArr(L.scores), `L${l} scores`);
      assertClose(t(stage(trace, `L${l}.weights`), 'weights').data, decodeArr(L.weights), `L${l} weights`);
      assertClose(t(stage(trace, `L${l}.context`), 'context').data, decodeArr(L.context), `L${l} context`);
      assertClose(t(stage(trace, `L${l}.context`), 'output').data, decodeArr(L.attn_output), `L${l} attention output`);
      assertClose(
        t(stage(trace, `L${l}.output`), 'attention_hidden').data,
        decodeArr(L.attn_hidden),
        `L${l} attention hidden`,
      );
      assertClose(t(stage(trace, `L${l}.output`), 'hidden').data, decodeArr(L.hidden), `L${l} hidden`);
    });
    const out = stage(trace, 'output');
    assert.equal(out.kind, 'output');
    assertClose(t(out, 'hidden').data, decodeArr(fx.mlm_hidden), 'MLM hidden');
    assert.deepEqual(Array.from(t(out, 'top_id').data), fx.top_ids.flat(), 'top-k ids');
    assertClose(t(out, 'top_p').data, fx.top_p.flat(), 'top-k probabilities');
    assert.equal(trace.predictions?.length, T);
    assert.deepEqual(
      trace.predictions![fx.logit_rows[0]!]!.top.map((p) => p.id),
      fx.top_ids[fx.logit_rows[0]!],
    );
    const logits = (await model.logits(fx.ids))!;
    const V = model.config.vocabSize;
    const rows = new Float32Array(fx.logit_rows.length * V);
    fx.logit_rows.forEach((r, i) => rows.set(logits.subarray(r * V, (r + 1) * V), i * V));
    assertClose(rows, decodeArr(fx.logits), 'MLM logits');
  }
});

test('the trace has the documented stages, attention info and token axes', async () => {
  const trace = await model.run('The cat sat on the mat.');
  const L = model.config.numLayers;
  const ids = ['tokens', 'embedding'];
  for (let l = 0; l < L; l++) ids.push(`L${l}.qkv`, `L${l}.scores`, `L${l}.weights`, `L${l}.context`, `L${l}.output`);
  ids.push('output');
  assert.deepEqual(
    trace.stages.map((s) => s.id),
    ids,
  );
  const w = stage(trace, 'L0.weights');
  assert.equal(w.kind, 'normalise');
  assert.deepEqual(w.attention, {
    queries: 'input',
    keys: 'input',
    causal: false,
    score: 'scaled-dot',
    normaliser: 'softmax',
  });
  assert.equal(stage(trace, 'L1.output').kind, 'encoder-layer');
  assert.deepEqual(t(w, 'weights').tokenAxes, { query: 'input', key: 'input' });
  assert.deepEqual(t(w, 'weights').axes, ['head', 'query', 'key']);
  assert.deepEqual(t(stage(trace, 'L0.context'), 'context').axes, ['head', 'query', 'd_head']);
  for (const s of trace.stages) {
    assert.ok(s.explanation.length > 60, `${s.id} explains itself`);
    assert.ok(s.formula.length > 0, `${s.id} has a formula`);
  }
  assert.equal(trace.tokens[0]!.text, '[CLS]');
  assert.equal(trace.tokens.at(-1)!.text, '[SEP]');
  for (const tok of [trace.tokens[0]!, trace.tokens.at(-1)!]) {
    assert.equal(tok.special, true);
    assert.equal(tok.start, -1);
    assert.equal(tok.end, -1);
  }
});

test('attention is bidirectional and every row sums to 1', async () => {
  const trace = await model.run('Birds fly south in the autumn because the days get colder.');
  const T = trace.tokens.length;
  let above = 0;
  for (let l = 0; l < model.config.numLayers; l++) {
    const w = t(stage(trace, `L${l}.weights`), 'weights').data;
    for (let h = 0; h < model.config.numHeads; h++) {
      for (let i = 0; i < T; i++) {
        let sum = 0;
        for (let j = 0; j < T; j++) {
          const v = w[(h * T + i) * T + j]!;
          sum += v;
          if (j > i) above = Math.max(above, v);
        }
        assert.ok(Math.abs(sum - 1) < 1e-5, `L${l} head ${h} row ${i} sums to ${sum}`);
      }
    }
  }
  assert.ok(above > 0.1, `some query puts weight on a later token (max ${above})`);
});

test('offsets point at the right characters: accents, [MASK] typed in the text, emoji as [UNK], CRLF', async () => {
  const text = 'Café said:\r\n[MASK] über 😀 day';
  const trace = await model.run(text);
  const toks = trace.tokens.slice(1, -1);
  const byText = (s: string) => toks.filter((x) => x.text === s);
  // Every WordPiece token's span, normalised, spells the piece.
  const norm = (s: string) =>
    s
      .toLowerCase()
      .normalize('NFD')
      .replace(/\p{Mn}/gu, '');
  let joined = '';
  for (const tok of toks) {
    assert.ok(tok.start >= 0 && tok.end > tok.start, `${tok.text} has a span`);
    if (tok.unknown) continue;
    const piece = tok.text.startsWith('##') ? tok.text.slice(2) : tok.text;
    if (!tok.special) assert.equal(norm(text.slice(tok.start, tok.end)), piece, `span of ${tok.text}`);
    joined += text.slice(tok.start, tok.end);
  }
  const mask = byText('[MASK]')[0]!;
  assert.equal(text.slice(mask.start, mask.end), '[MASK]');
  assert.equal(mask.special, true);
  const unk = toks.find((x) => x.unknown)!;
  assert.equal(text.slice(unk.start, unk.end), '😀', 'the emoji is one [UNK] of two UTF-16 units');
  assert.equal(unk.end - unk.start, 2);
  assert.equal(trace.tokens.at(-2)!.text, 'day');
  assert.equal(text.slice(trace.tokens.at(-2)!.start, trace.tokens.at(-2)!.end), 'day');
  assert.ok(
    trace.warnings.some((w) => w.includes('[UNK]')),
    'the unknown word is reported',
  );
  assert.ok(!trace.warnings.some((w) => w.includes('matched')), 'no alignment issues');
  assert.ok(joined.length > 10);
});

test('learned patterns: layer 0 has a next-token head (1) and a previous-token head (3)', async () => {
  const sentences = [
    'The river runs quickly through the narrow valley below the hills.',
    'She wrote a long letter to her brother about the new house.',
    'A tool used for cutting wood into small pieces.',
    'The children played in the garden until the sun went down.',
  ];
  const H = model.config.numHeads;
  const next = new Array<number>(H).fill(0);
  const prev = new Array<number>(H).fill(0);
  let rows = 0;
  for (const s of sentences) {
    const trace = await model.run(s);
    const T = trace.tokens.length;
    const w = t(stage(trace, 'L0.weights'), 'weights').data;
    for (let i = 1; i < T - 1; i++) {
      for (let h = 0; h < H; h++) {
        next[h]! += w[(h * T + i) * T + i + 1]!;
        prev[h]! += w[(h * T + i) * T + i - 1]!;
      }
      rows++;
    }
  }
  const mean = (a: number[]) => a.map((x) => x / rows);
  // Measured on the shipped weights: head 1 puts 0.87 of its weight on the next token, head 3 0.94 on the
  // previous one (see models/english-encoder/SOURCE.md); a uniform head would give about 1/T ≈ 0.07.
  assert.ok(
    mean(next)[1]! > 0.75,
    `L0 head 1 → next token: ${mean(next)
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  assert.ok(
    mean(prev)[3]! > 0.8,
    `L0 head 3 → previous token: ${mean(prev)
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  assert.ok(mean(next)[3]! < 0.1 && mean(prev)[1]! < 0.1, 'the two heads look in opposite directions');
});

test('empty and whitespace-only input is rejected', async () => {
  for (const text of ['', '   \n\t ']) {
    await assert.rejects(model.run(text), (e: unknown) => e instanceof AttentionInputError && e.code === 'empty');
  }
});

test('long input is truncated to maxTokens with a warning naming the limit', async () => {
  const text = 'the quick brown fox jumps over the lazy dog '.repeat(40);
  const trace = await model.run(text, { maxTokens: 12 });
  assert.equal(trace.tokens.length, 12);
  assert.equal(trace.tokens.at(-1)!.text, '[SEP]');
  assert.ok(
    trace.warnings.some((w) => w.includes('12 tokens')),
    trace.warnings.join('; '),
  );
  assert.ok(trace.text.length < text.length && text.startsWith(trace.text));
  const over = await model.run('a b c', { maxTokens: 100000 });
  // The model's own context caps maxTokens: a note for the header, not a warning.
  assert.ok((over.notes ?? []).some((w) => w.includes(`${model.config.maxPositions} positions`)));
  assert.ok(!over.warnings.some((w) => w.includes('positions')), over.warnings.join('; '));
  const full = await model.run(text);
  assert.equal(full.tokens.length, model.config.maxPositions);
});

test('cancellation throws AttentionInputError("cancelled") and leaks no tensors', async () => {
  const before = tf.memory().numTensors;
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(
    model.run('hello world', { signal: pre.signal }),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
  );
  const mid = new AbortController();
  await assert.rejects(
    model.run('hello there, how are you today?', {
      signal: mid.signal,
      onProgress: (f) => {
        if (f > 0.3) mid.abort();
      },
    }),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
  );
  assert.equal(tf.memory().numTensors, before);
});

test('config validation gives clear errors', () => {
  const good = JSON.parse(fs.readFileSync(path.join(builtinEnglishEncoderDir(), 'config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(parseBertConfig(good).hiddenSize, good['hidden_size']);
  const code = (raw: unknown) => {
    try {
      parseBertConfig(raw);
    } catch (e) {
      assert.ok(e instanceof AttentionInputError);
      return `${e.code}: ${e.message}`;
    }
    return 'ok';
  };
  assert.match(code({ ...good, num_attention_heads: 5 }), /^config: .*not divisible by the 5 attention heads/);
  assert.match(code({ ...good, hidden_size: undefined }), /^config: .*missing "hidden_size"/);
  assert.match(code({ ...good, num_hidden_layers: 0 }), /^config: .*num_hidden_layers/);
  assert.match(code({ ...good, model_type: 'gpt2' }), /^unsupported: .*"gpt2".*roberta/);
  assert.match(code({ ...good, position_embedding_type: 'relative_key' }), /^unsupported: /);
  assert.match(code({ ...good, hidden_act: 'mish' }), /^unsupported: /);
  assert.match(code([1, 2]), /^config: .*not a JSON object/);
});

function tmpCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-'));
  for (const f of fs.readdirSync(builtinEnglishEncoderDir()))
    fs.copyFileSync(path.join(builtinEnglishEncoderDir(), f), path.join(dir, f));
  return dir;
}

test('weights that do not match config.json give a shape error and allocate nothing', async () => {
  const dir = tmpCopy();
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number>;
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ ...cfg, intermediate_size: cfg['intermediate_size']! * 2 }),
    );
    const before = tf.memory().numTensors;
    await assert.rejects(
      loadBert(dir),
      (e: unknown) => e instanceof AttentionInputError && e.code === 'shape' && /intermediate\.dense/.test(e.message),
    );
    assert.equal(tf.memory().numTensors, before);
    fs.writeFileSync(path.join(dir, 'config.json'), '{ not json');
    await assert.rejects(loadBert(dir), (e: unknown) => e instanceof AttentionInputError && e.code === 'config');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Minimal safetensors writer for the DistilBERT test. */
function writeSafetensors(file: string, tensors: Map<string, { shape: number[]; data: Float32Array }>): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(
    file,
    Buffer.concat([
      len,
      json,
      ...[...tensors.values()].map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
    ]),
  );
}

test('DistilBERT parameter names load and compute the same as the BERT they were renamed from', async () => {
  const { readSafetensorsFile } = await import('../../src/model/formats/safetensors');
  const src = await readSafetensorsFile(path.join(builtinEnglishEncoderDir(), 'model.safetensors'));
  const cfg = JSON.parse(fs.readFileSync(path.join(builtinEnglishEncoderDir(), 'config.json'), 'utf8')) as Record<
    string,
    number
  >;
  const D = cfg['hidden_size']!;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (to: string, from: string): void => {
    const x = src.get(from)!;
    out.set(to, { shape: [...x.shape], data: x.data });
  };
  // DistilBERT has no segment embeddings: fold segment 0 into the position table.
  const pos = src.get('bert.embeddings.position_embeddings.weight')!;
  const type0 = src.get('bert.embeddings.token_type_embeddings.weight')!.data.subarray(0, D);
  const folded = Float32Array.from(pos.data, (v, i) => v + type0[i % D]!);
  out.set('distilbert.embeddings.position_embeddings.weight', { shape: [...pos.shape], data: folded });
  put('distilbert.embeddings.word_embeddings.weight', 'bert.embeddings.word_embeddings.weight');
  for (const p of ['weight', 'bias']) {
    put(`distilbert.embeddings.LayerNorm.${p}`, `bert.embeddings.LayerNorm.${p}`);
    for (let l = 0; l < cfg['num_hidden_layers']!; l++) {
      const a = `bert.encoder.layer.${l}.`;
      const b = `distilbert.transformer.layer.${l}.`;
      put(`${b}attention.q_lin.${p}`, `${a}attention.self.query.${p}`);
      put(`${b}attention.k_lin.${p}`, `${a}attention.self.key.${p}`);
      put(`${b}attention.v_lin.${p}`, `${a}attention.self.value.${p}`);
      put(`${b}attention.out_lin.${p}`, `${a}attention.output.dense.${p}`);
      put(`${b}sa_layer_norm.${p}`, `${a}attention.output.LayerNorm.${p}`);
      put(`${b}ffn.lin1.${p}`, `${a}intermediate.dense.${p}`);
      put(`${b}ffn.lin2.${p}`, `${a}output.dense.${p}`);
      put(`${b}output_layer_norm.${p}`, `${a}output.LayerNorm.${p}`);
    }
    put(`vocab_transform.${p}`, `cls.predictions.transform.dense.${p}`);
    put(`vocab_layer_norm.${p}`, `cls.predictions.transform.LayerNorm.${p}`);
  }
  put('vocab_projector.bias', 'cls.predictions.bias');
  const dir = tmpCopy();
  try {
    writeSafetensors(path.join(dir, 'model.safetensors'), out);
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        model_type: 'distilbert',
        architectures: ['DistilBertForMaskedLM'],
        dim: D,
        n_layers: cfg['num_hidden_layers'],
        n_heads: cfg['num_attention_heads'],
        hidden_dim: cfg['intermediate_size'],
        vocab_size: cfg['vocab_size'],
        max_position_embeddings: cfg['max_position_embeddings'],
        activation: 'gelu',
      }),
    );
    const distil = await loadBert(dir);
    try {
      assert.equal(distil.info.family, 'distilbert');
      const text = 'The small dog ran across the [MASK] field.';
      const a = await model.run(text);
      const b = await distil.run(text);
      assert.ok(!b.stages.some((s) => s.title.includes('segment')));
      assertClose(
        t(stage(b, 'L1.output'), 'hidden').data,
        t(stage(a, 'L1.output'), 'hidden').data,
        'DistilBERT hidden',
        1e-4,
      );
      assertClose(
        t(stage(b, 'output'), 'top_p').data,
        t(stage(a, 'output'), 'top_p').data,
        'DistilBERT predictions',
        1e-4,
      );
    } finally {
      distil.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
