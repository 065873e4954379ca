// Hugging Face tokenizers (tokenizer.json + tokenizer_config.json, or a vocab.txt / vocab.json +
// merges.txt turned into the equivalent tokenizer.json) through @huggingface/tokenizers,
// plus what that library does not give: each token's UTF-16 offsets in the input text.
//
// The library returns token strings only, so the offsets are recovered by aligning the tokens'
// bytes with the text's UTF-8 bytes, left to right:
//   - SentencePiece pieces: '▁' is a word boundary that matches a space (or a literal '▁') in the text,
//     or nothing when it is the space the normaliser prepends to the input;
//   - byte-fallback tokens '<0xNN>' are one byte each; every byte token of a character gets the span
//     of that whole character (so the spans of a 4-byte emoji's tokens overlap);
//   - ByteLevel (GPT-2 style) pieces are mapped back to their bytes;
//   - '<unk>' covers one code point the vocabulary lacks, or, with fuse_unk, the whole run of them;
//   - added tokens typed literally in the text (e.g. '<|end_story|>') match their text.
// No vscode import; used by the Llama loader and usable by any HF-tokenized model.
import { Tokenizer } from '@huggingface/tokenizers';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { AttentionInputError, type Token } from '../../../shared/trace';

export interface HfToken extends Token {
  /** The token as the vocabulary spells it (e.g. '▁the▁', '<0xE2>', '<unk>'). Same as `text`. */
  readonly piece: string;
  /** A byte-fallback token '<0xNN>': one UTF-8 byte of a character the vocabulary lacks. */
  readonly byteFallback?: boolean;
}

export interface HfEncodeOptions {
  /** Prepend the BOS token (default: tokenizer_config's add_bos_token, else whether the post-processor adds one). */
  readonly addBos?: boolean;
  /** Keep at most this many tokens (BOS included). */
  readonly maxTokens?: number;
}

export interface HfEncoding {
  readonly tokens: readonly HfToken[];
  /** True when tokens were dropped to respect maxTokens. */
  readonly truncated: boolean;
  /** Characters of the text covered by the kept tokens: text.slice(0, coveredLength) is what the model sees. */
  readonly coveredLength: number;
  /** Tokens whose bytes could not be matched with the text (0 for every tokenizer this was tested with). */
  readonly alignmentIssues: number;
}

const MARK = 256; // a '▁' word-boundary unit
const utf8 = new TextEncoder();

interface AddedInfo {
  readonly content: string;
  readonly special: boolean;
  readonly normalized: boolean;
  /** The token swallows the whitespace before it (RoBERTa's <mask>). */
  readonly lstrip: boolean;
}

/** GPT-2's byte ↔ printable-character table, inverted: char → byte. */
function byteLevelDecoderTable(): Map<string, number> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const map = new Map<string, number>();
  bs.forEach((b, i) => map.set(String.fromCodePoint(cs[i]!), b));
  return map;
}

function typeTree(node: unknown, out: unknown[] = []): unknown[] {
  if (node && typeof node === 'object') {
    out.push(node);
    const obj = node as Record<string, unknown>;
    for (const key of ['normalizers', 'pretokenizers', 'decoders', 'processors']) {
      const list = obj[key];
      if (Array.isArray(list)) for (const child of list) typeTree(child, out);
    }
  }
  return out;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** A file's text, or undefined when it does not exist; other read errors are AttentionInputErrors. */
async function readOptionalText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AttentionInputError('file', `Cannot read ${file}: ${(err as Error).message}`);
  }
}

async function readOptionalJson(file: string): Promise<unknown> {
  const text = await readOptionalText(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AttentionInputError('file', `Cannot read ${file}: ${(err as Error).message}`);
  }
}

/** A special token's text in tokenizer_config.json / special_tokens_map.json: a string or {content}. */
function specialName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const content = asRecord(v)['content'];
  return typeof content === 'string' ? content : undefined;
}

/** Lines as Python's text-mode readlines() splits them (\n, \r\n or \r), without the final empty one. */
function fileLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/**
 * The added-token list: tokenizer_config's `added_tokens_decoder` when it has one, else the named
 * special tokens (appended after the vocabulary when it lacks them, as transformers does).
 */
function addedTokens(vocab: Record<string, number>, size: number, config: Record<string, unknown>, names: readonly string[], lstrip: ReadonlySet<string> = new Set()): AddedTokenJson[] {
  const out: AddedTokenJson[] = [];
  const decoder = asRecord(config['added_tokens_decoder']);
  const entries = Object.entries(decoder);
  if (entries.length > 0) {
    for (const [key, raw] of entries) {
      const t = asRecord(raw);
      const id = Number(key);
      if (!Number.isSafeInteger(id) || id < 0 || typeof t['content'] !== 'string') continue;
      out.push({
        id,
        content: t['content'],
        single_word: t['single_word'] === true,
        lstrip: t['lstrip'] === true,
        rstrip: t['rstrip'] === true,
        normalized: t['normalized'] === true,
        special: t['special'] === true,
      });
    }
    return out.sort((a, b) => a.id - b.id);
  }
  let next = size;
  const seen = new Set<string>();
  for (const name of names) {
    const content = specialName(config[name]);
    if (content === undefined || seen.has(content)) continue;
    seen.add(content);
    const id = Object.prototype.hasOwnProperty.call(vocab, content) ? vocab[content]! : next++;
    out.push({ id, content, single_word: false, lstrip: lstrip.has(name), rstrip: false, normalized: false, special: true });
  }
  return out.sort((a, b) => a.id - b.id);
}

function withDefaults(config: Record<string, unknown>, defaults: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const [k, v] of Object.entries(defaults)) if (out[k] === undefined || out[k] === null) out[k] = v;
  return out;
}

/**
 * The tokenizer.json that transformers' BertConverter makes from a BERT-style vocab.txt (one token
 * per line, id = line number) and tokenizer_config.json: BertNormalizer (clean text, CJK characters
 * split, lowercase and accent stripping per do_lower_case / strip_accents), BertPreTokenizer,
 * WordPiece with the '##' continuation prefix, '[CLS] $A [SEP]' post-processing.
 */
export function wordPieceTokenizerJson(vocabText: string, tokenizerConfig: unknown, where = 'vocab.txt'): Record<string, unknown> {
  const config = withDefaults(asRecord(tokenizerConfig), { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' });
  const vocab = Object.create(null) as Record<string, number>;
  const lines = fileLines(vocabText);
  lines.forEach((token, i) => (vocab[token] = i));
  if (lines.length === 0) throw new AttentionInputError('file', `${where} is empty; a WordPiece vocabulary lists one token per line.`);
  const unk = specialName(config['unk_token'])!;
  if (!(unk in vocab)) throw new AttentionInputError('file', `${where} has no ${unk} token (tokenizer_config.json's unk_token).`);
  const cls = specialName(config['cls_token'])!;
  const sep = specialName(config['sep_token'])!;
  const added = addedTokens(vocab, lines.length, config, ['unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']);
  const idOf = (t: string): number => added.find((a) => a.content === t)?.id ?? vocab[t]!;
  const lowercase = config['do_lower_case'] !== false;
  const stripAccents = typeof config['strip_accents'] === 'boolean' ? config['strip_accents'] : null;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: config['tokenize_chinese_chars'] !== false, strip_accents: stripAccents, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } }],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: { [cls]: { id: cls, ids: [idOf(cls)], tokens: [cls] }, [sep]: { id: sep, ids: [idOf(sep)], tokens: [sep] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: unk, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/**
 * The tokenizer.json that transformers' GPT2Converter / RobertaConverter makes from vocab.json and
 * merges.txt: byte-level BPE (ByteLevel pre-tokenizer and decoder); RoBERTa-style folders (by
 * tokenizer_class or model_type) get '<s> $A </s>' post-processing, GPT-2-style ones a BOS only
 * when tokenizer_config says add_bos_token.
 */
export function byteLevelBpeTokenizerJson(vocabJson: string, mergesText: string, tokenizerConfig: unknown, modelType?: string, where = 'vocab.json'): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(vocabJson);
  } catch (err) {
    throw new AttentionInputError('file', `${where} is not valid JSON: ${(err as Error).message}`);
  }
  const raw = asRecord(parsed);
  const vocab = Object.create(null) as Record<string, number>;
  let size = 0;
  for (const [token, id] of Object.entries(raw)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) throw new AttentionInputError('file', `${where}: the id of ${JSON.stringify(token.slice(0, 40))} is not a non-negative integer.`);
    vocab[token] = id as number;
    size = Math.max(size, (id as number) + 1);
  }
  if (size === 0) throw new AttentionInputError('file', `${where} is empty; expected an object mapping tokens to ids.`);
  const merges: string[] = [];
  for (const [i, line] of fileLines(mergesText).entries()) {
    if (i === 0 && line.startsWith('#version')) continue;
    if (line.trim() === '') continue;
    const parts = line.split(' ');
    if (parts.length !== 2) throw new AttentionInputError('file', `merges.txt line ${i + 1} is not two tokens separated by one space.`);
    merges.push(line);
  }
  const tokClass = typeof asRecord(tokenizerConfig)['tokenizer_class'] === 'string' ? (asRecord(tokenizerConfig)['tokenizer_class'] as string) : '';
  const roberta = /roberta|bart|longformer|camembert/i.test(tokClass) || /roberta|bart|longformer|camembert/i.test(modelType ?? '');
  const config = roberta
    ? withDefaults(asRecord(tokenizerConfig), { bos_token: '<s>', eos_token: '</s>', sep_token: '</s>', cls_token: '<s>', unk_token: '<unk>', pad_token: '<pad>', mask_token: '<mask>' })
    : withDefaults(asRecord(tokenizerConfig), { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' });
  const names = roberta ? ['bos_token', 'pad_token', 'eos_token', 'unk_token', 'sep_token', 'cls_token', 'mask_token'] : ['bos_token', 'eos_token', 'unk_token', 'pad_token'];
  const added = addedTokens(vocab, size, config, names, new Set(['mask_token']));
  const idOf = (t: string): number => added.find((a) => a.content === t)?.id ?? vocab[t] ?? 0;
  const addPrefixSpace = config['add_prefix_space'] === true;
  let postProcessor: Record<string, unknown>;
  if (roberta) {
    const sep = specialName(config['sep_token'])!;
    const cls = specialName(config['cls_token'])!;
    postProcessor = { type: 'RobertaProcessing', sep: [sep, idOf(sep)], cls: [cls, idOf(cls)], trim_offsets: true, add_prefix_space: addPrefixSpace };
  } else if (config['add_bos_token'] === true) {
    const bos = specialName(config['bos_token'])!;
    postProcessor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [idOf(bos)], tokens: [bos] } },
    };
  } else {
    postProcessor = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true };
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

export class HfTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly unkId: number | undefined;
  readonly unkToken: string | undefined;
  readonly addBosDefault: boolean;
  private readonly lib: Tokenizer;
  private readonly added = new Map<number, AddedInfo>();
  private readonly vocab: Map<string, number>;
  private readonly idToPiece: string[];
  private readonly byteFallback: boolean;
  private readonly fuseUnk: boolean;
  private readonly byteLevel: Map<string, number> | undefined;
  /** Whether the normaliser / pre-tokenizer puts a '▁' before the input. */
  readonly prependsSpace: boolean;
  /** The word-boundary character pieces use for a space ('▁' for SentencePiece-style vocabularies). */
  readonly replacement: string;
  private readonly prependsAfterAdded: 'never' | 'always' | 'unnormalized';
  /** Longest piece, in UTF-16 units of text it can cover (for cheap pre-truncation of huge inputs). */

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = {}, where = 'tokenizer.json') {
    const json = asRecord(tokenizerJson);
    const config = asRecord(tokenizerConfig);
    const model = asRecord(json['model']);
    if (!json['model'] || (typeof model['type'] !== 'string' && !model['vocab'])) {
      throw new AttentionInputError('file', `${where} has no "model" section; it is not a Hugging Face tokenizer.json.`);
    }
    try {
      this.lib = new Tokenizer(json, config);
    } catch (err) {
      throw new AttentionInputError('file', `${where} could not be loaded: ${(err as Error).message}`);
    }
    this.vocab = this.lib.get_vocab(true);
    this.idToPiece = [];
    for (const [piece, id] of this.vocab) this.idToPiece[id] = piece;
    this.vocabSize = this.idToPiece.length;
    const addedList = Array.isArray(json['added_tokens']) ? (json['added_tokens'] as unknown[]) : [];
    for (const raw of addedList) {
      const t = asRecord(raw);
      if (typeof t['id'] === 'number' && typeof t['content'] === 'string') {
        this.added.set(t['id'], { content: t['content'], special: t['special'] === true, normalized: t['normalized'] !== false, lstrip: t['lstrip'] === true });
      }
    }
    const tokenName = (v: unknown): string | undefined =>
      typeof v === 'string' ? v : typeof asRecord(v)['content'] === 'string' ? (asRecord(v)['content'] as string) : undefined;
    const idOf = (name: string | undefined): number | undefined => (name === undefined ? undefined : this.vocab.get(name));
    this.unkToken = tokenName(config['unk_token']) ?? (typeof model['unk_token'] === 'string' ? model['unk_token'] : undefined);
    this.unkId = idOf(this.unkToken) ?? (typeof model['unk_id'] === 'number' ? model['unk_id'] : undefined);
    if (this.unkToken === undefined && this.unkId !== undefined) this.unkToken = this.idToPiece[this.unkId];
    // BOS: the tokenizer_config names it; else the post-processor's first special token.
    const post = asRecord(json['post_processor']);
    const single = Array.isArray(post['single']) ? (post['single'] as unknown[]) : [];
    const firstSpecial = asRecord(asRecord(single[0])['SpecialToken'])['id'];
    const postBos = typeof firstSpecial === 'string' ? firstSpecial : undefined;
    this.bosId = idOf(tokenName(config['bos_token'])) ?? idOf(postBos);
    this.eosId = idOf(tokenName(config['eos_token']));
    this.addBosDefault = typeof config['add_bos_token'] === 'boolean' ? config['add_bos_token'] : postBos !== undefined && this.bosId !== undefined;
    this.byteFallback = model['byte_fallback'] === true;
    this.fuseUnk = model['fuse_unk'] === true || model['type'] === 'Unigram';

    const normalizers = typeTree(json['normalizer']).map(asRecord);
    const preTokenizers = typeTree(json['pre_tokenizer']).map(asRecord);
    const decoders = typeTree(json['decoder']).map(asRecord);
    const metaspace = [...preTokenizers, ...decoders].find((n) => n['type'] === 'Metaspace');
    this.replacement = typeof metaspace?.['replacement'] === 'string' ? (metaspace['replacement'] as string) : '▁';
    this.byteLevel = [...preTokenizers, ...decoders].some((n) => n['type'] === 'ByteLevel') ? byteLevelDecoderTable() : undefined;
    const prependNormaliser = normalizers.some((n) => n['type'] === 'Prepend' && typeof n['prepend'] === 'string' && (n['prepend'] as string).includes(this.replacement));
    const metaPre = preTokenizers.find((n) => n['type'] === 'Metaspace');
    const scheme = metaPre ? (typeof metaPre['prepend_scheme'] === 'string' ? metaPre['prepend_scheme'] : metaPre['add_prefix_space'] === false ? 'never' : 'always') : 'never';
    this.prependsSpace = prependNormaliser || scheme === 'always' || scheme === 'first';
    this.prependsAfterAdded = scheme === 'always' ? 'always' : prependNormaliser ? 'unnormalized' : 'never';
  }

  /**
   * Loads a model folder's tokenizer: `tokenizer.json` (+ `tokenizer_config.json`) when present; else
   * a BERT-style `vocab.txt` (WordPiece) or a GPT-2/RoBERTa-style `vocab.json` + `merges.txt`
   * (byte-level BPE), turned into the equivalent tokenizer.json in memory (as transformers' converters
   * do) and run through the same library.
   */
  static async load(dir: string): Promise<HfTokenizer> {
    const config = asRecord(await readOptionalJson(path.join(dir, 'tokenizer_config.json')));
    const tokPath = path.join(dir, 'tokenizer.json');
    const tokenizerText = await readOptionalText(tokPath);
    if (tokenizerText !== undefined) {
      let tokenizerJson: unknown;
      try {
        tokenizerJson = JSON.parse(tokenizerText);
      } catch (err) {
        throw new AttentionInputError('file', `Cannot read the tokenizer ${tokPath}: ${(err as Error).message}`);
      }
      return new HfTokenizer(tokenizerJson, config, tokPath);
    }
    const specialMap = asRecord(await readOptionalJson(path.join(dir, 'special_tokens_map.json')));
    const merged = { ...specialMap, ...config };
    const vocabTxtPath = path.join(dir, 'vocab.txt');
    const vocabTxt = await readOptionalText(vocabTxtPath);
    if (vocabTxt !== undefined) return new HfTokenizer(wordPieceTokenizerJson(vocabTxt, merged, vocabTxtPath), merged, vocabTxtPath);
    const vocabJsonPath = path.join(dir, 'vocab.json');
    const mergesPath = path.join(dir, 'merges.txt');
    const mergesTxt = await readOptionalText(mergesPath);
    if (mergesTxt !== undefined) {
      const vocabJson = await readOptionalText(vocabJsonPath);
      if (vocabJson === undefined) throw new AttentionInputError('file', `${dir} has merges.txt but no vocab.json beside it (a byte-level BPE tokenizer needs both).`);
      const modelType = asRecord(await readOptionalJson(path.join(dir, 'config.json')))['model_type'];
      return new HfTokenizer(byteLevelBpeTokenizerJson(vocabJson, mergesTxt, merged, typeof modelType === 'string' ? modelType : undefined, vocabJsonPath), merged, vocabJsonPath);
    }
    throw new AttentionInputError(
      'file',
      `${dir} has no tokenizer: looked for tokenizer.json, vocab.txt (WordPiece, BERT-style) and vocab.json + merges.txt (byte-level BPE, GPT-2-style). ` +
        'SentencePiece-only folders (tokenizer.model, spiece.model, source.spm) need a tokenizer.json: save one with transformers\' AutoTokenizer (use_fast=True).',
    );
  }

  /** The vocabulary's spelling of a token id. */
  piece(id: number): string {
    return this.idToPiece[id] ?? this.unkToken ?? `<${id}>`;
  }

  isSpecial(id: number): boolean {
    return this.added.get(id)?.special === true;
  }

  /** Text for ids (special tokens skipped by default), via the tokenizer's own decoder. */
  decode(ids: readonly number[], options: { skipSpecial?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.lib.decode([...ids], { skip_special_tokens: options.skipSpecial ?? true });
  }

  /** Ids only (no offsets), as the library computes them; BOS per `addBos`. */
  encodeIds(text: string, addBos = this.addBosDefault): number[] {
    const ids = this.lib.encode(text, { add_special_tokens: false }).ids;
    return addBos && this.bosId !== undefined ? [this.bosId, ...ids] : ids;
  }

  /** Tokens with their UTF-16 offsets in `text`. */
  encode(text: string, options: HfEncodeOptions = {}): HfEncoding {
    const addBos = (options.addBos ?? this.addBosDefault) && this.bosId !== undefined;
    const maxTokens = options.maxTokens ?? Infinity;
    const budget = maxTokens - (addBos ? 1 : 0);
    // Long inputs: tokenise a growing prefix until it holds comfortably more than `budget` tokens
    // (the tokens near the cut may differ from the full text's, so a margin of them is dropped).
    const margin = 16;
    let source = text;
    let aligned: { tokens: HfToken[]; issues: number };
    if (Number.isFinite(budget)) {
      let limit = (budget + margin) * 8;
      for (;;) {
        if (text.length <= limit) {
          source = text;
          aligned = this.align(text);
          break;
        }
        let cut = limit;
        const c = text.charCodeAt(cut - 1);
        if (c >= 0xd800 && c <= 0xdbff) cut--;
        source = text.slice(0, cut);
        aligned = this.align(source);
        if (aligned.tokens.length >= budget + margin) break;
        limit *= 4;
      }
    } else {
      aligned = this.align(text);
    }
    let body = aligned.tokens;
    const truncated = body.length > budget || source !== text;
    if (body.length > budget) body = body.slice(0, Math.max(0, budget));
    let covered = text.length;
    if (truncated) {
      covered = 0;
      for (const t of body) if (t.end > covered) covered = t.end;
    }
    const tokens: HfToken[] = [];
    if (addBos) {
      const bos = this.bosId!;
      tokens.push({ text: this.piece(bos), piece: this.piece(bos), id: bos, start: -1, end: -1, special: true });
    }
    tokens.push(...body);
    return { tokens, truncated, coveredLength: covered, alignmentIssues: aligned.issues };
  }

  /** Bytes a piece stands for, with MARK for each word-boundary '▁'. */
  private units(piece: string): number[] {
    if (this.byteFallback) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      if (m) return [parseInt(m[1]!, 16)];
    }
    const out: number[] = [];
    for (const ch of piece) {
      if (this.byteLevel) {
        const b = this.byteLevel.get(ch);
        if (b !== undefined) {
          out.push(b);
          continue;
        }
      }
      if (ch === this.replacement) out.push(MARK);
      else for (const b of utf8.encode(ch)) out.push(b);
    }
    return out;
  }

  private isKnownChar(ch: string): boolean {
    if (this.vocab.has(ch)) return true;
    if (ch === ' ' && this.vocab.has(this.replacement)) return true;
    if (this.byteFallback) {
      for (const b of utf8.encode(ch)) {
        if (!this.vocab.has(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)) return false;
      }
      return true;
    }
    return false;
  }

  private align(text: string): { tokens: HfToken[]; issues: number } {
    const enc = this.lib.encode(text, { add_special_tokens: false });
    const bytes = utf8.encode(text);
    // For every byte, the UTF-16 span of the code point it belongs to.
    const charStart = new Int32Array(bytes.length + 1);
    const charEnd = new Int32Array(bytes.length + 1);
    {
      let b = 0;
      for (let i = 0; i < text.length; ) {
        const cp = text.codePointAt(i)!;
        const units = cp > 0xffff ? 2 : 1;
        const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        for (let k = 0; k < n; k++) {
          charStart[b + k] = i;
          charEnd[b + k] = i + units;
        }
        b += n;
        i += units;
      }
      charStart[bytes.length] = text.length;
      charEnd[bytes.length] = text.length;
    }
    const MARK_BYTES = utf8.encode(this.replacement);
    const startsWithBytes = (at: number, seq: Uint8Array): boolean => {
      if (at + seq.length > bytes.length) return false;
      for (let k = 0; k < seq.length; k++) if (bytes[at + k] !== seq[k]) return false;
      return true;
    };
    const cpLength = (at: number): number => {
      const b = bytes[at]!;
      return b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    };
    let cursor = 0;
    let pendingPrefix = this.prependsSpace;
    let issues = 0;
    const tokens: HfToken[] = [];
    for (let i = 0; i < enc.ids.length; i++) {
      const id = enc.ids[i]!;
      const piece = enc.tokens[i] ?? this.piece(id);
      const added = this.added.get(id);
      let first = -1;
      let last = -1;
      const take = (n: number): void => {
        if (first < 0) first = cursor;
        last = cursor + n - 1;
        cursor += n;
      };
      const isUnk = id === this.unkId && (piece === this.unkToken || piece === this.idToPiece[id]);
      const literal = added ? utf8.encode(added.content) : undefined;
      // An unknown-character token, as opposed to the unk token's own text typed in the input.
      const unknownRun = isUnk && !(literal && startsWithBytes(cursor, literal));
      if (unknownRun) {
        // One unknown code point, or the whole run of them when the model fuses unknowns.
        if (cursor < bytes.length) {
          take(cpLength(cursor));
          while (this.fuseUnk && cursor < bytes.length) {
            const n = cpLength(cursor);
            const ch = text.slice(charStart[cursor], charEnd[cursor]);
            if (this.isKnownChar(ch)) break;
            take(n);
          }
        } else {
          issues++;
        }
      } else {
        if (added?.lstrip && literal) {
          // The spaces before an lstrip token belong to it (the library strips them into its span).
          let k = cursor;
          while (k < bytes.length && (bytes[k] === 0x20 || bytes[k] === 0x09 || bytes[k] === 0x0a || bytes[k] === 0x0d)) k++;
          if (k > cursor && startsWithBytes(k, literal)) take(k - cursor);
        }
        const units = this.units(piece);
        for (let u = 0; u < units.length; u++) {
          const unit = units[u]!;
          if (unit === MARK) {
            if (pendingPrefix && u === 0) {
              // the space the normaliser prepended: no text
            } else if (bytes[cursor] === 0x20) take(1);
            else if (startsWithBytes(cursor, MARK_BYTES)) take(MARK_BYTES.length);
            // else: an inserted boundary (e.g. prepended after a special token): no text
          } else if (bytes[cursor] === unit) {
            take(1);
          } else {
            // Resynchronise: a normaliser may have dropped characters; attribute them to this token.
            let found = -1;
            for (let k = cursor + 1; k < Math.min(bytes.length, cursor + 16); k++) {
              if (bytes[k] === unit) {
                found = k;
                break;
              }
            }
            issues++;
            if (found >= 0) {
              if (first < 0) first = cursor;
              cursor = found;
              take(1);
            }
          }
          pendingPrefix = false;
        }
      }
      pendingPrefix = false;
      if (added && this.prependsAfterAdded !== 'never') {
        pendingPrefix = this.prependsAfterAdded === 'always' || !added.normalized;
      }
      const start = first < 0 ? charStart[cursor]! : charStart[first]!;
      const end = first < 0 ? start : charEnd[last]!;
      const byteFallback = this.byteFallback && /^<0x[0-9A-Fa-f]{2}>$/.test(piece) ? true : undefined;
      const token: HfToken = {
        text: piece,
        piece,
        id,
        start,
        end,
        ...(added?.special && !unknownRun ? { special: true } : {}),
        ...(id === this.unkId ? { unknown: true } : {}),
        ...(byteFallback ? { byteFallback } : {}),
      };
      tokens.push(token);
    }
    if (cursor < bytes.length) issues++;
    return { tokens, issues };
  }
}
