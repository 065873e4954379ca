// BART / mBART's tensor names (BartForConditionalGeneration, MBartForConditionalGeneration) → the
// block weights, the shared embedding, the two learned position tables (max_position_embeddings + 2
// rows), layernorm_embedding, mBART's final layer norms, and the head with final_logits_bias, each
// checked by the one weight-spec checker before anything is allocated.
import { tf } from '../../runtime/backend';
import { checkWeights, type WeightSpec } from '../../formats/hfFolder';
import type { SafeTensor } from '../../formats/safetensors';
import type { EmbeddingTable } from '../../layers/embedding';
import type { LN } from '../../layers/norms';
import type { BlockWeights } from '../../transformer/block';
import { buildWith, type WeightMaker } from '../../transformer/weights';
import { BART_POSITION_OFFSET, type BartConfig } from './config';

export interface BartSide {
  readonly positions: EmbeddingTable;
  readonly embedNorm: LN;
  /** mBART's layer_norm after the last layer. */
  readonly finalNorm?: LN;
  readonly layers: readonly BlockWeights[];
}

export interface BartWeights {
  readonly embed: EmbeddingTable;
  readonly encoder: BartSide;
  readonly decoder: BartSide;
  /** [D, V] output projection (transposed), and the [V] final_logits_bias. */
  readonly lmHeadT: tf.Tensor2D;
  readonly logitsBias: tf.Tensor1D;
}

/** The specs of one BART-layout layer (Marian's too): attention, its norm, cross-attention in the decoder, fc1/fc2 and final_layer_norm. */
export function bartLayerSpecs(p: string, D: number, F: number, side: 'encoder' | 'decoder'): WeightSpec[] {
  const vec = (name: string, meaning = 'd_model', n = D): WeightSpec => ({ name, shape: [n], meaning });
  const linear = (name: string, out: number, inp: number, meaning: string, outMeaning: string): WeightSpec[] => [
    { name: `${name}.weight`, shape: [out, inp], meaning },
    vec(`${name}.bias`, outMeaning, out),
  ];
  const ln = (name: string): WeightSpec[] => [vec(`${name}.weight`), vec(`${name}.bias`)];
  const attn = (a: string): WeightSpec[] => [
    ...['q_proj', 'k_proj', 'v_proj', 'out_proj'].flatMap((n) =>
      linear(`${p}${a}.${n}`, D, D, 'd_model × d_model', 'd_model'),
    ),
    ...ln(`${p}${a}_layer_norm`),
  ];
  return [
    ...attn('self_attn'),
    ...(side === 'decoder' ? attn('encoder_attn') : []),
    ...linear(`${p}fc1`, F, D, `${side}_ffn_dim × d_model`, `${side}_ffn_dim`),
    ...linear(`${p}fc2`, D, F, `d_model × ${side}_ffn_dim`, 'd_model'),
    ...ln(`${p}final_layer_norm`),
  ];
}

/** The output head: lm_head, else the tied embedding (transposed, [D, V]), and final_logits_bias, else zeros ([V]). */
export function outputHead(
  m: WeightMaker,
  embed: EmbeddingTable,
  V: number,
): { lmHeadT: tf.Tensor2D; logitsBias: tf.Tensor1D } {
  return {
    lmHeadT: m.has('lm_head.weight') ? m.t2T('lm_head.weight') : m.keep(embed.transposed()),
    logitsBias: m.has('final_logits_bias')
      ? m.t1('final_logits_bias')
      : m.keep(tf.zeros([V], 'float32') as tf.Tensor1D),
  };
}

/** One BART-layout layer's block weights. */
export function bartLayer(m: WeightMaker, p: string, cross: boolean): BlockWeights {
  const attention = (a: string) => ({
    q: m.linear(`${p}${a}.q_proj`),
    k: m.linear(`${p}${a}.k_proj`),
    v: m.linear(`${p}${a}.v_proj`),
    o: m.linear(`${p}${a}.out_proj`),
  });
  return {
    self: attention('self_attn'),
    selfNorm: m.layerNorm(`${p}self_attn_layer_norm`),
    ...(cross ? { cross: attention('encoder_attn'), crossNorm: m.layerNorm(`${p}encoder_attn_layer_norm`) } : {}),
    mlp: { up: m.linear(`${p}fc1`), down: m.linear(`${p}fc2`) },
    mlpNorm: m.layerNorm(`${p}final_layer_norm`),
  };
}

export function bartWeights(
  map: Map<string, SafeTensor>,
  cfg: BartConfig,
  where: string,
): { weights: BartWeights; parameters: number } {
  const { dModel: D, vocabSize: V } = cfg;
  const P = cfg.maxPositions + BART_POSITION_OFFSET;
  const mbart = cfg.family === 'mbart';
  const embedName = map.has('model.shared.weight') ? 'model.shared.weight' : 'model.encoder.embed_tokens.weight';
  const norm = (name: string): WeightSpec[] =>
    ['weight', 'bias'].map((k) => ({ name: `${name}.${k}`, shape: [D], meaning: 'd_model' }));
  const specs: WeightSpec[] = [
    { name: embedName, shape: [V, D], meaning: 'vocab_size × d_model' },
    { name: 'lm_head.weight', shape: [V, D], meaning: 'vocab_size × d_model', optional: true },
    { name: 'final_logits_bias', shape: [1, V], meaning: '1 × vocab_size', optional: true },
  ];
  for (const side of ['encoder', 'decoder'] as const) {
    const s = `model.${side}.`;
    specs.push(
      {
        name: `${s}embed_positions.weight`,
        shape: [P, D],
        meaning: 'max_position_embeddings + 2 × d_model (positions start at row 2)',
      },
      ...norm(`${s}layernorm_embedding`),
    );
    if (mbart) specs.push(...norm(`${s}layer_norm`));
    const n = side === 'encoder' ? cfg.encoderLayers : cfg.decoderLayers;
    for (let l = 0; l < n; l++)
      specs.push(...bartLayerSpecs(`${s}layers.${l}.`, D, side === 'encoder' ? cfg.encoderFfn : cfg.decoderFfn, side));
  }
  const found = checkWeights(map, specs, { where });
  let parameters = 0;
  for (const [name, t] of found) if (name !== 'final_logits_bias') parameters += t.data.length;
  const weights = buildWith(found, (m): BartWeights => {
    const embed = m.table(embedName);
    const side = (s: 'encoder' | 'decoder'): BartSide => ({
      positions: m.table(`model.${s}.embed_positions.weight`),
      embedNorm: m.layerNorm(`model.${s}.layernorm_embedding`),
      ...(mbart ? { finalNorm: m.layerNorm(`model.${s}.layer_norm`) } : {}),
      layers: Array.from({ length: s === 'encoder' ? cfg.encoderLayers : cfg.decoderLayers }, (_, l) =>
        bartLayer(m, `model.${s}.layers.${l}.`, s === 'decoder'),
      ),
    });
    return {
      embed,
      encoder: side('encoder'),
      decoder: side('decoder'),
      ...outputHead(m, embed, V),
    };
  });
  return { weights, parameters };
}
