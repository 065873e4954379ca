// The tokenizer.json that transformers' converters (convert_slow_tokenizer.py) build from a model
// folder with no tokenizer.json: a BERT-style vocab.txt (WordPiece), a GPT-2 / RoBERTa-style
// vocab.json + merges.txt (byte-level BPE), or a Qwen2-style vocab.json + merges.txt (NFC, Qwen's
// split regex, byte-level BPE). Built in memory and run through the same library as a saved one.
import { AttentionInputError } from '../../../shared/trace';

export function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
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
function addedTokens(
  vocab: Record<string, number>,
  size: number,
  config: Record<string, unknown>,
  names: readonly string[],
  lstrip: ReadonlySet<string> = new Set(),
): AddedTokenJson[] {
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
    out.push({
      id,
      content,
      single_word: false,
      lstrip: lstrip.has(name),
      rstrip: false,
      normalized: false,
      special: true,
    });
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
export function wordPieceTokenizerJson(
  vocabText: string,
  tokenizerConfig: unknown,
  where = 'vocab.txt',
): Record<string, unknown> {
  const config = withDefaults(asRecord(tokenizerConfig), {
    unk_token: '[UNK]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    cls_token: '[CLS]',
    mask_token: '[MASK]',
  });
  const vocab = Object.create(null) as Record<string, number>;
  const lines = fileLines(vocabText);
  lines.forEach((token, i) => (vocab[token] = i));
  if (lines.length === 0)
    throw new AttentionInputError('file', `${where} is empty; a WordPiece vocabulary lists one token per line.`);
  const unk = specialName(config['unk_token'])!;
  if (!(unk in vocab))
    throw new AttentionInputError('file', `${where} has no ${unk} token (tokenizer_config.json's unk_token).`);
  const cls = specialName(config['cls_token'])!;
  const sep = specialName(config['sep_token'])!;
  const added = addedTokens(vocab, lines.length, config, [
    'unk_token',
    'sep_token',
    'pad_token',
    'cls_token',
    'mask_token',
  ]);
  const idOf = (t: string): number => added.find((a) => a.content === t)?.id ?? vocab[t]!;
  const lowercase = config['do_lower_case'] !== false;
  const stripAccents = typeof config['strip_accents'] === 'boolean' ? config['strip_accents'] : null;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: config['tokenize_chinese_chars'] !== false,
      strip_accents: stripAccents,
      lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [idOf(cls)], tokens: [cls] },
        [sep]: { id: sep, ids: [idOf(sep)], tokens: [sep] },
      },
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
/** vocab.json (token → id) and merges.txt ('a b' per line, an optional '#version' first line). */
function readBpeFiles(
  vocabJson: string,
  mergesText: string,
  where: string,
): { vocab: Record<string, number>; size: number; merges: string[] } {
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
    if (!Number.isSafeInteger(id) || (id as number) < 0)
      throw new AttentionInputError(
        'file',
        `${where}: the id of ${JSON.stringify(token.slice(0, 40))} is not a non-negative integer.`,
      );
    vocab[token] = id as number;
    size = Math.max(size, (id as number) + 1);
  }
  if (size === 0) throw new AttentionInputError('file', `${where} is empty; expected an object mapping tokens to ids.`);
  const merges: string[] = [];
  for (const [i, line] of fileLines(mergesText).entries()) {
    if (i === 0 && line.startsWith('#version')) continue;
    if (line.trim() === '') continue;
    const parts = line.split(' ');
    if (parts.length !== 2)
      throw new AttentionInputError('file', `merges.txt line ${i + 1} is not two tokens separated by one space.`);
    merges.push(line);
  }
  return { vocab, size, merges };
}

/** Byte-level BPE with no unknown token (every byte is in the vocabulary). */
function byteLevelBpeModel(vocab: Record<string, number>, merges: readonly string[]): Record<string, unknown> {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: '',
    end_of_word_suffix: '',
    fuse_unk: false,
    byte_fallback: false,
    vocab,
    merges,
  };
}

export function byteLevelBpeTokenizerJson(
  vocabJson: string,
  mergesText: string,
  tokenizerConfig: unknown,
  modelType?: string,
  where = 'vocab.json',
): Record<string, unknown> {
  const { vocab, size, merges } = readBpeFiles(vocabJson, mergesText, where);
  const tokClass =
    typeof asRecord(tokenizerConfig)['tokenizer_class'] === 'string'
      ? (asRecord(tokenizerConfig)['tokenizer_class'] as string)
      : '';
  const roberta =
    /roberta|bart|longformer|camembert/i.test(tokClass) || /roberta|bart|longformer|camembert/i.test(modelType ?? '');
  const config = roberta
    ? withDefaults(asRecord(tokenizerConfig), {
        bos_token: '<s>',
        eos_token: '</s>',
        sep_token: '</s>',
        cls_token: '<s>',
        unk_token: '<unk>',
        pad_token: '<pad>',
        mask_token: '<mask>',
      })
    : withDefaults(asRecord(tokenizerConfig), {
        bos_token: '<|endoftext|>',
        eos_token: '<|endoftext|>',
        unk_token: '<|endoftext|>',
      });
  const names = roberta
    ? ['bos_token', 'pad_token', 'eos_token', 'unk_token', 'sep_token', 'cls_token', 'mask_token']
    : ['bos_token', 'eos_token', 'unk_token', 'pad_token'];
  const added = addedTokens(vocab, size, config, names, new Set(['mask_token']));
  const idOf = (t: string): number => added.find((a) => a.content === t)?.id ?? vocab[t] ?? 0;
  const addPrefixSpace = config['add_prefix_space'] === true;
  let postProcessor: Record<string, unknown>;
  if (roberta) {
    const sep = specialName(config['sep_token'])!;
    const cls = specialName(config['cls_token'])!;
    postProcessor = {
      type: 'RobertaProcessing',
      sep: [sep, idOf(sep)],
      cls: [cls, idOf(cls)],
      trim_offsets: true,
      add_prefix_space: addPrefixSpace,
    };
  } else if (config['add_bos_token'] === true) {
    const bos = specialName(config['bos_token'])!;
    postProcessor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
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
    model: byteLevelBpeModel(vocab, merges),
  };
}

/** Qwen2's pre-tokenizer split (transformers' Qwen2Converter), used with ByteLevel(use_regex=false). */
export const QWEN2_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/**
 * Whether a vocab.json + merges.txt folder is Qwen2-style: tokenizer_config's tokenizer_class when it
 * names one (as AutoTokenizer reads it first), else config.json's model_type (qwen2, qwen3, their MoE).
 */
export function wantsQwen2Tokenizer(tokenizerConfig: unknown, modelType: string | undefined): boolean {
  const tokClass = asRecord(tokenizerConfig)['tokenizer_class'];
  if (typeof tokClass === 'string' && tokClass !== '') return /^qwen[23]tokenizer(fast)?$/i.test(tokClass);
  return /^qwen[23](_moe)?$/i.test(modelType ?? '');
}

/**
 * The tokenizer.json that transformers' Qwen2Converter makes from vocab.json and merges.txt: NFC,
 * Qwen's split regex (isolated), ByteLevel without its own regex or prefix space, byte-level BPE,
 * no BOS; Qwen2Tokenizer's defaults name '<|endoftext|>' as eos, unk and pad.
 */
export function qwen2TokenizerJson(
  vocabJson: string,
  mergesText: string,
  tokenizerConfig: unknown,
  where = 'vocab.json',
): Record<string, unknown> {
  const { vocab, size, merges } = readBpeFiles(vocabJson, mergesText, where);
  const config = withDefaults(asRecord(tokenizerConfig), {
    eos_token: '<|endoftext|>',
    unk_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
  });
  const added = addedTokens(vocab, size, config, ['bos_token', 'eos_token', 'unk_token', 'pad_token']);
  const byteLevel = {
    type: 'ByteLevel',
    add_prefix_space: config['add_prefix_space'] === true,
    trim_offsets: false,
    use_regex: false,
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN2_SPLIT }, behavior: 'Isolated', invert: false },
        byteLevel,
      ],
    },
    post_processor: { ...byteLevel, add_prefix_space: false },
    decoder: { ...byteLevel, add_prefix_space: false },
    model: byteLevelBpeModel(vocab, merges),
  };
}
