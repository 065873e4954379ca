// Writes an export the webview produced, only where the user chose in the save dialog.
import * as vscode from 'vscode';
import type { ExportFormat, Request, ResponseMap } from '../../shared/protocol';

const FILTERS: Record<ExportFormat, Record<string, string[]>> = {
  png: { 'PNG image': ['png'] },
  svg: { 'SVG image': ['svg'] },
  csv: { 'CSV table': ['csv'] },
  json: { JSON: ['json'] },
  html: { 'Standalone HTML': ['html'] },
};

export async function saveExport(
  req: Request & { kind: 'save' },
  log: vscode.LogOutputChannel,
): Promise<ResponseMap['save']> {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const target = await vscode.window.showSaveDialog({
    defaultUri: base ? vscode.Uri.joinPath(base, req.suggestedName) : undefined,
    filters: FILTERS[req.format],
    title: `Export attention as ${req.format.toUpperCase()}`,
  });
  if (!target) return {};
  const bytes = typeof req.content === 'string' ? new TextEncoder().encode(req.content) : req.content;
  await vscode.workspace.fs.writeFile(target, bytes);
  log.info(`exported ${req.format} to ${target.fsPath} (${bytes.byteLength} bytes)`);
  return { path: target.fsPath };
}
