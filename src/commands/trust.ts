// Model files in an untrusted workspace are read only after the user says so (no code runs from
// them, but their contents are the workspace author's).
import * as vscode from 'vscode';
import { notificationText } from '../../shared/escape';

export async function confirmUntrustedLoad(what: string): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const ok = await vscode.window.showWarningMessage(
    notificationText(`This workspace is not trusted. Load the model files in "${what}"? No code is run from them.`),
    { modal: true },
    'Load',
  );
  return ok === 'Load';
}
