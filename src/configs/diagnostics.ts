// Problems in *.attention.json files, at the right place, as the user types. Checks are debounced
// per document (a burst of keystrokes is checked once), and parseAttentionConfig refuses a config
// over its size cap (MAX_BYTES['attention-json']) or nesting bound with one problem before parsing,
// so a huge file costs one length check per pause, not a parse per keystroke.
import * as vscode from 'vscode';
import { parseAttentionConfig } from '../model/formats/attentionConfig';

export const isAttentionConfig = (doc: vscode.TextDocument): boolean => doc.uri.path.endsWith('.attention.json');

/** Quiet time after the last change before a document is checked again (ms). */
export const DIAGNOSTICS_DEBOUNCE_MS = 300;

export function registerConfigDiagnostics(): vscode.Disposable {
  const collection = vscode.languages.createDiagnosticCollection('attentionLens');
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const check = (doc: vscode.TextDocument): void => {
    if (!isAttentionConfig(doc) || doc.isClosed) return;
    const { problems } = parseAttentionConfig(doc.getText());
    collection.set(
      doc.uri,
      problems.map((p) => {
        const d = new vscode.Diagnostic(
          new vscode.Range(doc.positionAt(p.offset), doc.positionAt(p.offset + p.length)),
          p.message,
          p.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning,
        );
        d.source = 'Attention Lens';
        return d;
      }),
    );
  };
  const later = (doc: vscode.TextDocument): void => {
    if (!isAttentionConfig(doc)) return;
    const key = doc.uri.toString();
    clearTimeout(timers.get(key));
    timers.set(
      key,
      setTimeout(() => {
        timers.delete(key);
        check(doc);
      }, DIAGNOSTICS_DEBOUNCE_MS),
    );
  };
  vscode.workspace.textDocuments.forEach(check);
  return vscode.Disposable.from(
    collection,
    vscode.workspace.onDidOpenTextDocument(check),
    vscode.workspace.onDidChangeTextDocument((e) => later(e.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      clearTimeout(timers.get(doc.uri.toString()));
      timers.delete(doc.uri.toString());
      collection.delete(doc.uri);
    }),
    { dispose: () => timers.forEach((t) => clearTimeout(t)) },
  );
}
