import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Graph, Tensor, UnsupportedOpError, type AttrJson, type DType } from '@tfpass/core';
import { CheckNumericsError, createExecutor, nudge, registerKernel, supportsOp, useBackend } from '../src/index.js';

const exec = createExecutor();
const fr = Math.fround;

function constNode(g: Graph, name: string, dtype: DType, shape: number[], values: number[]): void {
  g.addNode({ name, op: 'Const', attrs: { dtype: { type: dtype }, value: { tensor: Tensor.fromValues(dtype, shape, values) } } });
}

/** One-op graph: input 'x' (placeholder) plus constant inputs, op node 'y'. */
function oneOp(op: string, x: { dtype?: DType; shape: number[] }, consts: { dtype?: DType; shape: number[]; values: number[] }[], attrs: Record<string, AttrJson> = {}): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: x.dtype ?? 'float32' } } });
  const ins = ['x'];
  consts.forEach((c, i) => {
    constNode(g, `c${i}`, c.dtype ?? 'float32', c.shape, c.values);
    ins.push(`c${i}`);
  });
  g.addNode({ name: 'y', op, inputs: ins, attrs });
  return g;
}

async function run1(g: Graph, x: Tensor, fetch = 'y'): Promise<Float32Array> {
  const [y] = await exec.run(g, { x }, [fetch]);
  return y!.toFloat32();
}

function same(a: ArrayLike<number>, b: ArrayLike<number>): void {
  expect(Array.from(a).map(fr)).toEqual(Array.from(b).map((v) => fr(v) + 0));
}

describe('FakeQuant kernels (TF float32 arithmetic)', () => {
  it('min=-1, max=1, 8 bits: float32 zero point is 127 (exact math would say 128)', () => {
    const r = nudge(-1, 1, 8, false);
    expect(r.scale).toBe(fr(2 / 255));
    expect(0 - -1 / (2 / 255)).toBe(127.5);
    expect(r.zeroPoint).toBe(127);
    expect(r.min).toBe(fr(-127 * r.scale));
    expect(r.max).toBe(fr(128 * r.scale));
    expect(Math.abs(r.min - -0.9960785)).toBeLessThan(1e-7);
    expect(Math.abs(r.max - 1.0039216)).toBeLessThan(1e-7);
    const n = nudge(-1, 1, 8, true);
    expect(n.scale).toBe(fr(2 / 254));
    expect(n.zeroPoint).toBe(128);
    expect([n.min, n.max]).toEqual([-1, 1]);
  });

  // TF's own kernel test vectors (fake_quant_ops_test.cc): bits, narrow, min, max, inputs, expected.
  const CASES: [number, boolean, number, number, number[], number[]][] = [
    [8, false, -10, 53.75, [-10.1, -10, -9.9, -9.75, 53.75, 53.8], [-10, -10, -10, -9.75, 53.75, 53.75]],
    [8, true, -10, 53.5, [-10.1, -10, -9.9, -9.75, 53.5, 53.6], [-10, -10, -10, -9.75, 53.5, 53.5]],
    [8, false, -0.1, 63.65, [-0.1, 0, 0.1, 0.25, 63.75, 63.8], [0, 0, 0, 0.25, 63.75, 63.75]],
    [8, false, -0.1275, 63.6225, [-0.26, -0.25, -0.24, 0, 63.5, 63.6], [-0.25, -0.25, -0.25, 0, 63.5, 63.5]],
    [8, true, -0.1275, 63.3725, [-0.26, -0.25, -0.24, 0, 63.25, 63.3], [-0.25, -0.25, -0.25, 0, 63.25, 63.25]],
    [8, false, -63.65, 0.1, [-63.8, -63.75, -63.7, -63.5, 0, 0.1], [-63.75, -63.75, -63.75, -63.5, 0, 0]],
    [4, false, -6, 1.5, [-6.1, -6, -5.9, -5.5, 1.5, 1.6], [-6, -6, -6, -5.5, 1.5, 1.5]],
    [4, true, -0.4, 6.6, [-0.6, -0.5, -0.24, 0, 6.5, 6.6], [-0.5, -0.5, 0, 0, 6.5, 6.5]],
    [4, false, -7.3, 0.2, [-7.6, -7.5, -7.4, -7.2, 0, 0.1], [-7.5, -7.5, -7.5, -7, 0, 0]],
    [2, false, -1, 0.5, [-1.1, -1, -0.9, -0.3, 0.1, 0.6], [-1, -1, -1, -0.5, 0, 0.5]],
    [2, true, -1, 0, [-1.1, -1, -0.9, -0.3, 0, 0.1], [-1, -1, -1, -0.5, 0, 0]],
  ];

  it('Args and Vars reproduce TensorFlow kernel test vectors', async () => {
    for (const [bits, narrow, min, max, xs, want] of CASES) {
      const x = Tensor.fromValues('float32', [2, 3], xs);
      const args = oneOp('FakeQuantWithMinMaxArgs', { shape: [2, 3] }, [], { min: { f: min }, max: { f: max }, num_bits: { i: bits }, narrow_range: { b: narrow } });
      same(await run1(args, x), want);
      const vars = oneOp('FakeQuantWithMinMaxVars', { shape: [2, 3] }, [{ shape: [], values: [min] }, { shape: [], values: [max] }], { num_bits: { i: bits }, narrow_range: { b: narrow } });
      same(await run1(vars, x), want);
    }
  });

  it('PerChannel quantizes each channel of the last dimension on its own grid', async () => {
    const g = oneOp('FakeQuantWithMinMaxVarsPerChannel', { shape: [2, 3] }, [{ shape: [3], values: [-10, -0.1, -63.65] }, { shape: [3], values: [53.75, 63.65, 0.1] }], { num_bits: { i: 8 } });
    const y = await run1(g, Tensor.fromValues('float32', [2, 3], [-10.1, -0.1, -63.8, 53.8, 63.8, 0.1]));
    same(y, [-10, 0, -63.75, 53.75, 63.75, 0]);
    const bad = oneOp('FakeQuantWithMinMaxVarsPerChannel', { shape: [2, 3] }, [{ shape: [2], values: [-1, -1] }, { shape: [2], values: [1, 1] }]);
    await expect(run1(bad, Tensor.zeros('float32', [2, 3]))).rejects.toThrow(/must have 3 elements/);
  });

  it('outputs take at most 2^num_bits values on the nudged grid for every num_bits 2..16', async () => {
    const xs = Array.from({ length: 4096 }, (_, i) => -1.3 + (2.7 * i) / 4095);
    xs[100] = 0; // zero must come out exactly zero
    for (let bits = 2; bits <= 16; bits++) {
      for (const narrow of [false, true]) {
        const g = oneOp('FakeQuantWithMinMaxVars', { shape: [4096] }, [{ shape: [], values: [-1] }, { shape: [], values: [1.25] }], { num_bits: { i: bits }, narrow_range: { b: narrow } });
        const y = await run1(g, Tensor.fromValues('float32', [4096], xs));
        const r = nudge(-1, 1.25, bits, narrow);
        const levels = new Set(y);
        expect(levels.size).toBeLessThanOrEqual(2 ** bits - (narrow ? 1 : 0));
        expect(levels.has(0)).toBe(true);
        for (const v of levels) {
          const q = Math.round((v - r.min) / r.scale);
          expect(v).toBe(fr(fr(q * r.scale) + r.min));
        }
        // Extremes are the end points of the grid (q*scale + min, which can sit an ulp off nudged max).
        const top = 2 ** bits - 1 - (narrow ? 1 : 0);
        expect(Math.min(...levels)).toBe(r.min);
        expect(Math.max(...levels)).toBe(fr(fr(top * r.scale) + r.min));
        expect(Math.abs(Math.max(...levels) - r.max)).toBeLessThanOrEqual(2 ** -22);
      }
    }
  });

  it('rejects num_bits outside 2..16 and Args with min >= max', async () => {
    const g = oneOp('FakeQuantWithMinMaxArgs', { shape: [1] }, [], { num_bits: { i: 17 } });
    await expect(run1(g, Tensor.zeros('float32', [1]))).rejects.toThrow(/num_bits must be between 2 and 16/);
    const h = oneOp('FakeQuantWithMinMaxArgs', { shape: [1] }, [], { min: { f: 1 }, max: { f: 1 } });
    await expect(run1(h, Tensor.zeros('float32', [1]))).rejects.toThrow(/min has to be smaller than max/);
  });
});

describe('batch norm kernels', () => {
  const scale = [1.5, 0.5];
  const offset = [0.1, -0.2];
  const mean = [0.3, -0.1];
  const variance = [2, 0.5];
  const consts = [scale, offset, mean, variance].map((values) => ({ shape: [2], values }));
  const xs = Array.from({ length: 16 }, (_, i) => Math.sin(i) * 3);

  it('FusedBatchNorm inference NHWC and NCHW match the formula', async () => {
    for (const op of ['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3']) {
      const g = oneOp(op, { shape: [1, 2, 4, 2] }, consts, { epsilon: { f: 0.001 }, is_training: { b: false }, data_format: { s: 'NHWC' } });
      const y = await run1(g, Tensor.fromValues('float32', [1, 2, 4, 2], xs));
      y.forEach((v, i) => {
        const c = i % 2;
        expect(v).toBeCloseTo(((xs[i]! - mean[c]!) / Math.sqrt(variance[c]! + 0.001)) * scale[c]! + offset[c]!, 5);
      });
      const h = oneOp(op, { shape: [1, 2, 2, 4] }, consts, { epsilon: { f: 0.001 }, is_training: { b: false }, data_format: { s: 'NCHW' } });
      const z = await run1(h, Tensor.fromValues('float32', [1, 2, 2, 4], xs));
      z.forEach((v, i) => {
        const c = Math.floor(i / 8);
        expect(v).toBeCloseTo(((xs[i]! - mean[c]!) / Math.sqrt(variance[c]! + 0.001)) * scale[c]! + offset[c]!, 5);
      });
    }
  });

  it('FusedBatchNorm is_training uses batch statistics and reports the Bessel-corrected variance', async () => {
    const g = oneOp('FusedBatchNormV3', { shape: [1, 2, 4, 2] }, consts, { epsilon: { f: 0.001 }, is_training: { b: true } });
    const x = Tensor.fromValues('float32', [1, 2, 4, 2], xs);
    const [y, bm, bv] = await exec.run(g, { x }, ['y', 'y:1', 'y:2']);
    for (let c = 0; c < 2; c++) {
      const vals = xs.filter((_, i) => i % 2 === c);
      const m = vals.reduce((a, b) => a + b, 0) / vals.length;
      const v = vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length;
      expect(bm!.toFloat32()[c]).toBeCloseTo(m, 5);
      expect(bv!.toFloat32()[c]).toBeCloseTo((v * vals.length) / (vals.length - 1), 4);
      y!.toFloat32().forEach((out, i) => {
        if (i % 2 === c) expect(out).toBeCloseTo(((xs[i]! - m) / Math.sqrt(v + 0.001)) * scale[c]! + offset[c]!, 4);
      });
    }
  });

  it('BatchNormWithGlobalNormalization with and without scale_after_normalization', async () => {
    // Inputs: t, mean, variance, beta, gamma.
    const cs = [mean, variance, offset, scale].map((values) => ({ shape: [2], values }));
    for (const scaleAfter of [true, false]) {
      const g = oneOp('BatchNormWithGlobalNormalization', { shape: [1, 2, 4, 2] }, cs, { variance_epsilon: { f: 0.01 }, scale_after_normalization: { b: scaleAfter } });
      const y = await run1(g, Tensor.fromValues('float32', [1, 2, 4, 2], xs));
      y.forEach((v, i) => {
        const c = i % 2;
        expect(v).toBeCloseTo(((xs[i]! - mean[c]!) / Math.sqrt(variance[c]! + 0.01)) * (scaleAfter ? scale[c]! : 1) + offset[c]!, 5);
      });
    }
  });
});

describe('CheckNumerics', () => {
  it('passes finite tensors through and fails with TF message on NaN / Inf', async () => {
    const g = oneOp('CheckNumerics', { shape: [3] }, [], { message: { s: 'Found bad values in MyLayer' } });
    same(await run1(g, Tensor.fromValues('float32', [3], [1, 2, 3])), [1, 2, 3]);
    const nan = await run1(g, Tensor.fromValues('float32', [3], [1, NaN, 3])).catch((e: unknown) => e);
    expect(nan).toBeInstanceOf(CheckNumericsError);
    expect((nan as Error).message).toBe("Found bad values in MyLayer : Tensor had NaN values (node 'y')");
    await expect(run1(g, Tensor.fromValues('float32', [3], [1, Infinity, 3]))).rejects.toThrow('Found bad values in MyLayer : Tensor had Inf values');
    await expect(run1(g, Tensor.fromValues('float32', [3], [-Infinity, NaN, 3]))).rejects.toThrow('Tensor had Inf and NaN values');
  });
});

describe('Dequantize', () => {
  it('MIN_COMBINED, MIN_FIRST and SCALED for quint8 and qint8', async () => {
    const cases: [DType, string, number, number, number[], number[]][] = [
      // quint8 MIN_COMBINED: min + q*(max-min)/255
      ['quint8', 'MIN_COMBINED', -1, 1, [0, 255, 128], [-1, 1, fr(fr(128 * fr(2 / 255)) - 1)]],
      // qint8 MIN_COMBINED: (q + 128) * (max-min)/255 + min
      ['qint8', 'MIN_COMBINED', -1, 1, [-128, 127, 0], [-1, 1, fr(fr(128 * fr(2 / 255)) - 1)]],
      // quint8 MIN_FIRST: range stretched by 256/255, step = range/256
      ['quint8', 'MIN_FIRST', 0, 25.5, [0, 10, 255], [0, fr(10 * fr(25.5 / 255)), fr(255 * fr(25.5 / 255))]],
      // quantize_weights output: [-1, 0, 0.5, 1] quantized to [0, 128, 192, 255] with min -1, max 1
      ['quint8', 'MIN_FIRST', -1, 1, [0, 128, 192, 255], [-1, fr(fr(128 * fr(2 / 255)) - 1), fr(fr(192 * fr(2 / 255)) - 1), fr(fr(255 * fr(2 / 255)) - 1)]],
      // SCALED: quint8 q*max/255; qint8 q*max(min/-128, max/127)
      ['quint8', 'SCALED', 0, 2.55, [0, 100, 255], [0, fr(100 * fr(2.55 / 255)), fr(255 * fr(2.55 / 255))]],
      ['qint8', 'SCALED', -1, 1, [-128, 0, 127], [fr(-128 * fr(1 / 127)), 0, fr(127 * fr(1 / 127))]],
    ];
    for (const [t, mode, mn, mx, q, want] of cases) {
      const g = oneOp('Dequantize', { dtype: t, shape: [q.length] }, [{ shape: [], values: [mn] }, { shape: [], values: [mx] }], { T: { type: t }, mode: { s: mode } });
      same(await run1(g, Tensor.fromValues(t, [q.length], q)), want);
    }
  });

  it('per-channel axis (SCALED) uses one range per slice', async () => {
    const g = oneOp('Dequantize', { dtype: 'qint8', shape: [2, 2] }, [{ shape: [2], values: [-1, -2] }, { shape: [2], values: [1, 2] }], { T: { type: 'qint8' }, mode: { s: 'SCALED' }, axis: { i: 1 } });
    same(await run1(g, Tensor.fromValues('qint8', [2, 2], [127, 127, -127, 0])), [1, 2, -1, 0]);
  });
});

describe('fused pad/resize convolutions', () => {
  const xs = Array.from({ length: 2 * 3 * 3 * 2 }, (_, i) => Math.cos(i));
  const w = Array.from({ length: 3 * 3 * 2 * 2 }, (_, i) => Math.sin(i * 0.3));
  const paddings = [0, 0, 1, 2, 2, 1, 0, 0];

  it('FusedPadConv2D = Conv2D(MirrorPad(x)) for REFLECT and SYMMETRIC', async () => {
    await useBackend('wasm');
    for (const mode of ['REFLECT', 'SYMMETRIC']) {
      const g = oneOp('FusedPadConv2D', { shape: [2, 3, 3, 2] }, [{ dtype: 'int32', shape: [4, 2], values: paddings }, { shape: [3, 3, 2, 2], values: w }], { T: { type: 'float32' }, mode: { s: mode }, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'VALID' } });
      const y = await run1(g, Tensor.fromValues('float32', [2, 3, 3, 2], xs));
      const ref = tf.tidy(() => tf.conv2d(tf.mirrorPad(tf.tensor4d(xs, [2, 3, 3, 2]), [[0, 0], [1, 2], [2, 1], [0, 0]], mode.toLowerCase() as 'reflect'), tf.tensor4d(w, [3, 3, 2, 2]), 1, 'valid').dataSync());
      same(y, ref);
    }
  });

  it('FusedResizeAndPadConv2D = Conv2D(MirrorPad(ResizeBilinear(x)))', async () => {
    await useBackend('wasm');
    for (const align of [false, true]) {
      const g = oneOp('FusedResizeAndPadConv2D', { shape: [2, 3, 3, 2] }, [{ dtype: 'int32', shape: [2], values: [5, 4] }, { dtype: 'int32', shape: [4, 2], values: paddings }, { shape: [3, 3, 2, 2], values: w }], { T: { type: 'float32' }, resize_align_corners: { b: align }, mode: { s: 'REFLECT' }, strides: { list: { i: [1, 2, 2, 1] } }, padding: { s: 'SAME' } });
      const y = await run1(g, Tensor.fromValues('float32', [2, 3, 3, 2], xs));
      const ref = tf.tidy(() => tf.conv2d(tf.mirrorPad(tf.image.resizeBilinear(tf.tensor4d(xs, [2, 3, 3, 2]), [5, 4], align), [[0, 0], [1, 2], [2, 1], [0, 0]], 'reflect'), tf.tensor4d(w, [3, 3, 2, 2]), 2, 'same').dataSync());
      same(y, ref);
    }
  });
});

describe('kernel registry', () => {
  it('registerKernel adds an op and rebuilds models loaded before it', async () => {
    const g = oneOp('TimesThree', { shape: [2] }, [], { k: { f: 3 } });
    expect(supportsOp('TimesThree')).toBe(false);
    await expect(run1(g, Tensor.fromValues('float32', [2], [1, 2]))).rejects.toBeInstanceOf(UnsupportedOpError);
    registerKernel('TimesThree', (ctx) => ctx.tf.mul(ctx.inputs[0]!, ctx.attrs.float('k')));
    expect(supportsOp('TimesThree')).toBe(true);
    same(await run1(g, Tensor.fromValues('float32', [2], [1, 2])), [3, 6]);
  });

  it('reports legacy eight-bit ops as unsupported with the node name', async () => {
    expect(supportsOp('QuantizedConv2D')).toBe(false);
    expect(supportsOp('Requantize')).toBe(false);
    expect(supportsOp('Conv2D')).toBe(true);
    const g = oneOp('QuantizeV2', { shape: [2] }, [{ shape: [], values: [-1] }, { shape: [], values: [1] }], { T: { type: 'quint8' } });
    const err = await run1(g, Tensor.zeros('float32', [2])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedOpError);
    expect((err as Error).message).toContain("node 'y': op 'QuantizeV2' is not supported");
  });
});

describe('gradient helper ops of frozen training graphs', () => {
  it('TanhGrad, ReluGrad, BiasAddGrad and BroadcastGradientArgs follow TF', async () => {
    const g = new Graph();
    g.addNode({ name: 'y', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'dy', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'tg', op: 'TanhGrad', inputs: ['y', 'dy'] });
    g.addNode({ name: 'rg', op: 'ReluGrad', inputs: ['dy', 'y'] });
    g.addNode({ name: 'bg', op: 'BiasAddGrad', inputs: ['dy'] });
    constNode(g, 's0', 'int32', [3], [2, 1, 4]);
    constNode(g, 's1', 'int32', [1], [4]);
    g.addNode({ name: 'bga', op: 'BroadcastGradientArgs', inputs: ['s0', 's1'] });
    const y = Tensor.fromValues('float32', [2, 2], [0.5, -0.25, 0, 0.9]);
    const dy = Tensor.fromValues('float32', [2, 2], [1, 2, 3, 4]);
    const [tg, rg, bg, r0, r1] = await exec.run(g, { y, dy }, ['tg', 'rg', 'bg', 'bga', 'bga:1']);
    same(tg!.toFloat32(), [0.75, 2 * (1 - 0.0625), 3, fr(4 * fr(1 - fr(fr(0.9) * fr(0.9))))]);
    same(rg!.toFloat32(), [1, 0, 0, 4]);
    same(bg!.toFloat32(), [4, 6]);
    expect(r0!.toNumbers()).toEqual([1]); // size-1 dims are reduced for both inputs, as in TF
    expect(r1!.toNumbers()).toEqual([0, 1]);
  });
});

describe('NCHW convolutions, bias and pooling', () => {
  function net(nchw: boolean): Graph {
    const g = new Graph();
    const fmt = nchw ? 'NCHW' : 'NHWC';
    const v4 = (a: number, b: number, c: number, d: number) => (nchw ? [a, d, b, c] : [a, b, c, d]);
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    constNode(g, 'perm_in', 'int32', [4], [0, 3, 1, 2]);
    constNode(g, 'perm_out', 'int32', [4], [0, 2, 3, 1]);
    let cur = 'x';
    if (nchw) {
      g.addNode({ name: 'to_nchw', op: 'Transpose', inputs: ['x', 'perm_in'], attrs: { T: { type: 'float32' }, Tperm: { type: 'int32' } } });
      cur = 'to_nchw';
    }
    constNode(g, 'w', 'float32', [3, 3, 3, 4], Array.from({ length: 108 }, (_, i) => Math.sin(i * 0.37)));
    g.addNode({ name: 'conv', op: 'Conv2D', inputs: [cur, 'w'], attrs: { T: { type: 'float32' }, strides: { list: { i: v4(1, 2, 2, 1) } }, dilations: { list: { i: v4(1, 1, 1, 1) } }, padding: { s: 'SAME' }, data_format: { s: fmt } } });
    constNode(g, 'b', 'float32', [4], [0.1, -0.2, 0.3, 0.05]);
    g.addNode({ name: 'bias', op: 'BiasAdd', inputs: ['conv', 'b'], attrs: { T: { type: 'float32' }, data_format: { s: fmt } } });
    constNode(g, 'dw', 'float32', [3, 3, 4, 2], Array.from({ length: 72 }, (_, i) => Math.cos(i * 0.21)));
    g.addNode({ name: 'depth', op: 'DepthwiseConv2dNative', inputs: ['bias', 'dw'], attrs: { T: { type: 'float32' }, strides: { list: { i: v4(1, 1, 1, 1) } }, dilations: { list: { i: v4(1, 2, 2, 1) } }, padding: { s: 'SAME' }, data_format: { s: fmt } } });
    g.addNode({ name: 'mp', op: 'MaxPool', inputs: ['depth'], attrs: { T: { type: 'float32' }, ksize: { list: { i: v4(1, 2, 2, 1) } }, strides: { list: { i: v4(1, 1, 1, 1) } }, padding: { s: 'VALID' }, data_format: { s: fmt } } });
    g.addNode({ name: 'ap', op: 'AvgPool', inputs: ['mp'], attrs: { T: { type: 'float32' }, ksize: { list: { i: v4(1, 2, 2, 1) } }, strides: { list: { i: v4(1, 2, 2, 1) } }, padding: { s: 'SAME' }, data_format: { s: fmt } } });
    if (nchw) g.addNode({ name: 'out', op: 'Transpose', inputs: ['ap', 'perm_out'], attrs: { T: { type: 'float32' }, Tperm: { type: 'int32' } } });
    else g.addNode({ name: 'out', op: 'Identity', inputs: ['ap'], attrs: { T: { type: 'float32' } } });
    return g;
  }

  it('an NCHW network equals its NHWC twin', async () => {
    const { expectSameOutputs } = await import('../src/testing.js');
    const rep = await expectSameOutputs(net(false), net(true), { inputs: { x: [2, 9, 7, 3] }, outputs: ['out'], atol: 1e-5, rtol: 1e-5 });
    expect(rep.outputs[0]!.shape).toEqual([2, 2, 2, 8]);
  });
});

describe('TF attribute defaults', () => {
  it('Squeeze without squeeze_dims removes every size-1 dim; Conv2D without dilations runs', async () => {
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'sq', op: 'Squeeze', inputs: ['x'], attrs: { T: { type: 'float32' } } });
    g.addNode({ name: 'sq1', op: 'Squeeze', inputs: ['x'], attrs: { T: { type: 'float32' }, squeeze_dims: { list: { i: [1] } } } });
    const x = Tensor.fromValues('float32', [1, 1, 3, 1], [1, 2, 3]);
    const [a, b] = await exec.run(g, { x }, ['sq', 'sq1']);
    expect(a!.shape).toEqual([3]);
    expect(b!.shape).toEqual([1, 3, 1]);
    const h = oneOp('Conv2D', { shape: [1, 3, 3, 1] }, [{ shape: [1, 1, 1, 1], values: [2] }], { T: { type: 'float32' }, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'VALID' } });
    same(await run1(h, Tensor.fromValues('float32', [1, 3, 3, 1], [1, 2, 3, 4, 5, 6, 7, 8, 9])), [2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });
});
