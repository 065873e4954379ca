// Hugging Face tokenizers (tokenizer.json + tokenizer_config.json, or a vocab.txt / vocab.json +
// merges.txt turned into the equivalent tokenizer.json by converters.ts) through @huggingface/tokenizers,
// plus what that library does not give: each token's UTF-16 offsets in the input text.
//
// Length-changing normalisers (NFC, NFKC, ...) are replayed with a map back to the input
// (normalisedOffsets.ts); the tokens are aligned with the normalised text and their spans mapped back.
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
// Over 400 lines because the aligner is one left-to-right pass whose cases share its cursor state.
import { Tokenizer } from '@huggingface/tokenizers';
import * as path from 'node:path';
import { parseJsonText, readTextInside } from '../formats/files';
import { checkTokenizerIds } from '../formats/tokenizerFile';
import { checkTokenizerRegexes } from './regexGuard';
import { AttentionInputError, type Token } from '../../../shared/trace';
import {
  asRecord,
  byteLevelBpeTokenizerJson,
  qwen2TokenizerJson,
  wantsQwen2Tokenizer,
  wordPieceTokenizerJson,
} from './converters';
import {
  composeNormalisers,
  localNormaliser,
  normaliseWithOffsets,
  type LocalNormaliser,
  type NormalisedText,
} from './normalisedOffsets';

// The converters were defined here first; importers keep this path.
export { byteLevelBpeTokenizerJson, qwen2TokenizerJson, wordPieceTokenizerJson };

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

/** A file's text through the safe file layer (inside its folder, regular, size-capped), or undefined when it does not exist. */
async function readOptionalText(file: string): Promise<string | undefined> {
  const kind = /^(vocab\.|merges\.)/.test(path.basename(file))
    ? 'vocab'
    : path.basename(file) === 'config.json'
      ? 'config'
      : 'tokenizer';
  return readTextInside(path.dirname(file), path.basename(file), { kind, optional: true });
}

async function readOptionalJson(file: string): Promise<unknown> {
  const text = await readOptionalText(file);
  return text === undefined ? undefined : parseJsonText(text, file);
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
  /** Which whitespace one '▁' stands for when the text's runs of it became one boundary: WhitespaceSplit (T5) drops any run, Replace(' {2,}', ' ') (mBART) collapses spaces. */
  private readonly collapsedSpace: RegExp | undefined;
  private readonly unigram: boolean;
  /** The normalisers that change the text's length (NFC, NFKC, ...), composed; offsets are mapped through them. */
  private readonly normaliser: LocalNormaliser | undefined;
  /** Added tokens' texts, which the library splits out before normalising. */
  private readonly addedLiterals: readonly string[];

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = {}, where = 'tokenizer.json') {
    const json = asRecord(tokenizerJson);
    const config = asRecord(tokenizerConfig);
    const model = asRecord(json['model']);
    if (!json['model'] || (typeof model['type'] !== 'string' && !model['vocab'])) {
      throw new AttentionInputError(
        'file',
        `${where} has no "model" section; it is not a Hugging Face tokenizer.json.`,
      );
    }
    checkTokenizerIds(json, where);
    // Before the library compiles them: a catastrophic pattern would hang the first encode.
    checkTokenizerRegexes(json, where);
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
        this.added.set(t['id'], {
          content: t['content'],
          special: t['special'] === true,
          normalized: t['normalized'] !== false,
          lstrip: t['lstrip'] === true,
        });
      }
    }
    const tokenName = (v: unknown): string | undefined =>
      typeof v === 'string'
        ? v
        : typeof asRecord(v)['content'] === 'string'
          ? (asRecord(v)['content'] as string)
          : undefined;
    const idOf = (name: string | undefined): number | undefined =>
      name === undefined ? undefined : this.vocab.get(name);
    this.unkToken =
      tokenName(config['unk_token']) ?? (typeof model['unk_token'] === 'string' ? model['unk_token'] : undefined);
    this.unkId = idOf(this.unkToken) ?? (typeof model['unk_id'] === 'number' ? model['unk_id'] : undefined);
    if (this.unkToken === undefined && this.unkId !== undefined) this.unkToken = this.idToPiece[this.unkId];
    // BOS: the tokenizer_config names it; else the post-processor's first special token.
    // Llama 3 nests its TemplateProcessing in a Sequence after ByteLevel.
    const outer = asRecord(json['post_processor']);
    const nested = Array.isArray(outer['processors'])
      ? (outer['processors'] as unknown[]).map(asRecord).find((p) => p['type'] === 'TemplateProcessing')
      : undefined;
    const post = nested ?? outer;
    const single = Array.isArray(post['single']) ? (post['single'] as unknown[]) : [];
    const firstSpecial = asRecord(asRecord(single[0])['SpecialToken'])['id'];
    const postBos = typeof firstSpecial === 'string' ? firstSpecial : undefined;
    this.bosId = idOf(tokenName(config['bos_token'])) ?? idOf(postBos);
    this.eosId = idOf(tokenName(config['eos_token']));
    this.addBosDefault =
      typeof config['add_bos_token'] === 'boolean'
        ? config['add_bos_token']
        : postBos !== undefined && this.bosId !== undefined;
    this.byteFallback = model['byte_fallback'] === true;
    this.unigram = model['type'] === 'Unigram';
    this.fuseUnk = model['fuse_unk'] === true || this.unigram;

    const normalizers = typeTree(json['normalizer']).map(asRecord);
    const preTokenizers = typeTree(json['pre_tokenizer']).map(asRecord);
    const decoders = typeTree(json['decoder']).map(asRecord);
    const metaspace = [...preTokenizers, ...decoders].find((n) => n['type'] === 'Metaspace');
    this.replacement = typeof metaspace?.['replacement'] === 'string' ? (metaspace['replacement'] as string) : '▁';
    this.byteLevel = [...preTokenizers, ...decoders].some((n) => n['type'] === 'ByteLevel')
      ? byteLevelDecoderTable()
      : undefined;
    const prependNormaliser = normalizers.some(
      (n) =>
        n['type'] === 'Prepend' &&
        typeof n['prepend'] === 'string' &&
        (n['prepend'] as string).includes(this.replacement),
    );
    const metaPre = preTokenizers.find((n) => n['type'] === 'Metaspace');
    const scheme = metaPre
      ? typeof metaPre['prepend_scheme'] === 'string'
        ? metaPre['prepend_scheme']
        : metaPre['add_prefix_space'] === false
          ? 'never'
          : 'always'
      : 'never';
    this.prependsSpace = prependNormaliser || scheme === 'always' || scheme === 'first';
    this.prependsAfterAdded = scheme === 'always' ? 'always' : prependNormaliser ? 'unnormalized' : 'never';
    this.normaliser = composeNormalisers(
      normalizers.map(localNormaliser).filter((f): f is LocalNormaliser => f !== undefined),
    );
    const collapsesSpaces = normalizers.some(
      (n) => n['type'] === 'Replace' && asRecord(n['pattern'])['Regex'] === ' {2,}' && n['content'] === ' ',
    );
    this.collapsedSpace = preTokenizers.some((n) => n['type'] === 'WhitespaceSplit')
      ? /\s/u
      : collapsesSpaces
        ? / /
        : undefined;
    this.addedLiterals = [...this.added.values()].map((a) => a.content);
  }

  /**
   * Loads a model folder's tokenizer: `tokenizer.json` (+ `tokenizer_config.json`) when present; else
   * a BERT-style `vocab.txt` (WordPiece) or a GPT-2/RoBERTa/Qwen2-style `vocab.json` + `merges.txt`
   * (byte-level BPE), turned into the equivalent tokenizer.json in memory (as transformers' converters
   * do) and run through the same library.
   */
  static async load(dir: string): Promise<HfTokenizer> {
    const config = asRecord(await readOptionalJson(path.join(dir, 'tokenizer_config.json')));
    const tokPath = path.join(dir, 'tokenizer.json');
    const tokenizerText = await readOptionalText(tokPath);
    if (tokenizerText !== undefined) {
      return new HfTokenizer(parseJsonText(tokenizerText, `The tokenizer ${tokPath}`), config, tokPath);
    }
    const specialMap = asRecord(await readOptionalJson(path.join(dir, 'special_tokens_map.json')));
    const merged = { ...specialMap, ...config };
    const vocabTxtPath = path.join(dir, 'vocab.txt');
    const vocabTxt = await readOptionalText(vocabTxtPath);
    if (vocabTxt !== undefined)
      return new HfTokenizer(wordPieceTokenizerJson(vocabTxt, merged, vocabTxtPath), merged, vocabTxtPath);
    const vocabJsonPath = path.join(dir, 'vocab.json');
    const mergesPath = path.join(dir, 'merges.txt');
    const mergesTxt = await readOptionalText(mergesPath);
    if (mergesTxt !== undefined) {
      const vocabJson = await readOptionalText(vocabJsonPath);
      if (vocabJson === undefined)
        throw new AttentionInputError(
          'file',
          `${dir} has merges.txt but no vocab.json beside it (a byte-level BPE tokenizer needs both).`,
        );
      const rawType = asRecord(await readOptionalJson(path.join(dir, 'config.json')))['model_type'];
      const modelType = typeof rawType === 'string' ? rawType : undefined;
      const json = wantsQwen2Tokenizer(merged, modelType)
        ? qwen2TokenizerJson(vocabJson, mergesTxt, merged, vocabJsonPath)
        : byteLevelBpeTokenizerJson(vocabJson, mergesTxt, merged, modelType, vocabJsonPath);
      return new HfTokenizer(json, merged, vocabJsonPath);
    }
    throw new AttentionInputError(
      'file',
      `${dir} has no tokenizer: looked for tokenizer.json, vocab.txt (WordPiece, BERT-style) and vocab.json + merges.txt (byte-level BPE, GPT-2-style). ` +
        "SentencePiece-only folders (tokenizer.model, spiece.model, source.spm) need a tokenizer.json: save one with transformers' AutoTokenizer (use_fast=True).",
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

  private align(input: string): { tokens: HfToken[]; issues: number } {
    const enc = this.lib.encode(input, { add_special_tokens: false });
    // Tokens are matched with the normalised text's bytes, and their spans mapped back to `input`.
    const view: NormalisedText | undefined = this.normaliser
      ? normaliseWithOffsets(input, this.normaliser, this.addedLiterals)
      : undefined;
    const text = view ? view.text : input;
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
      // Unigram's library gives an unknown token the text it covers; other models give '<unk>'.
      const isUnk = id === this.unkId && (piece === this.unkToken || piece === this.idToPiece[id] || this.unigram);
      const literal = added ? utf8.encode(added.content) : undefined;
      // An unknown-character token, as opposed to the unk token's own text typed in the input.
      const unknownRun = isUnk && !(literal && startsWithBytes(cursor, literal));
      const covered =
        unknownRun && piece !== this.unkToken && piece !== this.idToPiece[id] ? utf8.encode(piece) : undefined;
      if (covered && covered.length > 0 && startsWithBytes(cursor, covered)) {
        take(covered.length);
      } else if (unknownRun) {
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
          while (k < bytes.length && (bytes[k] === 0x20 || bytes[k] === 0x09 || bytes[k] === 0x0a || bytes[k] === 0x0d))
            k++;
          if (k > cursor && startsWithBytes(k, literal)) take(k - cursor);
        }
        const units = this.units(piece);
        for (let u = 0; u < units.length; u++) {
          const unit = units[u]!;
          if (unit === MARK && this.collapsedSpace) {
            // The run of whitespace this boundary replaced (none for the '▁' prepended to a text that starts with a word).
            const space = this.collapsedSpace;
            while (cursor < bytes.length && bytes[cursor]! < 0x80 && space.test(String.fromCharCode(bytes[cursor]!)))
              take(1);
          } else if (unit === MARK) {
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
      if (added && !unknownRun && this.prependsAfterAdded !== 'never') {
        pendingPrefix = this.prependsAfterAdded === 'always' || !added.normalized;
      }
      const nStart = first < 0 ? charStart[cursor]! : charStart[first]!;
      const nEnd = first < 0 ? nStart : charEnd[last]!;
      const start = !view ? nStart : nStart < text.length ? view.start[nStart]! : view.originalLength;
      const end = !view ? nEnd : nEnd > nStart ? view.end[nEnd - 1]! : start;
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
    if (this.collapsedSpace)
      while (
        cursor < bytes.length &&
        bytes[cursor]! < 0x80 &&
        this.collapsedSpace.test(String.fromCharCode(bytes[cursor]!))
      )
        cursor++;
    if (cursor < bytes.length) issues++;
    return { tokens, issues };
  }
}
