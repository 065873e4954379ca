// T5 and Flan-T5 (T5ForConditionalGeneration) read from a Hugging Face folder: config.json,
// model.safetensors, tokenizer.json (Unigram). Encoder and decoder are configurations of the shared
// Transformer block (config.ts: pre-RMS-norm, no score scaling, plain or gated MLP); what is T5's
// own is here and in positionBias.ts: the relative position bias added to every self-attention
// score, the final norms, and the d_model^-0.5 rescale before a tied head.
import { tf } from '../../runtime/backend';
import { embedTokens } from '../../transformer/embedding';
import { norm } from '../../layers/norms';
import type { EncoderDecoderNet } from '../../transformer/encoderDecoder';
import { EncoderDecoderLm, type EncoderDecoderShape } from '../../transformer/encoderDecoderModel';
import type { EncoderDecoderWords } from '../../transformer/encoderDecoderStages';
import { loadHfFolder, type LoadOptions } from '../../transformer/load';
import type { PositionLimit } from '../../trace/run';
import { parseT5Config, t5DecoderBlock, t5EncoderBlock, type T5Config } from './config';
import { bucketGrid, positionBias } from './positionBias';
import { t5Weights, type T5Weights } from './weights';
import { t5Words } from './lesson';

export { parseT5Config, type T5Config } from './config';

export class T5Model extends EncoderDecoderLm<T5Config, T5Weights> {
  protected readonly shape: EncoderDecoderShape = {
    dModel: this.config.dModel,
    encoderHeads: this.config.heads,
    decoderHeads: this.config.heads,
    encoderHeadDim: this.config.dKv,
    decoderHeadDim: this.config.dKv,
    placement: 'pre',
    score: 'dot',
  };
  // Relative positions have no hard limit; n_positions is what the model was trained on.
  protected readonly limit: PositionLimit = {
    positions: this.config.positions,
    label: 'positions it was trained on (n_positions)',
  };
  protected readonly prefixIds: readonly number[] = [];
  protected readonly suffixIds: readonly number[] = [this.config.eosId];
  private readonly blocks = { encoder: t5EncoderBlock(this.config), decoder: t5DecoderBlock(this.config) };

  private grid(side: 'encoder' | 'decoder', T: number): Int32Array {
    const { numBuckets, maxDistance } = this.config;
    return bucketGrid(T, T, side === 'encoder', numBuckets, maxDistance);
  }

  protected net(): EncoderDecoderNet {
    const w = this.live();
    const cfg = this.config;
    const rms = { kind: 'rms', eps: cfg.eps } as const;
    return {
      encoder: { layers: w.enc, config: this.blocks.encoder },
      decoder: { layers: w.dec, config: this.blocks.decoder },
      embed: (_side, ids) => embedTokens(ids, w.embed).x,
      selfBias: (side, T) =>
        tf.tensor3d(positionBias(side === 'encoder' ? w.encTable : w.decTable, cfg.heads, this.grid(side, T)), [
          cfg.heads,
          T,
          T,
        ]),
      encoderOut: (x) => norm(rms, x, w.encFinal),
      decoderOut: (y) => {
        const z = norm(rms, y, w.decFinal);
        return cfg.tied ? (tf.mul(z, cfg.dModel ** -0.5) as tf.Tensor2D) : z; // T5ForConditionalGeneration's rescale before the tied head
      },
      head: (z) => tf.matMul(z, w.headT), // [T, D] → [T, V]
    };
  }

  protected override buckets(S: number, T: number): { encoder: Float32Array; decoder: Float32Array } {
    return { encoder: Float32Array.from(this.grid('encoder', S)), decoder: Float32Array.from(this.grid('decoder', T)) };
  }

  protected words(S: number, T: number, topK: number): EncoderDecoderWords {
    return t5Words({
      config: this.config,
      S,
      T,
      topK,
      eos: this.tokenizer.piece(this.config.eosId),
      start: this.tokenizer.piece(this.config.decoderStartId),
    });
  }
}

/** Loads a T5 / Flan-T5 folder: config.json, model.safetensors, tokenizer.json. */
export function loadT5(dir: string, options: LoadOptions = {}): Promise<T5Model> {
  return loadHfFolder(dir, options, {
    family: () => 't5',
    parseConfig: parseT5Config,
    buildWeights: t5Weights,
    describe: (c) =>
      `T5 encoder–decoder${c.gated ? ` (${c.feedForwardProj}, Flan-T5's MLP)` : ''}: ${c.encoderLayers}+${c.decoderLayers} layers, ${c.heads} heads of ${c.dKv}, d_model ${c.dModel}; relative position buckets, no 1/√d.`,
    shape: (c) => ({ layers: Math.max(c.encoderLayers, c.decoderLayers), heads: c.heads, dModel: c.dModel }),
    make: (c, tokenizer, weights, info) => new T5Model(c, tokenizer, weights, info),
  });
}
