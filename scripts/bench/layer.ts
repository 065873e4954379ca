// The wasm backend's own matmul peak (GFLOP/s), the yardstick for every other figure.
import { performance } from 'node:perf_hooks';
import { tf } from '../../src/model/backend';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function matmulPeak(n = 1024, repeats = 5): Promise<number> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const xs: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const dt = performance.now() - t0;
    c.dispose();
    if (i > 0) xs.push(dt);
  }
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / (median(xs) / 1e3) / 1e9;
}

export async function benchLayers({ quick }: { quick: boolean }): Promise<void> {
  const peak = await matmulPeak(quick ? 512 : 1024, quick ? 2 : 5);
  console.log(`\nwasm matmul peak: ${peak.toFixed(2)} GFLOP/s (${quick ? 512 : 1024}² float32)`);
}
