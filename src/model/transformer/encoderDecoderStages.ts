// The stages of every encoder–decoder trace (T5, BART, mBART): tokens, encoder embedding, the
// encoder's score bias when it has one (T5's relative positions, a stage of its own), each encoder
// layer's attention and output, the final encoder norm, then the same for the decoder with its
// masked self-attention and its cross-attention, and the top-k next tokens per step. The words come
// from the family's lesson, the numbers from encoderDecoder.ts's recorded run.
import { allowedMask } from '../attention/mask';
import { attentionStages, topKTensors, type AttentionWords } from '../trace/stages';
import type { Decoded, Encoded } from './encoderDecoder';
import type { NormPlacement } from './config';
import { tensor, type AttentionInfo, type ScoreFunction, type Stage, type Token } from '../../../shared/trace';

export interface Words {
  readonly title: string;
  readonly formula: string;
  readonly explanation: string;
}

/** A family's words for every stage, already filled in with its numbers. */
export interface EncoderDecoderWords {
  readonly tokens: Words;
  readonly embedding: Words;
  readonly encoderBias?: Words;
  readonly encoderAttention: AttentionWords;
  readonly encoderOutput: (layer: number) => Words;
  readonly encoderFinal?: Words;
  readonly decoderEmbedding: Words;
  readonly decoderBias?: Words;
  readonly decoderSelf: AttentionWords;
  readonly decoderCross: AttentionWords;
  readonly decoderOutput: (layer: number) => Words;
  readonly decoderFinal?: Words;
  readonly output: Words;
}

export interface EncoderDecoderStageSpec {
  readonly words: EncoderDecoderWords;
  readonly dModel: number;
  readonly encoderHeads: number;
  readonly decoderHeads: number;
  /** Per-head widths (T5's d_kv, which need not be d_model / heads; BART's encoder and decoder may differ). */
  readonly encoderHeadDim: number;
  readonly decoderHeadDim: number;
  readonly placement: NormPlacement;
  readonly score: ScoreFunction;
  readonly tokens: readonly Token[];
  readonly outputTokens: readonly Token[];
  readonly encoded: Omit<Encoded, 'memory'>;
  readonly decoded: Decoded;
  /** T5: the bucket of every (query, key) pair, [S, S] and [T, T]. */
  readonly buckets?: { readonly encoder: Float32Array; readonly decoder: Float32Array };
  readonly topK: number;
  /** What the predictions are ('tokens', 'characters'). */
  readonly outputWhat?: string;
  readonly topP: Float32Array;
  readonly topId: Int32Array;
}

export function encoderDecoderStages(s: EncoderDecoderStageSpec): Stage[] {
  const { words: w, dModel: D, encoderHeads: He, decoderHeads: Hd, encoded, decoded } = s;
  const S = s.tokens.length;
  const T = s.outputTokens.length;
  const inTok = { token: 'input' } as const;
  const outTok = { token: 'output' } as const;
  const pre = s.placement === 'pre';
  const info = (
    queries: 'input' | 'output',
    keys: 'input' | 'output',
    causal: boolean,
    biasStage?: string,
  ): AttentionInfo => ({
    queries,
    keys,
    causal,
    score: s.score,
    normaliser: 'softmax',
    ...(biasStage ? { scoreBias: { stage: biasStage, tensor: 'position_bias' } } : {}),
  });
  const rows = (name: string, n: number, axes: typeof inTok | typeof outTok, data: Float32Array, description: string) =>
    tensor(name, [n, D], ['token', 'd_model'], data, { tokenAxes: axes, description });
  const biasStage = (
    id: string,
    words: Words,
    H: number,
    n: number,
    side: 'input' | 'output',
    bias: Float32Array,
    buckets: Float32Array | undefined,
  ): Stage => ({
    id,
    kind: 'score',
    layer: 0,
    ...words,
    tensors: [
      tensor('position_bias', [H, n, n], ['head', 'query', 'key'], bias, {
        tokenAxes: { query: side, key: side },
        description: 'B[h, i, j]: added to every layer’s scores',
      }),
      ...(buckets
        ? [
            tensor('buckets', [n, n], ['query', 'key'], buckets, {
              tokenAxes: { query: side, key: side },
              description: 'The bucket of key j − query i',
            }),
          ]
        : []),
    ],
  });
  const encBlock = { dModel: D, headDim: s.encoderHeadDim } as const;
  const decBlock = { dModel: D, headDim: s.decoderHeadDim } as const;
  const stages: Stage[] = [
    {
      id: 'tokens',
      kind: 'tokens',
      ...w.tokens,
      tensors: [
        tensor(
          'ids',
          [S],
          ['token'],
          Float32Array.from(s.tokens, (t) => t.id),
          { tokenAxes: inTok, description: 'Input token ids' },
        ),
      ],
    },
    {
      id: 'embedding',
      kind: 'embedding',
      ...w.embedding,
      tensors: [rows('X', S, inTok, encoded.embedding!, 'Input to encoder layer 0')],
    },
  ];
  const encBias = encoded.bias && w.encoderBias ? 'enc.position_bias' : undefined;
  const decBias = decoded.bias && w.decoderBias ? 'dec.position_bias' : undefined;
  if (encoded.bias && w.encoderBias)
    stages.push(biasStage('enc.position_bias', w.encoderBias, He, S, 'input', encoded.bias, s.buckets?.encoder));
  encoded.layers.forEach((rec, l) => {
    stages.push(
      ...attentionStages({
        prefix: `enc${l}`,
        layer: l,
        title: `Encoder layer ${l}`,
        attention: info('input', 'input', false, encBias),
        heads: He,
        ...encBlock,
        queryCount: S,
        keyCount: S,
        record: rec.self,
        ...w.encoderAttention,
      }),
      {
        id: `enc${l}.output`,
        kind: 'encoder-layer',
        layer: l,
        ...w.encoderOutput(l),
        tensors: [
          rows('hidden', S, inTok, rec.output, 'Encoder layer output'),
          rows('attention_hidden', S, inTok, rec.afterSelf, pre ? 'x + attention(norm x)' : 'LN(x + attention)'),
        ],
      },
    );
  });
  if (encoded.final && w.encoderFinal)
    stages.push({
      id: 'enc.final',
      kind: 'encoder-layer',
      ...w.encoderFinal,
      tensors: [rows('memory', S, inTok, encoded.final, 'What cross-attention reads')],
    });
  stages.push({
    id: 'dec.embedding',
    kind: 'embedding',
    ...w.decoderEmbedding,
    tensors: [rows('Y', T, outTok, decoded.embedding, 'Decoder input embeddings')],
  });
  if (decoded.bias && w.decoderBias)
    stages.push(biasStage('dec.position_bias', w.decoderBias, Hd, T, 'output', decoded.bias, s.buckets?.decoder));
  const causalMask = allowedMask({ queries: T, keys: T, causal: true });
  decoded.layers.forEach((rec, l) => {
    const self = info('output', 'output', true, decBias);
    stages.push(
      ...attentionStages({
        prefix: `dec${l}.self`,
        layer: l,
        title: `Decoder layer ${l}, masked self-attention`,
        attention: self,
        heads: Hd,
        ...decBlock,
        queryCount: T,
        keyCount: T,
        record: rec.self,
        mask: causalMask,
        ...w.decoderSelf,
      }),
      ...attentionStages({
        prefix: `dec${l}.cross`,
        layer: l,
        title: `Decoder layer ${l}, cross-attention`,
        attention: info('output', 'input', false),
        heads: Hd,
        ...decBlock,
        queryCount: T,
        keyCount: S,
        record: rec.cross!,
        ...w.decoderCross,
      }),
      {
        id: `dec${l}.output`,
        kind: 'decoder-step',
        layer: l,
        ...w.decoderOutput(l),
        tensors: [
          rows('hidden', T, outTok, rec.output, 'Decoder layer output'),
          rows('self_hidden', T, outTok, rec.afterSelf, pre ? 'y + self-attention(norm y)' : 'LN(y + self-attention)'),
          rows(
            'cross_hidden',
            T,
            outTok,
            rec.afterCross!,
            pre ? 'h₁ + cross-attention(norm h₁)' : 'LN(h₁ + cross-attention)',
          ),
        ],
      },
    );
  });
  if (decoded.final && w.decoderFinal)
    stages.push({
      id: 'dec.final',
      kind: 'decoder-step',
      ...w.decoderFinal,
      tensors: [rows('final', T, outTok, decoded.final, 'What the output head reads')],
    });
  stages.push({
    id: 'output',
    kind: 'decoder-step',
    ...w.output,
    tensors: [...topKTensors(T, s.topK, s.topP, s.topId, outTok, s.outputWhat ?? 'tokens')],
  });
  return stages;
}
