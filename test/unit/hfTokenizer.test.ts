// The HF tokenizer wrapper: ids equal an independent Python BPE (fixtures), and every token's UTF-16
// offsets point at the text it came from, for emoji, combining marks, CRLF, RTL and accented text,
// unknown characters and byte-fallback tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import {
  byteLevelBpeTokenizerJson,
  HfTokenizer,
  type HfEncoding,
  type HfToken,
} from '../../src/model/tokenizers/hfTokenizer';
import { normaliseWithOffsets } from '../../src/model/tokenizers/normalisedOffsets';
import { AttentionInputError } from '../../shared/trace';

const MODEL_DIR = path.join(__dirname, '..', '..', 'models', 'tinystories-656k');
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'llama');

const view = (_text: string, e: HfEncoding): string[] =>
  e.tokens.map(
    (t) => `${t.piece}@${t.start}:${t.end}${t.special ? '!' : ''}${t.unknown ? '?' : ''}${t.byteFallback ? 'b' : ''}`,
  );

/** Offsets are consistent with the text, whatever it is. */
function checkInvariants(
  tok: HfTokenizer,
  text: string,
  e: HfEncoding,
  surfaceOf: (t: HfToken) => string = (t) => t.piece.replaceAll('▁', ' '),
): void {
  const where = JSON.stringify(text);
  assert.equal(e.alignmentIssues, 0, `${where}: every token aligned`);
  const body = e.tokens.filter((t) => t.start >= 0);
  const covered = new Uint8Array(text.length);
  let prevStart = 0;
  let prevEnd = 0;
  for (const [i, t] of body.entries()) {
    assert.ok(t.start <= t.end && t.end <= text.length, `${where}: ${t.piece} in bounds`);
    assert.ok(t.start >= prevStart, `${where}: tokens in text order`);
    // Only byte-fallback tokens of one character may share a span; nothing else overlaps.
    if (t.start < prevEnd)
      assert.ok(t.byteFallback && t.start === prevStart && t.end === prevEnd, `${where}: ${t.piece} overlaps`);
    for (let k = t.start; k < t.end; k++) covered[k] = 1;
    const slice = text.slice(t.start, t.end).replaceAll('▁', ' ');
    const literal = !t.byteFallback && (!t.unknown || t.special); // a typed '<unk>' is literal text
    if (literal) {
      const surface = surfaceOf(t);
      const ok = slice === surface || (i === 0 && ' ' + slice === surface);
      assert.ok(ok, `${where}: token ${JSON.stringify(t.piece)} covers ${JSON.stringify(slice)}`);
    }
    if (!literal && t.unknown) {
      assert.ok(t.end > t.start, `${where}: an unknown token covers text`);
      for (const ch of slice)
        assert.equal(
          tok.encodeIds(ch, false).includes(tok.unkId!),
          true,
          `${where}: ${JSON.stringify(ch)} is really unknown`,
        );
    }
    prevStart = t.start;
    prevEnd = Math.max(prevEnd, t.end);
  }
  assert.ok(
    covered.every((c) => c === 1),
    `${where}: every character belongs to a token`,
  );
}

test('ids match the independent Python BPE for every fixture text', async () => {
  const tok = await HfTokenizer.load(MODEL_DIR);
  let n = 0;
  for (const f of ['prompt0.json', 'prompt1.json', 'prompt2.json']) {
    const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) as {
      prompt: string;
      ids: number[];
      pieces: string[];
    };
    const e = tok.encode(fx.prompt);
    assert.deepEqual(
      e.tokens.map((t) => t.id),
      fx.ids,
    );
    assert.deepEqual(
      e.tokens.map((t) => t.piece),
      fx.pieces,
    );
    checkInvariants(tok, fx.prompt, e);
    n++;
  }
  const heads = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'heads.json'), 'utf8')) as {
    sentences: string[];
    sentenceIds: number[][];
  };
  heads.sentences.forEach((s, i) => {
    assert.deepEqual(tok.encodeIds(s), heads.sentenceIds[i]);
    n++;
  });
  assert.equal(n, 8);
});

test('offsets for plain prose, with BOS and the prepended ▁ marked', async () => {
  const tok = await HfTokenizer.load(MODEL_DIR);
  const text = 'Once upon a time, there was a little';
  const e = tok.encode(text);
  assert.deepEqual(view(text, e), [
    '<|start_story|>@-1:-1!',
    '▁@0:0', // the space the normaliser prepends: no text
    'On@0:2',
    'ce▁@2:5',
    'upon▁a▁tim@5:15',
    'e,▁@15:18',
    'there▁was▁a▁@18:30',
    'l@30:31',
    'itt@31:34',
    'le@34:36',
  ]);
  assert.equal(tok.bosId, 1);
  assert.equal(tok.eosId, 2);
  assert.equal(tok.unkId, 0);
  assert.equal(tok.decode(e.tokens.map((t) => t.id)), text);
  const noBos = tok.encode(text, { addBos: false });
  assert.equal(noBos.tokens[0]!.piece, '▁');
});

test('offsets for emoji, combining marks, CRLF, RTL and accented text', async () => {
  const tok = await HfTokenizer.load(MODEL_DIR);
  const cases: [string, string[]][] = [
    // 🐶 is two UTF-16 units; 👍🏽 (thumbs up + skin tone) is two code points fused into one <unk>.
    ['a 🐶 dog 👍🏽!', ['▁a▁@0:2', '<unk>@2:4?', '▁@4:5', 'dog▁@5:9', '<unk>@9:13?', '!@13:14']],
    // e + U+0301 COMBINING ACUTE: the base letter is in the vocabulary, the mark is not.
    ['cafe\u0301 ok', ['▁@0:0', 'ca@0:2', 'fe@2:4', '<unk>@4:5?', '▁@5:6', 'ok@6:8']],
    // Precomposed é and ï are unknown; the surrounding letters keep exact offsets.
    ['Café naïve', ['▁@0:0', 'C@0:1', 'a@1:2', 'f@2:3', '<unk>@3:4?', '▁@4:5', 'na@5:7', '<unk>@7:8?', 've@8:10']],
    // CRLF: \r is unknown, \n is a token of its own.
    ['Hi.\r\nBye', ['▁@0:0', 'Hi@0:2', '.@2:3', '<unk>@3:4?', '\n@4:5', 'B@5:6', 'y@6:7', 'e@7:8']],
    // Hebrew (RTL) in logical order: one fused <unk> per run, spaces stay tokens.
    ['שלום dog', ['▁@0:0', '<unk>@0:4?', '▁@4:5', 'dog@5:8']],
    ['dog שלום עולם', ['▁@0:0', 'dog▁@0:4', '<unk>@4:8?', '▁@8:9', '<unk>@9:13?']],
  ];
  for (const [text, expected] of cases) {
    const e = tok.encode(text, { addBos: false });
    assert.deepEqual(view(text, e), expected, JSON.stringify(text));
    checkInvariants(tok, text, e);
  }
});

test('special tokens typed in the text, literal <unk>, leading and double spaces', async () => {
  const tok = await HfTokenizer.load(MODEL_DIR);
  const cases: [string, string[]][] = [
    [
      'Hello <|end_story|> world',
      ['▁@0:0', 'Hell@0:4', 'o@4:5', '▁<|end_story|>@5:19!', '▁@19:20', 'wor@20:23', 'ld@23:25'],
    ],
    ['<unk>中文', ['▁<unk>@0:5!?', '<unk>@5:7?']],
    [
      ' leading  double',
      ['▁@0:0', '▁@0:1', 'lea@1:4', 'd@4:5', 'ing▁@5:9', '▁@9:10', 'd@10:11', 'ou@11:13', 'ble@13:16'],
    ],
    ['x ▁y', ['▁@0:0', 'x▁@0:2', '▁@2:3', 'y@3:4']],
  ];
  for (const [text, expected] of cases) {
    const e = tok.encode(text, { addBos: false });
    assert.deepEqual(view(text, e), expected, JSON.stringify(text));
    checkInvariants(tok, text, e);
  }
});

test('fuzz: offsets stay consistent on 400 random mixed-script strings', async () => {
  const tok = await HfTokenizer.load(MODEL_DIR);
  const pool = [
    'a',
    'the ',
    'Lily',
    ' ',
    '  ',
    '.',
    ',',
    '!',
    '"',
    "'s",
    '\n',
    '\r\n',
    '\t',
    'é',
    'e\u0301',
    'ñ',
    '😀',
    '👍🏽',
    '👨‍👩‍👧',
    '🇫🇷',
    'ש',
    'לום',
    'مرحبا',
    '中',
    '文',
    'ǅ',
    '\u00a0',
    '\u200b',
    '▁',
    '<',
    '|>',
    '<|end_story|>',
    '<unk>',
    '0',
    '42',
    'Z',
    'ß',
    '\ud800',
  ];
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 400; i++) {
    let text = '';
    const parts = 1 + rand(12);
    for (let k = 0; k < parts; k++) text += pool[rand(pool.length)];
    const e = tok.encode(text, { addBos: false });
    checkInvariants(tok, text, e);
    assert.deepEqual(
      e.tokens.map((t) => t.id),
      tok.encodeIds(text, false),
      'same ids as the library',
    );
  }
});

test('byte-fallback tokens get the span of the character they encode', () => {
  // A small SentencePiece-style BPE with all 256 <0xNN> byte tokens (like Llama 2's tokenizer).
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 2 + b;
  for (const p of ['▁', 'a', 'b', 'c', 'é', '▁a', 'ab']) vocab[p] = Object.keys(vocab).length;
  const tokenizerJson = {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<unk>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
      { id: 1, content: '<s>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: ['▁ a', 'a b'],
    },
  };
  const tok = new HfTokenizer(tokenizerJson, { bos_token: '<s>', unk_token: '<unk>', add_bos_token: true });
  const cases: [string, string[]][] = [
    ['a😀b', ['<s>@-1:-1!', '▁a@0:1', '<0xF0>@1:3b', '<0x9F>@1:3b', '<0x98>@1:3b', '<0x80>@1:3b', 'b@3:4']],
    [
      'ab é e\u0301',
      ['<s>@-1:-1!', '▁a@0:1', 'b@1:2', '▁@2:3', 'é@3:4', '▁@4:5', '<0x65>@5:6b', '<0xCC>@6:7b', '<0x81>@6:7b'],
    ],
    ['c\r\nשa', ['<s>@-1:-1!', '▁@0:0', 'c@0:1', '<0x0D>@1:2b', '<0x0A>@2:3b', '<0xD7>@3:4b', '<0xA9>@3:4b', 'a@4:5']],
  ];
  for (const [text, expected] of cases) {
    const e = tok.encode(text);
    assert.deepEqual(view(text, e), expected, JSON.stringify(text));
    checkInvariants(tok, text, e);
    assert.equal(tok.decode(e.tokens.map((t) => t.id)), text, 'decodes back to the text');
  }
});

test('ByteLevel (GPT-2 style) pieces are mapped back to bytes', () => {
  // bytes_to_unicode: space → Ġ (U+0120); é = C3 A9 → 'Ã' '©'.
  const vocab: Record<string, number> = {
    '<|endoftext|>': 0,
    H: 1,
    i: 2,
    Ġ: 3,
    Ã: 4,
    '©': 5,
    'Ã©': 6,
    'ĠÃ©': 7,
    Hi: 8,
  };
  const tokenizerJson = {
    version: '1.0',
    added_tokens: [{ id: 0, content: '<|endoftext|>', special: true, normalized: false }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, vocab, merges: ['H i', 'Ã ©', 'Ġ Ã©'] },
  };
  const tok = new HfTokenizer(tokenizerJson, {});
  const text = 'Hi é';
  const e = tok.encode(text, { addBos: false });
  assert.deepEqual(view(text, e), ['Hi@0:2', 'ĠÃ©@2:4']);
  checkInvariants(tok, text, e, (t) => tok.decode([t.id]));
});

test('maxTokens truncates long text and reports how much was covered', async () => {
  const tok = await HfTokenizer.load(MODEL_DIR);
  const text = 'Tom and Sue like to run in the big green park. '.repeat(400);
  const full = tok.encode(text);
  const cut = tok.encode(text, { maxTokens: 50 });
  assert.equal(cut.tokens.length, 50);
  assert.equal(cut.truncated, true);
  assert.deepEqual(
    cut.tokens.map((t) => t.id),
    full.tokens.slice(0, 50).map((t) => t.id),
  );
  assert.equal(cut.coveredLength, cut.tokens.at(-1)!.end);
  const fits = tok.encode('Tom ran.', { maxTokens: 50 });
  assert.equal(fits.truncated, false);
  assert.equal(fits.coveredLength, 'Tom ran.'.length);
  // A long run of unknown characters is one fused token: the prefix heuristic must not cut it short.
  const cjk = '中'.repeat(5000) + ' dog';
  const e = tok.encode(cjk, { maxTokens: 4, addBos: false });
  assert.deepEqual(view(cjk, e), ['▁@0:0', '<unk>@0:5000?', '▁@5000:5001', 'dog@5001:5004']);
});

test('a file that is not a tokenizer is a typed error', async () => {
  assert.throws(
    () => new HfTokenizer({ hello: 1 }),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'file',
  );
  await assert.rejects(
    HfTokenizer.load('/nonexistent-dir'),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'file',
  );
});

test('tokens satisfy the trace Token contract', async () => {
  const tok = await HfTokenizer.load(MODEL_DIR);
  const e = tok.encode('Lily found a 🐞.');
  const t: HfToken = e.tokens[0]!;
  assert.equal(t.text, t.piece);
  assert.ok(e.tokens.every((x) => x.text === x.piece && Number.isInteger(x.id)));
});

test('an lstrip special token (RoBERTa <mask>) takes the space before it, with no alignment issue', async () => {
  const tok = await HfTokenizer.load(path.join(__dirname, '..', 'fixtures', 'hf', 'roberta'));
  const text = 'The cat <mask> here';
  const enc = tok.encode(text);
  assert.equal(enc.alignmentIssues, 0);
  const mask = enc.tokens.find((t) => t.text === '<mask>');
  assert.ok(mask, 'the <mask> token is there');
  assert.equal(text.slice(mask.start, mask.end), ' <mask>');
});

// ---- Normalisers that change the text's length (NFC, NFKC, Precompiled, Lowercase) ----

const QWEN2_DIR = path.join(__dirname, '..', 'fixtures', 'hf', 'qwen2');
const qwen2Json = (): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(QWEN2_DIR, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
const qwen2Config = (): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(QWEN2_DIR, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;

/** The Qwen2 fixture's byte-level tokenizer with another normalizer. */
function qwen2With(normalizer: unknown): { tok: HfTokenizer; json: Record<string, unknown> } {
  const json = { ...qwen2Json(), normalizer };
  return { tok: new HfTokenizer(json, qwen2Config()), json };
}

/**
 * Offsets point at the ORIGINAL text: tokens in order, every character covered, no alignment issue,
 * the library's ids; and every group of tokens sharing characters (the byte tokens of one character,
 * or the pieces of one normalised chunk) decodes to exactly the library's normal form of its slice.
 */
function checkOriginalSpans(tok: HfTokenizer, json: Record<string, unknown>, text: string, e: HfEncoding): void {
  const where = JSON.stringify(text);
  const normalise = (s: string): string => new Tokenizer(json, {}).normalizer?.normalize(s) ?? s;
  assert.equal(e.alignmentIssues, 0, `${where}: every token aligned`);
  assert.deepEqual(
    e.tokens.map((t) => t.id),
    tok.encodeIds(text, false),
    `${where}: the library's ids`,
  );
  const body = e.tokens.filter((t) => t.start >= 0);
  const covered = new Uint8Array(text.length);
  // Groups of tokens whose spans overlap, each with the union of its spans.
  const groups: { tokens: HfToken[]; start: number; end: number }[] = [];
  for (const [i, t] of body.entries()) {
    assert.ok(t.start < t.end && t.end <= text.length, `${where}: ${t.piece} covers text in bounds`);
    if (i > 0) assert.ok(t.start >= body[i - 1]!.start && t.end >= body[i - 1]!.end, `${where}: tokens in text order`);
    for (let k = t.start; k < t.end; k++) covered[k] = 1;
    const g = groups.at(-1);
    if (g && t.start < g.end) {
      g.tokens.push(t);
      g.end = Math.max(g.end, t.end);
    } else groups.push({ tokens: [t], start: t.start, end: t.end });
  }
  assert.ok(
    covered.every((c) => c === 1),
    `${where}: every character belongs to a token`,
  );
  for (const g of groups) {
    const slice = text.slice(g.start, g.end);
    const surface = tok.decode(
      g.tokens.map((t) => t.id),
      { skipSpecial: false },
    );
    assert.equal(
      surface,
      normalise(slice),
      `${where}: ${g.tokens.map((t) => t.piece).join(' ')} is ${JSON.stringify(slice)}`,
    );
  }
}

const spans = (text: string, e: HfEncoding): string[] =>
  e.tokens.map((t) => `${t.piece}@${t.start}:${t.end}=${text.slice(t.start, t.end)}`);

test('NFC (Qwen2): a decomposed accent belongs to the token that holds the composed letter', async () => {
  const tok = await HfTokenizer.load(QWEN2_DIR);
  const text = 'The cafe\u0301 (quick)';
  const e = tok.encode(text);
  assert.equal(e.alignmentIssues, 0);
  assert.deepEqual(spans(text, e), [
    'The@0:3=The',
    'Ġ@3:4= ',
    'cafÃ©@4:9=cafe\u0301',
    'Ġ(@9:11= (',
    'quick@11:16=quick',
    ')@16:17=)',
  ]);
  assert.equal(e.coveredLength, text.length);
});

test('NFC (Qwen2): offsets map back to the original text for accents, jamo, emoji, CRLF and added tokens', async () => {
  const tok = await HfTokenizer.load(QWEN2_DIR);
  const json = qwen2Json();
  const cases = [
    'The cafe\u0301 (quick)',
    'Cafe\u0301 nai\u0308ve re\u0301sume\u0301!', // decomposed accents, several per word
    'o\u0302\u0301 e\u0323\u0302 A\u030a', // two marks on one base (ố, ệ), Å from A + ring
    '\u1112\u1161\u11ab\u1100\u1173\u11af ok', // Hangul jamo: 한글 from six conjoining jamo
    '가\u11a8 각', // a precomposed LV syllable + a trailing T jamo composes to 각
    '👨‍👩‍👧 fam e\u0301 👍🏽', // an emoji ZWJ sequence and a skin tone stay as they are
    'Hi.\r\nBye e\u0301\r\n\r\nend', // CRLF
    'x<|im_start|>e\u0301<|endoftext|>e\u0301', // added tokens typed in the text
    '\u0301 leading mark, e\u0301\u0301 doubled',
    'ǅ ﬁ ① Ａ', // NFC leaves compatibility characters alone
  ];
  for (const text of cases) {
    const e = tok.encode(text);
    checkOriginalSpans(tok, json, text, e);
  }
  // The typed added tokens keep their own spans.
  const text = 'x<|im_start|>e\u0301<|endoftext|>e\u0301';
  assert.deepEqual(
    tok.encode(text).tokens.map((t) => text.slice(t.start, t.end)),
    ['x', '<|im_start|>', 'e\u0301', 'e\u0301', '<|endoftext|>', 'e\u0301', 'e\u0301'],
  );
});

test('NFKC: ligatures, circled and full-width characters map back to the one character they came from', () => {
  const { tok, json } = qwen2With({ type: 'NFKC' });
  const text = 'ﬁne ①Ａ x²';
  const e = tok.encode(text);
  checkOriginalSpans(tok, json, text, e);
  // ﬁ is one character in the text and two ('fi') in the model's input: its tokens all point at it.
  for (const t of e.tokens) assert.ok(t.end - t.start >= 1);
  assert.equal(text.slice(e.tokens[0]!.start, e.tokens[0]!.end), 'ﬁ');
  for (const text2 of ['ﬁ ﬂ ﬃ', 'e\u0301 ǅ ㈱ ℌ ｶﾞ', '\u1112\u1161\u11ab 👨‍👩‍👧 \r\n Ⅻ'])
    checkOriginalSpans(tok, json, text2, tok.encode(text2));
});

test('Precompiled, Lowercase and a Sequence of them: controls, CRLF, İ and final sigma', () => {
  const cases: [unknown, string[]][] = [
    [
      { type: 'Precompiled', precompiled_charsmap: null },
      ['a\tb\r\nc\u0001d ﬁ', 'x\u00a0y\u3000z e\u0301', '\u0007', 'end\u0008'],
    ],
    [{ type: 'Lowercase' }, ['İSTANBUL ΟΔΟΣ ΣΑ', 'ǅ Ǆ ß ẞ', "ΑΒ'Σ ok"]], // the last: a final sigma decided across an apostrophe
    [
      { type: 'Sequence', normalizers: [{ type: 'NFKD' }, { type: 'StripAccents' }, { type: 'Lowercase' }] },
      ['Café NAÏVE ﬁ', 'Ω e\u0301'],
    ],
  ];
  for (const [normalizer, texts] of cases) {
    const { tok, json } = qwen2With(normalizer);
    for (const text of texts) {
      const e = tok.encode(text);
      if (text === '\u0007') {
        // The only character is deleted: no token, and nothing to misalign.
        assert.deepEqual(e.tokens, []);
        assert.equal(e.alignmentIssues, 0);
        continue;
      }
      checkOriginalSpans(tok, json, text, e);
    }
  }
});

test('NFKC before a SentencePiece Prepend/Replace: ▁ still matches the spaces of the original', () => {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 2 + b;
  for (const p of ['▁', 'a', 'b', 'f', 'i', 'é', '▁a', 'fi', '▁fi']) vocab[p] = Object.keys(vocab).length;
  const tokenizerJson = {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<unk>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
      { id: 1, content: '<s>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFKC' },
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: ['▁ a', 'f i', '▁ fi'],
    },
  };
  const tok = new HfTokenizer(tokenizerJson, { bos_token: '<s>', unk_token: '<unk>', add_bos_token: false });
  const text = 'ﬁ ａb e\u0301';
  const e = tok.encode(text);
  assert.equal(e.alignmentIssues, 0);
  assert.deepEqual(spans(text, e), ['▁fi@0:1=ﬁ', '▁a@1:3= ａ', 'b@3:4=b', '▁@4:5= ', 'é@5:7=e\u0301']);
});

test('text without length-changing normalisation keeps exact offsets under NFC', async () => {
  const tok = await HfTokenizer.load(QWEN2_DIR);
  const text = "The quick fox's café, 2026 😀";
  const e = tok.encode(text);
  checkOriginalSpans(tok, qwen2Json(), text, e);
  assert.deepEqual(
    e.tokens.map((t) => text.slice(t.start, t.end)),
    ['The', ' quick', ' fox', "'s", ' ', 'café', ',', ' ', '2', '0', '2', '6', ' ', '😀', '😀', '😀', '😀'],
  );
});

// ---- A Qwen2 folder with vocab.json + merges.txt and no tokenizer.json ----

test("a Qwen2 folder without tokenizer.json builds Qwen2Converter's tokenizer: the same ids as with it", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen2-no-tokenizer-json-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const f of fs.readdirSync(QWEN2_DIR))
    if (f !== 'tokenizer.json' && f !== 'model.safetensors')
      fs.copyFileSync(path.join(QWEN2_DIR, f), path.join(dir, f));
  const saved = await HfTokenizer.load(QWEN2_DIR);
  const built = await HfTokenizer.load(dir);
  const reference = JSON.parse(fs.readFileSync(path.join(QWEN2_DIR, 'reference.json'), 'utf8')) as {
    cases: { text: string; ids: number[] }[];
  };
  const texts = [
    ...reference.cases.map((c) => c.text),
    "IT'S (quick).\n\n你好 world!",
    'The cafe\u0301 (quick)<|im_start|>x<|endoftext|>',
  ];
  for (const c of reference.cases)
    assert.deepEqual(
      built.encode(c.text).tokens.map((x) => x.id),
      c.ids,
      `${JSON.stringify(c.text)}: reference ids`,
    );
  for (const text of texts) {
    assert.deepEqual(built.encode(text), saved.encode(text), `${JSON.stringify(text)}: same tokens and offsets`);
    assert.equal(built.decode(built.encodeIds(text)), saved.decode(saved.encodeIds(text)));
  }
  assert.equal(built.bosId, undefined);
  assert.equal(built.eosId, saved.eosId);
  assert.equal(built.addBosDefault, false);
  assert.equal(built.vocabSize, saved.vocabSize);
  // The GPT-2 converter (what such a folder got before) splits "'S" and ".\n\n" otherwise.
  const gpt2 = new HfTokenizer(
    byteLevelBpeTokenizerJson(
      fs.readFileSync(path.join(QWEN2_DIR, 'vocab.json'), 'utf8'),
      fs.readFileSync(path.join(QWEN2_DIR, 'merges.txt'), 'utf8'),
      qwen2Config(),
    ),
    qwen2Config(),
  );
  const text = "IT'S (quick).\n\n你好 world!";
  assert.notDeepEqual(gpt2.encodeIds(text), saved.encodeIds(text));
});

test('Qwen2 is chosen by tokenizer_class first, else by model_type', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen2-by-model-type-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const f of ['vocab.json', 'merges.txt', 'config.json'])
    fs.copyFileSync(path.join(QWEN2_DIR, f), path.join(dir, f));
  const { tokenizer_class: _omit, ...config } = qwen2Config();
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  const saved = await HfTokenizer.load(QWEN2_DIR);
  const text = "IT'S (quick).\n\n你好 world!";
  assert.deepEqual((await HfTokenizer.load(dir)).encodeIds(text), saved.encodeIds(text), 'model_type qwen2');
  fs.writeFileSync(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify({ ...config, tokenizer_class: 'GPT2Tokenizer' }),
  );
  assert.notDeepEqual(
    (await HfTokenizer.load(dir)).encodeIds(text),
    saved.encodeIds(text),
    'an explicit GPT2Tokenizer wins over model_type',
  );
});

test('the normalised-text map: composed, expanded, deleted and kept characters', () => {
  /** Each normalised code point with the original span it maps to. */
  const map = (text: string, f: (s: string) => string, keep: string[] = []): string[] => {
    const r = normaliseWithOffsets(text, f, keep);
    assert.equal(r.originalLength, text.length);
    const out: string[] = [];
    let u = 0;
    for (const ch of r.text) {
      out.push(`${ch}@${r.start[u]}:${r.end[u + ch.length - 1]}`);
      u += ch.length;
    }
    return out;
  };
  const nfkc = (s: string): string => s.normalize('NFKC');
  // e + U+0301 → é covers both; the ligature's two letters both cover it.
  assert.deepEqual(map('cafe\u0301 ﬁ', nfkc), ['c@0:1', 'a@1:2', 'f@2:3', 'é@3:5', ' @5:6', 'f@6:7', 'i@6:7']);
  // Deleted controls join the next character (the last one at the end); CRLF maps per character.
  const clean = (s: string): string => s.replace(/[\u0001-\u0008]/g, '').replace(/[\r\n]/g, ' '); // eslint-disable-line no-control-regex
  assert.deepEqual(map('\u0001a\u0002\r\nb\u0007', clean), ['a@0:2', ' @2:4', ' @4:5', 'b@5:7']);
  // A kept literal (an added token) is not normalised, nor joined with its neighbours.
  assert.deepEqual(
    map('e\u0301<x\u0301>e\u0301', (s) => s.normalize('NFC'), ['<x\u0301>']),
    ['é@0:2', '<@2:3', 'x@3:4', '\u0301@4:5', '>@5:6', 'é@6:8'],
  );
  // A final sigma decided two characters away: the smallest exact merge, not the whole text.
  assert.deepEqual(
    map("x ΑΒ'Σ ok", (s) => s.toLowerCase()),
    ['x@0:1', ' @1:2', 'α@2:3', 'β@3:6', "'@3:6", 'ς@3:6', ' @6:7', 'o@7:8', 'k@8:9'],
  );
  // Nothing to do: the identity, unit for unit (a surrogate pair is two units).
  assert.deepEqual(map('a😀', nfkc), ['a@0:1', '😀@1:3']);
});

test('fuzz: NFC and NFKC offsets stay exact on 300 random strings of marks, jamo, ligatures and emoji', () => {
  const pool = [
    'a',
    'e',
    ' ',
    '  ',
    'The ',
    "'s",
    '.',
    '(',
    '\n',
    '\r\n',
    '\t',
    'é',
    'e\u0301',
    '\u0301',
    '\u0308\u0301',
    'A\u030a',
    'ﬁ',
    'ﬂ',
    '①',
    'Ａ',
    'ｶﾞ',
    'ﾞ',
    '\u1112\u1161\u11ab',
    '\u1100',
    '\u1173',
    '\u11af',
    '가',
    '\u11a8',
    '👨‍👩‍👧',
    '👍🏽',
    '🏽',
    '\u200d',
    '🇫🇷',
    '中',
    'ש',
    'ǅ',
    '²',
    '\u00a0',
    '<|im_start|>',
    '<|endoftext|>',
    '0',
    '42',
  ];
  let seed = 2026;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (const form of ['NFC', 'NFKC']) {
    const { tok, json } = qwen2With({ type: form });
    for (let i = 0; i < 150; i++) {
      let text = '';
      const parts = 1 + rand(10);
      for (let k = 0; k < parts; k++) text += pool[rand(pool.length)];
      checkOriginalSpans(tok, json, text, tok.encode(text));
    }
  }
});

test('maxTokens under NFC: the kept tokens and the covered length are in the original text', async () => {
  const tok = await HfTokenizer.load(QWEN2_DIR);
  const text = 'The cafe\u0301 (quick) \u1112\u1161\u11ab e\u0301. '.repeat(300);
  const full = tok.encode(text);
  const cut = tok.encode(text, { maxTokens: 40 });
  assert.equal(cut.truncated, true);
  assert.equal(cut.alignmentIssues, 0);
  assert.deepEqual(cut.tokens, full.tokens.slice(0, 40));
  assert.equal(cut.coveredLength, cut.tokens.at(-1)!.end);
  assert.ok(
    !/^[\u0301\u1161\u11ab]/.test(text.slice(cut.coveredLength)),
    'the cut is not inside a decomposed character',
  );
});
