// The wasm Slice, Unpack and SplitV replacements (src/model/runtime/wasmKernels.ts) against plain
// index arithmetic, for random shapes, offsets and sizes of every rank the models use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { mulberry32 } from '../../src/model/families/toy/model';

/** x[begin : begin + size] by explicit multi-index arithmetic. */
function referenceSlice(data: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
  const out: number[] = [];
  const total = size.reduce((a, b) => a * b, 1);
  for (let flat = 0; flat < total; flat++) {
    let rest = flat;
    let src = 0;
    let stride = 1;
    const idx = new Array<number>(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = rest % size[d]!;
      rest = Math.floor(rest / size[d]!);
    }
    for (let d = shape.length - 1; d >= 0; d--) {
      src += (begin[d]! + idx[d]!) * stride;
      stride *= shape[d]!;
    }
    out.push(data[src]!);
  }
  return out;
}

test('wasm kernels are the replacements, on the wasm backend', async () => {
  const status = await initBackend();
  assert.equal(status.name, 'wasm');
  const slice = tf.getKernel('Slice', 'wasm');
  assert.ok(slice);
  assert.match(String(slice.kernelFunc), /original\.kernelFunc/);
});

test('Slice: 400 random slices of rank 1–5 tensors equal index arithmetic (float32, int32, bool)', async () => {
  await initBackend();
  const rand = mulberry32(11);
  const int = (n: number): number => Math.floor(rand() * n);
  const before = tf.memory().numTensors;
  for (let trial = 0; trial < 400; trial++) {
    const rank = 1 + int(5);
    const shape = Array.from({ length: rank }, () => 1 + int(rank > 3 ? 4 : 7));
    const n = shape.reduce((a, b) => a * b, 1);
    const dtype = (['float32', 'int32', 'bool'] as const)[trial % 3]!;
    const values = Array.from({ length: n }, (_, i) =>
      dtype === 'bool' ? (i % 3 === 0 ? 1 : 0) : dtype === 'int32' ? i - 50 : i + rand(),
    );
    const begin = shape.map((s) => int(s));
    // Sometimes whole trailing dims (the contiguous fast path), sometimes empty (size 0).
    const size = shape.map((s, d) => (trial % 29 === 0 && d === 0 ? 0 : 1 + int(s - begin[d]!)));
    if (trial % 7 === 0) {
      for (let d = 1; d < rank; d++) {
        begin[d] = 0;
        size[d] = shape[d]!;
      }
    }
    const x = tf.tensor(values, shape, dtype);
    const y = tf.slice(x, begin, size);
    assert.deepEqual(y.shape, size);
    const expected = referenceSlice(
      dtype === 'bool' ? values.map((v) => (v ? 1 : 0)) : dtype === 'float32' ? Float32Array.from(values) : values,
      shape,
      begin,
      size,
    );
    assert.deepEqual(Array.from(y.dataSync()), expected, `shape ${shape} begin ${begin} size ${size} ${dtype}`);
    x.dispose();
    y.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('Unpack and SplitV: every axis, pieces equal index arithmetic and restack to the input', async () => {
  await initBackend();
  const shape = [3, 4, 5, 2];
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, (_, i) => i * 0.5 - 7);
  const before = tf.memory().numTensors;
  const x = tf.tensor(values, shape);
  for (let axis = 0; axis < shape.length; axis++) {
    const pieces = tf.unstack(x, axis);
    assert.equal(pieces.length, shape[axis]);
    pieces.forEach((p, i) => {
      const begin = shape.map((_, d) => (d === axis ? i : 0));
      const size = shape.map((s, d) => (d === axis ? 1 : s));
      assert.deepEqual(
        p.shape,
        shape.filter((_, d) => d !== axis),
      );
      assert.deepEqual(Array.from(p.dataSync()), referenceSlice(values, shape, begin, size));
    });
    const restacked = tf.stack(pieces, axis);
    assert.deepEqual(Array.from(restacked.dataSync()), values);
    tf.dispose([...pieces, restacked]);
    const sizes = shape[axis]! >= 3 ? [1, shape[axis]! - 1] : [shape[axis]!];
    const parts = tf.split(x, sizes, axis);
    let at = 0;
    parts.forEach((p, i) => {
      const begin = shape.map((_, d) => (d === axis ? at : 0));
      const size = shape.map((s, d) => (d === axis ? sizes[i]! : s));
      assert.deepEqual(Array.from(p.dataSync()), referenceSlice(values, shape, begin, size));
      at += sizes[i]!;
    });
    tf.dispose(parts);
  }
  x.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('strings still slice with tfjs’s own kernel', async () => {
  await initBackend();
  const x = tf.tensor(['a', 'b', 'c', 'd'], [2, 2], 'string');
  const y = tf.slice(x, [1, 0], [1, 2]);
  assert.deepEqual(y.arraySync(), [['c', 'd']]);
  tf.dispose([x, y]);
});

test('GELU (tanh form, gelu_new) through the sigmoid identity equals ½x(1 + tanh(√(2/π)(x + 0.044715x³)))', async () => {
  await initBackend();
  const { activate } = await import('../../src/model/trace/transformerStages');
  const xs = Float32Array.from({ length: 6000 }, (_, i) => (i - 3000) / 400);
  const got = tf.tidy(() => activate('gelu_new', tf.tensor2d(xs, [2, 3000])).dataSync());
  xs.forEach((x, i) => {
    const want = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    assert.ok(Math.abs(got[i]! - want) <= 3e-7 * Math.max(1, Math.abs(x)), `gelu_new(${x}) = ${got[i]}, want ${want}`);
  });
});

test('readConcatenated: parts end to end, the same as stacking them and reading the stack', async () => {
  await initBackend();
  const { readConcatenated } = await import('../../src/model/runtime/wasmKernels');
  const parts = [0, 1, 2].map((h) =>
    tf.tensor2d(
      Array.from({ length: 6 }, (_, i) => h * 10 + i + 0.25),
      [2, 3],
    ),
  );
  const stacked = tf.stack(parts);
  assert.deepEqual(Array.from(readConcatenated(parts)), Array.from(stacked.dataSync()));
  assert.throws(() => readConcatenated([tf.tensor1d([1], 'int32')]), /int32/);
  tf.dispose([...parts, stacked]);
});

/** erf in double precision by its Maclaurin series (|x| < 2.5) or erfc's continued fraction. */
function erfReference(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2.5) {
    let sum = ax;
    let term = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // Lentz's method for erfc(x) = exp(−x²)/√π / (x + (1/2)/(x + 1/(x + (3/2)/(x + …)))).
    let f = ax;
    let c = ax;
    let d = 0;
    for (let n = 1; n < 300; n++) {
      d = 1 / (ax + (n / 2) * d);
      c = ax + n / 2 / c;
      f *= c * d;
      if (Math.abs(c * d - 1) < 1e-16) break;
    }
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

test('GELU (erf): the SIMD kernel equals ½x(1 + erf(x/√2)) from a double-precision erf, at any length', async () => {
  await initBackend();
  const { activate } = await import('../../src/model/trace/transformerStages');
  const { hasKernel, GELU_ERF } = await import('../../src/model/runtime/wasmKernels');
  assert.ok(hasKernel(GELU_ERF), 'the wasm backend has the SIMD GELU');
  // Spot values of the reference itself: Φ(1) = 0.841344746…, Φ(−3) = 0.001349898…
  assert.ok(Math.abs(0.5 * (1 + erfReference(1 / Math.SQRT2)) - 0.8413447460685429) < 1e-15);
  assert.ok(Math.abs(0.5 * (1 + erfReference(-3 / Math.SQRT2)) - 0.0013498980316301) < 1e-15);
  const before = tf.memory().numTensors;
  for (const [rows, cols] of [
    [3, 2000],
    [1, 7],
    [5, 3],
  ] as const) {
    const xs = Float32Array.from({ length: rows * cols }, (_, i) =>
      rows * cols === 6000 ? (i - 3000) / 400 : i * 1.7 - 6,
    );
    const got = tf.tidy(() => activate('gelu', tf.tensor2d(xs, [rows, cols])).dataSync());
    xs.forEach((x, i) => {
      const want = 0.5 * x * (1 + erfReference(x / Math.SQRT2));
      assert.ok(Math.abs(got[i]! - want) <= 2.5e-7 * Math.max(1, Math.abs(x)), `gelu(${x}) = ${got[i]}, want ${want}`);
    });
  }
  const special = tf.tidy(() => Array.from(activate('gelu', tf.tensor2d([NaN, Infinity, 0, -0.5], [1, 4])).dataSync()));
  assert.ok(Number.isNaN(special[0]));
  assert.equal(special[1], Infinity);
  assert.equal(special[2], 0);
  assert.equal(tf.memory().numTensors, before);
});

test('LayerNorm: the SIMD kernel equals a double-precision layer norm, row by row, at any row count', async () => {
  await initBackend();
  const { layerNorm } = await import('../../src/model/trace/transformerStages');
  const { hasKernel, LAYER_NORM } = await import('../../src/model/runtime/wasmKernels');
  assert.ok(hasKernel(LAYER_NORM), 'the wasm backend has the SIMD layer norm');
  const rand = mulberry32(5);
  const before = tf.memory().numTensors;
  // 768 wide, a large offset (mean ≫ spread: a one-pass E[x²] − E[x]² would lose it), a tiny row,
  // width 6 (not a multiple of 4: tf ops), and more rows than one chunk of the module's memory.
  for (const [rows, cols, offset, eps] of [
    [5, 768, 0, 1e-12],
    [3, 768, 1000, 1e-5],
    [2, 4, 0.5, 1e-6],
    [4, 6, 0, 1e-5],
    [1400, 768, 0, 1e-12],
  ] as const) {
    const x = Float32Array.from({ length: rows * cols }, () => offset + (rand() * 2 - 1) * 3);
    const g = Float32Array.from({ length: cols }, () => rand() * 2);
    const b = Float32Array.from({ length: cols }, () => rand() - 0.5);
    const got = tf.tidy(() => layerNorm(tf.tensor2d(x, [rows, cols]), tf.tensor1d(g), tf.tensor1d(b), eps).dataSync());
    for (let r = 0; r < rows; r++) {
      let mean = 0;
      for (let c = 0; c < cols; c++) mean += x[r * cols + c]!;
      mean /= cols;
      let variance = 0;
      for (let c = 0; c < cols; c++) variance += (x[r * cols + c]! - mean) ** 2;
      variance /= cols;
      for (let c = 0; c < cols; c++) {
        const want = ((x[r * cols + c]! - mean) / Math.sqrt(variance + eps)) * g[c]! + b[c]!;
        // float32 inputs of size ~offset carry ~offset·6e-8 of rounding into x − mean
        const tol = 2e-6 * (1 + g[c]!) + (4e-7 * Math.abs(offset) * g[c]!) / Math.sqrt(variance);
        assert.ok(
          Math.abs(got[r * cols + c]! - want) <= tol,
          `[${rows}×${cols}] row ${r} col ${c}: ${got[r * cols + c]} vs ${want}`,
        );
      }
    }
  }
  assert.equal(tf.memory().numTensors, before);
});

test('RMSNorm: the SIMD kernel (no centring, no bias) equals a double-precision RMSNorm', async () => {
  await initBackend();
  const { rmsNorm } = await import('../../src/model/trace/transformerStages');
  const rand = mulberry32(9);
  const before = tf.memory().numTensors;
  for (const [rows, cols] of [
    [7, 128],
    [3, 6],
  ] as const) {
    const x = Float32Array.from({ length: rows * cols }, () => 0.7 + (rand() * 2 - 1) * 2);
    const g = Float32Array.from({ length: cols }, () => rand() * 2);
    const got = tf.tidy(() => rmsNorm(tf.tensor2d(x, [rows, cols]), tf.tensor1d(g), 1e-5).dataSync());
    for (let r = 0; r < rows; r++) {
      let ms = 0;
      for (let c = 0; c < cols; c++) ms += x[r * cols + c]! ** 2;
      const inv = 1 / Math.sqrt(ms / cols + 1e-5);
      for (let c = 0; c < cols; c++) {
        const want = x[r * cols + c]! * inv * g[c]!;
        assert.ok(
          Math.abs(got[r * cols + c]! - want) <= 2e-6 * (1 + Math.abs(want)),
          `[${rows}×${cols}] ${r},${c}: ${got[r * cols + c]} vs ${want}`,
        );
      }
    }
  }
  assert.equal(tf.memory().numTensors, before);
});
