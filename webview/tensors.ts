// The panel's share of a big trace: the tensors its views have asked for, fetched from the host
// before the cursor moves to them (so every part still draws synchronously), kept under a byte
// budget (least recently used first out), and the grid's pooled thumbnails. A small trace arrives
// whole and this asks for nothing.
import { gridThumbnails, type GridThumbs } from '../shared/derived';
import { EMPTY, isRemote, needsOf, stagesShown, type TensorRequest } from '../shared/lazy';
import type { Cursor } from '../shared/protocol';
import { moveLayer } from '../shared/navigation';
import { dropHeads, headsHeld, holdHead, isWhole } from '../shared/tensorView';
import type { TensorData, Trace } from '../shared/trace';
import { THUMB } from './draw/thumb';

export interface TensorSource {
  tensors(want: readonly TensorRequest[]): Promise<readonly TensorData[]>;
  thumbnails(max: number): Promise<GridThumbs>;
}

/**
 * What the panel keeps of remote tensors at most (the bytes it really holds: a head fetched alone
 * counts its own size); the cursor's own are kept whatever their size. About four more blocks of one
 * head at GPT-2-small size and 1,024 tokens (13 MB each): the prefetched neighbours and a step back.
 */
export const PANEL_TENSOR_BUDGET = 64 * 1024 * 1024;

type Mutable = { data: Float32Array };

/** Bytes a remote tensor holds: its whole data, or the heads fetched one at a time. */
function bytesHeld(t: TensorData): number {
  let n = t.data.byteLength;
  for (const d of headsHeld(t).values()) n += d.byteLength;
  return n;
}

/**
 * A head in a buffer of its own: a fetch packs all its tensors into one buffer, which one view would
 * keep alive whole after the others are let go. (Whole tensors keep it: a fetch of them is one block,
 * held and let go together, and a copy would double a 48 MB tensor's peak.)
 */
const own = (d: Float32Array): Float32Array => (d.byteLength === d.buffer.byteLength ? d : d.slice());

export class TensorLoader {
  /** Remote tensors holding data (whole, or some heads), least recently used first. */
  private readonly held: TensorData[] = [];
  private readonly thumbs = new WeakMap<Trace, GridThumbs>();
  /** Counts moves and prefetches: a prefetch asks for its next guess only while no move came after it. */
  private guessing = 0;
  /** Fetches under way (the cursor's or a prefetch), by trace and request, so a move waits for one already asked. */
  private readonly pending = new WeakMap<Trace, Map<string, Promise<void>>>();

  constructor(
    private readonly source: TensorSource,
    /** Bytes of remote tensors kept at most (beyond the cursor's own). */
    private readonly budget = PANEL_TENSOR_BUDGET,
    /** A block up to this size is fetched whole; a bigger one a head at a time. */
    private readonly wholeUpTo?: number,
  ) {}

  /** Whether `t` can be drawn for `head` (undefined: every head). */
  has(t: TensorData, head?: number): boolean {
    if (!isRemote(t) || isWhole(t)) return true;
    return head !== undefined && headsHeld(t).has(head);
  }

  /** The fetches `cursor` still needs on `trace`. */
  missing(trace: Trace, cursor: Cursor): TensorRequest[] {
    return needsOf(trace, cursor, this.wholeUpTo).filter((r) => {
      const t = find(trace, r);
      return !t || !this.has(t, r.head);
    });
  }

  /** Loads what `cursor` needs; undefined when it is all here already (the move can render at once). */
  ensure(trace: Trace, cursor: Cursor): Promise<void> | undefined {
    // A move: the guesses not yet asked for were for where the cursor no longer is.
    this.guessing++;
    if (cursor.view === 'grid') return this.thumbs.has(trace) ? undefined : this.loadThumbs(trace);
    const want = this.missing(trace, cursor);
    if (want.length === 0) {
      this.touch(trace, cursor);
      return undefined;
    }
    return this.load(trace, want).then(() => this.touch(trace, cursor));
  }

  /**
   * What the next move most likely shows, fetched in the background once the cursor's own is
   * drawn: the heads beside it (next, then previous), then the same head and part of the next
   * layer (which a light run makes again in the worker). One at a time, and none after the next
   * move, so a move (or the grid) waits behind one guess at most, not three. Only for blocks
   * fetched a head at a time; failures are left to the move that needs them.
   */
  prefetch(trace: Trace, cursor: Cursor): void {
    const round = ++this.guessing;
    if (cursor.view === 'grid' || cursor.head < 0) return;
    const heads = Math.max(
      0,
      ...stagesShown(trace, cursor).flatMap((s) =>
        s.tensors.filter((t) => isRemote(t) && t.axes[0] === 'head').map((t) => t.shape[0]!),
      ),
    );
    const next = moveLayer(trace, cursor, 1);
    const later = (trace.stages[next.stage]?.layer ?? -1) > (trace.stages[cursor.stage]?.layer ?? Infinity);
    const guesses = [
      ...[cursor.head + 1, cursor.head - 1].filter((h) => h >= 0 && h < heads).map((head) => ({ ...cursor, head })),
      ...(later ? [next] : []),
    ];
    const guess = async (): Promise<void> => {
      for (const c of guesses) {
        if (round !== this.guessing) return;
        const want = this.missing(trace, c).filter((r) => r.head !== undefined);
        if (want.length) await this.load(trace, want).catch(() => undefined);
      }
    };
    void guess();
  }

  /** Fetches `want`, joining fetches already under way for any of them. */
  private load(trace: Trace, want: readonly TensorRequest[]): Promise<void> {
    let pending = this.pending.get(trace);
    if (!pending) this.pending.set(trace, (pending = new Map()));
    const key = (r: TensorRequest): string => `${r.stage}\u0000${r.tensor}\u0000${r.head ?? ''}`;
    const joined = want.map((r) => pending.get(key(r))).filter((p): p is Promise<void> => p !== undefined);
    const fresh = want.filter((r) => !pending.has(key(r)));
    const fetched =
      fresh.length === 0
        ? Promise.resolve()
        : this.source.tensors(fresh).then((got) => {
            if (got.length !== fresh.length) throw new Error(`asked for ${fresh.length} tensors, got ${got.length}`);
            fresh.forEach((r, i) => this.install(trace, r, got[i]!));
          });
    const done = fetched.finally(() => {
      for (const r of fresh) if (pending.get(key(r)) === done) pending.delete(key(r));
    });
    for (const r of fresh) pending.set(key(r), done);
    return Promise.all([done, ...joined]).then(() => undefined);
  }

  /** The grid's thumbnails: pooled here when the trace is whole, else fetched by ensure(). */
  gridOf(trace: Trace): GridThumbs {
    let g = this.thumbs.get(trace);
    if (!g) {
      if (trace.stages.some((s) => s.tensors.some(isRemote)))
        throw new Error('the grid of a big run is fetched before it is shown');
      this.thumbs.set(trace, (g = gridThumbnails(trace, THUMB)));
    }
    return g;
  }

  /** Bytes of remote tensors the panel holds now (the heads it holds of those fetched a head at a time). */
  get heldBytes(): number {
    return this.held.reduce((n, t) => n + bytesHeld(t), 0);
  }

  private async loadThumbs(trace: Trace): Promise<void> {
    if (!trace.stages.some((s) => s.tensors.some(isRemote))) {
      this.gridOf(trace);
      return;
    }
    this.thumbs.set(trace, await this.source.thumbnails(THUMB));
  }

  private install(trace: Trace, r: TensorRequest, got: TensorData): void {
    const t = find(trace, r);
    if (!t) throw new Error(`the run shown has no tensor ${r.stage}/${r.tensor}`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (r.head === undefined) {
      if (got.data.length !== size) throw new Error(`tensor ${r.tensor}: ${got.data.length} values for ${size}`);
      (t as unknown as Mutable).data = got.data;
      dropHeads(t);
    } else if (!isWhole(t)) {
      // Only this head's numbers: never a full-size array for them (readers go through headData).
      holdHead(t, r.head, own(got.data));
    }
    const i = this.held.indexOf(t);
    if (i >= 0) this.held.splice(i, 1);
    this.held.push(t);
  }

  /** Marks the cursor's tensors most recently used and lets go of the oldest others beyond the budget. */
  private touch(trace: Trace, cursor: Cursor): void {
    const keep = new Set(needsOf(trace, cursor, -1).map((r) => find(trace, r)));
    for (const t of keep) {
      const i = t ? this.held.indexOf(t) : -1;
      if (i >= 0) this.held.push(...this.held.splice(i, 1));
    }
    let bytes = this.heldBytes;
    for (let i = 0; i < this.held.length && bytes > this.budget; ) {
      const t = this.held[i]!;
      if (keep.has(t)) {
        i++;
        continue;
      }
      bytes -= bytesHeld(t);
      (t as unknown as Mutable).data = EMPTY;
      dropHeads(t);
      this.held.splice(i, 1);
    }
  }
}

function find(trace: Trace, r: TensorRequest): TensorData | undefined {
  return trace.stages.find((s) => s.id === r.stage)?.tensors.find((t) => t.name === r.tensor);
}

/**
 * A source for a page with no host (the standalone export): what it embeds is all there is, and
 * the loader asks only for tensors the page left out.
 */
export function embeddedOnly(): TensorSource {
  const none = async (): Promise<never> => {
    throw new Error(
      'This exported page leaves out the tensors of this stage (the run was too big to embed whole); open the run in VS Code to see them.',
    );
  };
  return { tensors: none, thumbnails: none };
}
