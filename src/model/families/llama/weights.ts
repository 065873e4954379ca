// Llama's tensor names (model.layers.N.self_attn.q_proj, …) → the block's weights, each checked by
// the one weight-spec checker before anything is allocated. Shared by every family in the Llama
// layout (Qwen2 adds q/k/v biases, Qwen3 q_norm and k_norm; Phi-3 fuses q/k/v and gate/up, cut apart at load). Torch Linear weights are [out, in]; they are kept transposed.
import { checkWeights, hasWeight, type WeightCheck, type WeightSpec } from '../../formats/hfFolder';
import type { SafeTensor } from '../../formats/safetensors';
import { countParameters } from '../../transformer/load';
import { buildWith } from '../../transformer/weights';
import type { CausalLmWeights } from '../../transformer/causalLm';
import type { LlamaConfig } from './config';

const layer = (l: number): string => `model.layers.${l}.`;

export function llamaWeights(
  map: Map<string, SafeTensor>,
  cfg: LlamaConfig,
  where: string,
): { weights: CausalLmWeights; parameters: number } {
  const { hiddenSize: D, numHeads: H, numKvHeads: KV, headDim: hd, intermediateSize: I, vocabSize: V } = cfg;
  // Names with or without the "model." prefix (a bare LlamaModel saves none).
  const check: WeightCheck = {
    where,
    candidates: (n) => [n, n.replace(/^model\./, '')],
    shown: (k) => k.replace(/^model\./, '').replace(/\.weight$/, ''),
  };
  // Tied embeddings: one matrix serves as the input embedding and the output projection.
  let embedName = 'model.embed_tokens.weight';
  let headName = 'lm_head.weight';
  if (!hasWeight(map, embedName, check) && hasWeight(map, headName, check) && cfg.tieEmbeddings) embedName = headName;
  if (!hasWeight(map, headName, check) || cfg.tieEmbeddings) headName = embedName;
  const specs: WeightSpec[] = [
    { name: embedName, shape: [V, D], meaning: 'vocab_size × hidden_size' },
    { name: headName, shape: [V, D], meaning: 'vocab_size × hidden_size' },
    { name: 'model.norm.weight', shape: [D], meaning: 'hidden_size' },
  ];
  const proj = (name: string, out: number, inp: number, meaning: string, bias: boolean): WeightSpec[] => [
    { name: `${name}.weight`, shape: [out, inp], meaning },
    ...(bias ? [{ name: `${name}.bias`, shape: [out], meaning: meaning.split(' × ')[0]! }] : []),
  ];
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = layer(l);
    specs.push(
      { name: p + 'input_layernorm.weight', shape: [D], meaning: 'hidden_size' },
      ...(cfg.fused
        ? proj(p + 'self_attn.qkv_proj', (H + 2 * KV) * hd, D, '(heads + 2·kv_heads)·head_dim × hidden_size', false)
        : [
            ...proj(p + 'self_attn.q_proj', H * hd, D, 'heads·head_dim × hidden_size', cfg.qkvBias),
            ...proj(p + 'self_attn.k_proj', KV * hd, D, 'kv_heads·head_dim × hidden_size', cfg.qkvBias),
            ...proj(p + 'self_attn.v_proj', KV * hd, D, 'kv_heads·head_dim × hidden_size', cfg.qkvBias),
          ]),
      ...proj(p + 'self_attn.o_proj', D, H * hd, 'hidden_size × heads·head_dim', false),
      ...(cfg.qkNorm
        ? [
            { name: p + 'self_attn.q_norm.weight', shape: [hd], meaning: 'head_dim' },
            { name: p + 'self_attn.k_norm.weight', shape: [hd], meaning: 'head_dim' },
          ]
        : []),
      { name: p + 'post_attention_layernorm.weight', shape: [D], meaning: 'hidden_size' },
      ...(cfg.fused
        ? proj(p + 'mlp.gate_up_proj', 2 * I, D, '2·intermediate_size × hidden_size', false)
        : [
            ...proj(p + 'mlp.gate_proj', I, D, 'intermediate_size × hidden_size', false),
            ...proj(p + 'mlp.up_proj', I, D, 'intermediate_size × hidden_size', false),
          ]),
      ...proj(p + 'mlp.down_proj', D, I, 'hidden_size × intermediate_size', false),
    );
  }
  const found = checkWeights(map, specs, check);
  let parameters = 0;
  parameters += countParameters(map.values());
  const weights = buildWith(found, (m) => ({
    embed: m.table(embedName),
    lmHeadT: m.t2T(headName),
    finalNorm: m.norm('model.norm', 'rms'),
    layers: m.layers(cfg.numLayers, (m, l) => {
      const p = layer(l);
      // Phi-3: qkv_proj's rows are [q | k | v], gate_up_proj's [gate | up]; cut apart here.
      const [q, k, v] = cfg.fused
        ? m.linearRows(p + 'self_attn.qkv_proj', [H * hd, KV * hd, KV * hd])
        : ['q', 'k', 'v'].map((x) => m.linear(`${p}self_attn.${x}_proj`, cfg.qkvBias));
      const [gate, up] = cfg.fused
        ? m.linearRows(p + 'mlp.gate_up_proj', [I, I])
        : [m.linear(p + 'mlp.gate_proj', false), m.linear(p + 'mlp.up_proj', false)];
      return {
        selfNorm: m.norm(p + 'input_layernorm', 'rms'),
        self: {
          q: q!,
          k: k!,
          v: v!,
          o: m.linear(p + 'self_attn.o_proj', false),
          ...(cfg.qkNorm
            ? { qNorm: m.norm(p + 'self_attn.q_norm', 'rms'), kNorm: m.norm(p + 'self_attn.k_norm', 'rms') }
            : {}),
        },
        mlpNorm: m.norm(p + 'post_attention_layernorm', 'rms'),
        mlp: { gate: gate!, up: up!, down: m.linear(p + 'mlp.down_proj', false) },
      };
    }),
  }));
  return { weights, parameters };
}
