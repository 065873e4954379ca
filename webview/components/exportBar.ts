// Export the current view: PNG (the canvas as drawn), SVG (the same matrix and colour range,
// vector), CSV and JSON (exact values), HTML (the whole panel, built by the host).
import { assertNever, type ExportFormat } from '../../shared/protocol';
import { isSigned, legendTitle, scaleEndsFor } from '../../shared/tensorView';
import { h } from '../dom';
import { fileSafe, heatmapSvg, matrixToCsv, stageToJson } from '../exporters';
import { exportTarget } from '../matrices';
import { currentStage, zoomOf } from '../store';
import { axisName } from '../draw/heatmap';
import { clampView, isZoomed, sliceMatrix, viewText } from '../../shared/viewport';
import type { PanelContext, PartSpec } from './part';
import { snapshot, SNAPSHOT_MAX_PX, titled, viewExports, type SnapshotTheme } from '../snapshot';

const FORMATS: readonly [ExportFormat, string][] = [
  ['png', 'PNG'],
  ['svg', 'SVG'],
  ['csv', 'CSV'],
  ['json', 'JSON'],
  ['html', 'HTML (whole panel)'],
];

const GRID_FORMATS: readonly ExportFormat[] = ['png', 'csv', 'html'];

const VIEW_NAMES: Record<string, string> = {
  heatmap: 'heatmap',
  lines: 'lines (one head)',
  grid: 'all heads, grid',
  heads: 'head view (all heads, lines)',
  text: 'text view',
  neuron: 'neuron view',
};

/** The figure a DOM-made view exports as PNG (the heatmap and lines views export their canvas). */
const VIEW_ROOTS: Record<string, string> = {
  grid: '.grid-view',
  heads: '.head-view',
  text: '.text-view',
  neuron: '.neuron-view',
};

export function exportBarPart(ctx: PanelContext): PartSpec {
  return {
    name: 'export',
    key: (s) => {
      const stage = currentStage(s);
      // The grid is every head at once: its bar offers what makes sense for it (PNG, CSV of the sink shares, HTML).
      return !ctx.standalone && stage && stage.kind !== 'tokens' ? [s.cursor.view === 'grid'] : undefined;
    },
    build: ({ cursor }) => ({
      nodes: [
        h(
          'div',
          { class: 'export-bar', role: 'group', 'aria-label': 'Export this view' },
          h('span', { class: 'muted' }, 'Export: '),
          ...FORMATS.filter(([f]) => cursor.view !== 'grid' || GRID_FORMATS.includes(f)).map(([f, label]) =>
            h(
              'vscode-button',
              { secondary: true, 'data-testid': `export-${f}`, onclick: () => ctx.exportAs(f) },
              label,
            ),
          ),
        ),
      ],
    }),
  };
}

/** Builds the export of the current view and asks the host to save it; problems go to the banner. */
export async function exportAs(ctx: PanelContext, root: HTMLElement, format: ExportFormat): Promise<void> {
  const s = ctx.store.state;
  const trace = s.trace;
  const stage = currentStage(s);
  if (!trace || !stage) return;
  const banner = (text: string, kind: 'busy' | 'error'): void =>
    void ctx.store.dispatch({ type: 'banner', banner: { text, kind } });
  const whole = exportTarget(s);
  const head = s.cursor.head;
  // A zoomed heatmap exports its window (and says so); the lines view and the rest export the whole matrix.
  const stored =
    whole && s.cursor.view === 'heatmap' ? zoomOf(s, { stage: stage.id, tensor: whole.tensorName, head }) : undefined;
  const win = whole && stored ? clampView(stored, whole.matrix.rows, whole.matrix.cols) : undefined;
  const zoomed = whole && win && isZoomed(win, whole.matrix.rows, whole.matrix.cols) ? win : undefined;
  const note =
    whole && zoomed
      ? `zoomed window: ${viewText(zoomed, whole.matrix.rows, whole.matrix.cols, axisName(whole.matrix.rowAxis), axisName(whole.matrix.colAxis))}`
      : undefined;
  const shown = whole && zoomed ? { ...whole, matrix: sliceMatrix(whole.matrix, zoomed) } : whole;
  const base = fileSafe(
    `${trace.model.id}-${stage.id}${shown ? `-${shown.tensorName}` : ''}${head >= 0 ? `-h${head}` : '-mean'}${zoomed ? `-q${zoomed.r0}-${zoomed.r0 + zoomed.nr - 1}-k${zoomed.c0}-${zoomed.c0 + zoomed.nc - 1}` : ''}`,
  );
  const view = s.cursor.view;
  const domRoot = VIEW_ROOTS[view] ? root.querySelector<HTMLElement>(VIEW_ROOTS[view]) : null;
  const own = domRoot ? viewExports.get(domRoot) : undefined;
  // What the picture is: model, stage, view and head, on its first line.
  const title = `${trace.model.name} · ${stage.title} · ${VIEW_NAMES[view] ?? view}${
    view === 'grid' ? '' : head >= 0 ? ` · head ${head}` : ' · mean of heads'
  }${note ? ` · ${note}` : ''}`;
  let content: string | Uint8Array;
  let name = `${base}.${format}`;
  switch (format) {
    case 'csv':
      if (view === 'grid') {
        if (!own?.csv) return banner('The grid has nothing to export as CSV yet.', 'error');
        content = own.csv();
        name = `${fileSafe(`${trace.model.id}-${own.csvName ?? 'grid'}`)}.csv`;
        break;
      }
      if (!shown) return banner('This stage has no matrix to export as CSV.', 'error');
      content = matrixToCsv(shown.matrix, zoomed && note ? { r0: zoomed.r0, c0: zoomed.c0, note } : undefined);
      break;
    case 'json':
      try {
        content = stageToJson(stage, { model: trace.model.id, text: trace.text, tokens: trace.tokens, head });
      } catch (err) {
        return banner(`Export failed: ${(err as Error).message}`, 'error');
      }
      break;
    case 'svg':
      if (!shown) return banner('This stage has no matrix to export as SVG.', 'error');
      content = heatmapSvg(shown.matrix, {
        title: `${trace.model.name}: ${shown.title}${head >= 0 ? ` (head ${head})` : ' (mean of heads)'}${note ? ` — ${note}` : ''}`,
        colourMap: s.settings.colourMap,
        fixedRange: scaleEndsFor(shown.tensorName),
        diverging: isSigned(shown.tensorName),
        legendTitle: legendTitle(shown.tensorName),
      });
      break;
    case 'png': {
      let picture: HTMLCanvasElement;
      if (VIEW_ROOTS[view]) {
        if (!domRoot)
          return banner(`Nothing shown to export as PNG: the ${VIEW_NAMES[view]} is not available here.`, 'error');
        own?.prepare?.();
        const shot = snapshot(domRoot, title, pageTheme(), (e) => !e.matches(SKIP_IN_PNG));
        if (shot.cut) banner(`The PNG stops at ${SNAPSHOT_MAX_PX} px; the view is taller.`, 'busy');
        picture = shot.canvas;
      } else {
        const canvas = root.querySelector<HTMLCanvasElement>('canvas.heatmap, canvas.lines');
        if (!canvas) return banner('Nothing drawn to export as PNG.', 'error');
        picture = titled(canvas, title, pageTheme());
      }
      const blob = await new Promise<Blob | null>((r) => picture.toBlob(r, 'image/png'));
      if (!blob) return banner('The PNG could not be encoded.', 'error');
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
    const r = await ctx.request({ kind: 'save', format, suggestedName: name, content });
    if (r.path) banner(`Saved ${r.path}`, 'busy');
  } catch (err) {
    banner(`Export failed: ${(err as Error).message}`, 'error');
  }
}

/** Controls are not part of a view's picture (buttons, pickers, the colour-by and scale switches). */
const SKIP_IN_PNG = 'vscode-button, vscode-single-select, .colour-by, .hv-all, [data-testid="grid-readout"]';

/**
 * The panel's own background and text colour: the labels are drawn in the theme's foreground, so
 * a transparent PNG of a dark theme would be light-grey text on a white page. Opaque in every theme.
 */
function pageTheme(): SnapshotTheme {
  const cs = getComputedStyle(document.body);
  const v = (name: string): string => cs.getPropertyValue(name).trim();
  const bg = v('--vscode-editor-background') || cs.backgroundColor;
  return {
    background: !bg || bg === 'transparent' || bg === 'rgba(0, 0, 0, 0)' ? '#ffffff' : bg,
    foreground: v('--vscode-editor-foreground') || cs.color || '#000000',
    font: v('--vscode-font-family') || 'sans-serif',
  };
}
