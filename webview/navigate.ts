// Every cursor move and every new trace goes through here: the tensors the new view draws are
// loaded first (webview/tensors.ts), then the store changes once, so parts draw synchronously
// from data that is there. A later move wins over an earlier one still loading.
import type { Cursor, PanelSettings } from '../shared/protocol';
import type { Trace } from '../shared/trace';
import type { Origin, Store, StreamState } from './store';
import type { TensorLoader } from './tensors';

/** A streamed run's partial trace, or the finished trace that completes one. */
export interface StreamOf {
  readonly stream?: StreamState;
  readonly continues?: number;
}

export interface Navigator {
  /** Moves the cursor once what it shows is loaded. */
  go(cursor: Cursor, from: Origin): void;
  /** Shows a new trace at `cursor` once what that view needs is loaded; resolves when it is on screen. */
  show(trace: Trace, cursor: Cursor, settings?: PanelSettings, run?: StreamOf): Promise<boolean>;
}

/** A load slower than this says so in the banner. */
const SLOW_MS = 150;

export function navigator(store: Store, loader: TensorLoader): Navigator {
  let latest = 0;
  /** Runs `apply` after `loading` (now, if nothing loads), unless a later move started meanwhile. */
  const after = (
    loading: Promise<void> | undefined,
    what: string,
    apply: () => void,
    failed?: () => void,
  ): Promise<boolean> => {
    const mine = ++latest;
    if (!loading) {
      apply();
      return Promise.resolve(true);
    }
    const slow = setTimeout(() => {
      if (mine === latest) store.dispatch({ type: 'banner', banner: { kind: 'busy', text: `Loading ${what}…` } });
    }, SLOW_MS);
    return loading.then(
      () => {
        clearTimeout(slow);
        if (mine !== latest) return false;
        apply();
        return true;
      },
      (err: unknown) => {
        clearTimeout(slow);
        if (mine !== latest) return false;
        failed?.();
        store.dispatch({
          type: 'banner',
          banner: {
            kind: 'error',
            text: `Could not load ${what}: ${err instanceof Error ? err.message : String(err)}`,
          },
        });
        return false;
      },
    );
  };
  const what = (trace: Trace, c: Cursor): string => {
    if (c.view === 'grid') return 'the all-heads grid';
    const s = trace.stages[c.stage];
    return s ? `“${s.title}”${c.head >= 0 ? ` (head ${c.head})` : ''}` : 'the stage';
  };
  return {
    go: (cursor, from) => {
      const trace = store.state.trace;
      if (!trace) return;
      const lineage = store.state.lineage;
      void after(loader.ensure(trace, cursor), what(trace, cursor), () => {
        // The same trace, or the same streamed run grown by a layer meanwhile (the stages shown are carried over).
        const now = store.state;
        if (now.trace !== trace && (lineage === undefined || now.lineage !== lineage)) return;
        store.dispatch({ type: 'cursor', cursor, from });
        if (store.state.trace) loader.prefetch(store.state.trace, cursor);
      });
    },
    show: (trace, cursor, settings, run) => {
      const apply = (c: Cursor): void =>
        void store.dispatch({
          type: 'trace',
          trace,
          cursor: c,
          ...(settings ? { settings } : {}),
          ...(run?.stream ? { stream: run.stream } : {}),
          ...(run?.continues !== undefined ? { continues: run.continues } : {}),
        });
      // If the view it was on cannot load, the new run still shows, at its tokens.
      return after(
        loader.ensure(trace, cursor),
        what(trace, cursor),
        () => {
          apply(cursor);
          loader.prefetch(trace, cursor);
        },
        () => apply({ stage: 0, head: 0, view: 'heatmap' }),
      );
    },
  };
}
