// The component contract: a part of the panel declares what its DOM is built from (its key) and
// how to build it. The panel rebuilds a part only when its key changes; smaller changes are
// patched in place, and a resize re-lays out canvases without touching the DOM tree.
import type { Cursor, ExportFormat, Request, ResponseMap } from '../../shared/protocol';
import type { PanelState, Store } from '../store';
import type { TensorLoader } from '../tensors';
import type { RequestOptions } from '../../shared/channel';

export interface Built {
  readonly nodes: readonly Node[];
  /** Brings the built DOM up to date in place (called on every state change that kept the key). */
  patch?(s: PanelState): void;
  /** Re-lays out and redraws canvases for the panel's new width. */
  resize?(): void;
  dispose?(): void;
}

export interface PartSpec {
  readonly name: string;
  /** What the DOM is built from, compared item by item with ===; undefined = the part shows nothing. */
  key(s: PanelState): readonly unknown[] | undefined;
  build(s: PanelState): Built;
}

export type Requester = <K extends Request['kind']>(
  request: Extract<Request, { kind: K }>,
  options?: RequestOptions,
) => Promise<ResponseMap[K]>;

/** What every part may use besides the state: the store to dispatch to, the host, the page. */
export interface PanelContext {
  readonly store: Store;
  /** Moves the cursor once what it shows is loaded (webview/navigate.ts). */
  readonly navigate: (cursor: Cursor) => void;
  /** The tensors of a big trace the panel holds, and the grid's thumbnails. */
  readonly tensors: TensorLoader;
  /** A standalone HTML export: no host to recompute or save with. */
  readonly standalone: boolean;
  readonly request: Requester;
  readonly exportAs: (format: ExportFormat) => void;
  /** Width available to figures, in CSS pixels. */
  readonly width: () => number;
  readonly theme: () => { readonly foreground: string; readonly font: string };
  /** How many times each part was (re)built: the store tests and the bench read it. */
  readonly builds: Map<string, number>;
}

/** Moves the cursor from a control of the panel (the host is told; see main.ts). */
export function go(ctx: PanelContext, cursor: Cursor): void {
  ctx.navigate(cursor);
}

const sameKey = (a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]));

/** One mounted part: a wrapper element whose children are the part's nodes. */
export class Part {
  readonly el: HTMLElement;
  private key: readonly unknown[] | undefined;
  private built: Built | undefined;

  constructor(
    private readonly spec: PartSpec,
    private readonly ctx: PanelContext,
  ) {
    this.el = document.createElement('div');
    this.el.dataset.part = spec.name;
  }

  update(s: PanelState): void {
    const key = this.spec.key(s);
    if (this.built && sameKey(key, this.key)) {
      this.built.patch?.(s);
      return;
    }
    this.key = key;
    this.built?.dispose?.();
    this.built = undefined;
    if (key === undefined) {
      if (this.el.firstChild) this.el.replaceChildren();
      return;
    }
    this.built = this.spec.build(s);
    this.el.replaceChildren(...this.built.nodes);
    this.built.patch?.(s);
    this.ctx.builds.set(this.spec.name, (this.ctx.builds.get(this.spec.name) ?? 0) + 1);
  }

  resize(): void {
    this.built?.resize?.();
  }

  dispose(): void {
    this.built?.dispose?.();
    this.built = undefined;
  }
}

/** Parts in order inside one element, updated together. */
export function group(
  ctx: PanelContext,
  el: HTMLElement,
  specs: readonly PartSpec[],
): Built & { readonly parts: readonly Part[] } {
  const parts = specs.map((sp) => new Part(sp, ctx));
  el.append(...parts.map((p) => p.el));
  return {
    nodes: [el],
    parts,
    patch: (s) => parts.forEach((p) => p.update(s)),
    resize: () => parts.forEach((p) => p.resize()),
    dispose: () => parts.forEach((p) => p.dispose()),
  };
}
