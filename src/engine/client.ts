// Host side of the inference workers: requests over the one Channel (shared/channel.ts), a worker
// started on the first request, cancellation that really stops work (abort between stages;
// terminate the worker if it does not answer). Two lanes: small models run on a
// single-threaded worker (thread hand-offs would cost more than they save on tiny matrices);
// large checkpoints run on a worker whose wasm backend uses every core.
import { Worker } from 'node:worker_threads';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { filePathOf } from '../../shared/catalog';
import type { Stage, TensorData, Trace } from '../../shared/trace';
import type { WhatIfResult } from '../../shared/protocol';
import { Channel, type Call, type WireError } from '../../shared/channel';
import { fetchTensor, isRemote, type TensorRequest } from '../../shared/lazy';
import { gridThumbnails, type GridThumbs } from '../../shared/derived';
import type {
  FromWorker,
  GenerateRequest,
  HeldTrace,
  PartialTrace,
  RunRequest,
  WhatIfRequest,
  WorkerRequest,
  WorkerResponseMap,
} from '../../shared/workerProtocol';

export class EngineError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** A streamed run's trace so far (EngineClient.run's onPartial): an index whose big tensors fetch like a finished run's. */
export interface PartialRun {
  readonly trace: Trace;
  readonly layersDone: number;
  readonly layers: number;
}

export interface RunHandle {
  readonly promise: Promise<Trace>;
  cancel(): void;
}

export interface EngineSettings {
  readonly backend: 'wasm' | 'cpu';
  /** 0 = automatic (small models on one thread, large ones on every core up to 4); N = always N. */
  readonly threads: number;
  /** The watchdog: a run (load included) still going after this many seconds is stopped; 0 = none. */
  readonly runTimeoutSeconds?: number;
}

export interface EngineOptions {
  /** The worker's JS heap (resourceLimits.maxOldGenerationSizeMb): past it only the worker dies. */
  readonly heapLimitMb?: number;
}

/** Default JS heap of an inference worker; weights live in ArrayBuffers and wasm memory, outside it. */
export const WORKER_HEAP_MB = 3072;

/** Why runs fail when their worker is replaced; a run that did not cause it is sent again. */
const RESTARTED = 'worker-restarted';
const CRASHED = 'worker-crashed';
const HINT =
  'The inference worker was restarted, so the next run starts fresh. This usually means the run needed more memory than the worker has: try fewer tokens (attentionLens.maxTokens) or a smaller model.';

export interface BackendInfo {
  readonly backend: string;
  readonly threads: number;
  readonly warning?: string;
}

export type Lane = 'small' | 'large';

/** Weights above this size (bytes on disk) run on the multi-threaded lane. */
export const LARGE_MODEL_BYTES = 32 * 1024 * 1024;

type Log = (level: 'info' | 'warn' | 'error', message: string) => void;

const toError = (e: WireError): EngineError => new EngineError(e.message, e.code);

/** One worker thread, started on its first request, and the channel to it. */
class WorkerSlot {
  private worker: Worker | undefined;
  private info: Promise<BackendInfo> | undefined;
  readonly channel = new Channel<WorkerRequest, WorkerResponseMap>({
    post: (message) => this.ensure().postMessage(message),
    errorOf: toError,
  });

  constructor(
    private readonly lane: Lane,
    private readonly workerPath: string,
    private readonly env: () => NodeJS.ProcessEnv,
    private readonly log: Log,
    private readonly heapLimitMb: number,
  ) {}

  /** Threads started so far: a restart shows as a new generation. */
  generation = 0;

  get started(): boolean {
    return this.worker !== undefined;
  }

  backend(): Promise<BackendInfo> {
    this.ensure();
    return this.info!;
  }

  call<K extends WorkerRequest['kind']>(
    request: Extract<WorkerRequest, { kind: K }>,
    onProgress?: (fraction: number, message: string) => void,
    onPartial?: (payload: unknown) => void,
  ): Call<WorkerResponseMap[K]> {
    return this.channel.call(request, { onProgress, ...(onPartial ? { onPartial } : {}) });
  }

  restart(reason: Error, log = true): void {
    const w = this.worker;
    this.worker = undefined;
    this.channel.failAll(reason);
    if (w) {
      if (log) this.log('info', `terminating the inference worker (${this.lane} models): ${reason.message}`);
      void w.terminate();
    }
  }

  /**
   * The worker crashed or its heap is broken: the error that says why; the thread is replaced on the
   * next call. `culpritKnown`: the other runs it held did not cause it and are sent again.
   */
  crashed(what: string, culpritKnown = false): EngineError {
    const error = new EngineError(`The inference worker stopped after ${what}. ${HINT}`, CRASHED);
    this.log('error', error.message);
    this.restart(culpritKnown ? new EngineError(error.message, RESTARTED) : error, false);
    return error;
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const started = Date.now();
    const worker = new Worker(this.workerPath, {
      env: this.env(),
      resourceLimits: { maxOldGenerationSizeMb: this.heapLimitMb },
    });
    this.worker = worker;
    this.generation++;
    let readyResolve!: (v: BackendInfo) => void;
    let readyReject!: (e: Error) => void;
    this.info = new Promise((resolve, reject) => ((readyResolve = resolve), (readyReject = reject)));
    // A worker that dies before it is ready rejects backend() instead of leaving it pending.
    this.info.catch(() => {});
    worker.on('message', (msg: FromWorker) => {
      if (this.channel.receive(msg) || msg.type !== 'ready') return;
      if (msg.warning) this.log('warn', msg.warning);
      this.log(
        'info',
        `inference worker (${this.lane} models) ready on the ${msg.backend} backend, ${msg.threads} thread${msg.threads === 1 ? '' : 's'}, in ${Date.now() - started} ms`,
      );
      readyResolve({ backend: msg.backend, threads: msg.threads, warning: msg.warning });
    });
    worker.on('error', (err: Error & { code?: string }) => {
      if (this.worker !== worker) return;
      readyReject(new EngineError(`The inference worker failed: ${err.message}`));
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') this.crashed(`running out of memory (${err.message})`);
      else {
        this.log('error', `inference worker failed: ${err.stack ?? err.message}`);
        this.restart(new EngineError(`The inference worker failed: ${err.message}`));
      }
    });
    worker.on('exit', (code) => {
      readyReject(new EngineError(`The inference worker exited with code ${code} before it was ready.`));
      if (this.worker === worker) {
        this.worker = undefined;
        if (code !== 0) this.crashed(`exiting unexpectedly (code ${code})`);
      }
    });
    return worker;
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

type JobRequest = Extract<WorkerRequest, { kind: 'run' | 'generate' }>;
/** What a job asks its worker: a run or generation, or a kept run to hold again (made again as its run). */
type StartRequest = JobRequest | Extract<WorkerRequest, { kind: 'adopt' }>;
/** The request that makes a job's trace again when its worker is gone: an adopted run's own run. */
const remakeOf = (r: StartRequest): JobRequest => (r.kind === 'adopt' ? { kind: 'run', ...r.request } : r);

/** Where a trace's big tensors are: a worker's store, under an id, for as long as that thread lives. */
interface Holding {
  slot: WorkerSlot;
  generation: number;
  id: number;
  /** How to make the same trace again when the worker lost it (a restart, an eviction), and the index it must match. */
  readonly request: JobRequest;
  readonly index: Trace;
  remaking?: Promise<void> | undefined;
}

/** Two indexes describe the same run: the same stages with the same tensors and shapes. */
function sameRun(a: Trace, b: Trace): boolean {
  return (
    a.tokens.length === b.tokens.length &&
    a.stages.length === b.stages.length &&
    a.stages.every((s, i) => {
      const o = b.stages[i]!;
      return (
        s.id === o.id &&
        s.tensors.length === o.tensors.length &&
        s.tensors.every((t, j) => t.name === o.tensors[j]!.name && t.shape.join() === o.tensors[j]!.shape.join())
      );
    })
  );
}

/** Filled stages kept per trace for the host's own readers (hover, decorations, export). */
const FILLED_PER_TRACE = 4;

export class EngineClient {
  private readonly slots: Record<Lane, WorkerSlot>;
  /** Traces whose big tensors a worker holds (their index is what the caller has). */
  private readonly holdings = new WeakMap<Trace, Holding>();
  private readonly filledStages = new WeakMap<Trace, Map<string, Stage>>();
  /** The lane of the last run: what-if and memory questions go where its trace came from. */
  private lastLane: Lane = 'small';

  constructor(
    workerPath: string,
    private readonly log: Log = () => {},
    private readonly cancelGraceMs = 1500,
    private readonly settings: () => EngineSettings = () => ({ backend: 'wasm', threads: 0 }),
    private readonly largeModelBytes = LARGE_MODEL_BYTES,
    options: EngineOptions = {},
  ) {
    const heap = options.heapLimitMb ?? WORKER_HEAP_MB;
    const env = (lane: Lane) => (): NodeJS.ProcessEnv => {
      const { backend, threads } = this.settings();
      const out: NodeJS.ProcessEnv = { ...process.env, ATTENTION_LENS_BACKEND: backend };
      if (threads > 0) out['ATTENTION_LENS_THREADS'] = String(threads);
      else if (lane === 'small') out['ATTENTION_LENS_THREADS'] = '1';
      else delete out['ATTENTION_LENS_THREADS'];
      return out;
    };
    this.slots = {
      small: new WorkerSlot('small', workerPath, env('small'), log, heap),
      large: new WorkerSlot('large', workerPath, env('large'), log, heap),
    };
  }

  /** Stops the workers (failing what is pending); the next request starts fresh ones. */
  restartWorker(): void {
    for (const s of Object.values(this.slots))
      s.restart(new EngineError('The inference worker was restarted.', 'cancelled'));
  }

  /** Whether any worker thread is running (none until the first run: activation starts nothing). */
  get started(): boolean {
    return Object.values(this.slots).some((s) => s.started);
  }

  /** Which tfjs backend the small-model worker runs on (starts it). */
  backend(): Promise<BackendInfo> {
    return this.slots.small.backend();
  }

  /** Which lane a request runs on: explicit thread settings use one lane; automatic sizes by weights. */
  async laneFor(request: RunRequest | GenerateRequest): Promise<Lane> {
    if (this.settings().threads > 0) return 'small';
    const file = filePathOf(request.modelId);
    return file && (await weightBytes(file)) > this.largeModelBytes ? 'large' : 'small';
  }

  /** How many worker threads have been started on each lane (a restart adds one). */
  get generations(): Record<Lane, number> {
    return { small: this.slots.small.generation, large: this.slots.large.generation };
  }

  /**
   * One run. Its cancel and its watchdog stop only this run: when the thread has to be terminated
   * (a stage that never yields), the other runs it held are sent again to the fresh thread.
   */
  run(
    request: RunRequest,
    onProgress?: (fraction: number, message: string) => void,
    /** A streamed run's trace so far, each time a layer finishes; its tensors can be fetched (tensors, thumbnails) at once. */
    onPartial?: (partial: PartialRun) => void,
  ): RunHandle {
    return this.job({ kind: 'run', ...request }, onProgress, onPartial);
  }

  /** Continue: generates after a causal LM's trace and returns the trace of prompt + new tokens; cancel and watchdog as run. */
  generate(request: GenerateRequest, onProgress?: (fraction: number, message: string) => void): RunHandle {
    return this.job({ kind: 'generate', ...request }, onProgress);
  }

  /**
   * A run kept in light form (the restore cache) held by a worker again with its model, which makes
   * each layer again from its input when shown; when that worker is gone, `request` is run again.
   */
  adopt(
    request: RunRequest,
    kept: { readonly trace: Trace; readonly grid?: GridThumbs },
    layer?: number,
    onProgress?: (fraction: number, message: string) => void,
  ): RunHandle {
    const { trace, grid } = kept;
    return this.job(
      { kind: 'adopt', request, trace, ...(layer !== undefined ? { layer } : {}), ...(grid ? { grid } : {}) },
      onProgress,
    );
  }

  private job(
    request: StartRequest,
    onProgress?: (fraction: number, message: string) => void,
    onPartial?: (partial: PartialRun) => void,
  ): RunHandle {
    const handle = this.start(request, onProgress, onPartial);
    return {
      promise: handle.promise.then(({ held, slot }) => this.keep(held, slot, remakeOf(request))),
      cancel: handle.cancel,
    };
  }

  /** The trace the caller gets; a held one is remembered with where its tensors are. */
  private keep(held: HeldTrace, slot: WorkerSlot, request: JobRequest): Trace {
    if (held.held)
      this.holdings.set(held.trace, {
        slot,
        generation: slot.generation,
        id: held.held.id,
        request,
        index: held.trace,
      });
    return held.trace;
  }

  private start(
    request: StartRequest,
    onProgress?: (fraction: number, message: string) => void,
    onPartial?: (partial: PartialRun) => void,
  ): { promise: Promise<{ held: HeldTrace; slot: WorkerSlot }>; cancel(): void } {
    let settled = false;
    let stopped: EngineError | undefined;
    let slot: WorkerSlot | undefined;
    let call: Call<HeldTrace> | undefined;
    const budget = (this.settings().runTimeoutSeconds ?? 0) * 1000;
    const remakeAs = remakeOf(request);
    const stop = (why: EngineError, graceMs: number): void => {
      if (settled || stopped) return;
      stopped = why;
      const s = slot;
      const c = call;
      if (!s || !c || !s.channel.isPending(c.id)) return;
      c.cancel();
      // A stage that is still computing cannot see the abort; stop the thread itself.
      setTimeout(() => {
        if (!settled && s.channel.isPending(c.id)) {
          this.log('warn', `run ${c.id} did not stop within ${graceMs} ms (${why.message}); restarting the worker`);
          s.restart(new EngineError(why.message, RESTARTED));
        }
      }, graceMs).unref?.();
    };
    const attempt = async (tries: number): Promise<{ held: HeldTrace; slot: WorkerSlot }> => {
      const lane = await this.laneFor(remakeAs);
      if (stopped) throw stopped;
      this.lastLane = lane;
      const s = (slot = this.slots[lane]);
      const partial = onPartial
        ? (payload: unknown): void => {
            if (settled || stopped) return;
            const p = payload as PartialTrace;
            // Held under the id the answer will have; the run cannot be made again until it ends.
            this.holdings.set(p.trace, {
              slot: s,
              generation: s.generation,
              id: p.id,
              request: remakeAs,
              index: p.trace,
            });
            onPartial({ trace: p.trace, layersDone: p.layersDone, layers: p.layers });
          }
        : undefined;
      call = s.call(request, onProgress, partial);
      try {
        return { held: await call.promise, slot: s };
      } catch (err) {
        if (stopped) throw stopped;
        const code = (err as EngineError).code;
        // Another run's cancel or watchdog replaced the thread under this one: run it again, once.
        if (code === RESTARTED && tries < 2) return attempt(tries + 1);
        if (code === 'worker-broken') throw slot.crashed((err as Error).message, true);
        throw err;
      }
    };
    const promise = attempt(1);
    void promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    if (budget > 0) {
      const timer = setTimeout(
        () =>
          stop(
            new EngineError(
              `The run was stopped after ${budget / 1000} s (attentionLens.runTimeoutSeconds) and the inference worker restarted. A tokenizer with a pathological pattern, a very long text or a model too big for this machine can take that long; try fewer tokens or raise the limit.`,
              'timeout',
            ),
            0,
          ),
        budget,
      );
      timer.unref?.();
      void promise.finally(() => clearTimeout(timer)).catch(() => {});
    }
    const cancel = (): void => stop(new EngineError('The run was cancelled.', 'cancelled'), this.cancelGraceMs);
    return { promise, cancel };
  }

  /** Whether a worker holds this trace's big tensors (its own arrays of them are empty). */
  holds(trace: Trace): boolean {
    return this.holdings.has(trace);
  }

  /** Tensors of a trace, whole or one head: from its own arrays, or fetched from the worker that holds them. */
  async tensors(trace: Trace, want: readonly TensorRequest[]): Promise<readonly TensorData[]> {
    const h = this.holdings.get(trace);
    if (!h) return want.map((r) => fetchTensor(trace, r));
    const got = await this.ask(h, (id) => h.slot.call({ kind: 'fetch', id, want }).promise);
    if (got.length !== want.length)
      throw new EngineError(`The worker answered ${got.length} of ${want.length} tensors.`);
    return got;
  }

  /** The all-heads grid's pooled thumbnails, pooled where the tensors are. */
  async thumbnails(trace: Trace, max: number): Promise<GridThumbs> {
    const h = this.holdings.get(trace);
    if (!h) return gridThumbnails(trace, max);
    return this.ask(h, (id) => h.slot.call({ kind: 'thumbnails', id, max }).promise);
  }

  /**
   * The trace with every tensor of these stages in hand (fetched whole when held elsewhere), for
   * the host's own readers; the last few such stages are kept per trace.
   */
  async filled(trace: Trace, stageIds: readonly string[]): Promise<Trace> {
    if (!this.holdings.has(trace)) return trace;
    let cache = this.filledStages.get(trace);
    if (!cache) this.filledStages.set(trace, (cache = new Map()));
    for (const id of stageIds) {
      if (cache.has(id)) {
        const s = cache.get(id)!;
        cache.delete(id);
        cache.set(id, s);
        continue;
      }
      const stage = trace.stages.find((s) => s.id === id);
      if (!stage || !stage.tensors.some(isRemote)) continue;
      const remote = stage.tensors.filter(isRemote);
      const got = await this.tensors(
        trace,
        remote.map((t) => ({ stage: id, tensor: t.name })),
      );
      const byName = new Map(remote.map((t, i) => [t.name, got[i]!]));
      cache.set(id, { ...stage, tensors: stage.tensors.map((t) => byName.get(t.name) ?? t) });
      while (cache.size > Math.max(FILLED_PER_TRACE, stageIds.length)) cache.delete(cache.keys().next().value!);
    }
    const filled = cache;
    return { ...trace, stages: trace.stages.map((s) => filled.get(s.id) ?? s) };
  }

  /** The worker may drop this trace's tensors (it was replaced). */
  release(trace: Trace): void {
    const h = this.holdings.get(trace);
    this.holdings.delete(trace);
    this.filledStages.delete(trace);
    if (h && h.slot.started && h.slot.generation === h.generation)
      h.slot.call({ kind: 'release', id: h.id }).promise.catch(() => {});
  }

  /**
   * Asks the worker that holds `h`; when it no longer does (restarted, or the trace was evicted)
   * the run is made again — the same request, so the same numbers — and asked once more.
   */
  private async ask<T>(h: Holding, request: (id: number) => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      if (!h.slot.started || h.slot.generation !== h.generation) await this.remake(h);
      try {
        return await request(h.id);
      } catch (err) {
        const code = (err as EngineError).code;
        if (tries >= 2 || (code !== 'trace-gone' && code !== RESTARTED)) throw err;
        if (code === 'trace-gone') h.generation = -1;
      }
    }
  }

  private remake(h: Holding): Promise<void> {
    h.remaking ??= (async () => {
      try {
        this.log('info', `the worker no longer holds run ${h.id}'s tensors: running it again`);
        const { held, slot } = await this.start(h.request).promise;
        if (!held.held || !sameRun(held.trace, h.index))
          throw new EngineError(
            'The run could not be made again as it was (its model files may have changed): run Visualise attention again.',
          );
        h.slot = slot;
        h.generation = slot.generation;
        h.id = held.held.id;
      } finally {
        h.remaking = undefined;
      }
    })();
    return h.remaking;
  }

  whatIf(request: WhatIfRequest): Promise<WhatIfResult> {
    return this.slots[this.lastLane].call({ kind: 'whatIf', ...request }).promise;
  }

  memory(): Promise<WorkerResponseMap['memory']> {
    return this.slots[this.lastLane].call({ kind: 'memory' }).promise;
  }

  dispose(): void {
    for (const s of Object.values(this.slots))
      s.restart(new EngineError('The engine was shut down.', 'cancelled'), false);
  }
}
