// GPT-NeoX's tensor names (gpt_neox.layers.N.attention.query_key_value, …) → the block's weights,
// checked by the one weight-spec check before anything is allocated. The fused query_key_value
// [3·D, D] is interleaved per head (rows h·3·hd … are head h's q, then k, then v: the output is
// viewed [T, H, 3·hd] and chunked); it is cut into plain Q, K and V projections at load.
import { checkWeights, type WeightSpec } from '../../formats/hfFolder';
import type { SafeTensor } from '../../formats/safetensors';
import { tf } from '../../runtime/backend';
import type { Dense } from '../../layers/linear';
import { countParameters } from '../../transformer/load';
import { buildWith, type WeightMaker } from '../../transformer/weights';
import type { CausalLmWeights } from '../../transformer/causalLm';
import type { NeoxConfig } from './config';

const layer = (l: number): string => `gpt_neox.layers.${l}.`;

/** query_key_value's rows (and bias) regrouped into Q, K and V, each transposed to [D, H·hd]. */
function splitFusedQkv(m: WeightMaker, w: SafeTensor, b: SafeTensor | undefined, H: number, hd: number): Dense[] {
  const D = w.shape[1]!;
  return tf.tidy(() => {
    const W = tf.reshape(tf.tensor2d(w.data, [3 * H * hd, D], 'float32'), [H, 3, hd, D]); // [3·H·hd, D] → [H, 3, hd, D]
    return [0, 1, 2].map((part) => {
      const wp = tf.transpose(tf.reshape(tf.slice(W, [0, part, 0, 0], [H, 1, hd, D]), [H * hd, D])) as tf.Tensor2D; // [H, 1, hd, D] → [D, H·hd]
      // The bias regrouped in JS: the wasm fused matMul reads a bias's stored shape, which a reshaped slice does not change.
      const bp = b
        ? tf.tensor1d(
            Float32Array.from(
              { length: H * hd },
              (_, i) => b.data[Math.floor(i / hd) * 3 * hd + part * hd + (i % hd)]!,
            ),
            'float32',
          )
        : undefined; // [H·hd]
      return { w: m.keep(tf.keep(wp)), ...(bp ? { b: m.keep(tf.keep(bp)) } : {}) };
    });
  });
}

export function neoxWeights(
  map: Map<string, SafeTensor>,
  cfg: NeoxConfig,
  where: string,
): { weights: CausalLmWeights; parameters: number } {
  const { hiddenSize: D, numHeads: H, headDim: hd, intermediateSize: I, vocabSize: V } = cfg;
  const embedName = 'gpt_neox.embed_in.weight';
  const headName = cfg.tieEmbeddings ? embedName : 'embed_out.weight';
  const ln = (name: string): WeightSpec[] => [
    { name: `${name}.weight`, shape: [D], meaning: 'hidden_size' },
    { name: `${name}.bias`, shape: [D], meaning: 'hidden_size' },
  ];
  const proj = (name: string, out: number, inp: number, meaning: string, bias: boolean): WeightSpec[] => [
    { name: `${name}.weight`, shape: [out, inp], meaning },
    ...(bias ? [{ name: `${name}.bias`, shape: [out], meaning: meaning.split(' × ')[0]! }] : []),
  ];
  const specs: WeightSpec[] = [
    { name: embedName, shape: [V, D], meaning: 'vocab_size × hidden_size' },
    ...(cfg.tieEmbeddings ? [] : [{ name: headName, shape: [V, D], meaning: 'vocab_size × hidden_size' }]),
    ...ln('gpt_neox.final_layer_norm'),
  ];
  const b = cfg.attentionBias;
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = layer(l);
    specs.push(
      ...ln(p + 'input_layernorm'),
      ...ln(p + 'post_attention_layernorm'),
      ...proj(p + 'attention.query_key_value', 3 * D, D, '3·hidden_size × hidden_size', b),
      ...proj(p + 'attention.dense', D, D, 'hidden_size × hidden_size', b),
      ...proj(p + 'mlp.dense_h_to_4h', I, D, 'intermediate_size × hidden_size', true),
      ...proj(p + 'mlp.dense_4h_to_h', D, I, 'hidden_size × intermediate_size', true),
    );
  }
  const found = checkWeights(map, specs, { where });
  let parameters = 0;
  parameters += countParameters(found.values());
  const weights = buildWith(found, (m) => ({
    embed: m.table(embedName),
    lmHeadT: m.t2T(headName),
    finalNorm: m.norm('gpt_neox.final_layer_norm', 'layer'),
    layers: m.layers(cfg.numLayers, (m, l) => {
      const p = layer(l);
      const qkv = p + 'attention.query_key_value';
      const [q, k, v] = splitFusedQkv(m, found.get(qkv + '.weight')!, b ? found.get(qkv + '.bias')! : undefined, H, hd);
      return {
        selfNorm: m.norm(p + 'input_layernorm', 'layer'),
        self: { q: q!, k: k!, v: v!, o: m.linear(p + 'attention.dense', b) },
        mlpNorm: m.norm(p + 'post_attention_layernorm', 'layer'),
        mlp: { up: m.linear(p + 'mlp.dense_h_to_4h'), down: m.linear(p + 'mlp.dense_4h_to_h') },
      };
    }),
  }));
  return { weights, parameters };
}
