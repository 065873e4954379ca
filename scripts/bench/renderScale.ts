// `npm run bench -- --only=render-scale` (also run at the end of --only=scale): the real panel script
// (dist/webview.js) in Debian's Chromium on a real-sized run, against issue 13's goals. For each row
// (GPT-2-small-sized at 1,024 tokens, BERT-base-sized at 512; --scale-rows=gpt2-small:1024 picks), a
// fresh Node process loads the checkpoint (checkpoints.ts), runs it, keeps the whole trace as the host
// does and serves the panel its index (shared/lazy.ts traceIndex) and the tensors and pooled grid
// thumbnails it asks for (fetchTensor, gridThumbnails), as binary fetch() bodies from a loopback HTTP
// server, which the page hands to the panel by window.postMessage (structured clone, as a VS Code
// webview receives them). Timed in
// the page, clicking the panel's own controls: index arrives → first heatmap painted (the panel's own
// attentionLensFirstPaintMs, with the fetch of head 0's tensors), head, stage and layer switches
// (median of 3), the all-heads grid painted; the webview's JS heap (CDP Runtime.getHeapUsage: V8 heap
// and ArrayBuffer backing stores) after each. Figures, not assertions.
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BERT_BASE, ensureScaleCheckpoint, GPT2_SMALL } from './checkpoints';
import { encodeBinary } from './binaryMessage';
import type { TensorRequest } from '../../shared/lazy';

const ROOT = path.resolve(__dirname, '..', '..');
const MB = 1024 ** 2;
const ROWS = [
  { shape: GPT2_SMALL, tokens: 1024 },
  { shape: BERT_BASE, tokens: 512 },
];
const TEXT = Array.from(
  { length: 4000 },
  (_, i) => ['once', 'upon', 'a', 'time', 'there', 'was', 'a', 'little', 'girl', 'named', 'Mia', 'who'][i % 12],
).join(' ');

const THEME = `:root, body {
  --vscode-foreground: #cccccc; --vscode-editor-foreground: #cccccc; --vscode-editor-background: #1f1f1f;
  --vscode-descriptionForeground: #9d9d9d; --vscode-font-family: system-ui, sans-serif; --vscode-font-size: 13px;
  --vscode-editor-font-family: monospace; --vscode-button-background: #0078d4; --vscode-button-foreground: #fff;
  --vscode-panel-border: #2b2b2b; --vscode-focusBorder: #0078d4; }
body { background: #1f1f1f; color: #cccccc; }`;

interface Heap {
  usedMb: number;
  backingMb: number;
  /** The page's renderer processes' resident anonymous memory (Linux /proc RssAnon): what the buffers really occupy. */
  rssMb: number;
}

export interface RenderScaleRow {
  name: string;
  tokens: number;
  runMs: number;
  traceMb: number;
  indexMb: number;
  indexFetchMs: number;
  firstPaintMs: number;
  headMs: number[];
  cachedHeadMs: number[];
  stageMs: number[];
  layerMs: number[];
  gridMs: number;
  heapFirst: Heap;
  heapEnd: Heap;
  heapAfterGc: Heap;
  hostTensorMs: number;
  hostThumbsMs: number;
  /** The run's time spent pooling the grid as its layers were made. */
  poolMs: number;
  screenshot: string;
}

function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** In a fresh process: run the checkpoint, serve the panel, time it; prints one JSON line. */
export async function renderScaleChild(dir: string, name: string, n: number): Promise<void> {
  const { initBackend, defaultThreads } = await import('../../src/model/runtime/backend');
  const { loadHfModel } = await import('../../src/model/open/modelFiles');
  const { fetchTensor, traceIndex, traceBytes } = await import('../../shared/lazy');
  const { GridPool, gridThumbnails } = await import('../../shared/derived');
  await initBackend('wasm', { threads: defaultThreads() });
  const model = await loadHfModel(dir);
  // As the worker does: the grid is pooled as each layer is made (its share of the run is timed).
  const pool = new GridPool();
  let poolMs = 0;
  const t0 = performance.now();
  const trace = await model.run(TEXT, {
    maxTokens: n,
    onLayerStages: (layer) => {
      const t = performance.now();
      pool.add(layer);
      poolMs += performance.now() - t;
    },
  });
  const runMs = performance.now() - t0;
  model.dispose();
  const index = traceIndex(trace);
  const stage = trace.stages.findIndex((s) => s.kind === 'normalise' && s.layer === 0);
  const settings = { colourMap: 'viridis', topK: 5, score: 'scaled-dot', normaliser: 'softmax' };
  const traceMsg = encodeBinary({
    type: 'trace',
    key: 1,
    trace: index,
    cursor: { stage, head: 0, view: 'heatmap' },
    settings,
  });
  let hostTensorMs = 0;
  let hostThumbsMs = 0;
  const page$ = await esbuild.build({
    entryPoints: [path.join(__dirname, 'renderScalePage.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
  });
  const html = `<!DOCTYPE html><html><head><meta charset="UTF-8"><style>${THEME}\n${readFileSync(path.join(ROOT, 'media', 'panel.css'), 'utf8')}</style></head>
<body><div id="app"></div><script>${page$.outputFiles[0]!.text}</script><script src="/webview.js"></script></body></html>`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
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
  let closeServer = (): void => {};
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // A plain HTTP server on the loopback (not page.route, which would carry every body over the
    // DevTools pipe as base64): binary bodies, as close to a webview's message as a page gets.
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const send = (b: Uint8Array | string, type: string): void => {
          res.writeHead(200, { 'content-type': type });
          res.end(Buffer.from(b));
        };
        try {
          const url = new URL(req.url ?? '/', 'http://localhost');
          if (url.pathname === '/panel.html') return send(html, 'text/html');
          if (url.pathname === '/webview.js')
            return send(readFileSync(path.join(ROOT, 'dist', 'webview.js'), 'utf8'), 'text/javascript');
          if (url.pathname === '/bench/ready') return send(traceMsg, 'application/octet-stream');
          if (url.pathname === '/bench/request') {
            const ask = JSON.parse(Buffer.concat(chunks).toString('utf8')) as
              | { kind: 'tensors'; want: TensorRequest[] }
              | { kind: 'thumbnails'; max: number };
            const t = performance.now();
            const result =
              ask.kind === 'tensors'
                ? ask.want.map((r) => fetchTensor(trace, r))
                : gridThumbnails(trace, Math.max(8, Math.min(512, ask.max)), pool);
            if (ask.kind === 'tensors') hostTensorMs += performance.now() - t;
            else hostThumbsMs += performance.now() - t;
            return send(encodeBinary(result), 'application/octet-stream');
          }
          res.writeHead(404);
          res.end('not found');
        } catch (err) {
          res.writeHead(500);
          res.end((err as Error).message);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closeServer = () => server.close();
    const port = (server.address() as { port: number }).port;
    const cdp = await page.context().newCDPSession(page);
    const heap = async (): Promise<Heap> => {
      const h = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number };
      return {
        usedMb: h.usedSize / MB,
        backingMb: (h.backingStorageSize ?? NaN) / MB,
        rssMb: rendererRssMb(process.pid),
      };
    };
    await page.goto(`http://127.0.0.1:${port}/panel.html`);
    const move = (what: string, arg?: string): Promise<number> =>
      page.evaluate(
        ([w, a]) => (window as unknown as { benchMove: (w: string, a?: string) => Promise<number> }).benchMove(w!, a),
        [what, arg] as const,
      );
    await move('first');
    const { firstPaintMs, indexFetchMs } = await page.evaluate(() => {
      const w = window as unknown as { attentionLensFirstPaintMs?: number; benchIndexMs?: number };
      return { firstPaintMs: w.attentionLensFirstPaintMs ?? NaN, indexFetchMs: w.benchIndexMs ?? NaN };
    });
    const heapFirst = await heap();
    // ATTENTION_LENS_BENCH_PROFILE=1 (or =heads, =layers): the page's CPU profile of the head (or layer) switches, for DevTools.
    const profiled = process.env.ATTENTION_LENS_BENCH_PROFILE;
    const profileOf = async (what: 'heads' | 'layers', start: boolean): Promise<void> => {
      if (profiled !== what && !(what === 'heads' && profiled === '1')) return;
      if (start) {
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.start');
        return;
      }
      const { profile: p } = (await cdp.send('Profiler.stop')) as { profile: unknown };
      const out = path.join(ROOT, 'test-results', `bench-render-scale-${name}-${n}-${what}.cpuprofile`);
      writeFileSync(out, JSON.stringify(p));
      process.stderr.write(`${what === 'heads' ? 'head' : 'layer'} switches' CPU profile: ${out}\n`);
    };
    await profileOf('heads', true);
    // ATTENTION_LENS_BENCH_TRACE=1: a Chrome trace of the head switches (layout, paint, message
    // decoding: the native time a CPU profile calls "(program)").
    const tracing = process.env.ATTENTION_LENS_BENCH_TRACE === '1';
    const traceOut = path.join(ROOT, 'test-results', `bench-render-scale-${name}-${n}-heads.trace.json`);
    if (tracing) await browser.startTracing(page, { path: traceOut, categories: ['devtools.timeline', 'v8', 'blink'] });
    const headMs = [];
    for (const h of ['1', '2', '3']) headMs.push(await move('head', h));
    if (tracing) {
      await browser.stopTracing();
      process.stderr.write(`head switches' trace: ${traceOut}\n`);
    }
    await profileOf('heads', false);
    // Back to heads already loaded: the panel's own work, with no fetch.
    const cachedHeadMs = [await move('headTo', '1'), await move('headTo', '2'), await move('headTo', '3')];
    const stageMs = [];
    for (let i = 0; i < 2; i++) stageMs.push(await move('stage', 'next'), await move('stage', 'back'));
    const layerMs = [];
    const last = Math.max(...trace.stages.map((s) => s.layer ?? 0));
    await profileOf('layers', true);
    for (const l of [Math.floor(last / 2), last, 0]) layerMs.push(await move('layer', String(l)));
    await profileOf('layers', false);
    const shot = path.join(ROOT, 'test-results', `bench-render-scale-${name}-${n}.png`);
    await page.screenshot({ path: shot });
    const gridMs = await move('grid');
    await page.screenshot({ path: shot.replace('.png', '-grid.png') });
    const heapEnd = await heap();
    await cdp.send('HeapProfiler.collectGarbage');
    const heapAfterGc = await heap();
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    const row: RenderScaleRow = {
      name,
      tokens: trace.tokens.length,
      runMs,
      traceMb: traceBytes(trace) / MB,
      indexMb: traceMsg.byteLength / MB,
      indexFetchMs,
      firstPaintMs,
      headMs,
      cachedHeadMs,
      stageMs,
      layerMs,
      gridMs,
      heapFirst,
      heapEnd,
      heapAfterGc,
      hostTensorMs,
      hostThumbsMs,
      poolMs,
      screenshot: shot,
    };
    process.stdout.write('\n' + JSON.stringify(row) + '\n');
  } finally {
    await browser.close();
    closeServer();
  }
}

/** RssAnon of the Chromium renderer processes descending from `pid` (this process launched the browser; NaN off Linux). */
function rendererRssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const parent = new Map<number, number>();
    const procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
    for (const d of procs) {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    }
    const under = (p: number): boolean => {
      for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) if (q === pid) return true;
      return false;
    };
    let kb = 0;
    for (const d of procs) {
      const p = Number(d);
      if (!under(p) || !readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      kb += Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1] ?? 0);
    }
    return kb / 1024;
  } catch {
    return NaN;
  }
}

export async function benchRenderScale(options: { argv: readonly string[] }): Promise<void> {
  const exe = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(exe)) {
    console.log('\n## Panel at real sizes\n\nchromium not installed; skipped.');
    return;
  }
  if (!existsSync(path.join(ROOT, 'dist', 'webview.js'))) {
    console.log('\n## Panel at real sizes\n\ndist/webview.js missing: run `npm run build` first; skipped.');
    return;
  }
  const picked = options.argv
    .find((a) => a.startsWith('--scale-rows='))
    ?.slice('--scale-rows='.length)
    .split(',');
  const rows: RenderScaleRow[] = [];
  for (const { shape, tokens } of ROWS) {
    if (picked && !picked.includes(`${shape.name}:${tokens}`)) continue;
    const dir = ensureScaleCheckpoint(shape);
    const script = `require(${JSON.stringify(__filename)}).renderScaleChild(${JSON.stringify(dir)}, ${JSON.stringify(shape.name)}, ${tokens}).catch((e) => { console.error(e); process.exit(1); });`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const row = JSON.parse(out.trim().split('\n').pop()!) as RenderScaleRow;
    console.log(`render-scale ${shape.name} @ ${tokens}: ${JSON.stringify(row)}`);
    rows.push(row);
  }
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  const list = (xs: readonly number[]): string => `${ms(median(xs))} (${xs.map((x) => x.toFixed(0)).join(', ')})`;
  const heap = (h: Heap): string =>
    `${h.usedMb.toFixed(0)} MB + ${h.backingMb.toFixed(0)} MB buffers, RSS ${Number.isFinite(h.rssMb) ? h.rssMb.toFixed(0) : '?'} MB`;
  console.log(
    '\n## The real panel script in Chromium at real sizes (issue 13 goals: head/stage switch < 100 ms, grid < 500 ms, webview < 300 MB)\n',
  );
  console.log(
    '| model @ tokens | run (Node) | trace / index sent | index → first heatmap | head switch | head switch, loaded head | stage switch | layer switch | grid painted | webview heap: first heatmap / end / after GC | host: tensor slices, grid (pooled in the run) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.name} @ ${r.tokens} | ${(r.runMs / 1000).toFixed(1)} s | ${r.traceMb.toFixed(0)} MB / ${r.indexMb.toFixed(2)} MB (${ms(r.indexFetchMs)}) | ${ms(r.firstPaintMs)} | ${list(r.headMs)} | ${list(r.cachedHeadMs)} | ${list(r.stageMs)} | ${list(r.layerMs)} | ${ms(r.gridMs)} | ${heap(r.heapFirst)} / ${heap(r.heapEnd)} / ${heap(r.heapAfterGc)} | ${ms(r.hostTensorMs)}, ${ms(r.hostThumbsMs)} (${ms(r.poolMs)}) |`,
    );
  console.log(
    '\nSwitches click the panel’s own controls and end when the panel shows the new head, stage or layer (each fetches its tensors from the host: one head of the block past 32 MB). Heap: CDP Runtime.getHeapUsage (V8 heap + ArrayBuffer backing stores; a buffer’s untouched pages count there, not in memory), and the renderer’s resident anonymous memory (RssAnon). Screenshots in test-results/bench-render-scale-*.png.',
  );
}
