// The worker's store of big traces. A run whose trace has tensors too big to travel with it is
// kept here; the host gets its index (shared/lazy.ts) and fetches tensors by the id. Traces are
// evicted least recently used beyond a byte budget (the newest always stays); a fetch for an
// evicted id is answered 'trace-gone', and the host makes the run again.
import { fetchTensor, INLINE_BYTES, isRemote, LayerCache, traceIndex, type TensorRequest } from '../../shared/lazy';
import { GRID_THUMB, GridPool, gridThumbnails, type GridThumbs } from '../../shared/derived';
import type { Stage, TensorData, Trace } from '../../shared/trace';
import type { HeldTrace } from '../../shared/workerProtocol';

export class TraceGoneError extends Error {
  readonly code = 'trace-gone';
}

/** A light-mode trace's way back to its layers (the model, leased while the store holds the trace). */
export interface Recompute {
  readonly recompute: (trace: Trace, layer: number) => Stage[];
  readonly release: () => void;
}

interface Entry {
  readonly trace: Trace;
  readonly bytes: number;
  readonly light?: Recompute;
  /** A light trace's recomputed layers. */
  readonly layers?: LayerCache;
  /** Pooled once, by the first grid that asks at this size (not while the run still grows). */
  thumbs?: { readonly max: number; readonly grid: GridThumbs };
  /** A streamed run's grid rows, pooled as its layers were made. */
  readonly pool?: GridPool;
  /** A streamed run still going: its stages so far, never evicted until it ends. */
  readonly growing?: boolean;
}

export class TraceStore {
  /** Insertion order is recency: a fetch moves its trace to the end. */
  private readonly traces = new Map<number, Entry>();
  /** Ids differ between threads too, so one thread's id never names another's trace. */
  private nextId = 1 + Math.floor(Math.random() * 2 ** 40);

  constructor(private readonly inlineBytes = INLINE_BYTES) {}

  /**
   * The answer to a run: the trace whole when every tensor is small; else its index, whose small
   * tensors are copies (the answer's buffers are transferred, and the held trace keeps its own).
   */
  admit(trace: Trace, budgetBytes: number, light?: Recompute): HeldTrace {
    const index = traceIndex(trace, this.inlineBytes);
    if (index === trace && !light) return { trace };
    return this.hold(this.nextId++, trace, index, budgetBytes, light);
  }

  /**
   * A streamed run starts: the id its stages (grow) and its answer (complete) will be held under.
   * A light run's way back to its layers comes with it (released with the entry), so the layers
   * that have arrived can be read while later ones run.
   */
  begin(light?: Recompute): number {
    const id = this.nextId++;
    // A light run's rollout is made as it goes too: its layers' weights are not kept for it.
    const pool = new GridPool(GRID_THUMB, light !== undefined);
    this.traces.set(id, { trace: { ...EMPTY_TRACE }, bytes: 0, growing: true, pool, ...(light ? { light } : {}) });
    return id;
  }

  /** Pools the grid rows of a streamed run's layers not pooled yet whose weights `trace` holds (a light run's only while it is made: RunOptions.onLayerStages). */
  poolLayer(id: number, trace: Trace): void {
    this.traces.get(id)?.pool?.add(trace);
  }

  /** A streamed run's trace so far replaces what `id` held; its index is returned (small tensors copied). */
  grow(id: number, trace: Trace): Trace {
    const entry = this.traces.get(id);
    if (!entry?.growing) throw new TraceGoneError(`Run ${id} is not a streamed run in progress.`);
    const { light, pool } = entry;
    this.traces.set(id, {
      trace,
      bytes: bytesOf(trace),
      growing: true,
      ...(pool ? { pool } : {}),
      ...(light ? { light, layers: new LayerCache(trace, light.recompute) } : {}),
    });
    return copyIndex(traceIndex(trace, this.inlineBytes));
  }

  /**
   * A streamed run's answer, held under the id it streamed with (the host's fetches of its stages
   * go on working); a trace small enough to travel whole lets the id go. A light run's answer is
   * always held (its layers are made again from it).
   */
  complete(id: number, trace: Trace, budgetBytes: number): HeldTrace {
    const entry = this.traces.get(id);
    if (!entry?.growing) throw new TraceGoneError(`Run ${id} is not a streamed run in progress.`);
    const index = traceIndex(trace, this.inlineBytes);
    if (index === trace && !entry.light) {
      this.traces.delete(id);
      return { trace };
    }
    return this.hold(id, trace, index, budgetBytes, entry.light, entry.pool);
  }

  private hold(
    id: number,
    trace: Trace,
    index: Trace,
    budgetBytes: number,
    light?: Recompute,
    pool?: GridPool,
  ): HeldTrace {
    // What it holds: a light trace keeps only its small tensors and each layer's input.
    const bytes = bytesOf(trace);
    this.traces.delete(id);
    this.traces.set(id, {
      trace,
      bytes,
      ...(pool ? { pool } : {}),
      ...(light ? { light, layers: new LayerCache(trace, light.recompute) } : {}),
    });
    this.evict(budgetBytes);
    return { trace: copyIndex(index), held: { id, bytes } };
  }

  fetch(id: number, want: readonly TensorRequest[]): TensorData[] {
    const entry = this.touch(id);
    return want.map((r) => {
      const stage = entry.trace.stages.find((s) => s.id === r.stage);
      const t = stage?.tensors.find((x) => x.name === r.tensor);
      if (!stage || !t || !isRemote(t)) return fetchTensor(entry.trace, r);
      return fetchTensor({ ...entry.trace, stages: this.layer(entry, stage) }, r);
    });
  }

  /**
   * Pooled where the tensors are, once per size; a streamed run's rows were pooled as its layers
   * were made. Otherwise a light trace's layers are recomputed one at a time as the pooling (or the
   * rollout) reads them, past its own cache, so the layers the panel shows stay cached.
   */
  thumbnails(id: number, max: number): GridThumbs {
    const entry = this.touch(id);
    // A copy: an answer's buffers are transferred away, and the pooled rows and cached grid are asked for again.
    if (entry.thumbs?.max === max) return structuredClone(entry.thumbs.grid);
    const grid = entry.light
      ? this.pooledLight(entry, entry.light, max, entry.pool)
      : gridThumbnails(entry.trace, max, entry.pool);
    if (!entry.growing) entry.thumbs = { max, grid };
    return structuredClone(grid);
  }

  private pooledLight(entry: Entry, light: Recompute, max: number, pool: GridPool | undefined): GridThumbs {
    // Layers the panel has open are read where they are; the rest are made one at a time and let go.
    const shown = entry.layers!;
    const layers = new LayerCache(entry.trace, (t, l) => shown.peek(l) ?? light.recompute(t, l), 1);
    const lazy: Trace = {
      ...entry.trace,
      stages: entry.trace.stages.map((s) =>
        s.tensors.some(isRemote)
          ? {
              ...s,
              tensors: s.tensors.map((t) => {
                if (!isRemote(t)) return t;
                const { remote: _remote, data: _data, ...rest } = t;
                const get = (): Float32Array => layers.data(s.id, t.name);
                return Object.defineProperty(rest, 'data', { get, enumerable: true }) as TensorData;
              }),
            }
          : s,
      ),
    };
    return gridThumbnails(lazy, max, pool);
  }

  /** The grid of `id` at `max`, pooled before (kept with a restored run). */
  keepThumbnails(id: number, max: number, grid: GridThumbs): void {
    const entry = this.traces.get(id);
    if (entry && !entry.growing) entry.thumbs = { max, grid };
  }

  /** Makes a light trace's layer again ahead of its first fetch (nothing when it is not light, or gone). */
  warm(id: number, layer: number): void {
    const entry = this.traces.get(id);
    const stage = entry?.layers && entry.trace.stages.find((s) => s.layer === layer && s.tensors.some(isRemote));
    if (stage) entry.layers!.stagesOf(stage);
  }

  release(id: number): void {
    const entry = this.traces.get(id);
    this.traces.delete(id);
    entry?.light?.release();
  }

  get held(): { readonly traces: number; readonly bytes: number } {
    let bytes = 0;
    for (const t of this.traces.values()) bytes += t.bytes;
    return { traces: this.traces.size, bytes };
  }

  private touch(id: number): Entry {
    const entry = this.traces.get(id);
    if (!entry) throw new TraceGoneError(`The worker no longer holds run ${id}'s tensors (evicted or restarted).`);
    this.traces.delete(id);
    this.traces.set(id, entry);
    return entry;
  }

  /** The stages of the layer `stage` belongs to, whole: recomputed by the model (a light trace). */
  private layer(entry: Entry, stage: Stage): Stage[] {
    if (!entry.layers) throw new Error(`Stage "${stage.title}" has a tensor this run did not keep.`);
    return entry.layers.stagesOf(stage);
  }

  /** Drops the least recently used traces until the rest fit in the budget; the newest is kept whatever its size. */
  private evict(budgetBytes: number): void {
    let total = this.held.bytes;
    for (const [id, entry] of this.traces) {
      if (total <= budgetBytes || this.traces.size <= 1) break;
      if (entry.growing) continue;
      this.release(id);
      total -= entry.bytes;
    }
  }
}

const EMPTY_TRACE: Trace = {
  version: 1,
  model: { id: '', name: '', family: '', description: '', layers: 0, heads: 0, dModel: 0 },
  text: '',
  tokens: [],
  stages: [],
  warnings: [],
  backend: '',
  elapsedMs: 0,
};

function bytesOf(trace: Trace): number {
  let bytes = 0;
  for (const s of trace.stages) for (const t of s.tensors) bytes += t.data.byteLength;
  return bytes;
}

/** An index whose small tensors are copies: the answer's buffers are transferred, and the held trace keeps its own. */
function copyIndex(index: Trace): Trace {
  return {
    ...index,
    stages: index.stages.map((s) => ({
      ...s,
      tensors: s.tensors.map((t): TensorData => (t.remote ? t : { ...t, data: t.data.slice() })),
    })),
  };
}
