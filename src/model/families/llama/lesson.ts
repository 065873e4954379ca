// What the panel says at each stage of a Llama-layout model (Llama, Qwen2): titles, formulas and
// explanations, apart from the numbers (poloclub/transformer-explainer keeps its textbook pages
// the same way). `name` is the family's name; Qwen2 adds a sentence on its q/k/v biases.
import type { CausalLmLesson, LessonContext } from '../../transformer/causalLm';
import type { LlamaConfig } from './config';

type C = LessonContext<LlamaConfig>;

function tokensExplanation(c: C, name: string): string {
  const tok = c.tokenizer;
  const start = c.config.startToken;
  const pieces = c.tokens.length - (start ? 1 : 0);
  const bos = c.tokens[0]!.text;
  const mark = tok.replacement;
  let suffix = 0;
  let prefix = 0;
  for (let id = 0; id < tok.vocabSize; id++) {
    const p = tok.piece(id);
    if (p.length > 1 && p.endsWith(mark)) suffix++;
    if (p.length > 1 && p.startsWith(mark)) prefix++;
  }
  const glue =
    suffix > prefix
      ? `"${mark}" marks a space, and this vocabulary glues the space after a word onto the word's end ("the${mark}"), so a text that stops without a final space often ends in odd fragments.`
      : `"${mark}" marks a space, glued onto the start of the word that follows it.`;
  const story = c.info.id === 'tinystories-656k' ? 'story' : 'document';
  return (
    `The text is split into ${pieces} pieces from a ${c.config.vocabSize}-entry byte-pair vocabulary: frequent character sequences ` +
    `became single tokens during training. ${glue}` +
    (tok.prependsSpace ? ` The tokenizer also puts one ${mark} before the text (shown without a position in the text).` : '') +
    (start
      ? ` The model always starts from ${bos}, the token it saw at the start of every training ${story}; characters missing from the ` +
        `vocabulary become ${tok.unkToken ?? '<unk>'}.`
      : ` ${name} adds no start token, so the first token has nothing before it to look at.`)
  );
}

/** The lesson of a Llama-layout family called `name`. */
export function ropeDecoderLesson(name: string): CausalLmLesson<LlamaConfig> {
  return {
    tokens: (c) => ({ title: 'Tokens', formula: c.config.startToken ? 'text → [BOS, t₁, …, t_n]' : 'text → [t₁, …, t_n]', explanation: tokensExplanation(c, name) }),
    embedding: ({ config: cfg }) => ({
      title: 'Token embeddings',
      formula: 'X[i] = E[tᵢ]',
      explanation:
        `Each token id picks one row of the ${cfg.vocabSize}×${cfg.hiddenSize} embedding matrix E. Nothing here says where the token is: ${name} adds ` +
        `no position vector; position enters later, inside attention, by rotating queries and keys (RoPE). ` +
        (cfg.tieEmbeddings ? 'The same matrix E is reused at the end to turn hidden states back into next-token scores (tied embeddings).' : ''),
      describe: { X: 'Embedding rows' },
    }),
    layerInput: ({ config: cfg }, l) => ({
      title: `Layer ${l}: RMSNorm of the residual stream`,
      formula: 'h = x / √(mean(x²) + ε) ⊙ g',
      explanation:
        `Layer ${l} reads the residual stream x (one ${cfg.hiddenSize}-vector per token) and rescales each token's vector to unit root-mean-square ` +
        `(ε = ${cfg.rmsEps.toExponential()}), then multiplies by a learned gain g per feature. Unlike LayerNorm there is no mean subtraction and no bias. ` +
        `The normalised h feeds attention; x itself is carried around the attention block and added back afterwards.`,
      describe: { hidden: 'RMSNorm(x): the input to attention' },
    }),
    attention: ({ config: cfg, kvHeadOf, tokens }) => {
      const { numHeads: H, numKvHeads: KV, headDim: hd, hiddenSize: D } = cfg;
      const group = H / KV;
      const sharing = Array.from({ length: KV }, (_, g) => `query heads ${kvHeadOf.flatMap((kv, h) => (kv === g ? [h] : [])).join(' and ')} → K/V head ${g}`).join('; ');
      const b = cfg.qkvBias;
      return {
        qkvTitle: 'queries, keys, values (GQA + RoPE)',
        qkvFormula: b ? 'Q = RoPE(h W_Qᵀ + b_Q), K = RoPE(h W_Kᵀ + b_K), V = h W_Vᵀ + b_V' : 'Q = RoPE(h W_Qᵀ), K = RoPE(h W_Kᵀ), V = h W_Vᵀ',
        qkvText:
          `h is projected to ${H} query heads but only ${KV} key/value heads of ${hd} dimensions each: grouped-query attention, where ` +
          `${group} query heads share one key/value head (${sharing}), which shrinks the key/value cache ${group}×. ` +
          (b ? `Unlike Llama, ${name} adds a learned bias to each of the three projections (but not to the output projection). ` : '') +
          `RoPE then rotates Q and K (not V) by an angle that grows with the token's position p: dimension pair (i, i+${hd / 2}) ` +
          `turns by p·θᵢ with θᵢ = ${cfg.ropeTheta}^(−2i/${hd}), fast for small i, slow for large i. Because rotations compose, ` +
          `the score between a query at position p and a key at position p′ depends on the positions only through p − p′, ` +
          `how far apart the two tokens are: that is how the model knows word order.`,
        qDescription: 'Queries after RoPE',
        kDescription: 'Keys after RoPE (shared by query-head groups)',
        vDescription: 'Values (not rotated)',
        scoresFormula: `S[h] = Q[h] K[g(h)]ᵀ / √${hd}`,
        scoresDescription: 'QKᵀ/√d before masking',
        maskDescription: '1 = may attend, 0 = future token (masked)',
        scoresText:
          `For every head, each query is compared with every key by a dot product, divided by √d_head = √${hd} so the scores ` +
          `stay in a range where softmax is not saturated. Query head h uses the keys of its shared head g(h). The mask shows ` +
          `which pairs are allowed: this is a causal language model, so a token may only look at itself and earlier tokens; ` +
          `scores for later tokens are computed here but will be discarded.`,
        weightsFormula: 'α = softmax(S + M),  M = 0 (allowed) or −∞ (future)',
        weightsText:
          `Masked scores are set to −∞ and each query's row goes through softmax, so the weights over the allowed keys are positive ` +
          `and sum to 1 while future tokens get exactly 0. Trained language models often park much of a head's weight on the ` +
          `first token (here ${tokens[0]!.text}) when nothing else is relevant: look for a bright first column.`,
        contextFormula: 'cᵢ[h] = Σⱼ αᵢⱼ[h] V[g(h)]ⱼ;  out = concat_h(c) W_Oᵀ',
        outputDescription: 'concat(heads) W_Oᵀ',
        contextText:
          `Each head mixes the value vectors of the tokens it attends to, weighted by α: a ${hd}-vector per head and token. The ` +
          `${H} heads' vectors are concatenated (${H * hd} numbers) and projected by W_O back to ${D} dimensions: that output is ` +
          `what attention adds to the residual stream.`,
      };
    },
    layerOutput: ({ config: cfg }, l) => ({
      title: `Layer ${l}: residual + SwiGLU MLP`,
      formula: "x' = x + attn;  x'' = x' + W_down(silu(W_gate h') ⊙ W_up h'),  h' = RMSNorm(x')",
      explanation:
        `The attention output is added to the residual stream. Then each token, on its own, is normalised again and passed ` +
        `through a gated MLP: two ${cfg.intermediateSize}-wide projections, one squashed by silu(z) = z·σ(z) and used as a gate ` +
        `on the other, then projected back to ${cfg.hiddenSize}. That is added to the stream too, giving the layer's output.`,
      describe: { hidden: 'Residual stream after the layer', mlp_input: "h' = RMSNorm(x'): the input to the MLP" },
    }),
    output: ({ config: cfg, topK }) => ({
      title: 'Next-token predictions',
      formula: cfg.tieEmbeddings ? 'p(tᵢ₊₁ | t≤ᵢ) = softmax(RMSNorm(xᵢ) Eᵀ)' : 'p(tᵢ₊₁ | t≤ᵢ) = softmax(RMSNorm(xᵢ) W_outᵀ)',
      explanation:
        `After the last layer the stream is normalised once more and compared with every row of the ${cfg.tieEmbeddings ? 'embedding matrix E (the same one used at the input)' : 'output matrix'}, ` +
        `giving one score per vocabulary entry; softmax turns the scores into probabilities. Every position predicts the token ` +
        `that follows it, using only itself and the tokens before it. Shown: the ${topK} most likely next tokens per position.`,
      describe: { hidden: 'Final RMSNorm of the residual stream' },
    }),
  };
}

export const llamaLesson = ropeDecoderLesson('Llama');
