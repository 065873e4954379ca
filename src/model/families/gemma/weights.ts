// Gemma's tensor names (GemmaForCausalLM / Gemma2ForCausalLM / Gemma3ForCausalLM: model.layers.N.…)
// → the block's weights, each checked by the one weight-spec checker before anything is allocated.
// The head is always tied (no lm_head.weight in the Hub's files). Every RMSNorm gain is stored as w
// and used as 1 + w. Gemma 2/3 name their four norms differently from Llama: post_attention_layernorm
// is the norm of attention's output, pre_feedforward_layernorm the MLP's input norm.
import { checkWeights, type WeightCheck, type WeightSpec } from '../../formats/hfFolder';
import type { SafeTensor } from '../../formats/safetensors';
import { countParameters } from '../../transformer/load';
import { buildWith } from '../../transformer/weights';
import type { CausalLmWeights } from '../../transformer/causalLm';
import type { GemmaConfig } from './config';

const layer = (l: number): string => `model.layers.${l}.`;

export function gemmaWeights(
  map: Map<string, SafeTensor>,
  cfg: GemmaConfig,
  where: string,
): { weights: CausalLmWeights; parameters: number } {
  const {
    hiddenSize: D,
    numHeads: H,
    numKvHeads: KV,
    headDim: hd,
    intermediateSize: I,
    vocabSize: V,
    generation: gen,
  } = cfg;
  // Names with or without the "model." prefix (a bare GemmaModel saves none).
  const check: WeightCheck = {
    where,
    candidates: (n) => [n, n.replace(/^model\./, '')],
    shown: (k) => k.replace(/^model\./, '').replace(/\.weight$/, ''),
  };
  const gain = (name: string, n = D, meaning = 'hidden_size'): WeightSpec => ({
    name: `${name}.weight`,
    shape: [n],
    meaning,
  });
  const proj = (name: string, out: number, inp: number, meaning: string): WeightSpec => ({
    name: `${name}.weight`,
    shape: [out, inp],
    meaning,
  });
  const specs: WeightSpec[] = [
    { name: 'model.embed_tokens.weight', shape: [V, D], meaning: 'vocab_size × hidden_size' },
    gain('model.norm'),
  ];
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = layer(l);
    const a = p + 'self_attn.';
    specs.push(
      gain(p + 'input_layernorm'),
      proj(a + 'q_proj', H * hd, D, 'heads·head_dim × hidden_size'),
      proj(a + 'k_proj', KV * hd, D, 'kv_heads·head_dim × hidden_size'),
      proj(a + 'v_proj', KV * hd, D, 'kv_heads·head_dim × hidden_size'),
      proj(a + 'o_proj', D, H * hd, 'hidden_size × heads·head_dim'),
      ...(gen === 3 ? [gain(a + 'q_norm', hd, 'head_dim'), gain(a + 'k_norm', hd, 'head_dim')] : []),
      gain(p + 'post_attention_layernorm'),
      ...(gen > 1 ? [gain(p + 'pre_feedforward_layernorm'), gain(p + 'post_feedforward_layernorm')] : []),
      proj(p + 'mlp.gate_proj', I, D, 'intermediate_size × hidden_size'),
      proj(p + 'mlp.up_proj', I, D, 'intermediate_size × hidden_size'),
      proj(p + 'mlp.down_proj', D, I, 'hidden_size × intermediate_size'),
    );
  }
  const found = checkWeights(map, specs, check);
  let parameters = 0;
  parameters += countParameters(found.values());
  const weights = buildWith(found, (m) => ({
    embed: m.table('model.embed_tokens.weight'),
    lmHeadT: m.t2T('model.embed_tokens.weight'),
    finalNorm: m.rmsPlusOne('model.norm'),
    layers: m.layers(cfg.numLayers, (m, l) => {
      const p = layer(l);
      const a = p + 'self_attn.';
      const linear = (name: string) => m.linear(name, false);
      return {
        selfNorm: m.rmsPlusOne(p + 'input_layernorm'),
        self: {
          q: linear(a + 'q_proj'),
          k: linear(a + 'k_proj'),
          v: linear(a + 'v_proj'),
          o: linear(a + 'o_proj'),
          ...(gen === 3 ? { qNorm: m.rmsPlusOne(a + 'q_norm'), kNorm: m.rmsPlusOne(a + 'k_norm') } : {}),
        },
        // Gemma: post_attention_layernorm is the MLP's input norm (Llama's naming); Gemma 2/3: attention's output norm.
        ...(gen === 1
          ? { mlpNorm: m.rmsPlusOne(p + 'post_attention_layernorm') }
          : {
              selfPostNorm: m.rmsPlusOne(p + 'post_attention_layernorm'),
              mlpNorm: m.rmsPlusOne(p + 'pre_feedforward_layernorm'),
              mlpPostNorm: m.rmsPlusOne(p + 'post_feedforward_layernorm'),
            }),
        mlp: { gate: linear(p + 'mlp.gate_proj'), up: linear(p + 'mlp.up_proj'), down: linear(p + 'mlp.down_proj') },
      };
    }),
  }));
  return { weights, parameters };
}
