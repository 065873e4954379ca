// The text a tokenizer's length-changing normalisers (NFC, NFD, NFKC, NFKD, Lowercase, StripAccents,
// SentencePiece's Precompiled) turn the input into, with each normalised UTF-16 unit's span in the
// ORIGINAL text, so that token offsets found in the normalised text map back to what the user typed.
//
// Normalisation is applied chunk by chunk: a chunk is a run of grapheme clusters whose normal form
// does not depend on its neighbours (checked: f(a + b) === f(a) + f(b) at every cut, and the chunks'
// normal forms must tile the library's normal form of the whole, else the disagreeing chunks are
// merged), so a decomposed "e\u0301", a Hangul jamo syllable or a ligature is never split. Text
// between two ASCII characters is cut without a check. An unchanged chunk maps unit to unit;
// a changed one maps per code point when each code point normalises on its own (CRLF under
// Precompiled), else every unit of its normal form maps to the whole chunk. Characters a normaliser
// deletes belong to the next unit (or the last one at the end). Added tokens' literals are kept
// verbatim, as the library splits them out before normalising.
//
// Prepend and Replace normalisers are not applied here: the aligner handles the '▁' they insert.

export interface NormalisedText {
  /** The normalised text (what the tokenizer's model sees, apart from Prepend / Replace). */
  readonly text: string;
  /** For each UTF-16 unit of `text`, where its source starts in the original text. */
  readonly start: Int32Array;
  /** For each UTF-16 unit of `text`, where its source ends in the original text. */
  readonly end: Int32Array;
  /** The original text's length (the image of text.length). */
  readonly originalLength: number;
}

/** A string → string normaliser that acts locally (no normaliser that inserts text at the start). */
export type LocalNormaliser = (s: string) => string;

const removeMarks = (s: string): string => s.replace(/\p{M}/gu, '');

/** The library's Precompiled normaliser (SentencePiece charsmap approximated by NFKC), exactly. */
function precompiled(s: string): string {
  // eslint-disable-next-line no-control-regex -- the library deletes these control characters
  s = s.replace(/[\u0001-\u0008\u000B\u000E-\u001F\u007F\u008F\u009F]/gm, '');
  // and maps these (tab, newlines, odd spaces) to ' '
  s = s.replace(
    // eslint-disable-next-line no-control-regex -- the control characters are the point
    /[\u0009\u000A\u000C\u000D\u00A0\u1680\u2000-\u200F\u2028\u2029\u202F\u205F\u2581\u3000\uFEFF\uFFFD]/gm,
    ' ',
  );
  return s.includes('\uFF5E')
    ? s
        .split('\uFF5E')
        .map((p) => p.normalize('NFKC'))
        .join('\uFF5E')
    : s.normalize('NFKC');
}

/** The local, length-changing step a tokenizer.json normalizer node stands for, if any. */
export function localNormaliser(node: Record<string, unknown>): LocalNormaliser | undefined {
  switch (node['type']) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = node['type'];
      return (s) => s.normalize(form);
    }
    case 'Lowercase':
      return (s) => s.toLowerCase();
    case 'StripAccents':
      return removeMarks;
    case 'Precompiled':
      return precompiled;
    default:
      return undefined;
  }
}

/** The steps composed, in order; undefined when there is none (the text is used as it is). */
export function composeNormalisers(steps: readonly LocalNormaliser[]): LocalNormaliser | undefined {
  if (steps.length === 0) return undefined;
  return (s) => steps.reduce((t, f) => f(t), s);
}

// The grapheme clusters that matter to normalisation: a base with the combining marks, conjoining
// Hangul vowel / final jamo, emoji modifiers and ZWJ-joined characters after it (Intl.Segmenter
// gives the same cuts for these, but costs microseconds per cluster).
const EXT = String.raw`\p{M}\p{Emoji_Modifier}\u1160-\u11FF\uD7B0-\uD7FF`;
const CLUSTER = new RegExp(String.raw`[^${EXT}][${EXT}]*(?:\u200D[^${EXT}][${EXT}]*)*|[${EXT}]+`, 'gsu');

class Builder {
  private readonly pieces: string[] = [];
  readonly start: number[] = [];
  readonly end: number[] = [];
  /** Start of deleted characters waiting for the next unit, or -1. */
  private pending = -1;

  /** `out`'s units, each with the original span [a, b). */
  push(out: string, a: number, b: number): void {
    if (out.length === 0) {
      if (this.pending < 0) this.pending = a;
      return;
    }
    this.pieces.push(out);
    for (let k = 0; k < out.length; k++) {
      this.start.push(k === 0 && this.pending >= 0 ? this.pending : a);
      this.end.push(b);
    }
    this.pending = -1;
  }

  /** `s` unchanged from original offset `a`, unit to unit. */
  identity(s: string, a: number): void {
    if (s.length === 0) return;
    this.pieces.push(s);
    for (let k = 0; k < s.length; k++) {
      this.start.push(k === 0 && this.pending >= 0 ? this.pending : a + k);
      this.end.push(a + k + 1);
    }
    this.pending = -1;
  }

  finish(originalLength: number): NormalisedText {
    // Deleted characters at the very end belong to the last unit.
    if (this.pending >= 0 && this.end.length > 0) this.end[this.end.length - 1] = originalLength;
    return {
      text: this.pieces.join(''),
      start: Int32Array.from(this.start),
      end: Int32Array.from(this.end),
      originalLength,
    };
  }
}

/** One changed chunk [a, b): per code point when that gives the same normal form, else as a whole. */
function pushChunk(out: Builder, f: LocalNormaliser, chunk: string, normal: string, a: number): void {
  if (normal === chunk) {
    out.identity(chunk, a);
    return;
  }
  const cps = Array.from(chunk);
  if (cps.length > 1) {
    const parts = cps.map(f);
    if (parts.join('') === normal) {
      let at = a;
      cps.forEach((cp, i) => {
        if (parts[i] === cp) out.identity(cp, at);
        else out.push(parts[i]!, at, at + cp.length);
        at += cp.length;
      });
      return;
    }
  }
  out.push(normal, a, a + chunk.length);
}

/** Chunks of `window` (from original offset `a`): grapheme clusters, cut only where normalisation does not look across. */
function graphemeChunks(f: LocalNormaliser, window: string, a: number, chunks: Chunk[]): void {
  let cur = '';
  let curNormal = '';
  let curAt = a;
  for (const m of window.matchAll(CLUSTER)) {
    const segment = m[0];
    const index = m.index;
    if (cur.length === 0) {
      cur = segment;
      curNormal = f(segment);
      curAt = a + index;
      continue;
    }
    const g = f(segment);
    const joined = f(cur + segment);
    if (joined === curNormal + g) {
      chunks.push({ text: cur, normal: curNormal, at: curAt });
      cur = segment;
      curNormal = g;
      curAt = a + index;
    } else {
      cur += segment;
      curNormal = joined;
    }
  }
  if (cur.length > 0) chunks.push({ text: cur, normal: curNormal, at: curAt });
}

interface Chunk {
  readonly text: string;
  readonly normal: string;
  readonly at: number;
}

const isAscii = (c: number): boolean => c < 0x80;

/** A section between added tokens, starting at original offset `a`. */
function pushSection(out: Builder, f: LocalNormaliser, section: string, a: number): void {
  const whole = f(section);
  if (whole === section) {
    out.identity(section, a);
    return;
  }
  // Between two ASCII characters nothing composes, so the section is cut there into ASCII runs (one
  // chunk each, mapped per character) and the windows around non-ASCII text (cut into grapheme chunks):
  // segmenting only those keeps long, mostly-ASCII inputs fast.
  const chunks: Chunk[] = [];
  let i = 0;
  while (i < section.length) {
    let j = i;
    if (isAscii(section.charCodeAt(i))) {
      while (
        j < section.length &&
        isAscii(section.charCodeAt(j)) &&
        (j + 1 >= section.length || isAscii(section.charCodeAt(j + 1)))
      )
        j++;
    }
    if (j > i) {
      const run = section.slice(i, j);
      chunks.push({ text: run, normal: f(run), at: a + i });
    } else {
      // A window: up to the next cut between two ASCII characters.
      j = i + 1;
      while (j < section.length && !(isAscii(section.charCodeAt(j - 1)) && isAscii(section.charCodeAt(j)))) j++;
      graphemeChunks(f, section.slice(i, j), a + i, chunks);
    }
    i = j;
  }
  const exact = repairChunks(f, chunks, whole);
  if (!exact) {
    // Normalisation reached further than the repair looks: the section as one chunk (exact, coarser).
    out.push(whole, a, a + section.length);
    return;
  }
  for (const c of exact) pushChunk(out, f, c.text, c.normal, c.at);
}

/** How many chunks on each side of a mismatch the repair may merge. */
const REPAIR_REACH = 8;

/**
 * The chunks with every place where they disagree with the section's normal form `whole` merged
 * with its neighbours until they agree (a final sigma decided across an apostrophe, say); undefined
 * when no merge within REPAIR_REACH chunks does.
 */
function repairChunks(f: LocalNormaliser, chunks: readonly Chunk[], whole: string): Chunk[] | undefined {
  const out: Chunk[] = [];
  const outAt: number[] = []; // where each output chunk's normal form starts in `whole`
  let p = 0;
  const fits = (c: Chunk | undefined, at: number): boolean => c === undefined || whole.startsWith(c.normal, at);
  for (let k = 0; k < chunks.length; ) {
    if (fits(chunks[k], p)) {
      out.push(chunks[k]!);
      outAt.push(p);
      p += chunks[k]!.normal.length;
      k++;
      continue;
    }
    let repaired = false;
    for (let back = 0; back <= Math.min(REPAIR_REACH, out.length) && !repaired; back++) {
      const from = outAt[out.length - back] ?? p;
      const before = out.slice(out.length - back);
      for (let fwd = 0; fwd < REPAIR_REACH && k + fwd < chunks.length; fwd++) {
        const parts = [...before, ...chunks.slice(k, k + fwd + 1)];
        const text = parts.map((c) => c.text).join('');
        const merged: Chunk = { text, normal: f(text), at: parts[0]!.at };
        if (fits(merged, from) && fits(chunks[k + fwd + 1], from + merged.normal.length)) {
          out.splice(out.length - back, back, merged);
          outAt.splice(outAt.length - back, back, from);
          p = from + merged.normal.length;
          k += fwd + 1;
          repaired = true;
          break;
        }
      }
    }
    if (!repaired) return undefined;
  }
  return p === whole.length ? out : undefined;
}

/** Non-overlapping occurrences of the literals, leftmost first, longest at one position. */
function literalRanges(text: string, literals: readonly string[]): [number, number][] {
  const found: [number, number][] = [];
  for (const lit of literals) {
    if (lit.length === 0) continue;
    for (let at = text.indexOf(lit); at >= 0; at = text.indexOf(lit, at + 1)) found.push([at, at + lit.length]);
  }
  found.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
  const out: [number, number][] = [];
  let reach = 0;
  for (const r of found) {
    if (r[0] < reach) continue;
    out.push(r);
    reach = r[1];
  }
  return out;
}

/**
 * `text` normalised by `f` with the map back to `text`; `keep` are literals (added tokens) the
 * tokenizer splits out before normalising, kept verbatim. Without `f`, the identity.
 */
export function normaliseWithOffsets(
  text: string,
  f: LocalNormaliser | undefined,
  keep: readonly string[] = [],
): NormalisedText {
  const out = new Builder();
  if (!f) {
    out.identity(text, 0);
    return out.finish(text.length);
  }
  let at = 0;
  for (const [a, b] of literalRanges(text, keep)) {
    if (a > at) pushSection(out, f, text.slice(at, a), at);
    out.identity(text.slice(a, b), a);
    at = b;
  }
  if (at < text.length) pushSection(out, f, text.slice(at), at);
  return out.finish(text.length);
}
