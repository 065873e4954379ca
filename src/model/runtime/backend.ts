// Chooses and initialises the tfjs engine once per process (extension worker, CLI, tests, bench).
// The wasm backend is the engine, multi-threaded when it can be (XNNPACK's thread pool over
// emscripten pthreads, i.e. Node worker_threads); single-threaded wasm next; cpu last, with a
// warning the caller logs.
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { installWasmKernels } from './wasmKernels';

export type BackendName = 'wasm' | 'cpu';

export interface BackendStatus {
  readonly name: string;
  /** Threads XNNPACK computes with (1 = single-threaded wasm or cpu). */
  readonly threads: number;
  readonly warning?: string;
}

export interface BackendOptions {
  /** Folder holding the .wasm binaries (the bundle's dist/wasm); searched for when absent. */
  readonly wasmDir?: string;
  /** Threads for the wasm backend; default ATTENTION_LENS_THREADS, else the machine's cores (at most 4). */
  readonly threads?: number;
}

let ready: Promise<BackendStatus> | undefined;
let threadsInUse = 1;

/** What a trace records as its backend, e.g. "wasm, 2 threads". */
export function backendLabel(): string {
  const name = tf.getBackend();
  return name === 'wasm' && threadsInUse > 1 ? `wasm, ${threadsInUse} threads` : name;
}

const WASM_SIMD = 'tfjs-backend-wasm-simd.wasm';
const THREADED_FACTORY = 'tfjs-backend-wasm-threaded-simd.js';
const THREADED_WORKER = 'tfjs-backend-wasm-threaded-simd.worker.js';
const PTHREAD_WORKER = 'pthreadWorker.cjs';

/** Where the .wasm files are: beside the bundle in dist/, or in node_modules when run from source. */
export function findWasmDir(startDir: string = __dirname): string | undefined {
  const candidates = [startDir, path.join(startDir, 'wasm'), path.join(startDir, '..', 'dist', 'wasm')];
  let dir = startDir;
  for (let i = 0; i < 6; i++) {
    candidates.push(path.join(dir, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist'));
    dir = path.dirname(dir);
  }
  return candidates.find((d) => fs.existsSync(path.join(d, WASM_SIMD)));
}

interface ThreadFiles {
  readonly factoryPath: string;
  readonly workerModulePath: string;
  readonly pthreadWorker: string;
}

/** The threaded build's scripts: copied into dist/wasm by the build, or in the package's wasm-out. */
export function findThreadFiles(wasmDir: string): ThreadFiles | undefined {
  const dirs = [wasmDir, path.join(wasmDir, '..', 'wasm-out')];
  const scriptDirs = [wasmDir, path.join(__dirname, 'wasm')];
  const dir = dirs.find(
    (d) => fs.existsSync(path.join(d, THREADED_FACTORY)) && fs.existsSync(path.join(d, THREADED_WORKER)),
  );
  const scriptDir = scriptDirs.find((d) => fs.existsSync(path.join(d, PTHREAD_WORKER)));
  if (!dir || !scriptDir) return undefined;
  return {
    factoryPath: path.join(dir, THREADED_FACTORY),
    workerModulePath: path.join(dir, THREADED_WORKER),
    pthreadWorker: path.join(scriptDir, PTHREAD_WORKER),
  };
}

export function defaultThreads(): number {
  const fromEnv = Number(process.env.ATTENTION_LENS_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return Math.min(fromEnv, 8);
  return Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length));
}

type WorkerCtor = new (file: string | URL, options?: object) => { unref(): void };
let workerPatched = false;

/**
 * Emscripten starts each pthread with `new Worker(blobUrl)`, which Node refuses; start our
 * pthread script instead. Pool threads are unref'd and stay so: they must not keep a CLI or
 * test process alive once its own work is done.
 */
function patchWorkerThreads(files: ThreadFiles): void {
  if (workerPatched) return;
  const wt = createRequire(__filename)('node:worker_threads') as { Worker: WorkerCtor };
  const Original = wt.Worker;
  wt.Worker = class PthreadWorker extends Original {
    constructor(file: string | URL, options?: object) {
      const blob = typeof file === 'string' && file.startsWith('blob:');
      super(
        blob ? files.pthreadWorker : file,
        blob
          ? { ...options, workerData: { factoryPath: files.factoryPath, workerModulePath: files.workerModulePath } }
          : options,
      );
      if (blob) this.unref();
    }
    ref(): void {
      /* see above */
    }
  } as unknown as WorkerCtor;
  workerPatched = true;
}

/**
 * XNNPACK sizes its pool from the logical core count halved (it assumes hyper-threading);
 * report twice the wanted count while the module starts so the pool gets `threads` threads.
 */
async function withCoreCount<T>(threads: number, fn: () => Promise<T>): Promise<T> {
  const osModule = createRequire(__filename)('node:os') as { cpus: typeof os.cpus };
  const cpus = osModule.cpus;
  osModule.cpus = () => {
    const real = cpus();
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]!);
  };
  try {
    return await fn();
  } finally {
    osModule.cpus = cpus;
  }
}

async function startWasm(dir: string, threads: number): Promise<BackendStatus> {
  setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
  const files = threads > 1 ? findThreadFiles(dir) : undefined;
  let warning: string | undefined;
  if (files) {
    patchWorkerThreads(files);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    setThreadsCount(threads);
    try {
      if (await withCoreCount(threads, () => tf.setBackend('wasm'))) {
        await tf.ready();
        return { name: 'wasm', threads: getThreadsCount() };
      }
      warning = 'multi-threaded wasm did not start';
    } catch (err) {
      warning = `multi-threaded wasm did not start (${(err as Error).message})`;
    }
  } else if (threads > 1) {
    warning = `the threaded wasm scripts (${THREADED_FACTORY}, ${PTHREAD_WORKER}) were not found`;
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
  await tf.ready();
  return { name: 'wasm', threads: 1, warning: warning && `${warning}; using one thread` };
}

/** Initialise once; later calls return the same promise. */
export function initBackend(
  preferred: BackendName = 'wasm',
  options: BackendOptions | string = {},
): Promise<BackendStatus> {
  const opts: BackendOptions = typeof options === 'string' ? { wasmDir: options } : options;
  ready ??= (async (): Promise<BackendStatus> => {
    if (preferred === 'wasm') {
      // An explicit folder wins when it has the binaries (the bundle's dist/wasm); else search.
      const dir = opts.wasmDir && fs.existsSync(path.join(opts.wasmDir, WASM_SIMD)) ? opts.wasmDir : findWasmDir();
      try {
        if (!dir) throw new Error(`${WASM_SIMD} not found next to the bundle or in node_modules`);
        const status = await startWasm(dir, opts.threads ?? defaultThreads());
        installWasmKernels();
        threadsInUse = status.threads;
        return status;
      } catch (err) {
        await tf.setBackend('cpu');
        await tf.ready();
        return {
          name: 'cpu',
          threads: 1,
          warning: `wasm backend unavailable (${(err as Error).message}); using the slower cpu backend`,
        };
      }
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return { name: 'cpu', threads: 1 };
  })();
  return ready;
}

export { tf };
