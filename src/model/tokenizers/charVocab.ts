// Character-level vocabulary for the seq2seq date models: one token per Unicode code point
// (surrogate pairs stay whole), with UTF-16 offsets into the source text. Pure TypeScript.
import { AttentionInputError, type Token } from '../../../shared/trace';

/** The shape of models/seq2seq-dates/vocab.json (written by scripts/train/seq2seq.py). */
export interface CharVocabJson {
  readonly input: readonly string[];
  readonly output: readonly string[];
  readonly pad_id: number;
  readonly unk_id: number;
  readonly bos_id: number;
  readonly eos_id: number;
}

export interface CharEncoding {
  /** One token per code point that the model reads (outer whitespace excluded). */
  readonly tokens: Token[];
  readonly ids: number[];
  /** Characters read as <unk>, with their UTF-16 offsets. */
  readonly unknown: { readonly char: string; readonly start: number }[];
  /** True when the text had more than maxTokens characters (after trimming outer whitespace). */
  readonly truncated: boolean;
  /** How many characters (code points) the text had before truncation. */
  readonly totalChars: number;
}

const WHITESPACE = /^\s$/u;

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}

/** Shows a character safely in a message (control characters and spaces as U+XXXX). */
export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch) ? `'${ch}' (${hex})` : hex;
}

export class CharVocab {
  readonly input: readonly string[];
  readonly output: readonly string[];
  readonly padId: number;
  readonly unkId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly spaceId: number;
  private readonly index: ReadonlyMap<string, number>;

  private constructor(json: CharVocabJson) {
    this.input = json.input;
    this.output = json.output;
    this.padId = json.pad_id;
    this.unkId = json.unk_id;
    this.bosId = json.bos_id;
    this.eosId = json.eos_id;
    this.index = new Map(json.input.map((c, i) => [c, i] as const));
    this.spaceId = this.index.get(' ') ?? this.unkId;
  }

  /** Validates parsed vocab.json; malformed files throw AttentionInputError('file'). */
  static fromJson(json: unknown, source = 'vocab.json'): CharVocab {
    const bad = (why: string): never => {
      throw new AttentionInputError('file', `${source}: ${why}`);
    };
    if (typeof json !== 'object' || json === null) bad('not a JSON object');
    const j = json as Record<string, unknown>;
    if (!isStringArray(j.input) || j.input.length < 3) bad('"input" must be a list of at least 3 strings');
    if (!isStringArray(j.output) || j.output.length < 3) bad('"output" must be a list of at least 3 strings');
    const input = j.input as string[];
    const output = j.output as string[];
    for (const key of ['pad_id', 'unk_id'] as const) {
      const v = j[key];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= input.length)
        bad(`"${key}" must index "input"`);
    }
    for (const key of ['bos_id', 'eos_id'] as const) {
      const v = j[key];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= output.length)
        bad(`"${key}" must index "output"`);
    }
    // Every non-special input entry is exactly one code point.
    input.forEach((c, i) => {
      if (i !== j.pad_id && i !== j.unk_id && [...c].length !== 1)
        bad(`input entry ${i} (${JSON.stringify(c)}) is not one character`);
    });
    return new CharVocab(j as unknown as CharVocabJson);
  }

  get inputSize(): number {
    return this.input.length;
  }

  get outputSize(): number {
    return this.output.length;
  }

  /** Id of one input character: whitespace other than space reads as space; unknown → undefined. */
  idOf(ch: string): number | undefined {
    const id = this.index.get(ch);
    if (id !== undefined && id !== this.padId && id !== this.unkId) return id;
    if (WHITESPACE.test(ch)) return this.spaceId;
    return undefined;
  }

  /**
   * Splits text into code points with UTF-16 offsets. Leading and trailing whitespace is skipped
   * (the model never saw it in training); at most maxTokens characters are kept.
   */
  encode(text: string, maxTokens: number = Number.POSITIVE_INFINITY): CharEncoding {
    const chars: { ch: string; start: number }[] = [];
    let offset = 0;
    for (const ch of text) {
      chars.push({ ch, start: offset });
      offset += ch.length;
    }
    let lo = 0;
    let hi = chars.length;
    while (lo < hi && WHITESPACE.test(chars[lo]!.ch)) lo++;
    while (hi > lo && WHITESPACE.test(chars[hi - 1]!.ch)) hi--;
    const kept = chars.slice(lo, hi);
    const totalChars = kept.length;
    const limit = Math.max(0, Math.floor(maxTokens));
    const truncated = kept.length > limit;
    if (truncated) kept.length = limit;
    const tokens: Token[] = [];
    const ids: number[] = [];
    const unknown: { char: string; start: number }[] = [];
    for (const { ch, start } of kept) {
      const id = this.idOf(ch);
      if (id === undefined) {
        unknown.push({ char: ch, start });
        tokens.push({ text: ch, id: this.unkId, start, end: start + ch.length, unknown: true });
        ids.push(this.unkId);
      } else {
        tokens.push({ text: ch, id, start, end: start + ch.length });
        ids.push(id);
      }
    }
    return { tokens, ids, unknown, truncated, totalChars };
  }

  /** Display text of an output id ('</s>' for end of sequence). */
  outputText(id: number): string {
    return this.output[id] ?? `<${id}>`;
  }
}
