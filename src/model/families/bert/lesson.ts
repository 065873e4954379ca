// What the panel says at each stage of a BERT-family encoder: titles, formulas and explanations,
// apart from the numbers.
import { ACTIVATION_FORMULA } from '../../layers/activations';
import type { AttentionWords } from '../../trace/stages';
import { FAMILY_NAME, type BertConfig } from './config';

export interface BertLessonContext {
  readonly config: BertConfig;
  readonly T: number;
  readonly topK: number;
  readonly cls: string;
  readonly sep: string;
}

interface Words {
  readonly title: string;
  readonly formula: string;
  readonly explanation: string;
}

const maskTokenOf = (cls: string): string => (cls === '<s>' ? '<mask>' : '[MASK]');
/** DistilBERT's heads behave as BERT's: the lesson names the teacher. */
const trainedName = (cfg: BertConfig): string => (cfg.family === 'distilbert' ? 'BERT' : FAMILY_NAME[cfg.family]);

export const bertLesson = {
  tokens({ config: cfg, cls, sep }: BertLessonContext): Words {
    const words =
      cfg.family === 'roberta'
        ? `The text is turned into UTF-8 bytes, each shown as one printable character (a space appears as "Ġ"), and frequent byte ` +
          `sequences are merged into tokens from a ${cfg.vocabSize}-entry byte-pair vocabulary, so no character is ever unknown. Nothing is ` +
          `lower-cased, and a space belongs to the word after it ("Ġcat"). `
        : cfg.family === 'xlm-roberta'
          ? `The text is split into pieces from a ${cfg.vocabSize}-entry SentencePiece vocabulary covering about a hundred languages; ` +
            `"▁" marks a space, glued onto the start of the word that follows it. `
          : `The text is lower-cased, accents are removed, and it is split at spaces and punctuation. Each word is then spelled with the ` +
            `${cfg.vocabSize}-entry WordPiece vocabulary, longest piece first: a word the vocabulary lacks becomes a stem plus continuation ` +
            `pieces marked "##". `;
    return {
      title: 'Tokens',
      formula: `text → ${cls} w₁ … wₙ ${sep}`,
      explanation:
        words +
        `${cls} is put in front and ${sep} at the end, as in training; they have no position in your text. Type ${maskTokenOf(cls)} in the text to ask the model to fill in a word.`,
    };
  },

  embedding({ config: cfg }: BertLessonContext): Words {
    const distil = cfg.family === 'distilbert';
    const name = FAMILY_NAME[cfg.family];
    const off = cfg.positionOffset;
    const posIndex = off === 0 ? 'i' : `i+${off}`;
    return {
      title: 'Embeddings: word + position' + (distil ? '' : ' + segment'),
      formula: distil ? 'X[i] = LayerNorm(E[tᵢ] + P[i])' : `X[i] = LayerNorm(E[tᵢ] + P[${posIndex}] + S[0])`,
      explanation:
        `Each token id picks a row of the ${cfg.vocabSize}×${cfg.hiddenSize} word-embedding matrix E, and the row P[${posIndex}] of a learned position table is ` +
        `added so the model knows where the token stands (attention itself ignores order). ` +
        (off === 0
          ? ''
          : `${name} numbers positions from padding_idx + 1 = ${off} (row ${cfg.padId} belongs to the padding token), so the first token ` +
            `reads row ${off} and at most ${cfg.maxPositions} of the table's ${cfg.positionTable} rows are usable. `) +
        (distil ? '' : `${name} also adds a segment vector S (all tokens here are in segment 0, "sentence A"). `) +
        `The sum is layer-normalised: each token's vector is shifted to mean 0, scaled to variance 1, then given a learned gain and bias.`,
    };
  },

  attention({ config: cfg, cls, sep }: BertLessonContext): AttentionWords {
    const { hiddenSize: D, numHeads: H, headDim: hd } = cfg;
    return {
      qkvText:
        `Every token's ${D}-vector is projected three ways, each by its own learned matrix and bias: a query (what this token looks for), ` +
        `a key (what it offers to be found by) and a value (what it passes on). The ${D} numbers are then cut into ${H} heads of ${hd}, ` +
        `and each head attends on its own.`,
      scoresText:
        `Each query is compared with every key by a dot product, divided by √${hd} to keep softmax out of saturation. This is an encoder: ` +
        `there is no causal mask, so every token may look at tokens before and after it. That two-sided view is what masked-language ` +
        `training rewards: to guess a hidden word, the words on both sides help.`,
      weightsText:
        `Softmax turns each query's row of scores into weights that are positive and sum to 1. Trained ${trainedName(cfg)}s often park weight on ` +
        `${cls}, ${sep} or punctuation when a head has nothing specific to find, and some heads look mostly at the previous or next word.`,
      contextText:
        `Each head blends the value vectors of all tokens using its weights, giving a ${hd}-vector per token. The ${H} heads are put side by ` +
        `side (${H * hd} numbers) and projected back to ${D} dimensions by W_O: that is what attention adds to the token's vector.`,
    };
  },

  layerOutput({ config: cfg }: BertLessonContext, l: number): Words {
    const D = cfg.hiddenSize;
    return {
      title: `Layer ${l}: add & norm, feed-forward, add & norm`,
      formula: `h = LayerNorm(x + attn);  x' = LayerNorm(h + W₂ ${cfg.activation}(W₁h + b₁) + b₂)`,
      explanation:
        `${trainedName(cfg)} normalises after each sub-block ("post-norm"): the attention output is added to the token's vector and the sum layer-normalised. ` +
        `Then every token, on its own, goes through a two-layer feed-forward network (${D} → ${cfg.intermediateSize} → ${D}, ` +
        `${ACTIVATION_FORMULA[cfg.activation]}), whose output is added and normalised again. The result is the layer's output and the next layer's input.`,
    };
  },

  output({ config: cfg, cls, topK }: BertLessonContext): Words {
    return {
      title: 'Masked-token predictions',
      formula: `p(token at i) = softmax(LayerNorm(${cfg.mlmActivation}(W xᵢ + b)) Eᵀ + b_vocab)`,
      explanation:
        `The masked-language-model head reads each token's final vector, transforms and normalises it, and compares it with every row of ` +
        `the word-embedding matrix E (shared with the input), giving a probability for every vocabulary entry. In training, 15% of the ` +
        `tokens were hidden and this head had to name them; at a ${maskTokenOf(cls)} the top guesses show what the model thinks fits, elsewhere it ` +
        `mostly reproduces the word that is there. Shown: the ${topK} most likely tokens per position.`,
    };
  },
};
