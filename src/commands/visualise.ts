// "Visualise attention": run the configured model on the selection (or the whole document).
// `runAndShow` is the one path every entry point takes: progress with Cancel, warnings, errors.
import * as vscode from 'vscode';
import { readConfig } from '../config';
import type { Session, Source } from '../session';
import type { EngineClient } from '../engine/client';
import { EngineError } from '../engine/client';
import type { RunRequest } from '../../shared/workerProtocol';
import type { PanelManager } from '../panel/panel';
import type { Trace } from '../../shared/trace';
import { filePathOf } from '../../shared/catalog';
import { confirmUntrustedLoad } from './trust';
import { fileStamps, RestoreCache, type Kept } from '../panel/restoreCache';
import { notificationText } from '../../shared/escape';
import { carryCursor, GRID_THUMB } from '../../shared/derived';
import { DEFAULT_CURSOR, type Cursor, type RunRef } from '../../shared/protocol';
import { hasRemote, layerInput, lightForm } from '../../shared/lazy';

/** A saved cursor on a trace made again: the same place where it still exists. */
function clampCursor(c: Cursor, trace: Trace): Cursor {
  if (c.stage >= trace.stages.length || c.head >= trace.model.heads) return { stage: 0, head: 0, view: c.view };
  return c.row !== undefined && c.row >= trace.tokens.length ? { ...c, row: undefined } : c;
}

export interface VisualiseDeps {
  readonly session: Session;
  readonly engine: EngineClient;
  readonly panels: PanelManager;
  readonly log: vscode.LogOutputChannel;
  /** Whole runs kept on disk for a reloaded panel; `stamps` name the extension's own files (built-in models, worker). */
  readonly restore?: { readonly cache: RestoreCache; readonly stamps: readonly string[] };
}

/** The restore cache's key of `request`: it, and the stamps of the model files it reads. */
async function cacheKey(deps: VisualiseDeps, request: RunRequest): Promise<string> {
  const file = filePathOf(request.modelId);
  const paths = [file, request.config?.baseDir].filter((p): p is string => p !== undefined);
  return RestoreCache.key(request, await fileStamps([...(deps.restore?.stamps ?? []), ...paths]));
}

/** Whether a worker can make `trace`'s layers again from their inputs (a causal LM keeps each layer's). */
function adoptable(trace: Trace): boolean {
  return (
    trace.model.causalLm === true &&
    trace.stages.every((s) => s.layer === undefined || layerInput(trace, s.layer) !== undefined)
  );
}

/**
 * Keeps a run for a reload of the panel: whole when the host has it whole; a big one a worker holds
 * in light form (its small tensors and each layer's input), when its model can make the layers again.
 */
async function keepForReload(
  deps: VisualiseDeps,
  cache: RestoreCache,
  request: RunRequest,
  trace: Trace,
): Promise<void> {
  try {
    const held = deps.engine.holds(trace);
    if (held && !adoptable(trace)) return;
    const kept = held ? await lightForm(trace, (want) => deps.engine.tensors(trace, want)) : trace;
    // Its grid too (pooled as it ran): a restored light form would make every layer again for it.
    const grid = held ? await deps.engine.thumbnails(trace, GRID_THUMB).catch(() => undefined) : undefined;
    if (await cache.put(await cacheKey(deps, request), kept, grid))
      deps.log.info(
        `kept the run for a reload of the panel${held ? ' (light form: each layer is made again from its input)' : ''}`,
      );
  } catch (err) {
    deps.log.warn(`the run was not kept for a reload: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Hard limit on what is sent to the worker at all; models truncate further to their own maximum. */
export const MAX_SELECTION_CHARS = 100_000;

/** Runs `request` in the worker with a cancellable progress notification; the trace, or undefined. */
export async function runAndShow(
  deps: VisualiseDeps,
  title: string,
  request: RunRequest,
  source?: Source,
  keepCursor: boolean | Cursor = false,
): Promise<Trace | undefined> {
  const started = Date.now();
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Attention Lens: ${title}`, cancellable: true },
    async (progress, token) => {
      // A streamed run's layers open the panel as they finish; the final trace replaces them. A
      // reload's run does not stream: the panel it restores waits for the stage it was on.
      const stream = typeof keepCursor === 'object' ? undefined : deps.panels.beginStream();
      const handle = deps.engine.run(
        request,
        (fraction, message) => progress.report({ message: `${message} (${Math.round(fraction * 100)}%)` }),
        stream ? (partial) => stream.partial(partial) : undefined,
      );
      const sub = token.onCancellationRequested(() => {
        deps.log.info(`run cancelled by the user after ${Date.now() - started} ms`);
        handle.cancel();
      });
      try {
        const trace = await handle.promise;
        // Where the user went while the layers streamed in is where they stay.
        const moved = stream?.finish();
        deps.log.info(
          `ran ${trace.model.id} on ${trace.tokens.length} tokens with the ${trace.backend} backend in ${trace.elapsedMs.toFixed(0)} ms (round trip ${Date.now() - started} ms)`,
        );
        for (const w of trace.warnings) {
          deps.log.warn(w);
          void vscode.window.showWarningMessage(`Attention Lens: ${notificationText(w)}`);
        }
        // The stage, head and view the user was on, where they still exist (keepCursor: as they are, for the same model;
        // a cursor: the one a reload restores).
        const sameModel = keepCursor === true && deps.session.trace?.model.id === trace.model.id;
        deps.session.set(
          trace,
          source,
          moved
            ? clampCursor(moved, trace)
            : typeof keepCursor === 'object'
              ? clampCursor(keepCursor, trace)
              : sameModel
                ? deps.session.cursor
                : // A re-run of the same text (another model, a changed setting) keeps the place; a new text starts at Tokens.
                  deps.session.trace?.text === trace.text
                  ? carryCursor(deps.session.trace, deps.session.cursor, trace)
                  : undefined,
          { title, request, ...(source ? { source } : {}) },
        );
        deps.panels.show();
        if (deps.restore?.cache.enabled) void keepForReload(deps, deps.restore.cache, request, trace);
        return trace;
      } catch (err) {
        if (err instanceof EngineError && err.code === 'cancelled') {
          stream?.end('cancelled', '');
          void vscode.window.showInformationMessage('Attention Lens: run cancelled.');
          return undefined;
        }
        const message = err instanceof Error ? err.message : String(err);
        stream?.end('failed', message);
        deps.log.error(`${title} failed: ${message}`);
        void vscode.window.showErrorMessage(`Attention Lens: ${notificationText(message)}`);
        return undefined;
      } finally {
        sub.dispose();
      }
    },
  );
}

export async function visualiseSelection(deps: VisualiseDeps, modelId?: string): Promise<boolean> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Attention Lens: open a text editor and select some text first.');
    return false;
  }
  const doc = editor.document;
  const range = editor.selection.isEmpty
    ? new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length))
    : editor.selection;
  let text = doc.getText(range);
  const offset = doc.offsetAt(range.start);
  if (text.trim().length === 0) {
    void vscode.window.showWarningMessage(
      'Attention Lens: the selection is empty. Select a sentence or two and try again.',
    );
    return false;
  }
  if (text.length > MAX_SELECTION_CHARS) {
    void vscode.window.showWarningMessage(
      `Attention Lens: the selection has ${text.length.toLocaleString()} characters; only the first ${MAX_SELECTION_CHARS.toLocaleString()} are used.`,
    );
    text = text.slice(0, MAX_SELECTION_CHARS);
  }
  const cfg = readConfig();
  const model = modelId ?? cfg.model;
  const file = filePathOf(model);
  if (file && !(await confirmUntrustedLoad(file))) return false;
  const request = {
    modelId: model,
    text,
    maxTokens: cfg.maxTokens,
    // Only what the user asked for: a default is no request, so a model without it never warns.
    score: userSet('scoreFunction') ? cfg.score : undefined,
    normaliser: userSet('normaliser') ? cfg.normaliser : undefined,
    topK: cfg.topK,
    memoryBudgetMB: cfg.memoryBudgetMB,
  };
  const trace = await runAndShow(deps, `running ${file ? vscode.workspace.asRelativePath(file) : model}`, request, {
    uri: doc.uri.toString(),
    version: doc.version,
    offset,
  });
  return trace !== undefined;
}

/** True when the user set attentionLens.<key> in any scope (not just its default). */
function userSet(key: string): boolean {
  const i = vscode.workspace.getConfiguration('attentionLens').inspect(key);
  return i !== undefined && [i.globalValue, i.workspaceValue, i.workspaceFolderValue].some((v) => v !== undefined);
}

/**
 * A reloaded panel's run, made again from what it saved (the request, not the tensors). A model
 * file or config of an untrusted workspace is not loaded unasked: the panel stays empty until run.
 */
export async function restoreRun(deps: VisualiseDeps, ref: RunRef, cursor: Cursor | undefined): Promise<boolean> {
  const fromWorkspace = filePathOf(ref.request.modelId) !== undefined || ref.request.config !== undefined;
  if (fromWorkspace && !vscode.workspace.isTrusted) {
    deps.log.info('not restoring the last run: it loads files of an untrusted workspace');
    return false;
  }
  if (deps.restore?.cache.enabled) {
    const started = Date.now();
    const kept = await deps.restore.cache.get(await cacheKey(deps, ref.request));
    const layer = kept?.trace.stages[cursor?.stage ?? 0]?.layer;
    const trace = kept && hasRemote(kept.trace) ? await adopt(deps, ref, kept, layer) : kept?.trace;
    if (trace === 'cancelled') return false;
    if (trace) {
      deps.session.set(trace, ref.source, clampCursor(cursor ?? DEFAULT_CURSOR, trace), ref);
      deps.panels.show();
      deps.log.info(`restored the panel's run from the cache in ${Date.now() - started} ms (not run again)`);
      return true;
    }
  }
  return (await runAndShow(deps, ref.title, ref.request, ref.source, cursor ?? DEFAULT_CURSOR)) !== undefined;
}

/** A kept light form held by a worker again (the model loads; no layer runs until shown); undefined when it cannot be. */
async function adopt(
  deps: VisualiseDeps,
  ref: RunRef,
  kept: Kept,
  layer: number | undefined,
): Promise<Trace | 'cancelled' | undefined> {
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Attention Lens: restoring ${ref.title}`,
      cancellable: true,
    },
    async (progress, token) => {
      const handle = deps.engine.adopt(ref.request, kept, layer, (_fraction, message) => progress.report({ message }));
      const sub = token.onCancellationRequested(() => handle.cancel());
      try {
        return await handle.promise;
      } catch (err) {
        if (err instanceof EngineError && err.code === 'cancelled') return 'cancelled';
        deps.log.warn(
          `the kept run could not be restored, running it again: ${err instanceof Error ? err.message : String(err)}`,
        );
        return undefined;
      } finally {
        sub.dispose();
      }
    },
  );
}

/** After "Choose model…": the last run's text again, with the chosen model (nothing when nothing ran yet). */
export async function rerunLast(deps: VisualiseDeps, modelId: string): Promise<boolean> {
  const last = deps.session.trace;
  if (!last) return false;
  const cfg = readConfig();
  const request = {
    modelId,
    text: last.text,
    maxTokens: cfg.maxTokens,
    score: userSet('scoreFunction') ? cfg.score : undefined,
    normaliser: userSet('normaliser') ? cfg.normaliser : undefined,
    topK: cfg.topK,
  };
  return (await runAndShow(deps, `running ${modelId}`, request, deps.session.source)) !== undefined;
}
