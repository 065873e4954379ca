// Benchmark: model inference per built-in model and length, the wasm backend's matmul peak,
// worker round trip, host event-loop delay during a run, tensor leaks, bytes per trace.
// Prints figures and ratios; asserts nothing about time.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import * as path from 'node:path';
import { defaultThreads, initBackend, tf } from '../../src/model/runtime/backend';
import { CATALOG } from '../../shared/catalog';
import { getModel } from '../../src/model/open/builtins';
import { EngineClient } from '../../src/engine/client';
import type { Trace } from '../../shared/trace';
import { benchLayers } from './layer';
import { benchRender } from './render';
import { benchLoad } from './load';
import { benchBig } from './bigCheckpoints';
import { benchScale } from './scale';
import { benchRenderScale } from './renderScale';
import { benchGenerate } from './generate';
import { benchTraffic } from './traffic';
import { execFileSync } from 'node:child_process';

const ROOT = path.resolve(__dirname, '..', '..');
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
// `--only=layer,models` runs just those parts (activation, layer, models, load, worker, render, generate, traffic; big, scale
// and render-scale only when named; scale ends with render-scale).
const only = [...args]
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const part = (name: string): boolean => !only || only.includes(name);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function time(fn: () => Promise<unknown> | unknown, repeats = quick ? 2 : 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const xs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

export function table(title: string, header: string[], rows: (string | number)[][]): void {
  console.log(`\n## ${title}\n`);
  const cells = [
    header,
    ...rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(2)) : c))),
  ];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  for (const [k, r] of cells.entries()) {
    console.log('| ' + r.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ') + ' |');
    if (k === 0) console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  }
}

const WORDS =
  'once upon a time there was a little girl named mia she loved to play in the park with her red ball one day the ball rolled under a big tree'.split(
    ' ',
  );
const DATE = 'Monday 23rd of November 2026 ';

function textOf(modelId: string, tokens: number): string {
  if (modelId.startsWith('seq2seq')) return DATE.repeat(Math.max(1, Math.ceil(tokens / DATE.length))).slice(0, tokens);
  return Array.from({ length: tokens }, (_, i) => WORDS[i % WORDS.length]).join(' ');
}

export function traceBytes(trace: Trace): { tensorBytes: number; jsonBytes: number } {
  let tensorBytes = 0;
  const skeleton = {
    ...trace,
    stages: trace.stages.map((s) => ({
      ...s,
      tensors: s.tensors.map((t) => {
        tensorBytes += t.data.byteLength;
        return { ...t, data: null };
      }),
    })),
  };
  return { tensorBytes, jsonBytes: JSON.stringify(skeleton).length };
}

/** Built-in models that the Python references can run too (scripts/reference/hf_families.py --time). */
const REFERENCE_DIRS: Readonly<Record<string, string>> = {
  'tinystories-656k': 'models/tinystories-656k',
  'english-encoder': 'models/english-encoder',
  'dates-transformer': 'models/dates-transformer',
};

type RefTimes = Record<'torch' | 'numpy', Map<number, number | string>>;

/** numpy and torch (2 threads) times for the same model and lengths; a message per cell when unavailable. */
function referenceTimes(modelId: string, lengths: number[]): RefTimes | string {
  const dir = REFERENCE_DIRS[modelId];
  if (!dir) return 'no reference implementation';
  const out: RefTimes = { torch: new Map(), numpy: new Map() };
  for (const engine of ['torch', 'numpy'] as const) {
    try {
      const args = [
        path.join(ROOT, 'scripts', 'reference', 'hf_families.py'),
        '--time',
        path.join(ROOT, dir),
        ...lengths.map(String),
        ...(engine === 'numpy' ? ['--numpy'] : []),
      ];
      const json = JSON.parse(
        execFileSync('/usr/bin/python3', args, {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, OMP_NUM_THREADS: '2' },
          timeout: 600_000,
        }),
      ) as { results: { tokens: number; ms: number | null; error?: string }[] };
      for (const r of json.results) out[engine].set(r.tokens, r.ms ?? r.error ?? 'n/a');
    } catch (err) {
      const msg = (err as Error).message;
      for (const n of lengths)
        out[engine].set(n, /No module named|ENOENT/.test(msg) ? `${engine} not installed` : 'failed');
    }
  }
  return out;
}

async function models(): Promise<void> {
  const lengths = [16, 64, 128, 512];
  const rows: (string | number)[][] = [];
  const refRows: (string | number)[][] = [];
  for (const entry of CATALOG) {
    // A forecaster reads 168 hourly volumes, not text of a given length: its own part (`--only=traffic`).
    if (entry.id.startsWith('traffic-')) continue;
    let model;
    try {
      model = await getModel(entry.id);
    } catch (err) {
      rows.push([entry.id, ...lengths.map(() => 'n/a'), `not available: ${(err as Error).message.slice(0, 60)}`]);
      continue;
    }
    const row: (string | number)[] = [entry.id];
    const refs = referenceTimes(entry.id, lengths);
    let bytes = '';
    for (const n of lengths) {
      const text = textOf(entry.id, n);
      const before = tf.memory().numTensors;
      let trace: Trace | undefined;
      const ms = await time(async () => (trace = await model.run(text, { maxTokens: n })), quick ? 1 : 3);
      const leak = tf.memory().numTensors - before;
      row.push(`${ms.toFixed(1)} ms (${trace!.tokens.length} tok)${leak ? ` LEAK ${leak}` : ''}`);
      if (typeof refs !== 'string') {
        const cell = (v: number | string | undefined): string =>
          typeof v === 'number' ? `${v.toFixed(1)} ms (ours ${(ms / v).toFixed(2)}×)` : (v ?? 'n/a');
        refRows.push([entry.id, n, `${ms.toFixed(1)} ms`, cell(refs.numpy.get(n)), cell(refs.torch.get(n))]);
      }
      if (n === 128) {
        const b = traceBytes(trace!);
        bytes = `${(b.tensorBytes / 1e6).toFixed(2)} MB tensors + ${(b.jsonBytes / 1e3).toFixed(1)} kB rest`;
      }
    }
    row.push(bytes);
    rows.push(row);
  }
  table(
    'Inference per built-in model (median, wasm backend, whole run() incl. tokenising and trace copies)',
    ['model', '16', '64', '128', '512', 'trace size at 128'],
    rows,
  );
  table(
    'The same models in numpy and torch (hf_families.py --time: forward pass only, float32, torch on 2 threads; ours is the whole run())',
    ['model', 'requested tokens', 'ours', 'numpy', 'torch'],
    refRows,
  );
  const none = CATALOG.filter((m) => !REFERENCE_DIRS[m.id]).map((m) => m.id);
  console.log(
    `\nNo Python timing for ${none.join(', ')}: their references (seq2seq_ref.py, the toy) check numbers, not speed.`,
  );
}

async function worker(): Promise<void> {
  const engine = new EngineClient(path.join(ROOT, 'dist', 'worker.js'));
  try {
    await engine.backend();
    const text = textOf('toy', 16);
    const local = await getModel('toy-self-attention');
    const inProcess = await time(() => local.run(text));
    const viaWorker = await time(() => engine.run({ modelId: 'toy-self-attention', text }).promise);
    const long = textOf('tinystories', 512);
    const h = monitorEventLoopDelay({ resolution: 1 });
    await engine.run({ modelId: 'tinystories-656k', text: long, maxTokens: 512 }).promise;
    h.enable();
    const t0 = performance.now();
    await engine.run({ modelId: 'tinystories-656k', text: long, maxTokens: 512 }).promise;
    const runMs = performance.now() - t0;
    h.disable();
    const mem0 = await engine.memory();
    for (let i = 0; i < 3; i++) await engine.run({ modelId: 'tinystories-656k', text: long }).promise;
    const mem1 = await engine.memory();
    table(
      'Worker thread',
      ['measure', 'value'],
      [
        ['toy run in process (16 tokens)', `${inProcess.toFixed(2)} ms`],
        ['toy run via worker (16 tokens)', `${viaWorker.toFixed(2)} ms`],
        ['worker round-trip overhead', `${(viaWorker - inProcess).toFixed(2)} ms`],
        ['TinyStories 512 tokens via worker', `${runMs.toFixed(1)} ms`],
        ['host event-loop delay during that run: max', `${(h.max / 1e6).toFixed(1)} ms`],
        ['host event-loop delay: p99', `${(h.percentile(99) / 1e6).toFixed(1)} ms`],
        [
          'worker numTensors before / after 3 runs',
          `${mem0.numTensors} / ${mem1.numTensors}${mem0.numTensors === mem1.numTensors ? ' (no leak)' : ' LEAK'}`,
        ],
      ],
    );
  } finally {
    engine.dispose();
  }
}

/** activate() of the built extension in a fresh process (cold module cache), as VS Code calls it. */
function activation(): void {
  const script = `const { timeActivation } = require(${JSON.stringify(path.join(__dirname, 'activation.ts'))}); process.stdout.write(JSON.stringify(timeActivation(${JSON.stringify(path.join(ROOT, 'dist', 'extension.js'))})));`;
  const runs = Array.from(
    { length: quick ? 3 : 7 },
    () =>
      JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' })) as {
        requireMs: number;
        activateMs: number;
        workerStarted: boolean;
        tfjsLoaded: boolean;
      },
  );
  const total = median(runs.map((r) => r.requireMs + r.activateMs));
  table(
    'Activation (dist/extension.js, fresh process, vscode API stubbed)',
    ['measure', 'value'],
    [
      ['load the bundle (require)', `${median(runs.map((r) => r.requireMs)).toFixed(1)} ms`],
      ['activate()', `${median(runs.map((r) => r.activateMs)).toFixed(1)} ms`],
      ['activation time (goal < 50 ms)', `${total.toFixed(1)} ms${total < 50 ? '' : ' OVER GOAL'}`],
      [
        'inference worker started by activation',
        runs.some((r) => r.workerStarted) ? 'yes (WRONG: the first run starts it)' : 'no',
      ],
      [
        'tfjs loaded into the extension host',
        runs.some((r) => r.tfjsLoaded) ? 'yes (WRONG: only the worker loads it)' : 'no',
      ],
    ],
  );
}

async function main(): Promise<void> {
  // One thread, as the extension runs built-in and other small models (the engine's small lane).
  const b = await initBackend('wasm', { threads: 1 });
  console.log(
    `# Attention Lens benchmark\n\nbackend: ${b.name}; built-in models on ${b.threads} thread${b.threads === 1 ? '' : 's'} (the engine's small-model lane), large checkpoints on ${defaultThreads()}${b.warning ? ` (${b.warning})` : ''}; node ${process.version}; ${quick ? 'quick mode' : 'full'}`,
  );
  if (part('activation')) activation();
  if (part('layer')) await benchLayers({ quick });
  if (part('models')) await models();
  if (part('load')) await benchLoad({ quick });
  if (part('worker')) await worker();
  if (part('render')) await benchRender();
  if (part('generate')) await benchGenerate({ quick });
  if (part('traffic')) await benchTraffic({ quick });
  // Not in the default run: it writes ~4 GB of checkpoints once and takes minutes.
  if (only?.includes('big')) await benchBig();
  // Not in the default run either: ~1.5 GB of checkpoints once, and rows that take minutes and GBs.
  if (only?.includes('scale')) await benchScale({ quick, argv: process.argv.slice(2) });
  // The real panel script in Chromium on the GPT-2-small-sized run at 1,024 tokens and BERT-base-sized at 512.
  if (only?.includes('scale') || only?.includes('render-scale'))
    await benchRenderScale({ argv: process.argv.slice(2) });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
