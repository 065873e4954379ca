// Load benchmark: time (median) and peak memory for loading each built-in Hugging Face-layout model,
// each test-size family fixture under test/fixtures/hf/<family>/ that exists, and a generated ~100 MB
// Llama-layout checkpoint (single file and 2 shards + index): MB/s, peak RSS growth against the file
// size, ArrayBuffer growth, tfjs bytes held; plus reading the header only. Prints markdown tables.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { readSafetensorsHeader, writeSafetensors } from '../../src/model/formats/safetensors';
import { mulberry32 } from '../../src/model/families/toy/model';
import { table } from './bench';

const ROOT = path.resolve(__dirname, '..', '..');
const MB = 1024 * 1024;

/** Family → loader module and export, imported (in the child process) only for folders that exist. */
const LOADERS: Record<string, [string, string]> = {
  llama: ['src/model/families/llama/model', 'loadLlama'],
  bert: ['src/model/families/bert/model', 'loadBert'],
  distilbert: ['src/model/families/bert/model', 'loadBert'],
  roberta: ['src/model/families/bert/model', 'loadBert'],
  gpt2: ['src/model/families/gpt2/model', 'loadGpt2'],
  marian: ['src/model/families/marian/model', 'loadEncoderDecoder'],
  qwen2: ['src/model/families/qwen2/model', 'loadQwen2'],
  // Takes the model.json itself rather than a folder.
  'tfjs-layers': ['src/model/families/tfjsLayers/model', 'loadTfjsLayersModel'],
};

function folderBytes(target: string): number {
  let n = 0;
  // A model.json's weights are its .bin shards; a checkpoint folder's are its .safetensors files.
  const [dir, ext] = target.endsWith('.json') ? [path.dirname(target), '.bin'] : [target, '.safetensors'];
  for (const f of fs.readdirSync(dir)) if (f.endsWith(ext)) n += fs.statSync(path.join(dir, f)).size;
  return n;
}

interface Measure {
  ms: number;
  rssGrowth: number;
  arrayBuffersGrowth: number;
  tfBytes: number;
  leaked: number;
}

/**
 * Each measurement runs in a fresh Node process, so the allocator's and the wasm heap's leftovers
 * from earlier loads do not hide this one's memory: peak RSS is the kernel's high-water mark
 * (resourceUsage().maxRSS) and samples every 2 ms, ArrayBuffers are sampled every 2 ms, tfjs bytes
 * are read after the first load. Time is the median of `repeats` loads in that process.
 */
const CHILD = `
import { performance } from 'node:perf_hooks';
import { initBackend, tf } from ${JSON.stringify(path.join(ROOT, 'src/model/runtime/backend'))};
const job = JSON.parse(process.env.ATTENTION_LENS_LOAD_JOB);
const gc = globalThis.gc ?? (() => {});
(async () => {
  await initBackend('wasm');
  const before = tf.memory();
  let run;
  if (job.mode === 'load') {
    const load = (await import(job.module))[job.export];
    if (typeof load !== 'function') throw new Error(job.module + ' has no ' + job.export);
    run = async (t0) => {
      const model = await load(job.dir);
      const ms = performance.now() - t0;
      const tfBytes = tf.memory().numBytes - before.numBytes;
      model.dispose();
      return { ms, tfBytes };
    };
  } else {
    const { readCheckpointTensors } = await import(${JSON.stringify(path.join(ROOT, 'src/model/formats/hfFolder'))});
    run = async (t0) => {
      await readCheckpointTensors(job.dir);
      return { ms: performance.now() - t0, tfBytes: 0 };
    };
  }
  const times = [];
  let first;
  for (let i = 0; i < job.repeats; i++) {
    gc();
    const m0 = process.memoryUsage();
    const max0 = process.resourceUsage().maxRSS * 1024;
    let rss = m0.rss, ab = m0.arrayBuffers;
    const sample = () => { const m = process.memoryUsage(); rss = Math.max(rss, m.rss); ab = Math.max(ab, m.arrayBuffers); };
    const timer = setInterval(sample, 2);
    let r;
    try {
      r = await run(performance.now());
      sample();
    } finally {
      clearInterval(timer);
    }
    times.push(r.ms);
    const max1 = process.resourceUsage().maxRSS * 1024;
    if (!first) first = { rssGrowth: Math.max(rss, max1 > max0 ? max1 : 0) - m0.rss, arrayBuffersGrowth: ab - m0.arrayBuffers, tfBytes: r.tfBytes };
  }
  times.sort((a, b) => a - b);
  const out = { ms: times[Math.floor(times.length / 2)], ...first, leaked: tf.memory().numTensors - before.numTensors };
  process.stdout.write('\\n' + JSON.stringify(out) + '\\n');
})().catch((e) => { process.stdout.write('\\n' + JSON.stringify({ error: String(e && e.message || e) }) + '\\n'); });
`;

function measureInChild(job: { mode: 'load' | 'read'; dir: string; family?: string; repeats: number }): Measure {
  const script = path.join(os.tmpdir(), `attention-lens-bench-load-${process.pid}.mts`);
  fs.writeFileSync(script, CHILD);
  try {
    const [mod, exp] = job.family ? LOADERS[job.family]! : ['', ''];
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script], {
      cwd: ROOT,
      env: {
        ...process.env,
        ATTENTION_LENS_LOAD_JOB: JSON.stringify({ ...job, module: mod ? path.join(ROOT, mod) : '', export: exp }),
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    });
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as Measure | { error: string };
    if ('error' in result) throw new Error(result.error);
    return result;
  } finally {
    fs.rmSync(script, { force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const mb = (bytes: number): string => `${(bytes / MB).toFixed(bytes < 10 * MB ? 2 : 1)} MB`;

function row(name: string, bytes: number, m: Measure): (string | number)[] {
  return [
    name,
    mb(bytes),
    `${m.ms.toFixed(1)} ms`,
    `${(bytes / MB / (m.ms / 1000)).toFixed(0)} MB/s`,
    `${mb(m.rssGrowth)} (${(m.rssGrowth / Math.max(1, bytes)).toFixed(2)}×)`,
    mb(m.arrayBuffersGrowth),
    mb(m.tfBytes),
    m.leaked ? `LEAK ${m.leaked}` : '0',
  ];
}

const HEADER = [
  'model',
  'weights',
  'load (median)',
  'throughput',
  'peak RSS growth (× file)',
  'peak ArrayBuffers growth',
  'tfjs bytes held',
  'tensors left',
];

/** A Llama-layout config + tokenizer (TinyStories') + random F32 weights, near `targetMB` in all. */
function writeBigLlama(dir: string, shards: 1 | 2): number {
  const hidden = 512;
  const layers = 8;
  const vocab = 2048;
  const heads = 8;
  // 8 layers × (4·512² attention + 3·512·I MLP) + 2 × 2048·512 (embeddings, untied head) ≈ 100 MB at I = 1184.
  const inter = 1184;
  const tiny = path.join(ROOT, 'models', 'tinystories-656k');
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'])
    fs.copyFileSync(path.join(tiny, f), path.join(dir, f));
  const config = JSON.parse(fs.readFileSync(path.join(tiny, 'config.json'), 'utf8')) as Record<string, unknown>;
  Object.assign(config, {
    hidden_size: hidden,
    intermediate_size: inter,
    num_attention_heads: heads,
    num_key_value_heads: heads,
    num_hidden_layers: layers,
    vocab_size: vocab,
    tie_word_embeddings: false,
  });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const rand = mulberry32(1234);
  const make = (shape: number[], scale: number): { shape: number[]; data: Float32Array } => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = (rand() - 0.5) * scale;
    return { shape, data };
  };
  const tensors: [string, { shape: number[]; data: Float32Array }][] = [
    ['model.embed_tokens.weight', make([vocab, hidden], 0.1)],
  ];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    tensors.push(
      [`${p}input_layernorm.weight`, make([hidden], 0.2)],
      [`${p}self_attn.q_proj.weight`, make([hidden, hidden], 0.05)],
      [`${p}self_attn.k_proj.weight`, make([hidden, hidden], 0.05)],
      [`${p}self_attn.v_proj.weight`, make([hidden, hidden], 0.05)],
      [`${p}self_attn.o_proj.weight`, make([hidden, hidden], 0.05)],
      [`${p}post_attention_layernorm.weight`, make([hidden], 0.2)],
      [`${p}mlp.gate_proj.weight`, make([inter, hidden], 0.05)],
      [`${p}mlp.up_proj.weight`, make([inter, hidden], 0.05)],
      [`${p}mlp.down_proj.weight`, make([hidden, inter], 0.05)],
    );
  }
  tensors.push(['model.norm.weight', make([hidden], 0.2)], ['lm_head.weight', make([vocab, hidden], 0.1)]);
  const parts: (typeof tensors)[] =
    shards === 1 ? [tensors] : [tensors.slice(0, tensors.length >> 1), tensors.slice(tensors.length >> 1)];
  const weightMap: Record<string, string> = {};
  let total = 0;
  parts.forEach((part, k) => {
    const name = shards === 1 ? 'model.safetensors' : `model-0000${k + 1}-of-00002.safetensors`;
    for (const [t, v] of part) {
      weightMap[t] = name;
      total += v.data.byteLength;
    }
    fs.writeFileSync(path.join(dir, name), writeSafetensors(Object.fromEntries(part), { format: 'pt' }));
  });
  if (shards === 2)
    fs.writeFileSync(
      path.join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
    );
  return folderBytes(dir);
}

export async function benchLoad(opts: { quick: boolean }): Promise<void> {
  const repeats = opts.quick ? 2 : 5;
  const rows: (string | number)[][] = [];
  const builtins: [string, string][] = [
    ['tinystories-656k', 'llama'],
    ['english-encoder', 'bert'],
    ['dates-transformer', 'marian'],
  ];
  const folders: [string, string, string][] = builtins.map(([name, family]) => [
    `${name} (${family})`,
    path.join(ROOT, 'models', name),
    family,
  ]);
  for (const family of Object.keys(LOADERS))
    if (family !== 'tfjs-layers')
      folders.push([`fixture ${family}`, path.join(ROOT, 'test', 'fixtures', 'hf', family), family]);
  folders.push([
    'sample tfjs-mha-charlm (tfjs-layers)',
    path.join(ROOT, 'samples', 'models', 'tfjs-mha-charlm', 'model.json'),
    'tfjs-layers',
  ]);
  for (const [label, dir, family] of folders) {
    if (!fs.existsSync(dir.endsWith('.json') ? dir : path.join(dir, 'config.json'))) {
      rows.push([label, 'not present', '', '', '', '', '', '']);
      continue;
    }
    try {
      rows.push(row(label, folderBytes(dir), measureInChild({ mode: 'load', dir, family, repeats })));
    } catch (err) {
      rows.push([label, mb(folderBytes(dir)), `failed: ${(err as Error).message.slice(0, 100)}`, '', '', '', '', '']);
    }
  }
  table(
    `Model loading (median of ${repeats} loads, each model in a fresh process; memory from its first load)`,
    HEADER,
    rows,
  );

  // The ~100 MB checkpoint, single file and sharded.
  const big: (string | number)[][] = [];
  const parts: (string | number)[][] = [];
  for (const shards of [1, 2] as const) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-lens-bench-load-'));
    try {
      const t0 = performance.now();
      const bytes = writeBigLlama(dir, shards);
      const writeMs = performance.now() - t0;
      const label = shards === 1 ? 'Llama ~100 MB, model.safetensors' : 'Llama ~100 MB, 2 shards + index';
      const n = opts.quick ? 1 : 3;
      big.push(row(label, bytes, measureInChild({ mode: 'load', dir, family: 'llama', repeats: n })));
      // The parts of a load: reading tensors into Float32Arrays, and reading the header(s) only.
      const read = measureInChild({ mode: 'read', dir, repeats: n });
      const files = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.safetensors'))
        .map((f) => path.join(dir, f));
      const headerTimes: number[] = [];
      for (let i = 0; i < 7; i++) {
        const h0 = performance.now();
        for (const f of files) await readSafetensorsHeader(f);
        headerTimes.push(performance.now() - h0);
      }
      parts.push([
        label,
        `${writeMs.toFixed(0)} ms`,
        `${read.ms.toFixed(1)} ms (${(bytes / MB / (read.ms / 1000)).toFixed(0)} MB/s)`,
        `${mb(read.rssGrowth)} (${(read.rssGrowth / bytes).toFixed(2)}×)`,
        `${median(headerTimes).toFixed(2)} ms (${files.length} file${files.length > 1 ? 's' : ''})`,
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  table('A generated ~100 MB Llama checkpoint (hidden 512, 8 layers, FFN 1184, vocab 2048, F32)', HEADER, big);
  table(
    'Its parts',
    [
      'checkpoint',
      'generate + write',
      'read tensors only (readCheckpointTensors)',
      'peak RSS growth while reading',
      'header(s) only (median of 7)',
    ],
    parts,
  );
}
