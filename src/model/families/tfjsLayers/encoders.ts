// Text → the ids a layers model reads: one id per character from the project's metadata, or the
// Hugging Face tokenizer beside model.json.
import type { HfTokenizer } from '../../tokenizers/hfTokenizer';
import type { Token } from '../../../../shared/trace';
import type { TfjsCharMetadata } from './files';

export interface Encoded {
  readonly tokens: Token[];
  readonly truncated: boolean;
  readonly covered: number;
  readonly unknown: number;
}

export interface TextEncoderLike {
  readonly kind: string;
  readonly vocabSize: number;
  encode(text: string, maxTokens: number): Encoded;
  piece(id: number): string;
}

export function charEncoder(meta: TfjsCharMetadata): TextEncoderLike {
  const index = new Map<string, number>();
  meta.vocab.forEach((c, i) => {
    if (i !== meta.unkId && i !== meta.padId && !index.has(c)) index.set(c, i);
  });
  return {
    kind: 'characters',
    vocabSize: meta.vocab.length,
    piece: (id) => meta.vocab[id] ?? `<${id}>`,
    encode(text, maxTokens) {
      const tokens: Token[] = [];
      let offset = 0;
      let unknown = 0;
      let truncated = false;
      for (const ch of text) {
        if (tokens.length >= maxTokens) {
          truncated = true;
          break;
        }
        const key = meta.lowercase ? ch.toLowerCase() : ch;
        const id = index.get(key) ?? (/^\s$/u.test(ch) ? index.get(' ') : undefined);
        if (id === undefined) unknown++;
        tokens.push({
          text: ch,
          id: id ?? meta.unkId,
          start: offset,
          end: offset + ch.length,
          ...(id === undefined ? { unknown: true } : {}),
        });
        offset += ch.length;
      }
      return { tokens, truncated, covered: offset, unknown };
    },
  };
}

export function hfEncoder(tok: HfTokenizer): TextEncoderLike {
  return {
    kind: 'the tokenizer beside model.json',
    vocabSize: tok.vocabSize,
    piece: (id) => tok.piece(id),
    encode(text, maxTokens) {
      const enc = tok.encode(text, { maxTokens });
      return {
        tokens: [...enc.tokens],
        truncated: enc.truncated,
        covered: enc.coveredLength,
        unknown: enc.tokens.filter((t) => t.unknown).length,
      };
    },
  };
}
