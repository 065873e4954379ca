// Fuzzing the safetensors readers: 1,000 seeded mutations of valid files (JSON byte edits, length
// prefixes, data_offsets, dtypes, shapes, duplicate names, deep nesting, __metadata__, truncation at
// every boundary) through the in-memory parser, the file reader and the header reader. Each case must
// end, within a time bound, in either a consistent parse or an AttentionInputError (never another
// error); truncated real checkpoints through the family loaders must leave no tensors behind.
import { before, test } from 'node:test';
import { scratchDirs } from './fixtureTools';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, tf } from '../../src/model/runtime/backend';
import { loadBert } from '../../src/model/families/bert/model';
import { loadEncoderDecoder } from '../../src/model/families/marian/model';
import { loadLlama } from '../../src/model/families/llama/model';
import {
  parseSafetensors,
  parseSafetensorsHeader,
  readSafetensorsFile,
  readSafetensorsHeader,
  writeSafetensors,
  type SafeTensor,
} from '../../src/model/formats/safetensors';
import { AttentionInputError } from '../../shared/trace';

const MODELS = path.join(__dirname, '..', '..', 'models');
/** Per case, per reader; generous for a slow shared 2-core machine (typical cases take well under 1 ms). */
const CASE_MS = 200;

const tmpDir = scratchDirs();
before(async () => {
  await initBackend();
});

/** mulberry32: a small seeded PRNG, so every run fuzzes the same 1,000 files. */
function prng(seed: number): { int: (n: number) => number; pick: <T>(xs: readonly T[]) => T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { int, pick: (xs) => xs[int(xs.length)]! };
}

const enc = new TextEncoder();

function rawFile(headerText: string | Uint8Array, data: Uint8Array, prefix?: bigint): Uint8Array {
  const h = typeof headerText === 'string' ? enc.encode(headerText) : headerText;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, prefix ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

type Entry = { dtype: unknown; shape: unknown; data_offsets: unknown };
type Header = Record<string, unknown>;

/** A valid file: F32, F16, BF16 and an empty tensor, metadata, deterministic data. */
function baseFile(): { header: Header; data: Uint8Array; bytes: Uint8Array } {
  const header: Header = {
    __metadata__: { format: 'pt', note: 'fuzz' },
    'layer.0.weight': { dtype: 'F32', shape: [3, 4], data_offsets: [0, 48] },
    'layer.0.half': { dtype: 'F16', shape: [2, 2], data_offsets: [48, 56] },
    'layer.1.bf': { dtype: 'BF16', shape: [4], data_offsets: [56, 64] },
    empty: { dtype: 'F32', shape: [0, 7], data_offsets: [64, 64] },
    tail: { dtype: 'F32', shape: [2, 1, 2], data_offsets: [64, 80] },
  };
  const data = new Uint8Array(80);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + 11) & 0xff;
  return { header, data, bytes: rawFile(JSON.stringify(header), data) };
}

const BAD_DTYPES: unknown[] = [
  'F64',
  'I64',
  'I8',
  'U8',
  'BOOL',
  'F8_E4M3',
  'f32',
  'F32 ',
  '',
  'Q4_K',
  null,
  4,
  ['F32'],
  { F32: 1 },
  'F16',
  'BF16',
  'F32',
];
const BAD_NUMBERS: unknown[] = [
  -1,
  -48,
  1.5,
  1e300,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 64,
  Number.MAX_SAFE_INTEGER,
  '8',
  null,
  true,
  [8],
  0,
  8,
  48,
  56,
  63,
  64,
  79,
  80,
  81,
  1e6,
];

function deep(depth: number, open: string, close: string, inner = '1'): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

interface Mutant {
  readonly kind: string;
  readonly bytes: Uint8Array;
}

function makeMutants(count: number, seed: number): Mutant[] {
  const r = prng(seed);
  const { header, data, bytes: base } = baseFile();
  const headerText = JSON.stringify(header);
  const headerBytes = enc.encode(headerText);
  const names = Object.keys(header).filter((n) => n !== '__metadata__');
  const entryOf = (h: Header, name: string): Entry => h[name] as Entry;
  const clone = (): Header => JSON.parse(headerText) as Header;
  const withHeader = (h: Header | string, d: Uint8Array = data): Uint8Array =>
    rawFile(typeof h === 'string' ? h : JSON.stringify(h), d);

  // Every boundary: inside the length prefix, the header's first and last bytes, each tensor's start and end.
  const hl = headerBytes.length;
  const boundaries = new Set<number>([0, 1, 7, 8, 9, 8 + hl - 1, 8 + hl, 8 + hl + 1, base.length - 1]);
  for (const n of names) {
    const [b, e] = entryOf(header, n).data_offsets as [number, number];
    for (const x of [b - 1, b, b + 1, e - 1, e, e + 1])
      if (x >= 0 && 8 + hl + x < base.length) boundaries.add(8 + hl + x);
  }
  const cuts = [...boundaries].filter((x) => x >= 0 && x < base.length).sort((a, b) => a - b);

  const kinds: [string, (i: number) => Uint8Array][] = [
    ['truncated at a boundary', (i) => base.slice(0, cuts[i % cuts.length])],
    ['truncated anywhere', () => base.slice(0, r.int(base.length))],
    [
      'header bytes flipped',
      () => {
        const b = base.slice();
        for (let k = 0; k <= r.int(4); k++) b[8 + r.int(hl)] = r.int(256);
        return b;
      },
    ],
    [
      'header bytes inserted',
      () => {
        const h = Array.from(headerBytes);
        for (let k = 0; k <= r.int(3); k++)
          h.splice(
            r.int(h.length + 1),
            0,
            r.pick([0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x2d, 0x20, 0x00, 0xff, 0xc3, 0x5c, r.int(256)]),
          );
        return rawFile(Uint8Array.from(h), data);
      },
    ],
    [
      'header bytes deleted',
      () => {
        const h = Array.from(headerBytes);
        for (let k = 0; k <= r.int(3); k++) h.splice(r.int(h.length), 1 + r.int(3));
        return rawFile(Uint8Array.from(h), data);
      },
    ],
    [
      'length prefix',
      () => {
        const choices = [
          0n,
          1n,
          2n,
          BigInt(hl - 1 - r.int(10)),
          BigInt(hl + 1 + r.int(100)),
          BigInt(base.length),
          100_000_000n,
          100_000_001n,
          BigInt(r.int(2 ** 31)) * 65536n,
          2n ** 63n,
          2n ** 64n - 1n,
        ];
        return rawFile(headerBytes, data, r.pick(choices));
      },
    ],
    [
      'data_offsets',
      () => {
        const h = clone();
        const e = entryOf(h, r.pick(names));
        const o = [...(e.data_offsets as number[])] as unknown[];
        const c = r.int(6);
        if (c === 0) o[r.int(2)] = r.pick(BAD_NUMBERS);
        else if (c === 1) e.data_offsets = [o[1], o[0]];
        else if (c === 2)
          e.data_offsets = r.pick<unknown>([[], [0], [0, 8, 16], '0,8', null, { 0: 0, 1: 8 }, [[0], [8]]]);
        else if (c === 3) {
          // Overlap another tensor, keeping the length right.
          const other = entryOf(h, r.pick(names)).data_offsets as number[];
          const len = (o[1] as number) - (o[0] as number);
          const start = Math.max(0, other[0]! + r.int(9) - 4);
          e.data_offsets = [start, start + len];
        } else if (c === 4) e.data_offsets = [(o[0] as number) + 2 ** 52, (o[1] as number) + 2 ** 52];
        else e.data_offsets = [-(o[1] as number), -(o[0] as number)];
        if (c !== 2) e.data_offsets ??= o;
        return withHeader(h);
      },
    ],
    [
      'dtype',
      () => {
        const h = clone();
        entryOf(h, r.pick(names)).dtype = r.pick(BAD_DTYPES);
        return withHeader(h);
      },
    ],
    [
      'shape',
      () => {
        const h = clone();
        const e = entryOf(h, r.pick(names));
        const s = [...(e.shape as number[])] as unknown[];
        const c = r.int(5);
        if (c === 0 && s.length > 0) s[r.int(s.length)] = r.pick(BAD_NUMBERS);
        else if (c === 1) s.push(r.pick([0, 1, 2, 2 ** 31, 2 ** 53]));
        else if (c === 2) s.reverse();
        else if (c === 3)
          e.shape = r.pick<unknown>([
            [],
            [[2], [2]],
            '[2,2]',
            null,
            { 0: 2 },
            [2 ** 40, 2 ** 40, 0],
            [2 ** 26, 2 ** 26, 2 ** 26],
          ]);
        else if (s.length > 0) s[r.int(s.length)] = (s[0] as number) * 2;
        if (c !== 3) e.shape = s;
        return withHeader(h);
      },
    ],
    [
      'duplicate names',
      () => {
        // JSON.parse keeps the last of two equal keys; the file must then still be checked as a whole.
        const name = r.pick(names);
        const other = entryOf(header, r.pick(names));
        const dup = `${JSON.stringify(name)}:${JSON.stringify(r.int(2) ? other : entryOf(header, name))}`;
        const text = r.int(2) ? headerText.replace(/^\{/, `{${dup},`) : headerText.replace(/\}$/, `,${dup}}`);
        return withHeader(text);
      },
    ],
    [
      'deep nesting',
      (i) => {
        const depth = r.pick([100, 1000, 10_000, 100_000]);
        const c = i % 4;
        if (c === 0) return withHeader(deep(depth, '[', ']'));
        if (c === 1) return withHeader(headerText.replace('"shape":[3,4]', `"shape":${deep(depth, '[', ']', '3')}`));
        if (c === 2) return withHeader(headerText.replace('{"format":"pt","note":"fuzz"}', deep(depth, '{"a":', '}')));
        return withHeader(deep(depth, '[', ']').slice(0, depth + 1));
      },
    ],
    [
      '__metadata__',
      () => {
        const h = clone();
        h['__metadata__'] = r.pick<unknown>([
          null,
          1,
          'pt',
          ['pt'],
          { format: 1 },
          { format: null },
          { a: { b: 'c' } },
          { format: ['pt'] },
          {},
          { '': '' },
          { __proto__: 'x' },
        ]);
        return withHeader(h);
      },
    ],
    [
      'data size',
      () => {
        const c = r.int(3);
        if (c === 0) return withHeader(headerText, data.slice(0, r.int(data.length)));
        if (c === 1) return withHeader(headerText, Uint8Array.from([...data, ...new Uint8Array(1 + r.int(16))]));
        return withHeader(headerText.slice(0, r.int(headerText.length)));
      },
    ],
    [
      'not a tensor map',
      () =>
        withHeader(
          r.pick([
            '[]',
            '"x"',
            '1',
            'null',
            '{}',
            '{"a":1}',
            '{"a":[]}',
            '{"a":{"dtype":"F32"}}',
            '{"__metadata__":{}}',
            '\u00ef\u00bb\u00bf{}',
            '{"a":{"dtype":"F32","shape":[20],"data_offsets":[0,80]}}',
            `{${'"x":1,'.repeat(r.int(5000))}"y":2}`,
          ]),
          r.int(2) ? data : new Uint8Array(0),
        ),
    ],
  ];
  return Array.from({ length: count }, (_, i) => {
    const [kind, make] = kinds[i % kinds.length]!;
    return { kind, bytes: make(Math.floor(i / kinds.length)) };
  });
}

/** A parse that succeeded must describe the file exactly: every tensor inside it, sizes right, readers agree. */
function checkConsistent(bytes: Uint8Array, tensors: Map<string, SafeTensor>, what: string): void {
  const header = parseSafetensorsHeader(bytes);
  assert.equal(header.tensors.length, tensors.size, what);
  let cursor = header.dataStart;
  for (const t of header.tensors) {
    assert.ok(
      t.begin >= header.dataStart && t.begin === cursor && t.end <= bytes.length,
      `${what}: ${t.name} inside the file, no gaps`,
    );
    cursor = t.end;
    const n = t.shape.reduce((a, b) => a * b, 1);
    const width = t.dtype === 'F32' ? 4 : 2;
    assert.equal(t.end - t.begin, n * width, `${what}: ${t.name} size`);
    const got = tensors.get(t.name)!;
    assert.equal(got.data.length, n);
    assert.deepEqual(got.shape, t.shape);
  }
  assert.equal(cursor, bytes.length, `${what}: data section fully used`);
}

function sameTensors(a: Map<string, SafeTensor>, b: Map<string, SafeTensor>, what: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), what);
  for (const [name, t] of a) {
    const x = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
    const o = b.get(name)!.data;
    const y = new Uint32Array(o.buffer, o.byteOffset, o.length);
    assert.deepEqual(x, y, `${what}: ${name}`);
  }
}

test(
  'fuzz: 1,000 mutated safetensors files end in a consistent parse or AttentionInputError, each within the time bound',
  { timeout: 120_000 },
  async (ctx) => {
    const startTensors = tf.memory().numTensors;
    const t0 = performance.now();
    const mutants = makeMutants(1000, 0x5afe7e45);
    parseSafetensors(baseFile().bytes); // the unmutated file is valid
    const dir = tmpDir('st-fuzz-');
    const outcomes = new Map<string, Map<string, number>>();
    const count = (kind: string, outcome: string): void => {
      const m = outcomes.get(kind) ?? new Map<string, number>();
      m.set(outcome, (m.get(outcome) ?? 0) + 1);
      outcomes.set(kind, m);
    };
    let slowest = 0;
    let slowestWhat = '';
    let valid = 0;
    // A call slower than the bound is timed again (twice at most) before it counts as slow, so a
    // scheduler or GC pause on a loaded machine is not mistaken for a hang; outcomes must not change.
    const timed = async <T>(
      what: string,
      fn: () => T | Promise<T>,
    ): Promise<{ ok: T } | { err: AttentionInputError }> => {
      let best = Infinity;
      let result: { ok: T } | { err: AttentionInputError } | undefined;
      for (let attempt = 0; attempt < 3 && best >= CASE_MS; attempt++) {
        const start = performance.now();
        let r: { ok: T } | { err: AttentionInputError };
        try {
          r = { ok: await fn() };
        } catch (e) {
          if (!(e instanceof AttentionInputError))
            assert.fail(`${what} threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
          r = { err: e };
        }
        best = Math.min(best, performance.now() - start);
        if (result && 'err' in result !== 'err' in r) assert.fail(`${what}: the outcome changed between attempts`);
        result ??= r;
      }
      if (best > slowest) [slowest, slowestWhat] = [best, what];
      assert.ok(best < CASE_MS, `${what} took ${best.toFixed(1)} ms`);
      return result!;
    };
    for (const [i, m] of mutants.entries()) {
      const what = `mutant ${i} (${m.kind})`;
      const file = path.join(dir, `${i}.safetensors`);
      fs.writeFileSync(file, m.bytes);
      const mem = await timed(`${what} in memory`, () => parseSafetensors(m.bytes));
      const disk = await timed(`${what} from disk`, () => readSafetensorsFile(file));
      const head = await timed(`${what} header only`, () => readSafetensorsHeader(file));
      fs.rmSync(file);
      if ('ok' in mem) {
        assert.ok(
          'ok' in disk && 'ok' in head,
          `${what}: the in-memory parser accepted it but the file reader did not`,
        );
        assert.ok(!m.kind.startsWith('truncated'), `${what}: a truncated file parsed`);
        checkConsistent(m.bytes, mem.ok, what);
        sameTensors(mem.ok, disk.ok, what);
        valid++;
        count(m.kind, 'valid');
      } else {
        assert.ok(
          'err' in disk && 'err' in head,
          `${what}: the file reader accepted what the in-memory parser rejected`,
        );
        assert.equal(disk.err.code, mem.err.code);
        assert.equal(mem.err.code, 'file', `${what}: ${mem.err.message}`);
        assert.ok(
          mem.err.message.length > 20 && mem.err.message.length < 600,
          `${what}: a readable message: ${mem.err.message}`,
        );
        count(m.kind, `AttentionInputError('${mem.err.code}')`);
      }
    }
    const totalMs = performance.now() - t0;
    assert.ok(valid < 250, `${valid} of 1000 mutants stayed valid: the fuzzer is not mutating enough`);
    for (const kind of ['truncated at a boundary', 'truncated anywhere', 'length prefix', 'data size']) {
      assert.ok(!outcomes.get(kind)?.has('valid') || kind === 'length prefix', `${kind}: never valid`);
    }
    assert.equal(tf.memory().numTensors, startTensors);
    const lines = [...outcomes].map(
      ([kind, m]) => `${kind.padEnd(24)} ${[...m].map(([o, n]) => `${o}: ${n}`).join(', ')}`,
    );
    const summary = `1000 mutants × 3 readers in ${(totalMs / 1000).toFixed(1)} s; slowest call ${slowest.toFixed(1)} ms (${slowestWhat}); ${valid} valid and consistent, ${1000 - valid} AttentionInputError('file')`;
    console.log(`safetensors fuzz outcomes:\n  ${lines.join('\n  ')}\n  ${summary}`);
    ctx.diagnostic(summary);
  },
);

test('the real TinyStories file cut at every tensor boundary (±1 byte) is an AttentionInputError on every reader', async () => {
  const file = path.join(MODELS, 'tinystories-656k', 'model.safetensors');
  const whole = new Uint8Array(fs.readFileSync(file));
  const header = parseSafetensorsHeader(whole);
  const cuts = new Set<number>([0, 4, 8, header.dataStart - 1, header.dataStart]);
  for (const t of header.tensors)
    for (const x of [t.begin - 1, t.begin + 1, t.end - 1, t.end + 1]) if (x > 0 && x < whole.length) cuts.add(x);
  const dir = tmpDir('st-cut-');
  const cutFile = path.join(dir, 'cut.safetensors');
  for (const n of [...cuts].sort((a, b) => a - b)) {
    const part = whole.subarray(0, n);
    const start = performance.now();
    assert.throws(
      () => parseSafetensors(part),
      (e: unknown) => e instanceof AttentionInputError && e.code === 'file',
      `cut at ${n}`,
    );
    fs.writeFileSync(cutFile, part);
    await assert.rejects(
      readSafetensorsFile(cutFile),
      (e: unknown) => e instanceof AttentionInputError && e.code === 'file',
      `cut at ${n} (disk)`,
    );
    await assert.rejects(
      readSafetensorsHeader(cutFile),
      (e: unknown) => e instanceof AttentionInputError && e.code === 'file',
      `cut at ${n} (header)`,
    );
    assert.ok(performance.now() - start < 3 * CASE_MS, `cut at ${n} took ${(performance.now() - start).toFixed(1)} ms`);
  }
});

test('truncated and mismatched real checkpoints through the Llama, BERT and Marian loaders leak no tensors', async () => {
  const families: [string, (dir: string) => Promise<{ dispose(): void }>][] = [
    ['tinystories-656k', loadLlama],
    ['english-encoder', loadBert],
    ['dates-transformer', loadEncoderDecoder],
  ];
  for (const [name, load] of families) {
    const src = path.join(MODELS, name);
    const dir = tmpDir(`st-${name}-`);
    for (const f of fs.readdirSync(src))
      if (f !== 'model.safetensors') fs.copyFileSync(path.join(src, f), path.join(dir, f));
    const whole = new Uint8Array(fs.readFileSync(path.join(src, 'model.safetensors')));
    const header = parseSafetensorsHeader(whole);
    const weights = path.join(dir, 'model.safetensors');
    const start = tf.memory().numTensors;
    for (const n of [
      0,
      7,
      100,
      header.dataStart,
      header.dataStart + 1000,
      Math.floor(whole.length / 2),
      whole.length - 1,
    ]) {
      fs.writeFileSync(weights, whole.subarray(0, n));
      await assert.rejects(
        load(dir),
        (e: unknown) => e instanceof AttentionInputError && e.code === 'file',
        `${name} cut at ${n}`,
      );
      assert.equal(tf.memory().numTensors, start, `${name} cut at ${n}: no tensors leak`);
    }
    // A valid file whose last tensor is missing, or whose tensor has the wrong shape: the loader's own
    // checks fail after some weights were turned into tensors, and must dispose of them.
    const tensors = parseSafetensors(whole);
    // A tensor every family needs: the last one of the first layer, in file order.
    const last = header.tensors.filter((t) => /\blayers?\.0\./.test(t.name)).at(-1)!.name;
    const asRecord = (m: Map<string, SafeTensor>) =>
      Object.fromEntries([...m].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
    const missing = new Map(tensors);
    missing.delete(last);
    fs.writeFileSync(weights, writeSafetensors(asRecord(missing)));
    await assert.rejects(load(dir), (e: unknown) => e instanceof AttentionInputError, `${name} without ${last}`);
    assert.equal(tf.memory().numTensors, start, `${name} without ${last}: no tensors leak`);
    const reshaped = new Map(tensors);
    const t = tensors.get(last)!;
    reshaped.set(last, { ...t, shape: t.shape.length === 1 ? [1, t.shape[0]!] : [t.shape.reduce((a, b) => a * b, 1)] });
    fs.writeFileSync(weights, writeSafetensors(asRecord(reshaped)));
    await assert.rejects(load(dir), (e: unknown) => e instanceof AttentionInputError, `${name} with ${last} reshaped`);
    assert.equal(tf.memory().numTensors, start, `${name} with ${last} reshaped: no tensors leak`);
    // And the untouched file still loads (the copy is complete).
    fs.writeFileSync(weights, whole);
    (await load(dir)).dispose();
    assert.equal(tf.memory().numTensors, start);
  }
});
