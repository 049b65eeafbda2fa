import { create } from '@bufbuild/protobuf';
import { TensorProtoSchema, type TensorProto } from './gen/tensorflow/core/framework/tensor_pb.js';
import { TensorShapeProtoSchema, type TensorShapeProto } from './gen/tensorflow/core/framework/tensor_shape_pb.js';
import { type DType, dtypeFromEnum, dtypeToEnum, dtypeSize } from './dtype.js';
import { GraphFormatError, TensorLimitError, TfpassError } from './errors.js';

export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
export type TensorData = NumericArray | BigInt64Array | BigUint64Array | Uint8Array[];

/** Shape with -1 for unknown dims; `null` for unknown rank. */
export type Shape = number[];

/**
 * A host tensor. Storage per dtype: float16/bfloat16 keep their raw 16-bit patterns in a
 * Uint16Array (use `toFloat32()` for values), complex types interleave (re, im), bool is a
 * Uint8Array of 0/1, string is an array of byte strings, int64/uint64 use bigint arrays.
 */
export class Tensor {
  constructor(
    readonly dtype: DType,
    readonly shape: Shape,
    readonly data: TensorData,
  ) {}

  get size(): number {
    return numElements(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Values as float32 (int64 converted through Number; strings rejected). */
  toFloat32(): Float32Array {
    const d = this.data;
    if (this.dtype === 'float32') return d as Float32Array;
    if (this.dtype === 'float16') return halfBitsToFloat32(d as Uint16Array);
    if (this.dtype === 'bfloat16') return bfloat16BitsToFloat32(d as Uint16Array);
    if (Array.isArray(d)) throw new TfpassError('E_INTERNAL', `cannot convert ${this.dtype} tensor to numbers`);
    const out = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
    return out;
  }

  /** Values as plain numbers (float16/bfloat16 decoded, int64 via Number). */
  toNumbers(): number[] {
    if (Array.isArray(this.data)) throw new TfpassError('E_INTERNAL', `cannot convert ${this.dtype} tensor to numbers`);
    if (this.dtype === 'float16' || this.dtype === 'bfloat16') return Array.from(this.toFloat32());
    return Array.from(this.data as ArrayLike<number | bigint>, (v) => Number(v));
  }

  static scalar(dtype: DType, value: number | bigint | boolean | string): Tensor {
    return Tensor.fromValues(dtype, [], [value as never]);
  }

  /** Build from plain values, converting to the dtype's storage (float16/bfloat16 rounded to nearest even). */
  static fromValues(dtype: DType, shape: Shape, values: ArrayLike<number | bigint | boolean | string | Uint8Array>): Tensor {
    const n = values.length;
    let data: TensorData;
    switch (dtype) {
      case 'string':
        data = Array.from(values as ArrayLike<string | Uint8Array>, (v) => (typeof v === 'string' ? new TextEncoder().encode(v) : v));
        break;
      case 'float16':
        data = float32ToHalfBits(Float32Array.from(values as ArrayLike<number>));
        break;
      case 'bfloat16':
        data = float32ToBfloat16Bits(Float32Array.from(values as ArrayLike<number>));
        break;
      case 'int64':
        data = BigInt64Array.from(values as ArrayLike<number | bigint>, (v) => BigInt(Math.trunc(Number(v)) === Number(v) ? (v as number) : Math.trunc(Number(v))));
        break;
      case 'uint64':
        data = BigUint64Array.from(values as ArrayLike<number | bigint>, (v) => BigInt(v as number));
        break;
      case 'bool':
        data = Uint8Array.from(values as ArrayLike<unknown>, (v) => (v ? 1 : 0));
        break;
      case 'complex64':
      case 'complex128':
        // Values are interleaved (re, im): the storage has as many numbers as `values`.
        data = dtype === 'complex64' ? Float32Array.from(values as ArrayLike<number>) : Float64Array.from(values as ArrayLike<number>);
        break;
      default: {
        const arr = allocate(dtype, n);
        for (let i = 0; i < n; i++) (arr as Float64Array)[i] = Number(values[i]);
        data = arr;
      }
    }
    return new Tensor(dtype, [...shape], data);
  }

  static zeros(dtype: DType, shape: Shape): Tensor {
    const n = numElements(shape);
    checkTensorSize(dtype, n);
    if (dtype === 'string') return new Tensor(dtype, [...shape], Array.from({ length: n }, () => new Uint8Array()));
    return new Tensor(dtype, [...shape], allocate(dtype, n));
  }
}

export function numElements(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d < 0 ? 0 : d;
  return n;
}

// ---- the tensor size limit ---------------------------------------------------------------

const DEFAULT_MAX_TENSOR_BYTES = 2 * 2 ** 30;
let maxBytesSetting: number | undefined;

/**
 * Largest tensor (bytes) tfpass allocates: `setMaxTensorBytes` (the CLI's --max_tensor_bytes),
 * else $TFPASS_MAX_TENSOR_BYTES, else 2 GiB. A file may declare a splat Const of billions of
 * elements in a few bytes; it is refused before anything is allocated.
 */
export function maxTensorBytes(): number {
  if (maxBytesSetting !== undefined) return maxBytesSetting;
  const env = process.env.TFPASS_MAX_TENSOR_BYTES;
  const v = env ? parseByteSize(env) : undefined;
  return v ?? DEFAULT_MAX_TENSOR_BYTES;
}

/** `1073741824`, `512M`, `4G`, `2GiB` -> bytes; undefined when not a size. */
export function parseByteSize(s: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(s);
  if (!m) return undefined;
  const mul = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const v = Math.floor(Number(m[1]) * mul);
  return Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

export function setMaxTensorBytes(bytes: number | undefined): void {
  if (bytes !== undefined && !(Number.isSafeInteger(bytes) && bytes > 0)) throw new TfpassError('E_USAGE', `--max_tensor_bytes must be a positive number of bytes, got ${bytes}`);
  maxBytesSetting = bytes;
}

function human(b: number): string {
  return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${b} bytes`;
}

/** Refuse (E_LIMIT) a tensor of `elements` elements of `dtype` that exceeds the limit. */
export function checkTensorSize(dtype: DType, elements: number, what = 'a tensor'): void {
  // Strings are counted at 16 bytes each (an array slot plus an empty byte string).
  const per = dtype === 'string' ? 16 : Math.max(1, dtypeSize(dtype));
  const bytes = elements * per;
  const limit = maxTensorBytes();
  if (!(bytes <= limit)) {
    throw new TensorLimitError(`${what} of ${elements} ${dtype} elements (${human(bytes)}) exceeds the tensor size limit of ${human(limit)}; raise it with --max_tensor_bytes=BYTES (or TFPASS_MAX_TENSOR_BYTES)`);
  }
}

/** A typed array of the dtype's storage type (refused with E_LIMIT beyond maxTensorBytes()). */
export function allocate(dtype: DType, n: number): Exclude<TensorData, Uint8Array[]> {
  checkTensorSize(dtype, n);
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'float16': case 'bfloat16': case 'uint16': case 'quint16': return new Uint16Array(n);
    case 'int8': case 'qint8': return new Int8Array(n);
    case 'int16': case 'qint16': return new Int16Array(n);
    case 'int32': case 'qint32': return new Int32Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'uint8': case 'quint8': case 'bool': return new Uint8Array(n);
    case 'uint32': return new Uint32Array(n);
    case 'uint64': return new BigUint64Array(n);
    case 'complex64': return new Float32Array(2 * n);
    case 'complex128': return new Float64Array(2 * n);
    default:
      throw new TfpassError('E_INTERNAL', `no host storage for dtype ${dtype}`);
  }
}

// ---- float16 / bfloat16 ----------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfBitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]!);
  return out;
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float32 -> IEEE half bits, round to nearest even (as Eigen does). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}

export function float32ToHalfBits(v: Float32Array): Uint16Array {
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = floatToHalf(v[i]!);
  return out;
}

export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const o32 = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) o32[i] = bits[i]! << 16;
  return out;
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
export function floatToBfloat16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if (Number.isNaN(v)) return ((x >>> 16) | 0x40) & 0xffff;
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function float32ToBfloat16Bits(v: Float32Array): Uint16Array {
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = floatToBfloat16(v[i]!);
  return out;
}

// ---- shapes ----------------------------------------------------------------------------

/** Shape from a TensorShapeProto; `null` for unknown rank. */
export function shapeFromProto(p: TensorShapeProto | undefined): Shape | null {
  if (!p) return [];
  if (p.unknownRank) return null;
  return p.dim.map((d) => Number(d.size));
}

export function shapeToProto(shape: Shape | null): TensorShapeProto {
  if (shape === null) return create(TensorShapeProtoSchema, { unknownRank: true });
  return create(TensorShapeProtoSchema, { dim: shape.map((s) => ({ size: BigInt(s) })) });
}

// ---- TensorProto <-> Tensor ------------------------------------------------------------

function copyBytes(bytes: Uint8Array): ArrayBuffer {
  // tensor_content may sit at an unaligned offset of the file buffer: copy into its own buffer.
  // Copy through the Uint8Array constructor: Buffer#slice would share (and expose) the whole file buffer.
  return new Uint8Array(bytes).buffer;
}

function fromContent(dtype: DType, n: number, bytes: Uint8Array): TensorData {
  const size = dtypeSize(dtype);
  if (bytes.length !== n * size) {
    throw new GraphFormatError({}, `tensor_content has ${bytes.length} bytes, expected ${n * size} for ${n} ${dtype} elements`);
  }
  const buf = copyBytes(bytes);
  switch (dtype) {
    case 'float32': case 'complex64': return new Float32Array(buf);
    case 'float64': case 'complex128': return new Float64Array(buf);
    case 'float16': case 'bfloat16': case 'uint16': case 'quint16': return new Uint16Array(buf);
    case 'int8': case 'qint8': return new Int8Array(buf);
    case 'int16': case 'qint16': return new Int16Array(buf);
    case 'int32': case 'qint32': return new Int32Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'uint64': return new BigUint64Array(buf);
    case 'uint32': return new Uint32Array(buf);
    default: return new Uint8Array(buf);
  }
}

function trimRepeatedBytes(list: Uint8Array[]): Uint8Array[] {
  const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  let n = list.length;
  while (n > 1 && eq(list[n - 1]!, list[n - 2]!)) n--;
  return list.slice(0, n);
}

/** Fill `out` from a typed value list, repeating the last value when the list is short (TF's rule). */
function fillFrom<T>(out: { length: number; [i: number]: T }, list: ArrayLike<T>, zero: T): void {
  const n = out.length;
  if (list.length === 0) {
    for (let i = 0; i < n; i++) out[i] = zero;
    return;
  }
  const m = Math.min(n, list.length);
  for (let i = 0; i < m; i++) out[i] = list[i]!;
  const last = list[list.length - 1]!;
  for (let i = m; i < n; i++) out[i] = last;
}

export function tensorFromProto(p: TensorProto): Tensor {
  const dtype = dtypeFromEnum(p.dtype);
  const shape = shapeFromProto(p.tensorShape) ?? [];
  const n = numElements(shape);
  if (dtype === 'string') {
    checkTensorSize(dtype, n, 'a string tensor');
    const out: Uint8Array[] = new Array(n);
    fillFrom(out, p.stringVal, new Uint8Array());
    return new Tensor(dtype, shape, out);
  }
  if (dtype === 'resource' || dtype === 'variant' || dtype === 'invalid') {
    // A file can carry any enum value: an unknown or host-less dtype is bad input, not a bug.
    const what = dtype === 'invalid' ? `dtype enum ${p.dtype}, which is not a TensorFlow DataType` : `dtype ${dtype}, which has no host value`;
    throw new GraphFormatError({}, `tensor has ${what}`);
  }
  if (p.tensorContent.length > 0) return new Tensor(dtype, shape, fromContent(dtype, n, p.tensorContent));
  const complex = dtype === 'complex64' || dtype === 'complex128';
  const data = allocate(dtype, n);
  switch (dtype) {
    case 'float32': fillFrom(data as Float32Array, p.floatVal, 0); break;
    case 'float64': fillFrom(data as Float64Array, p.doubleVal, 0); break;
    case 'float16': case 'bfloat16': fillFrom(data as Uint16Array, p.halfVal, 0); break;
    case 'int64': fillFrom(data as BigInt64Array, p.int64Val, 0n); break;
    case 'uint64': fillFrom(data as BigUint64Array, p.uint64Val, 0n); break;
    case 'uint32': fillFrom(data as Uint32Array, p.uint32Val, 0); break;
    case 'bool': fillFrom(data as Uint8Array, p.boolVal.map((b) => (b ? 1 : 0)), 0); break;
    case 'complex64': case 'complex128': {
      const list = dtype === 'complex64' ? p.scomplexVal : p.dcomplexVal;
      // Complex lists repeat the last (re, im) pair.
      if (list.length === 0) break;
      for (let i = 0; i < n; i++) {
        const j = Math.min(i, list.length / 2 - 1) * 2;
        (data as Float32Array)[2 * i] = list[j]!;
        (data as Float32Array)[2 * i + 1] = list[j + 1]!;
      }
      break;
    }
    default: fillFrom(data as Int32Array, p.intVal, 0);
  }
  void complex;
  return new Tensor(dtype, shape, data);
}

export interface TensorEncodeOptions {
  /**
   * 'content' (default, as TF's tools write): raw bytes in tensor_content.
   * 'values': the typed `*_val` list. 'compact': `*_val` with trailing repeats of the last
   * value dropped (a constant-filled tensor becomes one value, TF's repeat-last rule restores it).
   */
  encoding?: 'content' | 'values' | 'compact';
}

function trimRepeats<T>(list: T[], stride = 1): T[] {
  let n = list.length;
  const same = (a: number, b: number) => {
    for (let k = 0; k < stride; k++) if (!Object.is(list[a + k], list[b + k])) return false;
    return true;
  };
  while (n > stride && same(n - stride, n - 2 * stride)) n -= stride;
  return list.slice(0, n);
}

/** Encode as TF's tools do: tensor_content for POD dtypes, string_val for strings. */
export function tensorToProto(t: Tensor, opts: TensorEncodeOptions = {}): TensorProto {
  const p = create(TensorProtoSchema, { dtype: dtypeToEnum(t.dtype), tensorShape: shapeToProto(t.shape) });
  const enc = opts.encoding ?? 'content';
  if (t.dtype === 'string') {
    const list = (t.data as Uint8Array[]).slice();
    p.stringVal = enc === 'compact' ? trimRepeatedBytes(list) : list;
    return p;
  }
  const d = t.data as Exclude<TensorData, Uint8Array[]>;
  if (enc !== 'content') {
    const compact = enc === 'compact';
    const list = <T>(xs: T[], stride = 1) => (compact ? trimRepeats(xs, stride) : xs);
    switch (t.dtype) {
      case 'float32': p.floatVal = list(Array.from(d as Float32Array)); return p;
      case 'float64': p.doubleVal = list(Array.from(d as Float64Array)); return p;
      case 'float16': case 'bfloat16': p.halfVal = list(Array.from(d as Uint16Array)); return p;
      case 'int64': p.int64Val = list(Array.from(d as BigInt64Array)); return p;
      case 'uint64': p.uint64Val = list(Array.from(d as BigUint64Array)); return p;
      case 'uint32': p.uint32Val = list(Array.from(d as Uint32Array)); return p;
      case 'bool': p.boolVal = list(Array.from(d as Uint8Array, (x) => x !== 0)); return p;
      case 'complex64': p.scomplexVal = list(Array.from(d as Float32Array), 2); return p;
      case 'complex128': p.dcomplexVal = list(Array.from(d as Float64Array), 2); return p;
      default: p.intVal = list(Array.from(d as Int32Array)); return p;
    }
  }
  p.tensorContent = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  return p;
}
