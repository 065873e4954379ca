// Streamed runs (RunOptions.onStages): each layer's stages leave the model as soon as the layer has
// run, then the worker posts their index ahead of the answer under the id the answer will have.
// What streams must be exactly what a run without streaming records, bit for bit; a cancelled run
// lets its stages go.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { sameBits } from './fixtureTools';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import type { StagesUpdate } from '../../src/model/model';
import { TraceStore } from '../../src/worker/traceStore';
import { EngineClient, EngineError, type PartialRun } from '../../src/engine/client';
import { hasRemote, isRemote, type TensorRequest } from '../../shared/lazy';
import type { Stage } from '../../shared/trace';

const WORKER = path.resolve(__dirname, '..', '..', 'dist', 'worker.js');
const skip = !existsSync(WORKER) && 'run `npm run build` first';
const STORY = 'Once upon a time there was a little girl who liked to play in the park with her dog. '.repeat(12);
const DEFINITION = 'A small domesticated carnivorous mammal with soft fur, a short snout and retractable claws. ';

before(async () => {
  await initBackend();
});

/** Stage i of `part` is stage i of `whole`: the same id, words, layer and tensors, bit for bit (remote ones by shape). */
function samePrefix(part: readonly Stage[], whole: readonly Stage[], what: string): void {
  assert.ok(part.length <= whole.length, `${what}: ${part.length} stages of ${whole.length}`);
  part.forEach((s, i) => {
    const w = whole[i]!;
    assert.equal(s.id, w.id, `${what}: stage ${i}`);
    assert.equal(s.title, w.title, `${what}: ${s.id} title`);
    assert.equal(s.formula, w.formula, `${what}: ${s.id} formula`);
    assert.equal(s.layer, w.layer, `${what}: ${s.id} layer`);
    assert.deepEqual(s.attention, w.attention, `${what}: ${s.id} attention`);
    assert.deepEqual(
      s.tensors.map((t) => t.name),
      w.tensors.map((t) => t.name),
      `${what}: ${s.id} tensors`,
    );
    s.tensors.forEach((t, j) => {
      if (isRemote(t)) assert.deepEqual(t.shape, w.tensors[j]!.shape, `${what}: ${s.id}/${t.name} shape`);
      else sameBits(t, w.tensors[j]!, `${what}: ${s.id}/${t.name}`);
    });
  });
}

/** A streamed run next to a plain one: every update is a prefix of the plain trace, one more layer each time. */
async function checkModel(id: string, text: string): Promise<void> {
  const model = await getModel(id);
  const plain = await model.run(text, {});
  const before = tf.memory().numTensors;
  const updates: StagesUpdate[] = [];
  const streamed = await model.run(text, { onStages: (u) => updates.push(u) });
  assert.equal(tf.memory().numTensors, before, `${id}: the streamed run leaks no tensor`);
  const L = plain.model.layers;
  assert.equal(updates.length, L + 1, `${id}: the tokens and embedding, then one update per layer`);
  assert.deepEqual(
    updates.map((u) => u.layersDone),
    Array.from({ length: L + 1 }, (_, i) => i),
  );
  assert.ok(
    updates.every((u) => u.layers === L),
    `${id}: every update names the ${L} layers`,
  );
  assert.deepEqual(
    updates[0]!.trace.stages.map((s) => s.kind),
    ['tokens', 'embedding'],
  );
  for (const [k, u] of updates.entries()) {
    const got = u.trace.stages;
    // Exactly the layers done: every stage of layers < layersDone, none of later ones.
    const layersIn = new Set(got.flatMap((s) => (s.layer === undefined ? [] : [s.layer])));
    assert.deepEqual([...layersIn], [...Array(u.layersDone).keys()], `${id}: update ${k}'s layers`);
    samePrefix(got, plain.stages, `${id}: update ${k} vs the plain run`);
    assert.deepEqual(u.trace.tokens, plain.tokens, `${id}: update ${k}'s tokens`);
    assert.equal(u.trace.text, plain.text);
    assert.equal(u.trace.model.id, plain.model.id);
    assert.equal(u.trace.predictions, undefined, 'a partial trace has no predictions yet');
  }
  // The final trace is the plain run's, stage for stage.
  samePrefix(streamed.stages, plain.stages, `${id}: streamed vs plain`);
  assert.equal(streamed.stages.length, plain.stages.length);
  assert.deepEqual(streamed.predictions, plain.predictions);
  const last = updates[updates.length - 1]!.trace.stages;
  assert.ok(last.length < plain.stages.length || plain.stages.every((s) => s.layer !== undefined));
}

test('TinyStories (causal): each layer streams as it finishes, bit-equal to a plain run', async () => {
  await checkModel('tinystories-656k', STORY);
});

test('english-encoder (BERT family): each layer streams as it finishes, bit-equal to a plain run', async () => {
  await checkModel('english-encoder', DEFINITION);
});

test('a model that does not stream never calls onStages and still runs', async () => {
  const model = await getModel('dates-transformer');
  let calls = 0;
  const t = await model.run('3 March 2021', { onStages: () => calls++ });
  assert.ok(t.stages.length > 0);
  assert.equal(calls, 0);
});

test('the store: a streamed run’s id is reserved, grows, is never evicted while it runs, and completes under the same id', async () => {
  const model = await getModel('tinystories-656k');
  const eager = await model.run(STORY, {});
  const store = new TraceStore();
  const id = store.begin();
  const sizes: number[] = [];
  const trace = await model.run(STORY, {
    onStages: (u) => {
      const index = store.grow(id, u.trace);
      sizes.push(index.stages.length);
      // Another run admitted under a budget of 1 byte evicts finished traces, never the growing one.
      store.admit(eager, 1);
      const remote = index.stages.flatMap((s) =>
        s.tensors.filter(isRemote).map((t) => ({ stage: s.id, tensor: t.name })),
      );
      store.fetch(id, remote).forEach((t, k) => {
        const want = eager.stages
          .find((s) => s.id === remote[k]!.stage)!
          .tensors.find((x) => x.name === remote[k]!.tensor)!;
        sameBits(t, want, `mid-run fetch ${remote[k]!.stage}/${remote[k]!.tensor}`);
      });
    },
  });
  assert.ok(
    sizes.every((n, i) => i === 0 || n > sizes[i - 1]!),
    `the stages grow: ${sizes.join(', ')}`,
  );
  const done = store.complete(id, trace, 2 ** 30);
  assert.equal(done.held?.id, id, 'the answer is held under the id it streamed with');
  assert.throws(() => store.grow(id, trace), /not a streamed run in progress/);
  store.release(id);
  assert.throws(() => store.fetch(id, []), /no longer holds/);
});

test(
  'through the worker: partial indexes arrive ahead of the answer, their tensors fetch mid-run and equal a plain run’s',
  { skip },
  async () => {
    const eager = await (await getModel('tinystories-656k')).run(STORY, {});
    const engine = new EngineClient(WORKER);
    try {
      const partials: PartialRun[] = [];
      const fetches: Promise<void>[] = [];
      const handle = engine.run({ modelId: 'tinystories-656k', text: STORY }, undefined, (p) => {
        partials.push(p);
        // Fetch the newest layer's big tensors while later layers still run.
        const want: TensorRequest[] = p.trace.stages
          .filter((s) => s.layer === p.layersDone - 1)
          .flatMap((s) => s.tensors.filter(isRemote).map((t) => ({ stage: s.id, tensor: t.name })));
        fetches.push(
          engine.tensors(p.trace, want).then((got) =>
            want.forEach((r, k) => {
              const full = eager.stages.find((s) => s.id === r.stage)!.tensors.find((t) => t.name === r.tensor)!;
              sameBits(got[k]!, full, `partial ${p.layersDone}: ${r.stage}/${r.tensor}`);
            }),
          ),
        );
      });
      const trace = await handle.promise;
      await Promise.all(fetches);
      const L = eager.model.layers;
      assert.deepEqual(
        partials.map((p) => p.layersDone),
        Array.from({ length: L + 1 }, (_, i) => i),
      );
      assert.ok(hasRemote(partials[L]!.trace), 'the big tensors stayed in the worker');
      for (const p of partials) samePrefix(p.trace.stages, eager.stages, `partial ${p.layersDone}`);
      samePrefix(trace.stages, eager.stages, 'the final index');
      assert.equal(trace.stages.length, eager.stages.length);
      assert.equal((await engine.memory()).held.traces, 1, 'one entry: the partials and the answer share it');
      engine.release(trace);
      assert.equal((await engine.memory()).held.traces, 0);
    } finally {
      engine.dispose();
    }
  },
);

test('through the worker: a run cancelled mid-stream releases its entry and leaks no tensor', { skip }, async () => {
  const engine = new EngineClient(WORKER);
  try {
    // The model loaded first: its weights stay in the worker's cache.
    engine.release(await engine.run({ modelId: 'tinystories-656k', text: STORY }).promise);
    const before = await engine.memory();
    assert.equal(before.held.traces, 0);
    const seen: number[] = [];
    let cancel: () => void = () => {};
    const handle = engine.run({ modelId: 'tinystories-656k', text: STORY }, undefined, (p) => {
      seen.push(p.layersDone);
      if (p.layersDone === 1) cancel();
    });
    cancel = handle.cancel;
    await assert.rejects(handle.promise, (e: unknown) => e instanceof EngineError && e.code === 'cancelled');
    assert.ok(seen.includes(1), `partials seen before the cancel: ${seen.join(', ')}`);
    const after = await engine.memory();
    assert.equal(after.held.traces, 0, 'the growing entry was released');
    assert.equal(after.numTensors, before.numTensors, 'no tensor leaked');
  } finally {
    engine.dispose();
  }
});

test('the panel: a partial trace’s next layer keeps the stages already shown (and their fetched tensors), the cursor and the zoom', async () => {
  const { carryStages } = await import('../../shared/lazy');
  const { reduce, DEFAULT_SETTINGS } = await import('../../webview/store');
  const { streamNoteText } = await import('../../webview/components/pipeline');
  const updates: StagesUpdate[] = [];
  const final = await (await getModel('english-encoder')).run(DEFINITION, { onStages: (u) => updates.push(u) });
  const a = updates[1]!.trace;
  // The next update arrives as a fresh copy (as a message does): its shared stages are taken from the one shown.
  const copy = (t: typeof a) => ({
    ...t,
    stages: t.stages.map((s) => ({ ...s, tensors: s.tensors.map((x) => ({ ...x })) })),
  });
  const b = carryStages(a, copy(updates[2]!.trace));
  assert.ok(
    a.stages.every((s, i) => b.stages[i] === s),
    'the stages shown are carried',
  );
  assert.ok(b.stages.length > a.stages.length && b.stages.slice(a.stages.length).every((s) => !a.stages.includes(s)));
  const done = carryStages(b, copy(final));
  assert.equal(done.stages.length, final.stages.length);
  assert.equal(done.stages[b.stages.length - 1], b.stages[b.stages.length - 1]);
  const stream = { key: 7, layersDone: 1, layers: 12 };
  const cursor = { stage: 3, head: 1, view: 'heatmap' as const };
  let s = reduce({ cursor, settings: DEFAULT_SETTINGS }, { type: 'trace', trace: a, cursor, stream });
  s = reduce(s, {
    type: 'zoom',
    key: { stage: 'L0.weights', tensor: 'weights', head: 1 },
    view: { x0: 0, y0: 0, x1: 2, y1: 2 } as never,
  });
  s = reduce(s, { type: 'trace', trace: b, cursor: s.cursor, stream: { ...stream, layersDone: 2 } });
  assert.ok(s.zoom && s.lineage === 7 && s.stream?.layersDone === 2, 'the same run keeps its zoom windows');
  assert.equal(streamNoteText(s.stream!), `2 of ${stream.layers} layers done · layer 2 running…`);
  const ended = reduce(s, { type: 'streamEnded', key: 7, outcome: 'cancelled', message: '' });
  assert.equal(
    streamNoteText(ended.stream!),
    `Partial run: 2 of ${stream.layers} layers arrived; the run was cancelled.`,
  );
  assert.equal(
    reduce(s, { type: 'streamEnded', key: 8, outcome: 'failed', message: 'x' }),
    s,
    'another run’s end changes nothing',
  );
  const finished = reduce(s, { type: 'trace', trace: done, cursor: s.cursor, continues: 7 });
  assert.equal(finished.stream, undefined, 'the finished trace is not labelled partial');
  assert.ok(finished.zoom && finished.lineage === 7);
});
