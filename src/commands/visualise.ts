// "Visualise attention": run the configured model on the selection (or the whole document).
import * as vscode from 'vscode';
import { readConfig } from '../config';
import type { Session } from '../session';
import type { EngineClient } from '../engine/client';
import { EngineError } from '../engine/client';
import type { PanelManager } from '../panel/panel';

export interface VisualiseDeps {
  readonly session: Session;
  readonly engine: EngineClient;
  readonly panels: PanelManager;
  readonly log: vscode.LogOutputChannel;
}

/** Hard limit on what is sent to the worker at all; models truncate further to their own maximum. */
export const MAX_SELECTION_CHARS = 100_000;

export async function visualiseSelection(deps: VisualiseDeps, modelId?: string): Promise<boolean> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Attention Lens: open a text editor and select some text first.');
    return false;
  }
  const doc = editor.document;
  const range = editor.selection.isEmpty ? new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)) : editor.selection;
  let text = doc.getText(range);
  const offset = doc.offsetAt(range.start);
  if (text.trim().length === 0) {
    void vscode.window.showWarningMessage('Attention Lens: the selection is empty. Select a sentence or two and try again.');
    return false;
  }
  if (text.length > MAX_SELECTION_CHARS) {
    void vscode.window.showWarningMessage(`Attention Lens: the selection has ${text.length.toLocaleString()} characters; only the first ${MAX_SELECTION_CHARS.toLocaleString()} are used.`);
    text = text.slice(0, MAX_SELECTION_CHARS);
  }
  const cfg = readConfig();
  const model = modelId ?? cfg.model;
  const started = Date.now();
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Attention Lens: running ${model}`, cancellable: true },
    async (progress, token) => {
      const handle = deps.engine.run({ modelId: model, text, maxTokens: cfg.maxTokens, score: cfg.score, normaliser: cfg.normaliser, topK: cfg.topK }, (fraction, message) =>
        progress.report({ message: `${message} (${Math.round(fraction * 100)}%)` }),
      );
      const sub = token.onCancellationRequested(() => {
        deps.log.info(`run cancelled by the user after ${Date.now() - started} ms`);
        handle.cancel();
      });
      try {
        const trace = await handle.promise;
        deps.log.info(`ran ${trace.model.id} on ${trace.tokens.length} tokens (${text.length} chars) with the ${trace.backend} backend in ${trace.elapsedMs.toFixed(0)} ms (round trip ${Date.now() - started} ms)`);
        for (const w of trace.warnings) {
          deps.log.warn(w);
          void vscode.window.showWarningMessage(`Attention Lens: ${w}`);
        }
        deps.session.set(trace, { uri: doc.uri.toString(), version: doc.version, offset });
        deps.panels.show();
        return true;
      } catch (err) {
        if (err instanceof EngineError && err.code === 'cancelled') {
          void vscode.window.showInformationMessage('Attention Lens: run cancelled.');
          return false;
        }
        const message = err instanceof Error ? err.message : String(err);
        deps.log.error(`run of ${model} failed: ${message}`);
        void vscode.window.showErrorMessage(`Attention Lens: ${message}`);
        return false;
      } finally {
        sub.dispose();
      }
    },
  );
}
