import * as tf from '@tensorflow/tfjs-core';
import { TfpassError } from '@tfpass/core';
import type { KernelContext, KernelTable } from './attrs.js';

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

export const batchNormKernels = (): KernelTable => [
  ['BatchNormWithGlobalNormalization', batchNormGlobal],
  ['FusedBatchNorm', fusedBatchNorm],
  ['FusedBatchNormV2', fusedBatchNorm],
  ['FusedBatchNormV3', fusedBatchNorm],
];
