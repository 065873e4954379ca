// The panel's side of the host connection: host messages become store actions (a new trace or a
// host's cursor through the navigator, which loads what the view draws first), and cursor moves
// made in the panel go to the host once (the host does not echo them, and a host cursor equal to
// the one shown changes nothing, so neither side renders twice).
import { assertNever, type ExportFormat, type HostMessage, type RunRef, type WebviewMessage } from '../shared/protocol';
import type { Trace } from '../shared/trace';
import type { Navigator } from './navigate';
import { sameCursor, type Store } from './store';
import { carryStages } from '../shared/lazy';

export interface HostLink {
  readonly post: (msg: WebviewMessage) => void;
  /** Feeds a response to the pending request it answers. */
  readonly settle: (msg: HostMessage & { type: 'response' }) => void;
  readonly exportAs: (format: ExportFormat) => void;
  /** The host's key of the trace shown: fetches name it. */
  readonly traceKey: (key: number) => void;
  /** Called after a trace from the host is on screen. */
  readonly traceShown?: (trace: Trace, receivedAt: number, run: RunRef | undefined) => void;
}

/** Connects the store to the host; returns the handler for the host's messages. */
export function connectHost(store: Store, nav: Navigator, link: HostLink): (msg: HostMessage) => void {
  store.subscribe((next, _prev, action) => {
    if (action.type === 'cursor' && action.from === 'panel') link.post({ type: 'cursor', cursor: next.cursor });
  });
  return (msg) => {
    switch (msg.type) {
      case 'trace': {
        const received = performance.now();
        link.traceKey(msg.key);
        const cur = store.state;
        if (msg.continues !== undefined && cur.stream?.key === msg.continues && cur.trace) {
          // The streamed run finished: its stages are the ones shown, and the user stays where they are.
          const trace = carryStages(cur.trace, msg.trace);
          const cursor = cur.cursor.stage < trace.stages.length ? cur.cursor : msg.cursor;
          store.dispatch({ type: 'trace', trace, cursor, settings: msg.settings, continues: msg.continues });
          if (!sameCursor(cursor, msg.cursor)) link.post({ type: 'cursor', cursor });
          link.traceShown?.(trace, received, msg.run);
          return;
        }
        void nav.show(msg.trace, msg.cursor, msg.settings).then((shown) => {
          if (shown || store.state.trace === msg.trace) link.traceShown?.(msg.trace, received, msg.run);
        });
        return;
      }
      case 'trace-partial': {
        const cur = store.state;
        link.traceKey(msg.key);
        const stream = { key: msg.key, layersDone: msg.layersDone, layers: msg.layers };
        if (cur.stream?.key === msg.key && cur.trace) {
          // One more layer of the run shown: the stages shown are carried over, so it draws at once where the user is.
          store.dispatch({ type: 'trace', trace: carryStages(cur.trace, msg.trace), cursor: cur.cursor, stream });
          return;
        }
        void nav.show(msg.trace, msg.cursor, msg.settings, { stream });
        return;
      }
      case 'partial-ended':
        store.dispatch({ type: 'streamEnded', key: msg.key, outcome: msg.outcome, message: msg.message });
        return;
      case 'cursor':
        nav.go(msg.cursor, 'host');
        return;
      case 'settings':
        store.dispatch({ type: 'settings', settings: msg.settings });
        return;
      case 'busy':
      case 'error':
        store.dispatch({ type: 'banner', banner: { text: msg.message, kind: msg.type } });
        return;
      case 'export':
        link.exportAs(msg.format);
        return;
      case 'modelInfo':
        store.dispatch({ type: 'modelInfo', open: true });
        return;
      case 'response':
        link.settle(msg);
        return;
      default:
        assertNever(msg);
    }
  };
}
