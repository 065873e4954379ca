// The BERT family's tensor names (BERT and the RoBERTas share them; DistilBERT has its own) → the
// block's weights, the embeddings and the masked-language-model head, each checked by the one
// weight-spec checker before anything is allocated.
import { tf } from '../../runtime/backend';
import { checkWeights, type WeightSpec } from '../../formats/hfFolder';
import type { SafeTensor } from '../../formats/safetensors';
import type { EmbeddingTable } from '../../layers/embedding';
import type { Dense } from '../../layers/linear';
import type { LN } from '../../layers/norms';
import type { BlockWeights } from '../../transformer/block';
import { buildWith } from '../../transformer/weights';
import type { BertConfig, BertFamily } from './config';

export interface BertWeights {
  readonly word: EmbeddingTable;
  /** [positionTable, D] position rows. */
  readonly position: EmbeddingTable;
  /** The segment-0 row (zeros for DistilBERT). */
  readonly type0: tf.Tensor1D;
  readonly embNorm: LN;
  readonly layers: readonly BlockWeights[];
  /** The masked-language-model head, when the checkpoint has one. */
  readonly mlm?: {
    readonly transform: Dense;
    readonly norm: LN;
    readonly decoderT: tf.Tensor2D;
    readonly bias: tf.Tensor1D;
  };
}

/** Parameter names of layer l (HF's own names). */
function layerNames(family: BertFamily, l: number) {
  if (family !== 'distilbert') {
    const p = `encoder.layer.${l}.`;
    return {
      q: p + 'attention.self.query',
      k: p + 'attention.self.key',
      v: p + 'attention.self.value',
      o: p + 'attention.output.dense',
      attnNorm: p + 'attention.output.LayerNorm',
      up: p + 'intermediate.dense',
      down: p + 'output.dense',
      outNorm: p + 'output.LayerNorm',
    };
  }
  const p = `transformer.layer.${l}.`;
  return {
    q: p + 'attention.q_lin',
    k: p + 'attention.k_lin',
    v: p + 'attention.v_lin',
    o: p + 'attention.out_lin',
    attnNorm: p + 'sa_layer_norm',
    up: p + 'ffn.lin1',
    down: p + 'ffn.lin2',
    outNorm: p + 'output_layer_norm',
  };
}

export function bertWeights(
  map: Map<string, SafeTensor>,
  cfg: BertConfig,
  where: string,
): { weights: BertWeights; parameters: number } {
  const { hiddenSize: D, intermediateSize: I, vocabSize: V, positionTable: P, family } = cfg;
  const base = family === 'bert' ? 'bert.' : family === 'distilbert' ? 'distilbert.' : 'roberta.';
  const candidates = (n: string): string[] => [base + n, n];
  const linear = (name: string, out: number, inp: number, meaning: string): WeightSpec[] => [
    { name: name + '.weight', shape: [out, inp], meaning },
    { name: name + '.bias', shape: [out], meaning: meaning.split(' × ')[0]! },
  ];
  const ln = (name: string): WeightSpec[] => [
    { name: name + '.weight', shape: [D], meaning: 'hidden_size' },
    { name: name + '.bias', shape: [D], meaning: 'hidden_size' },
  ];
  const specs: WeightSpec[] = [
    { name: 'embeddings.word_embeddings.weight', shape: [V, D], meaning: 'vocab_size × hidden_size' },
    { name: 'embeddings.position_embeddings.weight', shape: [P, D], meaning: 'max_position_embeddings × hidden_size' },
    ...(family !== 'distilbert'
      ? [
          {
            name: 'embeddings.token_type_embeddings.weight',
            shape: [cfg.typeVocabSize, D],
            meaning: 'type_vocab_size × hidden_size',
          },
        ]
      : []),
    ...ln('embeddings.LayerNorm'),
  ];
  for (let l = 0; l < cfg.numLayers; l++) {
    const n = layerNames(family, l);
    const dd = 'hidden_size × hidden_size';
    specs.push(
      ...linear(n.q, D, D, dd),
      ...linear(n.k, D, D, dd),
      ...linear(n.v, D, D, dd),
      ...linear(n.o, D, D, dd),
      ...ln(n.attnNorm),
    );
    specs.push(
      ...linear(n.up, I, D, 'intermediate_size × hidden_size'),
      ...linear(n.down, D, I, 'hidden_size × intermediate_size'),
      ...ln(n.outNorm),
    );
  }
  // MLM head (BertForMaskedLM: cls.predictions.*; DistilBertForMaskedLM: vocab_*; RobertaForMaskedLM:
  // lm_head.*, whose bias is saved as lm_head.bias or, tied, lm_head.decoder.bias), decoder tied when absent.
  const mlmNames =
    family === 'bert'
      ? {
          dense: 'cls.predictions.transform.dense',
          norm: 'cls.predictions.transform.LayerNorm',
          decoder: 'cls.predictions.decoder.weight',
          bias: 'cls.predictions.bias',
        }
      : family === 'distilbert'
        ? {
            dense: 'vocab_transform',
            norm: 'vocab_layer_norm',
            decoder: 'vocab_projector.weight',
            bias: 'vocab_projector.bias',
          }
        : {
            dense: 'lm_head.dense',
            norm: 'lm_head.layer_norm',
            decoder: 'lm_head.decoder.weight',
            bias: map.has('lm_head.bias') || !map.has('lm_head.decoder.bias') ? 'lm_head.bias' : 'lm_head.decoder.bias',
          };
  const hasMlm = map.has(mlmNames.dense + '.weight');
  if (hasMlm) {
    specs.push(...linear(mlmNames.dense, D, D, 'hidden_size × hidden_size'), ...ln(mlmNames.norm));
    specs.push(
      { name: mlmNames.bias, shape: [V], meaning: 'vocab_size' },
      { name: mlmNames.decoder, shape: [V, D], meaning: 'vocab_size × hidden_size', optional: true },
    );
  }
  const found = checkWeights(map, specs, { where, candidates });
  let parameters = 0;
  for (const t of map.values()) parameters += t.data.length;
  const weights = buildWith(found, (m): BertWeights => {
    const word = m.table('embeddings.word_embeddings.weight');
    const type0 =
      family !== 'distilbert'
        ? m.keep(tf.tensor1d(found.get('embeddings.token_type_embeddings.weight')!.data.subarray(0, D), 'float32'))
        : m.keep(tf.zeros([D], 'float32') as tf.Tensor1D);
    const layers = Array.from({ length: cfg.numLayers }, (_, l): BlockWeights => {
      const n = layerNames(family, l);
      return {
        self: { q: m.linear(n.q), k: m.linear(n.k), v: m.linear(n.v), o: m.linear(n.o) },
        selfNorm: m.layerNorm(n.attnNorm),
        mlp: { up: m.linear(n.up), down: m.linear(n.down) },
        mlpNorm: m.layerNorm(n.outNorm),
      };
    });
    const mlm = hasMlm
      ? {
          transform: m.linear(mlmNames.dense),
          norm: m.layerNorm(mlmNames.norm),
          decoderT: m.has(mlmNames.decoder) ? m.t2T(mlmNames.decoder) : m.keep(word.transposed()),
          bias: m.t1(mlmNames.bias),
        }
      : undefined;
    return {
      word,
      position: m.table('embeddings.position_embeddings.weight'),
      type0,
      embNorm: m.layerNorm('embeddings.LayerNorm'),
      layers,
      ...(mlm ? { mlm } : {}),
    };
  });
  return { weights, parameters };
}
