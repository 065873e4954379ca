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

const FORMATS: readonly [ExportFormat, string][] = [
  ['png', 'PNG'],
  ['svg', 'SVG'],
  ['csv', 'CSV'],
  ['json', 'JSON'],
  ['html', 'HTML (whole panel)'],
];

export function exportBarPart(ctx: PanelContext): PartSpec {
  return {
    name: 'export',
    key: (s) => {
      const stage = currentStage(s);
      return !ctx.standalone && stage && stage.kind !== 'tokens' && s.cursor.view !== 'grid' ? [] : undefined;
    },
    build: () => ({
      nodes: [
        h(
          'div',
          { class: 'export-bar' },
          h('span', { class: 'muted' }, 'Export: '),
          ...FORMATS.map(([f, label]) =>
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
  let content: string | Uint8Array;
  switch (format) {
    case 'csv':
      if (!shown) return banner('This stage has no matrix to export as CSV.', 'error');
      content = matrixToCsv(shown.matrix, zoomed && note ? { r0: zoomed.r0, c0: zoomed.c0, note } : undefined);
      break;
    case 'json':
      content = stageToJson(stage, { model: trace.model.id, text: trace.text, tokens: trace.tokens, head });
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
      const canvas = root.querySelector<HTMLCanvasElement>('canvas.heatmap, canvas.lines');
      if (!canvas) return banner('Nothing drawn to export as PNG.', 'error');
      const blob = await new Promise<Blob | null>((r) => opaque(canvas).toBlob(r, 'image/png'));
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
    const r = await ctx.request({ kind: 'save', format, suggestedName: `${base}.${format}`, content });
    if (r.path) banner(`Saved ${r.path}`, 'busy');
  } catch (err) {
    banner(`Export failed: ${(err as Error).message}`, 'error');
  }
}

/**
 * The canvas on the panel's own background: the heatmap's labels are drawn in the theme's
 * foreground, so a transparent PNG of a dark theme would be light-grey text on a white page.
 */
function opaque(canvas: HTMLCanvasElement): HTMLCanvasElement {
  const out = document.createElement('canvas');
  out.width = canvas.width;
  out.height = canvas.height;
  const g = out.getContext('2d');
  if (!g) return canvas;
  const bg = getComputedStyle(document.body).getPropertyValue('--vscode-editor-background').trim();
  g.fillStyle = bg || getComputedStyle(document.body).backgroundColor || '#ffffff';
  g.fillRect(0, 0, out.width, out.height);
  g.drawImage(canvas, 0, 0);
  return out;
}
