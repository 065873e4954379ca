import * as vscode from 'vscode';
import type { Session } from '../session';
import type { PanelManager } from '../panel/panel';

/** "Show model info": the panel's model info for the current run (family, shape, files, licence), not a new editor. */
export function showModelInfo(session: Session, panels: Pick<PanelManager, 'showModelInfo'>): void {
  if (!session.trace) {
    void vscode.window.showInformationMessage('Attention Lens: run "Visualise attention" first.');
    return;
  }
  panels.showModelInfo();
}
