// Download a model from the Hugging Face Hub into the standard cache (where Python's transformers
// finds it too): repo id and revision, the total size asked about first, progress with cancel, then
// an offer to visualise it. Only in trusted workspaces (package.json hides it elsewhere too).
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { HubOptions } from '../model/open/hub';

// Loaded on first use: activation stays free of the model code.
const hubModule = (): Promise<typeof import('../model/open/hub')> => import('../model/open/hub');
const cacheModule = (): Promise<typeof import('../model/open/hfCache')> => import('../model/open/hfCache');

export const DOWNLOAD_COMMAND = 'attentionLens.downloadModel';

function hubOptions(signal?: AbortSignal): HubOptions {
  // VS Code's proxy setting wins over the environment's, as for the rest of the editor.
  const proxy = vscode.workspace.getConfiguration('http').get<string>('proxy') || undefined;
  return { proxy, signal };
}

/** Asks for "org/name" (and "@revision"), plans, asks, downloads; returns the snapshot folder. */
export async function downloadModel(arg?: unknown): Promise<string | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Downloading models is available in trusted workspaces only.');
    return undefined;
  }
  const { downloadPlan, HubError, parseRepoArg, planDownload } = await hubModule();
  const { formatBytes, hfCacheDir } = await cacheModule();
  const spec =
    typeof arg === 'string'
      ? arg
      : await vscode.window.showInputBox({
          title: 'Attention Lens: download a model from the Hugging Face Hub',
          prompt:
            'A repo id, optionally @revision (a branch, tag or commit). Gated models need HF_TOKEN or `huggingface-cli login`.',
          placeHolder: 'openai-community/gpt2  or  Qwen/Qwen2.5-0.5B@main',
          validateInput: (v) => {
            try {
              parseRepoArg(v.trim());
              return undefined;
            } catch (err) {
              return (err as Error).message;
            }
          },
        });
  if (!spec) return undefined;
  const { repoId, revision } = parseRepoArg(spec.trim());
  try {
    const plan = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Asking the Hub about ${repoId}…`, cancellable: true },
      (_p, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        return planDownload(repoId, revision, hubOptions(ac.signal));
      },
    );
    const names = plan.files.map((f) => f.name).join(', ');
    const go = plan.bytesToFetch === 0 ? 'Use it' : `Download ${formatBytes(plan.bytesToFetch)}`;
    const answer = await vscode.window.showInformationMessage(
      `${repoId}@${revision}: ${plan.files.length} files, ${formatBytes(plan.totalBytes)} in all, ${formatBytes(plan.bytesToFetch)} to fetch into ${hfCacheDir()}.`,
      { modal: true, detail: names },
      go,
    );
    if (answer !== go) return undefined;
    const snapshot = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Downloading ${repoId}`, cancellable: true },
      (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        let shown = 0;
        return downloadPlan(plan, {
          ...hubOptions(ac.signal),
          onProgress: (p) => {
            const pct = (100 * p.bytesDone) / Math.max(1, p.totalBytes);
            progress.report({
              increment: pct - shown,
              message: `${p.file} (${formatBytes(p.bytesDone)} of ${formatBytes(p.totalBytes)})`,
            });
            shown = pct;
          },
        });
      },
    );
    const config = path.join(snapshot, 'config.json');
    const visualise = 'Visualise attention';
    const after = await vscode.window.showInformationMessage(`${repoId} is in the Hugging Face cache.`, visualise);
    if (after === visualise)
      await vscode.commands.executeCommand('attentionLens.visualiseModelFile', vscode.Uri.file(config));
    return snapshot;
  } catch (err) {
    const message =
      err instanceof HubError && err.kind === 'cancelled'
        ? `${err.message} Run it again to resume.`
        : (err as Error).message;
    void vscode.window.showErrorMessage(message);
    return undefined;
  }
}

export function registerDownloadCommand(): vscode.Disposable {
  return vscode.commands.registerCommand(DOWNLOAD_COMMAND, downloadModel);
}
