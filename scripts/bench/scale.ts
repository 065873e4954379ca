// `npm run bench -- --only=scale`: real model sizes at real lengths, beside torch and BertViz's data
// path. Random-weight checkpoints from a seed in the Hugging Face layout (checkpoints.ts: written once
// into os.tmpdir()/attention-lens-bench/scale-*, reused): BERT-base-sized, GPT-2-small-sized and a
// SmolLM2-360M-shaped Llama with grouped-query attention.
// Each row (model × length) runs in fresh processes so peak RSS is that row's high-water mark:
//   ours   — load, one 16-token warm-up, model.run at the length (as the worker runs it, streamed: when
//            layer 0's stages were ready is its own column), the trace's
//            tensor bytes, then the whole-trace safetensors export (time, size, RSS after);
//   torch  — scripts/bench/scale_ref.py: the bare forward pass returning every layer's attention
//            (HF's output_attentions), float32, 2 threads;
//   BertViz — the same forward + torch.stack + .tolist() + json.dumps of head_view's params.
// A row whose estimated memory exceeds the limit (--max-gb=N, default 13, and what the machine has
// free) is skipped and says so. --quick: 128 and 512 tokens only. --scale-rows=gpt2-small:512,bert-base:512
// picks rows. Figures, not assertions.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { CHECKPOINT_CACHE, ensureScaleCheckpoint, SCALE_SHAPES, type Shape } from './checkpoints';

const CACHE = CHECKPOINT_CACHE;
const PY = '/usr/bin/python3';
const GB = 1024 ** 3;
const MB = 1024 ** 2;

const TEXT = Array.from(
  { length: 4000 },
  (_, i) => ['once', 'upon', 'a', 'time', 'there', 'was', 'a', 'little', 'girl', 'named', 'Mia', 'who'][i % 12],
).join(' ');

interface OursRow {
  tokens: number;
  loadMs: number;
  runMs: number;
  /** The run streamed (RunOptions.onStages, as the worker runs it): when layer 0's stages were ready, from the run's start. */
  firstLayerMs?: number;
  traceBytes: number;
  rssAfterRunGb: number;
  exportMs: number;
  exportBytes: number;
  exportTensors: number;
  peakRssGb: number;
  leaked: number;
  /** A reload's restore (causal LMs): the light form read back, the model loaded again, layer 0 made again from its input. */
  restore?: { bytes: number; readMs: number; loadMs: number; layerMs: number; totalMs: number };
}

/** In a fresh process: load, warm up on 16 tokens, run at `n`, export the trace; prints one JSON line. */
export async function measureScaleChild(dir: string, n: number): Promise<void> {
  const { initBackend, tf, defaultThreads } = await import('../../src/model/runtime/backend');
  const { loadHfModel } = await import('../../src/model/open/modelFiles');
  const { exportTraceSafetensors } = await import('../../src/model/formats/safetensorsWriter');
  await initBackend('wasm', { threads: defaultThreads() });
  const start = tf.memory().numTensors;
  const t0 = performance.now();
  const model = await loadHfModel(dir);
  const loadMs = performance.now() - t0;
  await model.run(TEXT, { maxTokens: 16 });
  const t1 = performance.now();
  let firstLayerMs: number | undefined;
  const trace = await model.run(TEXT, {
    maxTokens: n,
    onStages: (u) => {
      if (u.layersDone === 1) firstLayerMs = performance.now() - t1;
    },
  });
  const runMs = performance.now() - t1;
  const rssAfterRunGb = (process.resourceUsage().maxRSS * 1024) / GB;
  let traceBytes = 0;
  for (const s of trace.stages) for (const t of s.tensors) traceBytes += t.data.byteLength;
  model.dispose();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'al-scale-export-'));
  const file = path.join(out, 'trace.safetensors');
  const t2 = performance.now();
  const r = await exportTraceSafetensors(trace, file);
  const exportMs = performance.now() - t2;
  const restore = model.recomputeLayer ? await measureRestore(trace, dir, out) : undefined;
  fs.rmSync(out, { recursive: true, force: true });
  const row: OursRow = {
    tokens: trace.tokens.length,
    loadMs,
    runMs,
    ...(firstLayerMs !== undefined ? { firstLayerMs } : {}),
    traceBytes,
    rssAfterRunGb,
    exportMs,
    exportBytes: r.bytes,
    exportTensors: r.tensors,
    peakRssGb: (process.resourceUsage().maxRSS * 1024) / GB,
    leaked: tf.memory().numTensors - start,
    ...(restore ? { restore } : {}),
  };
  process.stdout.write('\n' + JSON.stringify(row) + '\n');
}

/**
 * What a reload does with a big causal-LM run (src/commands/visualise.ts restoreRun): the restore
 * cache's light form read from disk, the model loaded in a fresh worker, and the layer on screen
 * made again from its input (the adopting worker's first fetch).
 */
async function measureRestore(
  trace: import('../../shared/trace').Trace,
  dir: string,
  out: string,
): Promise<NonNullable<OursRow['restore']>> {
  const { lightForm, checkLightForm } = await import('../../shared/lazy');
  const { encode, decode } = await import('../../src/panel/restoreCache');
  const { loadHfModel } = await import('../../src/model/open/modelFiles');
  const file = path.join(out, 'restore.trace');
  fs.writeFileSync(file, encode(await lightForm(trace, async () => [])));
  const t0 = performance.now();
  const { trace: kept } = decode(fs.readFileSync(file));
  const readMs = performance.now() - t0;
  const model = await loadHfModel(dir);
  const loadMs = performance.now() - t0 - readMs;
  checkLightForm(kept, model.info.layers, model.info.dModel);
  const t1 = performance.now();
  model.recomputeLayer!(kept, 0);
  const layerMs = performance.now() - t1;
  model.dispose();
  return { bytes: fs.statSync(file).size, readMs, loadMs, layerMs, totalMs: performance.now() - t0 };
}

function ours(dir: string, n: number): OursRow {
  const script = `require(${JSON.stringify(__filename)}).measureScaleChild(${JSON.stringify(dir)}, ${n}).catch((e) => { console.error(e); process.exit(1); });`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as OursRow;
}

interface PyRow {
  tokens: number;
  forward_ms: number;
  attention_bytes: number;
  tolist_ms?: number;
  dumps_ms?: number;
  json_bytes?: number;
  peak_rss_kb: number;
}

function python(mode: 'forward' | 'bertviz', dir: string, n: number): PyRow {
  const out = execFileSync(PY, [path.join(__dirname, 'scale_ref.py'), mode, dir, String(n)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '2' },
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as PyRow;
}

/** GB the machine can give a row now (MemAvailable, less 2 GB for everything else). */
function availableGb(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return (Number(m[1]) * 1024) / GB - 2;
  } catch {
    // not Linux: fall through
  }
  return os.freemem() / GB - 2;
}

/** Rough peaks, to skip a row before it exhausts the machine. */
function estimates(s: Shape, n: number): { oursGb: number; bertvizGb: number; torchGb: number } {
  const weightsGb = (s.tensors().reduce((a, [, sh]) => a + sh.reduce((x, y) => x * y, 1), 0) * 4) / GB;
  const attention = s.layers * s.heads * n * n; // values per [layer, head, query, key]
  // Our eager trace: scores + weights per head, a mask, and ~12 [token × width] tensors per layer.
  const traceGb = (4 * (2 * attention + s.layers * n * n + s.layers * 12 * n * s.hidden)) / GB;
  return {
    oursGb: weightsGb * 1.5 + traceGb + 0.5,
    // Python floats (24 B) + list slots (8 B) + ~16 B of JSON text each, + the torch tensors.
    bertvizGb: weightsGb + (attention * (32 + 16 + 8)) / GB + 1,
    torchGb: weightsGb + (attention * 12) / GB + 1,
  };
}

export async function benchScale(options: { quick: boolean; argv: readonly string[] }): Promise<void> {
  const { table } = await import('./bench');
  const flag = (name: string): string | undefined =>
    options.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const maxGb = Number(flag('max-gb') ?? 13);
  const picked = flag('scale-rows')?.split(',');
  fs.mkdirSync(CACHE, { recursive: true });
  const rows: (string | number)[][] = [];
  const s = (ms: number | undefined): string => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
  const gb = (x: number | undefined): string => (x === undefined ? '–' : `${x.toFixed(2)} GB`);
  const mb = (x: number | undefined): string => (x === undefined ? '–' : `${(x / MB).toFixed(0)} MB`);
  const ratio = (a: number | undefined, b: number | undefined): string =>
    a === undefined || b === undefined ? '–' : `${(a / b).toFixed(2)}×`;
  console.log(
    `\nscale: checkpoints in ${CACHE}; rows ${picked ? picked.join(', ') : options.quick ? '128 and 512 tokens (--quick)' : 'all lengths'}; memory limit ${maxGb} GB per row (--max-gb=N)`,
  );
  for (const shape of SCALE_SHAPES) {
    const lengths = shape.lengths.filter((n) =>
      picked ? picked.includes(`${shape.name}:${n}`) : !options.quick || n <= 512,
    );
    if (lengths.length === 0) continue;
    const dir = ensureScaleCheckpoint(shape);
    for (const n of lengths) {
      const name = `${shape.name} @ ${n}`;
      if (n > shape.positions) {
        rows.push([name, `n/a: the model has ${shape.positions} positions`, ...Array(14).fill('')]);
        continue;
      }
      const load = os.loadavg()[0]!.toFixed(1);
      const est = estimates(shape, n);
      const limit = Math.min(maxGb, availableGb());
      const skip = (gbNeeded: number): string | undefined =>
        gbNeeded > limit ? `skipped: needs ~${gbNeeded.toFixed(0)} GB, limit ${limit.toFixed(0)} GB` : undefined;
      const o = skip(est.oursGb) ? undefined : ours(dir, n);
      console.log(`${name}: ours ${o ? JSON.stringify(o) : skip(est.oursGb)}`);
      const tokens = o?.tokens ?? n;
      const t = skip(est.torchGb) ? undefined : python('forward', dir, tokens);
      console.log(`${name}: torch ${t ? JSON.stringify(t) : skip(est.torchGb)}`);
      const b = skip(est.bertvizGb) ? undefined : python('bertviz', dir, tokens);
      console.log(`${name}: bertviz ${b ? JSON.stringify(b) : skip(est.bertvizGb)}`);
      const bertvizMs = b ? b.forward_ms + b.tolist_ms! + b.dumps_ms! : undefined;
      rows.push([
        name,
        o ? `${s(o.runMs)} (${o.tokens} tok)` : skip(est.oursGb)!,
        o?.firstLayerMs !== undefined ? `${s(o.firstLayerMs)} (${ratio(o.firstLayerMs, o.runMs)} of the run)` : '–',
        o ? mb(o.traceBytes) : '',
        o ? gb(o.peakRssGb) : '',
        o ? `${s(o.exportMs)}, ${mb(o.exportBytes)}` : '',
        o?.restore
          ? `${s(o.restore.totalMs)} (${mb(o.restore.bytes)} read ${s(o.restore.readMs)}, model ${s(o.restore.loadMs)}, layer ${s(o.restore.layerMs)})`
          : '–',
        t ? s(t.forward_ms) : skip(est.torchGb)!,
        t ? gb((t.peak_rss_kb * 1024) / GB) : '',
        b ? `${s(b.forward_ms)} + ${s(b.tolist_ms)} + ${s(b.dumps_ms)}` : skip(est.bertvizGb)!,
        b ? mb(b.json_bytes) : '',
        b ? gb((b.peak_rss_kb * 1024) / GB) : '',
        ratio(o?.runMs, t?.forward_ms),
        ratio(bertvizMs, o ? o.runMs + o.exportMs : undefined),
        ratio(b ? b.peak_rss_kb * 1024 : undefined, o ? o.peakRssGb * GB : undefined),
        load,
      ]);
      console.log(rows[rows.length - 1]!.join(' | '));
    }
  }
  table(
    'Real sizes at real lengths (random weights; ours: model.run with the whole eager trace, wasm, default threads, fresh process per row; export: the whole trace as safetensors; torch: float32 forward with output_attentions, 2 threads; BertViz: forward + .tolist() + json.dumps)',
    [
      'model @ tokens',
      'ours run',
      'ours layer 0 streamed',
      'trace tensors',
      'ours peak RSS',
      'ours export',
      'ours restore (kept light form read, model loaded, layer 0 made again)',
      'torch forward',
      'torch peak RSS',
      'BertViz forward + tolist + dumps',
      'BertViz JSON',
      'BertViz peak RSS',
      'ours / torch',
      'BertViz / ours (run + export)',
      'BertViz / ours peak RSS',
      'load avg at start',
    ],
    rows,
  );
}
