// The panel's one store. State changes only by dispatching an action (from a control, the host
// or a response); the reducer is pure and returns the same object when nothing changed, so an
// action that changes nothing (the host sending back the cursor the panel already shows)
// notifies nobody and renders nothing.
import type { Normaliser, ScoreFunction, Stage, Trace } from '../shared/trace';
import {
  DEFAULT_CURSOR,
  type Cursor,
  type LocalWindow,
  type PanelSettings,
  type WhatIfResult,
} from '../shared/protocol';
import type { View } from '../shared/viewport';

/** A what-if recomputation of one attention block, with the choices it was made with. */
export interface WhatIf {
  /** The block's id (its weights stage), see blockOf. */
  readonly blockId: string;
  readonly score: ScoreFunction;
  readonly normaliser: Normaliser;
  /** Luong's local window, if one was chosen. */
  readonly local?: LocalWindow;
  /** The seed of a 'sampled' what-if. */
  readonly seed?: number;
  readonly result: WhatIfResult;
}

/** What the attention heatmaps and the grid are coloured by: the weights α, or the value-weighted norms ‖αᵢⱼ vⱼ W_O^h‖. */
export type ColourBy = 'weights' | 'value_norms';

export interface Banner {
  readonly text: string;
  readonly kind: 'busy' | 'error';
}

/** A streamed run's partial trace: its first `layersDone` of `layers` layers; `ended` when it will not finish. */
export interface StreamState {
  /** The host's key of the partial trace. */
  readonly key: number;
  readonly layersDone: number;
  readonly layers: number;
  readonly ended?: { readonly outcome: 'failed' | 'cancelled'; readonly message: string };
}

/**
 * The trace and the cursor are what the panel shows; the settings come from the host; what-if
 * results and the banner are answers to the user's last request, cleared by a new trace.
 */
export interface PanelState {
  readonly trace?: Trace;
  readonly cursor: Cursor;
  readonly settings: PanelSettings;
  readonly whatIf?: WhatIf;
  readonly whatIfError?: string;
  readonly banner?: Banner;
  /** Kept across runs; 'weights' when unset. Applies where a block has value-weighted norms. */
  readonly colourBy?: ColourBy;
  /** The model info section is open (the header's button or the "Show model info" command); kept across runs. */
  readonly modelInfo?: boolean;
  /**
   * Each heatmap's zoom window, by zoomKey (stage, tensor and head) and by zoomKey with head '*'
   * (the stage's last window, which a head seen for the first time starts from). A new trace clears them.
   */
  readonly zoom?: Readonly<Record<string, View | undefined>>;
  /** The trace shown is a streamed run's so far, not a finished run. */
  readonly stream?: StreamState;
  /** The streamed run's key, kept by its finished trace: a move started on a partial trace lands on its successor. */
  readonly lineage?: number;
}

/** Where a cursor change came from: the panel's own controls are reported to the host, the host's are not sent back. */
export type Origin = 'panel' | 'host';

export type Action =
  | {
      readonly type: 'trace';
      readonly trace: Trace | undefined;
      readonly cursor: Cursor;
      readonly settings?: PanelSettings;
      /** A streamed run's partial trace (the same run's next one keeps the zoom windows and the banner). */
      readonly stream?: StreamState;
      /** The key of the streamed run this finished trace completes. */
      readonly continues?: number;
    }
  /** The streamed run shown will not finish. */
  | {
      readonly type: 'streamEnded';
      readonly key: number;
      readonly outcome: 'failed' | 'cancelled';
      readonly message: string;
    }
  | { readonly type: 'cursor'; readonly cursor: Cursor; readonly from: Origin }
  | { readonly type: 'settings'; readonly settings: PanelSettings }
  | { readonly type: 'banner'; readonly banner: Banner | undefined }
  | { readonly type: 'whatIf'; readonly whatIf: WhatIf }
  | { readonly type: 'whatIfError'; readonly error: string }
  | { readonly type: 'colourBy'; readonly by: ColourBy }
  | { readonly type: 'modelInfo'; readonly open: boolean }
  /** A heatmap's window moved (undefined: back to the whole matrix). */
  | { readonly type: 'zoom'; readonly key: ZoomKey; readonly view: View | undefined };

/** Which heatmap a zoom window belongs to. */
export interface ZoomKey {
  readonly stage: string;
  readonly tensor: string;
  readonly head: number;
}

const zoomId = (k: ZoomKey, head: number | '*' = k.head): string => `${k.stage}\u0000${k.tensor}\u0000${head}`;

/** The window kept for a heatmap: its own head's, else the last one of its stage and tensor (a head switch keeps the window). */
export function zoomOf(s: PanelState, k: ZoomKey): View | undefined {
  const z = s.zoom;
  if (!z) return undefined;
  const own = zoomId(k);
  return own in z ? z[own] : z[zoomId(k, '*')];
}

export const DEFAULT_SETTINGS: PanelSettings = {
  colourMap: 'viridis',
  topK: 5,
  score: 'scaled-dot',
  normaliser: 'softmax',
};

export function sameCursor(a: Cursor, b: Cursor): boolean {
  return a.stage === b.stage && a.head === b.head && a.view === b.view && a.row === b.row;
}

export function sameSettings(a: PanelSettings, b: PanelSettings): boolean {
  return (
    a.colourMap === b.colourMap &&
    a.topK === b.topK &&
    a.score === b.score &&
    a.normaliser === b.normaliser &&
    JSON.stringify(a.generate) === JSON.stringify(b.generate)
  );
}

export function reduce(s: PanelState, a: Action): PanelState {
  switch (a.type) {
    case 'trace': {
      // The same streamed run, one more layer (or finished): what the user set on it stays.
      const sameRun = s.stream !== undefined && (a.stream?.key ?? a.continues) === s.stream.key;
      return {
        trace: a.trace,
        cursor: a.cursor,
        settings: a.settings ?? s.settings,
        ...(s.colourBy ? { colourBy: s.colourBy } : {}),
        ...(s.modelInfo ? { modelInfo: true } : {}),
        ...(sameRun && s.zoom ? { zoom: s.zoom } : {}),
        ...(sameRun && s.banner ? { banner: s.banner } : {}),
        ...(a.stream ? { stream: a.stream } : {}),
        ...((a.stream?.key ?? a.continues) !== undefined ? { lineage: a.stream?.key ?? a.continues } : {}),
      };
    }
    case 'streamEnded':
      return s.stream?.key === a.key
        ? { ...s, stream: { ...s.stream, ended: { outcome: a.outcome, message: a.message } } }
        : s;
    case 'cursor':
      // A cursor move ends what the last banner said (it belonged to the view that was shown).
      return sameCursor(s.cursor, a.cursor) ? s : { ...s, cursor: a.cursor, banner: undefined };
    case 'settings':
      return sameSettings(s.settings, a.settings) ? s : { ...s, settings: a.settings };
    case 'banner':
      return s.banner === a.banner ||
        (s.banner && a.banner && s.banner.text === a.banner.text && s.banner.kind === a.banner.kind)
        ? s
        : { ...s, banner: a.banner };
    case 'whatIf':
      return { ...s, whatIf: a.whatIf, whatIfError: undefined };
    case 'whatIfError':
      return { ...s, whatIfError: a.error };
    case 'modelInfo':
      return (s.modelInfo ?? false) === a.open ? s : { ...s, modelInfo: a.open };
    case 'colourBy':
      return (s.colourBy ?? 'weights') === a.by ? s : { ...s, colourBy: a.by };
    case 'zoom': {
      const own = zoomId(a.key);
      const last = zoomId(a.key, '*');
      const z = s.zoom ?? {};
      if (own in z && z[own] === a.view && z[last] === a.view) return s;
      return { ...s, zoom: { ...z, [own]: a.view, [last]: a.view } };
    }
  }
}

export type Listener = (next: PanelState, prev: PanelState, action: Action) => void;

export class Store {
  private current: PanelState;
  private readonly listeners: Listener[] = [];

  constructor(initial: Partial<PanelState> = {}) {
    this.current = { cursor: DEFAULT_CURSOR, settings: DEFAULT_SETTINGS, ...initial };
  }

  get state(): PanelState {
    return this.current;
  }

  /** Applies the action; listeners run once, and only if the state changed. Returns whether it did. */
  dispatch(action: Action): boolean {
    const prev = this.current;
    const next = reduce(prev, action);
    if (next === prev) return false;
    this.current = next;
    for (const l of [...this.listeners]) l(next, prev, action);
    return true;
  }

  subscribe(l: Listener): () => void {
    this.listeners.push(l);
    return () => {
      const i = this.listeners.indexOf(l);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
}

/** The stage the cursor points at (clamped to the trace). */
export function currentStage(s: PanelState): Stage | undefined {
  const t = s.trace;
  return t && t.stages.length > 0 ? t.stages[Math.max(0, Math.min(s.cursor.stage, t.stages.length - 1))] : undefined;
}
