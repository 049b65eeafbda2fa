import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradKernels } from '../src/wasm-grad-kernels.js';

// Reference: the union package's cpu kernels. Inputs: uniform [-1, 1), seeded.
async function grads(backend: string, xShape: number[], wShape: number[], stride: number, pad: 'same' | 'valid', depthwise: boolean) {
  expect(await tf.setBackend(backend)).toBe(true);
  expect(tf.getBackend()).toBe(backend);
  const x = tf.randomUniform(xShape, -1, 1, 'float32', 7);
  const w = tf.randomUniform(wShape, -1, 1, 'float32', 11);
  const f = (xx: tf.Tensor4D, ww: tf.Tensor4D) =>
    tf.sum(tf.square(depthwise ? tf.depthwiseConv2d(xx, ww, stride, pad) : tf.conv2d(xx, ww, stride, pad)));
  const g = tf.grads(f as never)([x, w]);
  const out = await Promise.all(g.map((t) => t.data()));
  return out.map((a) => Float32Array.from(a as Float32Array));
}

function maxRel(a: Float32Array, b: Float32Array) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / (1e-3 + Math.abs(b[i]!)));
  return m;
}

describe('wasm gradient kernels', () => {
  beforeAll(async () => {
    registerWasmGradKernels();
  });
  const cases: [string, number[], number[], number, 'same' | 'valid', boolean][] = [
    ['conv same s1', [2, 9, 9, 3], [3, 3, 3, 5], 1, 'same', false],
    ['conv same s2', [2, 9, 10, 3], [3, 3, 3, 4], 2, 'same', false],
    ['conv valid s2', [1, 11, 11, 2], [3, 3, 2, 3], 2, 'valid', false],
    ['conv 1x1 s1', [2, 5, 5, 4], [1, 1, 4, 6], 1, 'valid', false],
    ['depthwise same s1', [2, 8, 8, 3], [3, 3, 3, 2], 1, 'same', true],
    ['depthwise same s2', [2, 9, 9, 4], [3, 3, 4, 1], 2, 'same', true],
    ['depthwise valid s2', [1, 10, 10, 2], [3, 3, 2, 1], 2, 'valid', true],
  ];
  for (const [name, xs, ws, s, pad, dw] of cases) {
    it(`${name}: dX and dW equal the cpu backend (rel 1e-4)`, async () => {
      const ref = await grads('cpu', xs, ws, s, pad, dw);
      const got = await grads('wasm', xs, ws, s, pad, dw);
      expect(got[0]!.length).toBe(ref[0]!.length);
      expect(got[1]!.length).toBe(ref[1]!.length);
      expect(maxRel(got[0]!, ref[0]!)).toBeLessThan(1e-4);
      expect(maxRel(got[1]!, ref[1]!)).toBeLessThan(1e-4);
    });
  }
});

describe('StridedSlice gradient (tfjs has none)', () => {
  it('puts each output gradient back where the slice read it, with strides, masks and a shrunk axis', async () => {
    const { registerGradientFixes } = await import('../src/wasm-grad-kernels.js');
    registerGradientFixes();
    await tf.setBackend('cpu');
    const x = tf.randomUniform([3, 4, 5], -1, 1, 'float32', 3);
    // x[1:3, ::2, 1] (end mask on axis 1, axis 2 shrunk), weighted so every position differs.
    const w = tf.tensor2d([[1, 2], [3, 4]]);
    const f = (xx: tf.Tensor) => tf.sum(tf.mul(tf.stridedSlice(xx, [1, 0, 1], [3, 0, 2], [1, 2, 1], 0, 2, 0, 0, 4), w));
    const got = tf.grad(f)(x).dataSync();
    // f is linear in x: its gradient at p is f(e_p), computed with the forward op alone.
    const want = Array.from({ length: 60 }, (_, p) => f(tf.oneHot(p, 60).reshape([3, 4, 5]).toFloat()).dataSync()[0]!);
    expect(Array.from(got)).toEqual(want);
    expect(want.filter((v) => v !== 0).sort()).toEqual([1, 2, 3, 4]);
  });
});
