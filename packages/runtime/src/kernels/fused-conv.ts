import * as tf from '@tensorflow/tfjs-core';
import { TfpassError } from '@tfpass/core';
import type { KernelContext, KernelTable } from './attrs.js';

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

export const fusedConvKernels = (): KernelTable => [
  ['FusedPadConv2D', fusedPadConv],
  ['FusedResizeAndPadConv2D', fusedResizePadConv],
];
