// Status bar item while a run is shown: model, stage, layer/head. Click to choose a model.
import * as vscode from 'vscode';
import type { Session } from './session';
import { labelText } from '../shared/escape';

export function createStatusBar(
  session: Session,
  panelOpen: () => boolean,
  onPanelChange: vscode.Event<boolean>,
): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('attentionLens.status', vscode.StatusBarAlignment.Right, 100);
  item.name = 'Attention Lens';
  item.command = 'attentionLens.chooseModel';
  const update = (): void => {
    const trace = session.trace;
    if (!trace || !panelOpen()) {
      item.hide();
      return;
    }
    const c = session.cursor;
    const stage = trace.stages[c.stage];
    const head = c.head < 0 ? 'mean of heads' : `head ${c.head}`;
    const layer = stage?.layer !== undefined ? ` · layer ${stage.layer}` : '';
    const step = stage?.step !== undefined ? ` · step ${stage.step}` : '';
    item.text = `$(eye) ${labelText(`${trace.model.id} · ${stage?.title ?? ''}${layer}${step} · ${head}`)}`;
    item.tooltip = `Attention Lens: ${labelText(trace.model.name)}\nStage ${c.stage + 1} of ${trace.stages.length}. Click to choose a model.`;
    item.show();
  };
  const subs = [session.onDidChange(update), onPanelChange(update)];
  update();
  return { dispose: () => (subs.forEach((s) => s.dispose()), item.dispose()) };
}
