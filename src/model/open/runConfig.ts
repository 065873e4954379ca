// Runs an `*.attention.json` file: hand-built attention, or a built-in / on-disk model on its input.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { readTextInside, resolveInside } from '../formats/files';
import { parseAttentionConfig, type HandBuiltConfig, type ModelRefConfig } from '../formats/attentionConfig';
import { runHandBuilt } from '../families/handBuilt/model';
import type { AttentionModel, RunOptions } from '../model';
import { getModel } from './builtins';
import { loadHfModel } from './modelFiles';
import { HF_FAMILIES, hfFamilyOf, readJsonFile, type ModelRole } from '../formats/hfFolder';
import { AttentionInputError, type ModelInfo, type Trace } from '../../../shared/trace';

/** A path from the config, resolved against its folder; refuses to leave that folder (by name only: see modelFolder for links). */
export function insideFolder(baseDir: string, rel: string): string {
  const full = path.resolve(baseDir, rel);
  const back = path.relative(baseDir, full);
  if (back.startsWith('..') || path.isAbsolute(back)) {
    throw new AttentionInputError(
      'file',
      `"${rel}" points outside the config's folder (${baseDir}); keep models and inputs beside the config.`,
    );
  }
  return full;
}

/**
 * The config's model folder: by name inside the config's folder, and by real path too (a link that
 * leads out is refused, naming it). Its own files are then read as files of that folder.
 */
async function modelFolder(baseDir: string, rel: string): Promise<string> {
  const dir = insideFolder(baseDir, rel);
  const real = await resolveInside(baseDir, path.relative(baseDir, dir) || '.', {
    what: 'The model folder "path"',
    code: 'config',
  });
  const st = await fs.stat(real!);
  if (!st.isDirectory())
    throw new AttentionInputError(
      'config',
      `"path" is ${JSON.stringify(rel)}, which is not a folder; give the folder that holds config.json and model.safetensors.`,
    );
  return dir;
}

async function modelFor(c: ModelRefConfig, baseDir: string, options: RunOptions): Promise<AttentionModel> {
  if (c.builtin) return getModel(c.builtin);
  const dir = await modelFolder(baseDir, c.path!);
  if (c.architecture === 'seq2seq-rnn') {
    throw new AttentionInputError(
      'unsupported',
      'seq2seq-rnn models load as built-ins only ("builtin": "seq2seq-dates-additive", …).',
    );
  }
  // The folder's own config.json decides the loader; the declared architecture must agree with it.
  const configPath = path.join(dir, 'config.json');
  const family = hfFamilyOf(await readJsonFile(configPath, 'config'), configPath);
  const role = HF_FAMILIES[family].role;
  if (ROLE_OF[c.architecture] !== role) {
    throw new AttentionInputError(
      'config',
      `"architecture" is "${c.architecture}" but ${c.path} holds a ${HF_FAMILIES[family].label}, a transformer-${role}. Set "architecture": "transformer-${role}".`,
    );
  }
  return loadHfModel(dir, options);
}

const ROLE_OF: Record<Exclude<ModelRefConfig['architecture'], 'seq2seq-rnn'>, ModelRole> = {
  'transformer-decoder': 'decoder',
  'transformer-encoder': 'encoder',
  'transformer-encoder-decoder': 'encoder-decoder',
};

/** "input": {"file": …}: a regular text file inside the config's folder (real path), at most MAX_BYTES.text. */
async function inputFile(baseDir: string, rel: string): Promise<string> {
  const inside = path.relative(baseDir, insideFolder(baseDir, rel));
  return (await readTextInside(baseDir, inside, { kind: 'text', code: 'config' }))!;
}

/**
 * Called before a config's run starts, with the model's shape and its input (a model's text, or a
 * hand-built config's token count); throws to refuse the run (the worker and the CLI check the
 * memory budget here).
 */
export type ConfigRunCheck = (info: ModelInfo, input: { readonly text: string } | { readonly tokens: number }) => void;

/** A hand-built config's shape, as the budget sees it: one layer, one head, its widest matrix. */
export function handBuiltInfo(c: HandBuiltConfig): ModelInfo {
  return {
    id: 'config',
    name: c.title,
    family: 'hand-built',
    description: 'A hand-built attention config',
    layers: 1,
    heads: 1,
    dModel: Math.max(c.embeddings[0]?.length ?? 1, c.W_q[0]?.length ?? 1, c.W_v[0]?.length ?? 1),
  };
}

export async function runConfigFile(
  text: string,
  baseDir: string,
  options: RunOptions = {},
  check?: ConfigRunCheck,
): Promise<Trace> {
  const { config, problems } = parseAttentionConfig(text);
  const errors = problems.filter((p) => p.severity === 'error');
  if (!config || errors.length > 0) {
    throw new AttentionInputError(
      'config',
      `The config has ${errors.length} problem${errors.length === 1 ? '' : 's'}: ${errors.map((p) => p.message).join(' ')}`,
    );
  }
  if (config.kind === 'hand-built') {
    check?.(handBuiltInfo(config), { tokens: Math.max(config.tokens.length, config.queryTokens?.length ?? 0) });
    return runHandBuilt(config);
  }
  const input = 'text' in config.input ? config.input.text : await inputFile(baseDir, config.input.file);
  const model = await modelFor(config, baseDir, { signal: options.signal, onProgress: options.onProgress });
  // Models loaded from a path are this run's only; built-ins stay cached in the registry.
  try {
    check?.(model.info, { text: input });
    return await model.run(input, options);
  } finally {
    if (!config.builtin) model.dispose();
  }
}
