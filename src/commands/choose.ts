// QuickPicks for model, score function and normaliser; they write the user's settings, which
// apply at once (the next run, and the panel's what-if for the current one).
import * as vscode from 'vscode';
import * as path from 'node:path';
import { CATALOG as BUILTIN_MODELS } from '../../shared/catalog';
import type { CachedModel } from '../model/open/hfCache';
import type { Normaliser, ScoreFunction } from '../../shared/trace';
import { readConfig, readModelFolders } from '../config';
import { labelText, notificationText } from '../../shared/escape';
import { useModelFile } from './visualiseModelFile';
import { DOWNLOAD_COMMAND, registerDownloadCommand } from './download';

const SCORE_ITEMS: (vscode.QuickPickItem & { value: ScoreFunction })[] = [
  {
    value: 'dot',
    label: 'dot',
    description: 'q·k',
    detail: 'Luong dot product: similarity as the inner product of query and key.',
  },
  {
    value: 'scaled-dot',
    label: 'scaled dot',
    description: 'q·k / √d',
    detail: 'Transformer attention: the dot product divided by √d keeps softmax out of saturation as d grows.',
  },
  {
    value: 'general',
    label: 'general (bilinear)',
    description: 'qᵀ W k',
    detail: 'Luong general: a learned matrix W relates query and key spaces.',
  },
  {
    value: 'additive',
    label: 'additive (concat)',
    description: 'vᵀ tanh(W₁q + W₂k)',
    detail: 'Bahdanau: a one-hidden-layer network scores each query–key pair.',
  },
];

const NORMALISER_ITEMS: (vscode.QuickPickItem & { value: Normaliser })[] = [
  {
    value: 'softmax',
    label: 'softmax',
    description: 'exp(s) / Σ exp(s)',
    detail: 'Every key gets some weight; rows sum to 1.',
  },
  {
    value: 'sparsemax',
    label: 'sparsemax',
    description: 'Euclidean projection onto the simplex',
    detail: 'Low-scoring keys get exactly 0; rows sum to 1.',
  },
  {
    value: 'sigmoid',
    label: 'sigmoid',
    description: '1 / (1 + exp(−s))',
    detail: 'Each key is weighted independently; rows need not sum to 1.',
  },
  {
    value: 'hardmax',
    label: 'hardmax',
    description: 'one-hot at the argmax (ties split evenly)',
    detail: 'Hard attention: one key takes the whole row; gradient 0 almost everywhere.',
  },
  {
    value: 'sampled',
    label: 'sampled',
    description: 'one key drawn from softmax(s), seed 1',
    detail: 'Stochastic hard attention: a one-hot row per query; trained with REINFORCE, not backpropagation.',
  },
];

async function update(key: string, value: string): Promise<void> {
  await vscode.workspace.getConfiguration('attentionLens').update(key, value, vscode.ConfigurationTarget.Global);
}

type ModelItem = vscode.QuickPickItem & { id?: string; action?: 'open' | 'keep' | 'download'; cached?: CachedModel };

/** The Hugging Face cache's models and those in attentionLens.modelFolders, as QuickPick items. */
export async function cachedModelItems(current: string | undefined): Promise<ModelItem[]> {
  // Loaded on first use: activation stays free of the model code.
  const { findModels, formatBytes, formatCount, hfCacheDir } = await import('../model/open/hfCache');
  // Through readConfig's trust rule: an untrusted workspace cannot point the search at its own folders.
  const models = await findModels(hfCacheDir(), readModelFolders());
  return models.map((m) => {
    const config = path.join(m.dir, 'config.json');
    const rev = m.revision ? `@${m.refs.length ? m.refs.join(', ') : m.revision.slice(0, 7)}` : '';
    const facts = [m.family ?? 'unknown family'];
    if (m.parameters !== undefined) facts.push(`${formatCount(m.parameters)} parameters`);
    facts.push(formatBytes(m.bytesOnDisk));
    return {
      label: `${m.supported ? '$(database)' : '$(warning)'} ${labelText(`${m.repoId}${rev}`)}`,
      description: `${labelText(facts.join(' · '))}${current === config ? ' (current)' : ''}`,
      detail: labelText(m.supported ? m.dir : `Not supported: ${m.reason ?? 'unknown reason'}`),
      cached: m,
    };
  });
}

/**
 * Shows the list at once and adds the cached models when the cache scan finishes: a large or slow
 * cache must not keep the built-in models from appearing (the list is busy meanwhile).
 */
async function pickModel(
  head: ModelItem[],
  tail: ModelItem[],
  cached: Promise<ModelItem[]>,
): Promise<ModelItem | undefined> {
  const qp = vscode.window.createQuickPick<ModelItem>();
  qp.title = 'Attention Lens: choose a model';
  qp.matchOnDetail = true;
  qp.items = [...head, ...tail];
  qp.busy = true;
  let done = false;
  void cached.then(
    (found) => {
      if (done) return;
      qp.busy = false;
      if (found.length === 0) return;
      const active = qp.activeItems;
      qp.items = [
        ...head,
        { label: 'Hugging Face cache', kind: vscode.QuickPickItemKind.Separator },
        ...found,
        ...tail,
      ];
      qp.activeItems = active;
    },
    () => {
      if (!done) qp.busy = false;
    },
  );
  const pick = await new Promise<ModelItem | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0]));
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
  done = true;
  qp.dispose();
  return pick;
}

/** onModelChosen: called with a built-in model's id once it is the setting (the extension re-runs the last text). */
export function registerChooseCommands(onModelChosen?: (id: string) => Promise<unknown>): vscode.Disposable[] {
  return [
    registerDownloadCommand(),
    vscode.commands.registerCommand('attentionLens.chooseModel', async () => {
      const { modelFile } = readConfig();
      const current = modelFile ? undefined : vscode.workspace.getConfiguration('attentionLens').get<string>('model');
      const items: ModelItem[] = BUILTIN_MODELS.map((m) => ({
        label: m.label,
        description: m.id === current ? `${m.id} (current)` : m.id,
        detail: m.description,
        id: m.id,
      }));
      items.push({ label: 'Your models', kind: vscode.QuickPickItemKind.Separator });
      if (modelFile)
        items.push({
          label: `$(file) ${labelText(vscode.workspace.asRelativePath(modelFile))}`,
          description: '(current)',
          detail: 'From attentionLens.modelFile',
          action: 'keep',
        });
      const tail: ModelItem[] = [
        {
          label: '$(folder-opened) Open a model file…',
          detail: 'A Hugging Face config.json (beside model.safetensors) or a TensorFlow.js model.json',
          action: 'open',
        },
      ];
      if (vscode.workspace.isTrusted)
        tail.push({
          label: '$(cloud-download) Download a model from the Hugging Face Hub…',
          detail: "Into the Hugging Face cache, where Python's transformers finds it too",
          action: 'download',
        });
      const pick = await pickModel(items, tail, cachedModelItems(modelFile));
      if (!pick || pick.action === 'keep') return pick ? modelFile : undefined;
      if (pick.action === 'download') return vscode.commands.executeCommand<string | undefined>(DOWNLOAD_COMMAND);
      if (pick.cached) {
        if (!pick.cached.supported) {
          void vscode.window.showErrorMessage(
            notificationText(`${pick.cached.repoId} cannot be visualised: ${pick.cached.reason ?? ''}`),
          );
          return undefined;
        }
        const config = path.join(pick.cached.dir, 'config.json');
        await useModelFile(config);
        await vscode.commands.executeCommand('attentionLens.visualiseModelFile', vscode.Uri.file(config));
        return config;
      }
      if (pick.action === 'open') {
        const file = (
          await vscode.window.showOpenDialog({
            title: 'Attention Lens: open a model file',
            canSelectMany: false,
            filters: { 'Model files': ['json'] },
          })
        )?.[0];
        if (!file) return undefined;
        await useModelFile(file.fsPath);
        return file.fsPath;
      }
      await update('model', pick.id!);
      if (modelFile) await useModelFile(undefined);
      await onModelChosen?.(pick.id!);
      return pick.id;
    }),
    vscode.commands.registerCommand('attentionLens.chooseScoreFunction', async () => {
      const pick = await vscode.window.showQuickPick(SCORE_ITEMS, {
        title: 'Attention Lens: score function',
        matchOnDetail: true,
      });
      if (pick) await update('scoreFunction', pick.value);
      return pick?.value;
    }),
    vscode.commands.registerCommand('attentionLens.chooseNormaliser', async () => {
      const pick = await vscode.window.showQuickPick(NORMALISER_ITEMS, {
        title: 'Attention Lens: normaliser',
        matchOnDetail: true,
      });
      if (pick) await update('normaliser', pick.value);
      return pick?.value;
    }),
  ];
}
