// The attention panel's UI: wiring only. One store; the host's messages and the panel's controls
// dispatch to it; the panel's parts render from it; cursor moves made here go to the host once.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import { traceFromJson } from '../shared/codec';
import {
  DEFAULT_CURSOR,
  type Cursor,
  type HostMessage,
  type PersistedState,
  type WebviewMessage,
} from '../shared/protocol';
import type { Trace } from '../shared/trace';
import { exportAs } from './components/exportBar';
import { mountPanel } from './components/panel';
import { connectHost } from './host';
import type { PanelContext } from './components/part';
import { persistence } from './persist';
import { Rpc } from './rpc';
import { Store } from './store';
import { navigator } from './navigate';
import { embeddedOnly, TensorLoader, type TensorSource } from './tensors';

interface VsCodeApi {
  postMessage(msg: WebviewMessage): void;
  getState(): PersistedState | undefined;
  setState(s: PersistedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
declare global {
  interface Window {
    /** Set by the standalone HTML export: the trace to show, with no host to talk to. */
    ATTENTION_LENS_STANDALONE?: { trace: unknown; cursor: Cursor };
    /** Trace received → its first view painted, in ms (the bench reads it). */
    attentionLensFirstPaintMs?: number;
  }
}

const standalone = window.ATTENTION_LENS_STANDALONE;
const vscode: VsCodeApi = standalone
  ? {
      postMessage: () => {},
      getState: () => ({ trace: standalone.trace, cursor: standalone.cursor }),
      setState: () => {},
    }
  : acquireVsCodeApi();
const app = document.getElementById('app')!;
const rpc = new Rpc((m) => vscode.postMessage(m));

/** The trace a standalone page embeds (a reload in VS Code gets its run again from the host). */
function restore(state: PersistedState | undefined): { trace?: Trace; cursor: Cursor } {
  if (!state?.trace) return { cursor: state?.cursor ?? DEFAULT_CURSOR };
  try {
    return { trace: traceFromJson(state.trace), cursor: state.cursor ?? DEFAULT_CURSOR };
  } catch {
    return { cursor: DEFAULT_CURSOR };
  }
}

const started = performance.now();
const restoredState = vscode.getState();
const store = new Store(restore(restoredState));
const persist = persistence(store, vscode, restoredState?.run);
/** The host's key of the trace shown: a fetch for a trace since replaced fails instead of answering wrong. */
let traceKey = -1;
const fromHostSource: TensorSource = {
  tensors: (want) => rpc.request({ kind: 'tensors', key: traceKey, want }),
  thumbnails: (max) => rpc.request({ kind: 'thumbnails', key: traceKey, max }),
};
const loader = new TensorLoader(standalone ? embeddedOnly() : fromHostSource);
const nav = navigator(store, loader);

const ctx: PanelContext = {
  store,
  navigate: (cursor) => nav.go(cursor, 'panel'),
  tensors: loader,
  standalone: standalone !== undefined,
  request: (r, options) => rpc.request(r, options),
  exportAs: (format) => void exportAs(ctx, app, format),
  width: () => app.clientWidth,
  theme: () => {
    const cs = getComputedStyle(document.body);
    return {
      foreground: cs.getPropertyValue('--vscode-editor-foreground').trim() || cs.color,
      font: cs.getPropertyValue('--vscode-editor-font-family').trim() || 'monospace',
    };
  },
  builds: new Map(),
};
const panel = mountPanel(app, ctx);

/** Trace received → first view painted (drawing is synchronous in dispatch); for the log and the bench. */
function reportFirstPaint(since: number): void {
  const ms = performance.now() - since;
  window.attentionLensFirstPaintMs = ms;
  if (!standalone) vscode.postMessage({ type: 'log', level: 'info', message: `trace shown in ${ms.toFixed(1)} ms` });
}

const fromHost = connectHost(store, nav, {
  post: (m) => vscode.postMessage(m),
  settle: (m) => void rpc.receive(m),
  exportAs: ctx.exportAs,
  traceKey: (key) => (traceKey = key),
  traceShown: (_trace, receivedAt, run) => {
    reportFirstPaint(receivedAt);
    persist.traceShown(run);
  },
});
window.addEventListener('message', (e: MessageEvent<HostMessage>) => fromHost(e.data));

if (store.state.trace) reportFirstPaint(started);
/** fn at most once per animation frame, however often it is asked for. */
function perFrame(fn: () => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}
// A resize re-lays out the canvases; it does not rebuild the DOM.
const relayout = perFrame(() => panel.resize());
window.addEventListener('resize', relayout);
// A theme switch changes the body's class and the page's --vscode-* variables: redraw the canvases,
// whose labels are painted in the theme's foreground.
const themeWatch = new MutationObserver(relayout);
themeWatch.observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind'] });
themeWatch.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
if (!standalone) vscode.postMessage({ type: 'ready' });
