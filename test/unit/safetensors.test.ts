// The safetensors reader: round trips, exact F16/BF16 conversion, every kind of malformed file.
// The fuzz test (1,000 mutated headers / truncated files) is in safetensorsFuzz.test.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  bf16ToF32,
  f16ToF32,
  parseSafetensors,
  parseSafetensorsHeader,
  readSafetensorsFile,
  readSafetensorsHeader,
  writeSafetensors,
} from '../../src/model/formats/safetensors';
import { AttentionInputError } from '../../shared/trace';

const MODEL = path.join(__dirname, '..', '..', 'models', 'tinystories-656k', 'model.safetensors');

/** Builds a safetensors file by hand: any header object (or text, or bytes), any data bytes. */
function rawFile(header: unknown, data: Uint8Array, headerText?: string | Uint8Array): Uint8Array {
  const h =
    headerText instanceof Uint8Array ? headerText : new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setUint16(i * 2, x, true));
  return out;
}

const isFileError = (e: unknown): boolean => e instanceof AttentionInputError && e.code === 'file';

const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpFile(bytes: Uint8Array): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-'));
  tmpDirs.push(dir);
  const file = path.join(dir, 'x.safetensors');
  fs.writeFileSync(file, bytes);
  return file;
}

test('round trip: write, parse in memory, read from disk', async () => {
  const a = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 1e3);
  const b = Float32Array.from([0, -0, Infinity, -Infinity, NaN, 1e-45, 3.4028234663852886e38]);
  const empty = new Float32Array(0);
  const bytes = writeSafetensors(
    { a: { shape: [2, 3, 4], data: a }, b: { shape: [7], data: b }, e: { shape: [0, 5], data: empty } },
    { format: 'pt', note: 'ü' },
  );
  assert.equal((bytes.length - 8 - Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 4, 0);
  assert.equal(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8, 0, 'header padded to 8 bytes');
  const check = (m: Map<string, { dtype: string; shape: readonly number[]; data: Float32Array }>): void => {
    assert.deepEqual([...m.keys()].sort(), ['a', 'b', 'e']);
    assert.deepEqual(m.get('a')!.shape, [2, 3, 4]);
    assert.equal(m.get('a')!.dtype, 'F32');
    assert.deepEqual(Array.from(m.get('a')!.data), Array.from(a));
    const got = Array.from(m.get('b')!.data);
    assert.ok(Object.is(got[1], -0));
    assert.ok(Number.isNaN(got[4]));
    assert.deepEqual(
      got.filter((x) => !Number.isNaN(x)),
      Array.from(b).filter((x) => !Number.isNaN(x)),
    );
    assert.deepEqual(m.get('e')!.shape, [0, 5]);
    assert.equal(m.get('e')!.data.length, 0);
  };
  check(parseSafetensors(bytes));
  assert.deepEqual({ ...parseSafetensorsHeader(bytes).metadata }, { format: 'pt', note: 'ü' });
  const file = tmpFile(bytes);
  const progress: number[] = [];
  check(await readSafetensorsFile(file, { onProgress: (f) => progress.push(f) }));
  assert.equal(progress.at(-1), 1);
  assert.deepEqual({ ...(await readSafetensorsHeader(file)).metadata }, { format: 'pt', note: 'ü' });
});

test('the real TinyStories weights: 20 F32 tensors, 656,000 values, memory and disk readers agree', async () => {
  const fromDisk = await readSafetensorsFile(MODEL);
  const inMemory = parseSafetensors(new Uint8Array(fs.readFileSync(MODEL)));
  assert.equal(fromDisk.size, 20);
  let n = 0;
  for (const [name, t] of fromDisk) {
    n += t.data.length;
    assert.deepEqual(inMemory.get(name)!.data, t.data);
  }
  assert.equal(n, 656_000);
  assert.deepEqual(fromDisk.get('model.layers.0.self_attn.k_proj.weight')!.shape, [64, 128]);
  const header = await readSafetensorsHeader(MODEL);
  assert.equal(header.metadata['model.embed_tokens.weight'], 'lm_head.weight');
});

test('F16 conversion is exact for known bit patterns and for all 65,536 of them', () => {
  const known: [number, number][] = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504], // largest finite
    [0x0400, 6.103515625e-5], // smallest normal 2^-14
    [0x03ff, 6.097555160522461e-5], // largest subnormal
    [0x0001, 5.960464477539063e-8], // smallest subnormal 2^-24
    [0x8001, -5.960464477539063e-8],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  for (const [bits, value] of known) assert.equal(f16ToF32(bits), value, `0x${bits.toString(16)}`);
  assert.ok(Object.is(f16ToF32(0x8000), -0));
  assert.ok(Number.isNaN(f16ToF32(0x7e00)) && Number.isNaN(f16ToF32(0x7c01)) && Number.isNaN(f16ToF32(0xfe00)));
  // Independent formula for every pattern.
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 31;
    const m = h & 1023;
    const expected =
      e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * 2 ** (e - 15) * (1 + m / 1024);
    const got = f16ToF32(h);
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(got));
    else assert.ok(Object.is(got, expected), `0x${h.toString(16)}: ${got} vs ${expected}`);
  }
  // And through a file, on both readers.
  const bits = known.map(([b]) => b).concat([0x8000, 0x7e00]);
  const file = rawFile({ h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, u16le(bits));
  const t = parseSafetensors(file).get('h')!;
  assert.equal(t.dtype, 'F16');
  assert.deepEqual(
    Array.from(t.data.slice(0, known.length)),
    known.map(([, v]) => v),
  );
  assert.ok(Object.is(t.data[known.length], -0) && Number.isNaN(t.data[known.length + 1]));
});

test('BF16 conversion is the upper half of a float32, exactly', async () => {
  const known: [number, number][] = [
    [0x3f80, 1],
    [0xc000, -2],
    [0x4049, 3.140625],
    [0x7f7f, 3.3895313892515355e38], // largest finite
    [0x0080, 1.1754943508222875e-38], // smallest normal 2^-126
    [0x0001, 9.183549615799121e-41], // smallest subnormal 2^-133
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ];
  for (const [bits, value] of known) assert.equal(bf16ToF32(bits), value, `0x${bits.toString(16)}`);
  assert.ok(Object.is(bf16ToF32(0x8000), -0));
  assert.ok(Number.isNaN(bf16ToF32(0x7fc0)));
  const bits = known.map(([b]) => b);
  const bytes = rawFile({ b: { dtype: 'BF16', shape: [2, 4], data_offsets: [0, 16] } }, u16le(bits));
  const t = parseSafetensors(bytes).get('b')!;
  assert.equal(t.dtype, 'BF16');
  assert.deepEqual(t.shape, [2, 4]);
  assert.deepEqual(
    Array.from(t.data),
    known.map(([, v]) => v),
  );
  const fromDisk = (await readSafetensorsFile(tmpFile(bytes))).get('b')!;
  assert.deepEqual(fromDisk.data, t.data);
});

test('large F16 / BF16 tensors convert correctly across read chunks', async () => {
  const n = 3_000_001; // 6 MB of F16: more than one 4 MB chunk, odd length
  const bits: number[] = new Array(n);
  for (let i = 0; i < n; i++) bits[i] = (i * 7919) & 0xffff;
  const data = u16le(bits);
  for (const dtype of ['F16', 'BF16'] as const) {
    const bytes = rawFile({ __metadata__: { k: 'v' }, big: { dtype, shape: [n], data_offsets: [0, n * 2] } }, data);
    const t = (await readSafetensorsFile(tmpFile(bytes))).get('big')!;
    const conv = dtype === 'F16' ? f16ToF32 : bf16ToF32;
    for (const i of [0, 1, 2_097_151, 2_097_152, 2_097_153, n - 1]) {
      const expected = conv(bits[i]!);
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(t.data[i]));
      else assert.equal(t.data[i], expected, `${dtype}[${i}]`);
    }
    // Bit-identical to the in-memory reader (compared as integers, so NaN payloads count too).
    const a = new Uint32Array(t.data.buffer);
    const b = new Uint32Array(parseSafetensors(bytes).get('big')!.data.buffer);
    assert.equal(a.length, b.length);
    let same = true;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) same = false;
    assert.ok(same);
  }
});

test('malformed files are AttentionInputError("file") with a clear message', async () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /fewer than the 8-byte/],
    ['too short', new Uint8Array(5), /fewer than the 8-byte/],
    [
      'huge header length',
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 200_000_000n, true);
        return b;
      })(),
      /100000000-byte limit/,
    ],
    [
      'u64 max header length',
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
        return b;
      })(),
      /limit/,
    ],
    [
      'header past the end',
      (() => {
        const b = rawFile(ok, eight);
        new DataView(b.buffer).setBigUint64(0, 5000n, true);
        return b;
      })(),
      /truncated/,
    ],
    ['not JSON', rawFile(null, eight, '{"w": [}'), /not valid JSON/],
    ['JSON array', rawFile([1, 2], eight), /must be a JSON object/],
    [
      'bad UTF-8',
      rawFile(null, eight, Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])),
      /not valid UTF-8/,
    ],
    ['entry not an object', rawFile({ w: 5 }, eight), /not an object/],
    ['no dtype', rawFile({ w: { shape: [2], data_offsets: [0, 8] } }, eight), /no dtype/],
    ['I64', rawFile({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, eight), /I64.*only F32, F16 and BF16/],
    [
      'made-up dtype',
      rawFile({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 8] } }, eight),
      /not a safetensors dtype/,
    ],
    ['negative shape', rawFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, eight), /invalid shape/],
    ['fractional shape', rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, eight), /invalid shape/],
    [
      'string offsets',
      rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: ['0', '8'] } }, eight),
      /invalid data_offsets/,
    ],
    [
      'reversed offsets',
      rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, eight),
      /end before they begin/,
    ],
    [
      'offsets past the end',
      rawFile({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, eight),
      /truncated or corrupted/,
    ],
    [
      'shape × dtype ≠ range',
      rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight),
      /12 bytes.*span 8 bytes/,
    ],
    ['F16 size mismatch', rawFile({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 8] } }, eight), /4 bytes.*span 8/],
    [
      'huge shape',
      rawFile({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, eight),
      /impossibly large/,
    ],
    [
      'overlap',
      rawFile(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        },
        eight,
      ),
      /overlap/,
    ],
    ['hole', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /belong to no tensor/],
    [
      'trailing bytes',
      rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, eight),
      /after the last tensor/,
    ],
    ['bad metadata', rawFile({ __metadata__: { n: 1 }, ...ok }, eight), /__metadata__/],
    ['metadata array', rawFile({ __metadata__: ['x'], ...ok }, eight), /__metadata__/],
  ];
  for (const [what, bytes, pattern] of cases) {
    assert.throws(
      () => parseSafetensors(bytes),
      (e: unknown) => isFileError(e) && pattern.test((e as Error).message),
      what,
    );
    const file = tmpFile(bytes);
    await assert.rejects(
      readSafetensorsFile(file),
      (e: unknown) => isFileError(e) && pattern.test((e as Error).message),
      `${what} (from disk)`,
    );
  }
  await assert.rejects(
    readSafetensorsFile('/nonexistent/model.safetensors'),
    (e: unknown) => isFileError(e) && /Cannot open/.test((e as Error).message),
  );
});

test('a truncated copy of the real weights is a typed error on both readers', async () => {
  const whole = new Uint8Array(fs.readFileSync(MODEL));
  for (const n of [0, 7, 8, 100, 2167, 2168, 1_000_000, whole.length - 1]) {
    const part = whole.slice(0, n);
    assert.throws(() => parseSafetensors(part), isFileError, `cut at ${n}`);
    await assert.rejects(readSafetensorsFile(tmpFile(part)), isFileError, `cut at ${n} (disk)`);
  }
});

test('readSafetensorsFile honours an abort signal', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(
    readSafetensorsFile(MODEL, { signal: ac.signal }),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
  );
  const mid = new AbortController();
  await assert.rejects(
    readSafetensorsFile(MODEL, { signal: mid.signal, onProgress: (f) => f > 0.3 && mid.abort() }),
    (e: unknown) => e instanceof AttentionInputError && e.code === 'cancelled',
  );
});

test('deeply nested headers are rejected before JSON.parse, with the depth in the message', async () => {
  const ok = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"a":"[[[[{{{{"}}';
  assert.equal(
    parseSafetensors(rawFile(null, new Uint8Array(8), ok)).get('w')!.data.length,
    2,
    'brackets inside strings do not count',
  );
  const cases: [string, RegExp][] = [
    ['['.repeat(200_000) + ']'.repeat(200_000), /nests more than 1000 levels deep/],
    [ok.replace('[2]', '[[[[[[[[[[[[[[[[2]]]]]]]]]]]]]]]]'), /nests 18 levels deep/],
    ['{"a":'.repeat(50) + '1' + '}'.repeat(50), /nests 50 levels deep/],
  ];
  for (const [text, pattern] of cases) {
    const bytes = rawFile(null, new Uint8Array(8), text);
    const t0 = performance.now();
    assert.throws(
      () => parseSafetensors(bytes),
      (e: unknown) => isFileError(e) && pattern.test((e as Error).message),
    );
    assert.ok(performance.now() - t0 < 100);
    await assert.rejects(
      readSafetensorsHeader(tmpFile(bytes)),
      (e: unknown) => isFileError(e) && pattern.test((e as Error).message),
    );
  }
});

test('a directory or a missing path is a typed error on every reader', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-dir-'));
  tmpDirs.push(dir);
  for (const p of [dir, path.join(dir, 'missing.safetensors')]) {
    await assert.rejects(
      readSafetensorsFile(p),
      (e: unknown) => isFileError(e) && /Cannot (open|read) the weights file/.test((e as Error).message),
      p,
    );
    await assert.rejects(
      readSafetensorsHeader(p),
      (e: unknown) =>
        isFileError(e) && /(Cannot (open|read) the weights file|not a safetensors file)/.test((e as Error).message),
      p,
    );
  }
});
