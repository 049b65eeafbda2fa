/**
 * `tf.train.Example` on the wire (tensorflow/core/example/{example,feature}.proto, TF's field
 * numbers): Example.features = 1; Features.feature = 1 (map<string, Feature>: key 1, value 2);
 * Feature oneof bytes_list = 1 | float_list = 2 | int64_list = 3; each list's `value` = 1
 * (floats and int64s packed, unpacked also accepted as the proto spec requires).
 * A hand-written codec: three tiny messages do not justify a generated schema in core.
 */

export type Feature =
  | { kind: 'bytes'; values: Uint8Array[] }
  | { kind: 'float'; values: Float32Array }
  | { kind: 'int64'; values: bigint[] };

export type Features = Map<string, Feature>;

export class ExampleFormatError extends Error {
  constructor(readonly offset: number, detail: string) {
    super(`byte ${offset}: ${detail}`);
  }
}

class Reader {
  pos: number;
  constructor(readonly b: Uint8Array, start = 0, readonly end = b.length) {
    this.pos = start;
  }
  done(): boolean {
    return this.pos >= this.end;
  }
  varint(): bigint {
    let r = 0n;
    let shift = 0n;
    const at = this.pos;
    for (;;) {
      if (this.pos >= this.end) throw new ExampleFormatError(at, 'truncated varint');
      const x = this.b[this.pos++]!;
      r |= BigInt(x & 0x7f) << shift;
      if (!(x & 0x80)) return r;
      shift += 7n;
      if (shift > 63n) throw new ExampleFormatError(at, 'varint longer than 10 bytes');
    }
  }
  small(): number {
    const v = this.varint();
    if (v > 0x7fffffffn) throw new ExampleFormatError(this.pos, `length ${v} too large`);
    return Number(v);
  }
  /** Sub-range of a length-delimited field. */
  sub(): Reader {
    const n = this.small();
    const at = this.pos;
    if (at + n > this.end) throw new ExampleFormatError(at, `field of ${n} bytes runs past the end (${this.end - at} left)`);
    this.pos += n;
    return new Reader(this.b, at, at + n);
  }
  skip(wire: number): void {
    const at = this.pos;
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.sub();
    else if (wire === 5) this.pos += 4;
    else throw new ExampleFormatError(at, `unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new ExampleFormatError(at, 'truncated field');
  }
}

export function decodeExample(bytes: Uint8Array): Features {
  const out: Features = new Map();
  const r = new Reader(bytes);
  while (!r.done()) {
    const tag = r.small();
    if (tag >> 3 === 1 && (tag & 7) === 2) readFeatures(r.sub(), out);
    else r.skip(tag & 7);
  }
  return out;
}

function readFeatures(r: Reader, out: Features): void {
  while (!r.done()) {
    const tag = r.small();
    if (tag >> 3 !== 1 || (tag & 7) !== 2) {
      r.skip(tag & 7);
      continue;
    }
    const entry = r.sub();
    let key = '';
    let feature: Feature | undefined;
    while (!entry.done()) {
      const t = entry.small();
      if (t >> 3 === 1 && (t & 7) === 2) {
        const s = entry.sub();
        key = new TextDecoder().decode(s.b.subarray(s.pos, s.end));
      } else if (t >> 3 === 2 && (t & 7) === 2) feature = readFeature(entry.sub());
      else entry.skip(t & 7);
    }
    if (feature) out.set(key, feature);
  }
}

function readFeature(r: Reader): Feature | undefined {
  let f: Feature | undefined;
  while (!r.done()) {
    const tag = r.small();
    const field = tag >> 3;
    if ((tag & 7) !== 2 || field < 1 || field > 3) {
      r.skip(tag & 7);
      continue;
    }
    const list = r.sub();
    if (field === 1) f = { kind: 'bytes', values: readBytes(list) };
    else if (field === 2) f = { kind: 'float', values: readFloats(list) };
    else f = { kind: 'int64', values: readInts(list) };
  }
  return f;
}

function readBytes(r: Reader): Uint8Array[] {
  const values: Uint8Array[] = [];
  while (!r.done()) {
    const tag = r.small();
    if (tag === (1 << 3 | 2)) {
      const s = r.sub();
      values.push(s.b.subarray(s.pos, s.end));
    } else r.skip(tag & 7);
  }
  return values;
}

function readFloats(r: Reader): Float32Array {
  const values: number[] = [];
  const dv = new DataView(r.b.buffer, r.b.byteOffset, r.b.byteLength);
  const take = (at: number) => {
    if (at + 4 > r.end) throw new ExampleFormatError(at, 'truncated float');
    values.push(dv.getFloat32(at, true));
  };
  while (!r.done()) {
    const tag = r.small();
    if (tag === (1 << 3 | 2)) {
      const s = r.sub();
      if ((s.end - s.pos) % 4) throw new ExampleFormatError(s.pos, 'packed floats not a multiple of 4 bytes');
      for (let p = s.pos; p < s.end; p += 4) take(p);
    } else if (tag === (1 << 3 | 5)) {
      take(r.pos);
      r.pos += 4;
    } else r.skip(tag & 7);
  }
  return Float32Array.from(values);
}

function readInts(r: Reader): bigint[] {
  const values: bigint[] = [];
  while (!r.done()) {
    const tag = r.small();
    if (tag === (1 << 3 | 2)) {
      const s = r.sub();
      while (!s.done()) values.push(BigInt.asIntN(64, s.varint()));
    } else if (tag === (1 << 3 | 0)) values.push(BigInt.asIntN(64, r.varint()));
    else r.skip(tag & 7);
  }
  return values;
}

// ---- encoding (tests, and users who write TFRecords with tfpass) ----------------------------

class Writer {
  parts: number[] = [];
  varint(v: bigint | number): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
  }
  bytes(field: number, b: Uint8Array): void {
    this.varint((field << 3) | 2);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export type FeatureValue = Uint8Array | string | number[] | Float32Array | bigint[] | { int64: number[] };

/** Encode features; numbers become a float_list, `bigint[]` or `{int64}` an int64_list. */
export function encodeExample(features: Record<string, FeatureValue>): Uint8Array {
  const feats = new Writer();
  for (const key of Object.keys(features).sort()) {
    const v = features[key]!;
    const list = new Writer();
    let field: number;
    if (typeof v === 'string' || v instanceof Uint8Array) {
      field = 1;
      list.bytes(1, typeof v === 'string' ? new TextEncoder().encode(v) : v);
    } else if (Array.isArray(v) && typeof v[0] === 'bigint') {
      field = 3;
      const packed = new Writer();
      for (const x of v as bigint[]) packed.varint(x);
      list.bytes(1, packed.finish());
    } else if (!Array.isArray(v) && !(v instanceof Float32Array)) {
      field = 3;
      const packed = new Writer();
      for (const x of v.int64) packed.varint(BigInt(x));
      list.bytes(1, packed.finish());
    } else {
      field = 2;
      const f = Float32Array.from(v as ArrayLike<number>);
      list.bytes(1, new Uint8Array(f.buffer));
    }
    const feature = new Writer();
    feature.bytes(field, list.finish());
    const entry = new Writer();
    entry.bytes(1, new TextEncoder().encode(key));
    entry.bytes(2, feature.finish());
    feats.bytes(1, entry.finish());
  }
  const ex = new Writer();
  ex.bytes(1, feats.finish());
  return ex.finish();
}
