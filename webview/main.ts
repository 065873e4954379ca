// The attention panel's UI. Reads the trace the host sends; computes only display transforms.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import type { Stage, TensorData, Trace } from '../shared/trace';
import { findTensor } from '../shared/trace';
import { traceFromJson, traceToJson } from '../shared/codec';
import { missingParams } from '../shared/scoreParams';
import { assertNever, DEFAULT_CURSOR, type Cursor, type HostMessage, type PanelSettings, type PersistedState, type WebviewMessage } from '../shared/protocol';
import { headsOf, jumpToPhase, layersOf, moveHead, moveStage, moveStep, PHASES, phaseOf, stepsOf } from '../shared/navigation';
import { clear, h } from './dom';
import { drawHeatmap, hitTest, layoutHeatmap, type HeatmapStyle } from './heatmap';
import { formatValue, shapeText, toMatrix, tokenLabel, type Matrix } from '../shared/tensorView';
import { Rpc } from './rpc';
import { buildGrid } from './views/grid';
import { drawLines, layoutLines, lineRowAt } from './views/lines';
import { fileSafe, heatmapSvg, matrixToCsv, stageToJson } from './exporters';
import { NORMALISERS, SCORE_FUNCTIONS, type Normaliser, type ScoreFunction } from '../shared/trace';
import type { ExportFormat, ViewMode, WhatIfResult } from '../shared/protocol';

interface VsCodeApi {
  postMessage(msg: WebviewMessage): void;
  getState(): PersistedState | undefined;
  setState(s: PersistedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
declare global {
  interface Window {
    /** Set by the standalone HTML export: the trace to show, with no host to talk to. */
    ATTENTION_LENS_STANDALONE?: { trace: unknown; cursor: Cursor };
  }
}
const standalone = window.ATTENTION_LENS_STANDALONE;
const vscode: VsCodeApi = standalone
  ? { postMessage: () => {}, getState: () => ({ trace: standalone.trace, cursor: standalone.cursor }), setState: () => {} }
  : acquireVsCodeApi();

let trace: Trace | undefined;
let cursor: Cursor = DEFAULT_CURSOR;
let settings: PanelSettings = { colourMap: 'viridis', topK: 5, score: 'scaled-dot', normaliser: 'softmax' };
const app = document.getElementById('app')!;

function post(msg: WebviewMessage): void {
  vscode.postMessage(msg);
}
const rpc = new Rpc(post);

/** What-if results for the stage they were computed on (cleared when the trace changes). */
let whatIf: { stageId: string; score: ScoreFunction; normaliser: Normaliser; result: WhatIfResult } | undefined;
let whatIfError: string | undefined;
/** The matrix currently shown full-size, for exports. */
let shown: { matrix: Matrix; title: string; tensorName: string; stage: Stage } | undefined;

/** The trace in its JSON form, kept for setState (encoded once per trace, not per cursor move). */
let persistedTrace: unknown;

function setCursor(c: Cursor, notify = true): void {
  cursor = c;
  vscode.setState({ trace: persistedTrace, cursor });
  if (notify) post({ type: 'cursor', cursor });
  render();
}

window.addEventListener('message', (e: MessageEvent<HostMessage>) => {
  const msg = e.data;
  switch (msg.type) {
    case 'trace': {
      const received = performance.now();
      trace = msg.trace;
      persistedTrace = undefined;
      settings = msg.settings;
      whatIf = undefined;
      whatIfError = undefined;
      setCursor(msg.cursor, false);
      reportFirstPaint(received);
      // Encoding the trace for setState waits until it is on screen.
      setTimeout(() => {
        if (trace !== msg.trace) return;
        persistedTrace = traceToJson(msg.trace);
        vscode.setState({ trace: persistedTrace, cursor });
      }, 0);
      return;
    }
    case 'cursor':
      setCursor(msg.cursor, false);
      return;
    case 'settings':
      settings = msg.settings;
      render();
      return;
    case 'busy':
      showBanner(msg.message, 'busy');
      return;
    case 'error':
      showBanner(msg.message, 'error');
      return;
    case 'export':
      void exportAs(msg.format);
      return;
    case 'response':
      rpc.settle(msg.id, msg.ok, msg.ok ? msg.result : msg.error);
      return;
    default:
      assertNever(msg);
  }
});

function showBanner(text: string, kind: 'busy' | 'error'): void {
  document.getElementById('banner')?.remove();
  app.prepend(h('div', { id: 'banner', class: `banner ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text));
}

function style(): HeatmapStyle {
  const cs = getComputedStyle(document.body);
  return {
    colourMap: settings.colourMap,
    foreground: cs.getPropertyValue('--vscode-editor-foreground').trim() || cs.color,
    font: cs.getPropertyValue('--vscode-editor-font-family').trim() || 'monospace',
  };
}

function render(): void {
  clear(app);
  if (!trace) {
    app.append(h('p', { class: 'empty' }, 'Select text in an editor and run ', h('b', {}, 'Visualise attention'), '.'));
    return;
  }
  const t = trace;
  const stage = t.stages[Math.min(cursor.stage, t.stages.length - 1)]!;
  app.append(header(t), pipeline(t, stage), controls(t, stage), stageInfo(stage), stageBody(t, stage));
}

function header(t: Trace): HTMLElement {
  return h(
    'header',
    { class: 'model' },
    h('strong', { 'data-testid': 'model-name' }, t.model.name),
    h('span', { class: 'muted' }, ` · ${t.tokens.length} tokens · ${t.backend} · ${t.elapsedMs.toFixed(0)} ms`),
    ...t.warnings.map((w) => h('div', { class: 'warning', role: 'status' }, w)),
  );
}

function pipeline(t: Trace, stage: Stage): HTMLElement {
  const present = new Set(t.stages.map((s) => phaseOf(s.kind)));
  const current = phaseOf(stage.kind);
  return h(
    'nav',
    { class: 'pipeline', 'aria-label': 'Pipeline stages' },
    ...PHASES.filter((p) => present.has(p)).map((p) =>
      h('button', { class: p === current ? 'phase current' : 'phase', 'aria-current': p === current ? 'step' : undefined, onclick: () => setCursor(jumpToPhase(t, cursor, p)) }, p),
    ),
  );
}

function select(label: string, testid: string, options: { value: string; label: string }[], value: string, onChange: (v: string) => void): HTMLElement {
  const sel = h('vscode-single-select', { 'data-testid': testid, 'aria-label': label }) as HTMLElement & { value: string };
  for (const o of options) sel.append(h('vscode-option', { value: o.value, selected: o.value === value }, o.label));
  sel.addEventListener('change', () => onChange(sel.value));
  return h('label', { class: 'control' }, h('span', {}, label), sel);
}

function controls(t: Trace, stage: Stage): HTMLElement {
  const bar = h(
    'div',
    { class: 'controls' },
    h('vscode-button', { 'data-testid': 'prev-stage', secondary: true, onclick: () => setCursor(moveStage(t, cursor, -1)) }, '◀ Previous stage'),
    h('span', { class: 'position', 'data-testid': 'stage-position' }, `${cursor.stage + 1} / ${t.stages.length}`),
    h('vscode-button', { 'data-testid': 'next-stage', onclick: () => setCursor(moveStage(t, cursor, 1)) }, 'Next stage ▶'),
  );
  const layers = layersOf(t);
  if (layers.length > 1) {
    bar.append(
      select('Layer', 'layer-select', layers.map((l) => ({ value: String(l), label: `Layer ${l}` })), String(stage.layer ?? layers[0]), (v) => {
        const i = t.stages.findIndex((s) => s.layer === Number(v) && s.kind === stage.kind);
        if (i >= 0) setCursor({ ...cursor, stage: i });
      }),
    );
  }
  const heads = headsOf(t);
  if (heads > 0) {
    const opts = [...Array.from({ length: heads }, (_, i) => ({ value: String(i), label: `Head ${i}` })), { value: '-1', label: 'Mean of heads' }];
    bar.append(select('Head', 'head-select', opts, String(cursor.head), (v) => setCursor({ ...cursor, head: Number(v) })));
    bar.append(h('vscode-button', { secondary: true, 'aria-label': 'Next head', onclick: () => setCursor(moveHead(t, cursor, 1)) }, 'Head ▶'));
  }
  if (stepsOf(t).length > 0) {
    bar.append(
      h('vscode-button', { secondary: true, 'data-testid': 'prev-step', onclick: () => setCursor(moveStep(t, cursor, -1)) }, '◀ Step'),
      h('vscode-button', { secondary: true, 'data-testid': 'next-step', onclick: () => setCursor(moveStep(t, cursor, 1)) }, 'Step ▶'),
    );
  }
  return bar;
}

function stageInfo(stage: Stage): HTMLElement {
  return h(
    'section',
    { class: 'stage-info' },
    h('h2', { 'data-testid': 'stage-title' }, stage.title),
    h('div', { class: 'formula', 'data-testid': 'stage-formula' }, stage.formula),
    h('p', { class: 'explanation' }, stage.explanation),
  );
}

function viewSwitch(): HTMLElement {
  const views: [ViewMode, string][] = [
    ['heatmap', 'Heatmap'],
    ['lines', 'Head view (lines)'],
    ['grid', 'All heads (model view)'],
  ];
  return h(
    'div',
    { class: 'view-switch', role: 'tablist', 'aria-label': 'View' },
    ...views.map(([v, label]) =>
      h('button', { role: 'tab', class: cursor.view === v ? 'tab current' : 'tab', 'aria-selected': cursor.view === v ? 'true' : 'false', 'data-testid': `view-${v}`, onclick: () => setCursor({ ...cursor, view: v }) }, label),
    ),
  );
}

function exportBar(): HTMLElement {
  const formats: [ExportFormat, string][] = [
    ['png', 'PNG'],
    ['svg', 'SVG'],
    ['csv', 'CSV'],
    ['json', 'JSON'],
    ['html', 'HTML (whole panel)'],
  ];
  return h('div', { class: 'export-bar' }, h('span', { class: 'muted' }, 'Export: '), ...formats.map(([f, label]) => h('vscode-button', { secondary: true, 'data-testid': `export-${f}`, onclick: () => void exportAs(f) }, label)));
}

function stageBody(t: Trace, stage: Stage): HTMLElement {
  const body = h('section', { class: 'stage-body' });
  shown = undefined;
  body.append(viewSwitch());
  if (cursor.view === 'grid') {
    body.append(buildGrid(t, { colourMap: settings.colourMap, currentStage: cursor.stage, currentHead: cursor.head, onOpen: (si, head) => setCursor({ ...cursor, stage: si, head, view: 'heatmap' }) }));
    return body;
  }
  if (stage.kind === 'tokens') {
    body.append(tokenChips(t));
    return body;
  }
  const kvHeadOf = stage.attention?.kvHeadOf;
  const weights = findTensor(stage, 'weights') ?? findTensor(stage, 'scores');
  if (cursor.view === 'lines' && weights && weights.shape.length >= 2) {
    body.append(linesFigure(t, stage, weights));
  } else {
    const grid = h('div', { class: 'matrices' });
    for (const tensor of stage.tensors) if (tensor.name !== 'mask') grid.append(matrixFigure(t, stage, tensor, kvHeadOf));
    body.append(grid);
  }
  if (stage.kind === 'decoder-step' && t.predictions?.length) body.append(predictionsTable(t, stage));
  // A standalone export has no host to recompute or save with.
  if (!standalone) {
    const wi = whatIfPanel(t, stage);
    if (wi) body.append(wi);
    body.append(exportBar());
  }
  return body;
}

/** The stage in the same layer/step that holds Q, K and V, which a what-if recomputes from. */
function qkvStageFor(t: Trace, stage: Stage): Stage | undefined {
  if (!stage.attention) return undefined;
  return t.stages.find((s) => s.layer === stage.layer && s.step === stage.step && findTensor(s, 'Q') && findTensor(s, 'K') && findTensor(s, 'V'));
}

function whatIfPanel(t: Trace, stage: Stage): HTMLElement | undefined {
  const qkv = qkvStageFor(t, stage);
  if (!qkv || !(['score', 'normalise', 'context', 'qkv'] as string[]).includes(stage.kind)) return undefined;
  const params = Object.fromEntries(['W', 'W1', 'W2', 'v'].map((n) => [n, findTensor(qkv, n)]));
  const available = (f: ScoreFunction): string | undefined => missingParams(f, params);
  const current = whatIf?.stageId === qkv.id ? whatIf : undefined;
  const score: ScoreFunction = current?.score ?? (available(settings.score) ? 'scaled-dot' : settings.score);
  const normaliser: Normaliser = current?.normaliser ?? settings.normaliser;
  const run = async (sc: ScoreFunction, no: Normaliser): Promise<void> => {
    whatIfError = undefined;
    try {
      const result = await rpc.request({ kind: 'whatIf', stageId: qkv.id, score: sc, normaliser: no });
      whatIf = { stageId: qkv.id, score: sc, normaliser: no, result };
    } catch (err) {
      whatIfError = (err as Error).message;
    }
    render();
  };
  const toggles = <T extends string>(label: string, values: readonly T[], chosen: T, why: (v: T) => string | undefined, pick: (v: T) => void): HTMLElement =>
    h(
      'div',
      { class: 'toggles', role: 'group', 'aria-label': label },
      h('span', { class: 'toggle-label' }, label),
      ...values.map((v) => {
        const reason = why(v);
        return h('button', { class: v === chosen && current ? 'toggle on' : 'toggle', 'aria-pressed': v === chosen && current ? 'true' : 'false', disabled: reason !== undefined, title: reason ?? `Recompute with ${v}`, 'data-testid': `whatif-${v}`, onclick: () => pick(v) }, v);
      }),
    );
  const panel = h(
    'section',
    { class: 'whatif', 'data-testid': 'whatif' },
    h('h3', {}, 'What if…'),
    h('p', { class: 'muted' }, `Recompute this layer’s scores, weights and context from the very same Q, K and V with another score function or normaliser. The model used ${stage.attention!.score} + ${stage.attention!.normaliser}.`),
    toggles('score', SCORE_FUNCTIONS, score, available, (v) => void run(v, normaliser)),
    toggles('normaliser', NORMALISERS, normaliser, () => undefined, (v) => void run(score, v)),
  );
  if (whatIfError) panel.append(h('div', { class: 'banner error', role: 'alert' }, whatIfError));
  if (current) {
    const orig = findTensor(t.stages.find((s) => s.kind === 'normalise' && s.layer === stage.layer && s.step === stage.step) ?? stage, 'weights');
    const w = current.result.weights;
    const fig = h('div', { class: 'matrices' }, matrixFigure(t, stage, { ...w, name: 'weights' }, undefined, `what-if weights (${current.score} + ${current.normaliser})`, 'whatif-weights'));
    if (orig && orig.data.length === w.data.length) {
      const diff = w.data.map((v, i) => v - orig.data[i]!);
      fig.append(matrixFigure(t, stage, { ...w, name: 'difference', data: diff }, undefined, 'what-if − model weights', 'whatif-diff'));
    }
    panel.append(fig);
    if (current.normaliser === 'sigmoid') panel.append(h('p', { class: 'muted' }, 'Sigmoid weighs every key independently, so a row need not sum to 1: the context is not a weighted mean any more.'));
  }
  return panel;
}

function linesFigure(t: Trace, stage: Stage, tensor: TensorData): HTMLElement {
  const base = toMatrix(t, tensor, cursor.head, stage.attention?.kvHeadOf);
  const mask = maskFor(t, stage);
  const m: Matrix = mask && mask.shape.length === 2 ? { ...base, masked: (r, c) => mask.data[r * base.cols + c] === 0 } : base;
  const l = layoutLines(m);
  const canvas = h('canvas', { class: 'lines', 'data-testid': 'lines', tabindex: 0, role: 'img', 'aria-label': `head view of ${tensor.name}` });
  const dpr = window.devicePixelRatio || 1;
  canvas.width = l.width * dpr;
  canvas.height = l.height * dpr;
  canvas.style.width = `${l.width}px`;
  canvas.style.height = `${l.height}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.scale(dpr, dpr);
  const st = style();
  let focus: number | undefined = cursor.row;
  const readout = h('div', { class: 'readout', 'aria-live': 'polite' }, '\u00a0');
  const paint = (): void => {
    drawLines(ctx, m, l, settings.colourMap, st.foreground, st.font, focus);
    if (focus === undefined) readout.textContent = 'Hover a token on the left to see only its lines.';
    else {
      const row = Array.from({ length: m.cols }, (_, k) => [k, m.data[focus! * m.cols + k]!] as const).sort((a, b) => b[1] - a[1]).slice(0, 5);
      readout.textContent = `${m.rowLabels[focus]} → ${row.map(([k, v]) => `${m.colLabels[k]} ${formatValue(v)}`).join(', ')}`;
    }
  };
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    const row = lineRowAt(l, m, e.clientX - r.left, e.clientY - r.top);
    if (row !== focus) {
      focus = row;
      paint();
    }
  });
  canvas.addEventListener('mouseleave', () => {
    focus = undefined;
    paint();
  });
  canvas.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    focus = Math.max(0, Math.min(m.rows - 1, (focus ?? -1) + (e.key === 'ArrowDown' ? 1 : -1)));
    paint();
  });
  paint();
  shown = { matrix: m, title: `${stage.title} — ${tensor.name}`, tensorName: tensor.name, stage };
  return h('figure', { class: 'figure wide' }, h('figcaption', {}, h('b', {}, `${tensor.name} as lines`), ' ', h('span', { class: 'shape' }, shapeText(tensor))), canvas, readout);
}

function tokenChips(t: Trace): HTMLElement {
  return h(
    'ol',
    { class: 'tokens', 'data-testid': 'tokens' },
    ...t.tokens.map((tok, i) =>
      h('li', { class: tok.special ? 'token special' : tok.unknown ? 'token unknown' : 'token', title: `#${i} id ${tok.id} chars ${tok.start}–${tok.end}` }, h('span', { class: 'tok-text' }, tokenLabel(tok)), h('span', { class: 'tok-id' }, String(tok.id))),
    ),
  );
}

function predictionsTable(t: Trace, stage: Stage): HTMLElement {
  const rows = (t.predictions ?? []).filter((p) => stage.step === undefined || p.position === stage.step);
  return h(
    'table',
    { class: 'predictions', 'data-testid': 'predictions' },
    h('thead', {}, h('tr', {}, h('th', {}, 'after token'), h('th', {}, `top-${settings.topK} next tokens`))),
    h(
      'tbody',
      {},
      ...rows.map((p) => {
        const tok = stage.step === undefined ? t.tokens[p.position] : t.outputTokens?.[p.position];
        return h('tr', {}, h('td', {}, tok ? tokenLabel(tok) : String(p.position)), h('td', {}, p.top.map((c) => `${c.text} ${(c.p * 100).toFixed(1)}%`).join('   ')));
      }),
    ),
  );
}

/** The attention mask of a stage's layer/step (it lives on the scores stage). */
function maskFor(t: Trace, stage: Stage): TensorData | undefined {
  if (!stage.attention) return undefined;
  const own = findTensor(stage, 'mask');
  if (own) return own;
  const holder = t.stages.find((s) => s.layer === stage.layer && s.step === stage.step && s.attention?.queries === stage.attention?.queries && s.attention?.keys === stage.attention?.keys && findTensor(s, 'mask'));
  return holder ? findTensor(holder, 'mask') : undefined;
}

function isAttentionMatrix(tensor: TensorData): boolean {
  return tensor.name === 'weights' || tensor.name === 'scores' || tensor.name === 'difference';
}

function matrixFigure(t: Trace, stage: Stage, tensor: TensorData, kvHeadOf?: readonly number[], caption?: string, testid = tensor.name): HTMLElement {
  const m = toMatrix(t, tensor, cursor.head, kvHeadOf);
  const mask = maskFor(t, stage);
  const matrix: Matrix = mask && isAttentionMatrix(tensor) && mask.shape.length === 2 ? { ...m, masked: (r, c) => mask.data[r * m.cols + c] === 0 } : m;
  const wide = isAttentionMatrix(tensor);
  const maxWidth = wide ? Math.max(320, app.clientWidth - 40) : Math.max(240, Math.min(480, (app.clientWidth - 60) / 2));
  const l = layoutHeatmap(matrix, maxWidth);
  const canvas = h('canvas', { class: 'heatmap', 'data-testid': `heatmap-${testid}`, tabindex: 0, role: 'img', 'aria-label': `${tensor.name} ${shapeText(tensor)}` });
  const dpr = window.devicePixelRatio || 1;
  canvas.width = l.width * dpr;
  canvas.height = l.height * dpr;
  canvas.style.width = `${l.width}px`;
  canvas.style.height = `${l.height}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.scale(dpr, dpr);
  const st: HeatmapStyle = { ...style(), fixedRange: tensor.name === 'weights' ? { min: 0, max: 1 } : undefined, showValues: true };
  if (!caption && (!shown || tensor.name === 'weights' || (tensor.name === 'scores' && shown.tensorName !== 'weights'))) shown = { matrix, title: `${stage.title} — ${tensor.name}`, tensorName: tensor.name, stage };
  let cell: { row: number; col: number } | undefined;
  const readout = h('div', { class: 'readout', 'data-testid': `readout-${testid}`, 'aria-live': 'polite' }, '\u00a0');
  const show = (c: { row: number; col: number } | undefined): void => {
    cell = c;
    drawHeatmap(ctx, matrix, l, st, cell);
    readout.textContent = c
      ? `${matrix.rowAxis} ${matrix.rowLabels[c.row]} (#${c.row}) · ${matrix.colAxis} ${matrix.colLabels[c.col]} (#${c.col}) = ${formatValue(matrix.data[c.row * matrix.cols + c.col]!)}`
      : '\u00a0';
  };
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    const c = hitTest(l, matrix, e.clientX - r.left, e.clientY - r.top);
    if (c?.row !== cell?.row || c?.col !== cell?.col) show(c);
  });
  canvas.addEventListener('keydown', (e) => {
    const c = cell ?? { row: 0, col: 0 };
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const mv = moves[e.key];
    if (!mv) return;
    e.preventDefault();
    show({ row: Math.max(0, Math.min(matrix.rows - 1, c.row + mv[0])), col: Math.max(0, Math.min(matrix.cols - 1, c.col + mv[1])) });
  });
  drawHeatmap(ctx, matrix, l, st);
  const headNote = tensor.axes[0] === 'head' ? (cursor.head < 0 ? ' · mean of heads' : ` · head ${cursor.head}`) : tensor.axes[0] === 'kv_head' && kvHeadOf ? ` · KV head ${kvHeadOf[Math.max(0, cursor.head)]} (shared)` : '';
  return h('figure', { class: wide ? 'figure wide' : 'figure' }, h('figcaption', {}, h('b', {}, caption ?? tensor.name), ' ', h('span', { class: 'shape', 'data-testid': `shape-${testid}` }, shapeText(tensor)), headNote), canvas, readout);
}

async function exportAs(format: ExportFormat): Promise<void> {
  if (!trace) return;
  const stage = trace.stages[cursor.stage]!;
  const base = fileSafe(`${trace.model.id}-${stage.id}${shown ? `-${shown.tensorName}` : ''}${cursor.head >= 0 ? `-h${cursor.head}` : '-mean'}`);
  let content: string | Uint8Array;
  switch (format) {
    case 'csv':
      if (!shown) return showBanner('This stage has no matrix to export as CSV.', 'error');
      content = matrixToCsv(shown.matrix);
      break;
    case 'json':
      content = stageToJson(stage, { model: trace.model.id, text: trace.text, tokens: trace.tokens, head: cursor.head });
      break;
    case 'svg':
      if (!shown) return showBanner('This stage has no matrix to export as SVG.', 'error');
      content = heatmapSvg(shown.matrix, { title: `${trace.model.name}: ${shown.title}${cursor.head >= 0 ? ` (head ${cursor.head})` : ' (mean of heads)'}`, colourMap: settings.colourMap, fixedRange: shown.tensorName === 'weights' ? { min: 0, max: 1 } : undefined });
      break;
    case 'png': {
      const canvas = app.querySelector<HTMLCanvasElement>('canvas.heatmap, canvas.lines');
      if (!canvas) return showBanner('Nothing drawn to export as PNG.', 'error');
      const blob = await new Promise<Blob | null>((r) => canvas.toBlob(r, 'image/png'));
      if (!blob) return showBanner('The PNG could not be encoded.', 'error');
      content = new Uint8Array(await blob.arrayBuffer());
      break;
    }
    case 'html':
      // The host builds the standalone page from the trace it holds and the panel's own script.
      content = '';
      break;
    default:
      return assertNever(format);
  }
  try {
    const r = await rpc.request({ kind: 'save', format, suggestedName: `${base}.${format}`, content });
    if (r.path) showBanner(`Saved ${r.path}`, 'busy');
  } catch (err) {
    showBanner(`Export failed: ${(err as Error).message}`, 'error');
  }
}

/** Trace received → first heatmap painted (drawing is synchronous in render()); for the log and the bench. */
function reportFirstPaint(since: number): void {
  const ms = performance.now() - since;
  (window as unknown as { attentionLensFirstPaintMs?: number }).attentionLensFirstPaintMs = ms;
  if (!standalone) post({ type: 'log', level: 'info', message: `trace shown in ${ms.toFixed(1)} ms` });
}

const started = performance.now();
const restored = vscode.getState();
if (restored?.trace) {
  try {
    trace = traceFromJson(restored.trace);
    persistedTrace = restored.trace;
  } catch {
    trace = undefined;
  }
  cursor = restored.cursor ?? DEFAULT_CURSOR;
}
render();
if (trace) reportFirstPaint(started);
window.addEventListener('resize', () => render());
if (!standalone) post({ type: 'ready' });
