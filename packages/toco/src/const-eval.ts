/**
 * Plain-JS evaluation of constant subgraphs (TOCO folds "everything constant" before it lowers,
 * spec §2.1 step 4). Only the cheap ops frozen graphs compute on constants: BN arithmetic
 * (Add/Rsqrt/Mul/Sub), shape plumbing (Shape/StridedSlice/Pack/Range/Tile/Cast/Transpose/Reshape),
 * and FakeQuant on weights. Everything is computed in double and stored in the op's dtype, so a
 * float32 result is rounded once per op as TF's float32 kernels are.
 */
import type { DType, Node, Tensor as CoreTensor, TensorInfo } from '@tfpass/core';
import { Tensor, allocate, numElements, broadcastShapes } from '@tfpass/core';

type Num = ArrayLike<number>;

/**
 * Largest constant a fold may create (16 Mi elements). A graph can ask for far more (Tile by
 * huge multiples, a broadcast of two long vectors); such a node is left to the runtime instead of
 * allocating without bound at conversion time. The thrown error is caught by the caller.
 */
export const MAX_FOLD_ELEMENTS = 1 << 24;

function scratch(size: number): Float64Array {
  if (!(size >= 0) || size > MAX_FOLD_ELEMENTS) throw new RangeError(`constant of ${size} elements is not folded`);
  return new Float64Array(size);
}
export type Kernel = (n: Node, ins: CoreTensor[], out: TensorInfo) => CoreTensor | undefined;

/** Values as numbers without a copy when the storage already is a number array. */
function nums(t: CoreTensor): ArrayLike<number> {
  const d = t.data;
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') return t.toFloat32();
  if (ArrayBuffer.isView(d) && !(d instanceof BigInt64Array) && !(d instanceof BigUint64Array)) return d as ArrayLike<number>;
  return t.toNumbers();
}

/**
 * Walk an output shape in row-major order keeping one flat offset per operand (an odometer),
 * so per element the cost is one add instead of a division per dimension. `st[k][d]` is operand
 * k's stride along output dim d (0 where it broadcasts).
 */
function walk(shape: readonly number[], st: number[][], f: (i: number, offs: number[]) => void): void {
  const rank = shape.length;
  const size = numElements([...shape]);
  const idx = new Array<number>(rank).fill(0);
  const offs = st.map(() => 0);
  for (let i = 0; i < size; i++) {
    f(i, offs);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      for (let k = 0; k < st.length; k++) offs[k]! += st[k]![d]!;
      if (idx[d]! < shape[d]!) break;
      for (let k = 0; k < st.length; k++) offs[k]! -= st[k]![d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/** Strides of `inShape` seen from `outShape` under numpy broadcasting (0 on broadcast dims). */
function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const pad = outShape.length - inShape.length;
  const s = strides(inShape);
  return outShape.map((_, d) => (d < pad || inShape[d - pad] === 1 ? 0 : s[d - pad]!));
}

function make(dtype: DType, shape: number[], v: Num): CoreTensor {
  const data = allocate(dtype === 'int64' ? 'int32' : dtype, v.length) as Float64Array;
  for (let i = 0; i < v.length; i++) data[i] = v[i]!;
  return new Tensor(dtype === 'int64' ? 'int32' : dtype, shape, data as never);
}

/** Row-major strides of `shape`. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Element-wise binary op with numpy broadcasting. */
function binary(f: (a: number, b: number) => number): Kernel {
  return (n, [a, b], out) => {
    if (!a || !b) return undefined;
    const shape = broadcastShapes(a.shape, b.shape);
    if (!shape) return undefined;
    const av = nums(a);
    const bv = nums(b);
    const size = numElements(shape);
    const r = scratch(size);
    if (a.size === size && b.size === size) for (let i = 0; i < size; i++) r[i] = f(av[i]!, bv[i]!);
    else if (b.size === 1 && a.size === size) for (let i = 0, y = bv[0]!; i < size; i++) r[i] = f(av[i]!, y);
    else if (a.size === 1 && b.size === size) for (let i = 0, x = av[0]!; i < size; i++) r[i] = f(x, bv[i]!);
    else walk(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)], (i, o) => (r[i] = f(av[o[0]!]!, bv[o[1]!]!)));
    return make(out.dtype !== 'invalid' ? out.dtype : a.dtype, shape, r);
  };
}

function unary(f: (a: number) => number): Kernel {
  return (_n, [a], out) => (a ? make(out.dtype !== 'invalid' ? out.dtype : a.dtype, [...a.shape], Float64Array.from(nums(a), f)) : undefined);
}

/** Same values, new shape (Reshape/ExpandDims/Squeeze/Identity): the inferred output shape. */
const reshapeLike: Kernel = (_n, [a], out) => (a && out.shape && out.shape.every((d) => d >= 0) ? new Tensor(a.dtype, [...out.shape], a.data) : undefined);

/**
 * [rows, cols] → [cols, rows] for float32 weights (megabytes: HWIO → OHWI, FC [in,out] → [out,in]).
 * Monomorphic on Float32Array, in 32×32 tiles so both sides stay in cache.
 */
function transpose2dF32(src: Float32Array, dst: Float32Array, rows: number, cols: number): void {
  for (let r0 = 0; r0 < rows; r0 += 32) {
    const r1 = Math.min(r0 + 32, rows);
    for (let c0 = 0; c0 < cols; c0 += 32) {
      const c1 = Math.min(c0 + 32, cols);
      for (let c = c0; c < c1; c++) {
        let j = r0 * cols + c;
        for (let i = c * rows + r0, end = c * rows + r1; i < end; i++, j += cols) dst[i] = src[j]!;
      }
    }
  }
}

/** Permute axes; a Float32Array comes back as a Float32Array (weights are never widened). */
export function transpose<T extends Float32Array | Float64Array>(data: ArrayLike<number>, shape: readonly number[], perm: readonly number[], out?: T): { data: T; shape: number[] } {
  const outShape = perm.map((p) => shape[p]!);
  const inSt = strides(shape);
  const st = perm.map((p) => inSt[p]!);
  const size = numElements([...shape]);
  const r = (out ?? (data instanceof Float32Array ? new Float32Array(size) : new Float64Array(size))) as T;
  // A rotation of the axes (HWIO → OHWI, [in,out] → [out,in]) is a 2-D transpose: no odometer.
  const k = perm[0]!;
  if (perm.every((p, i) => p === (k + i) % perm.length)) {
    const rows = numElements(shape.slice(0, k));
    const cols = size / Math.max(rows, 1);
    if (data instanceof Float32Array && r instanceof Float32Array) transpose2dF32(data, r, rows, cols);
    else for (let c = 0, i = 0; c < cols; c++) for (let j = c; j < size; i++, j += cols) r[i] = data[j]!;
    return { data: r, shape: outShape };
  }
  const rank = outShape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let i = 0; i < size; i++) {
    r[i] = data[off]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += st[d]!;
      if (idx[d]! < outShape[d]!) break;
      off -= st[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return { data: r, shape: outShape };
}

const trunc = (x: number) => (x < 0 ? Math.ceil(x) : Math.floor(x));
const intType = (t: DType) => t.startsWith('int') || t.startsWith('uint');

/** Kernels by TF op. Ops not here are folded only when shape inference knows the value. */
export const KERNELS: Record<string, Kernel> = {
  Add: binary((a, b) => a + b),
  AddV2: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  RealDiv: binary((a, b) => a / b),
  Div: (n, ins, out) => binary(intType(out.dtype) ? (a, b) => trunc(a / b) : (a, b) => a / b)(n, ins, out),
  FloorDiv: binary((a, b) => Math.floor(a / b)),
  FloorMod: binary((a, b) => a - Math.floor(a / b) * b),
  Maximum: binary(Math.max),
  Minimum: binary(Math.min),
  Pow: binary(Math.pow),
  SquaredDifference: binary((a, b) => (a - b) * (a - b)),
  Rsqrt: unary((a) => 1 / Math.sqrt(Math.fround(a))),
  Sqrt: unary(Math.sqrt),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Neg: unary((a) => -a),
  Abs: unary(Math.abs),
  Square: unary((a) => a * a),
  Reciprocal: unary((a) => 1 / a),
  Floor: unary(Math.floor),
  Cast: (_n, [a], out) => (a ? make(out.dtype, [...a.shape], intType(out.dtype) ? Float64Array.from(nums(a), trunc) : nums(a)) : undefined),
  Identity: reshapeLike,
  Snapshot: reshapeLike,
  StopGradient: reshapeLike,
  CheckNumerics: reshapeLike,
  Reshape: reshapeLike,
  ExpandDims: reshapeLike,
  Squeeze: reshapeLike,
  Transpose: (_n, [a, p]) => {
    if (!a || !p) return undefined;
    const t = transpose(nums(a), a.shape, p.toNumbers());
    return make(a.dtype, t.shape, t.data);
  },
  Tile: (_n, [a, m], out) => {
    if (!a || !m || !out.shape) return undefined;
    const outShape = a.shape.map((d, i) => d * m.toNumbers()[i]!);
    const v = nums(a);
    const r = scratch(numElements(outShape));
    // Tile = broadcast of a [m0, d0, m1, d1, …] view; walk that view with stride 0 on the copies.
    const inSt = strides(a.shape);
    const view = a.shape.flatMap((d, i) => [outShape[i]! / d, d]);
    walk(view, [a.shape.flatMap((_, i) => [0, inSt[i]!])], (i, o) => (r[i] = v[o[0]!]!));
    return make(a.dtype, outShape, r);
  },
  Range: (_n, [s, l, d], out) => {
    if (!s || !l || !d) return undefined;
    const [start, limit, delta] = [s.toNumbers()[0]!, l.toNumbers()[0]!, d.toNumbers()[0]!];
    const len = Math.max(0, Math.ceil((limit - start) / delta));
    const r = scratch(len);
    for (let i = 0; i < len; i++) r[i] = start + i * delta;
    return make(out.dtype !== 'invalid' ? out.dtype : s.dtype, [len], r);
  },
  Pack: (n, ins, out) => {
    if (!out.shape || !ins.length) return undefined;
    const axis = n.attrs.optInt('axis', 0);
    const inner = ins[0]!.shape;
    const ax = axis < 0 ? axis + inner.length + 1 : axis;
    const outer = numElements(inner.slice(0, ax));
    const chunk = numElements(inner.slice(ax));
    const r = scratch(outer * chunk * ins.length);
    const vals = ins.map(nums);
    let k = 0;
    for (let o = 0; o < outer; o++) for (const v of vals) for (let c = 0; c < chunk; c++) r[k++] = v[o * chunk + c]!;
    return make(ins[0]!.dtype, [...out.shape], r);
  },
  ConcatV2: (n, ins, out) => {
    const axisT = ins[ins.length - 1];
    const parts = ins.slice(0, -1);
    if (!axisT || !parts.length || !out.shape) return undefined;
    const rank = parts[0]!.shape.length;
    let axis = axisT.toNumbers()[0]!;
    if (axis < 0) axis += rank;
    const outer = numElements(parts[0]!.shape.slice(0, axis));
    const r: number[] = [];
    const vals = parts.map(nums);
    for (let o = 0; o < outer; o++) {
      parts.forEach((p, i) => {
        const chunk = numElements(p.shape.slice(axis));
        for (let c = 0; c < chunk; c++) r.push(vals[i]![o * chunk + c]!);
      });
    }
    return make(parts[0]!.dtype, [...out.shape], r);
  },
  Fill: (_n, [_dims, v], out) => (v && out.shape ? make(v.dtype, [...out.shape], scratch(numElements(out.shape)).fill(v.toNumbers()[0]!)) : undefined),
};

/** Inferred values (shape inference keeps up to 1024 known elements) as a constant, when complete. */
export function fromInferred(info: TensorInfo | undefined): CoreTensor | undefined {
  if (!info?.value || !info.shape || info.value.some((v) => Number.isNaN(v))) return undefined;
  if (info.dtype === 'invalid' || info.dtype === 'string') return undefined;
  return make(info.dtype, [...info.shape], info.value);
}
