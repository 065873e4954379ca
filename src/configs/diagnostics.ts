// Problems in *.attention.json files, at the right place, as the user types.
import * as vscode from 'vscode';
import { parseAttentionConfig } from '../model/formats/attentionConfig';

export const isAttentionConfig = (doc: vscode.TextDocument): boolean => doc.uri.path.endsWith('.attention.json');

export function registerConfigDiagnostics(): vscode.Disposable {
  const collection = vscode.languages.createDiagnosticCollection('attentionLens');
  const check = (doc: vscode.TextDocument): void => {
    if (!isAttentionConfig(doc)) return;
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
  vscode.workspace.textDocuments.forEach(check);
  return vscode.Disposable.from(
    collection,
    vscode.workspace.onDidOpenTextDocument(check),
    vscode.workspace.onDidChangeTextDocument((e) => check(e.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => collection.delete(doc.uri)),
  );
}
