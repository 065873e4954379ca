// What the panel says at each stage of a GPT-2: titles, formulas and explanations, apart from the numbers.
import { ACTIVATION_FORMULA } from '../../layers/activations';
import type { CausalLmLesson } from '../../transformer/causalLm';
import type { Gpt2Config } from './config';

/** How layer l's scores are scaled, as a formula fragment and in words. */
function scaling(cfg: Gpt2Config, l: number): { expr: string; why: string; standard: boolean } {
  const hd = cfg.headDim;
  const text = cfg.scaleAttnWeights
    ? cfg.scaleByInverseLayerIdx
      ? `√${hd}·${l + 1}`
      : `√${hd}`
    : cfg.scaleByInverseLayerIdx
      ? `${l + 1}`
      : '';
  const why = cfg.scaleAttnWeights
    ? `divided by √d_head = √${hd} so the scores stay in a range where softmax is not saturated` +
      (cfg.scaleByInverseLayerIdx
        ? ` and, as this config asks (scale_attn_by_inverse_layer_idx), also by the layer number l + 1 = ${l + 1}`
        : '')
    : `not divided by √d_head (this config sets scale_attn_weights to false)` +
      (cfg.scaleByInverseLayerIdx ? `, only by the layer number l + 1 = ${l + 1}` : '');
  return {
    expr: text ? `Q[h] K[h]ᵀ / ${text}` : 'Q[h] K[h]ᵀ',
    why,
    standard: cfg.scaleAttnWeights && !cfg.scaleByInverseLayerIdx,
  };
}

export const gpt2Lesson: CausalLmLesson<Gpt2Config> = {
  tokens: ({ config: cfg, tokens }) => ({
    title: 'Tokens',
    formula: 'text → UTF-8 bytes → byte-pair merges → [t₁, …, t_n]',
    explanation:
      `The text is turned into UTF-8 bytes, each byte shown as one printable character (a space appears as "Ġ", a newline as "Ċ"), ` +
      `and frequent byte sequences are merged into ${tokens.length} tokens from a ${cfg.vocabSize}-entry byte-pair vocabulary. Because every byte ` +
      `has a token, nothing is ever unknown. A space belongs to the word after it ("Ġcat"), so " cat" and "cat" are different tokens. ` +
      (tokens[0]?.special === true
        ? `The tokenizer puts ${tokens[0].text} in front.`
        : `GPT-2 adds no start token, so the first token has nothing before it to look at.`),
  }),
  embedding: ({ config: cfg }) => ({
    title: 'Embeddings: token + learned position',
    formula: 'X[i] = E[tᵢ] + P[i]',
    explanation:
      `Each token id picks a row of the ${cfg.vocabSize}×${cfg.hiddenSize} token-embedding matrix E (wte), and row i of a learned position table P ` +
      `(wpe, ${cfg.maxPositions} rows, so at most ${cfg.maxPositions} tokens) is added so the model knows where each token stands: ` +
      `attention by itself ignores order. There is no normalisation here; each layer normalises its own input. ` +
      (cfg.tieEmbeddings
        ? 'E is used again at the very end to turn hidden states into next-token scores (tied embeddings).'
        : ''),
    describe: {
      X: 'E[tᵢ] + P[i]: the residual stream entering layer 0',
      E: 'Token-embedding rows E[tᵢ] (wte)',
      P: 'Position-embedding rows P[i] (wpe)',
    },
  }),
  layerInput: ({ config: cfg }, l) => ({
    title: `Layer ${l}: LayerNorm before attention (pre-norm)`,
    formula: 'h = (x − mean(x)) / √(var(x) + ε) ⊙ g + b',
    explanation:
      `Layer ${l} reads the residual stream x (one ${cfg.hiddenSize}-vector per token) and layer-normalises each token's vector (ln_1): shift to ` +
      `mean 0, scale to variance 1 (ε = ${cfg.eps.toExponential()}), then apply a learned gain g and bias b per feature. GPT-2 ` +
      `normalises before each sub-block ("pre-norm"), unlike the original Transformer and BERT, which normalise after it; x itself ` +
      `is carried around attention unchanged and the attention output is added back to it.`,
    describe: { hidden: 'ln_1(x): the input to attention' },
  }),
  attention: ({ config: cfg }, l) => {
    const { hiddenSize: D, numHeads: H, headDim: hd } = cfg;
    const s = scaling(cfg, l);
    return {
      qkvFormula: '[Q | K | V] = h W_attn + b_attn  (one n_embd × 3·n_embd matrix, split in three, then into heads)',
      qkvText:
        `GPT-2 computes queries, keys and values with one fused projection (c_attn): h times a ${D}×${3 * D} matrix plus a bias gives ` +
        `${3 * D} numbers per token, cut into three blocks of ${D}: the first is the query (what this token looks for), the second ` +
        `the key (what it offers to be found by), the third the value (what it passes on). Each block is then cut into ${H} heads ` +
        `of ${hd} dimensions that attend independently. Fusing is only a speed-up: it equals three separate ${D}×${D} projections.`,
      ...(s.standard ? {} : { scoresFormula: `S[h] = ${s.expr}`, scoresDescription: `${s.expr} before masking` }),
      scoresText:
        `Each query is compared with every key by a dot product, ${s.why}. GPT-2 is a causal language model, trained to predict ` +
        `the next token, so a token may only look at itself and the tokens before it. The mask shows which pairs are allowed; the ` +
        `scores of later tokens are computed here but thrown away in the next step.`,
      weightsFormula: 'α = softmax(S + M),  M = 0 (same or earlier token) or −∞ (later token)',
      weightsText:
        `Masked scores are replaced by −∞ before softmax, so every future token gets a weight of exactly 0 and the weights over the ` +
        `allowed tokens are positive and sum to 1. Row i therefore only mixes tokens 0…i. Trained GPT-2 heads often park weight on the ` +
        `first token when they have nothing specific to find; look for a bright first column.`,
      contextText:
        `Each head mixes the value vectors of the tokens it attends to, weighted by α: a ${hd}-vector per head and token. The ${H} ` +
        `heads' vectors are put side by side (${H * hd} numbers) and projected by W_O (attn.c_proj) back to ${D} dimensions: that is ` +
        `what attention adds to the residual stream.`,
    };
  },
  layerOutput: ({ config: cfg }, l) => ({
    title: `Layer ${l}: residual + LayerNorm + MLP + residual`,
    formula: `x' = x + attn;  x'' = x' + W₂ ${cfg.activation}(W₁ ln_2(x') + b₁) + b₂`,
    explanation:
      `The attention output is added to the residual stream, giving x'. Then each token, on its own, is layer-normalised again (ln_2) ` +
      `and passed through a two-layer MLP (${cfg.hiddenSize} → ${cfg.innerSize} → ${cfg.hiddenSize}, ${ACTIVATION_FORMULA[cfg.activation]}); its output is added to the stream ` +
      `as well. The result is the layer's output and the next layer's input.`,
    describe: { mlp_input: "ln_2(x'): the input to the MLP" },
  }),
  output: ({ config: cfg, tokens, topK }) => ({
    title: 'Next-token predictions',
    formula: cfg.tieEmbeddings ? 'p(tᵢ₊₁ | t≤ᵢ) = softmax(ln_f(xᵢ) Eᵀ)' : 'p(tᵢ₊₁ | t≤ᵢ) = softmax(ln_f(xᵢ) W_outᵀ)',
    explanation:
      `After the last layer the stream is layer-normalised once more (ln_f) and compared, by a dot product, with every row of the ` +
      `${cfg.tieEmbeddings ? 'token-embedding matrix E (the same one used at the input)' : 'output matrix (lm_head)'}, giving one score per ` +
      `vocabulary entry; softmax turns the scores into probabilities. Every position predicts the token that follows it from itself ` +
      `and the tokens before it, so one run gives ${tokens.length} predictions. Shown: the ${topK} most likely next tokens per position.`,
    describe: { hidden: 'ln_f of the residual stream' },
  }),
};
