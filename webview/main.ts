// The attention panel's UI: wiring only. One store; the host's messages and the panel's controls
// dispatch to it; the panel's parts render from it; cursor moves made here go to the host once.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import { traceFromJson } from '../shared/codec';
import { assertNever, DEFAULT_CURSOR, type Cursor, type HostMessage, type PersistedState, type WebviewMessage } from '../shared/protocol';
import type { Trace } from '../shared/trace';
import { exportAs } from './components/exportBar';
import { mountPanel } from './components/panel';
import type { PanelContext } from './components/part';
import { persistence } from './persist';
import { Rpc } from './rpc';
import { Store } from './store';

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
  ? { postMessage: () => {}, getState: () => ({ trace: standalone.trace, cursor: standalone.cursor }), setState: () => {} }
  : acquireVsCodeApi();
const app = document.getElementById('app')!;
const rpc = new Rpc((m) => vscode.postMessage(m));

/** The restored trace, if the state holds a readable one (a reload, or the standalone page). */
function restore(state: PersistedState | undefined): { trace?: Trace; cursor: Cursor } {
  if (!state?.trace) return { cursor: DEFAULT_CURSOR };
  try {
    return { trace: traceFromJson(state.trace), cursor: state.cursor ?? DEFAULT_CURSOR };
  } catch {
    return { cursor: DEFAULT_CURSOR };
  }
}

const started = performance.now();
const restoredState = vscode.getState();
const store = new Store(restore(restoredState));
const persist = persistence(store, vscode, restoredState?.trace);

const ctx: PanelContext = {
  store,
  standalone: standalone !== undefined,
  request: (r) => rpc.request(r),
  exportAs: (format) => void exportAs(ctx, app, format),
  width: () => app.clientWidth,
  theme: () => {
    const cs = getComputedStyle(document.body);
    return { foreground: cs.getPropertyValue('--vscode-editor-foreground').trim() || cs.color, font: cs.getPropertyValue('--vscode-editor-font-family').trim() || 'monospace' };
  },
  builds: new Map(),
};
const panel = mountPanel(app, ctx);

// The host hears of cursor moves made here; its own (commands, hover links) are not sent back.
store.subscribe((next, _prev, action) => {
  if (action.type === 'cursor' && action.from === 'panel') vscode.postMessage({ type: 'cursor', cursor: next.cursor });
});

/** Trace received → first view painted (drawing is synchronous in dispatch); for the log and the bench. */
function reportFirstPaint(since: number): void {
  const ms = performance.now() - since;
  window.attentionLensFirstPaintMs = ms;
  if (!standalone) vscode.postMessage({ type: 'log', level: 'info', message: `trace shown in ${ms.toFixed(1)} ms` });
}

window.addEventListener('message', (e: MessageEvent<HostMessage>) => {
  const msg = e.data;
  switch (msg.type) {
    case 'trace': {
      const received = performance.now();
      store.dispatch({ type: 'trace', trace: msg.trace, cursor: msg.cursor, settings: msg.settings });
      reportFirstPaint(received);
      persist.traceShown(msg.trace);
      return;
    }
    case 'cursor':
      store.dispatch({ type: 'cursor', cursor: msg.cursor, from: 'host' });
      return;
    case 'settings':
      store.dispatch({ type: 'settings', settings: msg.settings });
      return;
    case 'busy':
    case 'error':
      store.dispatch({ type: 'banner', banner: { text: msg.message, kind: msg.type } });
      return;
    case 'export':
      ctx.exportAs(msg.format);
      return;
    case 'response':
      rpc.settle(msg.id, msg.ok, msg.ok ? msg.result : msg.error);
      return;
    default:
      assertNever(msg);
  }
});

if (store.state.trace) reportFirstPaint(started);
// A resize re-lays out the canvases (once per frame), it does not rebuild the DOM.
let resizing = false;
window.addEventListener('resize', () => {
  if (resizing) return;
  resizing = true;
  requestAnimationFrame(() => {
    resizing = false;
    panel.resize();
  });
});
if (!standalone) vscode.postMessage({ type: 'ready' });
