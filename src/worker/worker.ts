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
import { Channel } from '../../shared/channel';
import type { WorkerReady, WorkerRequest, WorkerResponseMap } from '../../shared/workerProtocol';
import { guarded, testFault } from './faults';
import { checkBudget } from './budget';

const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');

const fileModels = new ModelFileCache();

const backend = initBackend(
  process.env.ATTENTION_LENS_BACKEND === 'cpu' ? 'cpu' : 'wasm',
  path.join(__dirname, 'wasm'),
);
void backend.then((b) =>
  port.postMessage({ type: 'ready', backend: b.name, threads: b.threads, warning: b.warning } satisfies WorkerReady),
);

const channel = new Channel<never, never, WorkerRequest, WorkerResponseMap>({
  post: (message, transfer) => port.postMessage(message, transfer),
  // The worker keeps nothing it sends: traces and what-if results move to the host.
  transferResults: true,
  handlers: {
    run: guarded(async (request, { signal, progress }) => {
      await backend;
      // Let a cancel that was sent right after the run be seen before any work starts.
      await new Promise((r) => setImmediate(r));
      throwIfCancelled(signal);
      // Only under ATTENTION_LENS_TEST_FAULTS=1: real traps, OOMs, exits and hangs for the recovery tests.
      testFault(request.modelId);
      const { text, maxTokens, score, normaliser, topK, config, modelId } = request;
      const options: RunOptions = { maxTokens, score, normaliser, topK, signal, onProgress: progress };
      if (config) return runConfigFile(config.text, config.baseDir, options);
      const file = filePathOf(modelId);
      const budget = (info: AttentionModel['info']): void => {
        if (request.memoryBudgetMB) checkBudget(info, text, maxTokens, request.memoryBudgetMB);
      };
      if (!file) {
        const model = await getModel(modelId);
        budget(model.info);
        return model.run(text, options);
      }
      // Held for this run only: another run's request for another file cannot dispose it meanwhile.
      const lease = await fileModels.acquire(file, options);
      try {
        budget(lease.model.info);
        return await lease.model.run(text, options);
      } finally {
        lease.release();
      }
    }),
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
      return { numTensors: m.numTensors, numBytes: m.numBytes };
    },
  },
});

port.on('message', (message: unknown) => {
  channel.receive(message);
});
