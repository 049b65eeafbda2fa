import { type DType, dtypeFromEnum } from '../dtype.js';
import { shapeFromProto, type Shape } from '../tensor.js';
import type { OutputInfo, ShapeContext, ShapeFn, TensorInfo } from './types.js';

// Shape functions: TF's shape semantics, tolerant (never throw on odd input: unknown instead).
// Values (NaN = unknown element) are propagated for small integer tensors so that shape-carrying
// chains such as Reshape(x, Pack(StridedSlice(Shape(y)), -1)) resolve.

const U: OutputInfo = { shape: null };
export const MAX_VALUE_ELEMENTS = 1024;

/** TF's TensorShape limit. A "rank" taken from an element count beyond it (a corrupt Const of
 * 2^31 elements as Fill's dims) means unknown rank: never an array of 2^31 unknown dims. */
export const MAX_RANK = 254;

function unknownDims(rank: number | undefined): Shape | null {
  return rank !== undefined && rank >= 0 && rank <= MAX_RANK ? new Array(rank).fill(-1) : null;
}

export function numel(s: Shape | null): number {
  if (!s) return -1;
  let n = 1;
  for (const d of s) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

const known = (v: number[] | undefined): v is number[] => !!v && v.every((x) => !Number.isNaN(x));
/** A dim from a value element (NaN / negative = unknown). */
const dim = (x: number | undefined): number => (x === undefined || Number.isNaN(x) || x < 0 ? -1 : x);
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

function smallValue(shape: Shape | null, v: number[] | undefined): number[] | undefined {
  if (!v || !shape || numel(shape) !== v.length || v.length > MAX_VALUE_ELEMENTS) return undefined;
  return v;
}

function isIntType(d: DType | undefined): boolean {
  return !!d && /^u?int|^qu?int/.test(d);
}

// ---- generic ----------------------------------------------------------------------------

export const unknown: ShapeFn = () => [];
export const noOutputs: ShapeFn = () => [];
export const scalar: ShapeFn = (c) => Array.from({ length: c.numOutputs }, () => ({ shape: [] }));

/** Output 0 (and every output) is input 0; values pass through. */
export const unchanged: ShapeFn = (c) => {
  const x = c.inputs[0];
  if (!x) return [];
  return Array.from({ length: Math.max(1, c.numOutputs) }, () => ({ shape: x.shape, value: x.value }));
};
export const unchangedNoValue: ShapeFn = (c) => [{ shape: c.inputs[0]?.shape ?? null }];

/** Unary elementwise op; `f` (if given) also maps known values. */
export function unary(f?: (x: number) => number): ShapeFn {
  return (c) => {
    const x = c.inputs[0];
    if (!x) return [];
    return [{ shape: x.shape, value: f && x.value ? x.value.map(f) : undefined }];
  };
}

export function broadcastShapes(a: Shape | null, b: Shape | null): Shape | null {
  if (!a || !b) return null;
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (da === -1 || db === -1) out.push(da === -1 ? (db > 1 ? db : -1) : da > 1 ? da : -1);
    else out.push(da === db ? da : -1);
  }
  return out;
}

function broadcastValues(a: TensorInfo, b: TensorInfo, out: Shape | null, f: (x: number, y: number) => number): number[] | undefined {
  if (!a.value || !b.value || !a.shape || !b.shape || !out || numel(out) < 0 || numel(out) > MAX_VALUE_ELEMENTS) return undefined;
  const n = numel(out);
  const r = out.length;
  const res = new Array<number>(n);
  const idx = (s: Shape, flat: number) => {
    // map an output flat index to the broadcast input's flat index
    let rem = flat;
    let off = 0;
    let stride = 1;
    for (let i = r - 1; i >= 0; i--) {
      const o = rem % out[i]!;
      rem = Math.floor(rem / out[i]!);
      const j = s.length - r + i;
      if (j >= 0) {
        const d = s[j]!;
        off += (d === 1 ? 0 : o) * stride;
        stride *= d;
      }
    }
    return off;
  };
  for (let i = 0; i < n; i++) res[i] = f(a.value[idx(a.shape, i)]!, b.value[idx(b.shape, i)]!);
  return res;
}

/** Binary elementwise op with numpy broadcasting; `f` maps known values. */
export function binary(f?: (x: number, y: number) => number): ShapeFn {
  return (c) => {
    const [a, b] = c.inputs;
    if (!a || !b) return [];
    const shape = broadcastShapes(a.shape, b.shape);
    let value = f ? broadcastValues(a, b, shape, f) : undefined;
    if (value && isIntType(a.dtype)) value = value.map(Math.trunc);
    return [{ shape, value }];
  };
}

/** AddN-style: every input has the output's shape. */
export const mergeInputs: ShapeFn = (c) => {
  // all inputs share one shape: take any known one, filling unknown dims from the others
  let s: Shape | null = null;
  for (const x of c.inputs) {
    if (!x.shape) continue;
    if (!s) s = [...x.shape];
    else if (s.length === x.shape.length) s = s.map((d, i) => (d >= 0 ? d : x.shape![i]!));
  }
  return [{ shape: s }];
};

// ---- sources ----------------------------------------------------------------------------

export const constShape: ShapeFn = (c) => {
  const raw = c.node.attrs.raw()['value'];
  if (!raw || raw.value.case !== 'tensor') return [];
  // read the shape from the proto: big weights are never decoded here
  const p = raw.value.value;
  const shape = shapeFromProto(p.tensorShape) ?? [];
  const dtype = dtypeFromEnum(p.dtype);
  let value: number[] | undefined;
  if (numel(shape) <= MAX_VALUE_ELEMENTS && dtype !== 'string' && !dtype.startsWith('complex')) {
    try {
      value = c.node.attrs.getTensor('value').toNumbers();
    } catch {
      value = undefined;
    }
  }
  return [{ shape, value, dtype }];
};

export const shapeFromAttr = (name: string): ShapeFn => (c) => [{ shape: c.shapeAttr(name) }];

/** Before GraphDef version 22 a Placeholder's empty `shape` meant "unknown", not scalar (TF's rule). */
export const placeholder: ShapeFn = (c) => {
  const s = c.shapeAttr('shape');
  return [{ shape: s && s.length === 0 && c.producerVersion <= 21 ? null : s }];
};

// ---- shape-carrying ops ------------------------------------------------------------------

export const shapeOf: ShapeFn = (c) => {
  const x = c.inputs[0];
  if (!x?.shape) return [{ shape: [-1] }];
  return [{ shape: [x.shape.length], value: x.shape.map((d) => (d < 0 ? NaN : d)) }];
};

export const shapeN: ShapeFn = (c) =>
  c.inputs.map((x) => (x.shape ? { shape: [x.shape.length], value: x.shape.map((d) => (d < 0 ? NaN : d)) } : { shape: [-1] }));

export const sizeOf: ShapeFn = (c) => {
  const n = numel(c.inputs[0]?.shape ?? null);
  return [{ shape: [], value: n >= 0 ? [n] : undefined }];
};

export const rankOf: ShapeFn = (c) => {
  const s = c.inputs[0]?.shape;
  return [{ shape: [], value: s ? [s.length] : undefined }];
};

/** Shape described by a 1-D value (NaN / -1 = unknown dim); null when even the rank is unknown. */
export function shapeFromValue(t: TensorInfo | undefined): Shape | null {
  if (!t) return null;
  if (t.value) return t.value.map(dim);
  if (t.shape && t.shape.length === 1 && t.shape[0]! >= 0) return unknownDims(t.shape[0]);
  if (t.shape && t.shape.length === 0) return []; // scalar shape tensor: TF treats as rank-0? keep scalar
  return null;
}

export const reshape: ShapeFn = (c) => {
  const [x, s] = c.inputs;
  if (!s) return [];
  let out: Shape | null;
  if (s.value) {
    out = s.value.map((v) => (Number.isNaN(v) ? -1 : v));
    const unknown = out.flatMap((d, i) => (d === -1 ? [i] : []));
    const total = numel(x?.shape ?? null);
    if (total >= 0 && unknown.length === 1) {
      // TF's rule: a fully known input fixes the one unknown output dim (-1 or not yet known)
      const rest = out.reduce((p, d, i) => (i === unknown[0] ? p : p * d), 1);
      const v = rest > 0 ? total / rest : NaN;
      if (Number.isInteger(v)) out[unknown[0]!] = v;
    } else if (x?.shape && total < 0 && unknown.length === 2 && Number.isNaN(s.value[0]!) && s.value.indexOf(-1) > 0) {
      // Flatten with an unknown batch: Reshape(x, [Shape(x)[0], -1]). TF keeps [?, ?] here (two
      // unknowns); Keras then pins the static shape. We infer the -1 when x's only unknown dim is
      // its leading one, i.e. the dim the shape tensor's first element was read from.
      const inUnknown = x.shape.filter((d) => d < 0).length;
      if (inUnknown === 1 && x.shape[0]! < 0) {
        const infer = s.value.indexOf(-1);
        const inKnown = x.shape.slice(1).reduce((p, d) => p * d, 1);
        const outKnown = out.reduce((p, d, i) => (i === 0 || i === infer ? p : p * d), 1);
        const v = outKnown > 0 ? inKnown / outKnown : NaN;
        if (Number.isInteger(v)) out[infer] = v;
      }
    }
  } else out = shapeFromValue(s);
  return [{ shape: out, value: x?.value && out && numel(out) === x.value.length ? x.value : undefined }];
};

export const fill: ShapeFn = (c) => {
  const [dims, v] = c.inputs;
  const shape = shapeFromValue(dims);
  const n = numel(shape);
  const value = v?.value && n >= 0 && n <= MAX_VALUE_ELEMENTS ? new Array(n).fill(v.value[0]) : undefined;
  return [{ shape, value }];
};

export const fromShapeInput = (arg: string): ShapeFn => (c) => [{ shape: shapeFromValue(c.arg(arg)) }];

export const squeeze: ShapeFn = (c) => {
  const x = c.inputs[0];
  if (!x?.shape) return [U];
  const r = x.shape.length;
  const dims = c.ints('squeeze_dims').map((a) => norm(a, r));
  if (!dims.length && x.shape.some((d) => d < 0)) return [U];
  const out = x.shape.filter((d, i) => (dims.length ? !dims.includes(i) : d !== 1));
  return [{ shape: out, value: x.value }];
};

export const expandDims: ShapeFn = (c) => {
  const [x, a] = c.inputs;
  if (!x?.shape || !a?.value || Number.isNaN(a.value[0]!)) return [U];
  const r = x.shape.length + 1;
  const ax = norm(a.value[0]!, r);
  const out = [...x.shape];
  out.splice(ax, 0, 1);
  return [{ shape: out, value: x.value }];
};

export const transpose: ShapeFn = (c) => {
  const [x, p] = c.inputs;
  if (!x?.shape) return [{ shape: p?.value ? p.value.map(() => -1) : null }];
  if (!known(p?.value) || p.value.length !== x.shape.length) return [{ shape: x.shape.map(() => -1) }];
  return [{ shape: p.value.map((i) => x.shape![i] ?? -1) }];
};

function concatShapes(parts: TensorInfo[], axisV: number | undefined): OutputInfo {
  const ranked = parts.find((p) => p.shape);
  if (!ranked) return U;
  const r = ranked.shape!.length;
  if (axisV === undefined || Number.isNaN(axisV)) return { shape: new Array(r).fill(-1) };
  const ax = norm(axisV, r);
  const out = new Array<number>(r).fill(-1);
  let sum = 0;
  for (const p of parts) {
    if (!p.shape) {
      sum = -1;
      continue;
    }
    const d = p.shape[ax] ?? -1;
    sum = sum < 0 || d < 0 ? -1 : sum + d;
    p.shape.forEach((v, i) => {
      if (i !== ax && v >= 0) out[i] = v;
    });
  }
  out[ax] = sum;
  let value: number[] | undefined;
  if (r === 1 && parts.every((p) => p.value || (p.shape && p.shape[0]! >= 0))) {
    value = parts.flatMap((p) => p.value ?? new Array<number>(p.shape![0]!).fill(NaN));
  }
  return { shape: out, value };
}

export const concatV2: ShapeFn = (c) => [concatShapes(c.args('values'), c.value('axis')?.[0])];
export const concat: ShapeFn = (c) => [concatShapes(c.args('values'), c.value('concat_dim')?.[0])];

export const quantizedConcat: ShapeFn = (c) => [concatShapes(c.args('values'), c.value('concat_dim')?.[0]), { shape: [] }, { shape: [] }];

export const concatOffset: ShapeFn = (c) => c.args('shape').map((s) => ({ shape: s.shape }));

export const pack: ShapeFn = (c) => {
  const vals = c.args('values');
  const ranked = vals.find((v) => v.shape);
  if (!ranked) return [U];
  const r = ranked.shape!.length + 1;
  const ax = norm(c.int('axis'), r);
  const base = ranked.shape!.map((d, i) => (d >= 0 ? d : (vals.find((v) => v.shape && v.shape[i]! >= 0)?.shape?.[i] ?? -1)));
  const out = [...base];
  out.splice(ax, 0, vals.length);
  // packing scalars builds a shape vector: keep what is known, NaN for the rest
  const value = ranked.shape!.length === 0 ? vals.map((v) => v.value?.[0] ?? NaN) : undefined;
  return [{ shape: out, value }];
};

export const unpack: ShapeFn = (c) => {
  const x = c.inputs[0];
  const n = c.numOutputs;
  if (!x?.shape) return [];
  const ax = norm(c.int('axis'), x.shape.length);
  const out = x.shape.filter((_, i) => i !== ax);
  const value = x.shape.length === 1 && x.value ? x.value : undefined;
  return Array.from({ length: n }, (_, i) => ({ shape: out, value: value ? [value[i]!] : undefined }));
};

export const split: ShapeFn = (c) => {
  const x = c.arg('value');
  const n = c.numOutputs;
  const a = c.value('split_dim')?.[0];
  if (!x.shape) return [];
  if (a === undefined || Number.isNaN(a)) return Array.from({ length: n }, () => ({ shape: x.shape!.map(() => -1) }));
  const ax = norm(a, x.shape.length);
  const out = [...x.shape];
  out[ax] = out[ax]! >= 0 && n > 0 ? out[ax]! / n : -1;
  if (!Number.isInteger(out[ax])) out[ax] = -1;
  return Array.from({ length: n }, () => ({ shape: out }));
};

export const splitV: ShapeFn = (c) => {
  const x = c.arg('value');
  const n = c.numOutputs;
  const a = c.value('split_dim')?.[0];
  const sizes = c.value('size_splits');
  if (!x.shape) return [];
  if (a === undefined || Number.isNaN(a)) return Array.from({ length: n }, () => ({ shape: x.shape!.map(() => -1) }));
  const ax = norm(a, x.shape.length);
  let sz = sizes ? [...sizes] : undefined;
  if (sz) {
    const m = sz.indexOf(-1);
    if (m >= 0 && x.shape[ax]! >= 0) sz[m] = x.shape[ax]! - sz.reduce((p, v, i) => (i === m ? p : p + v), 0);
  }
  return Array.from({ length: n }, (_, i) => {
    const out = [...x.shape!];
    out[ax] = dim(sz?.[i]);
    return { shape: out };
  });
};

export const slice: ShapeFn = (c) => {
  const [x, b, s] = c.inputs;
  if (!x?.shape) return [{ shape: unknownDims(s?.shape?.[0]) }];
  const begin = b?.value;
  const size = s?.value;
  const out = x.shape.map((d, i) => {
    const sz = size?.[i];
    if (sz === undefined || Number.isNaN(sz)) return -1;
    if (sz === -1) {
      const bg = begin?.[i];
      return d >= 0 && bg !== undefined && !Number.isNaN(bg) ? d - bg : -1;
    }
    return sz;
  });
  let value: number[] | undefined;
  if (x.shape.length === 1 && x.value && known(begin) && out[0]! >= 0) value = x.value.slice(begin[0], begin[0]! + out[0]!);
  return [{ shape: out, value }];
};

/** Result of a strided slice over a shape: output dims and, per kept input dim, the indices taken. */
export function stridedSliceShape(
  input: Shape,
  begin: number[],
  end: number[],
  strides: number[],
  m: { begin: number; end: number; ellipsis: number; newAxis: number; shrink: number },
): { shape: Shape; picks: (number[] | null)[] } | undefined {
  const n = begin.length;
  // expand the sparse spec to one entry per input dim (plus new axes)
  type Dim = { kind: 'new' } | { kind: 'dim'; in: number; b: number; e: number; s: number; bm: boolean; em: boolean; shrink: boolean };
  const dense: Dim[] = [];
  let inDim = 0;
  const consumed = Array.from({ length: n }, (_, i) => !(m.newAxis & (1 << i)) && !(m.ellipsis & (1 << i))).filter(Boolean).length;
  let sawEllipsis = false;
  for (let i = 0; i < n; i++) {
    const bit = 1 << i;
    if (m.ellipsis & bit) {
      sawEllipsis = true;
      const fillN = input.length - consumed;
      for (let k = 0; k < fillN; k++) dense.push({ kind: 'dim', in: inDim++, b: 0, e: 0, s: 1, bm: true, em: true, shrink: false });
    } else if (m.newAxis & bit) dense.push({ kind: 'new' });
    else dense.push({ kind: 'dim', in: inDim++, b: begin[i]!, e: end[i]!, s: strides[i]!, bm: !!(m.begin & bit), em: !!(m.end & bit), shrink: !!(m.shrink & bit) });
  }
  if (!sawEllipsis) while (inDim < input.length) dense.push({ kind: 'dim', in: inDim++, b: 0, e: 0, s: 1, bm: true, em: true, shrink: false });
  if (inDim !== input.length) return undefined;
  const shape: number[] = [];
  const picks: (number[] | null)[] = [];
  for (const d of dense) {
    if (d.kind === 'new') {
      shape.push(1);
      continue;
    }
    const size = input[d.in]!;
    if (!d.s || Number.isNaN(d.s)) return undefined;
    if (d.shrink) {
      const idx = Number.isNaN(d.b) || size < 0 ? NaN : d.b < 0 ? d.b + size : d.b;
      picks.push([idx]);
      continue;
    }
    if (size < 0 || (!d.bm && Number.isNaN(d.b)) || (!d.em && Number.isNaN(d.e))) {
      shape.push(-1);
      picks.push(null);
      continue;
    }
    const pos = d.s > 0;
    const clamp = (v: number) => (pos ? Math.min(Math.max(v, 0), size) : Math.min(Math.max(v, -1), size - 1));
    const b = d.bm ? (pos ? 0 : size - 1) : clamp(d.b < 0 ? d.b + size : d.b);
    const e = d.em ? (pos ? size : -1) : clamp(d.e < 0 ? d.e + size : d.e);
    const cnt = Math.max(0, Math.ceil((e - b) / d.s));
    shape.push(cnt);
    picks.push(Array.from({ length: cnt }, (_, k) => b + k * d.s));
  }
  return { shape, picks };
}

export const stridedSlice: ShapeFn = (c) => {
  const [x, b, e, s] = c.inputs;
  const m = { begin: c.int('begin_mask'), end: c.int('end_mask'), ellipsis: c.int('ellipsis_mask'), newAxis: c.int('new_axis_mask'), shrink: c.int('shrink_axis_mask') };
  if (!x?.shape || !b?.value || !e?.value || !known(s?.value)) return [U];
  const r = stridedSliceShape(x.shape, b.value, e.value, s.value, m);
  if (!r) return [U];
  let value: number[] | undefined;
  if (x.shape.length === 1 && x.value && r.picks[0]) value = r.picks[0].map((i) => (Number.isNaN(i) ? NaN : (x.value![i] ?? NaN)));
  return [{ shape: r.shape, value }];
};

export const pad: ShapeFn = (c) => {
  const [x, p] = c.inputs;
  if (!x?.shape) {
    const rows = p?.shape?.[0];
    return [{ shape: unknownDims(rows) }];
  }
  const pv = p?.value;
  return [{ shape: x.shape.map((d, i) => {
    const a = pv?.[2 * i];
    const b = pv?.[2 * i + 1];
    return d < 0 || a === undefined || b === undefined || Number.isNaN(a + b) ? -1 : d + a + b;
  }) }];
};

export const tile: ShapeFn = (c) => {
  const [x, mult] = c.inputs;
  if (!x?.shape) return [{ shape: shapeFromValue(mult)?.map(() => -1) ?? null }];
  const mv = mult?.value;
  return [{ shape: x.shape.map((d, i) => (d < 0 || !mv || Number.isNaN(mv[i]!) ? -1 : d * mv[i]!)) }];
};

function gatherCommon(params: TensorInfo, indices: TensorInfo, axis: number | undefined, batchDims: number): OutputInfo {
  if (!params.shape || !indices.shape || axis === undefined || Number.isNaN(axis)) return U;
  const ax = norm(axis, params.shape.length);
  const shape = [...params.shape.slice(0, ax), ...indices.shape.slice(batchDims), ...params.shape.slice(ax + 1)];
  let value: number[] | undefined;
  if (params.shape.length === 1 && params.value && indices.value) value = indices.value.map((i) => params.value![i] ?? NaN);
  return { shape, value };
}
export const gather: ShapeFn = (c) => [gatherCommon(c.arg('params'), c.arg('indices'), 0, 0)];
export const gatherV2: ShapeFn = (c) => [gatherCommon(c.arg('params'), c.arg('indices'), c.value('axis')?.[0], c.int('batch_dims'))];

export const range: ShapeFn = (c) => {
  const [s, l, d] = c.inputs.map((x) => x.value?.[0]);
  if (s === undefined || l === undefined || d === undefined || [s, l, d].some(Number.isNaN) || d === 0) return [{ shape: [-1] }];
  const n = Math.max(0, Math.ceil((l - s) / d));
  const value = n <= MAX_VALUE_ELEMENTS ? Array.from({ length: n }, (_, i) => s + i * d) : undefined;
  return [{ shape: [n], value }];
};

export const oneHot: ShapeFn = (c) => {
  const idx = c.arg('indices');
  const depth = c.value('depth')?.[0];
  if (!idx.shape) return [U];
  const out = [...idx.shape];
  const ax = c.int('axis');
  out.splice(ax < 0 ? out.length : ax, 0, dim(depth));
  return [{ shape: out }];
};

// ---- reductions ---------------------------------------------------------------------------

export function reduce(f?: (a: number, b: number) => number): ShapeFn {
  return (c) => {
    const [x, a] = c.inputs;
    const keep = c.bool('keep_dims');
    if (!x?.shape) return [U];
    const r = x.shape.length;
    const axes = a?.value;
    if (!known(axes)) return [{ shape: keep ? x.shape.map(() => -1) : null }];
    const set = new Set(axes.map((v) => norm(v, r)));
    const shape = keep ? x.shape.map((d, i) => (set.has(i) ? 1 : d)) : x.shape.filter((_, i) => !set.has(i));
    let value: number[] | undefined;
    if (f && r === 1 && x.value && set.has(0) && x.value.length) value = [x.value.reduce(f)];
    return [{ shape, value }];
  };
}

export const argReduce: ShapeFn = (c) => {
  const [x, a] = c.inputs;
  if (!x?.shape) return [U];
  const ax = a?.value?.[0];
  if (ax === undefined || Number.isNaN(ax)) return [{ shape: new Array(Math.max(0, x.shape.length - 1)).fill(-1) }];
  const k = norm(ax, x.shape.length);
  return [{ shape: x.shape.filter((_, i) => i !== k) }];
};

// ---- nn -----------------------------------------------------------------------------------

export function windowOut(size: number, k: number, stride: number, dil: number, padding: string, padBefore = 0, padAfter = 0): number {
  if (size < 0) return -1;
  if (padding === 'SAME') return Math.ceil(size / stride); // independent of the window size
  if (k < 0) return -1;
  const ek = (k - 1) * dil + 1;
  if (padding === 'EXPLICIT') return Math.floor((size + padBefore + padAfter - ek) / stride) + 1;
  return Math.max(0, Math.floor((size - ek) / stride) + 1);
}

/** Spatial indices (h, w, channel) for a 4-D data format. */
function layout(fmt: string): { h: number; w: number; ch: number } {
  return fmt.startsWith('NCHW') ? { h: 2, w: 3, ch: 1 } : { h: 1, w: 2, ch: 3 };
}

function convLike(c: ShapeContext, depthwise: boolean): OutputInfo[] {
  const x = c.arg('input');
  const f = c.arg('filter');
  const fmt = c.str('data_format');
  const L = layout(fmt);
  if (!x.shape || x.shape.length !== 4) return [{ shape: x.shape ? null : f.shape ? [-1, -1, -1, -1] : null }];
  const st = c.ints('strides');
  const dl = c.ints('dilations');
  const padding = c.str('padding');
  const ep = padding === 'EXPLICIT' ? c.ints('explicit_paddings') : [];
  const fs = f.shape && f.shape.length === 4 ? f.shape : [-1, -1, -1, -1];
  const oh = windowOut(x.shape[L.h]!, fs[0]!, st[L.h] ?? 1, dl[L.h] ?? 1, padding, ep[2 * L.h], ep[2 * L.h + 1]);
  const ow = windowOut(x.shape[L.w]!, fs[1]!, st[L.w] ?? 1, dl[L.w] ?? 1, padding, ep[2 * L.w], ep[2 * L.w + 1]);
  let oc = fs[3]!;
  if (depthwise) {
    const cin = x.shape[L.ch]! >= 0 ? x.shape[L.ch]! : fs[2]!;
    oc = cin >= 0 && fs[3]! >= 0 ? cin * fs[3]! : -1;
  }
  const out = [x.shape[0]!, 0, 0, 0];
  out[L.h] = oh;
  out[L.w] = ow;
  out[L.ch] = oc;
  return [{ shape: out }];
}
export const conv2d: ShapeFn = (c) => convLike(c, false);

/** Conv3D, NDHWC or NCDHW; filter [d, h, w, in, out]. */
export const conv3d: ShapeFn = (c) => {
  const x = c.arg('input').shape;
  if (!x || x.length !== 5) return [U];
  const f = c.arg('filter').shape;
  const fs = f && f.length === 5 ? f : [-1, -1, -1, -1, -1];
  const first = c.str('data_format') === 'NCDHW';
  const st = c.ints('strides');
  const dl = c.ints('dilations');
  const out = [...x];
  for (let i = 0; i < 3; i++) {
    const d = first ? 2 + i : 1 + i;
    out[d] = windowOut(x[d]!, fs[i]!, st[d] ?? 1, dl[d] ?? 1, c.str('padding'));
  }
  out[first ? 1 : 4] = fs[4]!;
  return [{ shape: out }];
};

/** FusedPadConv2D / FusedResizeAndPadConv2D (from fuse_pad_and_conv, fuse_resize_and_conv): NHWC only. */
export function fusedConv(hasResize: boolean): ShapeFn {
  return (c) => {
    const x = c.arg('input').shape;
    const f = c.arg('filter').shape ?? [-1, -1, -1, -1];
    if (!x || x.length !== 4) return [{ shape: null }];
    let s = [...x];
    if (hasResize) {
      const size = c.arg('size').value;
      s[1] = dim(size?.[0]);
      s[2] = dim(size?.[1]);
    }
    const p = c.arg('paddings').value;
    s = s.map((d, i) => (d < 0 || !p || Number.isNaN(p[2 * i]! + p[2 * i + 1]!) ? -1 : d + p[2 * i]! + p[2 * i + 1]!));
    const st = c.ints('strides');
    const padding = c.str('padding');
    return [{ shape: [s[0]!, windowOut(s[1]!, f[0]!, st[1] ?? 1, 1, padding), windowOut(s[2]!, f[1]!, st[2] ?? 1, 1, padding), f[3]!] }];
  };
}
export const depthwiseConv2d: ShapeFn = (c) => convLike(c, true);

export const pool: ShapeFn = (c) => {
  const x = c.inputs[0];
  if (!x?.shape || x.shape.length !== 4) return [U];
  const L = layout(c.str('data_format'));
  const k = c.ints('ksize');
  const st = c.ints('strides');
  const padding = c.str('padding');
  const out = [...x.shape];
  out[L.h] = windowOut(x.shape[L.h]!, k[L.h] ?? 1, st[L.h] ?? 1, 1, padding);
  out[L.w] = windowOut(x.shape[L.w]!, k[L.w] ?? 1, st[L.w] ?? 1, 1, padding);
  return [{ shape: out }];
};

export const biasAdd: ShapeFn = (c) => [{ shape: c.inputs[0]?.shape ?? null }];

export const biasAddGrad: ShapeFn = (c) => {
  const s = c.inputs[0]?.shape;
  if (!s) return [{ shape: [-1] }];
  const ch = c.str('data_format') === 'NCHW' ? 1 : s.length - 1;
  return [{ shape: [s[ch] ?? -1] }];
};

export const fusedBatchNorm: ShapeFn = (c) => {
  const x = c.arg('x');
  const scale = c.arg('scale');
  let ch = -1;
  if (x.shape && x.shape.length >= 2) ch = x.shape[c.str('data_format').startsWith('NC') ? 1 : x.shape.length - 1]!;
  if (ch < 0 && scale.shape?.length === 1) ch = scale.shape[0]!;
  const vec = { shape: [ch] };
  const outs: OutputInfo[] = [{ shape: x.shape }, vec, vec, vec, vec];
  if (c.numOutputs > 5) outs.push(U); // V3 reserve_space_3: TF leaves it unknown
  return outs;
};

export const batchNormGlobal: ShapeFn = (c) => [{ shape: c.inputs[0]?.shape ?? null }];

export const matMul: ShapeFn = (c) => {
  const [a, b] = c.inputs;
  const ta = c.bool('transpose_a');
  const tb = c.bool('transpose_b');
  const m = a?.shape && a.shape.length === 2 ? a.shape[ta ? 1 : 0]! : -1;
  const n = b?.shape && b.shape.length === 2 ? b.shape[tb ? 0 : 1]! : -1;
  return [{ shape: [m, n] }];
};

export const batchMatMul: ShapeFn = (c) => {
  const [a, b] = c.inputs;
  if (!a?.shape || !b?.shape || a.shape.length < 2 || b.shape.length < 2) return [U];
  const ax = c.bool('adj_x');
  const ay = c.bool('adj_y');
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = a.shape[ax ? ra - 1 : ra - 2]!;
  const n = b.shape[ay ? rb - 2 : rb - 1]!;
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2)) ?? [];
  return [{ shape: [...batch, m, n] }];
};

export const conv2dBackpropInput: ShapeFn = (c) => [{ shape: shapeFromValue(c.arg('input_sizes')) }];
export const conv2dBackpropFilter: ShapeFn = (c) => [{ shape: shapeFromValue(c.arg('filter_sizes')) }];

export const resize: ShapeFn = (c) => {
  const [x, size] = c.inputs;
  const sv = size?.value;
  const hw = sv ? [dim(sv[0]), dim(sv[1])] : [-1, -1];
  return [{ shape: [x?.shape?.[0] ?? -1, hw[0]!, hw[1]!, x?.shape?.[3] ?? -1] }];
};

export const cropAndResize: ShapeFn = (c) => {
  const img = c.arg('image').shape;
  const boxes = c.arg('boxes').shape;
  const size = c.value('crop_size');
  return [{ shape: [boxes?.[0] ?? -1, dim(size?.[0]), dim(size?.[1]), img?.[3] ?? -1] }];
};

export const spaceToBatchND: ShapeFn = (c) => {
  const [x, bs, p] = c.inputs;
  if (!x?.shape) return [U];
  const block = bs?.value;
  const pv = p?.value;
  const m = block?.length ?? bs?.shape?.[0] ?? -1;
  if (!block || m < 0) return [{ shape: x.shape.map(() => -1) }];
  const prod = block.reduce((a, b) => a * b, 1);
  const out = [...x.shape];
  out[0] = x.shape[0]! >= 0 && !Number.isNaN(prod) ? x.shape[0]! * prod : -1;
  for (let i = 0; i < m; i++) {
    const d = x.shape[1 + i]!;
    const padded = d < 0 || !pv ? NaN : d + pv[2 * i]! + pv[2 * i + 1]!;
    out[1 + i] = Number.isNaN(padded) || Number.isNaN(block[i]!) ? -1 : padded / block[i]!;
  }
  return [{ shape: out }];
};

export const batchToSpaceND: ShapeFn = (c) => {
  const [x, bs, cr] = c.inputs;
  if (!x?.shape) return [U];
  const block = bs?.value;
  const cv = cr?.value;
  if (!block) return [{ shape: x.shape.map(() => -1) }];
  const prod = block.reduce((a, b) => a * b, 1);
  const out = [...x.shape];
  out[0] = x.shape[0]! >= 0 && !Number.isNaN(prod) ? x.shape[0]! / prod : -1;
  for (let i = 0; i < block.length; i++) {
    const d = x.shape[1 + i]!;
    const v = d < 0 || !cv ? NaN : d * block[i]! - cv[2 * i]! - cv[2 * i + 1]!;
    out[1 + i] = Number.isNaN(v) ? -1 : v;
  }
  return [{ shape: out }];
};

export const depthToSpace: ShapeFn = (c) => {
  const x = c.inputs[0];
  if (!x?.shape || x.shape.length !== 4) return [U];
  const b = c.int('block_size');
  const [n, h, w, ch] = x.shape as [number, number, number, number];
  return [{ shape: [n, h < 0 ? -1 : h * b, w < 0 ? -1 : w * b, ch < 0 ? -1 : ch / (b * b)] }];
};
export const spaceToDepth: ShapeFn = (c) => {
  const x = c.inputs[0];
  if (!x?.shape || x.shape.length !== 4) return [U];
  const b = c.int('block_size');
  const [n, h, w, ch] = x.shape as [number, number, number, number];
  return [{ shape: [n, h < 0 ? -1 : h / b, w < 0 ? -1 : w / b, ch < 0 ? -1 : ch * b * b] }];
};

export const softmaxXent: ShapeFn = (c) => {
  const f = c.inputs[0]?.shape;
  return [{ shape: f && f.length === 2 ? [f[0]!] : [-1] }, { shape: f ?? null }];
};

export const topK: ShapeFn = (c) => {
  const x = c.inputs[0];
  const k = c.def.inputs.length > 1 ? c.value('k')?.[0] : c.int('k');
  if (!x?.shape) return [U, U];
  const s = [...x.shape.slice(0, -1), dim(k)];
  return [{ shape: s }, { shape: s }];
};

// ---- control flow --------------------------------------------------------------------------

export const switchFn: ShapeFn = (c) => {
  const x = c.inputs[0];
  return [{ shape: x?.shape ?? null, value: x?.value }, { shape: x?.shape ?? null, value: x?.value }];
};

export const merge: ShapeFn = (c) => {
  // back-edge inputs (NextIteration) are not computed yet and come in as unknown: skip them
  const seen = c.inputs.filter((x) => x.dtype !== 'invalid');
  let s: Shape | null | undefined;
  for (const x of seen) {
    if (s === undefined) s = x.shape;
    else if (!s || !x.shape || s.length !== x.shape.length) s = null;
    else s = s.map((d, i) => (d === x.shape![i] ? d : -1));
  }
  return [{ shape: s ?? null }, { shape: [] }];
};

// ---- audio ---------------------------------------------------------------------------------

export const decodeWav: ShapeFn = (c) => {
  const s = c.int('desired_samples');
  const ch = c.int('desired_channels');
  return [{ shape: [s > 0 ? s : -1, ch > 0 ? ch : -1] }, { shape: [] }];
};

export const audioSpectrogram: ShapeFn = (c) => {
  const x = c.inputs[0]?.shape;
  const win = c.int('window_size');
  const stride = c.int('stride');
  const samples = x?.[0] ?? -1;
  const frames = samples < 0 ? -1 : samples < win ? 0 : 1 + Math.floor((samples - win) / stride);
  let fft = 1;
  while (fft < win) fft *= 2;
  return [{ shape: [x?.[1] ?? -1, frames, fft / 2 + 1] }];
};

export const mfcc: ShapeFn = (c) => {
  const s = c.arg('spectrogram').shape;
  return [{ shape: [s?.[0] ?? -1, s?.[1] ?? -1, c.int('dct_coefficient_count')] }];
};

export const audioMicrofrontend: ShapeFn = (c) => {
  const n = c.inputs[0]?.shape?.[0] ?? -1;
  const rate = c.int('sample_rate');
  const win = c.int('window_size') * Math.trunc(rate / 1000);
  const step = c.int('window_step') * Math.trunc(rate / 1000);
  const stride = c.int('frame_stride');
  let frames = -1;
  if (n >= 0) frames = n < win ? 0 : Math.floor(Math.floor((n - win) / step) / stride) + 1;
  const feats = c.int('num_channels') * (1 + c.int('left_context') + c.int('right_context'));
  return [{ shape: [frames, feats] }];
};

// ---- quantized -----------------------------------------------------------------------------

/** Output 0 from `main`, then scalar min/max outputs. */
export function withMinMax(main: ShapeFn): ShapeFn {
  return (c) => {
    const o = main(c)[0] ?? U;
    return [{ shape: o.shape }, ...Array.from({ length: c.numOutputs - 1 }, () => ({ shape: [] as number[] }))];
  };
}

export const quantizeV2: ShapeFn = (c) => {
  const x = c.inputs[0];
  const axis = c.node.attrs.has('axis') ? c.int('axis') : -1;
  const mm = axis === -1 || !x?.shape ? { shape: [] as number[] } : { shape: [x.shape[norm(axis, x.shape.length)] ?? -1] };
  return [{ shape: x?.shape ?? null }, mm, mm];
};

export const fakeQuantGrad: ShapeFn = (c) => {
  const x = c.arg('inputs').shape;
  const mn = c.arg('min').shape;
  return [{ shape: x }, { shape: mn }, { shape: mn }];
};

// ---- misc ----------------------------------------------------------------------------------

export const identityN: ShapeFn = (c) => c.inputs.map((x) => ({ shape: x.shape, value: x.value }));

export const select: ShapeFn = (c) => {
  const [, t, e] = c.inputs;
  return [{ shape: t?.shape ?? e?.shape ?? null }];
};
export const selectV2: ShapeFn = (c) => {
  const [cond, t, e] = c.inputs;
  return [{ shape: broadcastShapes(cond?.shape ?? null, broadcastShapes(t?.shape ?? null, e?.shape ?? null)) }];
};

export const where: ShapeFn = (c) => {
  const x = c.inputs[0];
  return [{ shape: [-1, x?.shape ? x.shape.length : -1] }];
};

export const broadcastGradientArgs: ShapeFn = () => [{ shape: [-1] }, { shape: [-1] }];

export const readVariable: ShapeFn = (c) => {
  const h = c.node.inputNode(0);
  if (h && h.op === 'VarHandleOp' && h.attrs.has('shape')) return [{ shape: h.attrs.getShape('shape') }];
  return [U];
};

export const tensorArrayV3: ShapeFn = () => [{ shape: [2] }, { shape: [] }];
/** TensorArrayV3 behind a handle (through Enter/Identity), and the element shape its writers imply. */
function tensorArrayElementShape(c: ShapeContext): Shape | null {
  let n = c.node.inputNode(0);
  for (let i = 0; n && i < 16 && (n.op === 'Enter' || n.op === 'Identity'); i++) n = n.inputNode(0);
  if (!n || n.op !== 'TensorArrayV3') return null;
  if (n.attrs.kind('element_shape') === 'shape') {
    const s = n.attrs.getShape('element_shape');
    if (s) return s;
  }
  for (const u of n.consumers()) {
    if (u.control || u.port !== 0) continue;
    const v = u.node.dataInputs[2];
    if (!v) continue;
    if (u.node.op === 'TensorArrayScatterV3') {
      const s = c.lookup(v)?.shape;
      if (s) return s.slice(1);
    } else if (u.node.op === 'TensorArrayWriteV3') {
      const s = c.lookup(v)?.shape;
      if (s) return s;
    }
  }
  return null;
}

export const tensorArrayRead: ShapeFn = (c) => [{ shape: c.shapeAttr('element_shape') ?? tensorArrayElementShape(c) }];
export const tensorArrayGather: ShapeFn = (c) => {
  const idx = c.arg('indices').shape;
  const el = c.shapeAttr('element_shape') ?? tensorArrayElementShape(c);
  return [{ shape: el ? [idx?.[0] ?? -1, ...el] : null }];
};

export const dynamicStitch: ShapeFn = (c) => {
  const n = c.int('N');
  const idx = c.inputs[0]?.shape;
  const data = c.inputs[n]?.shape;
  if (!idx || !data) return [U];
  return [{ shape: [-1, ...data.slice(idx.length)] }];
};

export const sparseXent: ShapeFn = (c) => {
  const f = c.arg('features').shape;
  return [{ shape: [f?.[0] ?? -1] }, { shape: f }];
};

export const setOperation: ShapeFn = (c) => {
  const r = c.inputs[0]?.shape?.length ?? -1;
  return [{ shape: [-1, r] }, { shape: [-1] }, { shape: [r] }];
};

export const parseExample: ShapeFn = (c) => {
  const ns = c.int('Nsparse');
  const dense = c.node.attrs.has('dense_shapes') ? c.node.attrs.getShapes('dense_shapes') : [];
  const batch = c.arg('serialized').shape?.[0] ?? -1;
  const out: OutputInfo[] = [];
  for (let i = 0; i < ns; i++) out.push({ shape: [-1, 2] });
  for (let i = 0; i < ns; i++) out.push({ shape: [-1] });
  for (let i = 0; i < ns; i++) out.push({ shape: [2] });
  for (const s of dense) out.push({ shape: s ? [batch, ...s] : null });
  return out;
};

export const stringJoin: ShapeFn = (c) => {
  let s: Shape | null = [];
  for (const x of c.inputs) if (x.shape && x.shape.length) s = x.shape;
  return [{ shape: s }];
};

export const lrn: ShapeFn = unchangedNoValue;

export const cast: ShapeFn = (c) => {
  const x = c.inputs[0];
  const to = c.type('DstT');
  let v = x?.value;
  if (v && isIntType(to)) v = v.map(Math.trunc);
  if (v && to === 'bool') v = v.map((a) => (a ? 1 : 0));
  return [{ shape: x?.shape ?? null, value: smallValue(x?.shape ?? null, v) }];
};
