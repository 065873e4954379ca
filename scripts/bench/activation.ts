// Activation time of the real bundle (dist/extension.js): require + activate() with a vscode
// module whose every API call is a no-op, so what is timed is our own start-up work — module
// evaluation, object wiring, registrations — and what activation must not do (start a worker,
// load tfjs). Also run by test/unit/activation.test.ts.
import Module from 'node:module';
import { performance } from 'node:perf_hooks';

/** A value that is every vscode API at once: callable, constructible, any property, disposable. */
function anything(): unknown {
  const target = function () {} as unknown as object;
  const proxy: unknown = new Proxy(target, {
    get: (_t, key) => {
      if (key === 'then') return undefined; // not a promise
      if (key === Symbol.toPrimitive) return () => '';
      if (key === Symbol.iterator) return function* () {};
      if (key === 'asAbsolutePath') return (p: string) => p;
      return proxy;
    },
    set: () => true,
    defineProperty: () => true,
    apply: () => proxy,
    construct: () => proxy as object,
  });
  return proxy;
}

export interface ActivationTiming {
  readonly requireMs: number;
  readonly activateMs: number;
  /** Whether activation started an inference worker (it must not: the first run does). */
  readonly workerStarted: boolean;
  /** Whether activation loaded tfjs into the host (it must not: only the worker does). */
  readonly tfjsLoaded: boolean;
}

// The namespaces and classes the extension touches; each is `anything()`. A bundle copies a
// CommonJS module's own keys, so they must be real keys, not proxy traps.
const NAMES = [
  'window',
  'workspace',
  'commands',
  'languages',
  'extensions',
  'env',
  'Uri',
  'EventEmitter',
  'Disposable',
  'ViewColumn',
  'StatusBarAlignment',
  'ThemeColor',
  'Range',
  'Position',
  'Selection',
  'Hover',
  'MarkdownString',
  'Diagnostic',
  'DiagnosticSeverity',
  'ConfigurationTarget',
  'ProgressLocation',
  'l10n',
];

export function timeActivation(bundle: string): ActivationTiming {
  const fake = Object.fromEntries(NAMES.map((n) => [n, anything()]));
  const load = (Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown })._load;
  (Module as unknown as { _load: typeof load })._load = (request, ...rest) =>
    request === 'vscode' ? fake : load(request, ...rest);
  try {
    const t0 = performance.now();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ext = require(bundle) as { activate(context: unknown): { engine: { started: boolean } } };
    const t1 = performance.now();
    const context = {
      subscriptions: [] as unknown[],
      extensionUri: anything(),
      extensionPath: '/fake',
      // The restore cache's folder: made only when a run is kept, which activation never does.
      globalStorageUri: { scheme: 'file', fsPath: '/fake/global-storage' },
      asAbsolutePath: (p: string) => p,
    };
    const api = ext.activate(context);
    const t2 = performance.now();
    const tfjsLoaded = Object.keys(require.cache).some((k) => /@tensorflow[\\/]tfjs/.test(k));
    return { requireMs: t1 - t0, activateMs: t2 - t1, workerStarted: api.engine.started, tfjsLoaded };
  } finally {
    (Module as unknown as { _load: typeof load })._load = load;
  }
}
