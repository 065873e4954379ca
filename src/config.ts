// Settings, validated when read (the JSON schema is advice to the settings editor, not a guarantee:
// a workspace's settings.json may hold anything). Settings that cost memory or time, and the model
// file, are restricted in untrusted workspaces: their workspace values are ignored there.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { fileModelId } from '../shared/catalog';
import type { Normaliser, ScoreFunction } from '../shared/trace';
import type { ColourMap, PanelSettings } from '../shared/protocol';
import { DEFAULT_GENERATE, MAX_CONTINUE_TOKENS, MAX_SEED, type GenerateDefaults } from '../shared/generation';
import { DEFAULT_MEMORY_BUDGET_MB } from './worker/budget';

export interface LensConfig {
  /** A built-in id, or `file:` + the path of the model file set in attentionLens.modelFile. */
  readonly model: string;
  /** The attentionLens.modelFile setting resolved to an absolute path, when set. */
  readonly modelFile: string | undefined;
  readonly maxTokens: number;
  readonly topK: number;
  readonly colourMap: ColourMap;
  readonly score: ScoreFunction;
  readonly normaliser: Normaliser;
  readonly decorations: boolean;
  readonly backend: 'wasm' | 'cpu';
  /** 0 = one per core (at most 4). */
  readonly threads: number;
  /** Runs whose estimated memory exceeds this are refused before they start (MB). */
  readonly memoryBudgetMB: number;
  /** Whole runs kept on disk for a reloaded panel, at most this many MB; 0 = none. */
  readonly restoreCacheMB: number;
  /** The watchdog: a run still going after this many seconds is stopped and the worker restarted; 0 = never. */
  readonly runTimeoutSeconds: number;
  /** The panel's Continue: how many tokens and how, at first (attentionLens.generate.*). */
  readonly generate: GenerateDefaults;
}

/** Settings whose workspace values an untrusted workspace may not set (package.json restrictedConfigurations). */
export const RESTRICTED_SETTINGS = [
  'modelFile',
  'modelFolders',
  'maxTokens',
  'threads',
  'memoryBudgetMB',
  'runTimeoutSeconds',
  'restoreCacheMB',
] as const;

/** Integer settings: [min, max, default]; anything else read is clamped or replaced by the default. */
export const INTEGER_SETTINGS = {
  maxTokens: [1, 32768, 256],
  'hover.topK': [1, 50, 5],
  threads: [0, 8, 0],
  memoryBudgetMB: [64, 65536, DEFAULT_MEMORY_BUDGET_MB],
  runTimeoutSeconds: [0, 3600, 300],
  restoreCacheMB: [0, 4096, 256],
  'generate.tokens': [1, MAX_CONTINUE_TOKENS, DEFAULT_GENERATE.tokens],
  'generate.topK': [0, 1_000_000, DEFAULT_GENERATE.sampling.topK],
  'generate.seed': [0, MAX_SEED, DEFAULT_GENERATE.sampling.seed],
} as const satisfies Record<string, readonly [number, number, number]>;

const ENUMS = {
  colourMap: ['viridis', 'cividis', 'magma'],
  scoreFunction: ['dot', 'scaled-dot', 'general', 'additive'],
  normaliser: ['softmax', 'sparsemax', 'sigmoid', 'hardmax', 'sampled'],
  backend: ['wasm', 'cpu'],
} as const;

/** A number setting as an integer in [min, max]; not a finite number: the default. */
export function clampInteger(value: unknown, [min, max, fallback]: readonly [number, number, number]): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.round(value)));
}

/** A number in (0, max]; anything else (not a number, ≤ 0, above max): the default. */
export function positiveNumber(value: unknown, max: number, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= max ? value : fallback;
}

/** One value among `allowed`, else the first. */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T {
  return allowed.includes(value as T) ? (value as T) : allowed[0]!;
}

/** A setting's value; for restricted settings in an untrusted workspace, the user's own (global) value only. */
function read(c: vscode.WorkspaceConfiguration, key: string): unknown {
  if (vscode.workspace.isTrusted || !(RESTRICTED_SETTINGS as readonly string[]).includes(key)) return c.get(key);
  const i = c.inspect(key);
  return i?.globalValue ?? i?.defaultValue;
}

export function readConfig(): LensConfig {
  const c = vscode.workspace.getConfiguration('attentionLens');
  const raw = read(c, 'modelFile');
  const fileSetting = typeof raw === 'string' ? raw.trim() : '';
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const modelFile = fileSetting
    ? path.isAbsolute(fileSetting) || !root
      ? path.resolve(fileSetting)
      : path.join(root, fileSetting)
    : undefined;
  const int = (key: keyof typeof INTEGER_SETTINGS): number => clampInteger(read(c, key), INTEGER_SETTINGS[key]);
  const model = read(c, 'model');
  return {
    model: modelFile ? fileModelId(modelFile) : typeof model === 'string' && model ? model : 'tinystories-656k',
    modelFile,
    maxTokens: int('maxTokens'),
    topK: int('hover.topK'),
    colourMap: oneOf(read(c, 'colourMap'), ENUMS.colourMap),
    score: oneOf(read(c, 'scoreFunction'), ['scaled-dot', ...ENUMS.scoreFunction]),
    normaliser: oneOf(read(c, 'normaliser'), ENUMS.normaliser),
    decorations: read(c, 'decorations.enabled') !== false,
    backend: oneOf(read(c, 'backend'), ENUMS.backend),
    threads: int('threads'),
    memoryBudgetMB: int('memoryBudgetMB'),
    runTimeoutSeconds: int('runTimeoutSeconds'),
    restoreCacheMB: int('restoreCacheMB'),
    generate: {
      tokens: int('generate.tokens'),
      mode: oneOf(read(c, 'generate.decoding'), ['greedy', 'sampling'] as const),
      sampling: {
        temperature: positiveNumber(read(c, 'generate.temperature'), 100, DEFAULT_GENERATE.sampling.temperature),
        topK: int('generate.topK'),
        topP: positiveNumber(read(c, 'generate.topP'), 1, DEFAULT_GENERATE.sampling.topP),
        seed: int('generate.seed'),
      },
    },
  };
}

/** attentionLens.modelFolders: the folders searched for models besides the Hugging Face cache (strings only). */
export function readModelFolders(): string[] {
  const folders = read(vscode.workspace.getConfiguration('attentionLens'), 'modelFolders');
  return Array.isArray(folders) ? folders.filter((f): f is string => typeof f === 'string' && f.trim() !== '') : [];
}

export function panelSettings(): PanelSettings {
  const c = readConfig();
  return { colourMap: c.colourMap, topK: c.topK, score: c.score, normaliser: c.normaliser, generate: c.generate };
}
