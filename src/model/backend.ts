// Chooses and initialises the tfjs engine once per process (extension worker, CLI, tests, bench).
// The wasm backend is the engine; cpu is the fallback, with a warning the caller logs.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type BackendName = 'wasm' | 'cpu';

export interface BackendStatus {
  readonly name: string;
  readonly warning?: string;
}

let ready: Promise<BackendStatus> | undefined;

/** Where the .wasm files are: beside the bundle in dist/, or in node_modules when run from source. */
export function findWasmDir(startDir: string = __dirname): string | undefined {
  const candidates = [
    startDir,
    path.join(startDir, 'wasm'),
    path.join(startDir, '..', 'dist', 'wasm'),
  ];
  let dir = startDir;
  for (let i = 0; i < 6; i++) {
    candidates.push(path.join(dir, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist'));
    dir = path.dirname(dir);
  }
  return candidates.find((d) => fs.existsSync(path.join(d, 'tfjs-backend-wasm-simd.wasm')));
}

/** Initialise once; later calls return the same promise. */
export function initBackend(preferred: BackendName = 'wasm', wasmDir?: string): Promise<BackendStatus> {
  ready ??= (async (): Promise<BackendStatus> => {
    if (preferred === 'wasm') {
      // An explicit folder wins when it has the binaries (the bundle's dist/wasm); else search.
      const dir = wasmDir && fs.existsSync(path.join(wasmDir, 'tfjs-backend-wasm-simd.wasm')) ? wasmDir : findWasmDir();
      try {
        if (!dir) throw new Error('tfjs-backend-wasm-simd.wasm not found next to the bundle or in node_modules');
        // Node's wasm loader in tfjs takes a file path prefix (trailing separator required).
        setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
        if (await tf.setBackend('wasm')) {
          await tf.ready();
          return { name: 'wasm' };
        }
        throw new Error('tf.setBackend("wasm") returned false');
      } catch (err) {
        await tf.setBackend('cpu');
        await tf.ready();
        return { name: 'cpu', warning: `wasm backend unavailable (${(err as Error).message}); using the slower cpu backend` };
      }
    }
    await tf.setBackend('cpu');
    await tf.ready();
    return { name: 'cpu' };
  })();
  return ready;
}

export { tf };
