// The words of a TensorFlow.js layers model's trace: per attention layer (by its Keras class and
// score mode), the token stage and the output stage. Apart from the numbers (stages.ts).
import type { AttentionLayerRecord } from './kerasAttention';
import type { Stage } from '../../../../shared/trace';

type StageText = Pick<Stage, 'title' | 'formula' | 'explanation'>;

const CLASS_TEXT: Record<AttentionLayerRecord['className'], string> = {
  MultiHeadAttention: 'MultiHeadAttention',
  Attention: 'Attention (Luong)',
  AdditiveAttention: 'AdditiveAttention (Bahdanau)',
};

/** The words attentionStages needs for one layer, and the score stage's own formula. */
export interface LayerWords {
  readonly title: string;
  readonly qkvFormula: string;
  readonly qkvText: string;
  readonly scoresFormula: string;
  readonly scoresText: string;
  readonly weightsFormula: string;
  readonly weightsText: string;
  readonly contextText: string;
  /** Luong and Bahdanau return the context itself: the context stage's formula says so. */
  readonly contextFormula?: string;
  readonly outputDescription?: string;
}

function scoreWords(r: AttentionLayerRecord): Pick<LayerWords, 'scoresFormula' | 'scoresText'> {
  const H = r.heads;
  const kd = r.keyDim;
  const scaleText = r.scale && r.scale.length === 1 ? r.scale[0]!.toPrecision(4) : undefined;
  if (r.className === 'MultiHeadAttention') {
    return {
      scoresFormula: `S[h] = Q[h] K[h]ᵀ / √${kd}`,
      scoresText: `Each query is compared with every key by a dot product in each of the ${H} heads, divided by √${kd} (the key size) so the scores do not grow with it.`,
    };
  }
  if (r.scoreMode === 'dot') {
    return {
      scoresFormula: scaleText ? `S = s · Q Kᵀ  (learned s = ${scaleText})` : 'S = Q Kᵀ',
      scoresText:
        `Luong's dot-product score: how well each query vector lines up with each key vector` +
        (scaleText
          ? `, multiplied by one learned number s = ${scaleText} that sets how sharp the softmax will be.`
          : '.'),
    };
  }
  if (r.scoreMode === 'concat') {
    return {
      scoresFormula: `Sᵢⱼ = c · Σ_d tanh(${scaleText ? 's·' : ''}(qᵢ + kⱼ)_d)  (c = ${r.concatScoreWeight?.toPrecision(4) ?? '1'}${scaleText ? `, s = ${scaleText}` : ''})`,
      scoresText: `Keras's "concat" score: the query and key are added feature by feature, squashed by tanh and summed, then scaled by the learned number c.`,
    };
  }
  return {
    scoresFormula: r.scale ? 'Sᵢⱼ = Σ_d v_d · tanh(q_{i,d} + k_{j,d})' : 'Sᵢⱼ = Σ_d tanh(q_{i,d} + k_{j,d})',
    scoresText:
      `Bahdanau's additive score: the query and key vectors are added feature by feature, squashed by tanh, and the ${kd} results are ` +
      `summed` +
      (r.scale ? ', each weighted by a learned vector v (shown beside the scores).' : '.'),
  };
}

export function layerWords(r: AttentionLayerRecord, index: number): LayerWords {
  const mha = r.className === 'MultiHeadAttention';
  const H = r.heads;
  const kd = r.keyDim;
  const vd = r.valueDim;
  const maskNote = r.mask
    ? ' Masked cells (the future, for a causal layer) get −10⁹ added first, so they become exact zeros.'
    : '';
  return {
    title: `Layer ${index} "${r.layer}" (${CLASS_TEXT[r.className]})`,
    qkvFormula: mha
      ? 'Q[h] = X_q W_Q[:, h, :] + b_Q[h],  K[h] = X_k W_K[:, h, :] + b_K[h],  V[h] = X_v W_V[:, h, :] + b_V[h]'
      : 'Q = query,  K = key (or value),  V = value',
    qkvText: mha
      ? `The layer's query input (${r.queryInputDim} features per token) is multiplied by the kernel W_Q of shape [${r.queryInputDim}, ${H}, ${kd}], ` +
        `which gives every token a ${kd}-number query in each of the ${H} heads at once; keys and values are made the same way from the key ` +
        `and value inputs (W_K, W_V${r.keyDim !== r.valueDim ? `, values of ${vd} numbers` : ''}).`
      : `This layer has no projections of its own: Q is the query input, V the value input and K the key input (the value when no key is given). ` +
        `The layers before it (here ${r.queryInputDim}-feature vectors) did the projecting.`,
    ...scoreWords(r),
    weightsFormula: r.mask
      ? 'α = softmax(S − 10⁹·(1 − mask))  (each row sums to 1)'
      : 'α = softmax(S)  (each row sums to 1)',
    weightsText: `Softmax turns each query's row of scores into positive weights that sum to 1.${maskNote}`,
    contextText: mha
      ? `Each head blends the value vectors with its weights; the ${H} heads' contexts are laid side by side and the kernel W_O [${H}, ${vd}, ${r.outputDim}] maps them to the layer's output.`
      : `Each query's context is the weighted average of the value vectors; this is what the layer returns (Keras adds no output projection).`,
    ...(mha
      ? {}
      : {
          contextFormula: "cᵢ = Σⱼ αᵢⱼ vⱼ  (the layer's output)",
          outputDescription: 'The layer output: the context vectors (zeroed where a query mask says so)',
        }),
  };
}

export const tfjsLesson = {
  tokens: (o: {
    chars: boolean;
    encoderKind: string;
    vocabSize: number;
    T: number;
    positions: boolean;
  }): StageText => ({
    title: 'Tokens',
    formula: o.chars ? 'text → one id per character' : 'text → token ids',
    explanation:
      `A TensorFlow.js layers model reads numbers, not text, so the text is first turned into ids using ${o.encoderKind} ` +
      `(${o.vocabSize} entries). These ids are the model's input tensor of shape [1, ${o.T}]` +
      (o.positions ? `; its second input gets the positions 0…${o.T - 1}.` : '.'),
  }),
  nextToken: (V: number, k: number): StageText => ({
    title: 'Next-token predictions',
    formula: "p(next token | tokens ≤ i) = the model's output row i",
    explanation:
      `The model's last layer gives, for every position, a probability for each of the ${V} vocabulary entries: its guess for the ` +
      `token that comes next. Shown: the ${k} most likely per position.`,
  }),
  classes: (V: number, top: readonly { label: string; p: number }[]): StageText => ({
    title: 'Output: classes',
    formula: "p(class | text) = the model's output",
    explanation: `The model reduces the whole sequence to one vector of ${V} numbers. Most likely: ${top.map((c) => `${c.label} (${c.p.toFixed(3)})`).join(', ')}.`,
  }),
  output: (shape: readonly number[]): StageText => ({
    title: 'Model output',
    formula: 'y = model(ids)',
    explanation: `The model's output tensor, of shape [${shape.join(', ')}].`,
  }),
  offPositions: (layer: string, queries: number, keys: number, T: number): string =>
    `Attention layer "${layer}" works on ${queries}×${keys} positions, not the ${T} tokens; its axes are labelled by position.`,
  unknown: (n: number): string =>
    `${n} token${n === 1 ? '' : 's'} are not in the model's vocabulary and were read as unknown.`,
};
