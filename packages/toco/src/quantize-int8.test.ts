import { describe, expect, it } from 'vitest';
import { writeTflite, type Model, type Tensor } from '@tfpass/tflite';
import { loadTfliteRunner } from '../../tflite/src/runtime.js';
import { runReference } from '../../tflite/src/reference/interpreter.js';
import { seededRandom } from '../../tflite/src/reference/random.js';
import type { LoweredModel } from './lowered.js';
import { quantizeLowered } from './quantize.js';
import { tinyModel, type TinySpec } from './quant/testing.js';

const f32 = Math.fround;

function byName(m: Model): Map<string, Tensor> {
  return new Map(m.subgraphs[0]!.tensors.map((t) => [t.name, t]));
}
function dataOf(m: Model, t: Tensor): Int8Array | Int32Array {
  const d = m.buffers[t.buffer]!.data!.slice();
  return t.type === 'int32' ? new Int32Array(d.buffer) : new Int8Array(d.buffer);
}

const conv = { type: 'Conv2DOptions', padding: 'SAME', strideW: 1, strideH: 1, fusedActivationFunction: 'NONE', dilationWFactor: 1, dilationHFactor: 1 };
const dw = { type: 'DepthwiseConv2DOptions', padding: 'SAME', strideW: 1, strideH: 1, depthMultiplier: 1, fusedActivationFunction: 'RELU6', dilationWFactor: 1, dilationHFactor: 1 };

/**
 * x[1,6,6,2] → CONV_2D (w OHWI [4,3,3,2], per-channel symmetric ranges) → c[1,6,6,4] →
 * DEPTHWISE (w [1,3,3,4], per-tensor asymmetric range) + RELU6 → d → RESHAPE → r[1,144] →
 * FULLY_CONNECTED (w [3,144], no FakeQuant) → y[1,3] → SOFTMAX → p.
 * Weights: uniform in ±0.5 (seed 5); biases uniform in ±0.2.
 */
function smallNet(): { spec: TinySpec; l: LoweredModel } {
  const rnd = seededRandom(5);
  const u = (n: number, a: number) => Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * a);
  const wc = u(4 * 3 * 3 * 2, 0.5);
  const perChannel = { min: [0, 1, 2, 3].map((c) => -Math.max(...Array.from(wc.subarray(c * 18, c * 18 + 18), Math.abs))), max: [] as number[], axis: 0 };
  perChannel.max = perChannel.min.map((m) => -m);
  const spec: TinySpec = {
    tensors: [
      { name: 'x', shape: [1, 6, 6, 2] },
      { name: 'wc', shape: [4, 3, 3, 2], float: wc },
      { name: 'bc', shape: [4], float: u(4, 0.2) },
      { name: 'c', shape: [1, 6, 6, 4] },
      { name: 'wd', shape: [1, 3, 3, 4], float: u(36, 0.5) },
      { name: 'bd', shape: [4], float: u(4, 0.2) },
      { name: 'd', shape: [1, 6, 6, 4] },
      { name: 'shape', shape: [2], int32: [1, 144] },
      { name: 'r', shape: [1, 144] },
      { name: 'wf', shape: [3, 144], float: u(3 * 144, 0.2) },
      { name: 'bf', shape: [3], float: u(3, 0.2) },
      { name: 'y', shape: [1, 3] },
      { name: 'p', shape: [1, 3] },
    ],
    ops: [
      { op: 'CONV_2D', inputs: [0, 1, 2], outputs: [3], options: conv },
      { op: 'DEPTHWISE_CONV_2D', inputs: [3, 4, 5], outputs: [6], options: dw },
      { op: 'RESHAPE', inputs: [6, 7], outputs: [8], options: { type: 'ReshapeOptions', newShape: [1, 144] } },
      { op: 'FULLY_CONNECTED', inputs: [8, 9, 10], outputs: [11], options: { type: 'FullyConnectedOptions', fusedActivationFunction: 'NONE', weightsFormat: 'DEFAULT', keepNumDims: false } },
      { op: 'SOFTMAX', inputs: [11], outputs: [12], options: { type: 'SoftmaxOptions', beta: 1 } },
    ],
    inputs: [0],
    outputs: [12],
    ranges: {
      0: [-1, 1],
      1: { min: -0.5, max: 0.5, numBits: 8, narrowRange: true, perChannel, source: 'wc/FakeQuantWithMinMaxVarsPerChannel' },
      3: [-3, 3],
      4: { min: -0.4, max: 0.5, numBits: 8, narrowRange: true, source: 'wd/FakeQuantWithMinMaxVars' },
      6: [0, 6],
      11: [-4, 4],
    },
    roles: { 1: 'weights', 2: 'bias', 4: 'weights', 5: 'bias', 9: 'weights', 10: 'bias' },
  };
  return { spec, l: tinyModel(spec) };
}

/** LiteRT.js compiles the model (every produced model must load). */
async function loads(model: Model): Promise<void> {
  const r = await loadTfliteRunner(writeTflite(model), { file: 'rule.tflite' });
  expect(r.outputs.length).toBeGreaterThan(0);
  r.close();
}

describe('int8 full-integer on a small conv/depthwise/FC net', () => {
  it('symmetric per-channel weights (axis 0 conv, 3 depthwise), int32 biases with s_in·s_w[c], fixed softmax, op versions', () => {
    const { spec, l } = smallNet();
    const { model, notes } = quantizeLowered(l, { inferenceType: 'int8' });
    const t = byName(model);
    const wc = t.get('wc')!;
    expect(wc.type).toBe('int8');
    expect(wc.quantization!.quantizedDimension ?? 0).toBe(0);
    expect(wc.quantization!.zeroPoint).toEqual([0, 0, 0, 0]);
    const pc = (l.ranges.get(1)!.perChannel!);
    wc.quantization!.scale!.forEach((s, c) => expect(s).toBe(f32(pc.max[c]! / 127)));
    const q = dataOf(model, wc);
    expect(Math.min(...q)).toBeGreaterThanOrEqual(-127);
    expect(Math.max(...q)).toBe(127); // each channel's largest |w| is its range
    // depthwise: the asymmetric per-tensor range [−0.4, 0.5] becomes symmetric 0.5/127, with a note
    const wd = t.get('wd')!;
    expect(wd.quantization!.scale).toEqual([f32(0.5 / 127)]);
    expect(wd.quantization!.zeroPoint).toEqual([0]);
    expect(notes.some((n) => /weights wd: asymmetric FakeQuant range re-derived as symmetric .*largest change of a weight: [0-9.e-]+ \([0-9.]+ LSB/.test(n.message))).toBe(true);
    // FC without FakeQuant: per-tensor from its data
    expect(t.get('wf')!.quantization!.scale!.length).toBe(1);
    // biases: int32, zp 0, scale s_in·s_w[c], value round(b/scale)
    const sIn = (1 - -1) / 255;
    const bc = t.get('bc')!;
    expect(bc.type).toBe('int32');
    bc.quantization!.scale!.forEach((s, c) => expect(Math.abs(s - f32(sIn * (pc.max[c]! / 127))) / s).toBeLessThan(1e-6));
    const bq = dataOf(model, bc);
    const bFloat = spec.tensors[2]!.float!;
    bq.forEach((v, c) => expect(v).toBe(Math.round(bFloat[c]! / (sIn * (pc.max[c]! / 127)))));
    expect(t.get('p')!.type).toBe('float32'); // float I/O by default
    expect(t.get('p_int8')!.quantization).toMatchObject({ scale: [1 / 256], zeroPoint: [-128] });
    // RESHAPE shares its input's params
    expect(t.get('r')!.quantization).toEqual(t.get('d')!.quantization);
    const versions = Object.fromEntries(model.operatorCodes.map((c) => [c.builtin, c.version]));
    expect(versions).toEqual({ QUANTIZE: 2, CONV_2D: 3, DEPTHWISE_CONV_2D: 3, RESHAPE: 1, FULLY_CONNECTED: 4, SOFTMAX: 2, DEQUANTIZE: 2 });
    const sg = model.subgraphs[0]!;
    expect(sg.operators.map((o) => model.operatorCodes[o.opcodeIndex]!.builtin)).toEqual(['QUANTIZE', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'RESHAPE', 'FULLY_CONNECTED', 'SOFTMAX', 'DEQUANTIZE']);
  });

  it('runs in LiteRT.js: within 1 LSB of the reference kernels, and close to the float model', async () => {
    const { l } = smallNet();
    const { model } = quantizeLowered(l, { inferenceType: 'int8' });
    const int8 = await loadTfliteRunner(writeTflite(model), { file: 'small-int8.tflite' });
    const float = await loadTfliteRunner(writeTflite(l.model), { file: 'small-float.tflite' });
    const rnd = seededRandom(11);
    let maxVsRef = 0;
    let maxVsFloat = 0;
    for (let k = 0; k < 50; k++) {
      // inputs uniform in [−1, 1] (the input range), seed 11
      const x = Float32Array.from({ length: 72 }, () => rnd() * 2 - 1);
      const a = (await int8.run({ x })).p as Float32Array;
      const ref = runReference(model, { x }).outputs.p as Float32Array;
      const fl = (await float.run({ x })).p as Float32Array;
      a.forEach((v, i) => {
        maxVsRef = Math.max(maxVsRef, Math.abs(v - ref[i]!));
        maxVsFloat = Math.max(maxVsFloat, Math.abs(v - fl[i]!));
      });
    }
    int8.close();
    float.close();
    expect(maxVsRef).toBeLessThanOrEqual(1 / 256 + 1e-7); // softmax output: 1 LSB = 1/256
    expect(maxVsFloat).toBeLessThan(0.05); // probabilities within 5 points of float
  });

  it('uint8 I/O: uint8 tensors with zp + 128 behind requantizing QUANTIZE ops; loads in LiteRT.js', async () => {
    const { l } = smallNet();
    const { model } = quantizeLowered(l, { inferenceType: 'int8', inferenceInputType: 'uint8', inferenceOutputType: 'uint8' });
    const t = byName(model);
    expect(t.get('x')!.type).toBe('uint8');
    expect(t.get('x')!.quantization!.zeroPoint).toEqual([t.get('x_int8')!.quantization!.zeroPoint![0]! + 128]);
    expect(t.get('x')!.quantization!.scale).toEqual(t.get('x_int8')!.quantization!.scale);
    expect(t.get('p')!.quantization).toMatchObject({ scale: [1 / 256], zeroPoint: [0] });
    const r = await loadTfliteRunner(writeTflite(model), { file: 'small-u8io.tflite' });
    expect(r.inputs[0]!.dtype).toBe('uint8');
    const out = (await r.run({ x: new Uint8Array(72).fill(200) })).p as Uint8Array;
    expect(out.reduce((a, b) => a + b, 0)).toBeGreaterThan(240); // probabilities sum to ~256/256
    r.close();
    // int8 I/O: no boundary ops at all
    const i8 = quantizeLowered(smallNet().l, { inferenceType: 'int8', inferenceInputType: 'int8', inferenceOutputType: 'int8' }).model;
    expect(i8.operatorCodes.map((c) => c.builtin)).not.toContain('QUANTIZE');
    expect(byName(i8).get('x')!.type).toBe('int8');
  });

  it('input params from mean/std use the int8 range: min = (−128 − mean)/std', () => {
    const { l } = smallNet();
    l.ranges.delete(0);
    const { model } = quantizeLowered(l, { inferenceType: 'int8', meanValues: [-0.5], stdValues: [127.5] });
    const q = byName(model).get('x_int8')!.quantization!;
    expect(q.scale![0]).toBeCloseTo(((127 + 0.5) / 127.5 - (-128 + 0.5) / 127.5) / 255, 7);
  });
});

describe('int8 same-scale and requantize rules', () => {
  it('CONCATENATION inputs with other params get a requantizing QUANTIZE; MAX_POOL shares, and requantizes to its own FakeQuant range', async () => {
    const pool = { type: 'Pool2DOptions', padding: 'VALID', strideW: 2, strideH: 2, filterWidth: 2, filterHeight: 2, fusedActivationFunction: 'NONE' };
    const l = tinyModel({
      tensors: [
        { name: 'a', shape: [1, 4, 4, 2] },
        { name: 'b', shape: [1, 4, 4, 2] },
        { name: 'c', shape: [1, 4, 4, 4] },
        { name: 'm', shape: [1, 2, 2, 4] },
      ],
      ops: [
        { op: 'CONCATENATION', inputs: [0, 1], outputs: [2], options: { type: 'ConcatenationOptions', axis: 3, fusedActivationFunction: 'NONE' } },
        { op: 'MAX_POOL_2D', inputs: [2], outputs: [3], options: pool },
      ],
      inputs: [0, 1],
      outputs: [3],
      ranges: { 0: [-1, 1], 1: [-2, 2], 2: [-2, 2], 3: [-1.5, 1.5] },
    });
    const { model } = quantizeLowered(l, { inferenceType: 'int8' });
    const sg = model.subgraphs[0]!;
    const ops = sg.operators.map((o) => `${model.operatorCodes[o.opcodeIndex]!.builtin}(${o.inputs.map((i) => sg.tensors[i]!.name).join(',')})`);
    // a's params differ from the concat's: requantized; b's match: used as is
    expect(ops).toContain('QUANTIZE(a_int8)');
    expect(ops.filter((o) => o.startsWith('QUANTIZE(b_int8)'))).toEqual([]);
    const t = byName(model);
    const cat = sg.operators.find((o) => model.operatorCodes[o.opcodeIndex]!.builtin === 'CONCATENATION')!;
    for (const i of [...cat.inputs, ...cat.outputs]) expect(sg.tensors[i]!.quantization).toEqual(t.get('c')!.quantization);
    // MAX_POOL writes the concat's params, then a QUANTIZE moves to m's own range [−1.5, 1.5]
    const mp = sg.operators.find((o) => model.operatorCodes[o.opcodeIndex]!.builtin === 'MAX_POOL_2D')!;
    expect(sg.tensors[mp.outputs[0]!]!.quantization).toEqual(t.get('c')!.quantization);
    expect(t.get('m_int8')!.quantization!.scale![0]).toBeCloseTo(3 / 255, 7);
    const r = await loadTfliteRunner(writeTflite(model), { file: 'concat.tflite' });
    const rnd = seededRandom(3);
    // a uniform in [−1, 1], b uniform in [−2, 2], seed 3
    const a = Float32Array.from({ length: 32 }, () => rnd() * 2 - 1);
    const b = Float32Array.from({ length: 32 }, () => rnd() * 4 - 2);
    const out = (await r.run({ a, b })).m as Float32Array;
    // float reference: max over 2x2 windows of concat(a, b), clamped to m's range
    const cv = (y: number, x: number, ch: number) => (ch < 2 ? a[(y * 4 + x) * 2 + ch]! : b[(y * 4 + x) * 2 + ch - 2]!);
    let worst = 0;
    for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) for (let ch = 0; ch < 4; ch++) {
      const m = Math.max(cv(2 * y, 2 * x, ch), cv(2 * y + 1, 2 * x, ch), cv(2 * y, 2 * x + 1, ch), cv(2 * y + 1, 2 * x + 1, ch));
      worst = Math.max(worst, Math.abs(out[(y * 2 + x) * 4 + ch]! - Math.min(1.5, Math.max(-1.5, m))));
    }
    r.close();
    // three roundings at most: a's input grid (2/255; b's is 4/255), the concat's (4/255), m's (3/255)
    expect(worst).toBeLessThanOrEqual((2 / 255 + 4 / 255 + 3 / 255) / 2 + 1e-6);
    expect(worst).toBeGreaterThan(0);
  });

  it('a missing activation range is reported with TOCO\'s wording; default ranges fill it', async () => {
    const { spec } = smallNet();
    const l = tinyModel({ ...spec, ranges: Object.fromEntries(Object.entries(spec.ranges!).filter(([k]) => k !== '3' && k !== '11')) });
    expect(() => quantizeLowered(l, { inferenceType: 'int8' })).toThrow(/Array c, which is an input to the DEPTHWISE_CONV_2D operator producing the output array d, is lacking min\/max data[^]*Array y, which is an input to the SOFTMAX operator/);
    const { model } = quantizeLowered(l, { inferenceType: 'int8', defaultRanges: { min: -6, max: 6 } });
    expect(byName(model).get('c')!.quantization!.scale![0]).toBeCloseTo(12 / 255, 7);
    await loads(model);
  });

  it('--ranges: a float graph without FakeQuants, ranges by TF tensor name (`node` or `node:0`)', async () => {
    const { spec } = smallNet();
    const l = tinyModel({ ...spec, ranges: {} });
    const { model } = quantizeLowered(l, { inferenceType: 'int8', rangesFromFile: { x: { min: -1, max: 1 }, 'c:0': { min: -3, max: 3 }, d: { min: 0, max: 6 }, y: { min: [-4], max: [4] } } });
    const t = byName(model);
    expect(t.get('c')!.quantization!.scale![0]).toBeCloseTo(6 / 255, 7);
    // weights without FakeQuant: per-channel symmetric from the data (conv axis 0, depthwise axis 3)
    expect(t.get('wc')!.quantization!.scale!.length).toBe(4);
    expect(t.get('wd')!.quantization!.scale!.length).toBe(4);
    expect(t.get('wd')!.quantization!.quantizedDimension).toBe(3);
    await loads(model);
  });
});

describe('int8 bias edge cases', () => {
  it('a near-dead channel (weights ~1e-14 after BN folding) keeps its bias: the weight scale is raised so the bias fits int32', async () => {
    // 1x1 conv, 2 output channels: channel 0 ordinary, channel 1 weights 1e-14 with bias 0.25.
    const w = Float32Array.from([0.5, -0.25, 1e-14, -1e-14]);
    const l = tinyModel({
      tensors: [
        { name: 'x', shape: [1, 2, 2, 2] },
        { name: 'w', shape: [2, 1, 1, 2], float: w },
        { name: 'b', shape: [2], float: Float32Array.from([0.1, 0.25]) },
        { name: 'y', shape: [1, 2, 2, 2] },
      ],
      ops: [{ op: 'CONV_2D', inputs: [0, 1, 2], outputs: [3], options: conv }],
      inputs: [0],
      outputs: [3],
      ranges: {
        0: [-1, 1],
        1: { min: -0.5, max: 0.5, numBits: 8, narrowRange: true, perChannel: { min: [-0.5, -1e-14], max: [0.5, 1e-14], axis: 0 }, source: 'w/FakeQuantWithMinMaxVarsPerChannel' },
        3: [-1, 1],
      },
      roles: { 1: 'weights', 2: 'bias' },
    });
    const { model, notes } = quantizeLowered(l, { inferenceType: 'int8' });
    const b = byName(model).get('b')!;
    const bq = dataOf(model, b);
    expect(Math.abs(bq[1]!)).toBeLessThan(2 ** 31 - 1);
    expect(bq[1]! * b.quantization!.scale![1]!).toBeCloseTo(0.25, 6);
    expect(notes.some((n) => /weights w: 1 channel scale\(s\) raised so their bias fits int32/.test(n.message))).toBe(true);
    const r = await loadTfliteRunner(writeTflite(model), { file: 'dead-channel.tflite' });
    // x uniform in [−1, 1], seed 2: channel 1 of y is the bias alone
    const rnd = seededRandom(2);
    const x = Float32Array.from({ length: 8 }, () => rnd() * 2 - 1);
    const y = (await r.run({ x })).y as Float32Array;
    r.close();
    for (let p = 0; p < 4; p++) {
      expect(Math.abs(y[p * 2 + 1]! - 0.25)).toBeLessThanOrEqual(1 / 255 + 1e-6);
      expect(Math.abs(y[p * 2]! - (0.5 * x[p * 2]! - 0.25 * x[p * 2 + 1]! + 0.1))).toBeLessThanOrEqual(2 / 255);
    }
  });
});

describe('int8 op versions follow the options (spec §2.4 int8 column)', () => {
  it.each([
    [{ keepNumDims: false }, true, 4],
    [{ keepNumDims: true }, true, 5],
    [{ keepNumDims: false }, false, 6],
  ])('FULLY_CONNECTED %o, bias %s → version %i', async (opts, withBias, version) => {
    const rnd = seededRandom(8);
    const l = tinyModel({
      tensors: [
        { name: 'x', shape: [1, 4] },
        { name: 'w', shape: [2, 4], float: Float32Array.from({ length: 8 }, () => rnd() - 0.5) },
        { name: 'b', shape: [2], float: Float32Array.from([0.1, -0.1]) },
        { name: 'y', shape: [1, 2] },
      ],
      ops: [{ op: 'FULLY_CONNECTED', inputs: withBias ? [0, 1, 2] : [0, 1, -1], outputs: [3], options: { type: 'FullyConnectedOptions', fusedActivationFunction: 'NONE', weightsFormat: 'DEFAULT', ...opts } }],
      inputs: [0],
      outputs: [3],
      ranges: { 0: [-1, 1], 3: [-2, 2] },
    });
    const { model } = quantizeLowered(l, { inferenceType: 'int8' });
    expect(model.operatorCodes.find((c) => c.builtin === 'FULLY_CONNECTED')!.version).toBe(version);
    await loads(model);
  });
});
