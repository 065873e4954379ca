// The worker's store of big traces. A run whose trace has tensors too big to travel with it is
// kept here; the host gets its index (shared/lazy.ts) and fetches tensors by the id. Traces are
// evicted least recently used beyond a byte budget (the newest always stays); a fetch for an
// evicted id is answered 'trace-gone', and the host makes the run again.
import { fetchTensor, INLINE_BYTES, traceBytes, traceIndex, type TensorRequest } from '../../shared/lazy';
import { gridThumbnails, type GridThumbs } from '../../shared/derived';
import type { TensorData, Trace } from '../../shared/trace';
import type { HeldTrace } from '../../shared/workerProtocol';

export class TraceGoneError extends Error {
  readonly code = 'trace-gone';
}

export class TraceStore {
  /** Insertion order is recency: a fetch moves its trace to the end. */
  private readonly traces = new Map<number, { readonly trace: Trace; readonly bytes: number }>();
  private nextId = 1;

  constructor(private readonly inlineBytes = INLINE_BYTES) {}

  /**
   * The answer to a run: the trace whole when every tensor is small; else its index, whose small
   * tensors are copies (the answer's buffers are transferred, and the held trace keeps its own).
   */
  admit(trace: Trace, budgetBytes: number): HeldTrace {
    const index = traceIndex(trace, this.inlineBytes);
    if (index === trace) return { trace };
    const id = this.nextId++;
    const bytes = traceBytes(trace);
    this.traces.set(id, { trace, bytes });
    this.evict(budgetBytes);
    const copied: Trace = {
      ...index,
      stages: index.stages.map((s) => ({
        ...s,
        tensors: s.tensors.map((t): TensorData => (t.remote ? t : { ...t, data: t.data.slice() })),
      })),
    };
    return { trace: copied, held: { id, bytes } };
  }

  fetch(id: number, want: readonly TensorRequest[]): TensorData[] {
    const trace = this.touch(id);
    return want.map((r) => fetchTensor(trace, r));
  }

  thumbnails(id: number, max: number): GridThumbs {
    return gridThumbnails(this.touch(id), max);
  }

  release(id: number): void {
    this.traces.delete(id);
  }

  get held(): { readonly traces: number; readonly bytes: number } {
    let bytes = 0;
    for (const t of this.traces.values()) bytes += t.bytes;
    return { traces: this.traces.size, bytes };
  }

  private touch(id: number): Trace {
    const entry = this.traces.get(id);
    if (!entry) throw new TraceGoneError(`The worker no longer holds run ${id}'s tensors (evicted or restarted).`);
    this.traces.delete(id);
    this.traces.set(id, entry);
    return entry.trace;
  }

  /** Drops the least recently used traces until the rest fit in the budget; the newest is kept whatever its size. */
  private evict(budgetBytes: number): void {
    let total = this.held.bytes;
    for (const [id, entry] of this.traces) {
      if (total <= budgetBytes || this.traces.size <= 1) break;
      this.traces.delete(id);
      total -= entry.bytes;
    }
  }
}
