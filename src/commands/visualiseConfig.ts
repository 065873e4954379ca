// Visualise an *.attention.json file (explorer, editor title, or the palette on an open config);
// re-runs when a config that is being shown is saved.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { readConfig } from '../config';
import { EngineError } from '../engine/client';
import { parseAttentionConfig } from '../model/configFile';
import { isAttentionConfig } from '../configs/diagnostics';
import type { VisualiseDeps } from './visualise';

let shown: string | undefined;

export async function visualiseConfig(deps: VisualiseDeps, uri?: vscode.Uri): Promise<boolean> {
  const target = uri ?? vscode.window.activeTextEditor?.document.uri;
  if (!target || !target.path.endsWith('.attention.json')) {
    void vscode.window.showInformationMessage('Attention Lens: open or right-click an *.attention.json file.');
    return false;
  }
  const doc = await vscode.workspace.openTextDocument(target);
  const text = doc.getText();
  const parsed = parseAttentionConfig(text);
  const errors = parsed.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    void vscode.window.showErrorMessage(`Attention Lens: ${path.basename(target.fsPath)} has ${errors.length} problem${errors.length === 1 ? '' : 's'} (see the Problems panel): ${errors[0]!.message}`);
    return false;
  }
  // Model weights from an untrusted workspace are only read after the user says so.
  if (parsed.config?.kind === 'model' && parsed.config.path && !vscode.workspace.isTrusted) {
    const ok = await vscode.window.showWarningMessage(`This workspace is not trusted. Load the model files in "${parsed.config.path}"? No code is run from them.`, { modal: true }, 'Load');
    if (ok !== 'Load') return false;
  }
  const cfg = readConfig();
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Attention Lens: running ${path.basename(target.fsPath)}`, cancellable: true }, async (progress, token) => {
    const handle = deps.engine.run({ modelId: 'config', text: '', config: { text, baseDir: path.dirname(target.fsPath) }, maxTokens: cfg.maxTokens, topK: cfg.topK }, (f, m) => progress.report({ message: `${m} (${Math.round(f * 100)}%)` }));
    const sub = token.onCancellationRequested(() => handle.cancel());
    try {
      const trace = await handle.promise;
      deps.log.info(`ran ${target.fsPath} (${trace.model.name}) in ${trace.elapsedMs.toFixed(0)} ms`);
      deps.session.set(trace, undefined, deps.session.trace?.model.id === trace.model.id ? deps.session.cursor : undefined);
      shown = target.toString();
      deps.panels.show();
      return true;
    } catch (err) {
      if (err instanceof EngineError && err.code === 'cancelled') return false;
      const message = err instanceof Error ? err.message : String(err);
      deps.log.error(`running ${target.fsPath} failed: ${message}`);
      void vscode.window.showErrorMessage(`Attention Lens: ${message}`);
      return false;
    } finally {
      sub.dispose();
    }
  });
}

/** Saving the config that is on screen runs it again, so a learner sees one changed number take effect. */
export function rerunOnSave(deps: VisualiseDeps): vscode.Disposable {
  return vscode.workspace.onDidSaveTextDocument((doc) => {
    if (isAttentionConfig(doc) && doc.uri.toString() === shown && deps.panels.isOpen) void visualiseConfig(deps, doc.uri);
  });
}
