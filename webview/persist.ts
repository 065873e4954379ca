// What a reload restores: how to make the run again (the host re-runs it) and the cursor, saved
// on every move. No tensors: saving is as cheap at 2,000 tokens as at 20.
import type { PersistedState, RunRef } from '../shared/protocol';
import type { Store } from './store';

export interface Persistence {
  /** A new run is on screen; `run` says how to make it again (undefined: it cannot be). */
  traceShown(run: RunRef | undefined): void;
}

export function persistence(store: Store, api: { setState(s: PersistedState): void }, restored?: RunRef): Persistence {
  let run = restored;
  const save = (): void => api.setState({ ...(run ? { run } : {}), cursor: store.state.cursor });
  store.subscribe((next, prev) => {
    if (next.cursor !== prev.cursor) save();
  });
  return {
    traceShown: (r) => {
      run = r;
      save();
    },
  };
}
