// The Marian encoder–decoder loader against an independent numpy forward pass
// (scripts/reference/transformer_ref.py): every encoder, decoder self- and cross-attention tensor,
// greedy output, causal masking, a learned cross-attention alignment, errors, truncation, cancellation, memory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import {
  builtinDatesTransformerDir,
  loadEncoderDecoder,
  parseMarianConfig,
  sinusoidalPositions,
  type EncoderDecoderModel,
} from '../../src/model/families/marian/model';
import { AttentionInputError } from '../../shared/trace';
import { assertClose, decodeArr, stage, t, type Arr } from './fixtureTools';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'transformer');

type AttnKeys = 'Q' | 'K' | 'V' | 'scores' | 'weights' | 'context' | 'attn_output';
interface DatesFixture {
  text: string;
  src_ids: number[];
  out_ids: number[];
  decoded: string;
  dec_in: number[];
  enc_embedding: Arr;
  dec_embedding: Arr;
  enc_layers: (Record<AttnKeys, Arr> & { attn_hidden: Arr; hidden: Arr })[];
  dec_layers: {
    self: Record<AttnKeys, Arr>;
    cross: Record<AttnKeys, Arr>;
    self_hidden: Arr;
    cross_hidden: Arr;
    hidden: Arr;
  }[];
  logits: Arr;
  top_ids: number[][];
  top_p: number[][];
}

const fixtures: DatesFixture[] = fs
  .readdirSync(FIXTURES)
  .filter((f) => /^dates_\d+\.json$/.test(f))
  .sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) as DatesFixture);

let model: EncoderDecoderModel;

before(async () => {
  await initBackend();
  model = await loadEncoderDecoder(builtinDatesTransformerDir());
});

after(() => model?.dispose());

test('the built-in date Transformer loads as a Marian model', () => {
  assert.equal(model.info.id, 'dates-transformer');
  assert.equal(model.info.family, 'marian');
  assert.ok(
    model.config.encoderLayers >= 2 &&
      model.config.decoderLayers >= 2 &&
      model.config.encoderHeads >= 4 &&
      model.config.decoderHeads >= 4,
  );
  assert.ok(fixtures.length >= 3, 'fixtures present');
});

test('every encoder, decoder and cross-attention tensor matches the numpy reference within 1e-5', async () => {
  for (const fx of fixtures) {
    const before = tf.memory().numTensors;
    const trace = await model.run(fx.text, { topK: 5 });
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    assert.deepEqual(
      trace.tokens.map((x) => x.id),
      fx.src_ids,
      `${fx.text}: input ids`,
    );
    assert.deepEqual(
      trace.outputTokens!.map((x) => x.id),
      fx.out_ids,
      `${fx.text}: greedy output ids`,
    );
    assertClose(t(stage(trace, 'embedding'), 'X').data, decodeArr(fx.enc_embedding), 'encoder X');
    assertClose(t(stage(trace, 'dec.embedding'), 'Y').data, decodeArr(fx.dec_embedding), 'decoder Y');
    const check = (prefix: string, rec: Record<AttnKeys, Arr>): void => {
      for (const k of ['Q', 'K', 'V'] as const)
        assertClose(t(stage(trace, `${prefix}.qkv`), k).data, decodeArr(rec[k]), `${prefix} ${k}`);
      assertClose(t(stage(trace, `${prefix}.scores`), 'scores').data, decodeArr(rec.scores), `${prefix} scores`);
      assertClose(t(stage(trace, `${prefix}.weights`), 'weights').data, decodeArr(rec.weights), `${prefix} weights`);
      assertClose(t(stage(trace, `${prefix}.context`), 'context').data, decodeArr(rec.context), `${prefix} context`);
      assertClose(t(stage(trace, `${prefix}.context`), 'output').data, decodeArr(rec.attn_output), `${prefix} output`);
    };
    fx.enc_layers.forEach((L, l) => {
      check(`enc${l}`, L);
      assertClose(
        t(stage(trace, `enc${l}.output`), 'attention_hidden').data,
        decodeArr(L.attn_hidden),
        `enc${l} attention hidden`,
      );
      assertClose(t(stage(trace, `enc${l}.output`), 'hidden').data, decodeArr(L.hidden), `enc${l} hidden`);
    });
    fx.dec_layers.forEach((L, l) => {
      check(`dec${l}.self`, L.self);
      check(`dec${l}.cross`, L.cross);
      assertClose(
        t(stage(trace, `dec${l}.output`), 'self_hidden').data,
        decodeArr(L.self_hidden),
        `dec${l} self hidden`,
      );
      assertClose(
        t(stage(trace, `dec${l}.output`), 'cross_hidden').data,
        decodeArr(L.cross_hidden),
        `dec${l} cross hidden`,
      );
      assertClose(t(stage(trace, `dec${l}.output`), 'hidden').data, decodeArr(L.hidden), `dec${l} hidden`);
    });
    const out = stage(trace, 'output');
    assert.equal(out.kind, 'decoder-step');
    assert.deepEqual(Array.from(t(out, 'top_id').data), fx.top_ids.flat(), 'top-k ids');
    assertClose(t(out, 'top_p').data, fx.top_p.flat(), 'top-k probabilities');
    assert.equal(trace.predictions!.length, fx.out_ids.length);
    trace.predictions!.forEach((p, i) =>
      assert.equal(p.top[0]!.id, fx.out_ids[i], `greedy choice at step ${i} is the top prediction`),
    );
    assert.equal(await model.translate(fx.text), fx.decoded);
  }
});

test('dates are normalised correctly', async () => {
  const cases: [string, string][] = [
    ['Monday 23rd of November 2026', '2026-11-23'],
    ['5/11/1987', '1987-11-05'],
    ['on the 1st of March, 2031', '2031-03-01'],
    ['on the 1st of March in the year 2031', '2031-03-01'],
    ['July 4, 1976', '1976-07-04'],
    ['2024-02-29', '2024-02-29'],
    ['the 31st of December 1999', '1999-12-31'],
  ];
  for (const [input, want] of cases) assert.equal(await model.translate(input), want, input);
  for (const fx of fixtures) assert.equal(fx.decoded, cases.find(([i]) => i === fx.text)?.[1] ?? fx.decoded);
});

test('the trace has encoder, causal decoder self-attention and cross-attention stages', async () => {
  const trace = await model.run('Monday 23rd of November 2026');
  const S = trace.tokens.length;
  const T = trace.outputTokens!.length;
  assert.equal(trace.tokens.at(-1)!.text, '</s>');
  assert.equal(trace.tokens.at(-1)!.start, -1);
  assert.equal(trace.tokens.at(-1)!.special, true);
  assert.equal(trace.outputTokens!.map((x) => x.text).join(''), '2026-11-23</s>');
  assert.equal(trace.tokens[7]!.text, '2');
  assert.equal(trace.tokens[7]!.start, 7);
  const ids: string[] = ['tokens', 'embedding'];
  for (let l = 0; l < model.config.encoderLayers; l++)
    ids.push(...['qkv', 'scores', 'weights', 'context', 'output'].map((s) => `enc${l}.${s}`));
  ids.push('dec.embedding');
  for (let l = 0; l < model.config.decoderLayers; l++) {
    ids.push(...['qkv', 'scores', 'weights', 'context'].map((s) => `dec${l}.self.${s}`));
    ids.push(...['qkv', 'scores', 'weights', 'context'].map((s) => `dec${l}.cross.${s}`));
    ids.push(`dec${l}.output`);
  }
  ids.push('output');
  assert.deepEqual(
    trace.stages.map((s) => s.id),
    ids,
  );
  assert.deepEqual(stage(trace, 'enc0.weights').attention, {
    queries: 'input',
    keys: 'input',
    causal: false,
    score: 'scaled-dot',
    normaliser: 'softmax',
  });
  assert.deepEqual(stage(trace, 'dec0.self.weights').attention, {
    queries: 'output',
    keys: 'output',
    causal: true,
    score: 'scaled-dot',
    normaliser: 'softmax',
  });
  const cross = stage(trace, 'dec1.cross.weights');
  assert.equal(cross.kind, 'normalise');
  assert.deepEqual(cross.attention, {
    queries: 'output',
    keys: 'input',
    causal: false,
    score: 'scaled-dot',
    normaliser: 'softmax',
  });
  assert.deepEqual(t(cross, 'weights').shape, [model.config.decoderHeads, T, S]);
  assert.deepEqual(t(cross, 'weights').tokenAxes, { query: 'output', key: 'input' });
  assert.deepEqual(t(stage(trace, 'dec1.cross.qkv'), 'Q').tokenAxes, { token: 'output' });
  assert.deepEqual(t(stage(trace, 'dec1.cross.qkv'), 'K').tokenAxes, { token: 'input' });
  const mask = t(stage(trace, 'dec0.self.scores'), 'mask');
  assert.deepEqual(mask.shape, [T, T]);
  assert.equal(mask.data[1], 0);
  assert.equal(mask.data[T], 1);
  for (const s of trace.stages) assert.ok(s.explanation.length > 50 && s.formula.length > 0, `${s.id} explained`);
});

test('encoder attention is not causal, decoder self-attention is (exact zeros), all rows sum to 1', async () => {
  const trace = await model.run('it was Friday the 13th of June 2025');
  const rows = (w: Float32Array, H: number, Tq: number, Tk: number, what: string): void => {
    for (let r = 0; r < H * Tq; r++) {
      let s = 0;
      for (let j = 0; j < Tk; j++) s += w[r * Tk + j]!;
      assert.ok(Math.abs(s - 1) < 1e-5, `${what} row ${r} sums to ${s}`);
    }
  };
  const S = trace.tokens.length;
  const T = trace.outputTokens!.length;
  let above = 0;
  for (let l = 0; l < model.config.encoderLayers; l++) {
    const w = t(stage(trace, `enc${l}.weights`), 'weights').data;
    rows(w, model.config.encoderHeads, S, S, `enc${l}`);
    for (let h = 0; h < model.config.encoderHeads; h++)
      for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) above = Math.max(above, w[(h * S + i) * S + j]!);
  }
  assert.ok(above > 0.1, `encoder queries look ahead (max weight above the diagonal ${above})`);
  for (let l = 0; l < model.config.decoderLayers; l++) {
    const w = t(stage(trace, `dec${l}.self.weights`), 'weights').data;
    rows(w, model.config.decoderHeads, T, T, `dec${l}.self`);
    for (let h = 0; h < model.config.decoderHeads; h++)
      for (let i = 0; i < T; i++)
        for (let j = i + 1; j < T; j++) assert.equal(w[(h * T + i) * T + j], 0, `dec${l} head ${h} (${i},${j})`);
    rows(t(stage(trace, `dec${l}.cross.weights`), 'weights').data, model.config.decoderHeads, T, S, `dec${l}.cross`);
  }
});

test('a learned pattern: a cross-attention head aligns the year digits being written with the year in the input', async () => {
  const inputs = [
    'Monday 23rd of November 2026',
    'the 4th of July 1976',
    'we met on Tuesday, 8 March 2022, at noon',
    'Sept. 9, 1987',
  ];
  let best = { score: 0, where: '' };
  const scores = new Map<string, number>();
  for (const text of inputs) {
    const trace = await model.run(text);
    const S = trace.tokens.length;
    const T = trace.outputTokens!.length;
    const year = text.match(/\d{4}/)!;
    const yStart = year.index!;
    const yearPos = trace.tokens.flatMap((tok, i) => (tok.start >= yStart && tok.end <= yStart + 4 ? [i] : []));
    assert.equal(yearPos.length, 4);
    for (let l = 0; l < model.config.decoderLayers; l++) {
      const w = t(stage(trace, `dec${l}.cross.weights`), 'weights').data;
      for (let h = 0; h < model.config.decoderHeads; h++) {
        // Mass on the input year while the decoder writes the year (steps 0–3 produce y₀…y₃).
        let mass = 0;
        for (let i = 0; i < 4 && i < T; i++) for (const j of yearPos) mass += w[(h * T + i) * S + j]!;
        const key = `dec${l}.cross head ${h}`;
        scores.set(key, (scores.get(key) ?? 0) + mass / 4 / inputs.length);
      }
    }
  }
  for (const [where, score] of scores) if (score > best.score) best = { score, where };
  // Measured on the shipped weights (models/dates-transformer/SOURCE.md): decoder layer 0's cross-attention
  // head 1 puts 0.94 of its weight on the input year's four digits while the year is written; uniform
  // attention over ~25 input characters would give ~0.16.
  assert.equal(
    best.where,
    'dec0.cross head 1',
    `best year-aligning head: ${[...scores].map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`,
  );
  assert.ok(best.score > 0.85, `dec0.cross head 1 year alignment ${best.score.toFixed(3)}`);
});

test('empty input, truncation, long-input warning, unknown characters', async () => {
  for (const text of ['', ' \r\n '])
    await assert.rejects(model.run(text), (e: unknown) => e instanceof AttentionInputError && e.code === 'empty');
  const long = 'the meeting is on Monday the 23rd of November 2026, please note, '.repeat(5);
  const cut = await model.run(long, { maxTokens: 20 });
  assert.equal(cut.tokens.length, 20);
  assert.equal(cut.tokens.at(-1)!.text, '</s>');
  assert.ok(
    cut.warnings.some((w) => w.includes('20 tokens')),
    cut.warnings.join('; '),
  );
  assert.equal(cut.text, long.slice(0, 19));
  const full = await model.run(long);
  assert.ok(
    full.warnings.some((w) => /more than the \d+ this model saw in training/.test(w)),
    full.warnings.join('; '),
  );
  const odd = await model.run('😀 5/11/1987');
  assert.equal(odd.tokens[0]!.unknown, true);
  assert.equal(odd.tokens[0]!.end - odd.tokens[0]!.start, 2, 'the emoji is one token of two UTF-16 units');
  assert.equal(odd.tokens[2]!.start, 3);
  assert.ok(odd.warnings.some((w) => w.includes('outside the vocabulary')));
});

test('cancellation throws AttentionInputError("cancelled") and leaks no tensors', async () => {
  const before = tf.memory().numTensors;
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(
    model.run('5/11/1987', { signal: pre.signal }),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
  );
  for (const at of [0.05, 0.5, 0.9]) {
    const mid = new AbortController();
    await assert.rejects(
      model.run('Monday 23rd of November 2026', {
        signal: mid.signal,
        onProgress: (f) => {
          if (f >= at) mid.abort();
        },
      }),
      (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
    );
    assert.equal(tf.memory().numTensors, before, `no leak when cancelled at ${at}`);
  }
});

test('config validation and mismatched weights give clear errors', async () => {
  const good = JSON.parse(fs.readFileSync(path.join(builtinDatesTransformerDir(), 'config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(parseMarianConfig(good).dModel, good['d_model']);
  const code = (raw: unknown): string => {
    try {
      parseMarianConfig(raw);
    } catch (e) {
      assert.ok(e instanceof AttentionInputError);
      return `${e.code}: ${e.message}`;
    }
    return 'ok';
  };
  assert.match(code({ ...good, decoder_attention_heads: 3 }), /^config: .*not divisible by decoder_attention_heads 3/);
  assert.match(code({ ...good, encoder_layers: undefined }), /^config: .*missing "encoder_layers"/);
  assert.match(code({ ...good, eos_token_id: 9999 }), /^config: .*eos_token_id 9999 is outside the vocabulary/);
  assert.match(code({ ...good, model_type: 'bart' }), /^unsupported: .*bart/);
  assert.match(code({ ...good, activation_function: 'mish' }), /^unsupported: /);
  assert.match(code('nope'), /^config: /);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marian-'));
  try {
    for (const f of fs.readdirSync(builtinDatesTransformerDir()))
      fs.copyFileSync(path.join(builtinDatesTransformerDir(), f), path.join(dir, f));
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ ...good, decoder_ffn_dim: (good['decoder_ffn_dim'] as number) + 8 }),
    );
    const before = tf.memory().numTensors;
    await assert.rejects(
      loadEncoderDecoder(dir),
      (e: unknown) =>
        e instanceof AttentionInputError && e.code === 'shape' && /decoder\.layers\.0\.fc1/.test(e.message),
    );
    assert.equal(tf.memory().numTensors, before);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the sinusoidal table matches the one stored in the checkpoint', async () => {
  const { readSafetensorsFile } = await import('../../src/model/formats/safetensors');
  const w = await readSafetensorsFile(path.join(builtinDatesTransformerDir(), 'model.safetensors'));
  const stored = w.get('model.encoder.embed_positions.weight')!;
  assertClose(sinusoidalPositions(stored.shape[0]!, stored.shape[1]!), stored.data, 'positions');
});

test('bad_words_ids: single banned tokens (real Marian bans <pad>) are never chosen by greedy decoding', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-lens-banned-'));
  try {
    fs.cpSync(builtinDatesTransformerDir(), dir, { recursive: true });
    const plain = await loadEncoderDecoder(dir);
    const text = 'Monday 23rd of November 2026';
    const first = (await plain.run(text)).outputTokens![0]!.id;
    plain.dispose();
    const cfgPath = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(cfgPath, JSON.stringify({ ...cfg, bad_words_ids: [[first], [1, 2]] }));
    assert.deepEqual(
      parseMarianConfig({ ...cfg, bad_words_ids: [[first], [1, 2], ['x']] }).bannedIds,
      [first],
      'only single, valid ids are bans',
    );
    const before = tf.memory().numTensors;
    const banned = await loadEncoderDecoder(dir);
    const out = (await banned.run(text)).outputTokens!;
    banned.dispose();
    assert.notEqual(out[0]!.id, first, 'the model’s own first choice is banned, so another token comes first');
    assert.ok(out.every((tok) => tok.id !== first));
    assert.equal(tf.memory().numTensors, before);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
