// The panel's side of the host connection: host messages become store actions (a new trace or a
// host's cursor through the navigator, which loads what the view draws first), and cursor moves
// made in the panel go to the host once (the host does not echo them, and a host cursor equal to
// the one shown changes nothing, so neither side renders twice).
import { assertNever, type ExportFormat, type HostMessage, type RunRef, type WebviewMessage } from '../shared/protocol';
import type { Trace } from '../shared/trace';
import type { Navigator } from './navigate';
import type { Store } from './store';

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
        void nav.show(msg.trace, msg.cursor, msg.settings).then((shown) => {
          if (shown || store.state.trace === msg.trace) link.traceShown?.(msg.trace, received, msg.run);
        });
        return;
      }
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
