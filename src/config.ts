import * as vscode from 'vscode';
import type { Normaliser, ScoreFunction } from './model/trace';
import type { ColourMap, PanelSettings } from './protocol';

export interface LensConfig {
  readonly model: string;
  readonly maxTokens: number;
  readonly topK: number;
  readonly colourMap: ColourMap;
  readonly score: ScoreFunction;
  readonly normaliser: Normaliser;
  readonly decorations: boolean;
  readonly backend: 'wasm' | 'cpu';
}

export function readConfig(): LensConfig {
  const c = vscode.workspace.getConfiguration('attentionLens');
  return {
    model: c.get<string>('model', 'tinystories-656k'),
    maxTokens: c.get<number>('maxTokens', 256),
    topK: c.get<number>('hover.topK', 5),
    colourMap: c.get<ColourMap>('colourMap', 'viridis'),
    score: c.get<ScoreFunction>('scoreFunction', 'scaled-dot'),
    normaliser: c.get<Normaliser>('normaliser', 'softmax'),
    decorations: c.get<boolean>('decorations.enabled', true),
    backend: c.get<'wasm' | 'cpu'>('backend', 'wasm'),
  };
}

export function panelSettings(): PanelSettings {
  const c = readConfig();
  return { colourMap: c.colourMap, topK: c.topK, score: c.score, normaliser: c.normaliser };
}
