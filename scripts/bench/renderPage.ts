// Runs in Chromium (bundled by scripts/bench/render.ts): times the panel's drawing code on
// synthetic attention — one heatmap at 128 and 512 tokens, and a 12 × 12 all-heads grid.
import { drawHeatmap, HeatmapPainter, layoutHeatmap } from '../../webview/draw/heatmap';
import { paintThumb } from '../../webview/draw/thumb';
import { headMean } from '../../shared/derived';
import type { Matrix } from '../../shared/tensorView';

function softmaxRows(n: number, seed: number): Float32Array {
  const a = new Float32Array(n * n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j <= i; j++) {
      x = (x * 1664525 + 1013904223) >>> 0;
      const v = Math.exp((x / 2 ** 32) * 4);
      a[i * n + j] = v;
      sum += v;
    }
    for (let j = 0; j <= i; j++) a[i * n + j]! /= sum;
  }
  return a;
}

function time(fn: () => void, repeats = 3): number {
  const xs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    xs.push(performance.now() - t0);
  }
  return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

(window as unknown as { runBench: () => Record<string, number> }).runBench = () => {
  const out: Record<string, number> = {};
  for (const n of [128, 512]) {
    const data = softmaxRows(n, n);
    const labels = Array.from({ length: n }, (_, i) => `tok${i}`);
    const m: Matrix = {
      rows: n,
      cols: n,
      data,
      rowLabels: labels,
      colLabels: labels,
      rowAxis: 'query',
      colAxis: 'key',
    };
    const canvas = document.createElement('canvas');
    document.body.append(canvas);
    out[`heatmap_${n}_ms`] = time(() => {
      const l = layoutHeatmap(m, 900);
      canvas.width = l.width;
      canvas.height = l.height;
      const ctx = canvas.getContext('2d')!;
      drawHeatmap(ctx, m, l, {
        colourMap: 'viridis',
        foreground: '#000',
        font: 'monospace',
        scale: { min: 0, max: 1 },
      });
      ctx.getImageData(0, 0, 1, 1); // flush
    });
    // Moving the cell cursor (hover, arrow keys) copies the drawn heatmap back instead of redrawing it.
    const l = layoutHeatmap(m, 900);
    const painter = new HeatmapPainter(canvas.getContext('2d')!, m, {
      colourMap: 'viridis',
      foreground: '#000',
      font: 'monospace',
      scale: { min: 0, max: 1 },
    });
    painter.draw(l);
    let step = 0;
    out[`cursor_${n}_ms`] =
      time(() => {
        for (let i = 0; i < 10; i++) painter.moveCursor(l, { row: step % n, col: step++ % n });
        canvas.getContext('2d')!.getImageData(0, 0, 1, 1);
      }) / 10;
    // 12 layers × 12 heads of n × n weights, each thumbnail downsampled to 72 × 72, plus 12 head means.
    const heads = Array.from({ length: 12 }, (_, h) => softmaxRows(n, 1000 + h));
    const layer = new Float32Array(12 * n * n);
    heads.forEach((h, i) => layer.set(h, i * n * n));
    const reused = document.createElement('canvas');
    out[`grid_reuse_${n}_ms`] = time(() => {
      for (let l = 0; l < 12; l++)
        for (let h = 0; h < 12; h++) paintThumb(reused, heads[(h + l) % 12]!, n, n, 'viridis');
    }, 1);
    out[`grid_12x12_${n}_ms`] = time(() => {
      for (let l = 0; l < 12; l++) {
        for (let h = 0; h < 12; h++)
          paintThumb(document.createElement('canvas'), heads[(h + l) % 12]!, n, n, 'viridis');
        paintThumb(document.createElement('canvas'), headMean(layer, 12, n, n), n, n, 'viridis');
      }
    }, 1);
  }
  return out;
};
