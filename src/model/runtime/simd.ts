// A small WebAssembly SIMD module for the elementwise work tfjs-backend-wasm does slowly on the hot
// path of every transformer layer:
// - exact GELU, ½x(1 + erf(x/√2)): the backend's Erf is scalar libm code (~20 ns an element, 21 ms
//   for one BERT-base FFN at 512 tokens, plus four more passes for the rest of GELU);
// - layer normalisation, (x − mean)/√(var + ε)·g + b per row, and RMSNorm, x/√(mean(x²) + ε)·g:
//   nine (six) tfjs ops, each a pass and an allocation, become three (two) passes in one call.
//
// The module is encoded here, byte by byte (no toolchain at build time), from this text:
//
//   (func (export "gelu") (param $src i32) (param $dst i32) (param $n i32)   ;; $n floats, a multiple of 4
//     (local $end i32) (local $x v128) (local $u v128) (local $x2 v128) (local $p v128) (local $q v128)
//     $end = $src + 4·$n
//     while $src < $end:
//       $x = v128.load $src;  $u = min(max($x · √½, −4), 4);  $x2 = $u · $u
//       $p = $u · P($x2);  $q = Q($x2)                    ;; Horner, coefficients below
//       v128.store $dst (½$x · (1 + $p / $q));  $src += 16;  $dst += 16
//
//   (func (export "layerNorm") (param $src i32) (param $dst i32) (param $g i32) (param $b i32)
//         (param $rows i32) (param $cols i32) (param $eps f32) (param $center i32)  ;; $cols a multiple of 4
//     (local $row i32) (local $p i32) (local $end i32) (local $j i32) (local $acc v128) (local $mv v128)
//     (local $sv v128) (local $d v128) (local $mean f32)
//     while $row < $rows:
//       $end = $src + 4·$cols
//       $mean = $center ? hsum(Σ v128.load $p for $p in [$src, $end)) / $cols : 0;  $mv = splat($mean)
//       $acc = Σ ($d = load $p − $mv)·$d;  $sv = splat(1 / √(hsum($acc) / $cols + $eps))
//       for $p, $j: v128.store $dst ((load $p − $mv)·$sv·load($g + $j) + load($b + $j));  $dst += 16
//       $src = $end;  $row += 1
//
// erf(u) ≈ u·P(u²)/Q(u²) on [−4, 4] is the rational approximation Eigen uses for float erf;
// evaluated in float32 here, GELU is within 2.5e-7·max(1, |x|) of a double-precision reference.
// The variance is two-pass (no E[x²] − E[x]² cancellation). test/unit/wasmKernels.test.ts checks both.

const P = [
  -2.72614225801306e-10, 2.77068142495902e-8, -2.10102402082508e-6, -5.69250639462346e-5, -7.34990630326855e-4,
  -2.95459980854025e-3, -1.60960333262415e-2,
];
const Q = [
  -1.45660718464996e-5, -2.13374055278905e-4, -1.68282697438203e-3, -7.37332916720468e-3, -1.42647390514189e-2,
];

const op = {
  end: 0x0b,
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Shl: 0x74,
  localTee: 0x22,
  f32Const: 0x43,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Div: 0x95,
  f32FromU32: 0xb3,
  f32x4Splat: [0xfd, 0x13],
  f32x4Lane: [0xfd, 0x1f],
  f32x4Sub: [0xfd, 0xe5, 0x01],
  v128Load: [0xfd, 0x00, 0x04, 0x00], // align 2⁴, offset 0
  v128Store: [0xfd, 0x0b, 0x04, 0x00],
  v128Const: [0xfd, 0x0c],
  f32x4Add: [0xfd, 0xe4, 0x01],
  f32x4Mul: [0xfd, 0xe6, 0x01],
  f32x4Div: [0xfd, 0xe7, 0x01],
  f32x4Min: [0xfd, 0xe8, 0x01],
  f32x4Max: [0xfd, 0xe9, 0x01],
} as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** v128.const with the same float32 in all four lanes. */
function splat(v: number): number[] {
  const lane = f32Bytes(v);
  return [...op.v128Const, ...lane, ...lane, ...lane, ...lane];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

const get = (i: number): number[] => [op.localGet, i];
const set = (i: number): number[] => [op.localSet, i];
const addConst = (local: number, k: number): number[] => [
  ...get(local),
  op.i32Const,
  ...sleb(k),
  op.i32Add,
  ...set(local),
];
/** `while (local < end) { body }` as block/loop/br_if/br. */
const whileBelow = (local: number, end: number, body: number[]): number[] => [
  ...op.block,
  ...op.loop,
  ...get(local),
  ...get(end),
  op.i32GeU,
  op.brIf,
  1,
  ...body,
  op.br,
  0,
  op.end,
  op.end,
];
/** The four lanes of a v128 local added into one f32 on the stack. */
const hsum = (v: number): number[] => [
  ...get(v),
  ...op.f32x4Lane,
  0,
  ...get(v),
  ...op.f32x4Lane,
  1,
  op.f32Add,
  ...get(v),
  ...op.f32x4Lane,
  2,
  op.f32Add,
  ...get(v),
  ...op.f32x4Lane,
  3,
  op.f32Add,
];

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

function geluBody(): number[] {
  const [src, dst, n, end, x, u, x2, p, q] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const horner = (coeffs: readonly number[]): number[] =>
    coeffs
      .slice(1)
      .reduce((acc, c) => [...acc, ...get(x2), ...op.f32x4Mul, ...splat(c), ...op.f32x4Add], splat(coeffs[0]!));
  return [
    ...[2, 1, 0x7f, 5, 0x7b], // locals: one i32 ($end), five v128
    ...get(src),
    ...get(n),
    op.i32Const,
    2,
    op.i32Shl,
    op.i32Add,
    ...set(end),
    ...whileBelow(src, end, [
      ...get(src),
      ...op.v128Load,
      ...set(x),
      ...get(x),
      ...splat(Math.SQRT1_2),
      ...op.f32x4Mul,
      ...splat(-4),
      ...op.f32x4Max,
      ...splat(4),
      ...op.f32x4Min,
      ...set(u),
      ...get(u),
      ...get(u),
      ...op.f32x4Mul,
      ...set(x2),
      ...horner(P),
      ...get(u),
      ...op.f32x4Mul,
      ...set(p),
      ...horner(Q),
      ...set(q),
      ...get(dst),
      ...get(x),
      ...splat(0.5),
      ...op.f32x4Mul,
      ...get(p),
      ...get(q),
      ...op.f32x4Div,
      ...splat(1),
      ...op.f32x4Add,
      ...op.f32x4Mul,
      ...op.v128Store,
      ...addConst(src, 16),
      ...addConst(dst, 16),
    ]),
    op.end,
  ];
}

function layerNormBody(): number[] {
  const [src, dst, g, b, rows, cols, eps, center, row, p, end, j, acc, mv, sv, d, mean] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
  ];
  const perCol = (): number[] => [...get(cols), op.f32FromU32, op.f32Div];
  return [
    ...[3, 4, 0x7f, 4, 0x7b, 1, 0x7d], // locals: four i32, four v128, one f32
    ...op.block,
    ...op.loop,
    ...get(row),
    ...get(rows),
    op.i32GeU,
    op.brIf,
    1,
    ...get(src),
    ...get(cols),
    op.i32Const,
    2,
    op.i32Shl,
    op.i32Add,
    ...set(end),
    // mean (0 for RMSNorm: $center = 0)
    op.f32Const,
    ...f32Bytes(0),
    ...set(mean),
    ...get(center),
    ...op.if,
    ...splat(0),
    ...set(acc),
    ...get(src),
    ...set(p),
    ...whileBelow(p, end, [...get(acc), ...get(p), ...op.v128Load, ...op.f32x4Add, ...set(acc), ...addConst(p, 16)]),
    ...hsum(acc),
    ...perCol(),
    ...set(mean),
    op.end,
    ...get(mean),
    ...op.f32x4Splat,
    ...set(mv),
    // 1 / √(variance + ε)
    ...splat(0),
    ...set(acc),
    ...get(src),
    ...set(p),
    ...whileBelow(p, end, [
      ...get(p),
      ...op.v128Load,
      ...get(mv),
      ...op.f32x4Sub,
      op.localTee,
      d,
      ...get(d),
      ...op.f32x4Mul,
      ...get(acc),
      ...op.f32x4Add,
      ...set(acc),
      ...addConst(p, 16),
    ]),
    op.f32Const,
    ...f32Bytes(1),
    ...hsum(acc),
    ...perCol(),
    ...get(eps),
    op.f32Add,
    op.f32Sqrt,
    op.f32Div,
    ...op.f32x4Splat,
    ...set(sv),
    // (x − mean)·s·g + b
    ...get(src),
    ...set(p),
    op.i32Const,
    0,
    ...set(j),
    ...whileBelow(p, end, [
      ...get(dst),
      ...get(p),
      ...op.v128Load,
      ...get(mv),
      ...op.f32x4Sub,
      ...get(sv),
      ...op.f32x4Mul,
      ...get(g),
      ...get(j),
      op.i32Add,
      ...op.v128Load,
      ...op.f32x4Mul,
      ...get(b),
      ...get(j),
      op.i32Add,
      ...op.v128Load,
      ...op.f32x4Add,
      ...op.v128Store,
      ...addConst(p, 16),
      ...addConst(dst, 16),
      ...addConst(j, 16),
    ]),
    ...get(end),
    ...set(src),
    ...addConst(row, 1),
    op.br,
    0,
    op.end,
    op.end,
    op.end,
  ];
}

function f32Bytes(v: number): number[] {
  return [...new Uint8Array(new Float32Array([v]).buffer)];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const bodies = [geluBody(), layerNormBody()].map((body) => [...uleb(body.length), ...body]);
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [2, 0x60, 3, 0x7f, 0x7f, 0x7f, 0, 0x60, 8, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7d, 0x7f, 0]), // (i32×3) → (), (i32×6, f32, i32) → ()
    ...section(3, [2, 0, 1]),
    ...section(5, [1, 0x00, 1]), // one memory, at least one page
    ...section(7, [3, ...name('mem'), 0x02, 0, ...name('gelu'), 0x00, 0, ...name('layerNorm'), 0x00, 1]),
    ...section(10, [2, ...bodies.flat()]),
  ]);
}

const CHUNK = 1 << 20; // floats per call: the module's memory stays near 8 MB

type GeluFn = (src: number, dst: number, n: number) => void;
type LayerNormFn = (
  src: number,
  dst: number,
  g: number,
  b: number,
  rows: number,
  cols: number,
  eps: number,
  center: number,
) => void;

/** The module's functions over float32 arrays, which may be views of another module's (shared) memory. */
export class SimdKernels {
  readonly #memory: WebAssembly.Memory;
  readonly #gelu: GeluFn;
  readonly #layerNorm: LayerNormFn;

  private constructor(instance: WebAssembly.Instance) {
    this.#memory = instance.exports['mem'] as WebAssembly.Memory;
    this.#gelu = instance.exports['gelu'] as GeluFn;
    this.#layerNorm = instance.exports['layerNorm'] as LayerNormFn;
  }

  /** undefined where WebAssembly SIMD is missing (callers fall back to tf ops). */
  static create(): SimdKernels | undefined {
    const bytes = moduleBytes();
    if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) return undefined;
    return new SimdKernels(new WebAssembly.Instance(new WebAssembly.Module(bytes)));
  }

  /** The module's memory as float32s, at least `floats` long. */
  #floats(floats: number): Float32Array {
    const have = this.#memory.buffer.byteLength;
    if (have < floats * 4) this.#memory.grow(Math.ceil((floats * 4 - have) / 65536));
    return new Float32Array(this.#memory.buffer);
  }

  /** dst[i] = gelu(src[i]). */
  gelu(src: Float32Array, dst: Float32Array): void {
    const chunk = Math.min(CHUNK, src.length);
    const padded = Math.ceil(chunk / 4) * 4;
    const mem = this.#floats(2 * padded);
    for (let at = 0; at < src.length; at += chunk) {
      const n = Math.min(chunk, src.length - at);
      mem.set(src.subarray(at, at + n));
      if (n < padded) mem.fill(0, n, padded);
      this.#gelu(0, padded * 4, Math.ceil(n / 4) * 4);
      dst.set(mem.subarray(padded, padded + n), at);
    }
  }

  /**
   * Rows of `cols` (a multiple of 4): dst = (x − mean)/√(var + eps)·g + b, row by row; without
   * `b` it is RMSNorm, x/√(mean(x²) + eps)·g.
   */
  layerNorm(
    src: Float32Array,
    g: Float32Array,
    b: Float32Array | undefined,
    eps: number,
    cols: number,
    dst: Float32Array,
  ): void {
    if (cols % 4 !== 0 || g.length !== cols || (b && b.length !== cols) || src.length % cols !== 0)
      throw new Error(`layerNorm: ${src.length} values in rows of ${cols}, g ${g.length}, b ${b?.length}`);
    const rows = src.length / cols;
    const chunkRows = Math.max(1, Math.min(rows, Math.floor(CHUNK / cols)));
    const n = chunkRows * cols;
    const mem = this.#floats(2 * n + 2 * cols);
    mem.set(g, 2 * n);
    if (b) mem.set(b, 2 * n + cols);
    else mem.fill(0, 2 * n + cols, 2 * n + 2 * cols);
    for (let row = 0; row < rows; row += chunkRows) {
      const count = Math.min(chunkRows, rows - row);
      mem.set(src.subarray(row * cols, (row + count) * cols));
      this.#layerNorm(0, n * 4, 2 * n * 4, (2 * n + cols) * 4, count, cols, eps, b ? 1 : 0);
      dst.set(mem.subarray(n, n + count * cols), row * cols);
    }
  }
}
