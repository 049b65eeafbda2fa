// Gradient helper ops found in frozen training graphs.
import * as tf from '@tensorflow/tfjs-core';
import { TfpassError } from '@tfpass/core';
import type { KernelContext, KernelTable } from './attrs.js';

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

export function gradKernels(): KernelTable {
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
