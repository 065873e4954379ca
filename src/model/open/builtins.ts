// Loads built-in models by id (in the worker, CLI, tests and bench), from one table keyed by the
// catalog's ids (shared/catalog.ts); a catalog entry without a loader, or a loader the catalog does
// not list, fails at start-up. Cached per process.
import type { AttentionModel } from '../model';
import {
  CATALOG,
  DEFAULT_MODEL_ID,
  SEQ2SEQ_VARIANTS,
  TRAFFIC_VARIANTS,
  type CatalogEntry,
} from '../../../shared/catalog';
import { createToyModel } from '../families/toy/model';
import { builtinTinyStoriesDir, loadLlama } from '../families/llama/model';
import { builtinReverseDir, builtinSeq2seqDir, loadSeq2seq } from '../families/seq2seq/model';
import { builtinEnglishEncoderDir, loadBert } from '../families/bert/model';
import { builtinDatesTransformerDir, loadEncoderDecoder } from '../families/marian/model';
import { builtinTrafficDir, loadTraffic } from '../families/traffic/model';

export { CATALOG as BUILTIN_MODELS, DEFAULT_MODEL_ID };

const LOADERS: Readonly<Record<string, () => Promise<AttentionModel>>> = {
  'tinystories-656k': () => loadLlama(builtinTinyStoriesDir()),
  'toy-self-attention': async () => createToyModel(),
  'english-encoder': () => loadBert(builtinEnglishEncoderDir()),
  'dates-transformer': () => loadEncoderDecoder(builtinDatesTransformerDir()),
  ...Object.fromEntries(SEQ2SEQ_VARIANTS.map((v) => [`seq2seq-dates-${v}`, () => loadSeq2seq(builtinSeq2seqDir(), v)])),
  ...Object.fromEntries(TRAFFIC_VARIANTS.map((v) => [`traffic-${v}`, () => loadTraffic(builtinTrafficDir(), v)])),
  'seq2seq-dates-lstm': () => loadSeq2seq(builtinSeq2seqDir(), 'additive', { cell: 'lstm' }),
  ...Object.fromEntries(
    (['additive', 'none'] as const).map((v) => [
      `seq2seq-reverse-${v}`,
      () => loadSeq2seq(builtinReverseDir(), v, { task: 'reverse', id: `seq2seq-reverse-${v}` }),
    ]),
  ),
};

const listed = new Set(CATALOG.map((m) => m.id));
const unloadable = [...listed].filter((id) => !(id in LOADERS));
const unlisted = Object.keys(LOADERS).filter((id) => !listed.has(id));
if (unloadable.length || unlisted.length) {
  throw new Error(
    `The built-in catalog and its loaders disagree: no loader for ${unloadable.join(', ') || 'none'}; not in the catalog: ${unlisted.join(', ') || 'none'}.`,
  );
}

const loaded = new Map<string, Promise<AttentionModel>>();

export function findModel(id: string): CatalogEntry | undefined {
  return CATALOG.find((m) => m.id === id);
}

export function getModel(id: string): Promise<AttentionModel> {
  const load = findModel(id) ? LOADERS[id] : undefined;
  if (!load)
    return Promise.reject(new Error(`Unknown model "${id}". Built-in models: ${CATALOG.map((m) => m.id).join(', ')}.`));
  let p = loaded.get(id);
  if (!p) {
    p = load();
    loaded.set(id, p);
    p.catch(() => loaded.delete(id));
  }
  return p;
}
