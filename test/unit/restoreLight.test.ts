// A big run kept for a reload in light form (shared/lazy.ts lightForm, src/panel/restoreCache.ts):
// its small tensors and each layer's input, written to disk and read back, then held again by a
// worker that makes every layer again from its input (the 'adopt' request) — every tensor the eager
// run's, bit for bit, without running the model; a form that lacks an input is refused.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { TraceStore } from '../../src/worker/traceStore';
import { EngineClient } from '../../src/engine/client';
import { checkLightForm, hasRemote, isRemote, lightForm, type TensorRequest } from '../../shared/lazy';
import { decode, encode } from '../../src/panel/restoreCache';
import type { Trace } from '../../shared/trace';
import { sameBits } from './fixtureTools';
import { GRID_THUMB, gridThumbnails, type GridThumbs } from '../../shared/derived';

const WORKER = path.resolve(__dirname, '..', '..', 'dist', 'worker.js');
const skip = !existsSync(WORKER) && 'run `npm run build` first';
const MODEL = 'tinystories-656k';
const TEXT = 'Once upon a time there was a little girl who liked to play in the park with her dog. '.repeat(12);

let eager: Trace;
before(async () => {
  await initBackend();
  eager = await (await getModel(MODEL)).run(TEXT, {});
});

const everyTensor = (t: Trace): TensorRequest[] =>
  t.stages.flatMap((s) => s.tensors.map((x) => ({ stage: s.id, tensor: x.name })));

function sameAsEager(
  got: readonly { data: Float32Array; shape: readonly number[]; axes: readonly string[] }[],
  what: string,
): void {
  everyTensor(eager).forEach((r, k) => {
    const full = eager.stages.find((s) => s.id === r.stage)!.tensors.find((t) => t.name === r.tensor)!;
    sameBits(got[k]! as never, full, `${what} ${r.stage}/${r.tensor}`);
  });
}

test('a held run in light form keeps only what a light run keeps, reads back from disk, and its layers come back bit for bit', async () => {
  const model = await getModel(MODEL);
  const store = new TraceStore();
  const { trace: index, held } = store.admit(eager, 2 ** 30);
  assert.ok(held && hasRemote(index));
  const form = await lightForm(index, async (want) => store.fetch(held.id, want));
  // What a light run of the same text keeps, tensor for tensor.
  const light = await model.run(TEXT, { light: true });
  form.stages.forEach((s, i) =>
    s.tensors.forEach((t, j) => {
      const l = light.stages[i]!.tensors[j]!;
      assert.equal(isRemote(t), isRemote(l), `${s.id}/${t.name}: kept as a light run keeps it`);
      if (!isRemote(t)) sameBits(t, l, `${s.id}/${t.name}`);
    }),
  );
  const bytes = encode(form);
  const full = encode(eager);
  assert.ok(bytes.byteLength < full.byteLength / 3, `${bytes.byteLength} bytes on disk, not ${full.byteLength}`);
  const { trace: back } = decode(bytes);
  checkLightForm(back, model.info.layers, model.info.dModel);
  const again = new TraceStore();
  const made: number[] = [];
  const adopted = again.admit(back, 2 ** 30, {
    recompute: (t, l) => (made.push(l), model.recomputeLayer!(t, l)),
    release: () => {},
  });
  // Warmed ahead of the panel's first fetch: that fetch makes nothing again.
  again.warm(adopted.held!.id, 1);
  assert.deepEqual(made, [1]);
  const w1 = eager.stages.find((s) => s.layer === 1 && s.kind === 'normalise')!;
  sameBits(
    again.fetch(adopted.held!.id, [{ stage: w1.id, tensor: 'weights' }])[0]!,
    w1.tensors.find((t) => t.name === 'weights')!,
    'warmed',
  );
  assert.deepEqual(made, [1]);
  sameAsEager(again.fetch(adopted.held!.id, everyTensor(eager)), 'adopted');
  store.release(held.id);
});

test('a light form that lacks a layer’s input, or is for another width, is refused with the reason', async () => {
  const model = await getModel(MODEL);
  const store = new TraceStore();
  const { trace: index, held } = store.admit(eager, 2 ** 30);
  const form = await lightForm(index, async (want) => store.fetch(held!.id, want));
  const without: Trace = {
    ...form,
    stages: form.stages.map((s) =>
      s.id === 'L1.input'
        ? { ...s, tensors: s.tensors.map((t) => ({ ...t, data: new Float32Array(0), remote: true as const })) }
        : s,
    ),
  };
  assert.throws(() => checkLightForm(without, model.info.layers, model.info.dModel), /no input of layer 1/);
  assert.throws(() => checkLightForm(form, model.info.layers, model.info.dModel + 1), /no input of layer 0/);
  assert.throws(() => checkLightForm(form, model.info.layers - 1, model.info.dModel), /more layers than the model/);
  store.release(held!.id);
});

test(
  'through the worker: a kept light form is adopted (no run), fetched right, and made again by running when the worker restarts',
  { skip },
  async () => {
    const engine = new EngineClient(WORKER);
    try {
      const request = { modelId: MODEL, text: TEXT, maxTokens: 256 };
      const run = await engine.run(request).promise;
      assert.ok(engine.holds(run));
      // The grid goes with it (pooled as the run went); marked, so the one read back is known.
      const grid = await engine.thumbnails(run, GRID_THUMB);
      const kept = decode(encode(await lightForm(run, (want) => engine.tensors(run, want)), grid));
      assert.deepEqual(kept.grid, grid);
      kept.grid!.sections[0]!.rows[0]!.heads[0]!.data[0] = 42;
      engine.restartWorker();
      const progress: string[] = [];
      const adopted = await engine.adopt(request, kept, 1, (_f, m) => progress.push(m)).promise;
      assert.ok(engine.holds(adopted));
      assert.ok(
        (adopted.notes ?? []).some((n) => n.startsWith('Restored from the cache')),
        'the header says the layers are made again',
      );
      const mark = (g: GridThumbs): number => g.sections[0]!.rows[0]!.heads[0]!.data[0]!;
      assert.equal(mark(await engine.thumbnails(adopted, GRID_THUMB)), 42, 'the kept grid, not pooled again');
      sameAsEager(await engine.tensors(adopted, everyTensor(eager)), 'adopted in the worker');
      assert.equal(
        (await engine.memory()).held.traces,
        1,
        'only the adopted run is held (the first went with the restart)',
      );
      // The thread goes: the run is made again from its request, with the same numbers.
      engine.restartWorker();
      sameAsEager(await engine.tensors(adopted, everyTensor(eager)), 'after a restart');
      // A form the model cannot make again is refused, and nothing is held for it.
      const bad = { trace: { ...kept.trace, stages: kept.trace.stages.filter((s) => s.id !== 'L0.input') } };
      await assert.rejects(engine.adopt(request, bad).promise, /no input of layer 0/);
      // A kept grid that does not fit the run (a head short) is let go: the grid is pooled from the layers.
      const [sec] = kept.grid!.sections;
      const short = {
        ...kept.grid!,
        sections: [{ ...sec!, rows: sec!.rows.map((r) => ({ ...r, heads: r.heads.slice(1) })) }],
      };
      const again = await engine.adopt(request, { ...kept, grid: short }).promise;
      assert.deepEqual(await engine.thumbnails(again, GRID_THUMB), gridThumbnails(eager, GRID_THUMB));
    } finally {
      engine.dispose();
    }
  },
);
