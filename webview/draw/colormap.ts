// Perceptually uniform colour maps (anchors sampled from matplotlib's viridis, cividis, magma),
// readable on light, dark and high-contrast themes and for colour-blind users; and ColorBrewer's
// RdBu (blue below 0, white at 0, red above) for signed tensors, centred on 0.
import type { ColourMap } from '../../shared/protocol';

type RGB = readonly [number, number, number];

/** A sequential map the user chose, or the diverging one signed tensors are drawn with. */
export type MapName = ColourMap | 'diverging';

const ANCHORS: Record<MapName, readonly RGB[]> = {
  diverging: [
    [5, 48, 97],
    [33, 102, 172],
    [67, 147, 195],
    [146, 197, 222],
    [209, 229, 240],
    [247, 247, 247],
    [253, 219, 199],
    [244, 165, 130],
    [214, 96, 77],
    [178, 24, 43],
    [103, 0, 31],
  ],
  viridis: [
    [68, 1, 84],
    [72, 36, 117],
    [65, 68, 135],
    [53, 95, 141],
    [42, 120, 142],
    [33, 145, 140],
    [34, 168, 132],
    [68, 191, 112],
    [122, 209, 81],
    [189, 223, 38],
    [253, 231, 37],
  ],
  cividis: [
    [0, 34, 78],
    [18, 53, 112],
    [59, 73, 108],
    [87, 92, 109],
    [112, 113, 115],
    [138, 134, 120],
    [165, 156, 116],
    [193, 180, 107],
    [222, 206, 92],
    [253, 234, 69],
    [255, 234, 70],
  ],
  magma: [
    [0, 0, 4],
    [20, 14, 54],
    [59, 15, 112],
    [100, 26, 128],
    [140, 41, 129],
    [183, 55, 121],
    [222, 73, 104],
    [247, 112, 92],
    [254, 159, 109],
    [254, 207, 146],
    [252, 253, 191],
  ],
};

/** Colour for t in [0, 1] (clamped; NaN → mid grey). */
export function colourAt(map: MapName, t: number): RGB {
  if (Number.isNaN(t)) return [128, 128, 128];
  const a = ANCHORS[map];
  const x = Math.min(1, Math.max(0, t)) * (a.length - 1);
  const i = Math.min(a.length - 2, Math.floor(x));
  const f = x - i;
  const p = a[i]!;
  const q = a[i + 1]!;
  return [
    Math.round(p[0] + (q[0] - p[0]) * f),
    Math.round(p[1] + (q[1] - p[1]) * f),
    Math.round(p[2] + (q[2] - p[2]) * f),
  ];
}

export function cssColour(map: MapName, t: number): string {
  const [r, g, b] = colourAt(map, t);
  return `rgb(${r},${g},${b})`;
}

const luts = new Map<MapName, Uint8ClampedArray>();

/** A 256-entry lookup table as packed RGBA bytes, for fast ImageData fills (built once per map). */
export function lut(map: MapName): Uint8ClampedArray {
  const cached = luts.get(map);
  if (cached) return cached;
  const out = new Uint8ClampedArray(256 * 4);
  luts.set(map, out);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = colourAt(map, i / 255);
    out.set([r, g, b, 255], i * 4);
  }
  return out;
}
