// Model files in an untrusted workspace are read only after the user says so (no code runs from
// them, but their contents are the workspace author's).
import * as vscode from 'vscode';
import { notificationText } from '../../shared/escape';

/** `reads`: what is read, for the question ("the model files in", "the input file"). */
export async function confirmUntrustedLoad(what: string, reads = 'the model files in'): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const ok = await vscode.window.showWarningMessage(
    notificationText(`This workspace is not trusted. Load ${reads} "${what}"? No code is run from them.`),
    { modal: true },
    'Load',
  );
  return ok === 'Load';
}
