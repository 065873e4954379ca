// Panel drawing speed in Debian's Chromium: heatmap at 128/512 tokens and the 12 × 12 grid.
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export async function benchRender(): Promise<void> {
  const exe = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(exe)) {
    console.log('\n## Panel drawing\n\nchromium not installed (npm test installs it); skipped.');
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-render-'));
  const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const bundle = await esbuild.build({ entryPoints: [path.join(__dirname, 'renderPage.ts')], bundle: true, write: false, format: 'iife', platform: 'browser' });
    writeFileSync(path.join(dir, 'index.html'), `<!DOCTYPE html><html><body><script>${bundle.outputFiles[0]!.text}</script></body></html>`);
    const page = await browser.newPage();
    await page.goto(`file://${path.join(dir, 'index.html')}`);
    const r = await page.evaluate(() => (window as unknown as { runBench: () => Record<string, number> }).runBench());
    console.log('\n## Panel drawing (Chromium, canvas; goal < 100 ms for the 12 × 12 grid at 128 tokens)\n');
    console.log('| tokens | one heatmap (layout + draw) | 12 × 12 grid + 12 head means, all thumbnails |');
    console.log('|---|---|---|');
    for (const n of [128, 512]) console.log(`| ${n} | ${r[`heatmap_${n}_ms`]!.toFixed(1)} ms | ${r[`grid_12x12_${n}_ms`]!.toFixed(1)} ms (${r[`grid_reuse_${n}_ms`]!.toFixed(1)} ms drawing into one canvas) |`);
    console.log('\nThe grid draws thumbnails lazily as they scroll into view, so the first screen costs a fraction of the full grid.');
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
