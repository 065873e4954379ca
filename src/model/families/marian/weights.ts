// Marian's tensor names (MarianMTModel) → the encoder's and decoder's block weights, the shared
// embedding, the positions (stored, or the sinusoidal table) and the output head with its
// final_logits_bias, each checked by the one weight-spec checker before anything is allocated.
import { tf } from '../../runtime/backend';
import { checkWeights, type WeightSpec } from '../../formats/hfFolder';
import type { SafeTensor } from '../../formats/safetensors';
import { EmbeddingTable } from '../../layers/embedding';
import { sinusoidalPositions } from '../../layers/positions';
import type { AttentionWeights, BlockWeights } from '../../transformer/block';
import { buildWith, type WeightMaker } from '../../transformer/weights';
import type { MarianConfig } from './config';

export interface MarianWeights {
  readonly embed: EmbeddingTable;
  readonly encPos: EmbeddingTable;
  readonly decPos: EmbeddingTable;
  /** [D, V] output projection (transposed), and the [V] final_logits_bias. */
  readonly lmHeadT: tf.Tensor2D;
  readonly logitsBias: tf.Tensor1D;
  readonly enc: readonly BlockWeights[];
  readonly dec: readonly BlockWeights[];
}

export function marianWeights(map: Map<string, SafeTensor>, cfg: MarianConfig, where: string): { weights: MarianWeights; parameters: number } {
  const { dModel: D, vocabSize: V, maxPositions: P } = cfg;
  const embedName = map.has('model.shared.weight') ? 'model.shared.weight' : 'model.encoder.embed_tokens.weight';
  const specs: WeightSpec[] = [
    { name: embedName, shape: [V, D], meaning: 'vocab_size × d_model' },
    { name: 'lm_head.weight', shape: [V, D], meaning: 'vocab_size × d_model', optional: true },
    { name: 'final_logits_bias', shape: [1, V], meaning: '1 × vocab_size', optional: true },
    { name: 'model.encoder.embed_positions.weight', shape: [P, D], meaning: 'max_position_embeddings × d_model', optional: true },
    { name: 'model.decoder.embed_positions.weight', shape: [P, D], meaning: 'max_position_embeddings × d_model', optional: true },
  ];
  const linear = (name: string, out: number, inp: number, meaning: string, outMeaning: string): WeightSpec[] => [
    { name: `${name}.weight`, shape: [out, inp], meaning },
    { name: `${name}.bias`, shape: [out], meaning: outMeaning },
  ];
  const attn = (p: string): WeightSpec[] => ['q_proj', 'k_proj', 'v_proj', 'out_proj'].flatMap((n) => linear(p + n, D, D, 'd_model × d_model', 'd_model'));
  const ln = (p: string): WeightSpec[] => [
    { name: `${p}.weight`, shape: [D], meaning: 'd_model' },
    { name: `${p}.bias`, shape: [D], meaning: 'd_model' },
  ];
  const ffn = (p: string, F: number, side: string): WeightSpec[] => [
    ...linear(p + 'fc1', F, D, `${side}_ffn_dim × d_model`, `${side}_ffn_dim`),
    ...linear(p + 'fc2', D, F, `d_model × ${side}_ffn_dim`, 'd_model'),
  ];
  for (let l = 0; l < cfg.encoderLayers; l++) {
    const p = `model.encoder.layers.${l}.`;
    specs.push(...attn(p + 'self_attn.'), ...ln(p + 'self_attn_layer_norm'), ...ffn(p, cfg.encoderFfn, 'encoder'), ...ln(p + 'final_layer_norm'));
  }
  for (let l = 0; l < cfg.decoderLayers; l++) {
    const p = `model.decoder.layers.${l}.`;
    specs.push(...attn(p + 'self_attn.'), ...ln(p + 'self_attn_layer_norm'), ...attn(p + 'encoder_attn.'), ...ln(p + 'encoder_attn_layer_norm'));
    specs.push(...ffn(p, cfg.decoderFfn, 'decoder'), ...ln(p + 'final_layer_norm'));
  }
  const found = checkWeights(map, specs, { where });
  let parameters = 0;
  for (const [name, t] of map) if (!name.includes('embed_positions') && name !== 'final_logits_bias') parameters += t.data.length;
  const attention = (m: WeightMaker, p: string): AttentionWeights => ({ q: m.linear(p + 'q_proj'), k: m.linear(p + 'k_proj'), v: m.linear(p + 'v_proj'), o: m.linear(p + 'out_proj') });
  const weights = buildWith(found, (m): MarianWeights => {
    const embed = m.table(embedName);
    let sinus: Float32Array | undefined;
    const positions = (name: string): EmbeddingTable => (m.has(name) ? m.table(name) : new EmbeddingTable((sinus ??= sinusoidalPositions(P, D)), P, D));
    const block = (p: string, cross: boolean): BlockWeights => ({
      self: attention(m, p + 'self_attn.'),
      selfNorm: m.layerNorm(p + 'self_attn_layer_norm'),
      ...(cross ? { cross: attention(m, p + 'encoder_attn.'), crossNorm: m.layerNorm(p + 'encoder_attn_layer_norm') } : {}),
      mlp: { up: m.linear(p + 'fc1'), down: m.linear(p + 'fc2') },
      mlpNorm: m.layerNorm(p + 'final_layer_norm'),
    });
    return {
      embed,
      encPos: positions('model.encoder.embed_positions.weight'),
      decPos: positions('model.decoder.embed_positions.weight'),
      lmHeadT: m.has('lm_head.weight') ? m.t2T('lm_head.weight') : m.keep(embed.transposed()),
      logitsBias: m.has('final_logits_bias') ? m.t1('final_logits_bias') : m.keep(tf.zeros([V], 'float32') as tf.Tensor1D),
      enc: Array.from({ length: cfg.encoderLayers }, (_, l) => block(`model.encoder.layers.${l}.`, false)),
      dec: Array.from({ length: cfg.decoderLayers }, (_, l) => block(`model.decoder.layers.${l}.`, true)),
    };
  });
  return { weights, parameters };
}
