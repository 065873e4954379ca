// The pure parts of the head view, the text view and the neuron view: one block's weights as a
// [head, query, key] cube with its labels and mask, the head view's lines and their opacities,
// the text view's shading, and the head palette. No DOM, so they run in plain Node tests.
import type { AttentionBlock } from '../shared/navigation';
import { decoderInputLabel, decoderInputsShifted, headData, tokenLabel, wholeData } from '../shared/tensorView';
import type { Token, Trace } from '../shared/trace';

/** A block's attention weights as [heads, rows, cols], whatever rank the trace stored them in. */
export interface WeightsCube {
  readonly heads: number;
  readonly rows: number;
  readonly cols: number;
  /** Head h's [rows × cols] weights, row-major (through headData: a head fetched alone is enough). */
  head(h: number): Float32Array;
  /** The token of each row and column (undefined for a row that stands for a decoder step's state). */
  readonly rowTokens: readonly (Token | undefined)[];
  readonly colTokens: readonly Token[];
  readonly rowLabels: readonly string[];
  readonly colLabels: readonly string[];
  /** False where the block's mask forbids the pair (a future key). */
  allowed(row: number, col: number): boolean;
}

/**
 * [H, Tq, Tk] weights as they are; [Tq, Tk] as one head; a decoder step's [Tk] as one head and one
 * row (the step's query). Undefined when the weights do not match the block's token lists.
 */
export function weightsCube(block: AttentionBlock, trace?: Trace): WeightsCube | undefined {
  // A Transformer decoder's position is labelled by the token it reads (‹start›, then the previous output).
  const shifted = trace !== undefined && decoderInputsShifted(trace);
  const labelOf = (which: 'input' | 'output', tokens: readonly Token[]): string[] =>
    shifted && which === 'output' ? tokens.map((_, t) => decoderInputLabel(trace, t)) : tokens.map(tokenLabel);
  const w = block.weights;
  const Tk = block.keyTokens.length;
  let heads = 1;
  let rows: number;
  let rowTokens: (Token | undefined)[];
  let rowLabels: string[];
  if (w.shape.length === 3) [heads, rows] = w.shape as [number, number];
  else if (w.shape.length === 2) rows = w.shape[0]!;
  else if (w.shape.length === 1) rows = 1;
  else return undefined;
  const cols = w.shape[w.shape.length - 1]!;
  if (cols !== Tk) return undefined;
  if (w.shape.length === 1) {
    const step = block.step ?? 0;
    rowTokens = [undefined];
    rowLabels = [`step ${step + 1}`];
  } else {
    if (rows !== block.queryTokens.length) return undefined;
    rowTokens = block.queryTokens.slice(0, rows);
    rowLabels = labelOf(block.info.queries, block.queryTokens.slice(0, rows));
  }
  const mask = block.mask;
  const masked = mask && mask.shape.length === 2 && mask.shape[0] === rows && mask.shape[1] === cols ? mask : undefined;
  return {
    heads,
    rows,
    cols,
    // A [query, key] or a step's [key] tensor has no head axis: the panel fetches it whole.
    head: w.shape.length === 3 ? (h) => headData(w, h) : () => wholeData(w),
    rowTokens,
    colTokens: block.keyTokens,
    rowLabels,
    colLabels: labelOf(block.info.keys, block.keyTokens),
    allowed: (r, c) => !masked || masked.data[r * cols + c] !== 0,
  };
}

// ---- head view --------------------------------------------------------------------------------

/** The hovered or focused token of the head view: a query on the left or a key on the right. */
export interface LineFocus {
  readonly side: 'query' | 'key';
  readonly index: number;
}

export interface HeadLine {
  readonly head: number;
  readonly query: number;
  readonly key: number;
  readonly weight: number;
  /** The line's opacity: its weight, or its weight × DIMMED when another token is hovered. */
  readonly alpha: number;
}

/** How much a line that does not touch the hovered token keeps of its opacity. */
export const DIMMED = 0.08;

/**
 * The lines the head view draws: one per shown head, query and key with a non-zero weight on an
 * attendable pair. Opacity = the weight (clamped to [0, 1]); with a focus, lines not touching the
 * focused token are dimmed to DIMMED × their weight.
 */
export function headLines(c: WeightsCube, shown: ReadonlySet<number>, focus?: LineFocus): HeadLine[] {
  const out: HeadLine[] = [];
  for (let h = 0; h < c.heads; h++) {
    if (!shown.has(h)) continue;
    const w = c.head(h);
    for (let q = 0; q < c.rows; q++)
      for (let k = 0; k < c.cols; k++) {
        if (!c.allowed(q, k)) continue;
        const weight = w[q * c.cols + k]!;
        if (!(weight > 0)) continue;
        const touches = !focus || (focus.side === 'query' ? focus.index === q : focus.index === k);
        const a = Math.min(1, weight);
        out.push({ head: h, query: q, key: k, weight, alpha: touches ? a : a * DIMMED });
      }
  }
  return out;
}

/** The focused token's strongest lines over the shown heads, for the readout: [head, other token, weight]. */
export function strongestLines(lines: readonly HeadLine[], focus: LineFocus, n = 5): HeadLine[] {
  return lines
    .filter((l) => (focus.side === 'query' ? l.query : l.key) === focus.index)
    .sort((a, b) => b.weight - a.weight)
    .slice(0, n);
}

/**
 * Categorical head colours, one set for dark backgrounds and one for light: each keeps a contrast
 * of at least 3:1 against the Dark Modern, Light Modern and high-contrast editor backgrounds of its
 * kind (checked in test/unit/attentionViews.test.ts). Derived from Tableau 10, lightened for dark
 * themes and darkened for light ones; past ten heads the colours repeat, and the swatch says the head.
 */
export const HEAD_PALETTE = {
  dark: ['#6fa8dc', '#f6a04d', '#ef6f6c', '#7fd1c8', '#7cc46e', '#f0d35a', '#c99ad0', '#ffa8b6', '#c49a80', '#cfc7c2'],
  light: ['#1f5f99', '#b85c00', '#c0302e', '#247a73', '#2e7d32', '#8a6d00', '#7b4a86', '#b03a5b', '#6b4a35', '#5f5a56'],
} as const;

export function headColour(head: number, dark: boolean): string {
  const p = dark ? HEAD_PALETTE.dark : HEAD_PALETTE.light;
  return p[head % p.length]!;
}

/** Relative luminance (WCAG 2) of a #rrggbb colour. */
export function luminance(hex: string): number {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex.trim());
  if (!m) return NaN;
  const lin = (s: string): number => {
    const c = parseInt(s, 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(m[1]!) + 0.7152 * lin(m[2]!) + 0.0722 * lin(m[3]!);
}

export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}

/** Whether a CSS colour (#rgb, #rrggbb or rgb(a)(…)) is light: the theme's foreground says if the background is dark. */
export function isLightColour(css: string): boolean {
  const s = css.trim();
  let rgb: number[] | undefined;
  const hex = /^#([0-9a-f]{3,8})$/i.exec(s)?.[1];
  if (hex) {
    const full = hex.length <= 4 ? [...hex.slice(0, 3)].map((c) => c + c).join('') : hex.slice(0, 6);
    rgb = [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16));
  } else {
    const m = /rgba?\(([^)]+)\)/i.exec(s);
    if (m)
      rgb = m[1]!
        .split(/[ ,/]+/)
        .slice(0, 3)
        .map(Number);
  }
  if (!rgb || rgb.some((v) => !Number.isFinite(v))) return true;
  const hexOf = '#' + rgb.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
  return luminance(hexOf) > 0.4;
}

// ---- text view --------------------------------------------------------------------------------

export interface TextShade {
  /** The key's weight from the chosen query (head, or the mean over heads for head −1). */
  readonly weight: number;
  /** Not attendable from this query (masked, e.g. a future token): marked, never shaded. */
  readonly masked: boolean;
  /** Shading strength in [0, 1]: weight / the row's largest weight; 0 for a zero weight. */
  readonly alpha: number;
}

/** The text view's shading for query `row`: one entry per key, in key order, and the row's largest weight. */
export function textShading(c: WeightsCube, head: number, row: number): { shades: TextShade[]; max: number } {
  const r = Math.max(0, Math.min(c.rows - 1, row));
  const w = new Float64Array(c.cols);
  if (head < 0 || c.heads === 1) {
    const hs = head < 0 ? c.heads : 1;
    for (let h = 0; h < hs; h++) {
      const d = c.head(h);
      for (let k = 0; k < c.cols; k++) w[k]! += d[r * c.cols + k]! / hs;
    }
  } else {
    const d = c.head(Math.min(head, c.heads - 1));
    for (let k = 0; k < c.cols; k++) w[k] = d[r * c.cols + k]!;
  }
  let max = 0;
  for (let k = 0; k < c.cols; k++) if (c.allowed(r, k) && w[k]! > max) max = w[k]!;
  const shades = Array.from({ length: c.cols }, (_, k) => {
    const masked = !c.allowed(r, k);
    const weight = w[k]!;
    return { weight, masked, alpha: masked || !(weight > 0) || max === 0 ? 0 : weight / max };
  });
  return { shades, max };
}

/** One piece of the text view: a key token (its text as in the source), or the source text between two tokens. */
export type TextPiece =
  | { readonly kind: 'token'; readonly index: number; readonly text: string; readonly special: boolean }
  | { readonly kind: 'gap'; readonly text: string };

/**
 * The keys as text: each token's characters from the source (so whitespace and line breaks are the
 * source's, an unknown character included), the text between tokens as gaps; tokens without source
 * characters (special tokens such as [CLS] or </s>, output tokens) as their label, marked for a chip.
 */
export function textPieces(tokens: readonly Token[], source: string | undefined): TextPiece[] {
  const out: TextPiece[] = [];
  let at = -1;
  tokens.forEach((t, index) => {
    const inSource = source !== undefined && t.start >= 0 && t.end >= t.start && t.end <= source.length;
    if (!inSource) {
      out.push({ kind: 'token', index, text: tokenLabel(t) || '∅', special: true });
      return;
    }
    if (at >= 0 && t.start > at) out.push({ kind: 'gap', text: source.slice(at, t.start) });
    else if (at < 0 && t.start > 0) out.push({ kind: 'gap', text: source.slice(0, t.start) });
    // Characters an earlier token already showed (overlapping byte pieces) are not repeated.
    const text = source.slice(Math.max(at, t.start), t.end);
    // A token with no characters of its own (a byte piece of a character another token holds) still gets a mark.
    out.push({ kind: 'token', index, text: text || tokenLabel(t) || '∅', special: text.length === 0 });
    at = Math.max(at, t.end);
  });
  if (source !== undefined && at >= 0 && at < source.length) out.push({ kind: 'gap', text: source.slice(at) });
  return out;
}
