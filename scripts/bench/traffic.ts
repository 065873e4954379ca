// Forecast run time of the traffic models: the whole run() on the shipped sample (168 hours in,
// 6 out), and the forward pass alone per window size (the LSTM is sequential in the window, the
// attention linear in it; the models were trained on 168 hours, the other sizes are timing only).
// Data: samples/traffic (John Hogue, Metro Interstate Traffic Volume, UCI ML Repository, CC BY 4.0).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { tf } from '../../src/model/runtime/backend';
import { readSafetensorsFile } from '../../src/model/formats/safetensors';
import { readJsonFile } from '../../src/model/formats/hfFolder';
import { getModel } from '../../src/model/open/builtins';
import { builtinTrafficDir, TRAFFIC_VARIANTS } from '../../src/model/families/traffic/model';
import { parseTrafficConfig } from '../../src/model/families/traffic/config';
import { buildTrafficWeights } from '../../src/model/families/traffic/weights';
import { forward } from '../../src/model/families/traffic/forward';
import { table, time } from './bench';

const ROOT = path.resolve(__dirname, '..', '..');

/** The trained model's key pattern for a window of M hours: the last 24 and the same hour on each earlier day. */
function keysFor(M: number): number[] {
  const days = Array.from({ length: Math.floor(M / 24) - 1 }, (_, k) => M - 24 * (Math.floor(M / 24) - k));
  return [...days, ...Array.from({ length: Math.min(24, M) }, (_, i) => M - Math.min(24, M) + i)];
}

export async function benchTraffic(opts: { quick: boolean }): Promise<void> {
  const lines = readFileSync(path.join(ROOT, 'samples', 'traffic', 'i94-westbound-3-weeks.csv'), 'utf8').split('\n');
  const rows = lines.slice(0, 175).join('\n');
  const column = lines
    .slice(1, 175)
    .map((l) => l.split(',')[8])
    .join('\n');
  const runRows: (string | number)[][] = [];
  const sizeRows: (string | number)[][] = [];
  const sizes = [24, 72, 168, 336];
  const dir = builtinTrafficDir();
  const cfgFile = path.join(dir, 'config.json');
  const cfg = parseTrafficConfig(await readJsonFile(cfgFile, 'file'), cfgFile);
  for (const v of TRAFFIC_VARIANTS) {
    const model = await getModel(`traffic-${v}`);
    for (const [what, text] of [
      ['CSV rows with header (175 lines)', rows],
      ['one column (174 numbers)', column],
    ] as const) {
      const before = tf.memory().numTensors;
      const ms = await time(() => model.run(text), opts.quick ? 1 : 3);
      const leak = tf.memory().numTensors - before;
      runRows.push([v, what, `${ms.toFixed(1)} ms${leak ? ` LEAK ${leak}` : ''}`]);
    }
    const file = path.join(dir, `${v}.safetensors`);
    const { w, all } = buildTrafficWeights(await readSafetensorsFile(file), cfg, v, file);
    try {
      const row: (string | number)[] = [v];
      for (const M of sizes) {
        const z = Float32Array.from({ length: M }, (_, i) => Math.sin((2 * Math.PI * i) / 24));
        const before = tf.memory().numTensors;
        const ms = await time(
          () => forward({ w, z, keys: keysFor(M), horizon: cfg.horizon, mean: cfg.mean, std: cfg.std }),
          opts.quick ? 1 : 3,
        );
        const leak = tf.memory().numTensors - before;
        row.push(`${ms.toFixed(1)} ms (${keysFor(M).length} hours read)${leak ? ` LEAK ${leak}` : ''}`);
      }
      sizeRows.push(row);
    } finally {
      for (const t of all) t.dispose();
    }
  }
  table('Traffic forecast: whole run() on the sample (median, wasm, 1 thread)', ['model', 'input', 'run()'], runRows);
  table(
    `Traffic forecast: forward pass per window size M (encoder over the last 24 hours + the same hour on each earlier day, ${cfg.horizon} attending decoder steps; trained on M = ${cfg.window}, ${cfg.keys.length} keys)`,
    ['model', ...sizes.map((M) => `M = ${M}`)],
    sizeRows,
  );
}
