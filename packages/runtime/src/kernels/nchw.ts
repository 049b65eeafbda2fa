// tfjs-converter reads strides/dilations at NHWC positions and ignores BiasAdd's data_format, so
// nodes with data_format NCHW are renamed to these ops before loading (see defaults.ts).
import * as tf from '@tensorflow/tfjs-core';
import type { KernelContext, KernelTable } from './attrs.js';

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

export function nchwKernels(): KernelTable {
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
