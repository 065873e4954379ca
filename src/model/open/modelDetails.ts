// What "Show model info" says beyond a model's shape, read from its Hugging Face folder: the
// vocabulary, the context it was trained for, its positional scheme (from config.json), its files
// and their sizes, and the credit a built-in's SOURCE.md gives. Plain Node, no vscode.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ModelDetails } from '../../../shared/trace';
import { readTextInside } from '../formats/files';

/** A folder lists at most this many files in the model info. */
const MAX_FILES = 200;

const LEARNED = new Set(['bert', 'roberta', 'distilbert', 'gpt2', 'gpt_neo', 'xlm-roberta', 'electra']);

/** The positional scheme a config.json describes, in words; undefined when it does not say. */
export function positionalScheme(raw: Record<string, unknown>): string | undefined {
  const type = typeof raw.model_type === 'string' ? raw.model_type : '';
  const theta = typeof raw.rope_theta === 'number' ? raw.rope_theta : undefined;
  if (type === 't5') return 'relative position bias (T5 buckets, added to the scores)';
  if (type === 'marian') return 'sinusoidal (fixed, added to the embeddings)';
  if (type === 'bart') return 'learned absolute (added to the embeddings, offset 2)';
  if (LEARNED.has(type)) return 'learned absolute (added to the embeddings)';
  const rotary =
    theta !== undefined ||
    typeof raw.rotary_pct === 'number' ||
    ['llama', 'qwen2', 'mistral', 'gemma', 'gemma2', 'gemma3_text', 'gpt_neox', 'phi3'].includes(type);
  if (!rotary) return undefined;
  const scaling = raw.rope_scaling && typeof raw.rope_scaling === 'object' ? ' with rope_scaling' : '';
  return `rotary (RoPE), θ = ${theta ?? 10000}${scaling}`;
}

/** The trained context length under the names families give it. */
export function contextOf(raw: Record<string, unknown>): number | undefined {
  for (const k of ['max_position_embeddings', 'n_positions', 'n_ctx', 'max_seq_len', 'seq_length']) {
    const v = raw[k];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  }
  return undefined;
}

/**
 * The folder's files (not folders) and their sizes, by name. Nothing is opened: lstat, and stat
 * only through a link (a Hugging Face cache snapshot's files are links to its blobs).
 */
export async function folderFiles(dir: string): Promise<{ name: string; bytes: number }[]> {
  const names = (await fs.readdir(dir)).sort().slice(0, MAX_FILES);
  const out: { name: string; bytes: number }[] = [];
  for (const name of names) {
    try {
      const own = await fs.lstat(path.join(dir, name));
      const st = own.isSymbolicLink() ? await fs.stat(path.join(dir, name)) : own;
      if (st.isFile()) out.push({ name, bytes: st.size });
    } catch {
      // a dangling link: not a file of the model
    }
  }
  return out;
}

/** A built-in's credit: the "Original model" line of its SOURCE.md, or its title. */
export async function creditOf(dir: string): Promise<string | undefined> {
  const text = await readTextInside(dir, 'SOURCE.md', { kind: 'text', optional: true }).catch(() => undefined);
  if (!text) return undefined;
  const original = /^- Original model: (.+)$/m.exec(text)?.[1];
  const title = /^# (.+)$/m.exec(text)?.[1];
  return (original ?? title)?.replace(/`/g, '').trim();
}

/** The model info's details for a Hugging Face folder whose config.json has been read as `raw`. */
export async function folderDetails(dir: string, raw: unknown, vocabulary: number): Promise<ModelDetails> {
  const cfg = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const context = contextOf(cfg);
  const positions = positionalScheme(cfg);
  const files = await folderFiles(dir).catch(() => undefined);
  const credit = await creditOf(dir);
  return {
    vocabulary,
    ...(context !== undefined ? { context } : {}),
    ...(positions ? { positions } : {}),
    ...(files ? { files } : {}),
    ...(credit ? { credit } : {}),
  };
}
