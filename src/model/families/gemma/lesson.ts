// What the panel says at each stage of a Gemma, Gemma 2 or Gemma 3 model: titles, formulas and
// explanations with the config's numbers, apart from the tensors. Local (sliding-window) layers say
// so in every stage title, and the score formula shows soft-capping exactly as it is computed.
import type { CausalLmLesson } from '../../transformer/causalLm';
import { isLocal, type GemmaConfig } from './config';

const num = (x: number): string => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6))));
/** "1e+06" reads badly: 1000000. */
const base = (x: number): string => (x >= 1e5 && Number.isInteger(x) ? x.toExponential().replace('e+', 'e') : num(x));

/** "Layer 0 (local, window 512)" or "Layer 5 (global)" when the model mixes them; "Layer 0" otherwise. */
export function gemmaLayerTitle(cfg: GemmaConfig, l: number): string {
  const mixed = cfg.layerTypes.some((t) => t === 'sliding_attention');
  if (!mixed) return `Layer ${l}`;
  return isLocal(cfg, l) ? `Layer ${l} (local, window ${cfg.slidingWindow})` : `Layer ${l} (global)`;
}

/** Which layers are local, e.g. "layers 0, 2 and 4 are local (sliding window 4096); 1, 3 and 5 are global". */
function layerPattern(cfg: GemmaConfig): string {
  const list = (xs: number[]): string =>
    xs.length > 1 ? `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}` : String(xs[0]);
  const local = cfg.layerTypes.flatMap((t, l) => (t === 'sliding_attention' ? [l] : []));
  const global = cfg.layerTypes.flatMap((t, l) => (t === 'full_attention' ? [l] : []));
  if (local.length === 0) return 'every layer is global: each token may look at all earlier tokens';
  return (
    `layer${local.length > 1 ? 's' : ''} ${list(local)} ${local.length > 1 ? 'are' : 'is'} local (sliding window of ${cfg.slidingWindow} tokens)` +
    (global.length ? `; ${list(global)} ${global.length > 1 ? 'are' : 'is'} global` : '')
  );
}

function scoreFormula(cfg: GemmaConfig, hd: number): string {
  const s = cfg.queryPreAttnScalar;
  const root = `√${num(s)}`;
  const cap = cfg.attnSoftCap;
  return cap !== undefined
    ? `S[h] = ${num(cap)}·tanh(Q[h] K[g(h)]ᵀ / (${num(cap)}·${root}))`
    : `S[h] = Q[h] K[g(h)]ᵀ / ${s === hd ? `√${hd}` : root}`;
}

function ropeText(cfg: GemmaConfig, l: number): string {
  const hd = cfg.headDim;
  const local = isLocal(cfg, l) && cfg.ropeLocalTheta !== undefined;
  const theta = local ? cfg.ropeLocalTheta! : cfg.ropeTheta;
  const factor =
    !local && cfg.ropeLinearFactor !== undefined
      ? ` / ${num(cfg.ropeLinearFactor)} (rope_scaling linear: positions stretched ${num(cfg.ropeLinearFactor)}×)`
      : '';
  const which =
    cfg.ropeLocalTheta !== undefined
      ? local
        ? " (the local layers' base, rope_local_base_freq)"
        : " (the global layers' base, rope_theta)"
      : '';
  return `RoPE rotates Q and K (not V): dimension pair (i, i+${hd / 2}) turns by p·θᵢ with θᵢ = ${base(theta)}^(−2i/${hd})${factor}${which}, so a score depends on positions only through how far apart the two tokens are.`;
}

export const gemmaLesson: CausalLmLesson<GemmaConfig> = {
  layerTitle: ({ config }, l) => gemmaLayerTitle(config, l),
  tokens: ({ config: cfg, tokens }) => ({
    title: 'Tokens',
    formula: 'text → [<bos>, t₁, …, t_n]',
    explanation:
      `The text is split into ${tokens.length - 1} pieces from ${cfg.name}'s ${cfg.vocabSize}-entry SentencePiece vocabulary (byte-pair merges; "▁" marks a space, ` +
      'and no space is put before the text). Characters the vocabulary lacks are spelled as their UTF-8 bytes (<0x..> tokens) instead of <unk>. ' +
      `${cfg.name} always starts from ${tokens[0]!.text}: it was trained that way, and its outputs degrade without it.`,
  }),
  embedding: ({ config: cfg }) => ({
    title: 'Token embeddings × √d_model',
    formula: `X[i] = E[tᵢ] · √${cfg.hiddenSize}  (= ${num(cfg.embedScale)})`,
    explanation:
      `Each token id picks one row of the ${cfg.vocabSize}×${cfg.hiddenSize} embedding matrix E, multiplied by √d_model = ${num(cfg.embedScale)} ` +
      `(rounded to the model's float type, as ${cfg.name} does), so the rows start at a scale the first norm expects. No position is added: it enters ` +
      'inside attention, by rotating queries and keys (RoPE). The same E, transposed, turns the last hidden states into next-token scores (tied embeddings).',
    describe: { X: 'E[tᵢ]·√d_model' },
  }),
  layerInput: ({ config: cfg }, l) => ({
    title: `${gemmaLayerTitle(cfg, l)}: RMSNorm of the residual stream`,
    formula: 'h = x / √(mean(x²) + ε) ⊙ (1 + w)',
    explanation:
      `Layer ${l} reads the residual stream x (one ${cfg.hiddenSize}-vector per token) and rescales each token's vector to unit root-mean-square ` +
      `(ε = ${cfg.rmsEps.toExponential()}), then multiplies by 1 + w: ${cfg.name} stores its norm gains centred on zero (w = 0 keeps the vector as it is). ` +
      'The normalised h feeds attention; x itself is carried around it and added back afterwards.',
    describe: { hidden: 'RMSNorm(x)·(1 + w): the input to attention' },
  }),
  attention: ({ config: cfg, kvHeadOf, tokens }, l) => {
    const { numHeads: H, numKvHeads: KV, headDim: hd, hiddenSize: D } = cfg;
    const group = H / KV;
    const sharing = Array.from(
      { length: KV },
      (_, g) => `query heads ${kvHeadOf.flatMap((kv, h) => (kv === g ? [h] : [])).join(', ')} → K/V head ${g}`,
    ).join('; ');
    const local = isLocal(cfg, l);
    const w = cfg.slidingWindow;
    const qk = cfg.generation === 3;
    const cap = cfg.attnSoftCap;
    const s = cfg.queryPreAttnScalar;
    const scaleWords =
      cfg.generation === 1 || s === hd
        ? `divided by √d_head = √${hd}`
        : `divided by √query_pre_attn_scalar = √${num(s)} (not √d_head = √${hd}: ${cfg.name} sets this scale in its config)`;
    return {
      qkvTitle: `queries, keys, values (${KV === 1 ? 'one shared K/V head' : 'GQA'}${qk ? ', QK-norm' : ''} + RoPE)`,
      qkvFormula: qk
        ? 'Q = RoPE(RMSNorm(h W_Qᵀ)), K = RoPE(RMSNorm(h W_Kᵀ)), V = h W_Vᵀ  (norms per head, gains 1 + w)'
        : 'Q = RoPE(h W_Qᵀ), K = RoPE(h W_Kᵀ), V = h W_Vᵀ',
      qkvText:
        `h is projected to ${H} query heads and ${KV} key/value head${KV > 1 ? 's' : ''} of ${hd} dimensions each (${cfg.name} sets head_dim itself: ${H}·${hd} = ${H * hd}` +
        `${H * hd !== D ? `, not d_model = ${D}` : ''}). ${group > 1 ? `${group} query heads share each key/value head (${sharing}). ` : ''}` +
        (qk
          ? `Each head's query and key vector is then RMS-normalised on its own (QK-norm, with gains 1 + w over the ${hd} dimensions), which keeps scores from growing without bound. `
          : '') +
        ropeText(cfg, l),
      qDescription: qk ? 'Queries after QK-norm and RoPE' : 'Queries after RoPE',
      kDescription: qk ? 'Keys after QK-norm and RoPE' : 'Keys after RoPE',
      vDescription: 'Values (not rotated)',
      scoresFormula: scoreFormula(cfg, hd),
      scoresDescription:
        cap !== undefined
          ? `${num(cap)}·tanh(QKᵀ/(${num(cap)}·√${num(s)})) before masking`
          : `QKᵀ/√${num(cfg.generation === 1 ? hd : s)} before masking`,
      maskDescription: local
        ? `1 = may attend (itself and the ${(w ?? 1) - 1} tokens before it), 0 = masked (future, or outside the window)`
        : '1 = may attend, 0 = future token (masked)',
      scoresText:
        `Each query is compared with every key by a dot product, ${scaleWords}. ` +
        (cap !== undefined
          ? `Then the scores are soft-capped at ${num(cap)} (attn_logit_softcapping): s ↦ ${num(cap)}·tanh(s/${num(cap)}) leaves small scores almost unchanged and squeezes large ones smoothly below ±${num(cap)}, so no single key can dominate through a huge score. `
          : '') +
        `The mask shows which pairs count: ${layerPattern(cfg)}. ` +
        (local
          ? `This layer is local: token i may look only at itself and the ${(w ?? 1) - 1} tokens before it (keys j with i − ${w} < j ≤ i); the mask is that band.`
          : 'This layer is global: a token may look at itself and every earlier token.'),
      weightsFormula: local
        ? `α = softmax(S + M),  M = 0 for i − ${w} < j ≤ i, else −∞`
        : 'α = softmax(S + M),  M = 0 (allowed) or −∞ (future)',
      weightsText:
        `Masked scores are set to −∞ and each query's row goes through softmax, so the weights over the allowed keys are positive and sum to 1 while ` +
        `masked keys get exactly 0. ${local ? 'In a local layer, tokens further back than the window get 0 however relevant they are: global layers carry long-range information. ' : ''}` +
        `Trained models often park weight on the first token (${tokens[0]!.text}) when nothing else is relevant.`,
      contextFormula: 'cᵢ[h] = Σⱼ αᵢⱼ[h] V[g(h)]ⱼ;  out = concat_h(c) W_Oᵀ',
      outputDescription: 'concat(heads) W_Oᵀ',
      contextText:
        `Each head mixes the value vectors of the tokens it attends to, weighted by α: a ${hd}-vector per head and token. The ${H} heads' vectors are ` +
        `concatenated (${H * hd} numbers) and projected by W_O to ${D} dimensions` +
        (cfg.generation > 1
          ? `; ${cfg.name} normalises that output once more (post_attention_layernorm) before adding it to the residual stream.`
          : ': that is what attention adds to the residual stream.'),
    };
  },
  layerOutput: ({ config: cfg }, l) => {
    const post = cfg.generation > 1;
    return {
      title: `${gemmaLayerTitle(cfg, l)}: residual + GeGLU MLP`,
      formula: post
        ? "x' = x + RMSNorm(attn);  x'' = x' + RMSNorm(W_down(gelu(W_gate h') ⊙ W_up h')),  h' = RMSNorm(x')"
        : "x' = x + attn;  x'' = x' + W_down(gelu(W_gate h') ⊙ W_up h'),  h' = RMSNorm(x')",
      explanation:
        (post
          ? "Attention's output, normalised (post_attention_layernorm), is added to the residual stream. "
          : "Attention's output is added to the residual stream. ") +
        `Then each token on its own is normalised again${post ? ' (pre_feedforward_layernorm)' : ''} and passed through a gated MLP: two ${cfg.intermediateSize}-wide projections, one through ` +
        `${cfg.activation === 'gelu' ? 'the exact gelu(z) = z·Φ(z)' : "gelu's tanh approximation ½z(1 + tanh(√(2/π)(z + 0.044715z³)))"} and used as a gate on the other (GeGLU), ` +
        `projected back to ${cfg.hiddenSize}${post ? ', normalised once more (post_feedforward_layernorm)' : ''} and added to the stream. Every norm here scales by 1 + w.`,
      describe: {
        hidden: 'Residual stream after the layer',
        attention_residual: post ? "x' = x + RMSNorm(attention output)" : "x' = x + attention output",
        mlp_input: "h' = RMSNorm(x'): the input to the MLP",
      },
    };
  },
  output: ({ config: cfg, topK }) => {
    const cap = cfg.finalSoftCap;
    return {
      title: 'Next-token predictions',
      formula:
        cap !== undefined
          ? `z = RMSNorm(xᵢ) Eᵀ;  p(tᵢ₊₁ | t≤ᵢ) = softmax(${num(cap)}·tanh(z/${num(cap)}))`
          : 'p(tᵢ₊₁ | t≤ᵢ) = softmax(RMSNorm(xᵢ) Eᵀ)',
      explanation:
        `After the last layer the stream is normalised once more and compared with every row of the embedding matrix E (the one used at the input), giving one score per vocabulary entry. ` +
        (cap !== undefined
          ? `Those scores are soft-capped at ${num(cap)} (final_logit_softcapping): z ↦ ${num(cap)}·tanh(z/${num(cap)}). `
          : '') +
        `Softmax turns them into probabilities. Every position predicts the token that follows it, using only itself and the tokens before it. Shown: the ${topK} most likely next tokens per position.`,
      describe: { hidden: 'Final RMSNorm of the residual stream' },
    };
  },
};
