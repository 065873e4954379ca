// A message with typed arrays as one binary body, for the render-scale bench's fetch() between its
// Node host and the panel page: a uint32 JSON length, the JSON (typed arrays replaced by
// {"$ta": [type, offset, length]}), padding to 8 bytes, then every array's raw bytes. No Node APIs.
type Typed = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array | Int8Array | Uint16Array | Int16Array;
const TYPES = { Float32Array, Float64Array, Int32Array, Uint32Array, Uint8Array, Int8Array, Uint16Array, Int16Array };
type TypeName = keyof typeof TYPES;

export function encodeBinary(value: unknown): Uint8Array {
  const parts: Typed[] = [];
  let offset = 0;
  const json = JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const t = v as Typed;
      const name = t.constructor.name as TypeName;
      offset = Math.ceil(offset / 8) * 8;
      const ref = { $ta: [name, offset, t.length] };
      parts.push(t);
      offset += t.byteLength;
      return ref;
    }
    return v;
  });
  const head = new TextEncoder().encode(json);
  const start = Math.ceil((4 + head.length) / 8) * 8;
  const out = new Uint8Array(start + offset);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  let at = 0;
  for (const t of parts) {
    at = Math.ceil(at / 8) * 8;
    out.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), start + at);
    at += t.byteLength;
  }
  return out;
}

export function decodeBinary(buf: ArrayBuffer): unknown {
  const n = new DataView(buf).getUint32(0, true);
  const json = new TextDecoder().decode(new Uint8Array(buf, 4, n));
  const start = Math.ceil((4 + n) / 8) * 8;
  return JSON.parse(json, (_key, v: unknown) => {
    const ref = (v as { $ta?: [TypeName, number, number] } | null)?.$ta;
    return ref ? new TYPES[ref[0]](buf, start + ref[1], ref[2]) : v;
  });
}
