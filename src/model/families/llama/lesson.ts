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
  let byteSpace = 0;
  for (let id = 0; id < tok.vocabSize; id++) {
    const p = tok.piece(id);
    if (p.length > 1 && p.endsWith(mark)) suffix++;
    if (p.length > 1 && p.startsWith(mark)) prefix++;
    if (p.length > 1 && p.startsWith('Ġ')) byteSpace++;
  }
  // Llama 3, Qwen, SmolLM, Phi-4: byte-level BPE, whose space symbol is GPT-2's "Ġ" and which has no unknown token.
  const byteLevel = byteSpace > prefix && byteSpace > suffix;
  const glue = byteLevel
    ? 'Its symbols are the bytes of the UTF-8 text, so no character is ever unknown (an accented letter or an emoji may show as ' +
      'two to four odd-looking byte symbols, "Ã©" for é), and "Ġ" marks a space, glued onto the start of the word that follows it.'
    : suffix > prefix
      ? `"${mark}" marks a space, and this vocabulary glues the space after a word onto the word's end ("the${mark}"), so a text that stops without a final space often ends in odd fragments.`
      : `"${mark}" marks a space, glued onto the start of the word that follows it.`;
  const story = c.info.id === 'tinystories-656k' ? 'story' : 'document';
  return (
    `The text is split into ${pieces} pieces from a ${c.config.vocabSize}-entry byte-pair vocabulary: frequent ${byteLevel ? 'byte' : 'character'} sequences ` +
    `became single tokens during training. ${glue}` +
    (tok.prependsSpace
      ? ` The tokenizer also puts one ${mark} before the text (shown without a position in the text).`
      : '') +
    (start
      ? ` The model always starts from ${bos}, the token it saw at the start of every training ${story}` +
        (byteLevel ? '.' : `; characters missing from the vocabulary become ${tok.unkToken ?? '<unk>'}.`)
      : ` ${name} adds no start token, so the first token has nothing before it to look at.`)
  );
}

/** How RoPE turns Q and K: partial rotary, the base, and rope_scaling when the config has one. */
function ropeText(cfg: LlamaConfig): string {
  const d = cfg.rotaryDim;
  const hd = cfg.headDim;
  const part =
    d === hd
      ? ''
      : `Only the first ${d} of each head's ${hd} dimensions are turned (partial rotary); the other ${hd - d} pass through unchanged. `;
  const s = cfg.ropeScaling;
  const scaled =
    s?.type === 'llama3'
      ? ` The frequencies are then rescaled for long contexts (rope_scaling "llama3"): those whose wavelength 2π/θᵢ exceeds ${s.originalMaxPositions}/${s.lowFreqFactor} positions are divided by ${s.factor}, ` +
        `those shorter than ${s.originalMaxPositions}/${s.highFreqFactor} are kept, and the ones in between are blended.`
      : s?.type === 'longrope'
        ? ` The frequencies are divided by per-frequency factors (rope_scaling "longrope": short_factor up to ${s.originalMaxPositions} tokens, long_factor beyond), and cos and sin are multiplied by ${s.attentionFactor.toPrecision(6)}.`
        : s?.type === 'linear'
          ? ` Every frequency is divided by ${s.factor} (rope_scaling "linear").`
          : '';
  return (
    `RoPE then rotates Q and K (not V) by an angle that grows with the token's position p: dimension pair (i, i+${d / 2}) ` +
    `turns by p·θᵢ with θᵢ = ${cfg.ropeTheta}^(−2i/${d}), fast for small i, slow for large i.${scaled} ${part}Because rotations compose, ` +
    `the score between a query at position p and a key at position p′ depends on the positions only through p − p′, ` +
    `how far apart the two tokens are: that is how the model knows word order.`
  );
}

/** The lesson of a Llama-layout family called `name`. */
export function ropeDecoderLesson(name: string): CausalLmLesson<LlamaConfig> {
  return {
    // Only layers that differ say so: "Layer 3 (sliding window 4096)", "Layer 3 (no RoPE)".
    layerTitle: ({ config: cfg }, l) => {
      const marks = [
        ...(cfg.windows[l] !== undefined ? [`sliding window ${cfg.windows[l]}`] : []),
        ...(cfg.ropeLayers[l] === false ? ['no RoPE'] : []),
      ];
      return marks.length ? `Layer ${l} (${marks.join(', ')})` : `Layer ${l}`;
    },
    tokens: (c) => ({
      title: 'Tokens',
      formula: c.config.startToken ? 'text → [BOS, t₁, …, t_n]' : 'text → [t₁, …, t_n]',
      explanation: tokensExplanation(c, name),
    }),
    embedding: ({ config: cfg }) => ({
      title: 'Token embeddings',
      formula: 'X[i] = E[tᵢ]',
      explanation:
        `Each token id picks one row of the ${cfg.vocabSize}×${cfg.hiddenSize} embedding matrix E. Nothing here says where the token is: ${name} adds ` +
        `no position vector; position enters later, inside attention, by rotating queries and keys (RoPE). ` +
        (cfg.tieEmbeddings
          ? 'The same matrix E is reused at the end to turn hidden states back into next-token scores (tied embeddings).'
          : ''),
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
    attention: ({ config: cfg, kvHeadOf, tokens }, l) => {
      const { numHeads: H, numKvHeads: KV, headDim: hd, hiddenSize: D } = cfg;
      const group = H / KV;
      const sharing = Array.from(
        { length: KV },
        (_, g) => `query heads ${kvHeadOf.flatMap((kv, h) => (kv === g ? [h] : [])).join(' and ')} → K/V head ${g}`,
      ).join('; ');
      const b = cfg.qkvBias;
      const rope = cfg.ropeLayers[l] ?? true;
      const w = cfg.windows[l];
      const R = rope ? 'RoPE' : '';
      const proj = (m: 'Q' | 'K'): string => {
        const linear = b ? `h W_${m}ᵀ + b_${m}` : `h W_${m}ᵀ`;
        const normed = cfg.qkNorm ? `RMSNorm_${m.toLowerCase()}(${linear})` : linear; // per head, over head_dim
        return R ? `${R}(${normed})` : normed;
      };
      return {
        qkvTitle: `queries, keys, values (GQA${rope ? ' + RoPE' : ', no RoPE'}${cfg.qkNorm ? ', QK-norm' : ''})`,
        qkvFormula: `Q = ${proj('Q')}, K = ${proj('K')}, V = ${b ? 'h W_Vᵀ + b_V' : 'h W_Vᵀ'}`,
        qkvText:
          `h is projected to ${H} query heads but only ${KV} key/value heads of ${hd} dimensions each: grouped-query attention, where ` +
          `${group} query heads share one key/value head (${sharing}), which shrinks the key/value cache ${group}×. ` +
          (b
            ? `Unlike Llama, ${name} adds a learned bias to each of the three projections (but not to the output projection). `
            : '') +
          (cfg.qkNorm
            ? `${name} then RMS-normalises every head's query and every head's key on its own (over its ${hd} dimensions, with learned gains q_norm and k_norm shared by the heads), ` +
              'so how large a score can get is set by those gains, not by how large a projection happened to come out. '
            : '') +
          (rope
            ? ropeText(cfg)
            : `This layer has no rotary embedding (${name}'s NoPE layers, marked 0 in no_rope_layers): Q and K carry no position, so its scores see only the contents of the tokens, and the causal mask${w !== undefined ? ' and the window' : ''} decide which are visible.`),
        qDescription: rope ? 'Queries after RoPE' : 'Queries (no RoPE in this layer)',
        kDescription: rope
          ? 'Keys after RoPE (shared by query-head groups)'
          : 'Keys (no RoPE in this layer; shared by query-head groups)',
        vDescription: 'Values (not rotated)',
        scoresFormula: `S[h] = Q[h] K[g(h)]ᵀ / √${hd}`,
        scoresDescription: 'QKᵀ/√d before masking',
        maskDescription:
          w !== undefined
            ? `1 = may attend (one of the ${w} most recent tokens, itself included), 0 = future or outside the window`
            : '1 = may attend, 0 = future token (masked)',
        scoresText:
          `For every head, each query is compared with every key by a dot product, divided by √d_head = √${hd} so the scores ` +
          `stay in a range where softmax is not saturated. Query head h uses the keys of its shared head g(h). The mask shows ` +
          (w !== undefined
            ? `which pairs are allowed: this is a causal language model, so a token may only look at itself and earlier tokens, and this layer ` +
              `uses sliding-window attention: query i sees only keys j with i − ${w} < j ≤ i, its own token and the ${w - 1} before it ` +
              `(older tokens reach it only through earlier layers). Scores for masked pairs are computed here but will be discarded.`
            : `which pairs are allowed: this is a causal language model, so a token may only look at itself and earlier tokens; ` +
              `scores for later tokens are computed here but will be discarded.`),
        weightsFormula:
          w !== undefined
            ? `α = softmax(S + M),  M[i, j] = 0 if i − ${w} < j ≤ i, else −∞`
            : 'α = softmax(S + M),  M = 0 (allowed) or −∞ (future)',
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
      formula: cfg.tieEmbeddings
        ? 'p(tᵢ₊₁ | t≤ᵢ) = softmax(RMSNorm(xᵢ) Eᵀ)'
        : 'p(tᵢ₊₁ | t≤ᵢ) = softmax(RMSNorm(xᵢ) W_outᵀ)',
      explanation:
        `After the last layer the stream is normalised once more and compared with every row of the ${cfg.tieEmbeddings ? 'embedding matrix E (the same one used at the input)' : 'output matrix'}, ` +
        `giving one score per vocabulary entry; softmax turns the scores into probabilities. Every position predicts the token ` +
        `that follows it, using only itself and the tokens before it. Shown: the ${topK} most likely next tokens per position.`,
      describe: { hidden: 'Final RMSNorm of the residual stream' },
    }),
  };
}

export const llamaLesson = ropeDecoderLesson('Llama');
