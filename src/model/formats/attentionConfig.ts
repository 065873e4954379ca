// `*.attention.json`: hand-built attention for teaching, or a reference to a model on disk.
// Parsed with positions so every problem becomes a diagnostic at the right place in the file.
import {
  findNodeAtLocation,
  getNodeValue,
  parseTree,
  printParseErrorCode,
  type Node,
  type ParseError,
} from 'jsonc-parser';
import { NORMALISERS, SCORE_FUNCTIONS, type Normaliser, type ScoreFunction } from '../../../shared/trace';
import { MAX_BYTES, MAX_JSON_DEPTH, jsonNestingDepth } from './files';

/** The most tokens a hand-built config may list (its scores are tokens² numbers; the maxTokens setting's own bound). */
export const MAX_HAND_BUILT_TOKENS = 2048;

export interface Problem {
  readonly message: string;
  /** UTF-16 offset and length in the file's text. */
  readonly offset: number;
  readonly length: number;
  readonly severity: 'error' | 'warning';
}

export type Matrix = number[][];

export interface HandBuiltConfig {
  readonly kind: 'hand-built';
  readonly title: string;
  readonly tokens: string[];
  readonly embeddings: Matrix;
  /** Optional separate queries (e.g. decoder states attending over encoder states: cross-attention). */
  readonly queryTokens?: string[];
  readonly queryEmbeddings?: Matrix;
  readonly W_q: Matrix;
  readonly W_k: Matrix;
  readonly W_v: Matrix;
  readonly score: ScoreFunction;
  readonly normaliser: Normaliser;
  readonly W?: Matrix;
  readonly W1?: Matrix;
  readonly W2?: Matrix;
  readonly v?: number[];
  /** Luong's predictive alignment for what-if's local-p: p_t = S·sigmoid(v_pᵀ tanh(W_p q_t)); W_p is d_p × d_k. */
  readonly W_p?: Matrix;
  readonly v_p?: number[];
  readonly causal: boolean;
}

export const ARCHITECTURES = [
  'seq2seq-rnn',
  'transformer-encoder',
  'transformer-decoder',
  'transformer-encoder-decoder',
] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export interface ModelRefConfig {
  readonly kind: 'model';
  readonly title: string;
  readonly architecture: Architecture;
  /** A built-in model id, or a folder (relative to the config file) holding the weights. */
  readonly builtin?: string;
  readonly path?: string;
  readonly input: { readonly text: string } | { readonly file: string };
}

export type AttentionConfig = HandBuiltConfig | ModelRefConfig;

export interface ParsedConfig {
  readonly config?: AttentionConfig;
  readonly problems: readonly Problem[];
}

class Checker {
  readonly problems: Problem[] = [];
  constructor(readonly root: Node) {}

  at(path: (string | number)[]): Node | undefined {
    return findNodeAtLocation(this.root, path);
  }

  report(node: Node | undefined, message: string, severity: Problem['severity'] = 'error'): void {
    const n = node ?? this.root;
    // Point at the property name where there is one, so the squiggle is readable.
    const target = n.parent?.type === 'property' && n.parent.children?.[0] ? n.parent.children[0] : n;
    this.problems.push({ message, offset: target.offset, length: Math.max(1, target.length), severity });
  }

  string(path: string[], required: boolean): string | undefined {
    const n = this.at(path);
    if (!n) {
      if (required) this.report(this.root, `"${path.join('.')}" is required.`);
      return undefined;
    }
    if (n.type !== 'string') return (this.report(n, `"${path.join('.')}" must be a string.`), undefined);
    return n.value as string;
  }

  oneOf<T extends string>(path: string[], allowed: readonly T[], fallback: T): T {
    const n = this.at(path);
    if (!n) return fallback;
    if (n.type !== 'string' || !allowed.includes(n.value as T)) {
      this.report(n, `"${path.join('.')}" must be one of ${allowed.map((a) => `"${a}"`).join(', ')}.`);
      return fallback;
    }
    return n.value as T;
  }

  strings(path: string[], required: boolean, maxItems = MAX_HAND_BUILT_TOKENS): string[] | undefined {
    const n = this.at(path);
    if (!n) {
      if (required) this.report(this.root, `"${path.join('.')}" is required: a list of token strings.`);
      return undefined;
    }
    if (n.type !== 'array' || !(n.children ?? []).every((c) => c.type === 'string'))
      return (this.report(n, `"${path.join('.')}" must be a list of strings.`), undefined);
    if ((n.children ?? []).length === 0) return (this.report(n, `"${path.join('.')}" must not be empty.`), undefined);
    if ((n.children ?? []).length > maxItems)
      return (
        this.report(
          n,
          `"${path.join('.')}" lists ${(n.children ?? []).length} tokens; at most ${maxItems} are run (the attention matrix has tokens² cells).`,
        ),
        undefined
      );
    return getNodeValue(n) as string[];
  }

  /** A rectangular matrix of finite numbers; `rows`/`cols` are checked when given. */
  matrix(path: string[], required: boolean, rows?: number, cols?: number, what?: string): Matrix | undefined {
    const name = path.join('.');
    const n = this.at(path);
    if (!n) {
      if (required) this.report(this.root, `"${name}" is required${what ? `: ${what}` : ''}.`);
      return undefined;
    }
    if (n.type !== 'array' || (n.children ?? []).length === 0)
      return (this.report(n, `"${name}" must be a non-empty list of rows (lists of numbers).`), undefined);
    const out: Matrix = [];
    let width: number | undefined;
    for (const [i, row] of (n.children ?? []).entries()) {
      if (row.type !== 'array')
        return (this.report(row, `Row ${i} of "${name}" must be a list of numbers.`), undefined);
      const cells = row.children ?? [];
      for (const [j, c] of cells.entries())
        if (c.type !== 'number' || !Number.isFinite(c.value))
          return (this.report(c, `${name}[${i}][${j}] must be a finite number.`), undefined);
      if (width === undefined) width = cells.length;
      else if (cells.length !== width)
        return (
          this.report(
            row,
            `Row ${i} of "${name}" has ${cells.length} numbers but row 0 has ${width}: a matrix needs rows of equal length.`,
          ),
          undefined
        );
      out.push(cells.map((c) => c.value as number));
    }
    const r = out.length;
    const c = width ?? 0;
    if (c === 0) return (this.report(n, `"${name}" has empty rows.`), undefined);
    if ((rows !== undefined && r !== rows) || (cols !== undefined && c !== cols)) {
      this.report(n, `"${name}" is ${r}×${c} but ${what ?? 'it'} must be ${rows ?? r}×${cols ?? c}.`);
      return undefined;
    }
    return out;
  }

  vector(path: string[], required: boolean, length?: number, what?: string): number[] | undefined {
    const n = this.at(path);
    const name = path.join('.');
    if (!n) {
      if (required) this.report(this.root, `"${name}" is required${what ? `: ${what}` : ''}.`);
      return undefined;
    }
    if (n.type !== 'array' || !(n.children ?? []).every((c) => c.type === 'number' && Number.isFinite(c.value)))
      return (this.report(n, `"${name}" must be a list of finite numbers.`), undefined);
    const v = getNodeValue(n) as number[];
    if (length !== undefined && v.length !== length)
      return (this.report(n, `"${name}" has ${v.length} numbers but ${what ?? 'it'} needs ${length}.`), undefined);
    return v;
  }
}

export function parseAttentionConfig(text: string): ParsedConfig {
  // Bounded before the (recursive) parser runs: no stack overflow, no seconds-long parse on every diagnostics pass.
  const whole = { offset: 0, length: Math.min(text.length, 1), severity: 'error' as const };
  if (text.length > MAX_BYTES['attention-json'])
    return {
      problems: [
        {
          ...whole,
          message: `This attention config is ${text.length} characters long, more than the ${MAX_BYTES['attention-json']} accepted; it is not parsed.`,
        },
      ],
    };
  if (jsonNestingDepth(text) > MAX_JSON_DEPTH)
    return {
      problems: [
        {
          ...whole,
          message: `This attention config nests more than ${MAX_JSON_DEPTH} levels deep; an attention config nests 3, so it is not parsed.`,
        },
      ],
    };
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || !root) {
    return {
      problems: errors.map((e) => ({
        message: `JSON syntax error: ${printParseErrorCode(e.error)}.`,
        offset: e.offset,
        length: Math.max(1, e.length),
        severity: 'error' as const,
      })),
    };
  }
  const c = new Checker(root);
  if (root.type !== 'object') {
    c.report(root, 'An attention config is a JSON object with "kind": "hand-built" or "model".');
    return { problems: c.problems };
  }
  const kind = c.oneOf(['kind'], ['hand-built', 'model'] as const, 'hand-built');
  if (!c.at(['kind']))
    c.report(root, '"kind" is required: "hand-built" (your own tokens and matrices) or "model" (a model on disk).');
  const title = c.string(['title'], false) ?? 'Untitled attention config';
  if (kind === 'model') return { config: modelRef(c, title), problems: c.problems };
  const config = handBuilt(c, title);
  return { config: c.problems.some((p) => p.severity === 'error') ? undefined : config, problems: c.problems };
}

function handBuilt(c: Checker, title: string): HandBuiltConfig | undefined {
  const tokens = c.strings(['tokens'], true);
  const embeddings = c.matrix(['embeddings'], true, tokens?.length, undefined, 'one embedding row per token');
  const d = embeddings?.[0]?.length;
  const queryTokens = c.strings(['queryTokens'], false);
  const queryEmbeddings = queryTokens
    ? c.matrix(
        ['queryEmbeddings'],
        true,
        queryTokens.length,
        d,
        `one row per query token, as wide as the embeddings (${d ?? '?'})`,
      )
    : undefined;
  if (!queryTokens && c.at(['queryEmbeddings']))
    c.report(c.at(['queryEmbeddings']), '"queryEmbeddings" needs "queryTokens" beside it.');
  const W_q = c.matrix(['W_q'], true, d, undefined, `d_model × d_k, with d_model = ${d ?? '?'} (the embedding size)`);
  const dk = W_q?.[0]?.length;
  const W_k = c.matrix(
    ['W_k'],
    true,
    d,
    dk,
    `d_model × d_k = ${d ?? '?'}×${dk ?? '?'} (the same shape as W_q, so q·k is defined)`,
  );
  const W_v = c.matrix(['W_v'], true, d, undefined, `d_model × d_v, with d_model = ${d ?? '?'}`);
  const score = c.oneOf(['score'], SCORE_FUNCTIONS, 'scaled-dot');
  const normaliser = c.oneOf(['normaliser'], NORMALISERS, 'softmax');
  const W = c.matrix(
    ['W'],
    score === 'general',
    dk,
    dk,
    `d_k × d_k = ${dk ?? '?'}×${dk ?? '?'} for the general score qᵀWk`,
  );
  const W1 = c.matrix(
    ['W1'],
    score === 'additive',
    undefined,
    dk,
    `d_a × d_k (d_k = ${dk ?? '?'}) for the additive score`,
  );
  const da = W1?.length;
  const W2 = c.matrix(['W2'], score === 'additive', da, dk, `d_a × d_k = ${da ?? '?'}×${dk ?? '?'} like W1`);
  const v = c.vector(['v'], score === 'additive', da, `d_a = ${da ?? '?'} numbers (one per row of W1)`);
  const W_p = c.matrix(
    ['W_p'],
    c.at(['v_p']) !== undefined,
    undefined,
    dk,
    `d_p × d_k (d_k = ${dk ?? '?'}) for local-p's aligned position p_t = S·sigmoid(v_pᵀ tanh(W_p q_t))`,
  );
  const v_p = c.vector(
    ['v_p'],
    W_p !== undefined,
    W_p?.length,
    `d_p = ${W_p?.length ?? '?'} numbers (one per row of W_p)`,
  );
  const causalNode = c.at(['causal']);
  if (causalNode && causalNode.type !== 'boolean') c.report(causalNode, '"causal" must be true or false.');
  if (causalNode?.value === true && queryTokens)
    c.report(
      causalNode,
      'A causal mask needs queries and keys from the same tokens; remove "causal" or "queryTokens".',
    );
  if (!tokens || !embeddings || !W_q || !W_k || !W_v) return undefined;
  return {
    kind: 'hand-built',
    title,
    tokens,
    embeddings,
    queryTokens,
    queryEmbeddings,
    W_q,
    W_k,
    W_v,
    score,
    normaliser,
    W,
    W1,
    W2,
    v,
    ...(W_p && v_p ? { W_p, v_p } : {}),
    causal: causalNode?.value === true,
  };
}

function modelRef(c: Checker, title: string): ModelRefConfig | undefined {
  const architecture = c.oneOf(['architecture'], ARCHITECTURES, 'transformer-decoder');
  if (!c.at(['architecture'])) c.report(c.root, `"architecture" is required: one of ${ARCHITECTURES.join(', ')}.`);
  const builtin = c.string(['builtin'], false);
  const path = c.string(['path'], false);
  if (!builtin && !path)
    c.report(
      c.root,
      'Say which model: "builtin" (e.g. "tinystories-656k") or "path" (a folder with config.json and model.safetensors, relative to this file).',
    );
  if (path && /^([a-zA-Z]:)?[\\/]/.test(path))
    c.report(c.at(['path']), 'Use a path relative to this file; absolute paths are not followed.', 'warning');
  const text = c.string(['input', 'text'], false);
  const file = c.string(['input', 'file'], false);
  if (text === undefined && file === undefined)
    c.report(c.at(['input']) ?? c.root, '"input" is required: { "text": "…" } or { "file": "relative/path.txt" }.');
  if (c.problems.some((p) => p.severity === 'error')) return undefined;
  return { kind: 'model', title, architecture, builtin, path, input: text !== undefined ? { text } : { file: file! } };
}

/** What the host needs of a config before a run (the worker parses it again to run it): no matrices. */
export interface CheckedConfig {
  readonly config?: ModelRefConfig | { readonly kind: 'hand-built'; readonly title: string };
  readonly problems: readonly Problem[];
  /** Problems found beyond those listed (a file with an error in every number lists the first MAX_PROBLEMS). */
  readonly moreProblems?: number;
}

/** The most problems a check reports (the Problems panel shows no more usefully). */
export const MAX_PROBLEMS = 1000;

/** parseAttentionConfig's problems and the config without its numbers: small enough to send between threads. */
export function checkAttentionConfig(text: string): CheckedConfig {
  const { config, problems } = parseAttentionConfig(text);
  const summary = config?.kind === 'hand-built' ? { kind: config.kind, title: config.title } : config;
  return {
    ...(summary ? { config: summary } : {}),
    problems: problems.slice(0, MAX_PROBLEMS),
    ...(problems.length > MAX_PROBLEMS ? { moreProblems: problems.length - MAX_PROBLEMS } : {}),
  };
}
