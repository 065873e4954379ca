// The HF tokenizer wrapper: ids equal an independent Python BPE (fixtures), and every token's UTF-16
// offsets point at the text it came from, for emoji, combining marks, CRLF, RTL and accented text,
// unknown characters and byte-fallback tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HfTokenizer, type HfEncoding, type HfToken } from '../../src/model/tokenizers/hfTokenizer';
import { AttentionInputError } from '../../shared/trace';

const MODEL_DIR = path.join(__dirname, '..', '..', 'models', 'tinystories-656k');
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'llama');

const view = (_text: string, e: HfEncoding): string[] =>
  e.tokens.map((t) => `${t.piece}@${t.start}:${t.end}${t.special ? '!' : ''}${t.unknown ? '?' : ''}${t.byteFallback ? 'b' : ''}`);

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
    if (t.start < prevEnd) assert.ok(t.byteFallback && t.start === prevStart && t.end === prevEnd, `${where}: ${t.piece} overlaps`);
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
      for (const ch of slice) assert.equal(tok.encodeIds(ch, false).includes(tok.unkId!), true, `${where}: ${JSON.stringify(ch)} is really unknown`);
    }
    prevStart = t.start;
    prevEnd = Math.max(prevEnd, t.end);
  }
  assert.ok(covered.every((c) => c === 1), `${where}: every character belongs to a token`);
}

test('ids match the independent Python BPE for every fixture text', async () => {
  const tok = await HfTokenizer.load(MODEL_DIR);
  let n = 0;
  for (const f of ['prompt0.json', 'prompt1.json', 'prompt2.json']) {
    const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) as { prompt: string; ids: number[]; pieces: string[] };
    const e = tok.encode(fx.prompt);
    assert.deepEqual(e.tokens.map((t) => t.id), fx.ids);
    assert.deepEqual(e.tokens.map((t) => t.piece), fx.pieces);
    checkInvariants(tok, fx.prompt, e);
    n++;
  }
  const heads = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'heads.json'), 'utf8')) as { sentences: string[]; sentenceIds: number[][] };
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
    ['Hello <|end_story|> world', ['▁@0:0', 'Hell@0:4', 'o@4:5', '▁<|end_story|>@5:19!', '▁@19:20', 'wor@20:23', 'ld@23:25']],
    ['<unk>中文', ['▁<unk>@0:5!?', '<unk>@5:7?']],
    [' leading  double', ['▁@0:0', '▁@0:1', 'lea@1:4', 'd@4:5', 'ing▁@5:9', '▁@9:10', 'd@10:11', 'ou@11:13', 'ble@13:16']],
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
    'a', 'the ', 'Lily', ' ', '  ', '.', ',', '!', '"', "'s", '\n', '\r\n', '\t', 'é', 'e\u0301', 'ñ', '😀', '👍🏽', '👨‍👩‍👧', '🇫🇷',
    'ש', 'לום', 'مرحبا', '中', '文', 'ǅ', '\u00a0', '\u200b', '▁', '<', '|>', '<|end_story|>', '<unk>', '0', '42', 'Z', 'ß', '\ud800',
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
    assert.deepEqual(e.tokens.map((t) => t.id), tok.encodeIds(text, false), 'same ids as the library');
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
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
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
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', fuse_unk: true, byte_fallback: true, vocab, merges: ['▁ a', 'a b'] },
  };
  const tok = new HfTokenizer(tokenizerJson, { bos_token: '<s>', unk_token: '<unk>', add_bos_token: true });
  const cases: [string, string[]][] = [
    ['a😀b', ['<s>@-1:-1!', '▁a@0:1', '<0xF0>@1:3b', '<0x9F>@1:3b', '<0x98>@1:3b', '<0x80>@1:3b', 'b@3:4']],
    ['ab é e\u0301', ['<s>@-1:-1!', '▁a@0:1', 'b@1:2', '▁@2:3', 'é@3:4', '▁@4:5', '<0x65>@5:6b', '<0xCC>@6:7b', '<0x81>@6:7b']],
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
  const vocab: Record<string, number> = { '<|endoftext|>': 0, H: 1, i: 2, Ġ: 3, 'Ã': 4, '©': 5, 'Ã©': 6, 'ĠÃ©': 7, 'Hi': 8 };
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
  assert.deepEqual(cut.tokens.map((t) => t.id), full.tokens.slice(0, 50).map((t) => t.id));
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
  assert.throws(() => new HfTokenizer({ hello: 1 }), (e: unknown) => e instanceof AttentionInputError && e.code === 'file');
  await assert.rejects(HfTokenizer.load('/nonexistent-dir'), (e: unknown) => e instanceof AttentionInputError && e.code === 'file');
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
