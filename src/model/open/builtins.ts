// Loads built-in models by id (in the worker, CLI, tests and bench). Cached per process.
import type { AttentionModel } from '../model';
import { CATALOG, DEFAULT_MODEL_ID, SEQ2SEQ_VARIANTS, type CatalogEntry, type Seq2seqVariant } from '../../../shared/catalog';
import { createToyModel } from '../families/toy/model';
import { builtinTinyStoriesDir, loadLlama } from '../families/llama/model';
import { builtinSeq2seqDir, loadSeq2seq } from '../families/seq2seq/model';
import { builtinEnglishEncoderDir, loadBert } from '../families/bert/model';
import { builtinDatesTransformerDir, loadEncoderDecoder } from '../families/marian/model';

export { CATALOG as BUILTIN_MODELS, DEFAULT_MODEL_ID };

function loader(id: string): (() => Promise<AttentionModel>) | undefined {
  if (id === 'tinystories-656k') return () => loadLlama(builtinTinyStoriesDir());
  if (id === 'toy-self-attention') return async () => createToyModel();
  if (id === 'english-encoder') return () => loadBert(builtinEnglishEncoderDir());
  if (id === 'dates-transformer') return () => loadEncoderDecoder(builtinDatesTransformerDir());
  const variant = id.replace(/^seq2seq-dates-/, '') as Seq2seqVariant;
  if (id.startsWith('seq2seq-dates-') && SEQ2SEQ_VARIANTS.includes(variant)) return () => loadSeq2seq(builtinSeq2seqDir(), variant);
  return undefined;
}

const loaded = new Map<string, Promise<AttentionModel>>();

export function findModel(id: string): CatalogEntry | undefined {
  return CATALOG.find((m) => m.id === id);
}

export function getModel(id: string): Promise<AttentionModel> {
  const load = findModel(id) ? loader(id) : undefined;
  if (!load) return Promise.reject(new Error(`Unknown model "${id}". Built-in models: ${CATALOG.map((m) => m.id).join(', ')}.`));
  let p = loaded.get(id);
  if (!p) {
    p = load();
    loaded.set(id, p);
    p.catch(() => loaded.delete(id));
  }
  return p;
}
