/**
 * Gradient kernels the wasm backend lacks (Conv2DBackpropFilter, depthwise backprop filter
 * and input), written as forward convolutions that wasm does have: the filter gradient is a
 * convolution of the input with the output gradient where the stride becomes a dilation.
 * They let QAT run on wasm instead of the ~20x slower cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/** Pad x (NHWC) as the forward conv did and crop to the rows/cols the conv actually read. */
function padForFilterGrad(x: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const { top, bottom, left, right } = info.padInfo;
  const needH = (info.outHeight - 1) * info.strideHeight + (info.filterHeight - 1) * info.dilationHeight + 1;
  const needW = (info.outWidth - 1) * info.strideWidth + (info.filterWidth - 1) * info.dilationWidth + 1;
  let xp = top || bottom || left || right ? tf.pad(x, [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]]) : x;
  if (xp.shape[1] !== needH || xp.shape[2] !== needW) {
    xp = tf.slice(xp, [0, 0, 0, 0], [-1, Math.min(needH, xp.shape[1]), Math.min(needW, xp.shape[2]), -1]);
  }
  if (xp.shape[1] < needH || xp.shape[2] < needW) {
    xp = tf.pad(xp, [[0, 0], [0, needH - xp.shape[1]], [0, needW - xp.shape[2]], [0, 0]]);
  }
  return xp;
}

export function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], strides: number | [number, number], pad: Pad, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  return tf.tidy(() => {
    const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad as never, dimRoundingMode, false, 'channelsLast');
    const xp = padForFilterGrad(x, info);
    const xt = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [Ci, H, W, B]
    const ft = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [OH, OW, B, Co]
    const out = tf.conv2d(xt, ft, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]); // [Ci, KH, KW, Co]
    return tf.transpose(out, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

export function depthwiseBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], strides: number | [number, number], pad: Pad, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, m] = filterShape;
    const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad as never, dimRoundingMode, true, 'channelsLast');
    const b = x.shape[0];
    const xp = padForFilterGrad(x, info);
    // Channel index c*B + b on both sides, so one depthwise conv handles every (channel, batch) pair.
    const xin = tf.reshape(tf.transpose(xp, [1, 2, 3, 0]), [1, xp.shape[1], xp.shape[2], c * b]) as tf.Tensor4D;
    const f = tf.reshape(tf.transpose(tf.reshape(dy, [b, info.outHeight, info.outWidth, c, m]), [1, 2, 3, 0, 4]), [info.outHeight, info.outWidth, c * b, m]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(xin, f, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]); // [1, KH, KW, C*B*M]
    return tf.sum(tf.reshape(out, [kh, kw, c, b, m]), 3) as tf.Tensor4D;
  });
}

export function depthwiseBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: [number, number, number, number], strides: number | [number, number], pad: Pad, dimRoundingMode?: 'floor' | 'round' | 'ceil'): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, m] = filter.shape;
    const [b, h, w] = inputShape;
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, 1, pad as never, dimRoundingMode, true, 'channelsLast');
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    const oh = info.outHeight;
    const ow = info.outWidth;
    // Spread dy by the stride (zeros in between).
    let d: tf.Tensor = dy;
    if (sh > 1 || sw > 1) {
      d = tf.reshape(dy, [b, oh, 1, ow, 1, c * m]);
      d = tf.pad(d, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
      d = tf.reshape(d, [b, oh * sh, ow * sw, c * m]);
      d = tf.slice(d, [0, 0, 0, 0], [-1, (oh - 1) * sh + 1, (ow - 1) * sw + 1, -1]);
    }
    const hd = d.shape[1]!;
    const wd = d.shape[2]!;
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    const bottom = h + kh - 1 - hd - top;
    const right = w + kw - 1 - wd - left;
    d = tf.pad(d, [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]]);
    if (top < 0 || left < 0 || bottom < 0 || right < 0) {
      d = tf.slice(d, [0, Math.max(0, -top), Math.max(0, -left), 0], [-1, d.shape[1]! - Math.max(0, -top) - Math.max(0, -bottom), d.shape[2]! - Math.max(0, -left) - Math.max(0, -right), -1]);
    }
    // Rotate the filter 180 degrees; channel c*M+m of dy meets filter[.., c, m].
    const rot = tf.reverse(filter, [0, 1]);
    const f = tf.reshape(rot, [kh, kw, c * m, 1]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(d as tf.Tensor4D, f, 1, 'valid'); // [B, H, W, C*M]
    return tf.sum(tf.reshape(out, [b, h, w, c, m]), 4) as tf.Tensor4D;
  });
}

let registered = false;

/** Register the kernels for the wasm backend (idempotent). */
export function registerWasmGradKernels(): void {
  if (registered) return;
  registered = true;
  const reg = (kernelName: string, fn: (args: { inputs: Record<string, tf.TensorInfo>; attrs: Record<string, unknown> }) => tf.Tensor) => {
    if (tf.getKernel(kernelName, 'wasm')) return;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: fn as never });
  };
  const T = (t: tf.TensorInfo) => t as unknown as tf.Tensor4D;
  reg('Conv2DBackpropFilter', ({ inputs, attrs }) => {
    if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
    return conv2dBackpropFilter(T(inputs.x!), T(inputs.dy!), attrs.filterShape as never, attrs.strides as never, attrs.pad as Pad, attrs.dimRoundingMode as never);
  });
  reg('DepthwiseConv2dNativeBackpropFilter', ({ inputs, attrs }) =>
    depthwiseBackpropFilter(T(inputs.x!), T(inputs.dy!), attrs.filterShape as never, attrs.strides as never, attrs.pad as Pad, attrs.dimRoundingMode as never));
  reg('DepthwiseConv2dNativeBackpropInput', ({ inputs, attrs }) =>
    depthwiseBackpropInput(T(inputs.dy!), T(inputs.filter!), attrs.inputShape as never, attrs.strides as never, attrs.pad as Pad, attrs.dimRoundingMode as never));
}

export { pair };

let gradFixes = false;

/**
 * tfjs 4.22's SquaredDifference gradient forgets to reduce over broadcast dimensions (it fails
 * on (x - mean)^2 with a keep_dims mean, i.e. every instance norm). Register a correct one.
 */
export function registerGradientFixes(): void {
  if (gradFixes) return;
  gradFixes = true;
  const reduceTo = (g: tf.Tensor, shape: number[]) => {
    const axes = tf.backend_util.getReductionAxes(shape, g.shape);
    const r = axes.length ? tf.sum(g, axes) : g;
    return tf.reshape(r, shape);
  };
  // StridedSlice (tfjs has none): the same slice of an index ramp says where each dy value came
  // from, and a scatter puts it back; every mask (ellipsis, new axis, shrink) is handled by the
  // forward op itself.
  tf.registerGradient({
    kernelName: 'StridedSlice',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const a = attrs as unknown as { begin: number[]; end: number[]; strides: number[]; beginMask: number; endMask: number; ellipsisMask: number; newAxisMask: number; shrinkAxisMask: number };
      return {
        x: () => tf.tidy(() => {
          const ramp = tf.reshape(tf.range(0, x.size, 1, 'int32'), x.shape);
          const from = tf.stridedSlice(ramp, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask);
          const flat = tf.scatterND(tf.reshape(from, [-1, 1]), tf.reshape(dy as tf.Tensor, [-1]), [x.size]);
          return tf.reshape(flat, x.shape);
        }),
      };
    },
  });
  tf.registerGradient({
    kernelName: 'SquaredDifference',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const two = tf.scalar(2);
      return {
        a: () => reduceTo(tf.mul(dy as tf.Tensor, tf.mul(two, tf.sub(a, b))), a.shape),
        b: () => reduceTo(tf.mul(dy as tf.Tensor, tf.mul(two, tf.sub(b, a))), b.shape),
      };
    },
  });
}
