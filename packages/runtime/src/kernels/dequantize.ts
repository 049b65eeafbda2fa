import * as tf from '@tensorflow/tfjs-core';
import { TfpassError, UnsupportedOpError, type DType } from '@tfpass/core';
import type { KernelContext, KernelTable } from './attrs.js';

const f = Math.fround;

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

export const dequantizeKernels = (): KernelTable => [['Dequantize', dequantize]];
