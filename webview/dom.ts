// Tiny DOM builder. Strings always become text nodes: token text is untrusted and is never HTML.
export type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Record<string, string | number | boolean | undefined | EventListener>,
  ...children: Child[]
): HTMLElementTagNameMap[K];
export function h(
  tag: string,
  attrs?: Record<string, string | number | boolean | undefined | EventListener>,
  ...children: Child[]
): HTMLElement;
export function h(
  tag: string,
  attrs: Record<string, string | number | boolean | undefined | EventListener> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, '').toLowerCase(), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return el;
}

/** The cell an arrow key moves a (row, col) cursor to, kept inside rows × cols; undefined for any other key. */
export function arrowStep(
  key: string,
  at: { readonly row: number; readonly col: number },
  rows: number,
  cols: number,
): { row: number; col: number } | undefined {
  const moves: Record<string, readonly [number, number]> = {
    ArrowUp: [-1, 0],
    ArrowDown: [1, 0],
    ArrowLeft: [0, -1],
    ArrowRight: [0, 1],
  };
  const mv = moves[key];
  if (!mv) return undefined;
  return {
    row: Math.max(0, Math.min(rows - 1, at.row + mv[0])),
    col: Math.max(0, Math.min(cols - 1, at.col + mv[1])),
  };
}
