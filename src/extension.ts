// Wiring only: create the services, register commands, providers and the panel serializer.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { EngineClient } from './engine/client';
import { Session } from './session';
import { PanelManager, PANEL_VIEW_TYPE } from './panel/panel';
import { rerunLast, restoreRun, visualiseSelection } from './commands/visualise';
import { RestoreCache } from './panel/restoreCache';
import { exportRunSafetensors } from './commands/exportTrace';
import { registerStepCommands } from './commands/steps';
import { registerChooseCommands } from './commands/choose';
import { showModelInfo } from './commands/modelInfo';
import { rerunOnSave, visualiseConfig, type ConfigDeps } from './commands/visualiseConfig';
import { visualiseModelFile } from './commands/visualiseModelFile';
import { registerConfigDiagnostics } from './configs/diagnostics';
import { ConfigChecker } from './configs/offThread';
import { panelSettings, readConfig } from './config';
import { AttentionHoverProvider, SHOW_IN_PANEL } from './hover/provider';
import { AttentionDecorations } from './hover/decorations';
import { createStatusBar } from './statusBar';
import { stepsOf } from '../shared/navigation';
import { hasDecoderSteps } from '../shared/decoderSteps';
import type { Cursor } from '../shared/protocol';

export interface AttentionLensApi {
  readonly session: Session;
  readonly engine: EngineClient;
  readonly panels: PanelManager;
}

export function activate(context: vscode.ExtensionContext): AttentionLensApi {
  const log = vscode.window.createOutputChannel('Attention Lens', { log: true });
  const engine = new EngineClient(
    context.asAbsolutePath('dist/worker.js'),
    (level, message) => log[level](message),
    1500,
    () => {
      const c = readConfig();
      return { backend: c.backend, threads: c.threads, runTimeoutSeconds: c.runTimeoutSeconds };
    },
  );
  const session = new Session();
  const panels: PanelManager = new PanelManager(
    context.extensionUri,
    session,
    engine,
    log,
    panelSettings,
    (run, cursor) => restoreRun(deps, run, cursor),
  );
  const fill = engine.filled.bind(engine);
  let shown = session.trace;
  const decorations = new AttentionDecorations(session, () => readConfig().decorations && panels.isOpen, fill);
  const configs = new ConfigChecker(context.asAbsolutePath('dist/configWorker.js'));
  const storage = context.globalStorageUri;
  const restore =
    storage.scheme === 'file'
      ? {
          cache: new RestoreCache(path.join(storage.fsPath, 'restore'), {
            capBytes: () => readConfig().restoreCacheMB * 2 ** 20,
            entryBytes: 64 * 2 ** 20,
          }),
          stamps: [context.asAbsolutePath('dist/worker.js'), context.asAbsolutePath('models')],
        }
      : undefined;
  const deps: ConfigDeps = { session, engine, panels, log, configs, ...(restore ? { restore } : {}) };
  const setContext = (key: string, value: unknown): Thenable<unknown> =>
    vscode.commands.executeCommand('setContext', key, value);

  context.subscriptions.push(
    log,
    session,
    panels,
    decorations,
    { dispose: () => engine.dispose() },
    configs,
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, panels.serializer()),
    vscode.languages.registerHoverProvider(
      { scheme: '*' },
      new AttentionHoverProvider(session, () => readConfig().topK, fill),
    ),
    createStatusBar(session, () => panels.isOpen, panels.onDidChangeActive),
    vscode.commands.registerCommand('attentionLens.visualiseSelection', (arg?: unknown) => {
      // On an *.attention.json file, "Visualise attention" runs the config itself.
      const doc = vscode.window.activeTextEditor?.document;
      if (typeof arg !== 'string' && doc?.uri.path.endsWith('.attention.json')) return visualiseConfig(deps, doc.uri);
      return visualiseSelection(deps, typeof arg === 'string' ? arg : undefined);
    }),
    vscode.commands.registerCommand('attentionLens.visualiseConfig', (uri?: vscode.Uri) =>
      visualiseConfig(deps, uri instanceof vscode.Uri ? uri : undefined),
    ),
    // Tests and scripts may pass the text as a second argument; people get an input box.
    vscode.commands.registerCommand('attentionLens.visualiseModelFile', (uri?: vscode.Uri, text?: unknown) =>
      visualiseModelFile(
        deps,
        uri instanceof vscode.Uri ? uri : undefined,
        typeof text === 'string' ? text : undefined,
      ),
    ),
    registerConfigDiagnostics(configs),
    rerunOnSave(deps),
    ...registerStepCommands(session),
    ...registerChooseCommands((id) => rerunLast(deps, id)),
    vscode.commands.registerCommand('attentionLens.showModelInfo', () => showModelInfo(session, panels)),
    vscode.commands.registerCommand('attentionLens.exportTraceSafetensors', () =>
      exportRunSafetensors(session, engine, log),
    ),
    vscode.commands.registerCommand(SHOW_IN_PANEL, (target?: Partial<Cursor>) => {
      if (!session.trace) return;
      session.moveCursor({
        ...session.cursor,
        ...(target?.stage !== undefined ? { stage: target.stage } : {}),
        ...(target?.row !== undefined ? { row: target.row } : {}),
      });
      panels.show();
    }),
    vscode.commands.registerCommand('attentionLens.openSample', async (name?: unknown) => {
      const file = typeof name === 'string' && /^[\w.-]+$/.test(name) ? name : 'prose.txt';
      // The workspace's own copy if it has one; else the sample's text in an untitled editor, so
      // nothing under the extensions folder is opened (or edited) as if it were the user's file.
      const root = vscode.workspace.workspaceFolders?.[0]?.uri;
      const own = root && vscode.Uri.joinPath(root, 'samples', file);
      const exists =
        own &&
        (await vscode.workspace.fs.stat(own).then(
          () => true,
          () => false,
        ));
      const doc = exists
        ? await vscode.workspace.openTextDocument(own)
        : await vscode.workspace.openTextDocument({
            content: new TextDecoder().decode(
              await vscode.workspace.fs.readFile(vscode.Uri.joinPath(context.extensionUri, 'samples', file)),
            ),
            language: 'plaintext',
          });
      // Beside the walkthrough, not over it.
      const editor = await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside });
      // Select the first sentence, ready for "Visualise attention".
      const line = doc.lineAt(0).text;
      const end = /^.*?[.!?](?=\s|$)/.exec(line)?.[0].length ?? line.length;
      editor.selection = new vscode.Selection(0, 0, 0, end);
    }),
    vscode.commands.registerCommand('attentionLens.showGrid', () => {
      if (!session.trace)
        return void vscode.window.showInformationMessage('Attention Lens: run "Visualise attention" first.');
      session.moveCursor({ ...session.cursor, view: 'grid' });
      panels.show();
    }),
    vscode.commands.registerCommand('attentionLens.toggleDecorations', async () => {
      const cfg = vscode.workspace.getConfiguration('attentionLens');
      await cfg.update(
        'decorations.enabled',
        !cfg.get<boolean>('decorations.enabled', true),
        vscode.ConfigurationTarget.Global,
      );
    }),
    session.onDidChange(() => {
      // A replaced run's tensors are freed in the worker that holds them.
      if (shown && shown !== session.trace) engine.release(shown);
      shown = session.trace;
      void setContext('attentionLens.hasTrace', session.trace !== undefined);
      void setContext(
        'attentionLens.hasSteps',
        session.trace ? stepsOf(session.trace).length > 0 || hasDecoderSteps(session.trace) : false,
      );
    }),
    panels.onDidChangeActive(() => {
      void setContext('attentionLens.panelOpen', panels.isOpen);
      if (!panels.isOpen) decorations.clearAll();
      else decorations.refresh();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('attentionLens')) return;
      panels.postSettings();
      decorations.refresh();
      if (e.affectsConfiguration('attentionLens.backend') || e.affectsConfiguration('attentionLens.threads')) {
        log.info(
          `backend set to ${readConfig().backend}, threads ${readConfig().threads || 'auto'}; restarting the inference worker`,
        );
        engine.restartWorker();
      }
    }),
  );
  return { session, engine, panels };
}

export function deactivate(): void {}
