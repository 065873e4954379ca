// Host side of the inference worker: one worker thread, requests by id, cancellation that
// really stops work (abort between stages; terminate the worker if it does not answer).
import { Worker } from 'node:worker_threads';
import type { Trace } from '../model/trace';
import type { WhatIfResult } from '../protocol';
import type { FromWorker, RunRequest, ToWorker, WhatIfRequest, WorkerError } from './workerProtocol';

export class EngineError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'EngineError';
  }
}

interface Pending {
  resolve(msg: FromWorker): void;
  reject(err: Error): void;
  onProgress?: (fraction: number, message: string) => void;
}

export interface RunHandle {
  readonly promise: Promise<Trace>;
  cancel(): void;
}

export interface EngineSettings {
  readonly backend: 'wasm' | 'cpu';
  /** 0 = the worker's default (one per core, at most 4). */
  readonly threads: number;
}

export interface BackendInfo {
  readonly backend: string;
  readonly threads: number;
  readonly warning?: string;
}

export class EngineClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private backendInfo: Promise<BackendInfo> | undefined;

  constructor(
    private readonly workerPath: string,
    private readonly log: (level: 'info' | 'warn' | 'error', message: string) => void = () => {},
    private readonly cancelGraceMs = 1500,
    private readonly settings: () => EngineSettings = () => ({ backend: 'wasm', threads: 0 }),
  ) {}

  /** Stops the worker (failing what is pending); the next request starts a fresh one. */
  restartWorker(): void {
    this.restart(new EngineError('The inference worker was restarted.', 'cancelled'));
  }

  /** Which tfjs backend the worker runs on (starts the worker). */
  backend(): Promise<BackendInfo> {
    this.ensureWorker();
    return this.backendInfo!;
  }

  run(request: RunRequest, onProgress?: (fraction: number, message: string) => void): RunHandle {
    const id = this.nextId++;
    let settled = false;
    const promise = this.send({ type: 'run', id, request }, onProgress).then((msg) => {
      if (msg.type !== 'trace') throw new EngineError(`unexpected worker reply ${msg.type}`);
      return msg.trace;
    });
    void promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    const cancel = (): void => {
      if (settled || !this.pending.has(id)) return;
      this.worker?.postMessage({ type: 'cancel', id } satisfies ToWorker);
      // A stage that is still computing cannot see the abort; stop the thread itself.
      setTimeout(() => {
        if (!settled && this.pending.has(id)) {
          this.log('warn', `run ${id} did not stop within ${this.cancelGraceMs} ms of cancel; restarting the worker`);
          this.restart(new EngineError('The run was cancelled.', 'cancelled'));
        }
      }, this.cancelGraceMs).unref?.();
    };
    return { promise, cancel };
  }

  async whatIf(request: WhatIfRequest): Promise<WhatIfResult> {
    const msg = await this.send({ type: 'whatIf', id: this.nextId++, request });
    if (msg.type !== 'whatIf') throw new EngineError(`unexpected worker reply ${msg.type}`);
    return msg.result;
  }

  async memory(): Promise<{ numTensors: number; numBytes: number }> {
    const msg = await this.send({ type: 'memory', id: this.nextId++ });
    if (msg.type !== 'memory') throw new EngineError(`unexpected worker reply ${msg.type}`);
    return { numTensors: msg.numTensors, numBytes: msg.numBytes };
  }

  dispose(): void {
    this.restart(new EngineError('The engine was shut down.', 'cancelled'), false);
  }

  private send(msg: ToWorker, onProgress?: Pending['onProgress']): Promise<FromWorker> {
    const worker = this.ensureWorker();
    return new Promise<FromWorker>((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject, onProgress });
      worker.postMessage(msg);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const { backend, threads } = this.settings();
    const env: NodeJS.ProcessEnv = { ...process.env, ATTENTION_LENS_BACKEND: backend };
    if (threads > 0) env['ATTENTION_LENS_THREADS'] = String(threads);
    const worker = new Worker(this.workerPath, { env });
    this.worker = worker;
    let readyResolve!: (v: BackendInfo) => void;
    this.backendInfo = new Promise((r) => (readyResolve = r));
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') {
        if (msg.warning) this.log('warn', msg.warning);
        readyResolve({ backend: msg.backend, threads: msg.threads, warning: msg.warning });
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      if (msg.type === 'progress') {
        p.onProgress?.(msg.fraction, msg.message);
        return;
      }
      this.pending.delete(msg.id);
      if (msg.type === 'error') p.reject(toError(msg.error));
      else p.resolve(msg);
    });
    worker.on('error', (err) => {
      this.log('error', `inference worker failed: ${err.stack ?? err.message}`);
      this.restart(new EngineError(`The inference worker failed: ${err.message}`));
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) {
        this.worker = undefined;
        if (code !== 0) this.failAll(new EngineError(`The inference worker exited with code ${code}.`));
      }
    });
    return worker;
  }

  private restart(reason: Error, log = true): void {
    const w = this.worker;
    this.worker = undefined;
    this.failAll(reason);
    if (w) {
      if (log) this.log('info', 'terminating the inference worker');
      void w.terminate();
    }
  }

  private failAll(reason: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(reason);
  }
}

function toError(e: WorkerError): EngineError {
  return new EngineError(e.message, e.code);
}
