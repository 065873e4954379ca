// What a reload restores: the trace (in its JSON form, encoded once per trace, after it is on
// screen) and the cursor (saved on every move).
import { traceToJson } from '../shared/codec';
import type { PersistedState } from '../shared/protocol';
import type { Trace } from '../shared/trace';
import type { Store } from './store';

export interface Persistence {
  /** Encodes the trace for setState once the trace is on screen. */
  traceShown(trace: Trace): void;
}

export function persistence(store: Store, api: { setState(s: PersistedState): void }, restored: unknown): Persistence {
  let json: unknown = restored;
  const save = (): void => api.setState({ trace: json, cursor: store.state.cursor });
  store.subscribe((next, prev) => {
    if (next.trace !== prev.trace) json = undefined;
    if (next.trace !== prev.trace || next.cursor !== prev.cursor) save();
  });
  return {
    traceShown: (trace) =>
      setTimeout(() => {
        if (store.state.trace !== trace) return;
        json = traceToJson(trace);
        save();
      }, 0),
  };
}
