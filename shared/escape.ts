// Text from model files (token pieces, model names, stage titles, folder names) escaped for the
// sink that shows it. Every sink first makes invisible and line-breaking characters visible, so
// a crafted token cannot end a code span, a table row or a line, nor reorder what follows it.

/** Symbols for the C0 controls that have a common picture; the rest become \u{…}. */
const PICTURES: Readonly<Record<string, string>> = { '\r': '␍', '\n': '↵', '\t': '⇥', '\u0000': '␀', '\u007f': '␡' };

/**
 * C0 and C1 controls, NEL (U+0085), line and paragraph separators (U+2028/U+2029), bidi marks,
 * embeddings, overrides and isolates (U+200E/F, U+061C, U+202A–U+202E, U+2066–U+2069), BOM.
 */
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

const codePoint = (c: string): string => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}}`;

/** Every control, separator and bidi character shown as a visible symbol or \u{XXXX}. */
export function visible(s: string): string {
  return s.replace(INVISIBLE, (c) => PICTURES[c] ?? codePoint(c));
}

/** Markdown prose (a model name, a stage title): no emphasis, links, autolinks, HTML or line breaks. */
export function markdownText(s: string): string {
  return visible(s).replace(/[\\`*_{}[\]()#+\-.!|<>&:~@/=]/g, (c) => `\\${c}`);
}

/**
 * A Markdown code span, safe inside a GFM table cell: backticks cannot close it (swapped for ˋ),
 * pipes cannot split the cell, and no character can end its line.
 */
export function markdownCode(s: string): string {
  return '`' + visible(s).replace(/`/g, 'ˋ').replace(/\|/g, '\\|') + '`';
}

/** HTML text and attribute values. */
export function htmlText(s: string): string {
  return visible(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** A status bar item or quick pick label (they render $(icon) syntax): icons escaped. */
export function labelText(s: string): string {
  return visible(s).replace(/\$\(/g, '\\$(');
}

/** A notification message: VS Code turns [text](https:… | command:…) in one into a link; this breaks the pattern. */
export function notificationText(s: string): string {
  return visible(s).replace(/\]\(/g, '] (');
}
