// The attention panel's host side: one panel, reused; typed messages; restorable after reload.
// The trace is posted once per run (on the session's change); show() only opens or reveals.
import * as vscode from 'vscode';
import { panelHtml } from './html';
import type { Session } from '../session';
import type { EngineClient, PartialRun } from '../engine/client';
import { findTensor, type AttentionInfo, type TensorData, type Trace } from '../../shared/trace';
import {
  assertNever,
  DEFAULT_CURSOR,
  type Cursor,
  type RunRef,
  type HostMessage,
  type PanelSettings,
  type PersistedState,
  type Request,
  type ResponseMap,
  type WebviewMessage,
} from '../../shared/protocol';
import { Channel } from '../../shared/channel';
import { blockOf } from '../../shared/navigation';
import { saveExport } from './export';
import { packGrid, packTensors, packTrace, traceFromJson } from '../../shared/codec';
import { standaloneHtml } from './standalone';
import { EMBED_WHOLE_BYTES, stagesShown, traceBytes, traceIndex } from '../../shared/lazy';
import { continueGeneration } from './continue';

export const PANEL_VIEW_TYPE = 'attentionLens.panel';

/** Keys of streamed partial traces: apart from the session's (1, 2, …), so a fetch never names the wrong one. */
const PARTIAL_KEYS = 2 ** 30;

/** A streamed run as the panel shows it (PanelManager.beginStream). */
export interface PanelStream {
  /** The run's trace so far: the panel opens and shows it. */
  partial(p: PartialRun): void;
  /** The run finished: the cursor the user moved to on its partial trace (undefined: not moved); the next trace sent completes it. */
  finish(): Cursor | undefined;
  /** The run failed or was cancelled: what the panel shows of it stays labelled partial (or the last run comes back). */
  end(outcome: 'failed' | 'cancelled', message: string): void;
}

interface Streaming {
  readonly id: number;
  readonly key: number;
  trace?: Trace;
  layersDone: number;
  layers: number;
  /** Where the user moved on the partial trace. */
  cursor?: Cursor;
  /** Sent to the webview (it shows the partial trace, and its cursor moves are the partial's). */
  shown: boolean;
  ended?: 'failed' | 'cancelled';
}

/** A fetch slower than this is logged. */
const SLOW_FETCH_MS = 500;
export class PanelManager implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  /** "Show model info" asked before the webview was ready: sent once it is. */
  private modelInfoPending = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly activeChanged = new vscode.EventEmitter<boolean>();
  readonly onDidChangeActive = this.activeChanged.event;
  /** Answers the webview's requests (what-if, save, continue); it asks the webview nothing. */
  private readonly channel: Channel<never, never, Request, ResponseMap>;
  /** The panel's index of each trace (big tensors left here), made once per trace. */
  private readonly indexes = new WeakMap<Trace, Trace>();
  /** The streamed run the panel shows or will show, until its final trace replaces it. */
  private stream: Streaming | undefined;
  private streams = 0;
  /** The partial key the next trace sent completes. */
  private completes: number | undefined;

  /** A fetch for the webview, logged when it is slow (to tell a slow move from a slow panel). */
  private async timed<T>(what: string, fetch: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const result = await fetch();
    const ms = Date.now() - t0;
    if (ms >= SLOW_FETCH_MS) this.log.info(`the panel's fetch of ${what} took ${ms} ms`);
    return result;
  }

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly session: Session,
    private readonly engine: EngineClient,
    private readonly log: vscode.LogOutputChannel,
    private readonly settings: () => PanelSettings,
    /** Makes a reloaded panel's run again (commands/visualise.ts restoreRun). */
    private readonly rerun: (run: RunRef, cursor: Cursor | undefined) => Promise<boolean>,
  ) {
    this.channel = new Channel<never, never, Request, ResponseMap>({
      // VS Code's webview postMessage clones; the session keeps its arrays.
      post: (message) => this.post(message as HostMessage),
      handlers: {
        whatIf: (req) => this.whatIf(this.settled('What-if'), req),
        save: (req) => {
          this.settled('Export');
          return this.save(req);
        },
        // From the session's trace, or from the worker that holds its big tensors.
        tensors: (req) =>
          this.timed(`${req.want.length} tensor(s)`, async () =>
            packTensors(await this.engine.tensors(this.current(req.key), req.want)),
          ),
        thumbnails: (req) =>
          this.timed('the grid', async () =>
            packGrid(await this.engine.thumbnails(this.current(req.key), Math.max(8, Math.min(512, req.max)))),
          ),
        continue: (req, ctx) => {
          this.settled('Continue');
          return continueGeneration({ session: this.session, engine: this.engine, log: this.log }, req, ctx);
        },
      },
      onHandlerError: (kind, error) => this.log.error(`panel request ${kind} failed: ${error.message}`),
    });
    this.disposables.push(
      session.onDidChange(({ what, origin }) => {
        if (!this.panel || !this.ready) return;
        if (what === 'trace') this.sendTrace();
        // The webview already shows a move it made itself.
        else if (origin !== this) this.post({ type: 'cursor', cursor: session.cursor });
      }),
    );
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** Opens the panel beside the editor, or reveals the open one. A new panel asks for the trace when ready. */
  show(): void {
    if (this.panel) {
      this.panel.reveal(this.panel.viewColumn ?? vscode.ViewColumn.Beside, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      PANEL_VIEW_TYPE,
      'Attention Lens',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      this.options(),
    );
    this.attach(panel);
  }

  /** Opens (or reveals) the panel with its model info open. */
  showModelInfo(): void {
    this.show();
    if (this.ready) this.post({ type: 'modelInfo' });
    else this.modelInfoPending = true;
  }

  serializer(): vscode.WebviewPanelSerializer<PersistedState> {
    return {
      deserializeWebviewPanel: async (panel, state) => {
        panel.webview.options = this.options();
        this.attach(panel);
        if (this.session.trace) return;
        if (state?.run) {
          // Made again, not stored: the state holds the request and the cursor, never the tensors.
          this.log.info(`restoring the panel's run: ${state.run.title}`);
          void this.rerun(state.run, state.cursor);
        } else if (state?.trace) {
          // A panel saved by an older version, with its trace in the state.
          try {
            this.session.set(traceFromJson(state.trace), undefined, state.cursor);
          } catch (err) {
            this.log.warn(`could not restore the panel's last run: ${(err as Error).message}`);
          }
        }
      },
    };
  }

  /**
   * A streamed run starts: its partial traces open the panel and show as they arrive; the cursor
   * the user moves on them is kept for the final trace. A newer stream replaces an older one.
   */
  beginStream(): PanelStream {
    const id = ++this.streams;
    const s: Streaming = { id, key: PARTIAL_KEYS + id, layersDone: 0, layers: 0, shown: false };
    this.stream = s;
    const mine = (): boolean => this.stream === s;
    return {
      partial: (p) => {
        if (!mine() || s.ended) return;
        s.trace = p.trace;
        s.layersDone = p.layersDone;
        s.layers = p.layers;
        this.show();
        if (this.ready) this.sendPartial(s);
      },
      finish: () => {
        if (!mine()) return undefined;
        this.stream = undefined;
        if (s.shown) this.completes = s.key;
        return s.cursor;
      },
      end: (outcome, message) => {
        if (!mine()) return;
        s.ended = outcome;
        if (!s.shown) {
          this.stream = undefined;
          return;
        }
        if (this.session.trace) {
          // The last complete run comes back; the partial one is not left on screen as if it were whole.
          this.stream = undefined;
          this.sendTrace();
          this.post({ type: 'error', message: `${this.ended(s)} ${message}`.trim() });
        } else this.post({ type: 'partial-ended', key: s.key, outcome, message });
      },
    };
  }

  private ended(s: Streaming): string {
    return `The run ${s.ended === 'cancelled' ? 'was cancelled' : 'failed'} after ${s.layersDone} of ${s.layers} layers.`;
  }

  private sendPartial(s: Streaming): void {
    if (!s.trace) return;
    s.shown = true;
    this.post({
      type: 'trace-partial',
      trace: packTrace(s.trace),
      key: s.key,
      cursor: s.cursor ?? DEFAULT_CURSOR,
      settings: this.settings(),
      layersDone: s.layersDone,
      layers: s.layers,
    });
  }

  /** The session's trace for a request that needs a finished run (what-if, export, Continue). */
  private settled(what: string): Trace | undefined {
    if (this.stream?.shown)
      throw new Error(
        this.stream.ended
          ? `${what} needs a finished run. ${this.ended(this.stream)}`
          : `${what} waits for the run to finish: layer ${this.stream.layersDone} of ${this.stream.layers} is still running.`,
      );
    return this.session.trace;
  }

  postSettings(): void {
    if (this.ready) this.post({ type: 'settings', settings: this.settings() });
  }

  private options(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      localResourceRoots: [
        vscode.Uri.joinPath(this.extensionUri, 'dist'),
        vscode.Uri.joinPath(this.extensionUri, 'media'),
      ],
    };
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.ready = false;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icon.png');
    panel.webview.html = panelHtml(panel.webview, this.extensionUri);
    const subs: vscode.Disposable[] = [
      panel.webview.onDidReceiveMessage((m: WebviewMessage) => this.onMessage(m)),
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
    let index = this.indexes.get(trace);
    if (!index) this.indexes.set(trace, (index = packTrace(traceIndex(trace))));
    const run = this.session.run;
    const continues = this.completes;
    this.completes = undefined;
    this.post({
      type: 'trace',
      trace: index,
      key: this.session.key,
      cursor: this.session.cursor,
      settings: this.settings(),
      ...(run ? { run } : {}),
      ...(continues !== undefined ? { continues } : {}),
    });
  }

  /** The session's trace, or the streamed partial trace, if `key` still names it. */
  private current(key: number): Trace {
    const s = this.stream;
    if (s && key === s.key) {
      if (s.ended) throw new Error(`${this.ended(s)} Its tensors are gone.`);
      if (s.trace) return s.trace;
    }
    const trace = this.session.trace;
    if (!trace || key !== this.session.key)
      throw new Error('The run shown has been replaced by a newer one; its tensors are gone.');
    return trace;
  }

  /** Every message to the webview; one that cannot be delivered is reported with its cause, never dropped silently. */
  private post(msg: HostMessage): void {
    const panel = this.panel;
    if (!panel) return;
    const failed = (cause: string): void => {
      this.log.error(`could not send ${msg.type} to the panel: ${cause}`);
      if (msg.type === 'trace')
        void vscode.window.showErrorMessage(`Attention Lens: the run could not be shown in the panel: ${cause}`);
    };
    try {
      panel.webview.postMessage(msg).then(
        (ok) => {
          if (!ok && this.panel === panel) failed('the panel is not open any more');
        },
        (err: unknown) => failed(err instanceof Error ? err.message : String(err)),
      );
    } catch (err) {
      failed(err instanceof Error ? err.message : String(err));
    }
  }

  private onMessage(msg: WebviewMessage): void {
    if (this.channel.receive(msg)) return;
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        if (this.stream?.trace && !this.stream.ended) this.sendPartial(this.stream);
        else this.sendTrace();
        if (this.modelInfoPending) {
          this.modelInfoPending = false;
          this.post({ type: 'modelInfo' });
        }
        return;
      case 'cursor':
        // A move on a streamed partial trace belongs to the run still going, not to the session's last one.
        if (this.stream?.shown) this.stream.cursor = msg.cursor;
        else this.session.moveCursor(msg.cursor, this);
        return;
      case 'log':
        if (msg.level === 'error') this.log.error(`[webview] ${msg.message}`);
        else this.log.info(`[webview] ${msg.message}`);
        return;
      case 'request':
      case 'cancel':
        return; // the channel's (handled above)
      default:
        assertNever(msg);
    }
  }

  private async save(req: Request & { kind: 'save' }): Promise<ResponseMap['save']> {
    if (req.format !== 'html') return saveExport(req, this.log);
    const run = this.session.trace;
    if (!run) throw new Error('There is no run to export.');
    const cursor = this.session.cursor;
    // The page embeds the whole run when it fits, else the stages the cursor's view draws; whoever holds them.
    const stages = traceBytes(run) <= EMBED_WHOLE_BYTES ? run.stages : stagesShown(run, cursor);
    const trace = await this.engine.filled(
      run,
      stages.map((s) => s.id),
    );
    const read = async (...p: string[]): Promise<string> =>
      new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(this.extensionUri, ...p)));
    const content = standaloneHtml(trace, cursor, await read('dist', 'webview.js'), await read('media', 'panel.css'));
    return saveExport({ ...req, content }, this.log);
  }

  /** Recomputes the attention block of `req.stageId` (any of its stages) from its own Q, K and V. */
  private async whatIf(run: Trace | undefined, req: Request & { kind: 'whatIf' }): Promise<ResponseMap['whatIf']> {
    const at = run?.stages.findIndex((s) => s.id === req.stageId) ?? -1;
    if (!run || at < 0) throw new Error(`No attention stage "${req.stageId}" in the current run.`);
    // Q, K, V, the parameters, the mask and a score bias: the block's stages, in hand.
    const trace = await this.engine.filled(
      run,
      stagesShown(run, { ...this.session.cursor, stage: at }).map((s) => s.id),
    );
    const stage = trace.stages[at]!;
    const block = blockOf(trace, stage);
    if (!block) throw new Error(`No attention stage "${req.stageId}" in the current run.`);
    const { q: Q, k: K, v: V } = block;
    if (!Q || !K || !V || !block.stages.qkv)
      throw new Error(`Stage "${stage.title}" has no Q, K and V to recompute from.`);
    const params: Record<string, TensorData> = {};
    for (const name of ['W', 'W1', 'W2', 'v', 'W_p', 'v_p']) {
      const t = findTensor(block.stages.qkv, name);
      if (t) params[name] = t;
    }
    return this.engine.whatIf({
      Q,
      K,
      V,
      params,
      kvHeadOf: block.info.kvHeadOf,
      causal: block.info.causal,
      ...(block.mask ? { mask: block.mask } : {}),
      ...(block.info.scale !== undefined ? { scale: block.info.scale } : {}),
      ...(block.info.softCap !== undefined ? { softCap: block.info.softCap } : {}),
      ...this.scoreBias(trace, block.info.scoreBias),
      score: req.score,
      normaliser: req.normaliser,
      ...(req.local ? { local: req.local } : {}),
      ...(req.seed !== undefined ? { seed: req.seed } : {}),
    });
  }

  /** The tensor AttentionInfo.scoreBias points at (T5's position bias), for what-if to add as the model did. */
  private scoreBias(trace: Trace, at: AttentionInfo['scoreBias']): { bias?: TensorData } {
    if (!at) return {};
    const t = trace.stages.find((s) => s.id === at.stage);
    const bias = t && findTensor(t, at.tensor);
    if (!bias) throw new Error(`The score bias "${at.tensor}" of stage "${at.stage}" is not in the current run.`);
    return { bias };
  }

  dispose(): void {
    this.panel?.dispose();
    this.disposables.forEach((d) => d.dispose());
    this.activeChanged.dispose();
  }
}
