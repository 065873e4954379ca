// Host side of the inference workers: requests by id, cancellation that really stops work (abort
// between stages; terminate the worker if it does not answer). Two lanes: small models run on a
// single-threaded worker (thread hand-offs would cost more than they save on tiny matrices);
// large checkpoints run on a worker whose wasm backend uses every core.
import { Worker } from 'node:worker_threads';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { filePathOf } from '../../shared/catalog';
import type { Trace } from '../../shared/trace';
import type { WhatIfResult } from '../../shared/protocol';
import type { FromWorker, RunRequest, ToWorker, WhatIfRequest, WorkerError } from '../../shared/workerProtocol';

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
  /** 0 = automatic (small models on one thread, large ones on every core up to 4); N = always N. */
  readonly threads: number;
}

export interface BackendInfo {
  readonly backend: string;
  readonly threads: number;
  readonly warning?: string;
}

export type Lane = 'small' | 'large';

/** Weights above this size (bytes on disk) run on the multi-threaded lane. */
export const LARGE_MODEL_BYTES = 32 * 1024 * 1024;

type Log = (level: 'info' | 'warn' | 'error', message: string) => void;

/** One worker thread and the requests it owes answers to. */
class WorkerSlot {
  private worker: Worker | undefined;
  private info: Promise<BackendInfo> | undefined;
  readonly pending = new Map<number, Pending>();

  constructor(
    private readonly workerPath: string,
    private readonly env: () => NodeJS.ProcessEnv,
    private readonly log: Log,
  ) {}

  backend(): Promise<BackendInfo> {
    this.ensure();
    return this.info!;
  }

  send(msg: ToWorker, onProgress?: Pending['onProgress']): Promise<FromWorker> {
    const worker = this.ensure();
    return new Promise<FromWorker>((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject, onProgress });
      worker.postMessage(msg);
    });
  }

  post(msg: ToWorker): void {
    this.worker?.postMessage(msg);
  }

  restart(reason: Error, log = true): void {
    const w = this.worker;
    this.worker = undefined;
    this.failAll(reason);
    if (w) {
      if (log) this.log('info', 'terminating an inference worker');
      void w.terminate();
    }
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.workerPath, { env: this.env() });
    this.worker = worker;
    let readyResolve!: (v: BackendInfo) => void;
    this.info = new Promise((r) => (readyResolve = r));
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

  private failAll(reason: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(reason);
  }
}

/** Bytes of weights beside a model file (safetensors or tfjs shards); 0 when unknown. */
async function weightBytes(file: string): Promise<number> {
  const dir = path.dirname(file);
  let total = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!/\.(safetensors|bin)$/.test(name)) continue;
    total += (await fs.stat(path.join(dir, name)).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

export class EngineClient {
  private nextId = 1;
  private readonly slots: Record<Lane, WorkerSlot>;
  /** The lane of the last run: what-if and memory questions go where its trace came from. */
  private lastLane: Lane = 'small';

  constructor(
    workerPath: string,
    private readonly log: Log = () => {},
    private readonly cancelGraceMs = 1500,
    private readonly settings: () => EngineSettings = () => ({ backend: 'wasm', threads: 0 }),
    private readonly largeModelBytes = LARGE_MODEL_BYTES,
  ) {
    const env = (lane: Lane) => (): NodeJS.ProcessEnv => {
      const { backend, threads } = this.settings();
      const out: NodeJS.ProcessEnv = { ...process.env, ATTENTION_LENS_BACKEND: backend };
      if (threads > 0) out['ATTENTION_LENS_THREADS'] = String(threads);
      else if (lane === 'small') out['ATTENTION_LENS_THREADS'] = '1';
      else delete out['ATTENTION_LENS_THREADS'];
      return out;
    };
    this.slots = { small: new WorkerSlot(workerPath, env('small'), log), large: new WorkerSlot(workerPath, env('large'), log) };
  }

  /** Stops the workers (failing what is pending); the next request starts fresh ones. */
  restartWorker(): void {
    for (const s of Object.values(this.slots)) s.restart(new EngineError('The inference worker was restarted.', 'cancelled'));
  }

  /** Which tfjs backend the small-model worker runs on (starts it). */
  backend(): Promise<BackendInfo> {
    return this.slots.small.backend();
  }

  /** Which lane a request runs on: explicit thread settings use one lane; automatic sizes by weights. */
  async laneFor(request: RunRequest): Promise<Lane> {
    if (this.settings().threads > 0) return 'small';
    const file = filePathOf(request.modelId);
    return file && (await weightBytes(file)) > this.largeModelBytes ? 'large' : 'small';
  }

  run(request: RunRequest, onProgress?: (fraction: number, message: string) => void): RunHandle {
    const id = this.nextId++;
    let settled = false;
    let cancelled = false;
    let slot: WorkerSlot | undefined;
    const promise = this.laneFor(request)
      .then((lane) => {
        if (cancelled) throw new EngineError('The run was cancelled.', 'cancelled');
        this.lastLane = lane;
        slot = this.slots[lane];
        return slot.send({ type: 'run', id, request }, onProgress);
      })
      .then((msg) => {
        if (msg.type !== 'trace') throw new EngineError(`unexpected worker reply ${msg.type}`);
        return msg.trace;
      });
    void promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    const cancel = (): void => {
      if (settled) return;
      cancelled = true;
      const s = slot;
      if (!s || !s.pending.has(id)) return;
      s.post({ type: 'cancel', id });
      // A stage that is still computing cannot see the abort; stop the thread itself.
      setTimeout(() => {
        if (!settled && s.pending.has(id)) {
          this.log('warn', `run ${id} did not stop within ${this.cancelGraceMs} ms of cancel; restarting the worker`);
          s.restart(new EngineError('The run was cancelled.', 'cancelled'));
        }
      }, this.cancelGraceMs).unref?.();
    };
    return { promise, cancel };
  }

  async whatIf(request: WhatIfRequest): Promise<WhatIfResult> {
    const msg = await this.slots[this.lastLane].send({ type: 'whatIf', id: this.nextId++, request });
    if (msg.type !== 'whatIf') throw new EngineError(`unexpected worker reply ${msg.type}`);
    return msg.result;
  }

  async memory(): Promise<{ numTensors: number; numBytes: number }> {
    const msg = await this.slots[this.lastLane].send({ type: 'memory', id: this.nextId++ });
    if (msg.type !== 'memory') throw new EngineError(`unexpected worker reply ${msg.type}`);
    return { numTensors: msg.numTensors, numBytes: msg.numBytes };
  }

  dispose(): void {
    for (const s of Object.values(this.slots)) s.restart(new EngineError('The engine was shut down.', 'cancelled'), false);
  }
}

function toError(e: WorkerError): EngineError {
  return new EngineError(e.message, e.code);
}
