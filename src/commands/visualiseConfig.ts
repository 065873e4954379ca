// Visualise an *.attention.json file (explorer, editor title, or the palette on an open config);
// re-runs when a config that is being shown is saved.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { readConfig } from '../config';
import type { ConfigChecker } from '../configs/offThread';
import { isAttentionConfig } from '../configs/diagnostics';
import { runAndShow, type VisualiseDeps } from './visualise';
import { confirmUntrustedLoad } from './trust';
import { notificationText } from '../../shared/escape';

let shown: string | undefined;

/** The run's dependencies and the off-thread config parser (the host never parses a long config itself). */
export interface ConfigDeps extends VisualiseDeps {
  readonly configs: ConfigChecker;
}

export async function visualiseConfig(deps: ConfigDeps, uri?: vscode.Uri): Promise<boolean> {
  const target = uri ?? vscode.window.activeTextEditor?.document.uri;
  if (!target || !target.path.endsWith('.attention.json')) {
    void vscode.window.showInformationMessage('Attention Lens: open or right-click an *.attention.json file.');
    return false;
  }
  const doc = await vscode.workspace.openTextDocument(target);
  const text = doc.getText();
  const parsed = await deps.configs.parse(text);
  const errors = parsed.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    void vscode.window.showErrorMessage(
      notificationText(
        `Attention Lens: ${path.basename(target.fsPath)} has ${errors.length} problem${errors.length === 1 ? '' : 's'} (see the Problems panel): ${errors[0]!.message}`,
      ),
    );
    return false;
  }
  if (parsed.config?.kind === 'model' && parsed.config.path && !(await confirmUntrustedLoad(parsed.config.path)))
    return false;
  // A config that reads a file asks first too, as model files do.
  const input = parsed.config?.kind === 'model' ? parsed.config.input : undefined;
  if (input && 'file' in input && !(await confirmUntrustedLoad(input.file, 'the input file'))) return false;
  const cfg = readConfig();
  const request = {
    modelId: 'config',
    text: '',
    config: { text, baseDir: path.dirname(target.fsPath) },
    maxTokens: cfg.maxTokens,
    topK: cfg.topK,
    memoryBudgetMB: cfg.memoryBudgetMB,
  };
  const trace = await runAndShow(deps, `running ${path.basename(target.fsPath)}`, request, undefined, true);
  if (trace) shown = target.toString();
  return trace !== undefined;
}

/** Saving the config that is on screen runs it again, so a learner sees one changed number take effect. */
export function rerunOnSave(deps: ConfigDeps): vscode.Disposable {
  return vscode.workspace.onDidSaveTextDocument((doc) => {
    if (isAttentionConfig(doc) && doc.uri.toString() === shown && deps.panels.isOpen)
      void visualiseConfig(deps, doc.uri);
  });
}
