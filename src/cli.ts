// Command line: `node dist/cli.js --model NAME "text"` (or --file PATH) prints a readable summary;
// --json PATH writes the whole trace (tensors as base64 float32; with --generate, the generated
// tokens with their probabilities and alternatives); --export OUT.safetensors writes it as
// safetensors (streamed, any size) with OUT.index.json beside it; --list-models lists built-ins,
// --list-cache the Hugging Face cache; --download REPO[@REV] fetches a checkpoint into that cache.
// --memory-budget MB refuses a run whose estimated memory is larger before it starts (default: the
// attentionLens.memoryBudgetMB setting's default), as the extension's worker does.
// Exit codes: 0 done, 1 the model or input was refused, 2 bad usage, 3 the download failed,
// 124 --timeout expired, 130 interrupted.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from './model/runtime/backend';
import { BUILTIN_MODELS, DEFAULT_MODEL_ID, findModel, getModel } from './model/open/builtins';
import { loadModelFile } from './model/open/modelFiles';
import { runConfigFile } from './model/open/runConfig';
import {
  checkBudget,
  checkBudgetTokens,
  CLI_NAMES,
  DEFAULT_MEMORY_BUDGET_MB,
  lightNote,
  needsLight,
  tokenBound,
} from './worker/budget';
import { LayerCache } from '../shared/lazy';
import { describeLine, formatBytes, hfCacheDir, listCachedModels } from './model/open/hfCache';
import { downloadPlan, HubError, parseRepoArg, planDownload } from './model/open/hub';
import {
  findTensor,
  NORMALISERS,
  SCORE_FUNCTIONS,
  type Normaliser,
  type ScoreFunction,
  type Trace,
} from '../shared/trace';
import { traceToJson } from '../shared/codec';
import { checkExportTarget, exportTraceSafetensors } from './model/formats/safetensorsWriter';
import { decodedOutput, predictionKind, predictionRowLabel } from '../shared/tensorView';
import {
  GENERATE_USAGE,
  isGenerateFlag,
  printGeneration,
  readGenerateFlag,
  samplingOf,
  type GenerateArgs,
} from './cliGenerate';

interface Args {
  model: string;
  text?: string;
  file?: string;
  json?: string;
  export?: string;
  force: boolean;
  score?: ScoreFunction;
  normaliser?: Normaliser;
  maxTokens?: number;
  timeoutSeconds?: number;
  memoryBudgetMB: number;
  download?: string;
  list: boolean;
  listCache: boolean;
  help: boolean;
  /** --generate N and its sampling flags (cliGenerate.ts). */
  gen: GenerateArgs;
}

/** Bad command-line usage: exit code 2. */
class UsageError extends Error {}

const EXIT = { ok: 0, refused: 1, usage: 2, download: 3, timeout: 124, interrupted: 130 } as const;

function positive(arg: string, v: string, integer: boolean): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new UsageError(
      `${arg} must be a positive ${integer ? 'whole number' : 'number'}; received ${JSON.stringify(v)}.`,
    );
  return n;
}

/** --memory-budget's bounds: attentionLens.memoryBudgetMB's. */
const MEMORY_BUDGET_RANGE = [64, 65536] as const;

function memoryBudget(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < MEMORY_BUDGET_RANGE[0] || n > MEMORY_BUDGET_RANGE[1])
    throw new UsageError(
      `--memory-budget must be a whole number of MB from ${MEMORY_BUDGET_RANGE[0]} to ${MEMORY_BUDGET_RANGE[1]}; received ${JSON.stringify(v)}.`,
    );
  return n;
}

const USAGE = `Usage: attention-lens [--model MODEL] [--score dot|scaled-dot|general|additive] [--normaliser softmax|sparsemax|sigmoid|hardmax|sampled]
                      [--max-tokens N] [--memory-budget MB] [--timeout SECONDS] [--json OUT.json] [--export OUT.safetensors [--force]]
                      ("text" | --file PATH)
       attention-lens --list-models | --list-cache
       attention-lens --download REPO[@REVISION] ["text"]
MODEL is a built-in id (--list-models), a checkpoint folder, its config.json, a TensorFlow.js model.json,
an *.attention.json (which carries its own input), or a repo id in the Hugging Face cache (--list-cache).
--memory-budget MB refuses a run estimated to need more (${MEMORY_BUDGET_RANGE[0]} to ${MEMORY_BUDGET_RANGE[1]}; default ${DEFAULT_MEMORY_BUDGET_MB}).
--export writes every tensor of the trace as float32 safetensors (named <stage>/<tensor>) and OUT.index.json
beside it (tokens, stages, formulas, predictions); an existing OUT or index is refused unless --force.
${GENERATE_USAGE}
Exit codes: 0 done, 1 model or input refused, 2 bad usage, 3 download failed, 124 timed out, 130 interrupted.`;

function parse(argv: string[]): Args {
  const a: Args = {
    model: DEFAULT_MODEL_ID,
    force: false,
    list: false,
    listCache: false,
    help: false,
    gen: {},
    memoryBudgetMB: DEFAULT_MEMORY_BUDGET_MB,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--model') a.model = next();
    else if (arg === '--file') a.file = next();
    else if (arg === '--json') a.json = next();
    else if (arg === '--export') a.export = next();
    else if (arg === '--force') a.force = true;
    else if (arg === '--max-tokens') a.maxTokens = positive(arg, next(), true);
    else if (arg === '--timeout') a.timeoutSeconds = positive(arg, next(), false);
    else if (arg === '--memory-budget') a.memoryBudgetMB = memoryBudget(next());
    else if (arg === '--download') a.download = next();
    else if (arg === '--list-cache') a.listCache = true;
    else if (isGenerateFlag(arg)) readGenerateFlag(a.gen, arg, next(), (m) => new UsageError(m));
    else if (arg === '--score') {
      const v = next() as ScoreFunction;
      if (!SCORE_FUNCTIONS.includes(v)) throw new UsageError(`--score must be one of ${SCORE_FUNCTIONS.join(', ')}`);
      a.score = v;
    } else if (arg === '--normaliser') {
      const v = next() as Normaliser;
      if (!NORMALISERS.includes(v)) throw new UsageError(`--normaliser must be one of ${NORMALISERS.join(', ')}`);
      a.normaliser = v;
    } else if (arg === '--list-models') a.list = true;
    else if (arg === '--help' || arg === '-h') a.help = true;
    else if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
    else a.text = a.text === undefined ? arg : `${a.text} ${arg}`;
  }
  return a;
}

function summary(trace: Trace): string {
  const lines = [
    `${trace.model.name} on ${trace.tokens.length} tokens (${trace.backend}, ${trace.elapsedMs.toFixed(1)} ms)`,
  ];
  lines.push(`tokens: ${trace.tokens.map((t) => JSON.stringify(t.text)).join(' ')}`);
  if (trace.outputTokens) lines.push(`output: ${trace.outputTokens.map((t) => t.text).join('')}`);
  for (const w of trace.warnings) lines.push(`warning: ${w}`);
  for (const n of trace.notes ?? []) lines.push(`note: ${n}`);
  for (const s of trace.stages) {
    lines.push(`\n[${s.id}] ${s.title}   ${s.formula}`);
    for (const t of s.tensors)
      lines.push(`    ${t.name.padEnd(8)} [${t.shape.map((n, i) => `${n} ${t.axes[i]}`).join(' × ')}]`);
    const w = s.kind === 'normalise' ? findTensor(s, 'weights') : undefined;
    if (w && w.shape.length === 3) {
      // For each head: the key each query attends to most (first 12 queries).
      const [H, Q, K] = w.shape as [number, number, number];
      for (let h = 0; h < H; h++) {
        const arg: string[] = [];
        for (let q = 0; q < Math.min(Q, 12); q++) {
          let best = 0;
          for (let k = 1; k < K; k++) if (w.data[(h * Q + q) * K + k]! > w.data[(h * Q + q) * K + best]!) best = k;
          arg.push(`${q}→${best}`);
        }
        lines.push(`    head ${h}: argmax key per query ${arg.join(' ')}`);
      }
    }
  }
  if (trace.predictions?.length) {
    const last = trace.predictions[trace.predictions.length - 1]!;
    const kind = predictionKind(trace);
    const where =
      kind === 'decoder'
        ? 'last decoder step'
        : kind === 'masked'
          ? 'masked-LM prediction at the last position'
          : 'next-token prediction after the last position';
    const label = predictionRowLabel(trace, last.position);
    if (kind === 'decoder') lines.push(`\ndecoded output: ${JSON.stringify(decodedOutput(trace))}`);
    lines.push(
      `${kind === 'decoder' ? '' : '\n'}${where} (${label}): ${last.top.map((c) => `${JSON.stringify(c.text)} ${(c.p * 100).toFixed(1)}%`).join(', ')}`,
    );
  }
  return lines.join('\n');
}

/** What --model names: a built-in, a model file (config.json / model.json), an *.attention.json, or a cached repo's snapshot. */
async function resolveModel(spec: string): Promise<{ kind: 'builtin' | 'file' | 'attention-json'; path: string }> {
  if (fs.existsSync(spec)) {
    // A folder's missing config.json is the loader's to explain (exit 1), as for every other file.
    const file = fs.statSync(spec).isDirectory() ? path.join(spec, 'config.json') : spec;
    return { kind: file.endsWith('.attention.json') ? 'attention-json' : 'file', path: file };
  }
  if (findModel(spec)) return { kind: 'builtin', path: spec };
  const { repoId, revision } = /^[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(spec)
    ? parseRepoArg(spec)
    : { repoId: '', revision: '' };
  const cached = repoId
    ? (await listCachedModels()).find(
        (m) => m.repoId === repoId && (m.refs.includes(revision) || m.revision === revision),
      )
    : undefined;
  if (cached) return { kind: 'file', path: path.join(cached.dir, 'config.json') };
  throw new UsageError(
    `--model ${spec} is not a file or folder, a built-in id (${BUILTIN_MODELS.map((m) => m.id).join(', ')}) or a repo in the Hugging Face cache (${hfCacheDir()}); try --list-cache or --download ${spec}.`,
  );
}

/** Fetches a repo into the cache, printing the total first and progress on stderr; returns the snapshot folder. */
async function download(spec: string, signal: AbortSignal): Promise<string> {
  const { repoId, revision } = parseRepoArg(spec);
  const plan = await planDownload(repoId, revision, { signal });
  console.error(
    `${repoId}@${revision} (commit ${plan.commit.slice(0, 10)}): ${plan.files.length} files, ${formatBytes(plan.totalBytes)}, ${formatBytes(plan.bytesToFetch)} to fetch into ${hfCacheDir()}`,
  );
  let shown = -1;
  const snapshot = await downloadPlan(plan, {
    signal,
    onProgress: (p) => {
      const pct = Math.floor((100 * p.bytesDone) / Math.max(1, p.totalBytes));
      if (pct !== shown && process.stderr.isTTY) process.stderr.write(`\r${pct}% ${p.file}        `);
      shown = pct;
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.log(snapshot);
  return snapshot;
}

/** --file's text; a file that cannot be read is bad usage, named. */
function readInput(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(
      `--file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a folder' : e.message}.`,
    );
  }
}

/** The whole trace as safetensors + index, with progress on a terminal. */
async function writeExport(
  trace: Trace,
  file: string,
  force: boolean,
  signal: AbortSignal,
  layers?: LayerCache,
): Promise<void> {
  let shown = -1;
  const r = await exportTraceSafetensors(trace, file, {
    overwrite: force,
    signal,
    // A light-mode run: each layer made again as the file reaches it, one layer in memory.
    ...(layers ? { fetch: async (stage: string, tensor: string) => layers.data(stage, tensor) } : {}),
    onProgress: (f) => {
      const pct = Math.floor(f * 100);
      if (pct !== shown && process.stderr.isTTY) process.stderr.write(`\rexporting ${pct}%   `);
      shown = pct;
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.error(`wrote ${file} (${r.tensors} tensors, ${formatBytes(r.bytes)}) and ${r.indexPath}`);
}

async function main(signal: AbortSignal): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (args.list) {
    for (const m of BUILTIN_MODELS) console.log(`${m.id.padEnd(26)} ${m.label}\n${' '.repeat(27)}${m.description}`);
    return EXIT.ok;
  }
  if (args.listCache) {
    const models = await listCachedModels();
    console.log(`${hfCacheDir()}: ${models.length} model snapshot${models.length === 1 ? '' : 's'}`);
    for (const m of models) console.log(describeLine(m));
    return EXIT.ok;
  }
  if (args.download) {
    const snapshot = await download(args.download, signal);
    if (args.text === undefined && args.file === undefined) return EXIT.ok;
    args.model = snapshot;
  }
  const sampling = samplingOf(args.gen, (m) => new UsageError(m));
  if (args.force && !args.export)
    throw new UsageError('--force replaces an existing --export file; give --export OUT.safetensors with it.');
  const text = args.file ? readInput(args.file) : args.text;
  const which = await resolveModel(args.model);
  if (text === undefined && which.kind !== 'attention-json') {
    console.error(USAGE);
    return EXIT.usage;
  }
  // Checked before the model runs: a long run should not end in "cannot write".
  if (args.export) {
    await checkExportTarget(args.export, args.force).catch((err: Error) => {
      throw new UsageError(`--export: ${err.message}`);
    });
  }
  const backend = await initBackend('wasm', path.join(__dirname, 'wasm'));
  if (backend.warning) console.error(`warning: ${backend.warning}`);
  const options = { score: args.score, normaliser: args.normaliser, maxTokens: args.maxTokens, signal };
  const before = tf.memory().numTensors;
  let trace: Trace;
  /** A light-mode run's layers (recomputed for the export) and the model that makes them. */
  let layers: LayerCache | undefined;
  let releaseModel = (): void => {};
  if (which.kind === 'attention-json') {
    if (text !== undefined) console.error(`warning: ${which.path} carries its own input; the text given is not used.`);
    trace = await runConfigFile(
      fs.readFileSync(which.path, 'utf8'),
      path.dirname(path.resolve(which.path)),
      options,
      (info, input) =>
        'text' in input
          ? checkBudget(info, input.text, args.maxTokens, args.memoryBudgetMB, CLI_NAMES)
          : checkBudgetTokens(info, input.tokens, args.memoryBudgetMB, { budget: CLI_NAMES.budget }),
    );
  } else {
    const model = which.kind === 'file' ? await loadModelFile(which.path) : await getModel(which.path);
    // Generated tokens are attended over too: the prompt's bound plus --generate's count.
    const tokens = tokenBound(text!, args.maxTokens, model.info) + (args.gen.n ?? 0);
    let light: boolean;
    try {
      light = needsLight(model.info, tokens, args.memoryBudgetMB, model.recomputeLayer !== undefined, CLI_NAMES);
      if (light && (args.json || args.gen.n !== undefined))
        throw new UsageError(
          `${args.json ? '--json' : '--generate'} needs every tensor of the run at once, more than --memory-budget (${args.memoryBudgetMB} MB). ${lightNote(model.info, tokens, args.memoryBudgetMB, CLI_NAMES).replace(/^Light mode: /, '')} Use --export (it writes layer by layer), fewer --max-tokens or a larger --memory-budget.`,
        );
    } catch (err) {
      model.dispose();
      throw err;
    }
    trace = await model.run(text!, { ...options, light });
    if (light) {
      console.error(`note: ${lightNote(model.info, tokens, args.memoryBudgetMB, CLI_NAMES)}`);
      // The export remakes each layer with the model, so it stays loaded until then.
      layers = new LayerCache(trace, model.recomputeLayer!.bind(model), 1);
      releaseModel = () => model.dispose();
    }
    if (args.gen.n !== undefined) {
      console.log(summary(trace));
      if (args.export) await writeExport(trace, args.export, args.force, signal);
      const generated = await printGeneration(
        model,
        trace.tokens.map((t) => t.id),
        args.gen,
        sampling,
        signal,
      );
      if (args.json) {
        fs.writeFileSync(args.json, JSON.stringify(generated));
        console.error(`wrote ${args.json}`);
      }
      model.dispose();
      return EXIT.ok;
    }
    // The weights are freed before the leak count below, which counts only what the run left behind.
    if (!layers) model.dispose();
  }
  if (args.gen.n !== undefined)
    throw new UsageError(`--generate needs a model and a text, not ${which.path}, which carries its own input.`);
  console.log(summary(trace));
  if (args.json) {
    fs.writeFileSync(args.json, JSON.stringify(traceToJson(trace)));
    console.error(`wrote ${args.json}`);
  }
  if (args.export) await writeExport(trace, args.export, args.force, signal, layers);
  releaseModel();
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) console.error(`warning: ${leaked} tensors leaked`);
  return EXIT.ok;
}

const controller = new AbortController();
let timedOut = false;
process.once('SIGINT', () => controller.abort());
const timeoutArg = process.argv.indexOf('--timeout');
const timeoutSeconds = timeoutArg >= 0 ? Number(process.argv[timeoutArg + 1]) : NaN;
if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) {
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
    // A load that cannot be interrupted still ends here.
    setTimeout(() => {
      console.error(`error: timed out after ${timeoutSeconds} s`);
      process.exit(EXIT.timeout);
    }, 2000).unref();
  }, timeoutSeconds * 1000);
  timer.unref();
}

main(controller.signal).then(
  (code) => process.exit(code),
  (err: Error) => {
    if (timedOut) {
      console.error(`error: timed out after ${timeoutSeconds} s`);
      process.exit(EXIT.timeout);
    }
    console.error(`error: ${err.message}`);
    if (err instanceof UsageError) console.error('Run with --help for usage.');
    const code =
      err instanceof UsageError
        ? EXIT.usage
        : err instanceof HubError
          ? err.kind === 'cancelled'
            ? EXIT.interrupted
            : err.kind === 'bad-repo'
              ? EXIT.usage
              : EXIT.download
          : controller.signal.aborted
            ? EXIT.interrupted
            : EXIT.refused;
    process.exit(code);
  },
);
