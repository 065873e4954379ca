// The built-in models' names and descriptions, without their code: the extension host lists
// them (QuickPick, settings) without loading tfjs; the worker's registry.ts loads them.
export interface CatalogEntry {
  readonly id: string;
  readonly label: string;
  readonly description: string;
}

export const SEQ2SEQ_VARIANTS = ['additive', 'dot', 'general', 'scaled-dot', 'none'] as const;
export type Seq2seqVariant = (typeof SEQ2SEQ_VARIANTS)[number];

export const TRAFFIC_VARIANTS = ['lstm-attention', 'conv-lstm-attention'] as const;

export const DEFAULT_MODEL_ID = 'tinystories-656k';

export const CATALOG: readonly CatalogEntry[] = [
  {
    id: 'tinystories-656k',
    label: 'TinyStories-656K (Llama, pretrained)',
    description: 'Real pretrained causal LM: 2 layers, 8 query heads sharing 4 key/value heads (GQA), RoPE.',
  },
  {
    id: 'toy-self-attention',
    label: 'Toy self-attention (any score function)',
    description: 'One self-attention layer, 2 heads, seeded weights; switch score function and normaliser freely.',
  },
  {
    id: 'english-encoder',
    label: 'English encoder (BERT, bidirectional)',
    description:
      'Small BERT trained here on WordNet glosses: 2 layers × 4 heads, every token sees every other (no causal mask).',
  },
  {
    id: 'dates-transformer',
    label: 'Dates Transformer (Marian encoder–decoder)',
    description:
      'Encoder self-attention, causal decoder self-attention and cross-attention; rewrites dates as YYYY-MM-DD.',
  },
  {
    id: 'seq2seq-dates-additive',
    label: 'Seq2seq dates: additive (Bahdanau)',
    description: 'BiGRU encoder → GRU decoder, score vᵀtanh(W₁q + W₂k).',
  },
  { id: 'seq2seq-dates-dot', label: 'Seq2seq dates: dot', description: 'BiGRU encoder → GRU decoder, score q·k.' },
  {
    id: 'seq2seq-dates-general',
    label: 'Seq2seq dates: general',
    description: 'BiGRU encoder → GRU decoder, score qᵀWk.',
  },
  {
    id: 'seq2seq-dates-scaled-dot',
    label: 'Seq2seq dates: scaled dot',
    description: 'BiGRU encoder → GRU decoder, score q·k/√d.',
  },
  {
    id: 'seq2seq-dates-none',
    label: 'Seq2seq dates: no attention (bottleneck)',
    description: 'The decoder sees only the encoder’s final state: the fixed-context bottleneck.',
  },
  {
    id: 'traffic-lstm-attention',
    label: 'Traffic forecast: LSTM + temporal attention',
    description:
      'Real I-94 traffic (UCI, CC BY 4.0): an LSTM reads the last 24 hours and the same hour on the 6 days before; a decoder forecasts 6 hours attending over them (qᵀWk).',
  },
  {
    id: 'traffic-conv-lstm-attention',
    label: 'Traffic forecast: Conv → LSTM + temporal attention',
    description:
      'The case study’s hybrid: a causal 1-D convolution over the past week feeds the LSTM (the same 30 hours); attention over them (qᵀWk).',
  },
  {
    id: 'seq2seq-dates-lstm',
    label: 'Seq2seq dates: BiLSTM → LSTM, additive (Bahdanau)',
    description:
      'BiLSTM encoder → LSTM decoder, additive score vᵀtanh(W₁q + W₂k); shows the gates i, f, g, o and the cell state c.',
  },
  {
    id: 'seq2seq-reverse-additive',
    label: 'Reverse strings: GRU with additive attention',
    description:
      'BiGRU encoder → GRU decoder, additive score vᵀtanh(W₁q + W₂k); writes a–z letters backwards. Charts accuracy against length.',
  },
  {
    id: 'seq2seq-reverse-none',
    label: 'Reverse strings: GRU, no attention (bottleneck)',
    description:
      'BiGRU encoder → GRU decoder that sees only the encoder’s final state; accuracy falls as strings grow. Charts accuracy against length.',
  },
];

/** A model from the user's disk is named by its file: `file:` + the absolute path of its config.json / model.json. */
export const FILE_MODEL_PREFIX = 'file:';

export function fileModelId(file: string): string {
  return FILE_MODEL_PREFIX + file;
}

export function filePathOf(modelId: string): string | undefined {
  return modelId.startsWith(FILE_MODEL_PREFIX) ? modelId.slice(FILE_MODEL_PREFIX.length) : undefined;
}
