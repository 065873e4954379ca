// Every regular expression a tokenizer.json brings (a Split or Replace pre-tokenizer's, a Replace
// normaliser's or decoder's `pattern.Regex`) is checked here before the library compiles it. A
// backtracking engine (V8's, which the library uses) can take exponential time on a short input for
// some patterns (`(a+)+$` on "aaaa…ab"), and a match cannot be interrupted, so the only bound at this
// depth is to refuse, at load, the shapes that cause it:
//   - a backreference (\1, \k<name>): no linear bound exists for them;
//   - a repetition of something that itself repeats a variable number of times (star height > 1:
//     `(a+)+`, `(a*b?)*`, `(?:x{1,9})+`, `(a?){30}`);
//   - a repetition of an alternation (`(a|a)+`, `(?:ab|a)*`, `(a|a){40}`): overlapping branches
//     double the ways to match at every step;
//   - more than MAX_SERIES unbounded repetitions one after another in one branch (`a*a*a*$`), whose
//     cost grows as the input length to that power.
// The patterns of the real families (GPT-2's, Llama 3's, Qwen2's, DeepSeek's, T5's ' {2,}', ...) have
// none of these. Oniguruma's possessive quantifiers and atomic groups are treated as plain ones,
// because the library rewrites them into plain JavaScript ones.
import { AttentionInputError } from '../../../shared/trace';
import { showName } from '../formats/files';

/** Unbounded repetitions allowed one after another in one branch (GPT-2's, Llama 3's have at most 2). */
export const MAX_SERIES = 2;

/** A counted repetition above this many counts as unbounded. */
const LARGE_COUNT = 64;

interface Shape {
  /** Contains a quantifier whose count varies (min < max). */
  readonly varies: boolean;
  /** Contains an alternation. */
  readonly alternates: boolean;
  /** Unbounded repetitions in series along the costliest path. */
  readonly series: number;
}

const ATOM: Shape = { varies: false, alternates: false, series: 0 };

class Hazard extends Error {}

/** Reads one pattern (Oniguruma as tokenizers writes it, or JavaScript) just far enough to judge its shape. */
class Reader {
  private i = 0;
  constructor(private readonly src: string) {}

  judge(): Shape {
    const shape = this.alternation();
    if (this.i < this.src.length) throw new Hazard(`it has an unmatched ")" at character ${this.i + 1}`);
    return shape;
  }

  private alternation(): Shape {
    const branches = [this.sequence()];
    while (this.src[this.i] === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    if (branches.length === 1) return branches[0]!;
    return {
      varies: branches.some((b) => b.varies),
      alternates: true,
      series: Math.max(...branches.map((b) => b.series)),
    };
  }

  private sequence(): Shape {
    let varies = false;
    let alternates = false;
    let series = 0;
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') {
      const item = this.quantified();
      varies ||= item.varies;
      alternates ||= item.alternates;
      series += item.series;
      if (series > MAX_SERIES)
        throw new Hazard(
          `it has more than ${MAX_SERIES} unbounded repetitions one after another (before character ${this.i + 1}), whose matching time grows as a power of the input length`,
        );
    }
    return { varies, alternates, series };
  }

  private quantified(): Shape {
    const start = this.i;
    const body = this.atom();
    const q = this.quantifier();
    if (!q) return body;
    const text = this.src.slice(start, this.i);
    if (q.max > 1 && body.varies)
      throw new Hazard(
        `${showName(text)} repeats something that itself repeats a variable number of times (nested repetition), which can take exponential time`,
      );
    if (q.max > 1 && body.alternates)
      throw new Hazard(`${showName(text)} repeats an alternation; overlapping branches can take exponential time`);
    const unbounded = q.max > LARGE_COUNT;
    return {
      varies: body.varies || q.min < q.max,
      alternates: body.alternates,
      series: body.series + (unbounded ? 1 : 0),
    };
  }

  /** A quantifier after an atom, with its lazy / possessive suffix; undefined when none. */
  private quantifier(): { min: number; max: number } | undefined {
    const c = this.src[this.i];
    let q: { min: number; max: number } | undefined;
    if (c === '*') q = { min: 0, max: Infinity };
    else if (c === '+') q = { min: 1, max: Infinity };
    else if (c === '?') q = { min: 0, max: 1 };
    if (q) this.i++;
    else if (c === '{') {
      const m = /^\{(\d*)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m || (m[1] === '' && m[3] === undefined)) return undefined; // a literal '{'
      this.i += m[0].length;
      const min = m[1] === '' ? 0 : Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      q = { min, max };
    } else return undefined;
    if (this.src[this.i] === '?' || this.src[this.i] === '+') this.i++;
    const again = this.quantifier();
    if (again) {
      // `a{2}{3}` or `a**`: a repetition of a repetition
      if (q.max > 1 && again.max > 1 && (q.min < q.max || again.min < again.max))
        throw new Hazard(`it stacks two quantifiers before character ${this.i + 1} (nested repetition)`);
      return { min: q.min * again.min, max: q.max * again.max };
    }
    return q;
  }

  private atom(): Shape {
    const c = this.src[this.i]!;
    if (c === '(') return this.group();
    if (c === '[') {
      this.charClass();
      return ATOM;
    }
    if (c === '\\') {
      this.escape();
      return ATOM;
    }
    if (c === '*' || c === '+' || c === '?')
      throw new Hazard(`it has a quantifier with nothing before it at character ${this.i + 1}`);
    this.i += c.codePointAt(0)! > 0xffff ? 2 : 1;
    return ATOM;
  }

  private group(): Shape {
    const open = this.i;
    this.i++;
    if (this.src[this.i] === '?') {
      // (?:  (?=  (?!  (?<=  (?<!  (?>  (?<name>  (?'name'  (?i:  (?i)  (?#comment)
      const m = /^\?(?:[:=!>]|<[=!]|<[A-Za-z_]\w*>|'[A-Za-z_]\w*'|[imsx-]+[:)]|#[^)]*\))/.exec(this.src.slice(this.i));
      if (!m) throw new Hazard(`it has a group kind it does not know at character ${open + 1}`);
      this.i += m[0].length;
      if (m[0].endsWith(')')) return ATOM; // an inline flag or comment: no body
    }
    const body = this.alternation();
    if (this.src[this.i] !== ')') throw new Hazard(`its group at character ${open + 1} is not closed`);
    this.i++;
    return body;
  }

  private escape(): void {
    const rest = this.src.slice(this.i + 1);
    if (rest.length === 0) throw new Hazard('it ends with a lone backslash');
    if (/^[1-9]/.test(rest) || /^k[<'{]/.test(rest) || /^g[<'{]/.test(rest))
      throw new Hazard(
        `it uses a backreference or subroutine (${showName('\\' + rest.slice(0, 2))}), which has no time bound`,
      );
    const m =
      /^(?:[pP]\{[^}]*\}|[pP][A-Za-z]|x\{[0-9A-Fa-f]+\}|x[0-9A-Fa-f]{0,2}|u\{[0-9A-Fa-f]+\}|u[0-9A-Fa-f]{4}|c[A-Za-z]|0[0-7]{0,2}|[\s\S])/u.exec(
        rest,
      );
    this.i += 1 + m![0].length;
  }

  /** A bracket class, nested classes (Oniguruma's [a-z&&[^x]]) included. */
  private charClass(): void {
    const open = this.i;
    this.i++;
    if (this.src[this.i] === '^') this.i++;
    if (this.src[this.i] === ']') this.i++; // a leading ']' is literal in Oniguruma
    while (this.i < this.src.length && this.src[this.i] !== ']') {
      const c = this.src[this.i];
      if (c === '\\') this.escape();
      else if (c === '[') this.charClass();
      else this.i++;
    }
    if (this.src[this.i] !== ']') throw new Hazard(`its character class at character ${open + 1} is not closed`);
    this.i++;
  }
}

/** Why the pattern may take super-linear time to match (a sentence fragment), or undefined when its shape is safe. */
export function regexHazard(pattern: string): string | undefined {
  try {
    new Reader(pattern).judge();
    return undefined;
  } catch (err) {
    if (err instanceof Hazard) return err.message;
    throw err;
  }
}

/** Parts of a tokenizer.json that hold no patterns (and are the large ones). */
const SKIP = new Set(['vocab', 'merges', 'added_tokens']);

/** Every `pattern: {Regex}` in the tokenizer.json, with the type of the node it belongs to ("Split", "Replace", ...). */
export function tokenizerRegexes(json: unknown): { pattern: string; node: string; section: string }[] {
  const out: { pattern: string; node: string; section: string }[] = [];
  const walk = (value: unknown, section: string, node: string, depth: number): void => {
    if (depth > 64 || !value || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const v of value) walk(v, section, node, depth + 1);
      return;
    }
    const obj = value as Record<string, unknown>;
    const type = typeof obj['type'] === 'string' ? (obj['type'] as string) : node;
    for (const [key, v] of Object.entries(obj)) {
      if (SKIP.has(key)) continue;
      if (key === 'Regex' && typeof v === 'string') out.push({ pattern: v, node: type, section });
      else walk(v, section, type, depth + 1);
    }
  };
  for (const [key, v] of Object.entries(json && typeof json === 'object' ? json : {})) {
    if (!SKIP.has(key)) walk(v, key, key, 0);
  }
  return out;
}

/**
 * Refuses a tokenizer whose regular expressions could take super-linear time: throws an
 * AttentionInputError('file') naming the file, where the pattern is and the pattern itself.
 */
export function checkTokenizerRegexes(json: unknown, where: string): void {
  for (const { pattern, node, section } of tokenizerRegexes(json)) {
    const hazard = regexHazard(pattern);
    if (hazard !== undefined)
      throw new AttentionInputError(
        'file',
        `${where}: the ${node} ${section.replace('_', '-')} pattern ${showName(pattern)} is refused: ${hazard}. ` +
          'A tokenizer regex must not nest repetitions, repeat an alternation without bound, or use backreferences (a crafted one could hang the tokenizer).',
      );
  }
}
