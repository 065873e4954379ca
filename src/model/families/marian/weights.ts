// Marian's tensor names (MarianMTModel) → the encoder's and decoder's block weights, the shared
// embedding, the positions (stored, or the sinusoidal table) and the output head with its
// final_logits_bias (BART's layer layout: bart/weights.ts), each checked by the one weight-spec checker before anything is allocated.
import type { tf } from '../../runtime/backend';
import { checkWeights, type WeightSpec } from '../../formats/hfFolder';
import type { SafeTensor } from '../../formats/safetensors';
import { EmbeddingTable } from '../../layers/embedding';
import { sinusoidalPositions } from '../../layers/positions';
import type { BlockWeights } from '../../transformer/block';
import { buildWith } from '../../transformer/weights';
import { bartLayer, bartLayerSpecs, outputHead } from '../bart/weights';
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

export function marianWeights(
  map: Map<string, SafeTensor>,
  cfg: MarianConfig,
  where: string,
): { weights: MarianWeights; parameters: number } {
  const { dModel: D, vocabSize: V, maxPositions: P } = cfg;
  const embedName = map.has('model.shared.weight') ? 'model.shared.weight' : 'model.encoder.embed_tokens.weight';
  const specs: WeightSpec[] = [
    { name: embedName, shape: [V, D], meaning: 'vocab_size × d_model' },
    { name: 'lm_head.weight', shape: [V, D], meaning: 'vocab_size × d_model', optional: true },
    { name: 'final_logits_bias', shape: [1, V], meaning: '1 × vocab_size', optional: true },
    {
      name: 'model.encoder.embed_positions.weight',
      shape: [P, D],
      meaning: 'max_position_embeddings × d_model',
      optional: true,
    },
    {
      name: 'model.decoder.embed_positions.weight',
      shape: [P, D],
      meaning: 'max_position_embeddings × d_model',
      optional: true,
    },
  ];
  for (let l = 0; l < cfg.encoderLayers; l++)
    specs.push(...bartLayerSpecs(`model.encoder.layers.${l}.`, D, cfg.encoderFfn, 'encoder'));
  for (let l = 0; l < cfg.decoderLayers; l++)
    specs.push(...bartLayerSpecs(`model.decoder.layers.${l}.`, D, cfg.decoderFfn, 'decoder'));
  const found = checkWeights(map, specs, { where });
  let parameters = 0;
  for (const [name, t] of map)
    if (!name.includes('embed_positions') && name !== 'final_logits_bias') parameters += t.data.length;
  const weights = buildWith(found, (m): MarianWeights => {
    const embed = m.table(embedName);
    let sinus: Float32Array | undefined;
    const positions = (name: string): EmbeddingTable =>
      m.has(name) ? m.table(name) : new EmbeddingTable((sinus ??= sinusoidalPositions(P, D)), P, D);
    return {
      embed,
      encPos: positions('model.encoder.embed_positions.weight'),
      decPos: positions('model.decoder.embed_positions.weight'),
      ...outputHead(m, embed, V),
      enc: Array.from({ length: cfg.encoderLayers }, (_, l) => bartLayer(m, `model.encoder.layers.${l}.`, false)),
      dec: Array.from({ length: cfg.decoderLayers }, (_, l) => bartLayer(m, `model.decoder.layers.${l}.`, true)),
    };
  });
  return { weights, parameters };
}
