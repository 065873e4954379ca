// The Llama forward pass against an independent numpy implementation (scripts/reference/llama_ref.py),
// tensor by tensor, plus the trace's structure, greedy decoding, a learned head pattern, errors and memory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import {
  builtinTinyStoriesDir,
  greedyContinue,
  loadLlama,
  parseLlamaConfig,
  type LlamaModel,
} from '../../src/model/families/llama/model';
import { AttentionInputError, findTensor, type Stage, type Trace } from '../../shared/trace';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'llama');
const MODEL_DIR = path.join(__dirname, '..', '..', 'models', 'tinystories-656k');

interface Arr {
  shape: number[];
  b64: string;
}
interface PromptFixture {
  prompt: string;
  ids: number[];
  pieces: string[];
  embedding: Arr;
  layers: Record<
    'residual' | 'input' | 'Q' | 'K' | 'V' | 'scores' | 'mask' | 'weights' | 'context' | 'attn_output' | 'output',
    Arr
  >[];
  final: Arr;
  logits: Arr;
  topIds: number[][];
  topP: number[][];
}

function decode(a: Arr): Float32Array {
  const buf = Buffer.from(a.b64, 'base64');
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

const readJson = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as T;

/** |actual − expected| ≤ 1e-5·|expected| + 1e-6·max(1, max|expected|), element by element; returns the worst error/tolerance. */
function assertClose(
  actual: Float32Array | readonly number[],
  expected: Float32Array | readonly number[],
  what: string,
  rtol = 1e-5,
): number {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  const atol = 1e-6 * scale;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e);
    const tol = rtol * Math.abs(e) + atol;
    if (!(err <= tol))
      assert.fail(`${what}[${i}]: ${a} vs numpy ${e} (error ${err.toExponential(2)} > ${tol.toExponential(2)})`);
    worst = Math.max(worst, err / tol);
  }
  return worst;
}

function stage(trace: Trace, id: string): Stage {
  const s = trace.stages.find((x) => x.id === id);
  assert.ok(s, `stage ${id} present`);
  return s;
}

function t(stage: Stage, name: string) {
  const x = findTensor(stage, name);
  assert.ok(x, `${stage.id} has tensor ${name}`);
  return x;
}

let model: LlamaModel;

before(async () => {
  await initBackend();
  model = await loadLlama(builtinTinyStoriesDir());
});

after(() => model?.dispose());

test('the built-in model loads with the right description', () => {
  assert.equal(model.info.id, 'tinystories-656k');
  assert.equal(model.info.family, 'llama');
  assert.equal(model.info.layers, 2);
  assert.equal(model.info.heads, 8);
  assert.equal(model.info.kvHeads, 4);
  assert.equal(model.info.dModel, 128);
  assert.equal(model.info.parameters, 656_000);
  assert.equal(model.info.licence, 'Apache-2.0');
  assert.deepEqual(model.kvHeadOf, [0, 0, 1, 1, 2, 2, 3, 3]);
});

for (const n of [0, 1, 2]) {
  test(`prompt ${n}: every tensor matches numpy within 1e-5`, async (ctx) => {
    const fx = readJson<PromptFixture>(`prompt${n}.json`);
    const before = tf.memory().numTensors;
    const trace = await model.run(fx.prompt);
    assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
    assert.deepEqual(
      trace.tokens.map((x) => x.id),
      fx.ids,
      'same token ids as the Python BPE',
    );
    assert.equal(trace.text, fx.prompt);
    assert.deepEqual(trace.warnings, []);
    let worst = 0;
    const check = (a: Float32Array, e: Arr, what: string, shape: readonly number[]): void => {
      assert.deepEqual(shape, e.shape, `${what} shape`);
      worst = Math.max(worst, assertClose(a, decode(e), what));
    };
    const X = t(stage(trace, 'embedding'), 'X');
    check(X.data, fx.embedding, 'X', X.shape);
    fx.layers.forEach((ref, l) => {
      const inp = stage(trace, `L${l}.input`);
      check(t(inp, 'hidden').data, ref.input, `L${l} RMSNorm(x)`, t(inp, 'hidden').shape);
      check(t(inp, 'residual').data, ref.residual, `L${l} residual`, t(inp, 'residual').shape);
      const qkv = stage(trace, `L${l}.qkv`);
      for (const name of ['Q', 'K', 'V'] as const)
        check(t(qkv, name).data, ref[name], `L${l} ${name}`, t(qkv, name).shape);
      const sc = stage(trace, `L${l}.scores`);
      check(t(sc, 'scores').data, ref.scores, `L${l} scores`, t(sc, 'scores').shape);
      check(t(sc, 'mask').data, ref.mask, `L${l} mask`, t(sc, 'mask').shape);
      const w = stage(trace, `L${l}.weights`);
      check(t(w, 'weights').data, ref.weights, `L${l} weights`, t(w, 'weights').shape);
      const c = stage(trace, `L${l}.context`);
      check(t(c, 'context').data, ref.context, `L${l} context`, t(c, 'context').shape);
      check(t(c, 'output').data, ref.attn_output, `L${l} attention output`, t(c, 'output').shape);
      const o = stage(trace, `L${l}.output`);
      check(t(o, 'hidden').data, ref.output, `L${l} output`, t(o, 'hidden').shape);
    });
    const out = stage(trace, 'output');
    check(t(out, 'hidden').data, fx.final, 'final norm', t(out, 'hidden').shape);
    const logits = await model.logits(fx.ids);
    worst = Math.max(worst, assertClose(logits, decode(fx.logits), 'logits'));
    // Top-5 next tokens at every position: same ids, same probabilities.
    assert.equal(trace.predictions?.length, fx.ids.length);
    trace.predictions!.forEach((p, i) => {
      assert.equal(p.position, i);
      assert.deepEqual(
        p.top.map((x) => x.id),
        fx.topIds[i],
        `top-5 ids at position ${i}`,
      );
      assertClose(
        p.top.map((x) => x.p),
        fx.topP[i]!,
        `top-5 p at position ${i}`,
      );
    });
    assertClose(t(out, 'top_p').data, fx.topP.flat(), 'top_p tensor');
    assert.deepEqual(Array.from(t(out, 'top_id').data), fx.topIds.flat());
    ctx.diagnostic(`${fx.ids.length} tokens; worst error / tolerance = ${worst.toExponential(2)}`);
  });
}

test('the trace has the documented stages, kinds, axes and attention info', async () => {
  const trace = await model.run('Tom saw a big dog.');
  const T = trace.tokens.length;
  const ids = ['tokens', 'embedding'];
  for (let l = 0; l < 2; l++)
    ids.push(`L${l}.input`, `L${l}.qkv`, `L${l}.scores`, `L${l}.weights`, `L${l}.context`, `L${l}.output`);
  ids.push('output');
  assert.deepEqual(
    trace.stages.map((s) => s.id),
    ids,
  );
  const kinds = Object.fromEntries(trace.stages.map((s) => [s.id, s.kind]));
  assert.equal(kinds['tokens'], 'tokens');
  assert.equal(kinds['embedding'], 'embedding');
  assert.equal(kinds['L1.input'], 'encoder-layer');
  assert.equal(kinds['L1.qkv'], 'qkv');
  assert.equal(kinds['L1.scores'], 'score');
  assert.equal(kinds['L1.weights'], 'normalise');
  assert.equal(kinds['L1.context'], 'context');
  assert.equal(kinds['L1.output'], 'encoder-layer');
  assert.equal(kinds['output'], 'decoder-step');
  for (const s of trace.stages) {
    assert.ok(s.title && s.formula && s.explanation.length > 80, `${s.id} explains itself`);
    if (/^L\d\./.test(s.id)) assert.equal(s.layer, Number(s.id[1]));
    if (['qkv', 'score', 'normalise', 'context'].includes(s.kind)) {
      assert.deepEqual(s.attention, {
        queries: 'input',
        keys: 'input',
        causal: true,
        score: 'scaled-dot',
        normaliser: 'softmax',
        kvHeadOf: [0, 0, 1, 1, 2, 2, 3, 3],
      });
    }
  }
  const qkv = stage(trace, 'L0.qkv');
  assert.match(
    qkv.explanation,
    /query heads 0 and 1 → K\/V head 0; query heads 2 and 3 → K\/V head 1; query heads 4 and 5 → K\/V head 2; query heads 6 and 7 → K\/V head 3/,
  );
  assert.match(qkv.explanation, /RoPE/);
  assert.match(qkv.explanation, /rotat/);
  assert.deepEqual(t(qkv, 'Q').axes, ['head', 'token', 'd_head']);
  assert.deepEqual(t(qkv, 'K').shape, [4, T, 16]);
  assert.deepEqual(t(stage(trace, 'L0.scores'), 'scores').tokenAxes, { query: 'input', key: 'input' });
  // Causal mask: future entries of the weights are exactly 0, every row sums to 1.
  const w = t(stage(trace, 'L1.weights'), 'weights').data;
  const mask = t(stage(trace, 'L1.scores'), 'mask').data;
  for (let h = 0; h < 8; h++) {
    for (let i = 0; i < T; i++) {
      let sum = 0;
      for (let j = 0; j < T; j++) {
        const v = w[(h * T + i) * T + j]!;
        assert.equal(mask[i * T + j], j <= i ? 1 : 0);
        if (j > i) assert.equal(v, 0, `head ${h} query ${i} key ${j} is masked`);
        sum += v;
      }
      assert.ok(Math.abs(sum - 1) < 1e-5, `row ${h}/${i} sums to 1`);
    }
  }
  assert.equal(trace.tokens[0]!.special, true);
  assert.equal(trace.tokens[0]!.start, -1);
  assert.ok(trace.predictions!.every((p) => p.top.length === 5));
  const top3 = await model.run('Tom saw a big dog.', { topK: 3 });
  assert.ok(top3.predictions!.every((p) => p.top.length === 3));
  assert.deepEqual(t(stage(top3, 'output'), 'top_p').shape, [T, 3]);
});

test('greedy continuation of "Once upon a time, there was a little" matches numpy, 20 tokens', async () => {
  const g = readJson<{ prompt: string; promptIds: number[]; newIds: number[]; continuation: string }>('greedy.json');
  assert.equal(g.newIds.length, 20);
  assert.deepEqual(await model.generate(g.promptIds, 20), g.newIds);
  assert.equal(await greedyContinue(model, g.prompt, 20), g.continuation);
});

test('learned head patterns: L1 H7 is the previous-token head, L1 H1 the attend-to-BOS head', async (ctx) => {
  const h = readJson<{
    sentences: string[];
    sentenceIds: number[][];
    uniformBaseline: number;
    prev: number[][];
    bos: number[][];
    self: number[][];
  }>('heads.json');
  const prev = [Array<number>(8).fill(0), Array<number>(8).fill(0)];
  const bos = [Array<number>(8).fill(0), Array<number>(8).fill(0)];
  const self = [Array<number>(8).fill(0), Array<number>(8).fill(0)];
  let count = 0;
  for (const [s, sentence] of h.sentences.entries()) {
    const trace = await model.run(sentence);
    assert.deepEqual(
      trace.tokens.map((x) => x.id),
      h.sentenceIds[s],
    );
    const T = trace.tokens.length;
    for (let l = 0; l < 2; l++) {
      const w = t(stage(trace, `L${l}.weights`), 'weights').data;
      for (let head = 0; head < 8; head++) {
        for (let i = 2; i < T; i++) {
          prev[l]![head]! += w[(head * T + i) * T + i - 1]!;
          bos[l]![head]! += w[(head * T + i) * T]!;
          self[l]![head]! += w[(head * T + i) * T + i]!;
        }
      }
    }
    count += T - 2;
  }
  for (const m of [prev, bos, self]) for (const row of m) for (let i = 0; i < 8; i++) row[i]! /= count;
  for (let l = 0; l < 2; l++) {
    assertClose(prev[l]!, h.prev[l]!, `mean weight on i−1, layer ${l}`);
    assertClose(bos[l]!, h.bos[l]!, `mean weight on BOS, layer ${l}`);
    assertClose(self[l]!, h.self[l]!, `mean weight on self, layer ${l}`);
  }
  const argmax = (m: number[][]): [number, number, number] => {
    let best: [number, number, number] = [0, 0, -1];
    m.forEach((row, l) => row.forEach((v, hh) => v > best[2] && (best = [l, hh, v])));
    return best;
  };
  const runnerUp = (m: number[][], l: number, hh: number): number =>
    Math.max(...m.flatMap((row, ll) => row.filter((_, k) => !(ll === l && k === hh))));
  const [pl, ph, pv] = argmax(prev);
  assert.deepEqual([pl, ph], [1, 7], 'layer 1 head 7 puts the most weight on the previous token');
  assert.ok(
    pv > 2 * h.uniformBaseline,
    `L1H7 previous-token weight ${pv.toFixed(3)} > 2 × uniform ${h.uniformBaseline.toFixed(3)}`,
  );
  assert.ok(pv - runnerUp(prev, 1, 7) > 0.1, 'clearly ahead of every other head');
  const [bl, bh, bv] = argmax(bos);
  assert.deepEqual([bl, bh], [1, 1], 'layer 1 head 1 puts the most weight on the BOS token');
  assert.ok(bv > 3 * h.uniformBaseline, `L1H1 BOS weight ${bv.toFixed(3)} > 3 × uniform`);
  const [sl, sh] = argmax(self);
  assert.deepEqual([sl, sh], [0, 1], 'layer 0 head 1 attends most to the token itself');
  ctx.diagnostic(
    `over ${count} query positions: L1H7 on i−1 ${pv.toFixed(4)}, L1H1 on BOS ${bv.toFixed(4)}, L0H1 on self ${self[0]![1]!.toFixed(4)}, uniform ${h.uniformBaseline.toFixed(4)}`,
  );
});

test('empty and whitespace-only input is rejected, leaking nothing', async () => {
  const before = tf.memory().numTensors;
  for (const text of ['', '   ', ' \n\t\r\n ']) {
    await assert.rejects(model.run(text), (e: unknown) => e instanceof AttentionInputError && e.code === 'empty');
  }
  assert.equal(tf.memory().numTensors, before);
});

test('long input is truncated to maxTokens (default 512 = max_position_embeddings) with a warning', async () => {
  const long = 'Lily and Tom played in the park all day long. '.repeat(120);
  const before = tf.memory().numTensors;
  const trace = await model.run(long);
  assert.equal(trace.tokens.length, 512);
  assert.ok(
    trace.warnings.some((w) => w.includes('512')),
    trace.warnings.join(' | '),
  );
  assert.ok(trace.text.length < long.length && long.startsWith(trace.text));
  assert.ok(trace.tokens.every((x) => x.end <= trace.text.length));
  const short = await model.run(long, { maxTokens: 20 });
  assert.equal(short.tokens.length, 20);
  assert.ok(short.warnings.some((w) => w.includes('20 tokens')));
  // The kept tokens are exactly the first tokens of the full text.
  assert.deepEqual(
    short.tokens.map((x) => x.id),
    trace.tokens.slice(0, 20).map((x) => x.id),
  );
  const over = await model.run('Tom ran.', { maxTokens: 4096 });
  assert.ok(
    (over.notes ?? []).some((w) => w.includes('max_position_embeddings')),
    'a note, not a warning',
  );
  assert.equal(tf.memory().numTensors, before);
});

test('a cancelled run throws AttentionInputError("cancelled") and leaks no tensors', async () => {
  const before = tf.memory().numTensors;
  const already = new AbortController();
  already.abort();
  await assert.rejects(
    model.run('Tom ran.', { signal: already.signal }),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
  );
  for (const at of [0, 0.3, 0.6]) {
    const ac = new AbortController();
    const seen: number[] = [];
    await assert.rejects(
      model.run('Once upon a time there was a cat who liked to nap in the sun.', {
        signal: ac.signal,
        onProgress: (f) => {
          seen.push(f);
          if (f >= at) ac.abort();
        },
      }),
      (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
    );
    assert.ok(seen.length > 0);
    assert.equal(tf.memory().numTensors, before, `no leak when cancelled at ${at}`);
  }
  const progress: number[] = [];
  await model.run('Tom ran.', { onProgress: (f) => progress.push(f) });
  assert.equal(progress.at(-1), 1);
  assert.ok(
    progress.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= progress[i - 1]!)),
    'progress is monotone in [0, 1]',
  );
});

test('config validation gives clear errors', () => {
  const good = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(parseLlamaConfig(good).headDim, 16);
  const bad = (patch: Record<string, unknown>, code: string, pattern: RegExp): void => {
    const cfg = { ...good, ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete cfg[k];
    assert.throws(
      () => parseLlamaConfig(cfg),
      (e: unknown) => e instanceof AttentionInputError && e.code === code && pattern.test(e.message),
    );
  };
  bad({ hidden_size: undefined }, 'config', /missing "hidden_size"/);
  bad({ num_hidden_layers: -1 }, 'config', /num_hidden_layers.*positive integer/);
  bad({ num_key_value_heads: 3 }, 'config', /not a multiple of num_key_value_heads 3/);
  bad({ hidden_size: 100 }, 'config', /not divisible/);
  bad({ hidden_act: 'gelu' }, 'unsupported', /gelu/);
  bad({ rope_scaling: { type: 'linear', factor: 2 } }, 'unsupported', /rope_scaling/);
  bad({ model_type: 'bert', architectures: ['BertModel'] }, 'unsupported', /bert/);
  assert.throws(
    () => parseLlamaConfig([]),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'config',
  );
});

test('weights that do not fit the config are a shape error naming the tensor', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llama-bad-'));
  try {
    for (const f of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
      fs.copyFileSync(path.join(MODEL_DIR, f), path.join(dir, f));
    const cfg = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, num_key_value_heads: 8 }));
    const before = tf.memory().numTensors;
    await assert.rejects(loadLlama(dir), (e: unknown) => {
      assert.ok(e instanceof AttentionInputError);
      assert.equal(e.code, 'shape');
      assert.match(e.message, /k_proj is 64×128 but kv_heads·head_dim × hidden_size is 128×128/);
      return true;
    });
    assert.equal(tf.memory().numTensors, before, 'a failed load leaves no tensors');
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 512 }));
    await assert.rejects(loadLlama(dir), /gate_proj is 384×128 but intermediate_size × hidden_size is 512×128/);
    fs.writeFileSync(path.join(dir, 'config.json'), '{ not json');
    await assert.rejects(loadLlama(dir), (e: unknown) => e instanceof AttentionInputError && e.code === 'config');
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    fs.truncateSync(path.join(dir, 'model.safetensors'), 100_000);
    await assert.rejects(loadLlama(dir), (e: unknown) => e instanceof AttentionInputError && e.code === 'file');
    assert.equal(tf.memory().numTensors, before);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('builtinTinyStoriesDir walks up from the bundle directory', () => {
  const repo = path.join(__dirname, '..', '..');
  assert.equal(builtinTinyStoriesDir(path.join(repo, 'dist')), path.join(repo, 'models', 'tinystories-656k'));
  assert.equal(builtinTinyStoriesDir(path.join(repo, 'src', 'model')), path.join(repo, 'models', 'tinystories-656k'));
  assert.throws(
    () => builtinTinyStoriesDir(os.tmpdir()),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'file',
  );
});

test('dispose frees every weight tensor', async () => {
  const before = tf.memory().numTensors;
  const m = await loadLlama(MODEL_DIR);
  assert.ok(tf.memory().numTensors > before);
  m.dispose();
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(m.run('Tom ran.'), /disposed/);
});

test('forward-pass time for 16 / 128 / 512 tokens', async (ctx) => {
  const text =
    'Once upon a time, there was a little girl named Lily. She loved to play outside with her friends. '.repeat(60);
  const times: string[] = [];
  for (const n of [16, 128, 512]) {
    await model.run(text, { maxTokens: n }); // warm-up
    const runs: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const trace = await model.run(text, { maxTokens: n });
      runs.push(performance.now() - t0);
      assert.equal(trace.tokens.length, n);
    }
    runs.sort((a, b) => a - b);
    times.push(`${n} tokens: ${runs[1]!.toFixed(0)} ms`);
  }
  ctx.diagnostic(`run() on ${tf.getBackend()}: ${times.join(', ')}`);
});
