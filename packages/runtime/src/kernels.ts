import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { registerOp, type GraphNode } from '@tensorflow/tfjs-converter';
import { TfpassError, UnsupportedOpError, nudge, parseDType, type DType, type Nudged } from '@tfpass/core';

// ---- attribute access -------------------------------------------------------------------------

type RawAttr = Record<string, unknown>;

const b64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/** TF attributes of the node being executed, decoded from the topology (string case kept). */
export class KernelAttrs {
  constructor(private readonly raw: Record<string, RawAttr>) {}
  has(name: string): boolean { return name in this.raw; }
  int(name: string, def?: number): number {
    const a = this.raw[name];
    if (a && 'i' in a) return Number(a.i);
    return this.missing(name, def);
  }
  float(name: string, def?: number): number {
    const a = this.raw[name];
    if (a && 'f' in a) return Number(a.f);
    return this.missing(name, def);
  }
  bool(name: string, def?: boolean): boolean {
    const a = this.raw[name];
    if (a && 'b' in a) return Boolean(a.b);
    return this.missing(name, def);
  }
  string(name: string, def?: string): string {
    const a = this.raw[name];
    if (a && 's' in a) return b64(String(a.s));
    return this.missing(name, def);
  }
  type(name: string, def?: DType): DType {
    const a = this.raw[name];
    if (a && 'type' in a) return parseDType(String(a.type)) ?? 'invalid';
    return this.missing(name, def);
  }
  ints(name: string, def?: number[]): number[] {
    const a = this.raw[name] as { list?: { i?: unknown[] } } | undefined;
    if (a?.list) return (a.list.i ?? []).map(Number);
    return this.missing(name, def);
  }
  floats(name: string, def?: number[]): number[] {
    const a = this.raw[name] as { list?: { f?: unknown[] } } | undefined;
    if (a?.list) return (a.list.f ?? []).map(Number);
    return this.missing(name, def);
  }
  private missing<T>(name: string, def: T | undefined): T {
    if (def === undefined) throw new TfpassError('E_GRAPH_VALIDATION', `missing attr '${name}'`);
    return def;
  }
}

export interface KernelContext {
  /** TF op name and node name being executed. */
  op: string;
  node: string;
  /** Data inputs in order (control inputs are never passed). */
  inputs: tf.Tensor[];
  attrs: KernelAttrs;
  /** The tfjs-core module, for kernels written with tfjs ops. */
  tf: typeof tf;
}

/** A kernel: returns the node's outputs (one tensor, or one per output port). */
export type KernelFn = (ctx: KernelContext) => tf.Tensor | tf.Tensor[];

// ---- registry ---------------------------------------------------------------------------------

const kernels = new Map<string, KernelFn>();
let epoch = 0;

/** Bumped on each registration, so executors rebuild models loaded before it. @internal */
export function kernelEpoch(): number { return epoch; }

interface NodeValueLike extends GraphNode {
  node?: { name?: string; op?: string; rawAttrs?: Record<string, RawAttr> };
}

/**
 * Register (or replace) the kernel for a TF op. Models built after this call use it; the
 * executor rebuilds cached models automatically.
 */
export function registerKernel(op: string, fn: KernelFn): void {
  kernels.set(op, fn);
  epoch++;
  registerOp(op, (nv: GraphNode) => {
    const v = nv as NodeValueLike;
    const name = v.node?.name ?? '?';
    const ctx: KernelContext = { op, node: name, inputs: nv.inputs, attrs: new KernelAttrs(v.node?.rawAttrs ?? {}), tf };
    return fn(ctx);
  });
}

export function hasKernel(op: string): boolean { return kernels.has(op); }
export function registeredKernels(): string[] { return [...kernels.keys()].sort(); }

let builtin: Set<string> | undefined;

/** Ops tfjs-converter maps natively (read from its op lists). */
export function tfjsOps(): Set<string> {
  if (builtin) return builtin;
  const req = createRequire(import.meta.url);
  const dir = join(dirname(req.resolve('@tensorflow/tfjs-converter/package.json')), 'dist', 'operations', 'op_list');
  const out = new Set<string>();
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.js') || f.includes('test')) continue;
    const text = readFileSync(join(dir, f), 'utf8');
    for (const m of text.matchAll(/['"]tfOpName['"]\s*:\s*['"]([A-Za-z0-9_]+)['"]/g)) out.add(m[1]!);
  }
  return (builtin = out);
}

/** Ops that never need a kernel (handled by the graph executor itself). */
const STRUCTURAL = new Set(['Const', 'Placeholder', 'PlaceholderWithDefault', 'NoOp']);

export function supportsOp(op: string): boolean {
  return STRUCTURAL.has(op) || kernels.has(op) || tfjsOps().has(op);
}

export function unsupportedOp(op: string, node: string): UnsupportedOpError {
  return new UnsupportedOpError(
    op,
    node,
    `TensorFlow.js has no kernel for it; register one with registerKernel('${op}', (ctx) => ...) from '@tfpass/runtime' ` +
      `(see docs/ops.md), or feed the node's consumers directly`,
  );
}

// ---- float32 helpers --------------------------------------------------------------------------

const f = Math.fround;

/** std::round: halves away from zero. */
// Nudge (TF's float32 arithmetic) lives once, in core.
export { nudge, type Nudged };

function checkBits(ctx: { node: string; op: string }, bits: number): void {
  if (!(bits >= 2 && bits <= 16)) {
    throw new TfpassError('E_GRAPH_VALIDATION', `node '${ctx.node}' (${ctx.op}): num_bits must be between 2 and 16, inclusive (got ${bits})`);
  }
}

/**
 * Fake-quantize `x[i]` for channel `i % channels` in place semantics of TF's functors.
 * `useInverse` selects the Args variant (multiply by 1/scale) over the Vars one (divide).
 */
export function fakeQuantValues(x: Float32Array, ranges: Nudged[], useInverse: boolean): Float32Array {
  const out = new Float32Array(x.length);
  const c = ranges.length;
  for (let i = 0; i < x.length; i++) {
    const r = ranges[c === 1 ? 0 : i % c]!;
    const v = x[i]!;
    const clamped = v > r.max ? r.max : v < r.min ? r.min : v;
    const shifted = f(clamped - r.min);
    const scaled = useInverse ? f(shifted * f(1 / r.scale)) : f(shifted / r.scale);
    const q = Math.floor(f(scaled + 0.5));
    out[i] = f(f(q * r.scale) + r.min);
  }
  return out;
}

function fakeQuant(ctx: KernelContext, kind: 'args' | 'vars' | 'channel'): tf.Tensor {
  const bits = ctx.attrs.int('num_bits', 8);
  checkBits(ctx, bits);
  const narrow = ctx.attrs.bool('narrow_range', false);
  const x = ctx.inputs[0]!;
  let ranges: Nudged[];
  if (kind === 'args') {
    const min = ctx.attrs.float('min', -6);
    const max = ctx.attrs.float('max', 6);
    if (!(min < max)) throw new TfpassError('E_GRAPH_VALIDATION', `node '${ctx.node}' (${ctx.op}): min has to be smaller than max, was: ${min} >= ${max}`);
    ranges = [nudge(min, max, bits, narrow)];
  } else {
    const mins = ctx.inputs[1]!.dataSync() as Float32Array;
    const maxs = ctx.inputs[2]!.dataSync() as Float32Array;
    if (kind === 'channel') {
      const d = x.shape[x.shape.length - 1] ?? 1;
      if (mins.length !== d || maxs.length !== d) {
        throw new TfpassError('E_GRAPH_VALIDATION', `node '${ctx.node}' (${ctx.op}): min and max must have ${d} elements (last dimension of inputs), got ${mins.length} and ${maxs.length}`);
      }
    }
    ranges = Array.from(mins, (m, i) => nudge(m, maxs[i]!, bits, narrow));
  }
  const data = x.dataSync() as Float32Array;
  return tf.tensor(fakeQuantValues(data, ranges, kind === 'args'), x.shape, 'float32');
}

// ---- batch norms ------------------------------------------------------------------------------

function fusedBatchNorm(ctx: KernelContext): tf.Tensor[] {
  const [x0, scale, offset, mean, variance] = ctx.inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const eps = ctx.attrs.float('epsilon', 1e-4);
  const training = ctx.attrs.bool('is_training', true);
  const format = ctx.attrs.string('data_format', 'NHWC');
  const nchw = format === 'NCHW' || format === 'NCDHW';
  if (x0.rank !== 4 && x0.rank !== 5) throw new TfpassError('E_GRAPH_VALIDATION', `node '${ctx.node}' (${ctx.op}): input must be 4- or 5-dimensional, got rank ${x0.rank}`);
  return tf.tidy(() => {
    // Work channels-last; transpose NCHW in and out.
    const perm = x0.rank === 4 ? [0, 2, 3, 1] : [0, 2, 3, 4, 1];
    const back = x0.rank === 4 ? [0, 3, 1, 2] : [0, 4, 1, 2, 3];
    const x = tf.cast(nchw ? tf.transpose(x0, perm) : x0, 'float32');
    const axes = x.rank === 4 ? [0, 1, 2] : [0, 1, 2, 3];
    let m: tf.Tensor;
    let v: tf.Tensor;
    let outMean: tf.Tensor;
    let outVar: tf.Tensor;
    if (training) {
      const moments = tf.moments(x, axes);
      m = moments.mean;
      v = moments.variance;
      const n = x.size / (x.shape[x.rank - 1] ?? 1);
      // TF reports the Bessel-corrected variance while normalising with the biased one.
      const unbiased = tf.mul(v, n > 1 ? n / (n - 1) : 1);
      const factor = ctx.attrs.float('exponential_avg_factor', 1);
      if (factor !== 1 && mean.size > 0) {
        outMean = tf.add(tf.mul(mean, 1 - factor), tf.mul(m, factor));
        outVar = tf.add(tf.mul(variance, 1 - factor), tf.mul(unbiased, factor));
      } else {
        outMean = m;
        outVar = unbiased;
      }
    } else {
      m = mean;
      v = variance;
      outMean = mean;
      outVar = variance;
    }
    const k = tf.mul(tf.rsqrt(tf.add(v, eps)), scale);
    let y = tf.add(tf.mul(tf.sub(x, m), k), offset);
    if (nchw) y = tf.transpose(y, back);
    const outs = [y, outMean, outVar, tf.clone(m), tf.clone(v)];
    if (ctx.op === 'FusedBatchNormV3') outs.push(tf.zeros([0]));
    return outs;
  });
}

function batchNormGlobal(ctx: KernelContext): tf.Tensor {
  const [t, m, v, beta, gamma] = ctx.inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const eps = ctx.attrs.float('variance_epsilon', 0);
  const scaleAfter = ctx.attrs.bool('scale_after_normalization', false);
  return tf.tidy(() => {
    let k = tf.rsqrt(tf.add(v, eps));
    if (scaleAfter) k = tf.mul(k, gamma);
    return tf.add(tf.mul(tf.sub(t, m), k), beta);
  });
}

// ---- CheckNumerics ------------------------------------------------------------------------------

/** TF's CheckNumerics failure (InvalidArgument in TF). */
export class CheckNumericsError extends TfpassError {
  constructor(readonly node: string, message: string) {
    super('E_NUMERIC', `${message} (node '${node}')`);
  }
}

function checkNumerics(ctx: KernelContext): tf.Tensor {
  const x = ctx.inputs[0]!;
  const data = x.dataSync() as Float32Array;
  let nan = false;
  let inf = false;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v !== v) nan = true;
    else if (v === Infinity || v === -Infinity) inf = true;
    if (nan && inf) break;
  }
  if (nan || inf) {
    const what = nan && inf ? 'Inf and NaN' : inf ? 'Inf' : 'NaN';
    throw new CheckNumericsError(ctx.node, `${ctx.attrs.string('message', '')} : Tensor had ${what} values`);
  }
  return tf.clone(x);
}

// ---- Dequantize ----------------------------------------------------------------------------------

const QRANGE: Partial<Record<DType, [number, number]>> = {
  quint8: [0, 255], qint8: [-128, 127], quint16: [0, 65535], qint16: [-32768, 32767], qint32: [-2147483648, 2147483647],
  uint8: [0, 255], int8: [-128, 127], uint16: [0, 65535], int16: [-32768, 32767], int32: [-2147483648, 2147483647],
};

/** TF's per-value Dequantize formula for one (min_range, max_range) pair (dequantize_op.cc semantics). */
export function dequantizer(t: DType, minRange: number, maxRange: number, mode: string, narrow = false): (q: number) => number {
  const r = QRANGE[t];
  if (!r) throw new TfpassError('E_GRAPH_VALIDATION', `Dequantize: unsupported input type ${t}`);
  const [lo, hi] = r;
  const mn = f(minRange);
  const mx = f(maxRange);
  if (mode === 'MIN_COMBINED') {
    const half = lo < 0 ? f((hi - lo + 1) / 2) : 0;
    const scaleFactor = f(f(mx - mn) / f(hi - lo));
    return (q) => f(f(f(q + half) * scaleFactor) + mn);
  }
  if (mode === 'MIN_FIRST') {
    // QuantizedToFloatStruct: scale = float(max - min) / (steps - 1.0), then min + (q - lowest)*scale in float.
    const steps = hi - lo + 1;
    const rangeScale = f(f(mx - mn) / (steps - 1));
    return (q) => f(f(f(q - lo) * rangeScale) + mn);
  }
  if (mode === 'SCALED') {
    const minOut = lo + (narrow ? 1 : 0);
    const scaleFactor = lo === 0 ? f(mx / hi) : Math.max(f(mn / minOut), f(mx / hi));
    return (q) => f(q * scaleFactor);
  }
  throw new TfpassError('E_GRAPH_VALIDATION', `Dequantize: mode must be 'MIN_COMBINED', 'MIN_FIRST', or 'SCALED', is '${mode}'`);
}

/** Dequantize a whole array with one range. */
export function dequantizeValues(q: ArrayLike<number>, t: DType, minRange: number, maxRange: number, mode: string, narrow = false): Float32Array {
  const fn = dequantizer(t, minRange, maxRange, mode, narrow);
  return Float32Array.from(q, fn);
}

function dequantize(ctx: KernelContext): tf.Tensor {
  const [x, mn, mx] = ctx.inputs as [tf.Tensor, tf.Tensor, tf.Tensor];
  const t = ctx.attrs.type('T', 'quint8');
  const mode = ctx.attrs.string('mode', 'MIN_COMBINED');
  const narrow = ctx.attrs.bool('narrow_range', false);
  const axis = ctx.attrs.int('axis', -1);
  const q = x.dataSync() as ArrayLike<number>;
  const mins = mn.dataSync() as Float32Array;
  const maxs = mx.dataSync() as Float32Array;
  const slices = axis < 0 ? 1 : x.shape[axis]!;
  if (mins.length !== slices || maxs.length !== slices) {
    throw new TfpassError('E_GRAPH_VALIDATION', `node '${ctx.node}' (Dequantize): min_range and max_range must have ${slices} elements, got ${mins.length} and ${maxs.length}`);
  }
  if (slices === 1) return tf.tensor(dequantizeValues(q, t, mins[0]!, maxs[0]!, mode, narrow), x.shape, 'float32');
  if (mode === 'MIN_FIRST') throw new UnsupportedOpError('Dequantize', ctx.node, 'MIN_FIRST mode is not implemented for Dequantize with axis != -1 (as in TensorFlow)');
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const fns = Array.from(mins, (m, c) => dequantizer(t, m, maxs[c]!, mode, narrow));
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = fns[Math.floor(i / inner) % slices]!(q[i]!);
  return tf.tensor(out, x.shape, 'float32');
}

// ---- fused pad/resize + conv ---------------------------------------------------------------------

function mirrorPad(x: tf.Tensor4D, paddings: tf.Tensor, mode: string, ctx: KernelContext): tf.Tensor4D {
  const p = Array.from(paddings.dataSync()) as number[];
  const pairs: [number, number][] = [];
  for (let i = 0; i < 4; i++) pairs.push([p[2 * i] ?? 0, p[2 * i + 1] ?? 0]);
  if (pairs.every(([a, b]) => a === 0 && b === 0)) return x;
  const m = mode.toLowerCase();
  if (m !== 'reflect' && m !== 'symmetric') throw new TfpassError('E_GRAPH_VALIDATION', `node '${ctx.node}' (${ctx.op}): mode must be REFLECT or SYMMETRIC, got '${mode}'`);
  return tf.mirrorPad(x, pairs, m);
}

function conv(x: tf.Tensor4D, filter: tf.Tensor, ctx: KernelContext): tf.Tensor {
  const strides = ctx.attrs.ints('strides', [1, 1, 1, 1]);
  const padding = ctx.attrs.string('padding', 'VALID');
  return tf.conv2d(x, filter as tf.Tensor4D, [strides[1] ?? 1, strides[2] ?? 1], padding.toLowerCase() as 'same' | 'valid');
}

function fusedPadConv(ctx: KernelContext): tf.Tensor {
  const [x, paddings, filter] = ctx.inputs as [tf.Tensor4D, tf.Tensor, tf.Tensor];
  return tf.tidy(() => conv(mirrorPad(x, paddings, ctx.attrs.string('mode', 'REFLECT'), ctx), filter, ctx));
}

function fusedResizePadConv(ctx: KernelContext): tf.Tensor {
  const [x, size, paddings, filter] = ctx.inputs as [tf.Tensor4D, tf.Tensor, tf.Tensor, tf.Tensor];
  return tf.tidy(() => {
    const [h, w] = Array.from(size.dataSync()) as [number, number];
    const align = ctx.attrs.bool('resize_align_corners', false);
    const resized = tf.image.resizeBilinear(x, [h, w], align);
    return conv(mirrorPad(resized, paddings, ctx.attrs.string('mode', 'REFLECT'), ctx), filter, ctx);
  });
}

// ---- NCHW variants ------------------------------------------------------------------------------
// tfjs-converter reads strides/dilations at NHWC positions and ignores BiasAdd's data_format, so
// nodes with data_format NCHW are renamed to these ops before loading (see defaults.ts).

/** Internal op name used for an NCHW node of `op`. */
export const nchwOp = (op: string): string => `_TfpassNCHW_${op}`;
export const NCHW_OPS = ['Conv2D', 'DepthwiseConv2dNative', 'BiasAdd', 'MaxPool', 'AvgPool'];

const toNhwc = (x: tf.Tensor): tf.Tensor4D => tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D;
const toNchw = (x: tf.Tensor): tf.Tensor => tf.transpose(x, [0, 3, 1, 2]);

function nchwPadding(ctx: KernelContext): 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] {
  const p = ctx.attrs.string('padding', 'VALID').toUpperCase();
  if (p === 'EXPLICIT') {
    const e = ctx.attrs.ints('explicit_paddings', [0, 0, 0, 0, 0, 0, 0, 0]);
    return [[0, 0], [e[4] ?? 0, e[5] ?? 0], [e[6] ?? 0, e[7] ?? 0], [0, 0]];
  }
  return p === 'SAME' ? 'same' : 'valid';
}

function nchwKernels(): [string, KernelFn][] {
  return [
    [nchwOp('Conv2D'), (c) => tf.tidy(() => {
      const s = c.attrs.ints('strides', [1, 1, 1, 1]);
      const d = c.attrs.ints('dilations', [1, 1, 1, 1]);
      return toNchw(tf.conv2d(toNhwc(c.inputs[0]!), c.inputs[1] as tf.Tensor4D, [s[2]!, s[3]!], nchwPadding(c), 'NHWC', [d[2]!, d[3]!]));
    })],
    [nchwOp('DepthwiseConv2dNative'), (c) => tf.tidy(() => {
      const s = c.attrs.ints('strides', [1, 1, 1, 1]);
      const d = c.attrs.ints('dilations', [1, 1, 1, 1]);
      const pad = nchwPadding(c);
      return toNchw(tf.depthwiseConv2d(toNhwc(c.inputs[0]!), c.inputs[1] as tf.Tensor4D, [s[2]!, s[3]!], pad as 'same', 'NHWC', [d[2]!, d[3]!]));
    })],
    [nchwOp('BiasAdd'), (c) => tf.tidy(() => {
      const [x, b] = c.inputs as [tf.Tensor, tf.Tensor];
      const shape = [b.size, ...Array<number>(Math.max(0, x.rank - 2)).fill(1)];
      return tf.add(x, tf.reshape(b, shape));
    })],
    [nchwOp('MaxPool'), (c) => tf.tidy(() => {
      const k = c.attrs.ints('ksize', [1, 1, 1, 1]);
      const s = c.attrs.ints('strides', [1, 1, 1, 1]);
      return toNchw(tf.maxPool(toNhwc(c.inputs[0]!), [k[2]!, k[3]!], [s[2]!, s[3]!], nchwPadding(c) as 'same'));
    })],
    [nchwOp('AvgPool'), (c) => tf.tidy(() => {
      const k = c.attrs.ints('ksize', [1, 1, 1, 1]);
      const s = c.attrs.ints('strides', [1, 1, 1, 1]);
      return toNchw(tf.avgPool(toNhwc(c.inputs[0]!), [k[2]!, k[3]!], [s[2]!, s[3]!], nchwPadding(c) as 'same'));
    })],
  ];
}

// ---- gradient helper ops found in frozen training graphs -----------------------------------------

/** TF's BroadcastGradientArgs: reduction axes for each input of a broadcasting binary op. */
export function broadcastGradientArgs(s0: number[], s1: number[]): [number[], number[]] {
  const n = Math.max(s0.length, s1.length);
  const a = [...Array(n - s0.length).fill(1), ...s0];
  const b = [...Array(n - s1.length).fill(1), ...s1];
  const r0: number[] = [];
  const r1: number[] = [];
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) {
      if (a[i] === 1) { r0.push(i); r1.push(i); }
    } else if (a[i] === 1) r0.push(i);
    else if (b[i] === 1) r1.push(i);
    else throw new TfpassError('E_GRAPH_VALIDATION', `BroadcastGradientArgs: incompatible shapes [${s0.join(',')}] and [${s1.join(',')}]`);
  }
  return [r0, r1];
}

function gradKernels(): [string, KernelFn][] {
  const two = (c: KernelContext) => c.inputs as [tf.Tensor, tf.Tensor];
  return [
    ['PreventGradient', (c) => tf.clone(c.inputs[0]!)],
    ['TanhGrad', (c) => tf.tidy(() => { const [y, dy] = two(c); return tf.mul(dy, tf.sub(1, tf.square(y))); })],
    ['SigmoidGrad', (c) => tf.tidy(() => { const [y, dy] = two(c); return tf.mul(dy, tf.mul(y, tf.sub(1, y))); })],
    ['RsqrtGrad', (c) => tf.tidy(() => { const [y, dy] = two(c); return tf.mul(dy, tf.mul(tf.pow(y, 3), -0.5)); })],
    ['SqrtGrad', (c) => tf.tidy(() => { const [y, dy] = two(c); return tf.div(tf.mul(dy, 0.5), y); })],
    ['ReluGrad', (c) => tf.tidy(() => { const [g, x] = two(c); return tf.mul(g, tf.cast(tf.greater(x, 0), g.dtype)); })],
    ['Relu6Grad', (c) => tf.tidy(() => { const [g, x] = two(c); return tf.mul(g, tf.cast(tf.logicalAnd(tf.greater(x, 0), tf.less(x, 6)), g.dtype)); })],
    ['BiasAddGrad', (c) => {
      const g = c.inputs[0]!;
      const nchw = c.attrs.string('data_format', 'NHWC') === 'NCHW';
      const keep = nchw ? 1 : g.rank - 1;
      return tf.sum(g, [...Array(g.rank).keys()].filter((i) => i !== keep));
    }],
    ['BroadcastGradientArgs', (c) => {
      const [r0, r1] = broadcastGradientArgs(Array.from(c.inputs[0]!.dataSync()), Array.from(c.inputs[1]!.dataSync()));
      return [tf.tensor1d(r0, 'int32'), tf.tensor1d(r1, 'int32')];
    }],
  ];
}

// ---- registration -----------------------------------------------------------------------------

let installed = false;

/** Register tfpass's kernels with tfjs-converter (idempotent; runs when the runtime is imported). */
export function installKernels(): void {
  if (installed) return;
  installed = true;
  registerKernel('FakeQuantWithMinMaxArgs', (c) => fakeQuant(c, 'args'));
  registerKernel('FakeQuantWithMinMaxVars', (c) => fakeQuant(c, 'vars'));
  registerKernel('FakeQuantWithMinMaxVarsPerChannel', (c) => fakeQuant(c, 'channel'));
  registerKernel('BatchNormWithGlobalNormalization', batchNormGlobal);
  registerKernel('CheckNumerics', checkNumerics);
  registerKernel('FusedBatchNorm', fusedBatchNorm);
  registerKernel('FusedBatchNormV2', fusedBatchNorm);
  registerKernel('FusedBatchNormV3', fusedBatchNorm);
  registerKernel('Dequantize', dequantize);
  registerKernel('FusedPadConv2D', fusedPadConv);
  registerKernel('FusedResizeAndPadConv2D', fusedResizePadConv);
  for (const [op, fn] of gradKernels()) registerKernel(op, fn);
  for (const [op, fn] of nchwKernels()) registerKernel(op, fn);
}
