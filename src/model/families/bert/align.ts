// Offsets for BERT's normalising WordPiece tokenizer (lower-casing, accent stripping): BertNormalizer
// applied one code point at a time, and tokens matched left to right against the normalised stream.

/** A token to place in the text: a vocabulary piece (normalised), a literal (special token typed
 * in the text, matched case-sensitively), an unknown word (the next whole word), or no text at all. */
export type AlignPiece =
  | { readonly piece: string }
  | { readonly literal: string }
  | { readonly unknownWord: true }
  | null;

/**
 * Maps tokens back to UTF-16 spans of `text`. Each source code point is normalised on its own
 * (`norm`, e.g. lower-case + strip accents), the tokens are matched left to right against the
 * normalised stream, and every matched normalised character maps back to the code point it came
 * from. Tokens that cannot be matched get [-1, -1] and are counted in `issues`.
 */
export function alignNormalised(
  text: string,
  pieces: readonly AlignPiece[],
  norm: (ch: string) => string,
  isPunct: (ch: string) => boolean,
): { spans: [number, number][]; issues: number } {
  const chars: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const n = cp > 0xffff ? 2 : 1;
    const ch = text.slice(i, i + n);
    for (const out of norm(ch)) {
      chars.push(out);
      from.push(i);
      to.push(i + n);
    }
    i += n;
  }
  const isSpace = (ch: string): boolean => /\s/u.test(ch);
  let cursor = 0;
  let issues = 0;
  const spans: [number, number][] = [];
  const miss = (): void => {
    issues++;
    spans.push([-1, -1]);
  };
  for (const p of pieces) {
    if (p === null) {
      spans.push([-1, -1]);
      continue;
    }
    let at = cursor;
    while (at < chars.length && isSpace(chars[at]!)) at++;
    if ('literal' in p) {
      let src = at < chars.length ? from[at]! : text.length;
      while (src < text.length && /\s/u.test(text[src]!)) src++;
      if (!text.startsWith(p.literal, src)) {
        miss();
        continue;
      }
      const end = src + p.literal.length;
      spans.push([src, end]);
      while (cursor < chars.length && from[cursor]! < end) cursor++;
      continue;
    }
    if ('unknownWord' in p) {
      if (at >= chars.length) {
        miss();
        continue;
      }
      let end = at + 1;
      if (!isPunct(chars[at]!)) while (end < chars.length && !isSpace(chars[end]!) && !isPunct(chars[end]!)) end++;
      spans.push([from[at]!, to[end - 1]!]);
      cursor = end;
      continue;
    }
    const want = [...p.piece];
    let ok = want.length > 0 && at + want.length <= chars.length;
    for (let k = 0; ok && k < want.length; k++) if (chars[at + k] !== want[k]) ok = false;
    if (!ok) {
      miss();
      continue;
    }
    spans.push([from[at]!, to[at + want.length - 1]!]);
    cursor = at + want.length;
  }
  return { spans, issues };
}

// BertNormalizer, one code point at a time

export function bertNormChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (cp === 0 || cp === 0xfffd) return '';
  if (/\s/u.test(ch)) return ' ';
  if (/[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u.test(ch)) return '';
  return ch
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '');
}

export function isBertPunct(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  return /\p{P}/u.test(ch);
}
