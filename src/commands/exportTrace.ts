// "Export the run as safetensors…": every tensor of the run shown, streamed to a file the user
// chooses, with its JSON index beside it; progress and Cancel. Tensors a worker holds are fetched one at a time.
import * as vscode from 'vscode';
import type { Session } from '../session';
import type { EngineClient } from '../engine/client';
import { exportTraceSafetensors } from '../model/formats/safetensorsWriter';
import { AttentionInputError } from '../../shared/trace';
import { notificationText } from '../../shared/escape';

const size = (n: number): string => (n < 2 ** 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 2 ** 20).toFixed(1)} MB`);

export async function exportRunSafetensors(
  session: Session,
  engine: Pick<EngineClient, 'holds' | 'tensors'>,
  log: vscode.LogOutputChannel,
): Promise<string | undefined> {
  const trace = session.trace;
  if (!trace) {
    void vscode.window.showInformationMessage('Attention Lens: there is no run to export. Visualise some text first.');
    return undefined;
  }
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const name = `${trace.model.id.replace(/[^A-Za-z0-9._-]+/g, '-').slice(-60)}-trace.safetensors`;
  const target = await vscode.window.showSaveDialog({
    defaultUri: base ? vscode.Uri.joinPath(base, name) : undefined,
    filters: { safetensors: ['safetensors'] },
    title: 'Export the run as safetensors (with an .index.json beside it)',
  });
  if (!target) return undefined;
  if (target.scheme !== 'file') {
    void vscode.window.showErrorMessage('Attention Lens: a trace is exported to a file on this machine only.');
    return undefined;
  }
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Attention Lens: exporting the run', cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      let last = 0;
      try {
        // The save dialog has asked before replacing a file.
        const r = await exportTraceSafetensors(trace, target.fsPath, {
          overwrite: true,
          signal: abort.signal,
          ...(engine.holds(trace)
            ? {
                fetch: async (stage: string, tensor: string) =>
                  (await engine.tensors(trace, [{ stage, tensor }]))[0]!.data,
              }
            : {}),
          onProgress: (fraction, message) => {
            progress.report({ increment: (fraction - last) * 100, message });
            last = fraction;
          },
        });
        log.info(`exported ${r.tensors} tensors (${r.bytes} bytes) to ${r.path} and ${r.indexPath}`);
        void vscode.window.showInformationMessage(
          `Attention Lens: exported ${r.tensors} tensors (${size(r.bytes)}) to ${vscode.workspace.asRelativePath(r.path)}, with ${vscode.workspace.asRelativePath(r.indexPath)}.`,
        );
        return r.path;
      } catch (err) {
        if (err instanceof AttentionInputError && err.code === 'cancelled') {
          void vscode.window.showInformationMessage('Attention Lens: export cancelled; nothing was written.');
          return undefined;
        }
        const message = err instanceof Error ? err.message : String(err);
        log.error(`export failed: ${message}`);
        void vscode.window.showErrorMessage(`Attention Lens: the export failed: ${notificationText(message)}`);
        return undefined;
      } finally {
        sub.dispose();
      }
    },
  );
}
