// The attention panel's UI. Reads the trace the host sends; computes only display transforms.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import type { Stage, TensorData, Trace } from '../src/model/trace';
import { findTensor } from '../src/model/trace';
import { assertNever, DEFAULT_CURSOR, type Cursor, type HostMessage, type PanelSettings, type PersistedState, type WebviewMessage } from '../src/protocol';
import { headsOf, jumpToPhase, layersOf, moveHead, moveStage, moveStep, PHASES, phaseOf, stepsOf } from '../src/navigation';
import { clear, h } from './dom';
import { drawHeatmap, hitTest, layoutHeatmap, type HeatmapStyle } from './heatmap';
import { formatValue, shapeText, toMatrix, tokenLabel, type Matrix } from './tensorView';

interface VsCodeApi {
  postMessage(msg: WebviewMessage): void;
  getState(): PersistedState | undefined;
  setState(s: PersistedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

let trace: Trace | undefined;
let cursor: Cursor = DEFAULT_CURSOR;
let settings: PanelSettings = { colourMap: 'viridis', topK: 5, score: 'scaled-dot', normaliser: 'softmax' };
const app = document.getElementById('app')!;

function post(msg: WebviewMessage): void {
  vscode.postMessage(msg);
}

function setCursor(c: Cursor, notify = true): void {
  cursor = c;
  vscode.setState({ trace, cursor });
  if (notify) post({ type: 'cursor', cursor });
  render();
}

window.addEventListener('message', (e: MessageEvent<HostMessage>) => {
  const msg = e.data;
  switch (msg.type) {
    case 'trace':
      trace = msg.trace;
      settings = msg.settings;
      setCursor(msg.cursor, false);
      return;
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
    case 'response':
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

function stageBody(t: Trace, stage: Stage): HTMLElement {
  const body = h('section', { class: 'stage-body' });
  if (stage.kind === 'tokens') {
    body.append(tokenChips(t));
    return body;
  }
  const kvHeadOf = stage.attention?.kvHeadOf;
  const grid = h('div', { class: 'matrices' });
  for (const tensor of stage.tensors) grid.append(matrixFigure(t, stage, tensor, kvHeadOf));
  body.append(grid);
  if (stage.kind === 'decoder-step' && t.predictions?.length) body.append(predictionsTable(t, stage));
  return body;
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

function isAttentionMatrix(tensor: TensorData): boolean {
  return tensor.name === 'weights' || tensor.name === 'scores';
}

function matrixFigure(t: Trace, stage: Stage, tensor: TensorData, kvHeadOf?: readonly number[]): HTMLElement {
  const m = toMatrix(t, tensor, cursor.head, kvHeadOf);
  const mask = findTensor(stage, 'mask');
  const matrix: Matrix = mask && isAttentionMatrix(tensor) && mask.shape.length === 2 ? { ...m, masked: (r, c) => mask.data[r * m.cols + c] === 0 } : m;
  const wide = isAttentionMatrix(tensor);
  const maxWidth = wide ? Math.max(320, app.clientWidth - 40) : Math.max(240, Math.min(480, (app.clientWidth - 60) / 2));
  const l = layoutHeatmap(matrix, maxWidth);
  const canvas = h('canvas', { class: 'heatmap', 'data-testid': `heatmap-${tensor.name}`, tabindex: 0, role: 'img', 'aria-label': `${tensor.name} ${shapeText(tensor)}` });
  const dpr = window.devicePixelRatio || 1;
  canvas.width = l.width * dpr;
  canvas.height = l.height * dpr;
  canvas.style.width = `${l.width}px`;
  canvas.style.height = `${l.height}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.scale(dpr, dpr);
  const st: HeatmapStyle = { ...style(), fixedRange: tensor.name === 'weights' ? { min: 0, max: 1 } : undefined, showValues: true };
  let cell: { row: number; col: number } | undefined;
  const readout = h('div', { class: 'readout', 'data-testid': `readout-${tensor.name}`, 'aria-live': 'polite' }, '\u00a0');
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
  return h('figure', { class: wide ? 'figure wide' : 'figure' }, h('figcaption', {}, h('b', {}, tensor.name), ' ', h('span', { class: 'shape', 'data-testid': `shape-${tensor.name}` }, shapeText(tensor)), headNote), canvas, readout);
}

const restored = vscode.getState();
if (restored?.trace) {
  trace = restored.trace;
  cursor = restored.cursor ?? DEFAULT_CURSOR;
}
render();
window.addEventListener('resize', () => render());
post({ type: 'ready' });
