// Hover-to-inspect: hovering a token of the last run shows the tokens it attends to.
import * as vscode from 'vscode';
import type { Session } from '../session';
import {
  attendedBy,
  bar,
  forecastAttendedAt,
  hoverStages,
  readBy,
  tokenAt,
  type FillStages,
  type ForecastAttended,
  type ReadBy,
} from './attends';
import { tokenLabel } from '../../shared/tensorView';
import { markdownCode as code, markdownText as escape } from '../../shared/escape';
import type { Token } from '../../shared/trace';

export const SHOW_IN_PANEL = 'attentionLens.showInPanel';

/** The session's trace, if it was computed on this document, with the offset mapping. */
export function traceFor(session: Session, doc: vscode.TextDocument): { offset: number; stale: boolean } | undefined {
  const src = session.source;
  if (!session.trace || !src || src.uri !== doc.uri.toString()) return undefined;
  return { offset: src.offset, stale: doc.version !== src.version };
}

/** 1st, 2nd, 3rd, 4th … 11th, 12th, 13th, 21st. */
export function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

export class AttentionHoverProvider implements vscode.HoverProvider {
  constructor(
    private readonly session: Session,
    private readonly topK: () => number,
    private readonly fill: FillStages = async (t) => t,
  ) {}

  async provideHover(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.Hover | undefined> {
    const src = traceFor(this.session, doc);
    const run = this.session.trace;
    if (!src || !run) return undefined;
    const cursor = this.session.cursor;
    const trace = await this.fill(run, hoverStages(run, cursor));
    // A run that replaced this one meanwhile is not described by it.
    if (this.session.trace !== run) return undefined;
    const local = doc.offsetAt(pos) - src.offset;
    if (local < 0 || local >= trace.text.length) return undefined;
    if (src.stale) {
      return new vscode.Hover(
        new vscode.MarkdownString(
          '**Attention Lens:** this text changed after the run, so its attention is out of date. Run *Visualise attention* again.',
        ),
      );
    }
    const forecast = forecastAttendedAt(trace, cursor, local, this.topK());
    if (forecast) return this.forecastHover(doc, src.offset, forecast);
    const index = tokenAt(trace.tokens, local);
    if (index < 0) return undefined;
    const token = trace.tokens[index]!;
    const range = new vscode.Range(doc.positionAt(src.offset + token.start), doc.positionAt(src.offset + token.end));
    const a = attendedBy(trace, cursor, index, this.topK());
    if (!a) {
      const r = readBy(trace, cursor, index, this.topK());
      return r ? new vscode.Hover(this.readByText(trace.model.name, token, r), range) : undefined;
    }
    const headText = a.head < 0 ? 'mean of heads' : `head ${a.head}`;
    const kvHeadOf = a.block.info.kvHeadOf;
    const kv = a.head >= 0 && kvHeadOf ? ` (shares K/V head ${kvHeadOf[a.head]})` : '';
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(
      `**Attention Lens** · ${escape(trace.model.name)} · ${escape(a.stage.title)} · ${headText}${kv}\n\n`,
    );
    md.appendMarkdown(`${code(tokenLabel(token))} attends to:\n\n`);
    const norms = a.entries.some((e) => e.norm !== undefined);
    md.appendMarkdown(
      norms ? '| token | weight α | ‖αvW_O‖ | |\n|---|---:|---:|---|\n' : '| token | weight | |\n|---|---:|---|\n',
    );
    for (const e of a.entries)
      md.appendMarkdown(
        `| ${code(tokenLabel(e.token))} #${e.key} | ${e.weight.toFixed(4)} |${norms ? ` ${(e.norm ?? NaN).toFixed(4)} |` : ''} ${bar(e.weight)} |\n`,
      );
    if (norms)
      md.appendMarkdown(
        '\n‖αvW_O‖: the value-weighted norm, the length of what the key adds through this head (W_O’s bias left out).\n',
      );
    const args = encodeURIComponent(JSON.stringify([{ stage: a.stageIndex, row: index }]));
    md.appendMarkdown(`\n[Show in panel](command:${SHOW_IN_PANEL}?${args})`);
    md.isTrusted = { enabledCommands: [SHOW_IN_PANEL] };
    return new vscode.Hover(md, range);
  }

  /** Cross-attention from the input's side: the output steps that read this input token (the outputs are not in the document). */
  private readByText(model: string, token: Token, r: ReadBy): vscode.MarkdownString {
    const headText = r.head < 0 ? 'mean of heads' : `head ${r.head}`;
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**Attention Lens** · ${escape(model)} · ${escape(r.stage.title)} · ${headText}\n\n`);
    const f = r.focused;
    if (f)
      md.appendMarkdown(
        `Output step ${f.query + 1} (${code(f.produces)}) attends to ${code(tokenLabel(token))} (input #${r.key}) with weight ${f.weight.toFixed(4)}, the ${ordinal(f.rank)} largest of its ${f.keys} input tokens.\n\n`,
      );
    md.appendMarkdown(
      `Output steps whose cross-attention reads ${code(tokenLabel(token))} (input #${r.key}) most; the output is the model's, not text in this document:\n\n`,
    );
    md.appendMarkdown('| output step | reads | produces | weight | |\n|---:|---|---|---:|---|\n');
    for (const e of r.entries)
      md.appendMarkdown(
        `| ${e.query + 1} | ${code(e.reads)} | ${code(e.produces)} | ${e.weight.toFixed(4)} | ${bar(e.weight)} |\n`,
      );
    const top = f ?? r.entries[0];
    const args = encodeURIComponent(JSON.stringify([{ stage: r.stageIndex, ...(top ? { row: top.query } : {}) }]));
    md.appendMarkdown(`\n[Show in panel](command:${SHOW_IN_PANEL}?${args})`);
    md.isTrusted = { enabledCommands: [SHOW_IN_PANEL] };
    return md;
  }

  /** A forecasting trace: which past hours forecast hour +t attended to (t: the hovered truth's hour, else the cursor's). */
  private forecastHover(doc: vscode.TextDocument, offset: number, a: ForecastAttended): vscode.Hover {
    const trace = this.session.trace!;
    const M = trace.tokens.length;
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**Attention Lens** · ${escape(trace.model.name)} · ${escape(a.stage.title)}\n\n`);
    const truth = a.hovered === trace.outputTokens?.[a.hour];
    const range = new vscode.Range(doc.positionAt(offset + a.hovered.start), doc.positionAt(offset + a.hovered.end));
    md.appendMarkdown(
      `Forecast hour +${a.hour + 1}: ${Math.round(a.forecast)} vehicles/hour${truth ? ` (this number, ${code(doc.getText(range))}, is its truth)` : ''} attends to:\n\n`,
    );
    md.appendMarkdown('| hour | volume | lag | weight | |\n|---:|---:|---:|---:|---|\n');
    for (const e of a.entries)
      md.appendMarkdown(
        `| ${e.key + 1} | ${code(e.token.text)} | ${M + a.hour - e.key} h | ${e.weight.toFixed(4)} | ${bar(e.weight / Math.max(a.entries[0]!.weight, 1e-9))} |\n`,
      );
    if (!truth) {
      const i = a.hovered.id;
      md.appendMarkdown(`\nThis hour (${i + 1} of ${M}) has weight ${a.row[i]!.toFixed(4)}.\n`);
    }
    const args = encodeURIComponent(JSON.stringify([{ stage: a.stageIndex, row: a.hour }]));
    md.appendMarkdown(`\n[Show in panel](command:${SHOW_IN_PANEL}?${args})`);
    md.isTrusted = { enabledCommands: [SHOW_IN_PANEL] };
    return new vscode.Hover(md, range);
  }
}
