// What a failed job means for the worker thread that ran it. A WebAssembly trap or an
// out-of-memory leaves the tfjs wasm heap in an unknown state (after one, every later run failed
// until the window was reloaded), so such errors carry code 'worker-broken' and the host replaces
// the thread. Test-only faults (ATTENTION_LENS_TEST_FAULTS=1) produce the real thing on demand.

/** Messages of errors after which the wasm heap (tfjs's allocator) cannot be trusted. */
const FATAL =
  /memory access out of bounds|out of memory|Cannot enlarge memory|Aborted\(|Maximum memory size exceeded|Array buffer allocation failed/i;

export class WorkerBrokenError extends Error {
  readonly code = 'worker-broken';
}

/** The error to answer with: fatal ones become WorkerBrokenError (the message keeps the cause). */
export function fatalWorkerError(err: unknown): unknown {
  const trap = err instanceof WebAssembly.RuntimeError;
  const message = err instanceof Error ? err.message : String(err);
  if (!trap && !FATAL.test(message)) return err;
  return new WorkerBrokenError(`${trap ? 'a WebAssembly trap' : 'running out of memory'} (${message})`);
}

/** Wraps a handler so a fatal error is answered as WorkerBrokenError. */
export function guarded<A extends unknown[], R>(handler: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await handler(...args);
    } catch (err) {
      throw fatalWorkerError(err);
    }
  };
}

// (module (memory 1) (func (export "f") (result i32) (i32.load (i32.const 65536)))): reads past its one page.
const OUT_OF_BOUNDS = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00,
  0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x0b, 0x01, 0x09, 0x00, 0x41, 0x80,
  0x80, 0x04, 0x28, 0x02, 0x00, 0x0b,
]);

/** Test-only model ids: 'test:trap', 'test:oom', 'test:exit', 'test:hang'. Anything else: no-op. */
export function testFault(modelId: string): void {
  if (process.env['ATTENTION_LENS_TEST_FAULTS'] !== '1' || !modelId.startsWith('test:')) return;
  switch (modelId) {
    case 'test:trap': {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(OUT_OF_BOUNDS));
      (instance.exports['f'] as () => number)();
      return;
    }
    case 'test:oom': {
      // Grows the JS heap until the worker's resourceLimits stop it (ERR_WORKER_OUT_OF_MEMORY).
      const hoard: number[][] = [];
      for (;;) hoard.push(Array.from({ length: 1 << 16 }, (_, i) => i + hoard.length));
    }
    case 'test:exit':
      process.exit(7);
      return;
    case 'test:hang':
      for (;;) {
        /* a catastrophic regex does the same: never yields */
      }
  }
}
