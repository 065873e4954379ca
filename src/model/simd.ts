// A small WebAssembly SIMD module for the one elementwise function tfjs-backend-wasm computes with
// scalar libm code on the hot path of BERT-family models: exact GELU, ½x(1 + erf(x/√2)). Its Erf
// kernel costs ~20 ns an element (25 ms for one BERT-base FFN at 512 tokens, plus four more
// passes for the rest of GELU); four lanes at a time in one pass it is ~10× faster.
//
// The module is encoded here, byte by byte, from this text (no toolchain needed at build time):
//
//   (func (export "gelu") (param $src i32) (param $dst i32) (param $n i32)   ;; $n floats, a multiple of 4
//     (local $end i32) (local $x v128) (local $u v128) (local $x2 v128) (local $p v128) (local $q v128)
//     $end = $src + 4·$n
//     loop while $src < $end:
//       $x = v128.load $src;  $u = min(max($x · √½, −4), 4);  $x2 = $u · $u
//       $p = $u · P($x2);  $q = Q($x2)                    ;; Horner, coefficients below
//       v128.store $dst (½$x · (1 + $p / $q));  $src += 16;  $dst += 16)
//
// erf(u) ≈ u·P(u²)/Q(u²) on [−4, 4] is the rational approximation Eigen uses for float erf;
// evaluated in float32 here, GELU is within 2.5e-7·max(1, |x|) of a double-precision reference
// (test/unit/wasmKernels.test.ts), i.e. about as close as float32 rounding of ½x(1 + erf) allows.

const P = [-2.72614225801306e-10, 2.77068142495902e-8, -2.10102402082508e-6, -5.69250639462346e-5, -7.34990630326855e-4, -2.95459980854025e-3, -1.60960333262415e-2];
const Q = [-1.45660718464996e-5, -2.13374055278905e-4, -1.68282697438203e-3, -7.37332916720468e-3, -1.42647390514189e-2];

const op = {
  end: 0x0b,
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Shl: 0x74,
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
  const bytes = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
  return [...op.v128Const, ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

function geluModuleBytes(): Uint8Array<ArrayBuffer> {
  const [src, dst, n, end, x, u, x2, p, q] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const get = (i: number): number[] => [op.localGet, i];
  const set = (i: number): number[] => [op.localSet, i];
  const horner = (coeffs: readonly number[]): number[] => coeffs.slice(1).reduce((acc, c) => [...acc, ...get(x2), ...op.f32x4Mul, ...splat(c), ...op.f32x4Add], splat(coeffs[0]!));
  const body = [
    ...[2, 1, 0x7f, 5, 0x7b], // locals: 2 groups — one i32 ($end), five v128
    ...get(src), ...get(n), op.i32Const, 2, op.i32Shl, op.i32Add, ...set(end),
    ...op.block, ...op.loop,
    ...get(src), ...get(end), op.i32GeU, op.brIf, 1,
    ...get(src), ...op.v128Load, ...set(x),
    ...get(x), ...splat(Math.SQRT1_2), ...op.f32x4Mul, ...splat(-4), ...op.f32x4Max, ...splat(4), ...op.f32x4Min, ...set(u),
    ...get(u), ...get(u), ...op.f32x4Mul, ...set(x2),
    ...horner(P), ...get(u), ...op.f32x4Mul, ...set(p),
    ...horner(Q), ...set(q),
    ...get(dst),
    ...get(x), ...splat(0.5), ...op.f32x4Mul,
    ...get(p), ...get(q), ...op.f32x4Div, ...splat(1), ...op.f32x4Add,
    ...op.f32x4Mul, ...op.v128Store,
    ...get(src), op.i32Const, 16, op.i32Add, ...set(src),
    ...get(dst), op.i32Const, 16, op.i32Add, ...set(dst),
    op.br, 0,
    op.end, op.end,
    op.end,
  ];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0]), // (i32, i32, i32) → ()
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 1]), // one memory, at least one page
    ...section(7, [2, ...name('mem'), 0x02, 0, ...name('gelu'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

const CHUNK = 1 << 20; // floats per call: the module's memory stays at 8 MB

/** Exact GELU over float32 arrays, four lanes at a time. */
export class SimdGelu {
  readonly #memory: WebAssembly.Memory;
  readonly #gelu: (src: number, dst: number, n: number) => void;

  private constructor(instance: WebAssembly.Instance) {
    this.#memory = instance.exports['mem'] as WebAssembly.Memory;
    this.#gelu = instance.exports['gelu'] as (src: number, dst: number, n: number) => void;
  }

  /** undefined where WebAssembly SIMD is missing (callers fall back to tf ops). */
  static create(): SimdGelu | undefined {
    const bytes = geluModuleBytes();
    if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) return undefined;
    return new SimdGelu(new WebAssembly.Instance(new WebAssembly.Module(bytes)));
  }

  /** dst[i] = gelu(src[i]); src and dst may be views of another module's (shared) memory. */
  run(src: Float32Array, dst: Float32Array): void {
    const chunk = Math.min(CHUNK, src.length);
    const padded = Math.ceil(chunk / 4) * 4;
    const need = 2 * padded * 4;
    const have = this.#memory.buffer.byteLength;
    if (have < need) this.#memory.grow(Math.ceil((need - have) / 65536));
    const input = new Float32Array(this.#memory.buffer, 0, padded);
    const output = new Float32Array(this.#memory.buffer, padded * 4, padded);
    for (let at = 0; at < src.length; at += chunk) {
      const n = Math.min(chunk, src.length - at);
      input.set(src.subarray(at, at + n));
      if (n < padded) input.fill(0, n);
      this.#gelu(0, padded * 4, Math.ceil(n / 4) * 4);
      dst.set(output.subarray(0, n), at);
    }
  }
}
