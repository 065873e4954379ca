import * as vscode from 'vscode';
import type { Session } from '../session';
import { markdownCode, markdownText } from '../../shared/escape';

/** Opens a markdown summary of the current run's model: sizes, heads, licence, stages. */
export async function showModelInfo(session: Session): Promise<void> {
  const trace = session.trace;
  if (!trace) {
    void vscode.window.showInformationMessage('Attention Lens: run "Visualise attention" first.');
    return;
  }
  const m = trace.model;
  const lines = [
    `# ${markdownText(m.name)}`,
    '',
    markdownText(m.description),
    '',
    '| | |',
    '|---|---|',
    `| id | ${markdownCode(m.id)} |`,
    `| family | ${markdownText(m.family)} |`,
    `| layers | ${m.layers} |`,
    `| heads | ${m.heads}${m.kvHeads && m.kvHeads !== m.heads ? ` query heads sharing ${m.kvHeads} key/value heads` : ''} |`,
    `| d_model | ${m.dModel} |`,
    ...(m.parameters ? [`| parameters | ${m.parameters.toLocaleString()} |`] : []),
    ...(m.licence ? [`| licence | ${markdownText(m.licence)} |`] : []),
    `| backend | ${trace.backend} |`,
    '',
    `## Stages of the last run (${trace.tokens.length} tokens, ${trace.elapsedMs.toFixed(0)} ms)`,
    '',
    ...trace.stages.map((s, i) => `${i + 1}. **${markdownText(s.title)}** — ${markdownCode(s.formula)}`),
  ];
  const doc = await vscode.workspace.openTextDocument({ content: lines.join('\n'), language: 'markdown' });
  await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Active });
}
