// Paints the attention of the token under the caret onto the text (background opacity by weight).
import * as vscode from 'vscode';
import type { Session } from '../session';
import { attendedBy, crossRow, forecastAttendedAt, hoverStages, tokenAt, type FillStages } from './attends';
import { traceFor } from './provider';
import type { Trace } from '../../shared/trace';
import type { Cursor } from '../../shared/protocol';

const LEVELS = 8;

export class AttentionDecorations implements vscode.Disposable {
  private readonly types: vscode.TextEditorDecorationType[];
  private readonly focus: vscode.TextEditorDecorationType;
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    private readonly session: Session,
    private readonly enabled: () => boolean,
    private readonly fill: FillStages = async (t) => t,
  ) {
    // One decoration type per opacity bucket; weights in (0, 1] map to buckets 1..LEVELS.
    this.types = Array.from({ length: LEVELS }, (_, i) =>
      vscode.window.createTextEditorDecorationType({
        backgroundColor: `rgba(64, 160, 255, ${(((i + 1) / LEVELS) * 0.6).toFixed(3)})`,
        borderRadius: '2px',
      }),
    );
    this.focus = vscode.window.createTextEditorDecorationType({
      border: '1px solid',
      borderColor: new vscode.ThemeColor('focusBorder'),
      borderRadius: '2px',
    });
    this.subs.push(
      vscode.window.onDidChangeTextEditorSelection((e) => this.paint(e.textEditor)),
      vscode.window.onDidChangeActiveTextEditor((e) => e && this.paint(e)),
      session.onDidChange(() => vscode.window.visibleTextEditors.forEach((e) => this.paint(e))),
      vscode.workspace.onDidChangeTextDocument((e) =>
        vscode.window.visibleTextEditors.filter((ed) => ed.document === e.document).forEach((ed) => this.clear(ed)),
      ),
    );
  }

  refresh(): void {
    vscode.window.visibleTextEditors.forEach((e) => this.paint(e));
  }

  clearAll(): void {
    vscode.window.visibleTextEditors.forEach((e) => this.clear(e));
  }

  private clear(editor: vscode.TextEditor): void {
    for (const t of this.types) editor.setDecorations(t, []);
    editor.setDecorations(this.focus, []);
  }

  /** The latest paint per editor: an earlier one still fetching tensors must not paint over it. */
  private readonly painting = new WeakMap<vscode.TextEditor, number>();
  private paints = 0;

  private paint(editor: vscode.TextEditor): void {
    const run = this.session.trace;
    const src = traceFor(this.session, editor.document);
    if (!this.enabled() || !run || !src || src.stale) return this.clear(editor);
    const cursor = this.session.cursor;
    const ticket = ++this.paints;
    this.painting.set(editor, ticket);
    this.fill(run, hoverStages(run, cursor)).then(
      (trace) => {
        if (this.painting.get(editor) === ticket && this.session.trace === run)
          this.draw(editor, trace, cursor, src.offset);
      },
      () => this.clear(editor),
    );
  }

  private draw(editor: vscode.TextEditor, trace: Trace, cursor: Cursor, offset: number): void {
    const src = { offset };
    const local = editor.document.offsetAt(editor.selection.active) - src.offset;
    const forecast = forecastAttendedAt(trace, cursor, local, 0);
    const caret = forecast ? -1 : tokenAt(trace.tokens, local);
    const self = caret >= 0 ? attendedBy(trace, cursor, caret, 0) : undefined;
    // On cross-attention, the output token the panel focuses (its row) shades the input it reads.
    const cross = forecast || self ? undefined : crossRow(trace, cursor);
    const a = forecast ?? self ?? cross;
    if (!a) return this.clear(editor);
    const q = self ? caret : -1;
    const buckets: vscode.Range[][] = Array.from({ length: LEVELS }, () => []);
    const max = Math.max(...a.row, 1e-9);
    trace.tokens.forEach((t, k) => {
      const w = a.row[k] ?? 0;
      if (t.start < 0 || w <= 0) return;
      const level = Math.min(LEVELS - 1, Math.floor((w / max) * LEVELS - 1e-9));
      buckets[level]!.push(
        new vscode.Range(
          editor.document.positionAt(src.offset + t.start),
          editor.document.positionAt(src.offset + t.end),
        ),
      );
    });
    this.types.forEach((t, i) => editor.setDecorations(t, buckets[i]!));
    const qt = forecast ? forecast.hovered : trace.tokens[q];
    if (!qt) return editor.setDecorations(this.focus, []);
    editor.setDecorations(this.focus, [
      new vscode.Range(
        editor.document.positionAt(src.offset + qt.start),
        editor.document.positionAt(src.offset + qt.end),
      ),
    ]);
  }

  dispose(): void {
    this.subs.forEach((s) => s.dispose());
    this.types.forEach((t) => t.dispose());
    this.focus.dispose();
  }
}
