// The inference worker: runs models off the extension host's event loop. It serves the host's
// requests over the one Channel; a trace's arrays are transferred, not copied, to the host.
import { parentPort } from 'node:worker_threads';
import * as path from 'node:path';
import { initBackend, tf } from '../model/runtime/backend';
import { getModel } from '../model/open/builtins';
import { filePathOf } from '../../shared/catalog';
import { ModelFileCache } from '../model/open/modelFiles';
import { runConfigFile } from '../model/open/runConfig';
import { recompute } from '../model/attention/whatif';
import { throwIfCancelled, type AttentionModel, type RunOptions } from '../model/model';
import { AttentionInputError, type Trace } from '../../shared/trace';
import { Channel, type HandlerContext } from '../../shared/channel';
import type {
  HeldTrace,
  PartialTrace,
  WorkerReady,
  WorkerRequest,
  WorkerResponseMap,
} from '../../shared/workerProtocol';
import { guarded, testFault } from './faults';
import { checkBudget, checkBudgetTokens, DEFAULT_MEMORY_BUDGET_MB, lightNote, needsLight, tokenBound } from './budget';
import { continueTrace } from '../model/transformer/continueTrace';
import { TraceStore, type Recompute } from './traceStore';
import { checkLightForm } from '../../shared/lazy';
import { GRID_THUMB, gridFits } from '../../shared/derived';

const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');

const fileModels = new ModelFileCache();
/** Big traces stay here; the host fetches what it shows. Bounded by the run's memory budget. */
const store = new TraceStore();
const budgetBytes = (mb: number | undefined): number => (mb ?? DEFAULT_MEMORY_BUDGET_MB) * 1024 * 1024;

const backend = initBackend(
  process.env.ATTENTION_LENS_BACKEND === 'cpu' ? 'cpu' : 'wasm',
  path.join(__dirname, 'wasm'),
);
void backend.then((b) =>
  port.postMessage({ type: 'ready', backend: b.name, threads: b.threads, warning: b.warning } satisfies WorkerReady),
);

/** The backend is up, and a cancel sent right after the request has been seen, before any work starts. */
async function started(signal: AbortSignal, modelId: string): Promise<void> {
  await backend;
  await new Promise((r) => setImmediate(r));
  throwIfCancelled(signal);
  // Only under ATTENTION_LENS_TEST_FAULTS=1: real traps, OOMs, exits and hangs for the recovery tests.
  testFault(modelId);
}

/** A model for one job: a built-in, or a model file leased until `release` (another job's request for another file cannot dispose it meanwhile). */
async function leaseModel(modelId: string, options: RunOptions): Promise<{ model: AttentionModel; release(): void }> {
  const file = filePathOf(modelId);
  if (!file) return { model: await getModel(modelId), release: () => {} };
  return fileModels.acquire(file, options);
}

/** A model for the length of `job`. */
async function withModel<T>(
  modelId: string,
  options: RunOptions,
  job: (model: AttentionModel) => Promise<T>,
): Promise<T> {
  const lease = await leaseModel(modelId, options);
  try {
    return await job(lease.model);
  } finally {
    lease.release();
  }
}

/**
 * A model's run under the budget: eager when it fits, else in light mode when the model can
 * recompute its layers (the store then keeps the model leased to do so), else refused.
 */
async function runModel(
  request: WorkerRequest & { kind: 'run' },
  options: RunOptions,
  partial: HandlerContext['partial'],
): Promise<HeldTrace> {
  const { modelId, text, maxTokens } = request;
  const budgetMB = request.memoryBudgetMB;
  const lease = await leaseModel(modelId, options);
  let kept = false;
  try {
    const model = lease.model;
    const tokens = tokenBound(text, maxTokens, model.info);
    const light = budgetMB ? needsLight(model.info, tokens, budgetMB, model.recomputeLayer !== undefined) : false;
    if (!light || !model.recomputeLayer) return await streamed(model, text, options, budgetBytes(budgetMB), partial);
    // Light: the store keeps the model leased (released with the trace) to make its layers again.
    const recompute = model.recomputeLayer.bind(model);
    kept = true;
    return await streamed(model, text, { ...options, light }, budgetBytes(budgetMB), partial, {
      recompute: (t, layer) => recompute(t, layer),
      release: () => lease.release(),
      note: lightNote(model.info, tokens, budgetMB!),
    });
  } finally {
    if (!kept) lease.release();
  }
}

/**
 * A run that streams: the store holds its stages as each layer finishes, and their index goes to
 * the host ahead of the answer (a progress message's partial), under the id the answer will have.
 * A light run's layers are made again from their inputs when read, mid-run too; its note says so.
 * A run that fails or is cancelled lets its stages (and a light run's model lease) go.
 */
async function streamed(
  model: AttentionModel,
  text: string,
  options: RunOptions,
  budget: number,
  partial: HandlerContext['partial'],
  light?: Recompute & { readonly note: string },
): Promise<HeldTrace> {
  const noted = (t: Trace): Trace => (light ? { ...t, notes: [...(t.notes ?? []), light.note] } : t);
  const id = store.begin(light);
  try {
    const trace = await model.run(text, {
      ...options,
      onLayerStages: (layer) => store.poolLayer(id, layer),
      onStages: ({ trace: soFar, layersDone, layers }) => {
        const index = store.grow(id, noted(soFar));
        const update: PartialTrace = { trace: index, id, layersDone, layers };
        partial(layersDone / (layers + 1), `${layersDone} of ${layers} layers done`, update);
        // The grid's rows of the layers that have arrived (those whose weights the trace holds).
        store.poolLayer(id, soFar);
      },
    });
    return store.complete(id, noted(trace), budget);
  } catch (err) {
    store.release(id);
    throw err;
  }
}

const channel = new Channel<never, never, WorkerRequest, WorkerResponseMap>({
  post: (message, transfer) => port.postMessage(message, transfer),
  // The worker keeps nothing it sends (a held trace's index and fetches are copies): results move to the host.
  transferResults: true,
  handlers: {
    run: guarded(async (request, { signal, progress, partial }) => {
      await started(signal, request.modelId);
      const { maxTokens, score, normaliser, topK, config } = request;
      const options: RunOptions = { maxTokens, score, normaliser, topK, signal, onProgress: progress };
      const budgetMB = request.memoryBudgetMB;
      if (config) {
        const trace = await runConfigFile(
          config.text,
          config.baseDir,
          options,
          budgetMB
            ? (info, input) =>
                'text' in input
                  ? checkBudget(info, input.text, maxTokens, budgetMB)
                  : checkBudgetTokens(info, input.tokens, budgetMB, { budget: 'attentionLens.memoryBudgetMB' })
            : undefined,
        );
        return store.admit(trace, budgetBytes(budgetMB));
      }
      return runModel(request, options, partial);
    }),
    generate: guarded(async (request, { signal, progress }) => {
      await started(signal, request.modelId);
      const { modelId, topK, memoryBudgetMB, ...input } = request;
      const options: RunOptions = { topK, signal, onProgress: progress };
      const trace = await withModel(modelId, options, (model) => {
        if (memoryBudgetMB) checkBudgetTokens(model.info, input.prior.length + input.tokens, memoryBudgetMB);
        return continueTrace(model, input, options);
      });
      return store.admit(trace, budgetBytes(memoryBudgetMB));
    }),
    adopt: guarded(async ({ request, trace, layer, grid }, { signal, progress }) => {
      await started(signal, request.modelId);
      const lease = await leaseModel(request.modelId, { maxTokens: request.maxTokens, signal, onProgress: progress });
      try {
        const model = lease.model;
        if (!model.recomputeLayer)
          throw new AttentionInputError('shape', `${model.info.name} cannot make its layers again from their inputs.`);
        checkLightForm(trace, model.info.layers, model.info.dModel);
        const recompute = model.recomputeLayer.bind(model);
        const note = `Restored from the cache in the extension's storage: each layer's tensors are made again from that layer's input when shown (the same numbers as the run).`;
        const held = store.admit(
          { ...trace, notes: [...(trace.notes ?? []).filter((n) => n !== note), note] },
          budgetBytes(request.memoryBudgetMB),
          {
            recompute: (t, layer) => recompute(t, layer),
            release: () => lease.release(),
          },
        );
        // A kept grid that fits the run spares making every layer again when the grid opens.
        if (held.held && grid && gridFits(trace, grid, GRID_THUMB))
          store.keepThumbnails(held.held.id, GRID_THUMB, grid);
        // The panel's first fetch is most likely this layer: made now, while the host opens the panel.
        if (held.held && layer !== undefined) {
          const id = held.held.id;
          setImmediate(() => {
            try {
              store.warm(id, layer);
            } catch {
              // The fetch that needs it will say why.
            }
          });
        }
        return held;
      } catch (err) {
        lease.release();
        throw err;
      }
    }),
    fetch: async (r) => store.fetch(r.id, r.want),
    thumbnails: async (r) => store.thumbnails(r.id, Math.max(8, Math.min(512, r.max))),
    release: async (r) => store.release(r.id),
    whatIf: guarded(async (r) => {
      await backend;
      return recompute(
        {
          Q: r.Q,
          K: r.K,
          V: r.V,
          params: r.params,
          kvHeadOf: r.kvHeadOf,
          causal: r.causal,
          ...(r.mask ? { mask: r.mask } : {}),
          ...(r.scale !== undefined ? { scale: r.scale } : {}),
          ...(r.softCap !== undefined ? { softCap: r.softCap } : {}),
          ...(r.bias ? { bias: r.bias } : {}),
        },
        r.score,
        r.normaliser,
        { ...(r.local ? { local: r.local } : {}), ...(r.seed !== undefined ? { seed: r.seed } : {}) },
      );
    }),
    memory: async () => {
      await backend;
      const m = tf.memory();
      return { numTensors: m.numTensors, numBytes: m.numBytes, held: store.held };
    },
  },
});

port.on('message', (message: unknown) => {
  channel.receive(message);
});
