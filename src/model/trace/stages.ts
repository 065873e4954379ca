// Stage builders every Transformer family shares: the four stages of one attention block
// (Q/K/V → scores → weights → context) and the top-k prediction tensors. The words come from the
// family's lesson; the numbers from its forward pass. No vscode import.
import { tf } from '../runtime/backend';
import { f32 } from '../runtime/read';
import type { AttentionRecord } from '../attention/multiHead';
import { tensor, type AttentionInfo, type Stage, type TensorData } from '../../../shared/trace';

/** The weights stage's value-weighted norms (Kobayashi et al., 2020), [head, query, key]. */
export const VALUE_NORMS = 'value_norms';
export const VALUE_NORMS_DESCRIPTION =
  '‖α·v·W_O‖ (value-weighted norm): ‖αᵢⱼ (vⱼ W_Oʰ)‖₂ per head, W_Oʰ = the rows of W_O head h’s context occupies; W_O’s bias b_O is not part of it (Kobayashi et al., 2020)';

/** What the weights stage adds about its value-weighted norms. */
export const VALUE_NORMS_TEXT =
  'A weight alone does not say how much a key moves the output: the value-weighted norm ‖αᵢⱼ vⱼ W_Oʰ‖ (Kobayashi et al., 2020) is the length of what key j actually adds to query i’s output through head h, with W_Oʰ the rows of the output projection that head h’s context occupies. The bias b_O is not part of it (it is added once, whatever the keys). Colour by it with “colour by”.';

/** The words of one attention block: what the family's lesson says at each of its four stages. */
export interface AttentionWords {
  readonly qkvText: string;
  readonly scoresText: string;
  readonly weightsText: string;
  readonly contextText: string;
  readonly qkvTitle?: string;
  readonly qkvFormula?: string;
  /** Default `S[h] = Q[h] K[h]ᵀ / √hd`. */
  readonly scoresFormula?: string;
  /** How the scores tensor is described; default `QKᵀ/√hd`, plus ' before masking' under a mask. */
  readonly scoresDescription?: string;
  readonly weightsFormula?: string;
  readonly contextFormula?: string;
  readonly qDescription?: string;
  readonly kDescription?: string;
  readonly vDescription?: string;
  readonly maskDescription?: string;
  readonly outputDescription?: string;
}

export interface AttentionStageSpec extends AttentionWords {
  /** Stage id prefix, e.g. 'L0', 'enc1', 'dec0.self', 'dec1.cross'. */
  readonly prefix: string;
  readonly layer: number;
  /** Title prefix, e.g. 'Layer 0', 'Decoder layer 1, cross-attention'. */
  readonly title: string;
  readonly attention: AttentionInfo;
  readonly heads: number;
  /** Grouped-query attention: K and V have this many heads, on a 'kv_head' axis. */
  readonly kvHeads?: number;
  readonly headDim: number;
  readonly dModel: number;
  readonly queryCount: number;
  readonly keyCount: number;
  readonly record: AttentionRecord;
  /** Mask shown beside the scores: 1 = may attend, 0 = masked. */
  readonly mask?: Float32Array;
}

/** The four stages of one attention block: Q/K/V, scores, weights, context. */
export function attentionStages(s: AttentionStageSpec): Stage[] {
  const {
    prefix,
    layer,
    title,
    attention,
    heads: H,
    headDim: hd,
    dModel: D,
    queryCount: Tq,
    keyCount: Tk,
    record: r,
  } = s;
  const KV = s.kvHeads ?? H;
  const kvAxis = s.kvHeads === undefined ? 'head' : 'kv_head';
  const qTok = { token: attention.queries } as const;
  const kTok = { token: attention.keys } as const;
  const qk = { query: attention.queries, key: attention.keys } as const;
  const scoresDescription = s.scoresDescription ?? `QKᵀ/√${hd}${s.mask ? ' before masking' : ''}`;
  const scoreTensors = [
    tensor('scores', [H, Tq, Tk], ['head', 'query', 'key'], r.scores, {
      tokenAxes: qk,
      description: scoresDescription,
    }),
  ];
  if (s.mask)
    scoreTensors.push(
      tensor('mask', [Tq, Tk], ['query', 'key'], s.mask, {
        tokenAxes: qk,
        description: s.maskDescription ?? '1 = may attend, 0 = masked (future position)',
      }),
    );
  const stage = (
    part: string,
    kind: Stage['kind'],
    heading: string,
    formula: string,
    explanation: string,
    tensors: Stage['tensors'],
  ): Stage => ({
    id: `${prefix}.${part}`,
    kind,
    layer,
    attention,
    title: `${title}: ${heading}`,
    formula,
    explanation,
    tensors,
  });
  return [
    stage(
      'qkv',
      'qkv',
      s.qkvTitle ?? 'queries, keys, values',
      s.qkvFormula ?? 'Q = h W_Q + b_Q,  K = h W_K + b_K,  V = h W_V + b_V  (split into heads)',
      s.qkvText,
      [
        tensor('Q', [H, Tq, hd], ['head', 'token', 'd_head'], r.q, {
          tokenAxes: qTok,
          description: s.qDescription ?? 'Queries, one row per query token and head',
        }),
        tensor('K', [KV, Tk, hd], [kvAxis, 'token', 'd_head'], r.k, {
          tokenAxes: kTok,
          description: s.kDescription ?? 'Keys, one row per key token and head',
        }),
        tensor('V', [KV, Tk, hd], [kvAxis, 'token', 'd_head'], r.v, {
          tokenAxes: kTok,
          description: s.vDescription ?? 'Values, one row per key token and head',
        }),
      ],
    ),
    stage(
      'scores',
      'score',
      'attention scores',
      s.scoresFormula ?? `S[h] = Q[h] K[h]ᵀ / √${hd}`,
      s.scoresText,
      scoreTensors,
    ),
    stage(
      'weights',
      'normalise',
      'attention weights',
      s.weightsFormula ?? 'α[h] = softmax(S[h])  (each row sums to 1)',
      r.valueNorms ? `${s.weightsText} ${VALUE_NORMS_TEXT}` : s.weightsText,
      [
        tensor('weights', [H, Tq, Tk], ['head', 'query', 'key'], r.weights, {
          tokenAxes: qk,
          description: 'Attention weights α',
        }),
        ...(r.valueNorms
          ? [
              tensor(VALUE_NORMS, [H, Tq, Tk], ['head', 'query', 'key'], r.valueNorms, {
                tokenAxes: qk,
                description: VALUE_NORMS_DESCRIPTION,
              }),
            ]
          : []),
      ],
    ),
    stage(
      'context',
      'context',
      'context vectors',
      s.contextFormula ?? 'cᵢ[h] = Σⱼ αᵢⱼ[h] Vⱼ[h];  out = concat_h(c) W_O + b_O',
      s.contextText,
      [
        tensor('context', [H, Tq, hd], ['head', 'query', 'd_head'], r.context, {
          tokenAxes: { query: attention.queries },
          description: 'Per-head context vectors',
        }),
        tensor('output', [Tq, D], ['token', 'd_model'], r.output, {
          tokenAxes: qTok,
          description: s.outputDescription ?? 'concat(heads) W_O + b_O',
        }),
      ],
    ),
  ];
}

/** The top-k predictions per position as the two tensors the panel's prediction views read. */
export function topKTensors(
  T: number,
  k: number,
  p: Float32Array,
  id: ArrayLike<number>,
  tokenAxes: Readonly<Record<string, 'input' | 'output'>>,
  what: string,
): TensorData[] {
  return [
    tensor('top_p', [T, k], ['token', 'rank'], p, { tokenAxes, description: `Probabilities of the top ${what}` }),
    tensor('top_id', [T, k], ['token', 'rank'], Float32Array.from(id), { tokenAxes, description: 'Their token ids' }),
  ];
}

/** Softmax top-k per row of `logits` ([rows, vocab] → [rows, k] twice); inside or outside a tidy. */
export function topKRows(logits: tf.Tensor2D, k: number): { p: Float32Array; id: Int32Array } {
  let out: { p: Float32Array; id: Int32Array } | undefined;
  tf.tidy(() => {
    const top = tf.topk(tf.softmax(logits, -1), k, true);
    const idx = top.indices.dataSync();
    out = { p: f32(top.values), id: idx instanceof Int32Array ? idx : Int32Array.from(idx) };
  });
  return out!;
}
