import { describe, expect, it } from 'vitest';
import { writeTflite, type Model } from '@tfpass/tflite';
import { loadTfliteRunner } from '../../tflite/src/runtime.js';
import { seededRandom } from '../../tflite/src/reference/random.js';
import { quantizeWeights, symmetricQuantizeFloats } from './quantize-weights.js';
import { tinyModel } from './quant/testing.js';

const conv = { type: 'Conv2DOptions', padding: 'SAME', strideW: 1, strideH: 1, fusedActivationFunction: 'RELU', dilationWFactor: 1, dilationHFactor: 1 };
const dw = { type: 'DepthwiseConv2DOptions', padding: 'SAME', strideW: 1, strideH: 1, depthMultiplier: 1, fusedActivationFunction: 'NONE', dilationWFactor: 1, dilationHFactor: 1 };

/** x[1,8,8,8] → CONV_2D (w 16x3x3x8 = 1152) → DEPTHWISE (w 1x9x9x16 = 1296) → RESHAPE → FC (w 4x1024) → y; bias 16 floats stays float. Weights uniform ±0.3 (seed 9). */
function net(): Model {
  const rnd = seededRandom(9);
  const u = (n: number, a: number) => Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * a);
  return tinyModel({
    tensors: [
      { name: 'x', shape: [1, 8, 8, 8] },
      { name: 'wc', shape: [16, 3, 3, 8], float: u(1152, 0.3) },
      { name: 'bc', shape: [16], float: u(16, 0.1) },
      { name: 'c', shape: [1, 8, 8, 16] },
      { name: 'wd', shape: [1, 9, 9, 16], float: u(1296, 0.3) },
      { name: 'bd', shape: [16], float: u(16, 0.1) },
      { name: 'd', shape: [1, 8, 8, 16] },
      { name: 'shape', shape: [2], int32: [1, 1024] },
      { name: 'r', shape: [1, 1024] },
      { name: 'wf', shape: [4, 1024], float: u(4096, 0.3) },
      { name: 'bf', shape: [4], float: u(4, 0.1) },
      { name: 'y', shape: [1, 4] },
    ],
    ops: [
      { op: 'CONV_2D', inputs: [0, 1, 2], outputs: [3], options: conv },
      { op: 'DEPTHWISE_CONV_2D', inputs: [3, 4, 5], outputs: [6], options: dw },
      { op: 'RESHAPE', inputs: [6, 7], outputs: [8], options: { type: 'ReshapeOptions', newShape: [1, 1024] } },
      { op: 'FULLY_CONNECTED', inputs: [8, 9, 10], outputs: [11], options: { type: 'FullyConnectedOptions', fusedActivationFunction: 'NONE', weightsFormat: 'DEFAULT', keepNumDims: false } },
    ],
    inputs: [0],
    outputs: [11],
  }).model;
}

describe('--post_training_quantize: int8 weights, float activations (TF 1.15 quantize_weights)', () => {
  it('symmetric per-tensor int8 weights; hybrid CONV_2D v2 / FULLY_CONNECTED v3; DEPTHWISE reads a DEQUANTIZE; small tensors stay float', () => {
    const { model } = quantizeWeights(net());
    const sg = model.subgraphs[0]!;
    const t = new Map(sg.tensors.map((x) => [x.name, x]));
    for (const n of ['wc', 'wd', 'wf']) {
      expect(t.get(n)!.type).toBe('int8');
      expect(t.get(n)!.quantization!.zeroPoint).toEqual([0]);
    }
    for (const n of ['bc', 'bd', 'bf', 'x', 'c', 'y']) expect(t.get(n)!.type).toBe('float32');
    const names = sg.operators.map((o) => `${model.operatorCodes[o.opcodeIndex]!.builtin}/${model.operatorCodes[o.opcodeIndex]!.version}(${o.inputs.map((i) => sg.tensors[i]!.name).join(',')})`);
    expect(names).toEqual(['CONV_2D/2(x,wc,bc)', 'DEQUANTIZE/2(wd)', 'DEPTHWISE_CONV_2D/1(c,wd_dequantize,bd)', 'RESHAPE/1(d,shape)', 'FULLY_CONNECTED/3(r,wf,bf)']);
    // below the 1024-element threshold nothing changes
    const small = quantizeWeights(net(), { minElements: 5000 }).model;
    expect(small.subgraphs[0]!.tensors.every((x) => x.type !== 'int8')).toBe(true);
  });

  it('scale = max|w|/127 and q = round(w·127/max|w|), in float32', () => {
    const { values, scale } = symmetricQuantizeFloats(Float32Array.from([-0.5, 0.25, 1, -1, 0.00393]));
    expect(scale).toBe(Math.fround(1 / 127));
    expect(values).toEqual([-64, 32, 127, -127, 0]);
    expect(symmetricQuantizeFloats(new Float32Array(3))).toEqual({ values: [0, 0, 0], scale: 1 });
  });

  it('runs in LiteRT.js (hybrid kernels) within 2% of the float model', async () => {
    const float = net();
    const { model } = quantizeWeights(net());
    const a = await loadTfliteRunner(writeTflite(float), { file: 'float.tflite' });
    const b = await loadTfliteRunner(writeTflite(model), { file: 'weights-int8.tflite' });
    const rnd = seededRandom(4);
    let err = 0;
    let mag = 0;
    for (let k = 0; k < 10; k++) {
      // inputs uniform in [−1, 1], seed 4
      const x = Float32Array.from({ length: 512 }, () => rnd() * 2 - 1);
      const ya = (await a.run({ x })).y as Float32Array;
      const yb = (await b.run({ x })).y as Float32Array;
      ya.forEach((v, i) => ((err = Math.max(err, Math.abs(yb[i]! - v))), (mag = Math.max(mag, Math.abs(v)))));
    }
    a.close();
    b.close();
    expect(err).toBeGreaterThan(0); // the weights did change
    expect(err / mag).toBeLessThan(0.02);
  });
});
