// The toy model's word/punctuation tokenizer: Unicode word boundaries with UTF-16 offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WORD_VOCAB_SIZE, fnv1a32, tokenizeWords, wordId, wordKey } from '../../src/model/tokenizers/wordTokenizer';

const texts = (s: string): string[] => tokenizeWords(s).tokens.map((t) => t.text);

function assertOffsets(s: string): void {
  const { tokens } = tokenizeWords(s);
  let last = 0;
  for (const t of tokens) {
    assert.equal(s.slice(t.start, t.end), t.text, `${JSON.stringify(s)}: ${JSON.stringify(t)}`);
    assert.ok(t.start >= last, 'in order, not overlapping');
    last = t.end;
  }
  // Everything dropped between tokens is invisible.
  let rest = s;
  for (const t of [...tokens].reverse()) rest = rest.slice(0, t.start) + rest.slice(t.end);
  assert.match(rest, /^[\s\p{Z}\p{Cc}\p{Cf}]*$/u, `only whitespace was dropped from ${JSON.stringify(s)}`);
}

test('words and punctuation are separate tokens; whitespace is dropped', () => {
  assert.deepEqual(texts('Hello, world! How are you?'), ['Hello', ',', 'world', '!', 'How', 'are', 'you', '?']);
  assert.deepEqual(texts("It's 3.14 (roughly) — isn't it…"), [
    "It's",
    '3.14',
    '(',
    'roughly',
    ')',
    '—',
    "isn't",
    'it',
    '…',
  ]);
  assert.deepEqual(texts('a\tb\u00a0c  d'), ['a', 'b', 'c', 'd']);
  assertOffsets("It's 3.14 (roughly) — isn't it…");
});

test('emoji ZWJ sequences, flags, skin tones and combining marks stay whole', () => {
  const s = 'We 👩‍👩‍👧‍👦 love 🇫🇷 and 👍🏽 and ❤️.';
  assert.deepEqual(texts(s), ['We', '👩‍👩‍👧‍👦', 'love', '🇫🇷', 'and', '👍🏽', 'and', '❤️', '.']);
  assertOffsets(s);
  const m = 'nai\u0308ve cafe\u0301 Z\u0351\u0352algo';
  assert.deepEqual(texts(m), ['nai\u0308ve', 'cafe\u0301', 'Z\u0351\u0352algo']);
  assertOffsets(m);
});

test('CRLF, RTL and CJK text get correct UTF-16 offsets', () => {
  const crlf = 'first line\r\nsecond line\r\n';
  assert.deepEqual(texts(crlf), ['first', 'line', 'second', 'line']);
  const toks = tokenizeWords(crlf).tokens;
  assert.equal(toks[2]!.start, 12);
  assertOffsets(crlf);
  const rtl = 'שלום, עולם! مرحبا بالعالم. ok';
  assert.deepEqual(texts(rtl), ['שלום', ',', 'עולם', '!', 'مرحبا', 'بالعالم', '.', 'ok']);
  assertOffsets(rtl);
  assertOffsets('日本語のテキストです。中文也可以！');
  assertOffsets('\u200bzero\u200bwidth\ufeff');
  assert.deepEqual(texts('\u200bzero\u200bwidth\ufeff'), ['zero', 'width']);
  // Bidi marks glued to RTL words are trimmed off the token, not kept inside it.
  const marked = 'אמר\u200F: \u2067שלום\u2069 ok';
  assert.deepEqual(texts(marked), ['אמר', ':', 'שלום', 'ok']);
  assertOffsets(marked);
  // …but a tag-sequence flag (its tags are format characters too) stays whole.
  assert.deepEqual(texts('go 🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} go'), [
    'go',
    '🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}',
    'go',
  ]);
  // Astral-plane letters count two UTF-16 units each.
  const astral = '𝒜𝒷𝒸 next';
  assert.deepEqual(
    tokenizeWords(astral).tokens.map((t) => [t.start, t.end]),
    [
      [0, 6],
      [7, 11],
    ],
  );
});

test('ids are deterministic hashes of the NFC lower-case word, inside the vocabulary', () => {
  const [a, b, c] = tokenizeWords('The THE the').tokens;
  assert.equal(a!.id, b!.id);
  assert.equal(a!.id, c!.id);
  assert.equal(wordId('caf\u00e9'), wordId('Cafe\u0301'));
  assert.equal(wordKey('Cafe\u0301'), 'caf\u00e9');
  assert.notEqual(wordId('cat'), wordId('dog'));
  // FNV-1a test vectors (32-bit): "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968.
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  for (const t of tokenizeWords('Some words, some more words; 🎉 and ☃.').tokens) {
    assert.ok(Number.isInteger(t.id) && t.id >= 0 && t.id < WORD_VOCAB_SIZE);
  }
  assert.ok(tokenizeWords('x y z', { vocabSize: 2 }).tokens.every((t) => t.id < 2));
});

test('maxTokens truncates and reports the covered length', () => {
  const r = tokenizeWords('one two, three', { maxTokens: 3 });
  assert.deepEqual(
    r.tokens.map((t) => t.text),
    ['one', 'two', ','],
  );
  assert.equal(r.truncated, true);
  assert.equal(r.coveredLength, 8);
  const all = tokenizeWords('one two, three  ', { maxTokens: 4 });
  assert.equal(all.truncated, false, 'trailing whitespace is not a truncation');
  assert.equal(all.coveredLength, 16);
  const empty = tokenizeWords('  \r\n ');
  assert.deepEqual(empty.tokens, []);
  assert.equal(empty.truncated, false);
});
