import type { DType, Node, PluginApi, Tensor } from '@tfpass/core';

/**
 * Exact integer folding. The runtime computes in tfjs dtypes: int64/uint32/uint64 become int32,
 * int8/int16/uint8/uint16 are kept in int32 (no wrap at their width), integer Div/Mod floor where
 * TF truncates, and products beyond 2^53 lose their low bits. So every node with integer values
 * that is not a plain layout/selection op is computed here, with BigInt, in TF's semantics:
 * two's-complement wrap at the dtype's width, Div/TruncateDiv/Mod/TruncateMod truncate,
 * FloorDiv/FloorMod floor. Where TF fails (division by zero, negative integer powers, Range with a
 * wrong-signed delta) or is undefined (INT_MIN / -1, float -> int casts out of range), the node is
 * left unfolded and the reason noted (TF crashes on INT_MIN / -1; we do not fold it).
 */

export type Lib = PluginApi['lib'];

const BITS: Partial<Record<DType, { bits: number; signed: boolean }>> = {
  int8: { bits: 8, signed: true }, int16: { bits: 16, signed: true }, int32: { bits: 32, signed: true }, int64: { bits: 64, signed: true },
  uint8: { bits: 8, signed: false }, uint16: { bits: 16, signed: false }, uint32: { bits: 32, signed: false }, uint64: { bits: 64, signed: false },
};

export function isIntDType(d: DType | undefined): boolean {
  return d !== undefined && BITS[d] !== undefined;
}

const FLOATS = new Set<DType>(['float16', 'bfloat16', 'float32', 'float64']);

/** Dtypes tfjs cannot hold at all: any node touching them is computed here or not folded. */
const WIDE = new Set<DType>(['int64', 'uint32', 'uint64']);

/**
 * The op table's `identity` and `reshape` roles, as plain names: this module has no `api.lib` at
 * load time (plugins take core values from the api only), so test/op-roles.test.ts pins them to
 * `opsWith(...)`. CheckNumerics is left out: TF defines it on floats only, so an integer one is an
 * invalid node, left for the runtime to reject rather than folded.
 */
export const IDENTITY_LIKE: ReadonlySet<string> = new Set(['Identity', 'Snapshot', 'StopGradient', 'PreventGradient']);
export const RESHAPES: ReadonlySet<string> = new Set(['Reshape', 'ExpandDims', 'Squeeze']);

/**
 * Ops whose int32 (or narrower) results the runtime gets exactly: they move, select or compare
 * values without arithmetic. Every other op on integers is computed here.
 */
export const LAYOUT_OPS = new Set([
  ...IDENTITY_LIKE, ...RESHAPES, 'Pack', 'Unpack',
  'ConcatV2', 'Concat', 'Slice', 'StridedSlice', 'Gather', 'GatherV2', 'GatherNd', 'Transpose', 'Tile', 'Fill',
  'ZerosLike', 'OnesLike', 'Reverse', 'ReverseV2', 'Pad', 'PadV2', 'MirrorPad', 'Select', 'SelectV2', 'Equal',
  'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Maximum', 'Minimum', 'Shape', 'ShapeN', 'Size', 'Rank',
  'Split', 'SplitV', 'BroadcastTo', 'OneHot', 'ArgMax', 'ArgMin', 'Where',
]);

export function isWide(d: DType | undefined): boolean {
  return d !== undefined && WIDE.has(d);
}

/** An integer tensor whose values all fit in int32 (non-integers trivially do). */
export function fitsInt32(t: Tensor): boolean {
  if (!isWide(t.dtype)) return true;
  const d = t.data as ArrayLike<number | bigint>;
  for (let i = 0; i < d.length; i++) if (BigInt(d[i]!) < -(2n ** 31n) || BigInt(d[i]!) >= 2n ** 31n) return false;
  return true;
}

/** True when the runtime would compute `op` over these dtypes inexactly (or not at all). */
export function needsExact(op: string, dtypes: (DType | undefined)[], outDtypes: (DType | undefined)[]): boolean {
  if ([...dtypes, ...outDtypes].some((d) => d !== undefined && WIDE.has(d))) return true;
  // Casts from or to integers and bools: TF's wrap and rounding rules (tfjs keeps ints in int32).
  if (op === 'Cast') return [...dtypes, ...outDtypes].some((d) => isIntDType(d) || d === 'bool');
  return [...dtypes, ...outDtypes].some(isIntDType) && !LAYOUT_OPS.has(op);
}

/** A value being folded: integers and bools as bigint, floats as number. */
interface Val {
  dtype: DType;
  shape: number[];
  v: (bigint | number)[];
}

/** A reason the node is left unfolded (TF would fail, or its result is undefined). */
export class NotFolded extends Error {
  /** True when the folder merely lacks this op (TF itself would compute it). */
  unsupported = false;
}

const count = (s: number[]) => s.reduce((a, b) => a * b, 1);

function wrap(d: DType, x: bigint): bigint {
  if (d === 'bool') return x ? 1n : 0n;
  const b = BITS[d]!;
  return b.signed ? BigInt.asIntN(b.bits, x) : BigInt.asUintN(b.bits, x);
}

export function fromTensor(t: Tensor): Val {
  const d = t.dtype;
  if (isIntDType(d) || d === 'bool') return { dtype: d, shape: [...t.shape], v: Array.from(t.data as ArrayLike<number | bigint>, (x) => BigInt(x)) };
  if (FLOATS.has(d)) return { dtype: d, shape: [...t.shape], v: t.toNumbers() };
  throw new NotFolded(`${d} values are not folded exactly`);
}

export function toTensor(lib: Lib, x: Val): Tensor {
  if (FLOATS.has(x.dtype)) return lib.Tensor.fromValues(x.dtype, x.shape, x.v as number[]);
  const data = lib.allocate(x.dtype, x.v.length);
  const big = x.dtype === 'int64' || x.dtype === 'uint64';
  for (let i = 0; i < x.v.length; i++) (data as unknown as (number | bigint)[])[i] = big ? (x.v[i] as bigint) : Number(x.v[i]);
  return new lib.Tensor(x.dtype, [...x.shape], data);
}

/** NumPy/TF broadcasting of two shapes. */
function broadcastShape(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new NotFolded(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Flat index into `shape` (right-aligned, size-1 dims repeat) of each element of `out`. */
function broadcastIndex(shape: number[], out: number[]): (i: number) => number {
  const r = out.length;
  const strides: number[] = new Array(r).fill(0);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    const j = r - shape.length + k;
    strides[j] = shape[k] === 1 ? 0 : s;
    s *= shape[k]!;
  }
  return (i) => {
    let idx = 0;
    for (let k = r - 1; k >= 0; k--) {
      const d = out[k]!;
      idx += (i % d) * strides[k]!;
      i = Math.floor(i / d);
    }
    return idx;
  };
}

function binary(a: Val, b: Val, outType: DType, f: (x: bigint, y: bigint) => bigint, limit: number): Val {
  const shape = broadcastShape(a.shape, b.shape);
  const n = count(shape);
  if (n > limit) throw new NotFolded(`result has ${n} elements, more than max_constant_size_in_bytes allows`);
  const ia = broadcastIndex(a.shape, shape);
  const ib = broadcastIndex(b.shape, shape);
  const v = new Array<bigint>(n);
  for (let i = 0; i < n; i++) v[i] = wrap(outType, f(a.v[ia(i)] as bigint, b.v[ib(i)] as bigint));
  return { dtype: outType, shape, v };
}

const truncDiv = (x: bigint, y: bigint) => x / y; // BigInt division truncates toward zero, as C++ does.
const truncMod = (x: bigint, y: bigint) => x % y;
function floorDiv(x: bigint, y: bigint): bigint {
  const q = x / y;
  return x % y !== 0n && (x < 0n) !== (y < 0n) ? q - 1n : q;
}
function floorMod(x: bigint, y: bigint): bigint {
  const r = x % y;
  return r !== 0n && (r < 0n) !== (y < 0n) ? r + y : r;
}

function minOf(d: DType): bigint {
  const b = BITS[d]!;
  return b.signed ? -(1n << BigInt(b.bits - 1)) : 0n;
}
function maxOf(d: DType): bigint {
  const b = BITS[d]!;
  return b.signed ? (1n << BigInt(b.bits - 1)) - 1n : (1n << BigInt(b.bits)) - 1n;
}

/** A division-like op: TF fails on a zero divisor; INT_MIN / -1 traps in TF's C++ kernel. */
function divide(d: DType, f: (x: bigint, y: bigint) => bigint): (x: bigint, y: bigint) => bigint {
  return (x, y) => {
    if (y === 0n) throw new NotFolded('integer division by zero (TF fails at run time)');
    if (BITS[d]!.signed && y === -1n && x === minOf(d)) throw new NotFolded(`${x} / -1 overflows ${d} (undefined in TF's kernel)`);
    return f(x, y);
  };
}

function ipow(d: DType): (x: bigint, y: bigint) => bigint {
  const bits = BigInt(BITS[d]!.bits);
  return (x, y) => {
    if (y < 0n) throw new NotFolded('integers to negative integer powers are not allowed (TF fails at run time)');
    // Square-and-multiply modulo 2^bits: the wrapped result TF computes, without huge intermediates.
    let r = 1n;
    let base = BigInt.asUintN(Number(bits), x);
    let e = y;
    while (e > 0n) {
      if (e & 1n) r = BigInt.asUintN(Number(bits), r * base);
      base = BigInt.asUintN(Number(bits), base * base);
      e >>= 1n;
    }
    return r;
  };
}

const BINARY: Record<string, (d: DType) => (x: bigint, y: bigint) => bigint> = {
  Add: () => (x, y) => x + y,
  AddV2: () => (x, y) => x + y,
  Sub: () => (x, y) => x - y,
  Mul: () => (x, y) => x * y,
  Div: (d) => divide(d, truncDiv),
  TruncateDiv: (d) => divide(d, truncDiv),
  FloorDiv: (d) => divide(d, floorDiv),
  Mod: (d) => divide(d, truncMod),
  TruncateMod: (d) => divide(d, truncMod),
  FloorMod: (d) => divide(d, floorMod),
  Maximum: () => (x, y) => (x > y ? x : y),
  Minimum: () => (x, y) => (x < y ? x : y),
  Pow: ipow,
  SquaredDifference: () => (x, y) => (x - y) * (x - y),
};

const COMPARE: Record<string, (x: bigint, y: bigint) => boolean> = {
  Equal: (x, y) => x === y,
  NotEqual: (x, y) => x !== y,
  Less: (x, y) => x < y,
  LessEqual: (x, y) => x <= y,
  Greater: (x, y) => x > y,
  GreaterEqual: (x, y) => x >= y,
};

const UNARY: Record<string, (x: bigint) => bigint> = {
  Neg: (x) => -x,
  Abs: (x) => (x < 0n ? -x : x),
  Square: (x) => x * x,
  Sign: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n),
  ...Object.fromEntries([...IDENTITY_LIKE].map((op) => [op, (x: bigint) => x])),
};

/** Nearest float with `mant` significant bits (ties to even), from an exact integer: one rounding only. */
function roundInt(x: bigint, mant: number): number {
  const neg = x < 0n;
  let m = neg ? -x : x;
  const len = m.toString(2).length;
  if (len <= mant) return neg ? -Number(m) : Number(m);
  const shift = BigInt(len - mant);
  const rem = m & ((1n << shift) - 1n);
  const half = 1n << (shift - 1n);
  m >>= shift;
  if (rem > half || (rem === half && m & 1n)) m += 1n;
  const r = Number(m) * 2 ** Number(shift);
  return neg ? -r : r;
}

const MANTISSA: Partial<Record<DType, number>> = { float64: 53, float32: 24, float16: 11, bfloat16: 8 };

function cast(x: Val, to: DType): Val {
  const from = x.dtype;
  let f: (v: bigint | number) => bigint | number;
  if (FLOATS.has(to)) {
    if (FLOATS.has(from)) throw new NotFolded('float casts are left to the runtime');
    const bits = MANTISSA[to]!;
    f = (v) => roundInt(v as bigint, bits);
  } else if (to === 'bool') {
    f = (v) => (typeof v === 'number' ? (v !== 0 ? 1n : 0n) : v !== 0n ? 1n : 0n);
  } else if (isIntDType(to)) {
    if (FLOATS.has(from)) {
      // static_cast of a float outside the target range (or NaN) is undefined behaviour in C++.
      f = (v) => {
        const t = Math.trunc(v as number);
        if (!Number.isFinite(t) || BigInt(t) < minOf(to) || BigInt(t) > maxOf(to)) throw new NotFolded(`casting ${v} to ${to} is undefined in TF`);
        return BigInt(t);
      };
    } else f = (v) => wrap(to, v as bigint);
  } else throw new NotFolded(`cast to ${to} is not folded exactly`);
  return { dtype: to, shape: x.shape, v: x.v.map(f) };
}

function scalarOf(x: Val, what: string): bigint {
  if (x.v.length !== 1) throw new NotFolded(`${what} must be a scalar`);
  return x.v[0] as bigint;
}

function intsOf(x: Val): number[] {
  return x.v.map((v) => Number(v));
}

function axisOf(a: number, rank: number, what: string): number {
  if (a < -rank || a >= rank) throw new NotFolded(`${what} ${a} is out of range for rank ${rank}`);
  return a < 0 ? a + rank : a;
}

function reduce(x: Val, axesVal: Val, keep: boolean, outType: DType, init: bigint, f: (a: bigint, b: bigint) => bigint): Val {
  const rank = x.shape.length;
  const axes = new Set(intsOf(axesVal).map((a) => axisOf(a, Math.max(rank, 1), 'reduction axis')));
  const outShape: number[] = [];
  const keptShape: number[] = [];
  x.shape.forEach((d, k) => {
    if (axes.has(k)) {
      if (keep) outShape.push(1);
      keptShape.push(1);
    } else {
      outShape.push(d);
      keptShape.push(d);
    }
  });
  const n = count(keptShape);
  const v = new Array<bigint>(n).fill(init);
  const strides = keptShape.map((_, k) => keptShape.slice(k + 1).reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.v.length; i++) {
    let rest = i;
    let o = 0;
    for (let k = rank - 1; k >= 0; k--) {
      const d = x.shape[k]!;
      const c = rest % d;
      rest = Math.floor(rest / d);
      if (!axes.has(k)) o += c * strides[k]!;
    }
    v[o] = wrap(outType, f(v[o]!, x.v[i] as bigint));
  }
  return { dtype: outType, shape: outShape, v };
}

/**
 * The value of `n` from its input values, in TF's semantics, or throws NotFolded with the reason.
 * `limit` bounds the number of elements of the result.
 */
export function evalExact(n: Node, ins: Val[], limit: number): Val {
  const t = ins[0];
  const need = (k: number) => {
    if (ins.length < k) throw new NotFolded(`has ${ins.length} inputs, expected ${k}`);
  };
  const intIn = (x: Val | undefined): Val => {
    if (!x || !(isIntDType(x.dtype) || x.dtype === 'bool')) throw new NotFolded(`${x?.dtype ?? 'missing'} input is not folded exactly`);
    return x;
  };
  const limited = (shape: number[]) => {
    const c = count(shape);
    if (shape.some((d) => d < 0 || !Number.isSafeInteger(d))) throw new NotFolded(`invalid shape [${shape}]`);
    if (c > limit) throw new NotFolded(`result has ${c} elements, more than max_constant_size_in_bytes allows`);
    return c;
  };
  if (n.op in BINARY) {
    need(2);
    const a = intIn(ins[0]);
    const b = intIn(ins[1]);
    if (a.dtype !== b.dtype || a.dtype === 'bool') throw new NotFolded(`operands are ${a.dtype} and ${b.dtype}`);
    return binary(a, b, a.dtype, BINARY[n.op]!(a.dtype), limit);
  }
  if (n.op in COMPARE) {
    need(2);
    const a = intIn(ins[0]);
    const b = intIn(ins[1]);
    const f = COMPARE[n.op]!;
    return binary(a, b, 'bool', (x, y) => (f(x, y) ? 1n : 0n), limit);
  }
  if (n.op in UNARY) {
    need(1);
    const a = intIn(t);
    if (a.dtype === 'bool' && !IDENTITY_LIKE.has(n.op)) throw new NotFolded('bool arithmetic');
    const f = UNARY[n.op]!;
    return { dtype: a.dtype, shape: a.shape, v: a.v.map((x) => wrap(a.dtype, f(x as bigint))) };
  }
  switch (n.op) {
    case 'LogicalAnd': case 'LogicalOr': {
      need(2);
      const and = n.op === 'LogicalAnd';
      return binary(intIn(ins[0]), intIn(ins[1]), 'bool', (x, y) => (and ? x && y : x || y) ? 1n : 0n, limit);
    }
    case 'LogicalNot': {
      const a = intIn(t);
      return { dtype: 'bool', shape: a.shape, v: a.v.map((x) => (x ? 0n : 1n)) };
    }
    case 'Cast': {
      need(1);
      return cast(t!, n.attrs.getType('DstT'));
    }
    case 'Range': {
      need(3);
      const [s, l, d] = [scalarOf(intIn(ins[0]), 'start'), scalarOf(intIn(ins[1]), 'limit'), scalarOf(intIn(ins[2]), 'delta')];
      if (d === 0n) throw new NotFolded('Range delta is 0 (TF fails at run time)');
      if (d > 0n ? s > l : s < l) throw new NotFolded(`Range from ${s} to ${l} with delta ${d} (TF fails at run time)`);
      const ad = d < 0n ? -d : d;
      const span = l > s ? l - s : s - l;
      const size = (span + ad - 1n) / ad;
      if (size > BigInt(limit)) throw new NotFolded(`Range has ${size} elements, more than max_constant_size_in_bytes allows`);
      const dtype = ins[0]!.dtype;
      return { dtype, shape: [Number(size)], v: Array.from({ length: Number(size) }, (_, i) => wrap(dtype, s + BigInt(i) * d)) };
    }
    case 'Fill': {
      need(2);
      const dims = intsOf(intIn(ins[0]));
      const c = limited(dims);
      const val = ins[1]!;
      if (val.v.length !== 1) throw new NotFolded('Fill value must be a scalar');
      return { dtype: val.dtype, shape: dims, v: new Array(c).fill(val.v[0]) };
    }
    case 'ZerosLike': case 'OnesLike': {
      const a = intIn(t);
      return { dtype: a.dtype, shape: a.shape, v: a.v.map(() => (n.op === 'OnesLike' ? 1n : 0n)) };
    }
    case 'Shape': case 'Size': case 'Rank': {
      need(1);
      const out = n.attrs.optType('out_type') ?? 'int32';
      const s = t!.shape;
      if (n.op === 'Shape') return { dtype: out, shape: [s.length], v: s.map((x) => wrap(out, BigInt(x))) };
      if (n.op === 'Size') return { dtype: out, shape: [], v: [wrap(out, BigInt(count(s)))] };
      return { dtype: 'int32', shape: [], v: [BigInt(s.length)] };
    }
    case 'Reshape': {
      need(2);
      const want = intsOf(intIn(ins[1]));
      const known = want.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const free = want.filter((d) => d === -1).length;
      if (free > 1 || want.some((d) => d < -1)) throw new NotFolded(`invalid Reshape shape [${want}]`);
      const shape = free ? want.map((d) => (d === -1 ? (known ? t!.v.length / known : 0) : d)) : want;
      if (count(shape) !== t!.v.length || shape.some((d) => !Number.isInteger(d))) throw new NotFolded(`cannot reshape ${t!.v.length} elements to [${want}]`);
      return { dtype: t!.dtype, shape, v: t!.v };
    }
    case 'ExpandDims': {
      need(2);
      const rank = t!.shape.length;
      const a = axisOf(Number(scalarOf(intIn(ins[1]), 'dim')), rank + 1, 'dim');
      const shape = [...t!.shape];
      shape.splice(a, 0, 1);
      return { dtype: t!.dtype, shape, v: t!.v };
    }
    case 'Squeeze': {
      need(1);
      const rank = t!.shape.length;
      const dims = n.attrs.has('squeeze_dims') ? n.attrs.getInts('squeeze_dims') : n.attrs.has('axis') ? n.attrs.getInts('axis') : [];
      const drop = new Set(dims.map((d) => axisOf(d, rank, 'squeeze dim')));
      for (const d of drop) if (t!.shape[d] !== 1) throw new NotFolded(`cannot squeeze dim ${d} of size ${t!.shape[d]}`);
      const shape = t!.shape.filter((d, k) => (drop.size ? !drop.has(k) : d !== 1));
      return { dtype: t!.dtype, shape, v: t!.v };
    }
    case 'Pack': {
      const parts = ins;
      if (!parts.length) throw new NotFolded('Pack of nothing');
      const s0 = parts[0]!.shape;
      for (const p of parts) if (p.shape.join() !== s0.join() || p.dtype !== parts[0]!.dtype) throw new NotFolded('Pack inputs differ in shape or dtype');
      const a = axisOf(n.attrs.optInt('axis', 0), s0.length + 1, 'axis');
      const outer = count(s0.slice(0, a));
      const inner = count(s0.slice(a));
      const shape = [...s0.slice(0, a), parts.length, ...s0.slice(a)];
      limited(shape);
      const v: (bigint | number)[] = [];
      for (let o = 0; o < outer; o++) for (const p of parts) for (let i = 0; i < inner; i++) v.push(p.v[o * inner + i]!);
      return { dtype: parts[0]!.dtype, shape, v };
    }
    case 'ConcatV2': {
      if (ins.length < 2) throw new NotFolded('ConcatV2 needs values and an axis');
      const parts = ins.slice(0, -1);
      const s0 = parts[0]!.shape;
      const a = axisOf(Number(scalarOf(intIn(ins[ins.length - 1]), 'axis')), s0.length, 'axis');
      for (const p of parts) {
        if (p.dtype !== parts[0]!.dtype || p.shape.length !== s0.length || p.shape.some((d, k) => k !== a && d !== s0[k])) throw new NotFolded('ConcatV2 inputs differ in shape or dtype');
      }
      const outer = count(s0.slice(0, a));
      const shape = [...s0];
      shape[a] = parts.reduce((acc, p) => acc + p.shape[a]!, 0);
      limited(shape);
      const v: (bigint | number)[] = [];
      for (let o = 0; o < outer; o++) {
        for (const p of parts) {
          const inner = count(p.shape.slice(a));
          for (let i = 0; i < inner; i++) v.push(p.v[o * inner + i]!);
        }
      }
      return { dtype: parts[0]!.dtype, shape, v };
    }
    case 'Sum': case 'Prod': case 'Max': case 'Min': {
      need(2);
      const a = intIn(t);
      if (a.dtype === 'bool') throw new NotFolded('bool reduction');
      const keep = n.attrs.optBool('keep_dims', false);
      const d = a.dtype;
      const [init, f]: [bigint, (x: bigint, y: bigint) => bigint] =
        n.op === 'Sum' ? [0n, (x, y) => x + y]
          : n.op === 'Prod' ? [1n, (x, y) => x * y]
            : n.op === 'Max' ? [minOf(d), (x, y) => (x > y ? x : y)]
              : [maxOf(d), (x, y) => (x < y ? x : y)];
      return reduce(a, intIn(ins[1]), keep, d, init, f);
    }
  }
  const e = new NotFolded(`${n.op} on integers is not computed exactly by the folder (the runtime would compute it in 32-bit floats or ints)`);
  e.unsupported = true;
  throw e;
}

export type { Val };
