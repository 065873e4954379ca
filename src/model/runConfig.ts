// Runs an `*.attention.json` file: hand-built attention, or a built-in / on-disk model on its input.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseAttentionConfig, type ModelRefConfig } from './configFile';
import { runHandBuilt } from './handBuilt';
import type { AttentionModel, RunOptions } from './model';
import { getModel } from './registry';
import { loadLlama } from './llama';
import { loadBert } from './bert';
import { loadEncoderDecoder } from './encdec';
import { AttentionInputError, type Trace } from './trace';

/** A path from the config, resolved against its folder; refuses to leave that folder. */
export function insideFolder(baseDir: string, rel: string): string {
  const full = path.resolve(baseDir, rel);
  const back = path.relative(baseDir, full);
  if (back.startsWith('..') || path.isAbsolute(back)) {
    throw new AttentionInputError('file', `"${rel}" points outside the config's folder (${baseDir}); keep models and inputs beside the config.`);
  }
  return full;
}

async function modelFor(c: ModelRefConfig, baseDir: string): Promise<AttentionModel> {
  if (c.builtin) return getModel(c.builtin);
  const dir = insideFolder(baseDir, c.path!);
  switch (c.architecture) {
    case 'transformer-decoder':
      return loadLlama(dir);
    case 'transformer-encoder':
      return loadBert(dir);
    case 'transformer-encoder-decoder':
      return loadEncoderDecoder(dir);
    case 'seq2seq-rnn':
      throw new AttentionInputError('unsupported', 'seq2seq-rnn models load as built-ins only ("builtin": "seq2seq-dates-additive", …).');
  }
}

export async function runConfigFile(text: string, baseDir: string, options: RunOptions = {}): Promise<Trace> {
  const { config, problems } = parseAttentionConfig(text);
  const errors = problems.filter((p) => p.severity === 'error');
  if (!config || errors.length > 0) {
    throw new AttentionInputError('config', `The config has ${errors.length} problem${errors.length === 1 ? '' : 's'}: ${errors.map((p) => p.message).join(' ')}`);
  }
  if (config.kind === 'hand-built') return runHandBuilt(config);
  const input = 'text' in config.input ? config.input.text : await fs.readFile(insideFolder(baseDir, config.input.file), 'utf8');
  const model = await modelFor(config, baseDir);
  // Models loaded from a path are this run's only; built-ins stay cached in the registry.
  try {
    return await model.run(input, options);
  } finally {
    if (!config.builtin) model.dispose();
  }
}
