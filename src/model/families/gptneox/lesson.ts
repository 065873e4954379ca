// What the panel says at each stage of a GPT-NeoX / Pythia model: titles, formulas and
// explanations, apart from the numbers. What is NeoX's own: LayerNorm with biases, rotary positions
// on part of each head, and (use_parallel_residual) attention and the MLP side by side.
import type { CausalLmLesson, Words } from '../../transformer/causalLm';
import { ACTIVATION_FORMULA } from '../../layers/activations';
import type { NeoxConfig } from './config';

const LN = 'LN(x) = (x − mean(x)) / √(var(x) + ε) ⊙ g + b';

export const neoxLesson: CausalLmLesson<NeoxConfig> = {
  tokens: (c) => ({
    title: 'Tokens',
    formula: 'text → [t₁, …, t_n]',
    explanation:
      `The text is split into ${c.tokens.length} pieces by a byte-level BPE vocabulary of ${c.tokenizer.vocabSize} entries (the embedding has ${c.config.vocabSize} rows): ` +
      'frequent byte sequences became single tokens during training, and "Ġ" marks a space glued to the start of the next word. GPT-NeoX adds no start token, so the first token has nothing before it to look at.',
  }),
  embedding: ({ config: cfg }) => ({
    title: 'Token embeddings',
    formula: 'X[i] = E[tᵢ]',
    explanation:
      `Each token id picks one row of the ${cfg.vocabSize}×${cfg.hiddenSize} embedding matrix E (embed_in). No position vector is added: position enters inside attention, ` +
      `by rotating part of each query and key (RoPE). ${cfg.tieEmbeddings ? 'The same matrix is reused at the end (tied embeddings).' : 'A separate matrix (embed_out) turns the final hidden states into next-token scores.'}`,
    describe: { X: 'Embedding rows' },
  }),
  layerInput: ({ config: cfg }, l) => ({
    title: `Layer ${l}: LayerNorm of the residual stream`,
    formula: `h = ${LN}`,
    explanation:
      `Layer ${l} reads the residual stream x (one ${cfg.hiddenSize}-vector per token) and normalises each token's vector to mean 0 and variance 1 ` +
      `(ε = ${cfg.layerNormEps.toExponential()}), then applies a learned gain g and bias b (input_layernorm). The normalised h feeds attention; x itself is carried around it.`,
    describe: { hidden: 'LN₁(x): the input to attention' },
  }),
  attention: ({ config: cfg, tokens }) => {
    const { numHeads: H, headDim: hd, rotaryDim: d, hiddenSize: D } = cfg;
    const b = cfg.attentionBias;
    return {
      qkvTitle: 'queries, keys, values (partial RoPE)',
      qkvFormula: b
        ? '[Q | K | V] per head = h W_QKVᵀ + b_QKV;  Q, K ← RoPE on their first ' + d + ' dims'
        : '[Q | K | V] per head = h W_QKVᵀ;  Q, K ← RoPE on their first ' + d + ' dims',
      qkvText:
        `One fused projection (query_key_value) maps h to ${3 * D} numbers per token, read as ${H} heads of ${3 * hd}: each head's query, key and value of ${hd} dimensions ` +
        `side by side. RoPE then turns only the first ${d} of each query's and key's ${hd} dimensions (rotary_pct = ${d / hd}): pair (i, i+${d / 2}) by p·θᵢ with ` +
        `θᵢ = ${cfg.ropeTheta}^(−2i/${d}); the other ${hd - d} dimensions carry no position at all. The score of two tokens then depends on their positions only through how far apart they are.`,
      qDescription: `Queries (first ${d} dims rotated)`,
      kDescription: `Keys (first ${d} dims rotated)`,
      vDescription: 'Values (not rotated)',
      scoresFormula: `S[h] = Q[h] K[h]ᵀ / √${hd}`,
      scoresDescription: 'QKᵀ/√d before masking',
      maskDescription: '1 = may attend, 0 = future token (masked)',
      scoresText:
        `For every head, each query is compared with every key by a dot product, divided by √d_head = √${hd}. The mask shows which pairs are allowed: this is a ` +
        'causal language model, so a token may only look at itself and earlier tokens; scores for later tokens are computed here but will be discarded.',
      weightsFormula: 'α = softmax(S + M),  M = 0 (allowed) or −∞ (future)',
      weightsText:
        "Masked scores are set to −∞ and each query's row goes through softmax, so the weights over the allowed keys are positive and sum to 1 while future tokens get exactly 0. " +
        `Trained models often park weight on the first token (here ${tokens[0]!.text}) when nothing else is relevant.`,
      contextFormula: b
        ? 'cᵢ[h] = Σⱼ αᵢⱼ[h] V[h]ⱼ;  out = concat_h(c) W_Oᵀ + b_O'
        : 'cᵢ[h] = Σⱼ αᵢⱼ[h] V[h]ⱼ;  out = concat_h(c) W_Oᵀ',
      outputDescription: b ? 'concat(heads) W_Oᵀ + b_O (attention.dense)' : 'concat(heads) W_Oᵀ (attention.dense)',
      contextText:
        `Each head mixes the value vectors of the tokens it attends to, weighted by α. The ${H} heads' ${hd}-vectors are concatenated and projected by the dense layer back to ${D} dimensions: ` +
        'that is what attention adds to the residual stream.',
    };
  },
  layerOutput: ({ config: cfg }, l): Words =>
    cfg.parallelResidual
      ? {
          title: `Layer ${l}: attention and MLP in parallel`,
          formula: `x'' = x + attn(LN₁(x)) + W₂ ${cfg.activation}(W₁ LN₂(x) + b₁) + b₂`,
          explanation:
            `GPT-NeoX runs the MLP beside attention rather than after it (use_parallel_residual): the MLP reads LN₂ of the same layer input x, not x + attention, ` +
            `goes up to ${cfg.intermediateSize} dimensions, through ${ACTIVATION_FORMULA[cfg.activation]}, and back to ${cfg.hiddenSize}. Both outputs are added to x at once.`,
          describe: {
            hidden: 'Residual stream after the layer',
            attention_residual: 'x + attention output (the MLP did not read it)',
            mlp_input: 'LN₂(x): the input to the MLP (the layer input, not x + attention)',
          },
        }
      : {
          title: `Layer ${l}: residual + MLP`,
          formula: `x' = x + attn;  x'' = x' + W₂ ${cfg.activation}(W₁ LN₂(x') + b₁) + b₂`,
          explanation: `The attention output is added to the stream; then the MLP reads LN₂ of that sum, goes up to ${cfg.intermediateSize} dimensions and back, and is added too.`,
          describe: { hidden: 'Residual stream after the layer', mlp_input: "LN₂(x'): the input to the MLP" },
        },
  output: ({ config: cfg, topK }) => ({
    title: 'Next-token predictions',
    formula: 'p(tᵢ₊₁ | t≤ᵢ) = softmax(LN_f(xᵢ) W_outᵀ)',
    explanation:
      `After the last layer the stream goes through a final LayerNorm and is compared with every row of the ${cfg.tieEmbeddings ? 'embedding matrix' : 'output matrix embed_out'}, giving one score per vocabulary entry; ` +
      `softmax turns them into probabilities. Every position predicts the token that follows it. Shown: the ${topK} most likely next tokens per position.`,
    describe: { hidden: 'Final LayerNorm of the residual stream' },
  }),
};
