// A PNG of one part of the panel as it is laid out: the views made of DOM (the all-heads grid, the
// head view, the text view, the neuron view) painted onto a canvas from their elements' boxes —
// backgrounds, borders, text in its own font and colour, and the canvases they hold — under a
// title line, on the theme's own opaque background. No library: the browser's layout is the source.

/** The tallest picture made (a text view of thousands of tokens is cut there, and the caller says so). */
export const SNAPSHOT_MAX_PX = 8000;

export interface Snapshot {
  readonly canvas: HTMLCanvasElement;
  /** True when the element was taller than SNAPSHOT_MAX_PX and the picture stops there. */
  readonly cut: boolean;
}

export interface SnapshotTheme {
  readonly background: string;
  readonly foreground: string;
  readonly font: string;
}

const TITLE_H = 28;
const PAD = 8;

const transparent = (c: string): boolean => c === '' || c === 'transparent' || /rgba\(.*,\s*0\)$/.test(c);

/**
 * Paints `el` (its whole content, scrolled parts included: the class `snapshotting` lets it grow
 * while it is measured) under `title`. `only` leaves out elements it returns false for (controls).
 */
export function snapshot(
  el: HTMLElement,
  title: string,
  theme: SnapshotTheme,
  only: (e: Element) => boolean = () => true,
): Snapshot {
  el.classList.add('snapshotting');
  try {
    const box = el.getBoundingClientRect();
    const w = Math.ceil(Math.max(box.width, el.scrollWidth)) + 2 * PAD;
    const fullH = Math.ceil(Math.max(box.height, el.scrollHeight)) + TITLE_H + 2 * PAD;
    const cut = fullH > SNAPSHOT_MAX_PX;
    const hgt = Math.min(fullH, SNAPSHOT_MAX_PX);
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = hgt;
    const g = canvas.getContext('2d');
    if (!g) return { canvas, cut };
    g.fillStyle = theme.background;
    g.fillRect(0, 0, w, hgt);
    g.fillStyle = theme.foreground;
    g.font = `bold 14px ${theme.font}`;
    g.textBaseline = 'middle';
    g.fillText(title, PAD, PAD + TITLE_H / 2 - 2, w - 2 * PAD);
    const ox = PAD - box.left;
    const oy = PAD + TITLE_H - box.top;
    const visible = (e: Element): boolean => {
      for (let p: Element | null = e; p && p !== el.parentElement; p = p.parentElement) if (!only(p)) return false;
      return true;
    };
    // Boxes first (backgrounds and borders, in document order: parents under children), then canvases and text.
    for (const e of [el, ...el.querySelectorAll('*')]) {
      if (!(e instanceof HTMLElement) || !visible(e)) continue;
      const cs = getComputedStyle(e);
      if (cs.visibility === 'hidden' || cs.display === 'none' || Number(cs.opacity) === 0) continue;
      const r = e.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (!transparent(cs.backgroundColor)) {
        g.fillStyle = cs.backgroundColor;
        g.fillRect(r.left + ox, r.top + oy, r.width, r.height);
      }
      const bw = parseFloat(cs.borderTopWidth);
      if (bw > 0 && cs.borderTopStyle !== 'none' && !transparent(cs.borderTopColor)) {
        g.strokeStyle = cs.borderTopColor;
        g.lineWidth = bw;
        g.strokeRect(r.left + ox + bw / 2, r.top + oy + bw / 2, r.width - bw, r.height - bw);
      }
      if (e instanceof HTMLCanvasElement && e.width > 0 && e.height > 0) {
        g.imageSmoothingEnabled = false;
        g.drawImage(e, r.left + ox, r.top + oy, r.width, r.height);
      }
    }
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent ?? '';
      const parent = n.parentElement;
      if (!parent || !text.trim() || !visible(parent)) continue;
      const cs = getComputedStyle(parent);
      if (cs.visibility === 'hidden' || Number(cs.opacity) === 0) continue;
      g.font = cs.font || `${cs.fontSize} ${cs.fontFamily}`;
      g.fillStyle = cs.color;
      g.globalAlpha = Math.max(0.2, Number(cs.opacity) || 1);
      // One word at a time where the text wraps over lines (a range gives one box per line).
      range.selectNodeContents(n);
      const rects = range.getClientRects();
      if (rects.length <= 1) {
        const r = rects[0] ?? range.getBoundingClientRect();
        if (r.width > 0) g.fillText(text.replace(/\s+/g, ' ').trim(), r.left + ox, r.top + oy + r.height / 2);
      } else {
        const re = /\S+/g;
        for (let m = re.exec(text); m; m = re.exec(text)) {
          range.setStart(n, m.index);
          range.setEnd(n, m.index + m[0].length);
          const r = range.getBoundingClientRect();
          if (r.width > 0) g.fillText(m[0], r.left + ox, r.top + oy + r.height / 2);
        }
      }
      g.globalAlpha = 1;
    }
    return { canvas, cut };
  } finally {
    el.classList.remove('snapshotting');
  }
}

/** A canvas (the heatmap, the lines) on the theme's opaque background under a title line. */
export function titled(source: HTMLCanvasElement, title: string, theme: SnapshotTheme): HTMLCanvasElement {
  // The source is drawn at its device-pixel size; the title is scaled to match.
  const dpr = source.clientWidth > 0 ? source.width / source.clientWidth : 1;
  const titleH = Math.round(TITLE_H * dpr);
  const out = document.createElement('canvas');
  const g = out.getContext('2d');
  out.width = Math.max(source.width, Math.round(320 * dpr));
  out.height = source.height + titleH;
  if (!g) return source;
  g.fillStyle = theme.background;
  g.fillRect(0, 0, out.width, out.height);
  g.fillStyle = theme.foreground;
  g.font = `bold ${Math.round(14 * dpr)}px ${theme.font}`;
  g.textBaseline = 'middle';
  g.fillText(title, Math.round(PAD * dpr), titleH / 2, out.width - 2 * PAD * dpr);
  g.drawImage(source, 0, titleH);
  return out;
}

/** What a DOM-made view offers its export beyond the picture: paint what is lazily painted, its own CSV. */
export interface ViewExport {
  readonly prepare?: () => void;
  readonly csv?: () => string;
  readonly csvName?: string;
}

/** Keyed by the view's root element (found in the panel by `[data-export]`). */
export const viewExports = new WeakMap<Element, ViewExport>();
