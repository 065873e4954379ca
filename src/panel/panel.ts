// The attention panel's host side: one panel, reused; typed messages; restorable after reload.
import * as vscode from 'vscode';
import { panelHtml } from './html';
import type { Session } from '../session';
import type { EngineClient } from '../engine/client';
import { findTensor, type Trace } from '../../shared/trace';
import { assertNever, type Cursor, type HostMessage, type PanelSettings, type PersistedState, type Request, type ResponseMap, type WebviewMessage } from '../../shared/protocol';
import { saveExport } from './export';
import { traceFromJson } from '../../shared/codec';
import { standaloneHtml } from './standalone';

export const PANEL_VIEW_TYPE = 'attentionLens.panel';

export class PanelManager implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly activeChanged = new vscode.EventEmitter<boolean>();
  readonly onDidChangeActive = this.activeChanged.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly session: Session,
    private readonly engine: EngineClient,
    private readonly log: vscode.LogOutputChannel,
    private readonly settings: () => PanelSettings,
  ) {
    this.disposables.push(
      session.onDidChange((what) => {
        if (!this.panel || !this.ready) return;
        if (what === 'trace') this.sendTrace();
        else this.post({ type: 'cursor', cursor: session.cursor });
      }),
    );
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** Opens the panel beside the editor, or reveals the open one, and shows the session's trace. */
  show(): void {
    if (this.panel) {
      this.panel.reveal(this.panel.viewColumn ?? vscode.ViewColumn.Beside, true);
      if (this.ready) this.sendTrace();
      return;
    }
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, 'Attention Lens', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, this.options());
    this.attach(panel);
  }

  serializer(): vscode.WebviewPanelSerializer<PersistedState> {
    return {
      deserializeWebviewPanel: async (panel, state) => {
        panel.webview.options = this.options();
        if (state?.trace && !this.session.trace) {
          try {
            this.session.set(traceFromJson(state.trace), undefined, state.cursor);
          } catch (err) {
            this.log.warn(`could not restore the panel's last run: ${(err as Error).message}`);
          }
        }
        this.attach(panel);
      },
    };
  }

  postSettings(): void {
    if (this.ready) this.post({ type: 'settings', settings: this.settings() });
  }

  requestExport(format: HostMessage & { type: 'export' }): void {
    if (this.ready) this.post(format);
  }

  busy(message: string): void {
    if (this.ready) this.post({ type: 'busy', message });
  }

  error(message: string): void {
    if (this.ready) this.post({ type: 'error', message });
  }

  private options(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')],
    };
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.ready = false;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icon.png');
    panel.webview.html = panelHtml(panel.webview, this.extensionUri);
    const subs: vscode.Disposable[] = [
      panel.webview.onDidReceiveMessage((m: WebviewMessage) => void this.onMessage(m)),
      panel.onDidChangeViewState((e) => this.activeChanged.fire(e.webviewPanel.active)),
      panel.onDidDispose(() => {
        subs.forEach((d) => d.dispose());
        if (this.panel === panel) {
          this.panel = undefined;
          this.ready = false;
          this.activeChanged.fire(false);
        }
      }),
    ];
    this.activeChanged.fire(true);
  }

  private sendTrace(): void {
    const trace = this.session.trace;
    if (!trace) return;
    this.post({ type: 'trace', trace, cursor: this.session.cursor, settings: this.settings() });
  }

  private post(msg: HostMessage): void {
    void this.panel?.webview.postMessage(msg);
  }

  private async onMessage(msg: WebviewMessage): Promise<void> {
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        this.sendTrace();
        return;
      case 'cursor':
        this.session.moveCursor(msg.cursor);
        return;
      case 'log':
        if (msg.level === 'error') this.log.error(`[webview] ${msg.message}`);
        else this.log.info(`[webview] ${msg.message}`);
        return;
      case 'request':
        try {
          const result = await this.answer(msg.request);
          this.post({ type: 'response', id: msg.id, ok: true, result });
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          this.log.error(`panel request ${msg.request.kind} failed: ${message}`);
          this.post({ type: 'response', id: msg.id, ok: false, error: message });
        }
        return;
      default:
        assertNever(msg);
    }
  }

  private async answer(req: Request): Promise<ResponseMap[keyof ResponseMap]> {
    switch (req.kind) {
      case 'whatIf':
        return this.whatIf(this.session.trace, req);
      case 'save': {
        if (req.format !== 'html') return saveExport(req, this.log);
        const trace = this.session.trace;
        if (!trace) throw new Error('There is no run to export.');
        const read = async (...p: string[]): Promise<string> => new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(this.extensionUri, ...p)));
        const content = standaloneHtml(trace, this.session.cursor, await read('dist', 'webview.js'), await read('media', 'panel.css'));
        return saveExport({ ...req, content }, this.log);
      }
      default:
        return assertNever(req);
    }
  }

  private whatIf(trace: Trace | undefined, req: Request & { kind: 'whatIf' }): Promise<ResponseMap['whatIf']> {
    const stage = trace?.stages.find((s) => s.id === req.stageId);
    if (!trace || !stage || !stage.attention) throw new Error(`No attention stage "${req.stageId}" in the current run.`);
    const Q = findTensor(stage, 'Q');
    const K = findTensor(stage, 'K');
    const V = findTensor(stage, 'V');
    if (!Q || !K || !V) throw new Error(`Stage "${stage.title}" has no Q, K and V to recompute from.`);
    const params: Record<string, NonNullable<typeof Q>> = {};
    for (const name of ['W', 'W1', 'W2', 'v']) {
      const t = findTensor(stage, name);
      if (t) params[name] = t;
    }
    return this.engine.whatIf({ Q, K, V, params, kvHeadOf: stage.attention.kvHeadOf, causal: stage.attention.causal, score: req.score, normaliser: req.normaliser });
  }

  /** Moves the cursor from a command (step commands, hover links). */
  setCursor(cursor: Cursor): void {
    this.session.moveCursor(cursor);
  }

  dispose(): void {
    this.panel?.dispose();
    this.disposables.forEach((d) => d.dispose());
    this.activeChanged.dispose();
  }
}
