// The inference worker: runs models off the extension host's event loop.
import { parentPort } from 'node:worker_threads';
import * as path from 'node:path';
import { initBackend, tf } from '../model/runtime/backend';
import { getModel } from '../model/open/builtins';
import { filePathOf } from '../../shared/catalog';
import { ModelFileCache } from '../model/open/modelFiles';
import { runConfigFile } from '../model/open/runConfig';
import { recompute } from '../model/attention/whatif';
import { AttentionInputError } from '../../shared/trace';
import { throwIfCancelled } from '../model/model';
import { buffersOf, type FromWorker, type ToWorker } from '../../shared/workerProtocol';

const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');

const post = (msg: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);
const controllers = new Map<number, AbortController>();
const fileModels = new ModelFileCache();

const backend = initBackend(process.env.ATTENTION_LENS_BACKEND === 'cpu' ? 'cpu' : 'wasm', path.join(__dirname, 'wasm'));
void backend.then((b) => post({ type: 'ready', backend: b.name, threads: b.threads, warning: b.warning }));

function errorOf(err: unknown): { message: string; code?: string } {
  if (err instanceof AttentionInputError) return { message: err.message, code: err.code };
  return { message: err instanceof Error ? err.message : String(err) };
}

port.on('message', (msg: ToWorker) => {
  void handle(msg);
});

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'run': {
      const controller = new AbortController();
      controllers.set(msg.id, controller);
      try {
        await backend;
        // Let a cancel that was sent right after the run be seen before any work starts.
        await new Promise((r) => setImmediate(r));
        throwIfCancelled(controller.signal);
        const { text, maxTokens, score, normaliser, topK, config } = msg.request;
        const options = {
          maxTokens,
          score,
          normaliser,
          topK,
          signal: controller.signal,
          onProgress: (fraction: number, message: string) => post({ type: 'progress', id: msg.id, fraction, message }),
        };
        const file = filePathOf(msg.request.modelId);
        const model = config ? undefined : file ? await fileModels.get(file, options) : await getModel(msg.request.modelId);
        const trace = config ? await runConfigFile(config.text, config.baseDir, options) : await model!.run(text, options);
        const tensors = trace.stages.flatMap((s) => s.tensors);
        post({ type: 'trace', id: msg.id, trace, numTensors: tf.memory().numTensors }, buffersOf(tensors));
      } catch (err) {
        post({ type: 'error', id: msg.id, error: errorOf(err) });
      } finally {
        controllers.delete(msg.id);
      }
      return;
    }
    case 'whatIf': {
      try {
        await backend;
        const r = msg.request;
        const result = recompute({ Q: r.Q, K: r.K, V: r.V, params: r.params, kvHeadOf: r.kvHeadOf, causal: r.causal }, r.score, r.normaliser);
        post({ type: 'whatIf', id: msg.id, result }, buffersOf([result.scores, result.weights, result.context]));
      } catch (err) {
        post({ type: 'error', id: msg.id, error: errorOf(err) });
      }
      return;
    }
    case 'cancel':
      controllers.get(msg.id)?.abort();
      return;
    case 'memory': {
      await backend;
      const m = tf.memory();
      post({ type: 'memory', id: msg.id, numTensors: m.numTensors, numBytes: m.numBytes });
      return;
    }
  }
}
