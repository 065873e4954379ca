// Grid thumbnails: a matrix of attention weights downsampled to a small canvas.
import type { ColourMap } from '../../shared/protocol';
import { downsample, GRID_THUMB } from '../../shared/derived';
import { colourRange } from '../../shared/tensorView';
import { lut } from './colormap';

export const THUMB = GRID_THUMB;

/** Fills a canvas with a matrix of weights, downsampled to at most THUMB × THUMB cells. */
export function paintThumb(
  canvas: HTMLCanvasElement,
  data: Float32Array,
  rows: number,
  cols: number,
  map: ColourMap,
  /** One scale for every thumbnail (0 to this); by default each is scaled to its own maximum. */
  sharedMax?: number,
): void {
  const d = downsample(data, rows, cols, THUMB);
  canvas.width = d.cols;
  canvas.height = d.rows;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(d.cols, d.rows);
  const table = lut(map);
  // From 0 to each thumbnail's own max (weak heads stay visible), or to one max shared by all (heads compare).
  const { min, max } = colourRange(d, sharedMax !== undefined ? { min: 0, max: sharedMax } : { min: 0 });
  const px = img.data;
  const scale = 255 / (max - min);
  for (let i = 0; i < d.data.length; i++) {
    const idx = Math.max(0, Math.min(255, ((d.data[i]! - min) * scale + 0.5) | 0)) * 4;
    const o = i * 4;
    px[o] = table[idx]!;
    px[o + 1] = table[idx + 1]!;
    px[o + 2] = table[idx + 2]!;
    px[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
