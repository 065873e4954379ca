import * as vscode from 'vscode';
import * as path from 'node:path';
import { fileModelId } from '../shared/catalog';
import type { Normaliser, ScoreFunction } from '../shared/trace';
import type { ColourMap, PanelSettings } from '../shared/protocol';

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
}

export function readConfig(): LensConfig {
  const c = vscode.workspace.getConfiguration('attentionLens');
  const fileSetting = c.get<string>('modelFile', '').trim();
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const modelFile = fileSetting
    ? path.isAbsolute(fileSetting) || !root
      ? path.resolve(fileSetting)
      : path.join(root, fileSetting)
    : undefined;
  return {
    model: modelFile ? fileModelId(modelFile) : c.get<string>('model', 'tinystories-656k'),
    modelFile,
    maxTokens: c.get<number>('maxTokens', 256),
    topK: c.get<number>('hover.topK', 5),
    colourMap: c.get<ColourMap>('colourMap', 'viridis'),
    score: c.get<ScoreFunction>('scoreFunction', 'scaled-dot'),
    normaliser: c.get<Normaliser>('normaliser', 'softmax'),
    decorations: c.get<boolean>('decorations.enabled', true),
    backend: c.get<'wasm' | 'cpu'>('backend', 'wasm'),
    threads: c.get<number>('threads', 0),
  };
}

export function panelSettings(): PanelSettings {
  const c = readConfig();
  return { colourMap: c.colourMap, topK: c.topK, score: c.score, normaliser: c.normaliser };
}
