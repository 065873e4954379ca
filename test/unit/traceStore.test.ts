// Big traces stay in the worker (src/worker/traceStore.ts); the host holds their index and
// fetches. What a fetch returns must be exactly what the eager run recorded, at every stage kind,
// also after the worker evicted or lost the trace and made the run again.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { sameBits } from './fixtureTools';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { TraceStore } from '../../src/worker/traceStore';
import { EngineClient } from '../../src/engine/client';
import { hasRemote, isRemote, lighten, traceIndex, type TensorRequest } from '../../shared/lazy';
import { makeTrace } from './traceFixture';
import { GRID_THUMB, gridThumbnails } from '../../shared/derived';
import { headCount } from '../../shared/tensorView';
import type { Trace } from '../../shared/trace';
import { fileModelId } from '../../shared/catalog';

const WORKER = path.resolve(__dirname, '..', '..', 'dist', 'worker.js');
const skip = !existsSync(WORKER) && 'run `npm run build` first';
const TEXT = 'Once upon a time there was a little girl who liked to play in the park with her dog. '.repeat(12);

let eager: Trace;
before(async () => {
  await initBackend();
  eager = await (await getModel('tinystories-656k')).run(TEXT, {});
});

/** Every tensor of the trace, as (stage, tensor) requests. */
const everyTensor = (t: Trace): TensorRequest[] =>
  t.stages.flatMap((s) => s.tensors.map((x) => ({ stage: s.id, tensor: x.name })));

test('the store keeps a big trace and answers with its index; every fetch is the eager run’s tensor', () => {
  assert.ok(hasRemote(traceIndex(eager)), 'this text makes tensors too big to travel with the index');
  const store = new TraceStore();
  const { trace: index, held } = store.admit(eager, 2 ** 30);
  assert.ok(held && held.bytes > 0);
  const kinds = new Set<string>();
  for (const [i, s] of index.stages.entries()) {
    kinds.add(s.kind);
    for (const [j, t] of s.tensors.entries()) {
      const full = eager.stages[i]!.tensors[j]!;
      if (isRemote(t)) {
        assert.equal(t.data.length, 0);
        continue;
      }
      // Inline tensors travel as copies: transferring them leaves the held trace whole.
      assert.notEqual(t.data.buffer, full.data.buffer, `${s.id}/${t.name} is a copy`);
      sameBits(t, full, `${s.id}/${t.name} inline`);
    }
  }
  assert.ok(kinds.size >= 5, `stage kinds covered: ${[...kinds].join(', ')}`);
  const got = store.fetch(held.id, everyTensor(index));
  everyTensor(index).forEach((r, k) => {
    const full = eager.stages.find((s) => s.id === r.stage)!.tensors.find((t) => t.name === r.tensor)!;
    sameBits(got[k]!, full, `${r.stage}/${r.tensor}`);
  });
  // One head of a [head, …] tensor is that head's slice.
  const weights = eager.stages.find((s) => s.kind === 'normalise')!;
  const w = weights.tensors.find((t) => headCount(t) > 1)!;
  const H = headCount(w);
  const one = store.fetch(held.id, [{ stage: weights.id, tensor: w.name, head: H - 1 }])[0]!;
  const size = w.data.length / H;
  sameBits(
    one,
    { ...w, shape: w.shape.slice(1), axes: w.axes.slice(1), data: w.data.subarray((H - 1) * size) },
    'last head',
  );
  assert.deepEqual(store.thumbnails(held.id, 32), gridThumbnails(eager, 32), 'thumbnails pooled where the tensors are');
});

test('eviction: least recently used beyond the budget, the newest always kept; an evicted id is "trace-gone"', () => {
  const store = new TraceStore();
  const a = store.admit(eager, 1).held!;
  assert.equal(store.held.traces, 1, 'the newest stays even past the budget');
  const b = store.admit(eager, a.bytes * 2.5).held!;
  const c = store.admit(eager, a.bytes * 2.5).held!;
  assert.equal(store.held.traces, 2);
  assert.throws(
    () => store.fetch(a.id, []),
    (e: Error & { code?: string }) => e.code === 'trace-gone',
  );
  store.fetch(b.id, []); // b is now the most recently used
  store.admit(eager, a.bytes * 2.5);
  assert.throws(() => store.fetch(c.id, []), /no longer holds/);
  store.fetch(b.id, []);
  store.release(b.id);
  assert.equal(store.held.traces, 1);
  // A small trace is not held at all.
  const small: Trace = { ...eager, stages: eager.stages.slice(0, 1) };
  assert.equal(store.admit(small, 2 ** 30).held, undefined);
});

test(
  'through the worker: the host holds the index; fetches equal the eager run, also after a restart or an eviction',
  { skip },
  async () => {
    const logs: string[] = [];
    const engine = new EngineClient(WORKER, (_level, m) => logs.push(m));
    try {
      const request = { modelId: 'tinystories-656k', text: TEXT };
      const trace = await engine.run(request).promise;
      assert.ok(engine.holds(trace) && hasRemote(trace), 'the big tensors stayed in the worker');
      const want = everyTensor(trace);
      const check = async (what: string): Promise<void> => {
        const got = await engine.tensors(trace, want);
        want.forEach((r, k) => {
          const full = eager.stages.find((s) => s.id === r.stage)!.tensors.find((t) => t.name === r.tensor)!;
          sameBits(got[k]!, full, `${what}: ${r.stage}/${r.tensor}`);
        });
      };
      await check('held');
      assert.deepEqual(await engine.thumbnails(trace, 32), gridThumbnails(eager, 32));
      const mem = await engine.memory();
      assert.equal(mem.held.traces, 1);
      // The worker dies: its store with it. The next fetch makes the run again, the same numbers.
      engine.restartWorker();
      await check('after a restart');
      assert.ok(
        logs.some((m) => /running it again/.test(m)),
        'the re-run is logged',
      );
      // A second run under a tiny budget evicts the first; fetching the first makes it again.
      const first = mem.held.bytes;
      const budgetMB = Math.ceil(first / 2 ** 20);
      const other = await engine.run({ ...request, text: TEXT, maxTokens: 140, memoryBudgetMB: budgetMB }).promise;
      assert.ok(engine.holds(other));
      assert.equal((await engine.memory()).held.traces, 1, 'the first run was evicted');
      await check('after an eviction');
      // The host's own readers get whole stages.
      const normalise = trace.stages.find((s) => s.kind === 'normalise')!;
      const filled = await engine.filled(trace, [normalise.id]);
      const fs = filled.stages.find((s) => s.id === normalise.id)!;
      assert.ok(!fs.tensors.some(isRemote));
      sameBits(fs.tensors[0]!, eager.stages.find((s) => s.id === normalise.id)!.tensors[0]!, 'filled');
      engine.release(other);
      engine.release(trace);
      assert.equal(engine.holds(trace), false);
      assert.equal((await engine.memory()).held.traces, 0, 'released in the worker');
    } finally {
      engine.dispose();
    }
  },
);

test('light mode: a layer recomputed from the input the trace kept is the eager run’s, bit for bit; no tensor leaks', async () => {
  const model = await getModel('tinystories-656k');
  const { tf } = await import('../../src/model/runtime/backend');
  const before = tf.memory().numTensors;
  const light = await model.run(TEXT, { light: true });
  assert.equal(light.stages.length, eager.stages.length);
  assert.equal(tf.memory().numTensors, before, 'the light run leaks nothing');
  let dropped = 0;
  const layers = new Set<number>();
  light.stages.forEach((s, i) => {
    s.tensors.forEach((t, j) => {
      const full = eager.stages[i]!.tensors[j]!;
      if (isRemote(t)) {
        dropped++;
        assert.equal(t.data.length, 0);
        assert.deepEqual(t.shape, full.shape);
        if (s.layer !== undefined) layers.add(s.layer);
      } else sameBits(t, full, `${s.id}/${t.name} kept`);
    });
  });
  assert.ok(dropped > 0 && layers.size > 0, `${dropped} tensors left out`);
  for (const l of layers) {
    const again = model.recomputeLayer!(light, l);
    assert.equal(tf.memory().numTensors, before, `recomputing layer ${l} leaks nothing`);
    for (const s of again) {
      const e = eager.stages.find((x) => x.id === s.id)!;
      assert.deepEqual(
        s.tensors.map((t) => t.name),
        e.tensors.map((t) => t.name),
      );
      s.tensors.forEach((t, j) => sameBits(t, e.tensors[j]!, `layer ${l}: ${s.id}/${t.name}`));
    }
    assert.deepEqual(
      again.map((s) => s.id),
      eager.stages.filter((s) => s.layer === l && s.id.startsWith(`L${l}.`)).map((s) => s.id),
    );
  }
  assert.throws(() => model.recomputeLayer!(light, 99), /no layer 99/);
  // Through the store: fetches and thumbnails of a light trace are the eager run's.
  const store = new TraceStore();
  let released = 0;
  const recomputed: number[] = [];
  const { trace: index, held } = store.admit(light, 2 ** 30, {
    recompute: (t, l) => (recomputed.push(l), model.recomputeLayer!(t, l)),
    release: () => released++,
  });
  const got = store.fetch(held!.id, everyTensor(index));
  everyTensor(index).forEach((r, k) => {
    const full = eager.stages.find((s) => s.id === r.stage)!.tensors.find((t) => t.name === r.tensor)!;
    sameBits(got[k]!, full, `light fetch ${r.stage}/${r.tensor}`);
  });
  const count = recomputed.length;
  const thumbs = store.thumbnails(held!.id, 32);
  assert.deepEqual(thumbs, gridThumbnails(eager, 32));
  assert.equal(recomputed.length, count, 'the pooling read the layers already made');
  assert.deepEqual(store.thumbnails(held!.id, 32), thumbs);
  assert.equal(recomputed.length, count, 'pooled once');
  store.release(held!.id);
  assert.equal(released, 1, 'the model lease goes with the trace');
  assert.equal(tf.memory().numTensors, before);
});

test('a light run pools its grid as its layers are made: the eager run’s thumbnails and rollout, no layer made again for them', async () => {
  const model = await getModel('tinystories-656k');
  const { tf } = await import('../../src/model/runtime/backend');
  const before = tf.memory().numTensors;
  const store = new TraceStore();
  const recomputed: number[] = [];
  const id = store.begin({
    recompute: (t, l) => (recomputed.push(l), model.recomputeLayer!(t, l)),
    release: () => {},
  });
  let pooledLayers = 0;
  const light = await model.run(TEXT, {
    light: true,
    onLayerStages: (t) => {
      pooledLayers++;
      // In hand during the call, though the light trace will not keep them.
      const w = t.stages.find((s) => s.kind === 'normalise')!.tensors.find((x) => x.name === 'weights')!;
      assert.ok(w.data.length > 0 && !isRemote(w));
      store.poolLayer(id, t);
    },
    onStages: ({ trace }) => void store.grow(id, trace),
  });
  assert.equal(tf.memory().numTensors, before, 'the light run leaks nothing');
  assert.equal(pooledLayers, eager.model.layers);
  const normalise = light.stages.filter((s) => s.kind === 'normalise');
  assert.ok(
    normalise.every((s) => s.tensors.filter((t) => t.name === 'weights' || t.name === 'value_norms').every(isRemote)),
    'the light trace keeps no weights',
  );
  const { held } = store.complete(id, light, 2 ** 30);
  const grid = store.thumbnails(held!.id, GRID_THUMB);
  assert.ok(grid.rollout, 'a rollout at this length');
  assert.deepEqual(grid, gridThumbnails(eager, GRID_THUMB));
  assert.deepEqual(recomputed, [], 'pooled as the run went');
  // At another size the grid is pooled again from the layers, made again one by one.
  assert.deepEqual(store.thumbnails(held!.id, 16), gridThumbnails(eager, 16));
  assert.ok(recomputed.length >= eager.model.layers);
  store.release(held!.id);
  assert.equal(tf.memory().numTensors, before);
});

test('pooling a light trace for the grid recomputes the layers not open, and leaves the open ones cached', () => {
  const full = makeTrace(4, 2, 3);
  const layerOf = (l: number) => full.stages.filter((s) => s.layer === l);
  const store = new TraceStore(0);
  const made: number[] = [];
  const light = { ...full, stages: lighten(full.stages, () => false, 0) };
  const { held } = store.admit(light, 2 ** 30, {
    recompute: (_t, l) => (made.push(l), layerOf(l)),
    release: () => {},
  });
  const weights = (l: number) => ({ stage: layerOf(l).find((s) => s.kind === 'normalise')!.id, tensor: 'weights' });
  store.fetch(held!.id, [weights(1), weights(2)]);
  assert.deepEqual(made, [1, 2]);
  assert.deepEqual(store.thumbnails(held!.id, 8), gridThumbnails(full, 8));
  // Layers 1 and 2 were read from the cache; 0 and 3 made for the heads, and again for the rollout
  // (3 tokens; past ROLLOUT_MAX_TOKENS there is none).
  assert.deepEqual(made, [1, 2, 0, 3, 0, 3]);
  store.fetch(held!.id, [weights(1), weights(2)]);
  assert.deepEqual(made, [1, 2, 0, 3, 0, 3], 'layers 1 and 2 are still cached');
});

test(
  'light mode through the worker: chosen when only it fits the budget, said so, and fetched right (Gemma 3: sliding and global layers)',
  { skip },
  async () => {
    const config = path.resolve(__dirname, '..', 'fixtures', 'hf', 'gemma3', 'config.json');
    const { loadModelFile } = await import('../../src/model/open/modelFiles');
    const model = await loadModelFile(config);
    const text = 'the cat sat on the mat and the dog ran in the park '.repeat(8);
    const eagerG = await model.run(text, { maxTokens: 200 });
    const T = eagerG.tokens.length;
    assert.ok(T > 128, `${T} tokens make [head, query, key] tensors too big to travel with the index`);
    const { estimateRunBytes, estimateLightBytes } = await import('../../src/worker/budget');
    const eagerMB = estimateRunBytes(model.info, T) / 2 ** 20;
    const lightMB = estimateLightBytes(model.info, T) / 2 ** 20;
    assert.ok(lightMB < eagerMB, `light ${lightMB} MB < eager ${eagerMB} MB`);
    const budgetMB = Math.ceil(lightMB);
    model.dispose();
    const engine = new EngineClient(WORKER);
    try {
      const request = { modelId: fileModelId(config), text, maxTokens: T, memoryBudgetMB: budgetMB };
      // A light run streams too: each finished layer's index arrives, and its tensors are made
      // again from the layer's input while later layers still run.
      const partials: number[] = [];
      const midRun: Promise<void>[] = [];
      const trace = await engine.run(request, undefined, (p) => {
        partials.push(p.layersDone);
        assert.ok(
          (p.trace.notes ?? []).some((n) => n.startsWith('Light mode')),
          'a partial says it is light',
        );
        const weights = p.trace.stages.find((st) => st.layer === p.layersDone - 1 && st.kind === 'normalise');
        if (!weights || p.layersDone === eagerG.model.layers) return;
        const want = weights.tensors.filter(isRemote).map((t) => ({ stage: weights.id, tensor: t.name }));
        midRun.push(
          engine.tensors(p.trace, want).then((got) =>
            want.forEach((r, k) => {
              const full = eagerG.stages.find((x) => x.id === r.stage)!.tensors.find((t) => t.name === r.tensor)!;
              sameBits(got[k]!, full, `mid-run light fetch ${r.stage}/${r.tensor}`);
            }),
          ),
        );
      }).promise;
      await Promise.all(midRun);
      assert.deepEqual(partials, [...Array(eagerG.model.layers + 1).keys()]);
      assert.ok(midRun.length > 0, 'layers were fetched mid-run');
      assert.ok(
        (trace.notes ?? []).some((w) =>
          new RegExp(
            `^Light mode: every tensor of this run would take about \\d+ MB, more than attentionLens.memoryBudgetMB \\(${budgetMB} MB\\)`,
          ).test(w),
        ),
        (trace.notes ?? []).join('\n'),
      );
      const mem = await engine.memory();
      assert.ok(
        mem.held.bytes < eagerMB * 2 ** 20 * 0.5,
        `the worker keeps ${mem.held.bytes} bytes, not the whole run`,
      );
      const want = everyTensor(trace);
      const got = await engine.tensors(trace, want);
      want.forEach((r, k) => {
        const full = eagerG.stages.find((s) => s.id === r.stage)!.tensors.find((t) => t.name === r.tensor)!;
        sameBits(got[k]!, full, `worker light fetch ${r.stage}/${r.tensor}`);
      });
      assert.deepEqual(await engine.thumbnails(trace, 32), gridThumbnails(eagerG, 32));
      // At the panel's size, pooled as the run went: the same pictures.
      const pooled = gridThumbnails(eagerG, GRID_THUMB);
      assert.deepEqual(await engine.thumbnails(trace, GRID_THUMB), pooled);
      // Asked again (a second panel): the first answer's buffers went to the host, the worker kept its own.
      assert.deepEqual(await engine.thumbnails(trace, GRID_THUMB), pooled);
      // After a restart the light run is made again, light again, with the same numbers.
      engine.restartWorker();
      const again = await engine.tensors(trace, want.slice(-8));
      want.slice(-8).forEach((r, k) => {
        const full = eagerG.stages.find((s) => s.id === r.stage)!.tensors.find((t) => t.name === r.tensor)!;
        sameBits(again[k]!, full, `after a restart ${r.stage}/${r.tensor}`);
      });
      // Neither fits: refused with the eager run's message.
      await assert.rejects(
        engine.run({ ...request, memoryBudgetMB: 1 }).promise,
        /more than attentionLens.memoryBudgetMB \(1 MB\)/,
      );
    } finally {
      engine.dispose();
    }
  },
);

test(
  'CLI: past --memory-budget a decoder runs light and --export writes layer by layer, the eager run’s tensors exactly',
  { skip },
  async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const { readTraceExport } = await import('../../src/model/formats/safetensorsWriter');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-lens-light-cli-'));
    try {
      const folder = path.resolve(__dirname, '..', 'fixtures', 'hf', 'gemma3');
      const input = path.join(dir, 'text.txt');
      // The estimate bounds the tokens by --max-tokens and the text's bytes (the model then keeps its 256):
      // 4,000 tokens need ~3 GB eagerly, ~2 GB in light mode.
      fs.writeFileSync(input, 'the cat sat on the mat and the dog ran in the park '.repeat(80));
      const { estimateLightBytes } = await import('../../src/worker/budget');
      const { loadModelFile } = await import('../../src/model/open/modelFiles');
      const model = await loadModelFile(path.join(folder, 'config.json'));
      const budget = String(Math.ceil(estimateLightBytes(model.info, 4000) / 2 ** 20) + 1);
      model.dispose();
      const cli = path.resolve(__dirname, '..', '..', 'dist', 'cli.js');
      const { spawnSync } = await import('node:child_process');
      /** The CLI on the fixture and text with this budget and output flag. */
      const run = (budgetMB: string, ...out: string[]) =>
        spawnSync(
          process.execPath,
          [cli, '--model', folder, '--max-tokens', '4000', '--memory-budget', budgetMB, '--file', input, ...out],
          { encoding: 'utf8' },
        );
      const eager = run('65536', '--export', path.join(dir, 'eager.safetensors'));
      assert.equal(eager.status, 0, eager.stderr);
      const light = run(budget, '--export', path.join(dir, 'light.safetensors'));
      assert.equal(light.status, 0, light.stderr);
      assert.match(
        light.stderr,
        new RegExp(
          `note: Light mode: every tensor of this run would take about [\\d,]+ MB, more than --memory-budget \\(${Number(budget).toLocaleString('en-US')} MB\\)`,
        ),
      );
      assert.doesNotMatch(light.stderr, /leaked/);
      const a = await readTraceExport(path.join(dir, 'eager.safetensors'));
      const b = await readTraceExport(path.join(dir, 'light.safetensors'));
      assert.equal(a.stages.length, b.stages.length);
      a.stages.forEach((s, i) =>
        s.tensors.forEach((t, j) => sameBits(b.stages[i]!.tensors[j]!, t, `${s.id}/${t.name}`)),
      );
      // --json needs every tensor at once: refused with what to do instead.
      const json = run(budget, '--json', path.join(dir, 'x.json'));
      assert.notEqual(json.status, 0);
      assert.match(
        json.stderr,
        /--json needs every tensor of the run at once, more than --memory-budget .*Use --export/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
