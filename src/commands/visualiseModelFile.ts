// Right-click a model's own file — a Hugging Face config.json or a TensorFlow.js model.json — and
// see its attention on a text you type (or the selection you had). Offers to keep it as the model
// for later selections.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { readConfig } from '../config';
import { fileModelId } from '../../shared/catalog';
import { runAndShow, MAX_SELECTION_CHARS, type VisualiseDeps } from './visualise';
import { confirmUntrustedLoad } from './trust';
import { notificationText } from '../../shared/escape';

const DEFAULT_TEXT = 'The cat sat on the mat because it was tired.';
let lastText: string | undefined;

export function isModelFile(uri: vscode.Uri): boolean {
  const name = path.basename(uri.path);
  return name === 'config.json' || name === 'model.json';
}

async function pickModelFile(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: 'Attention Lens: open a model (config.json beside model.safetensors, or a TensorFlow.js model.json)',
    canSelectMany: false,
    filters: { 'Model files': ['json'] },
  });
  return picked?.[0];
}

/** The text to run: what the user had selected elsewhere, else what they type (pre-filled). */
async function askText(modelName: string): Promise<string | undefined> {
  const editor = vscode.window.activeTextEditor;
  const selected =
    editor && !editor.selection.isEmpty && !isModelFile(editor.document.uri)
      ? editor.document.getText(editor.selection)
      : undefined;
  const text = await vscode.window.showInputBox({
    title: `Attention Lens: text for ${modelName}`,
    prompt: 'The model runs on this text; its attention opens in the panel.',
    value: selected ?? lastText ?? DEFAULT_TEXT,
    validateInput: (v) =>
      v.trim().length === 0
        ? 'Type a sentence or two.'
        : v.length > MAX_SELECTION_CHARS
          ? `At most ${MAX_SELECTION_CHARS.toLocaleString()} characters.`
          : undefined,
  });
  return text === undefined ? undefined : text;
}

export async function visualiseModelFile(deps: VisualiseDeps, uri?: vscode.Uri, text?: string): Promise<boolean> {
  const active = vscode.window.activeTextEditor?.document.uri;
  const target = uri ?? (active && isModelFile(active) ? active : await pickModelFile());
  if (!target) return false;
  const file = target.fsPath;
  const name = vscode.workspace.asRelativePath(path.dirname(file));
  if (!(await confirmUntrustedLoad(name))) return false;
  const input = text ?? (await askText(name));
  if (input === undefined) return false;
  lastText = input;
  const cfg = readConfig();
  const modelId = fileModelId(file);
  const trace = await runAndShow(deps, `loading and running ${vscode.workspace.asRelativePath(file)}`, {
    modelId,
    text: input,
    maxTokens: cfg.maxTokens,
    score: cfg.score,
    normaliser: cfg.normaliser,
    topK: cfg.topK,
    memoryBudgetMB: cfg.memoryBudgetMB,
  });
  if (!trace) return false;
  if (cfg.model !== modelId) {
    void vscode.window
      .showInformationMessage(
        notificationText(`Attention Lens: ${trace.model.name} loaded from ${name}.`),
        'Use for selections',
      )
      .then(async (choice) => {
        if (choice === 'Use for selections') await useModelFile(file);
      });
  }
  return true;
}

/** Makes a model file the one "Visualise attention" runs (workspace setting when a folder is open). */
export async function useModelFile(file: string | undefined): Promise<void> {
  const c = vscode.workspace.getConfiguration('attentionLens');
  const hasFolder = Boolean(vscode.workspace.workspaceFolders?.length);
  if (file) {
    await c.update(
      'modelFile',
      file,
      hasFolder ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global,
    );
    return;
  }
  // Back to the built-in model: clear the setting wherever it is set.
  await c.update('modelFile', undefined, vscode.ConfigurationTarget.Global);
  if (hasFolder) await c.update('modelFile', undefined, vscode.ConfigurationTarget.Workspace);
}
