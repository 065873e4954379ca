// A Unicode-aware word/punctuation tokenizer for the toy model, built on Intl.Segmenter (UAX #29
// word boundaries). Words and punctuation marks become tokens; whitespace (and invisible format
// and control characters on their own) is dropped. Offsets are UTF-16 indices into the input, so
// `text.slice(t.start, t.end) === t.text` always holds: emoji ZWJ sequences, flags, combining
// marks and CRLF never split, and right-to-left text keeps its logical (memory) order.
import type { Token } from '../../../shared/trace';

/** Size of the hashed vocabulary the toy model's token ids fall into. */
export const WORD_VOCAB_SIZE = 32768;

export interface WordTokenizeOptions {
  /** Stop after this many tokens (the rest of the text is not tokenized). */
  readonly maxTokens?: number;
  /** Hash ids into [0, vocabSize). Default WORD_VOCAB_SIZE. */
  readonly vocabSize?: number;
  /** Locale for the segmenter; word boundaries differ a little by language (e.g. Thai, Japanese). */
  readonly locale?: string;
}

export interface WordTokenization {
  readonly tokens: Token[];
  /** True when more tokens followed the last one returned. */
  readonly truncated: boolean;
  /** UTF-16 length of the text the tokens cover: the end of the last token when truncated, else text.length. */
  readonly coveredLength: number;
}

/** Segments that carry nothing visible: whitespace (incl. CR, LF, NBSP), controls, format characters (ZWSP, BOM, lone ZWJ). */
const INVISIBLE = /^[\s\p{Z}\p{Cc}\p{Cf}]+$/u;
/**
 * Invisible marks that word segmentation glues onto the word before them (UAX #29 treats format
 * characters as part of the preceding word): zero-width space/joiners, bidi marks and embeddings
 * (common around RTL words), word joiner, BOM. Trimmed off a token's edges, never from its middle.
 */
const EDGE_MARK = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]/;

/**
 * The key two spellings of a word share: Unicode NFC (so a precomposed é and e + U+0301 agree) and
 * lower case. The toy model seeds a token's embedding from this key.
 */
export function wordKey(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

/** FNV-1a, 32 bits, over the UTF-16 code units of `s`. Stable across runs and platforms. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The deterministic id of a word: a hash of its key into [0, vocabSize). */
export function wordId(text: string, vocabSize: number = WORD_VOCAB_SIZE): number {
  return fnv1a32(wordKey(text)) % vocabSize;
}

const segmenters = new Map<string, Intl.Segmenter>();

function segmenterFor(locale: string | undefined): Intl.Segmenter {
  const key = locale ?? '';
  let s = segmenters.get(key);
  if (!s) {
    s = new Intl.Segmenter(locale, { granularity: 'word' });
    segmenters.set(key, s);
  }
  return s;
}

/** Splits `text` into word and punctuation tokens with UTF-16 offsets into `text`. */
export function tokenizeWords(text: string, options: WordTokenizeOptions = {}): WordTokenization {
  const max = options.maxTokens ?? Infinity;
  const vocab = options.vocabSize ?? WORD_VOCAB_SIZE;
  if (!(vocab >= 1)) throw new RangeError(`vocabSize must be at least 1, got ${vocab}`);
  const tokens: Token[] = [];
  let truncated = false;
  for (const seg of segmenterFor(options.locale).segment(text)) {
    if (INVISIBLE.test(seg.segment)) continue;
    if (tokens.length >= max) {
      truncated = true;
      break;
    }
    let a = 0;
    let b = seg.segment.length;
    while (a < b && EDGE_MARK.test(seg.segment[a]!)) a++;
    while (b > a && EDGE_MARK.test(seg.segment[b - 1]!)) b--;
    const word = seg.segment.slice(a, b);
    const start = seg.index + a;
    tokens.push({ text: word, id: wordId(word, vocab), start, end: start + word.length });
  }
  const coveredLength = truncated ? (tokens[tokens.length - 1]?.end ?? 0) : text.length;
  return { tokens, truncated, coveredLength };
}
