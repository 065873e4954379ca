// T5's tensor names (T5ForConditionalGeneration) → the encoder's and decoder's block weights, the
// shared embedding, the two relative-position tables (block 0 of each stack only), the final norms
// and the head (the shared embedding when tied, else lm_head), each checked before anything is allocated.
import type { tf } from '../../runtime/backend';
import { checkWeights, type WeightSpec } from '../../formats/hfFolder';
import type { SafeTensor } from '../../formats/safetensors';
import type { EmbeddingTable } from '../../layers/embedding';
import type { NormWeights } from '../../layers/norms';
import type { AttentionWeights, BlockWeights } from '../../transformer/block';
import { buildWith, type WeightMaker } from '../../transformer/weights';
import type { T5Config } from './config';

export interface T5Weights {
  readonly embed: EmbeddingTable;
  /** [buckets, heads] each, row-major: the encoder's and the decoder's relative position tables. */
  readonly encTable: Float32Array;
  readonly decTable: Float32Array;
  readonly enc: readonly BlockWeights[];
  readonly dec: readonly BlockWeights[];
  readonly encFinal: NormWeights;
  readonly decFinal: NormWeights;
  /** [D, V]: the output projection (the shared embedding transposed when tied). */
  readonly headT: tf.Tensor2D;
}

const BIAS = 'layer.0.SelfAttention.relative_attention_bias.weight';

export function t5Weights(
  map: Map<string, SafeTensor>,
  cfg: T5Config,
  where: string,
): { weights: T5Weights; parameters: number } {
  const { dModel: D, vocabSize: V, heads: H, dKv, dFf: F, numBuckets: N } = cfg;
  const inner = H * dKv;
  const embedName = map.has('shared.weight') ? 'shared.weight' : 'encoder.embed_tokens.weight';
  const specs: WeightSpec[] = [
    { name: embedName, shape: [V, D], meaning: 'vocab_size × d_model' },
    {
      name: 'lm_head.weight',
      shape: [V, D],
      meaning: 'vocab_size × d_model',
      optional: cfg.tied,
      context: 'config.json says tie_word_embeddings = false',
    },
    { name: `encoder.block.0.${BIAS}`, shape: [N, H], meaning: 'relative_attention_num_buckets × num_heads' },
    { name: `decoder.block.0.${BIAS}`, shape: [N, H], meaning: 'relative_attention_num_buckets × num_heads' },
    { name: 'encoder.final_layer_norm.weight', shape: [D], meaning: 'd_model' },
    { name: 'decoder.final_layer_norm.weight', shape: [D], meaning: 'd_model' },
  ];
  const attn = (p: string): WeightSpec[] => [
    ...['q', 'k', 'v'].map((n) => ({
      name: `${p}${n}.weight`,
      shape: [inner, D],
      meaning: 'num_heads·d_kv × d_model',
    })),
    { name: `${p}o.weight`, shape: [D, inner], meaning: 'd_model × num_heads·d_kv' },
  ];
  const rms = (name: string): WeightSpec => ({ name: `${name}.weight`, shape: [D], meaning: 'd_model' });
  const ff = (p: string): WeightSpec[] => [
    ...(cfg.gated ? ['wi_0', 'wi_1'] : ['wi']).map((n) => ({
      name: `${p}${n}.weight`,
      shape: [F, D],
      meaning: 'd_ff × d_model',
      context: `config.json says feed_forward_proj = "${cfg.feedForwardProj}"`,
    })),
    { name: `${p}wo.weight`, shape: [D, F], meaning: 'd_model × d_ff' },
  ];
  for (let l = 0; l < cfg.encoderLayers; l++) {
    const p = `encoder.block.${l}.layer.`;
    specs.push(
      ...attn(`${p}0.SelfAttention.`),
      rms(`${p}0.layer_norm`),
      ...ff(`${p}1.DenseReluDense.`),
      rms(`${p}1.layer_norm`),
    );
  }
  for (let l = 0; l < cfg.decoderLayers; l++) {
    const p = `decoder.block.${l}.layer.`;
    specs.push(
      ...attn(`${p}0.SelfAttention.`),
      rms(`${p}0.layer_norm`),
      ...attn(`${p}1.EncDecAttention.`),
      rms(`${p}1.layer_norm`),
    );
    specs.push(...ff(`${p}2.DenseReluDense.`), rms(`${p}2.layer_norm`));
  }
  const found = checkWeights(map, specs, { where });
  let parameters = 0;
  for (const t of found.values()) parameters += t.data.length;
  const attention = (m: WeightMaker, p: string): AttentionWeights => ({
    q: m.linear(p + 'q', false),
    k: m.linear(p + 'k', false),
    v: m.linear(p + 'v', false),
    o: m.linear(p + 'o', false),
  });
  const mlp = (m: WeightMaker, p: string): BlockWeights['mlp'] =>
    cfg.gated
      ? { gate: m.linear(p + 'wi_0', false), up: m.linear(p + 'wi_1', false), down: m.linear(p + 'wo', false) }
      : { up: m.linear(p + 'wi', false), down: m.linear(p + 'wo', false) };
  const weights = buildWith(found, (m): T5Weights => {
    const embed = m.table(embedName);
    const rmsW = (name: string): NormWeights => m.norm(name, 'rms');
    const block = (p: string, decoder: boolean): BlockWeights => {
      const last = decoder ? 2 : 1;
      return {
        self: attention(m, `${p}0.SelfAttention.`),
        selfNorm: rmsW(`${p}0.layer_norm`),
        ...(decoder ? { cross: attention(m, `${p}1.EncDecAttention.`), crossNorm: rmsW(`${p}1.layer_norm`) } : {}),
        mlp: mlp(m, `${p}${last}.DenseReluDense.`),
        mlpNorm: rmsW(`${p}${last}.layer_norm`),
      };
    };
    return {
      embed,
      encTable: found.get(`encoder.block.0.${BIAS}`)!.data,
      decTable: found.get(`decoder.block.0.${BIAS}`)!.data,
      enc: Array.from({ length: cfg.encoderLayers }, (_, l) => block(`encoder.block.${l}.layer.`, false)),
      dec: Array.from({ length: cfg.decoderLayers }, (_, l) => block(`decoder.block.${l}.layer.`, true)),
      encFinal: rmsW('encoder.final_layer_norm'),
      decFinal: rmsW('decoder.final_layer_norm'),
      headT: cfg.tied ? m.keep(embed.transposed()) : m.t2T('lm_head.weight'),
    };
  });
  return { weights, parameters };
}
