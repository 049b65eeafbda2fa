import { readFileSync } from 'node:fs';
import { mulberry32, FileError, NumericMismatchError, Tensor, UsageError, checkTensorSize, numElements, parseDType, writeFileAtomic, type DType, type Shape } from '@tfpass/core';

// ---- seeded random numbers --------------------------------------------------------------------

/** Small, fast, seedable PRNG (mulberry32). Same seed, same sequence, on every platform. */
export class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;
  constructor(seed = 1) {
    this.next = mulberry32(seed);
  }
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }
  /** Standard normal (Box-Muller). */
  normal(mean = 0, std = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
}

// ---- input specs ------------------------------------------------------------------------------

export type Distribution = 'uniform' | 'normal';

export interface InputSpec {
  shape: number[];
  dtype?: DType | string;
  dist?: Distribution;
  /** uniform: bounds (default [-1, 1]); normal: mean = (low+high)/2, std = (high-low)/2. */
  low?: number;
  high?: number;
}

/** A spec given as just a shape is uniform float32 in [-1, 1]. */
export type InputSpecLike = number[] | InputSpec;

export function normalizeSpec(s: InputSpecLike): Required<Pick<InputSpec, 'shape' | 'dist' | 'low' | 'high'>> & { dtype: DType } {
  const spec: InputSpec = Array.isArray(s) ? { shape: s } : s;
  const dtype = spec.dtype === undefined ? 'float32' : parseDType(spec.dtype);
  if (!dtype) throw new UsageError(`unknown dtype '${String(spec.dtype)}'`);
  if (spec.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new UsageError(`input shape [${spec.shape.join(',')}] must be fully known and non-negative`);
  return { shape: spec.shape, dtype, dist: spec.dist ?? 'uniform', low: spec.low ?? (dtype === 'bool' ? 0 : -1), high: spec.high ?? 1 };
}

/** Describe a spec for reports, e.g. `float32[1,8,8,3] ~ U(-1, 1)`. */
export function describeSpec(s: InputSpecLike): string {
  const n = normalizeSpec(s);
  const d = n.dist === 'uniform' ? `U(${n.low}, ${n.high})` : `N(${(n.low + n.high) / 2}, ${(n.high - n.low) / 2}²)`;
  return `${n.dtype}[${n.shape.join(',')}] ~ ${d}`;
}

/** One seeded random tensor for a spec. Integer dtypes draw integers in [low, high]. */
export function randomTensor(s: InputSpecLike, rng: Rng): Tensor {
  const n = normalizeSpec(s);
  const count = numElements(n.shape);
  checkTensorSize(n.dtype, count, `an input of shape [${n.shape.join(',')}]`);
  const vals = new Array<number>(count);
  const isInt = !['float32', 'float64', 'float16', 'bfloat16'].includes(n.dtype);
  for (let i = 0; i < count; i++) {
    let v = n.dist === 'normal' ? rng.normal((n.low + n.high) / 2, (n.high - n.low) / 2) : rng.uniform(n.low, n.high);
    if (n.dtype === 'bool') v = rng.next() < 0.5 ? 0 : 1;
    else if (isInt) v = Math.round(v);
    vals[i] = v;
  }
  return Tensor.fromValues(n.dtype, n.shape, vals);
}

/** Seeded random feeds for every named input (same seed and specs give identical tensors). */
export function randomInputs(specs: Record<string, InputSpecLike>, seed = 1): Record<string, Tensor> {
  const rng = new Rng(seed);
  const out: Record<string, Tensor> = {};
  // Sizes are checked for every input before any is drawn (--input X=100000,100000 is 40 GB).
  for (const [name, s] of Object.entries(specs)) {
    const n = normalizeSpec(s);
    checkTensorSize(n.dtype, numElements(n.shape), `--input ${name}=${n.shape.join(',')}: a tensor`);
  }
  for (const name of Object.keys(specs).sort()) out[name] = randomTensor(specs[name]!, rng);
  return out;
}

// ---- statistics -------------------------------------------------------------------------------

export interface SummaryStats {
  dtype: DType;
  shape: Shape;
  size: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  nan: number;
  inf: number;
}

/** min/max/mean/std over finite values, plus NaN and Inf counts. */
export function summaryStats(t: Tensor): SummaryStats {
  const base = { dtype: t.dtype, shape: [...t.shape], size: t.size };
  if (t.dtype === 'string') return { ...base, min: NaN, max: NaN, mean: NaN, std: NaN, nan: 0, inf: 0 };
  const v = t.toFloat32();
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sq = 0;
  let nan = 0;
  let inf = 0;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x !== x) { nan++; continue; }
    if (x === Infinity || x === -Infinity) { inf++; continue; }
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    n++;
  }
  const mean = n ? sum / n : NaN;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (Number.isFinite(x)) sq += (x - mean) * (x - mean);
  }
  return { ...base, min: n ? min : NaN, max: n ? max : NaN, mean, std: n ? Math.sqrt(sq / n) : NaN, nan, inf };
}

// ---- comparison -------------------------------------------------------------------------------

export interface OutputComparison {
  name: string;
  shape: Shape;
  maxAbsError: number;
  maxRelError: number;
  /** Elements with |a-b| > atol + rtol*|b| (NaN vs non-NaN counts as a mismatch). */
  mismatches: number;
  /** Index and values of the worst element relative to the tolerance. */
  worst?: { index: number; a: number; b: number };
  ok: boolean;
}

/** Compare two tensors elementwise: `|a - b| <= atol + rtol*|b|` (b is the reference). */
export function compareTensors(name: string, a: Tensor, b: Tensor, atol: number, rtol: number): OutputComparison {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    return { name, shape: [...a.shape], maxAbsError: Infinity, maxRelError: Infinity, mismatches: Math.max(a.size, b.size), ok: false, worst: undefined };
  }
  const x = a.dtype === 'string' ? undefined : a.toFloat32();
  const y = b.dtype === 'string' ? undefined : b.toFloat32();
  if (!x || !y) {
    const sa = (a.data as Uint8Array[]).map((s) => Buffer.from(s).toString('hex'));
    const sb = (b.data as Uint8Array[]).map((s) => Buffer.from(s).toString('hex'));
    const mism = sa.filter((s, i) => s !== sb[i]).length;
    return { name, shape: [...a.shape], maxAbsError: mism ? Infinity : 0, maxRelError: mism ? Infinity : 0, mismatches: mism, ok: mism === 0 };
  }
  let maxAbs = 0;
  let maxRel = 0;
  let mism = 0;
  let worst: OutputComparison['worst'];
  let worstExcess = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const p = x[i]!;
    const q = y[i]!;
    if (p !== p || q !== q) {
      if (!(p !== p && q !== q)) {
        mism++;
        maxAbs = Infinity;
        if (worstExcess < Infinity) { worstExcess = Infinity; worst = { index: i, a: p, b: q }; }
      }
      continue;
    }
    const d = p === q ? 0 : Math.abs(p - q);
    if (d > maxAbs) maxAbs = d;
    const rel = d === 0 ? 0 : d / Math.max(Math.abs(q), Number.MIN_VALUE);
    if (rel > maxRel) maxRel = rel;
    const excess = d - (atol + rtol * Math.abs(q));
    if (excess > 0) mism++;
    if (excess > worstExcess) { worstExcess = excess; worst = { index: i, a: p, b: q }; }
  }
  return { name, shape: [...a.shape], maxAbsError: maxAbs, maxRelError: maxRel, mismatches: mism, worst, ok: mism === 0 };
}

/** Compare lists of outputs by name; `a` is the candidate, `b` the reference. */
export function compareOutputs(names: string[], a: Tensor[], b: Tensor[], opts: { atol?: number; rtol?: number } = {}): OutputComparison[] {
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-5;
  return names.map((n, i) => compareTensors(n, a[i]!, b[i]!, atol, rtol));
}

/** Human-readable table of comparisons. */
export function formatComparisons(cs: OutputComparison[]): string {
  return cs
    .map((c) => {
      const w = c.worst ? ` worst at [${c.worst.index}]: ${c.worst.a} vs ${c.worst.b}` : '';
      return `${c.ok ? 'ok  ' : 'FAIL'} ${c.name} [${c.shape.join(',')}] max|a-b|=${c.maxAbsError.toExponential(3)} max rel=${c.maxRelError.toExponential(3)} mismatches=${c.mismatches}${c.ok ? '' : w}`;
    })
    .join('\n');
}

export { NumericMismatchError };

// ---- .npy ---------------------------------------------------------------------------------------

const NPY_DTYPES: Record<string, DType> = {
  '<f4': 'float32', '<f8': 'float64', '<f2': 'float16', '<i4': 'int32', '<i8': 'int64', '|i1': 'int8', '<i2': 'int16',
  '|u1': 'uint8', '<u2': 'uint16', '<u4': 'uint32', '<u8': 'uint64', '|b1': 'bool',
};
const NPY_DESCR: Partial<Record<DType, string>> = Object.fromEntries(Object.entries(NPY_DTYPES).map(([k, v]) => [v, k]));

/** Parse a NumPy `.npy` file (v1-3, little-endian, C order). */
export function decodeNpy(bytes: Uint8Array, file = '<npy>'): Tensor {
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') {
    throw new FileError(file, 'not a .npy file (bad magic)');
  }
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hstart = major === 1 ? 10 : 12;
  if (bytes.length < hstart) throw new FileError(file, `truncated .npy file: ${bytes.length} bytes, the version ${major} preamble needs ${hstart}`);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const header = new TextDecoder().decode(bytes.subarray(hstart, hstart + hlen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*True/.test(header);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) throw new FileError(file, `unreadable .npy header: ${JSON.stringify(header.trim().slice(0, 120))}`);
  if (fortran) throw new FileError(file, 'Fortran-ordered .npy arrays are not supported');
  const dtype = NPY_DTYPES[descr.replace('=', '<')];
  if (!dtype) throw new FileError(file, `unsupported .npy dtype '${descr}'`);
  const dims = shapeText.split(',').map((s) => s.trim()).filter(Boolean);
  // Every dim a plain non-negative integer: a nested tuple or a negative dim is a corrupt header.
  const badDim = dims.find((d) => !/^\d+L?$/.test(d));
  if (badDim !== undefined) throw new FileError(file, `.npy shape (${shapeText.trim()}) has a dimension '${badDim}' that is not a non-negative integer`);
  const shape = dims.map((d) => Number(d.replace(/L$/, '')));
  const n = numElements(shape);
  if (!Number.isSafeInteger(n)) throw new FileError(file, `.npy shape (${shapeText.trim()}) has more elements than any file can hold`);
  // Copy: Buffer.slice is a view into a shared pool, so its .buffer is not just this data.
  const body = new Uint8Array(bytes.subarray(hstart + hlen)).buffer;
  const need = n * ({ float32: 4, float64: 8, float16: 2, int32: 4, int64: 8, int8: 1, int16: 2, uint8: 1, uint16: 2, uint32: 4, uint64: 8, bool: 1 } as Record<string, number>)[dtype]!;
  if (body.byteLength < need) throw new FileError(file, `.npy data has ${body.byteLength} bytes, expected ${need}`);
  const data = (() => {
    switch (dtype) {
      case 'float32': return new Float32Array(body, 0, n);
      case 'float64': return new Float64Array(body, 0, n);
      case 'float16': case 'uint16': return new Uint16Array(body, 0, n);
      case 'int32': return new Int32Array(body, 0, n);
      case 'int64': return new BigInt64Array(body, 0, n);
      case 'uint64': return new BigUint64Array(body, 0, n);
      case 'int8': return new Int8Array(body, 0, n);
      case 'int16': return new Int16Array(body, 0, n);
      case 'uint32': return new Uint32Array(body, 0, n);
      default: return new Uint8Array(body, 0, n);
    }
  })();
  return new Tensor(dtype, shape, data);
}

/** Encode a tensor as a v1 `.npy` file. */
export function encodeNpy(t: Tensor): Uint8Array {
  const descr = NPY_DESCR[t.dtype];
  if (!descr || Array.isArray(t.data)) throw new UsageError(`cannot write ${t.dtype} tensors as .npy`);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const d = t.data as Exclude<Tensor['data'], Uint8Array[]>;
  const body = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}

export function readNpy(path: string): Tensor {
  let b: Uint8Array;
  try {
    b = readFileSync(path);
  } catch (e) {
    throw new FileError(path, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  return decodeNpy(b, path);
}

export function writeNpy(path: string, t: Tensor): void {
  writeFileAtomic(path, encodeNpy(t));
}
