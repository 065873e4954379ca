// Command line: `node dist/cli.js --model NAME "text"` (or --file PATH) prints a readable summary;
// --json PATH writes the whole trace (tensors as base64 float32); --list-models lists built-ins.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from './model/runtime/backend';
import { BUILTIN_MODELS, DEFAULT_MODEL_ID, getModel } from './model/open/builtins';
import { loadModelFile } from './model/open/modelFiles';
import {
  findTensor,
  NORMALISERS,
  SCORE_FUNCTIONS,
  type Normaliser,
  type ScoreFunction,
  type Trace,
} from '../shared/trace';
import { traceToJson } from '../shared/codec';

interface Args {
  model: string;
  text?: string;
  file?: string;
  json?: string;
  score?: ScoreFunction;
  normaliser?: Normaliser;
  maxTokens?: number;
  list: boolean;
  help: boolean;
}

const USAGE = `Usage: attention-lens [--model ID|FOLDER] [--score dot|scaled-dot|general|additive] [--normaliser softmax|sparsemax|sigmoid]
                      [--max-tokens N] [--json OUT.json] ("text" | --file PATH)
       attention-lens --list-models`;

function parse(argv: string[]): Args {
  const a: Args = { model: DEFAULT_MODEL_ID, list: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--model') a.model = next();
    else if (arg === '--file') a.file = next();
    else if (arg === '--json') a.json = next();
    else if (arg === '--max-tokens') a.maxTokens = Number(next());
    else if (arg === '--score') {
      const v = next() as ScoreFunction;
      if (!SCORE_FUNCTIONS.includes(v)) throw new Error(`--score must be one of ${SCORE_FUNCTIONS.join(', ')}`);
      a.score = v;
    } else if (arg === '--normaliser') {
      const v = next() as Normaliser;
      if (!NORMALISERS.includes(v)) throw new Error(`--normaliser must be one of ${NORMALISERS.join(', ')}`);
      a.normaliser = v;
    } else if (arg === '--list-models') a.list = true;
    else if (arg === '--help' || arg === '-h') a.help = true;
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
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
    lines.push(
      `\nnext-token prediction after the last position: ${last.top.map((c) => `${JSON.stringify(c.text)} ${(c.p * 100).toFixed(1)}%`).join(', ')}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.list) {
    for (const m of BUILTIN_MODELS) console.log(`${m.id.padEnd(26)} ${m.label}\n${' '.repeat(27)}${m.description}`);
    return 0;
  }
  const text = args.file ? fs.readFileSync(args.file, 'utf8') : args.text;
  if (text === undefined) {
    console.error(USAGE);
    return 2;
  }
  const backend = await initBackend('wasm', path.join(__dirname, 'wasm'));
  if (backend.warning) console.error(`warning: ${backend.warning}`);
  // A folder (or the config.json / model.json in it) is a user's model, loaded from its files; otherwise a built-in id.
  const local = fs.existsSync(args.model)
    ? fs.statSync(args.model).isDirectory()
      ? path.join(args.model, 'config.json')
      : args.model
    : undefined;
  const model = local ? await loadModelFile(local) : await getModel(args.model);
  const before = tf.memory().numTensors;
  const trace = await model.run(text, { score: args.score, normaliser: args.normaliser, maxTokens: args.maxTokens });
  console.log(summary(trace));
  if (args.json) {
    fs.writeFileSync(args.json, JSON.stringify(traceToJson(trace)));
    console.error(`wrote ${args.json}`);
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) console.error(`warning: ${leaked} tensors leaked`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`error: ${err.message}`);
    process.exit(1);
  },
);
