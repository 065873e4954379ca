// Problems in *.attention.json files, at the right place, as the user types. Checks are debounced
// per document (a burst of keystrokes is checked once), parseAttentionConfig refuses a config
// over its size cap (MAX_BYTES['attention-json']) or nesting bound with one problem before parsing,
// and a long text is parsed off the host's thread (offThread.ts), so a huge file costs one length
// check per pause on the host, not a parse per keystroke. A result for a version of the document
// that has since changed (or closed) is dropped: the newer check will report.
import * as vscode from 'vscode';
import type { ConfigChecker } from './offThread';

export const isAttentionConfig = (doc: vscode.TextDocument): boolean => doc.uri.path.endsWith('.attention.json');

/** Quiet time after the last change before a document is checked again (ms). */
export const DIAGNOSTICS_DEBOUNCE_MS = 300;

export function registerConfigDiagnostics(
  checker: ConfigChecker,
  debounceMs = DIAGNOSTICS_DEBOUNCE_MS,
): vscode.Disposable {
  const collection = vscode.languages.createDiagnosticCollection('attentionLens');
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const check = async (doc: vscode.TextDocument): Promise<void> => {
    if (!isAttentionConfig(doc) || doc.isClosed) return;
    const version = doc.version;
    const { problems, moreProblems } = await checker.parse(doc.getText());
    if (doc.isClosed || doc.version !== version) return;
    const last = problems.at(-1);
    const listed =
      moreProblems && last
        ? [...problems, { ...last, message: `… and ${moreProblems} more problems like these (not listed).` }]
        : problems;
    collection.set(
      doc.uri,
      listed.map((p) => {
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
        void check(doc);
      }, debounceMs),
    );
  };
  vscode.workspace.textDocuments.forEach((doc) => void check(doc));
  return vscode.Disposable.from(
    collection,
    vscode.workspace.onDidOpenTextDocument((doc) => void check(doc)),
    vscode.workspace.onDidChangeTextDocument((e) => later(e.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      clearTimeout(timers.get(doc.uri.toString()));
      timers.delete(doc.uri.toString());
      collection.delete(doc.uri);
    }),
    { dispose: () => timers.forEach((t) => clearTimeout(t)) },
  );
}
