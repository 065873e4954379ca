// Panel drawing speed in Debian's Chromium: heatmap at 128/512 tokens and the 12 × 12 grid.
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { initBackend } from '../../src/model/runtime/backend';
import { getModel } from '../../src/model/open/builtins';
import { standaloneHtml } from '../../src/panel/standalone';

const ROOT = path.resolve(__dirname, '..', '..');

export async function benchRender(): Promise<void> {
  const exe = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(exe)) {
    console.log('\n## Panel drawing\n\nchromium not installed (npm test installs it); skipped.');
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attention-lens-render-'));
  const browser = await chromium.launch({
    executablePath: exe,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const bundle = await esbuild.build({
      entryPoints: [path.join(__dirname, 'renderPage.ts')],
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
    });
    writeFileSync(
      path.join(dir, 'index.html'),
      `<!DOCTYPE html><html><body><script>${bundle.outputFiles[0]!.text}</script></body></html>`,
    );
    const page = await browser.newPage();
    await page.goto(`file://${path.join(dir, 'index.html')}`);
    const r = await page.evaluate(() => (window as unknown as { runBench: () => Record<string, number> }).runBench());
    console.log('\n## Panel drawing (Chromium, canvas; goal < 100 ms for the 12 × 12 grid at 128 tokens)\n');
    console.log('| tokens | one heatmap (layout + draw) | 12 × 12 grid + 12 head means, all thumbnails |');
    console.log('|---|---|---|');
    for (const n of [128, 512])
      console.log(
        `| ${n} | ${r[`heatmap_${n}_ms`]!.toFixed(1)} ms | ${r[`grid_12x12_${n}_ms`]!.toFixed(1)} ms (${r[`grid_reuse_${n}_ms`]!.toFixed(1)} ms drawing into one canvas) |`,
      );
    console.log(
      `\nMoving the cell cursor (hover, arrow keys): ${r.cursor_128_ms!.toFixed(2)} ms at 128 tokens, ${r.cursor_512_ms!.toFixed(2)} ms at 512 (the drawn heatmap is copied back, not redrawn).`,
    );
    console.log(
      '\nThe grid draws thumbnails lazily as they scroll into view, so the first screen costs a fraction of the full grid.',
    );
    // The real panel script on a real trace: TinyStories at 128 tokens, opened on layer 0's weights.
    await initBackend();
    const model = await getModel('tinystories-656k');
    const text = Array.from(
      { length: 120 },
      (_, i) => ['once', 'upon', 'a', 'time', 'there', 'was', 'a', 'girl'][i % 8],
    ).join(' ');
    const trace = await model.run(text, { maxTokens: 128 });
    const stage = trace.stages.findIndex((st) => st.id === 'L0.weights');
    const js = readFileSync(path.join(ROOT, 'dist', 'webview.js'), 'utf8');
    const css = readFileSync(path.join(ROOT, 'media', 'panel.css'), 'utf8');
    writeFileSync(path.join(dir, 'panel.html'), standaloneHtml(trace, { stage, head: 0, view: 'heatmap' }, js, css));
    const panel = await browser.newPage({ viewport: { width: 900, height: 900 } });
    await panel.goto(`file://${path.join(dir, 'panel.html')}`);
    const firstPaint = await panel.evaluate(
      () => (window as unknown as { attentionLensFirstPaintMs?: number }).attentionLensFirstPaintMs,
    );
    const bytes = trace.stages.flatMap((st) => st.tensors).reduce((a, t) => a + t.data.byteLength, 0);
    console.log(
      `\nTrace received → first heatmap painted, real panel script, TinyStories at ${trace.tokens.length} tokens (${(bytes / 1e6).toFixed(2)} MB of tensors): ${firstPaint?.toFixed(1)} ms (includes decoding the embedded trace).`,
    );
    // A cursor move renders once and rebuilds only what depends on it: time the clicks (drawing is synchronous).
    // A string, not a function: tsx would wrap the named helpers in __name(), which the page lacks.
    const moves = (await panel.evaluate(`(() => {
      const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const click = (sel) => { const el = document.querySelector(sel); const t0 = performance.now(); el.click(); return performance.now() - t0; };
      const head = Array.from({ length: 9 }, () => click('[aria-label="Next head"]'));
      const stage = Array.from({ length: 4 }, () => click('[data-testid="next-stage"]'));
      const back = Array.from({ length: 4 }, () => click('[data-testid="prev-stage"]'));
      return { head: median(head), stage: median([...stage, ...back]) };
    })()`)) as { head: number; stage: number };
    console.log(
      `Cursor moves on that panel: next head ${moves.head.toFixed(1)} ms, next/previous stage ${moves.stage.toFixed(1)} ms (median; header, stage bar and controls are not rebuilt).`,
    );
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
