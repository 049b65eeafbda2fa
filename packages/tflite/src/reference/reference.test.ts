/**
 * The reference kernels against LiteRT.js (XNNPACK): a TOCO file and hand-built int8 per-channel
 * models written by our writer. Spec §4.3: the two are not bit-identical by design, so the
 * check is ≤ 1 LSB everywhere, and the exact-match counts are printed (and bounded below).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { modelPath } from '../../../core/src/testing.js';
import type { Model, Operator, Tensor } from '../model.js';
import { readTflite } from '../read.js';
import { writeTflite } from '../write.js';
import { loadTfliteRunner } from '../runtime.js';
import { runReference, type RefArray } from './interpreter.js';
import { seededRandom } from './random.js';

const mnist = createRequire(import.meta.url)('mnist') as Record<number, { get(i: number): number[] }>;

/** Element-wise |a − b| in storage units (= LSB of the tensor's scale). */
function lsbCounts(a: ArrayLike<number>, b: ArrayLike<number>): { n: number; exact: number; off1: number; worst: number } {
  let exact = 0;
  let off1 = 0;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d === 0) exact++;
    else if (d <= 1) off1++;
    worst = Math.max(worst, d);
  }
  return { n: a.length, exact, off1, worst };
}

const tinyConv = modelPath('speech-tiny-conv-qat/tiny_conv.tflite');

describe.skipIf(!tinyConv)('reference kernels vs LiteRT.js on tiny_conv.tflite (uint8 DW → FC → SOFTMAX)', () => {
  it('agree within 1 LSB on ≥ 99 % of the logits and of the softmax outputs', async () => {
    const bytes = new Uint8Array(readFileSync(tinyConv!));
    const model = readTflite(bytes, { file: 'tiny_conv.tflite' });
    // A copy that also outputs the FC result `add_1` (pre-softmax), so DW+FC are checked directly.
    const sg = model.subgraphs[0]!;
    const logits = sg.tensors.findIndex((t) => t.name === 'add_1');
    const both: Model = { ...model, subgraphs: [{ ...sg, outputs: [...sg.outputs, logits] }] };
    const runner = await loadTfliteRunner(writeTflite(both), { file: 'tiny_conv+logits' });
    const rnd = seededRandom(11);
    const softmaxOnly: Model = { ...model, subgraphs: [{ ...sg, inputs: [logits], operators: sg.operators.slice(2) }] };
    const softmaxOnLiteLogits = { n: 0, exact: 0, worst: 0 };
    const totals = { logits: { n: 0, exact: 0, off1: 0, worst: 0 }, softmax: { n: 0, exact: 0, off1: 0, worst: 0 } };
    for (let k = 0; k < 100; k++) {
      // Inputs: uint8 uniform over [0, 255] (real values [0, 26.0]), seed 11, 100 draws.
      const x = Uint8Array.from({ length: 98 * 40 }, () => Math.floor(rnd() * 256));
      const lite = await runner.run({ Reshape_2: x });
      const ref = runReference(both, { Reshape_2: x }).outputs;
      const sm = runReference(softmaxOnly, { add_1: lite.add_1 as Uint8Array }).outputs.labels_softmax as Uint8Array;
      const c = lsbCounts(sm, lite.labels_softmax as Uint8Array);
      softmaxOnLiteLogits.n += c.n;
      softmaxOnLiteLogits.exact += c.exact;
      softmaxOnLiteLogits.worst = Math.max(softmaxOnLiteLogits.worst, c.worst);
      for (const [key, name] of [['logits', 'add_1'], ['softmax', 'labels_softmax']] as const) {
        const c = lsbCounts(ref[name] as Uint8Array, lite[name] as Uint8Array);
        const t = totals[key];
        t.n += c.n;
        t.exact += c.exact;
        t.off1 += c.off1;
        t.worst = Math.max(t.worst, c.worst);
      }
    }
    runner.close();
    console.log(`tiny_conv reference vs LiteRT.js: logits ${JSON.stringify(totals.logits)}, softmax ${JSON.stringify(totals.softmax)}, softmax on LiteRT's logits ${JSON.stringify(softmaxOnLiteLogits)}`);
    for (const t of Object.values(totals)) {
      expect(t.n).toBe(600);
      expect((t.exact + t.off1) / t.n).toBeGreaterThanOrEqual(0.99);
    }
    expect(totals.logits.worst).toBeLessThanOrEqual(1);
    // Softmax amplifies: one logit LSB (0.214) moves a probability by up to 0.214·p(1−p)·256 ≈ 13
    // LSB. Op by op, on LiteRT's own logits, the softmax kernels agree within 1 LSB.
    expect(softmaxOnLiteLogits.worst).toBeLessThanOrEqual(1);
    // The FC logits run on the same integer formulas in both: most are bit-identical.
    expect(totals.logits.exact / totals.logits.n).toBeGreaterThan(0.9);
  });
});

// ---- hand-built int8 per-channel models ----------------------------------------------------

/** A little IR builder: constants get their own buffer, activations share buffer 0. */
class Builder {
  readonly tensors: Tensor[] = [];
  readonly operators: Operator[] = [];
  readonly buffers: { data?: Uint8Array }[] = [{}];
  readonly codes: { builtin: string; version: number }[] = [];
  tensor(name: string, type: Tensor['type'], shape: number[], q?: { scale: number[]; zeroPoint: number[]; dim?: number }, data?: ArrayBufferView): number {
    let buffer = 0;
    if (data) buffer = this.buffers.push({ data: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) }) - 1;
    const quantization = q ? { scale: q.scale.map(Math.fround), zeroPoint: q.zeroPoint, quantizedDimension: q.dim ?? 0 } : undefined;
    return this.tensors.push({ name, type, shape, buffer, quantization }) - 1;
  }
  op(builtin: string, version: number, inputs: number[], outputs: number[], builtinOptions?: Operator['builtinOptions']): void {
    let i = this.codes.findIndex((c) => c.builtin === builtin && c.version === version);
    if (i < 0) i = this.codes.push({ builtin, version }) - 1;
    this.operators.push({ opcodeIndex: i, inputs, outputs, builtinOptions });
  }
  model(inputs: number[], outputs: number[]): Model {
    return {
      version: 3,
      operatorCodes: this.codes,
      subgraphs: [{ tensors: this.tensors, inputs, outputs, operators: this.operators, name: 'main' }],
      description: 'tfpass test model',
      buffers: this.buffers,
      metadata: [],
      signatureDefs: [],
    };
  }
}

/** Symmetric int8 weights in [−127, 127] with per-channel scales spread over a decade. */
function weights(rnd: () => number, count: number, channels: number, channelOf: (i: number) => number, base: number) {
  const q = Int8Array.from({ length: count }, () => Math.round((rnd() * 2 - 1) * 127));
  const scale = Array.from({ length: channels }, (_, c) => Math.fround(base * (1 + (9 * c) / Math.max(1, channels - 1))));
  const real = Float64Array.from(q, (v, i) => v * scale[channelOf(i)]!);
  return { q, scale, real };
}

/** Input: an MNIST digit, pixels in [0, 1] (the `mnist` package's 10 classes, sample `i`). */
const digit = (d: number, i: number) => Float32Array.from(mnist[d]!.get(i));

/** Float in → QUANTIZE → CONV_2D (per-channel, RELU) → DEPTHWISE_CONV_2D (per-channel, ×2) → DEQUANTIZE → float out. */
function convModel(seed: number): Model {
  const rnd = seededRandom(seed);
  const b = new Builder();
  const sIn = 1 / 255;
  const x = b.tensor('image', 'float32', [1, 28, 28, 1]);
  const xq = b.tensor('image_q', 'int8', [1, 28, 28, 1], { scale: [sIn], zeroPoint: [-128] });
  const w1 = weights(rnd, 8 * 3 * 3 * 1, 8, (i) => Math.floor(i / 9), 0.004);
  const b1 = Int32Array.from({ length: 8 }, (_, c) => Math.round(((rnd() - 0.5) * 0.2) / (sIn * w1.scale[c]!)));
  const w1t = b.tensor('conv/w', 'int8', [8, 3, 3, 1], { scale: w1.scale, zeroPoint: Array(8).fill(0), dim: 0 }, w1.q);
  const b1t = b.tensor('conv/b', 'int32', [8], { scale: w1.scale.map((s) => sIn * s), zeroPoint: Array(8).fill(0), dim: 0 }, b1);
  // Output scales keep each layer's gain per input LSB ≤ 1 (max |w|·s_w·s_in/s_out), so one
  // legitimate 1-LSB difference upstream cannot grow into several downstream.
  const s1 = 0.1;
  const y1 = b.tensor('conv/relu', 'int8', [1, 28, 28, 8], { scale: [s1], zeroPoint: [-128] });
  const w2 = weights(rnd, 3 * 3 * 16, 16, (i) => i % 16, 0.001);
  const b2 = Int32Array.from({ length: 16 }, (_, c) => Math.round(((rnd() - 0.5) * 0.2) / (s1 * w2.scale[c]!)));
  const w2t = b.tensor('dw/w', 'int8', [1, 3, 3, 16], { scale: w2.scale, zeroPoint: Array(16).fill(0), dim: 3 }, w2.q);
  const b2t = b.tensor('dw/b', 'int32', [16], { scale: w2.scale.map((s) => s1 * s), zeroPoint: Array(16).fill(0), dim: 0 }, b2);
  const s2 = 0.15;
  const y2 = b.tensor('dw/out', 'int8', [1, 13, 13, 16], { scale: [s2], zeroPoint: [3] });
  const out = b.tensor('features', 'float32', [1, 13, 13, 16]);
  b.op('QUANTIZE', 1, [x], [xq]);
  b.op('CONV_2D', 3, [xq, w1t, b1t], [y1], { type: 'Conv2DOptions', padding: 'SAME', strideW: 1, strideH: 1, fusedActivationFunction: 'RELU', dilationWFactor: 1, dilationHFactor: 1 });
  b.op('DEPTHWISE_CONV_2D', 3, [y1, w2t, b2t], [y2], { type: 'DepthwiseConv2DOptions', padding: 'VALID', strideW: 2, strideH: 2, depthMultiplier: 2, fusedActivationFunction: 'NONE', dilationWFactor: 1, dilationHFactor: 1 });
  b.op('DEQUANTIZE', 2, [y2], [out]);
  return b.model([x], [out]);
}

/** Float in [1,784] → QUANTIZE → FULLY_CONNECTED (per-channel) → DEQUANTIZE, plus an int8 SOFTMAX output. */
function fcModel(seed: number): Model {
  const rnd = seededRandom(seed);
  const b = new Builder();
  const sIn = 1 / 255;
  const x = b.tensor('pixels', 'float32', [1, 784]);
  const xq = b.tensor('pixels_q', 'int8', [1, 784], { scale: [sIn], zeroPoint: [-128] });
  const w = weights(rnd, 10 * 784, 10, (i) => Math.floor(i / 784), 0.004);
  const bias = Int32Array.from({ length: 10 }, (_, c) => Math.round((rnd() - 0.5) / (sIn * w.scale[c]!)));
  const wt = b.tensor('fc/w', 'int8', [10, 784], { scale: w.scale, zeroPoint: Array(10).fill(0), dim: 0 }, w.q);
  const bt = b.tensor('fc/b', 'int32', [10], { scale: w.scale.map((s) => sIn * s), zeroPoint: Array(10).fill(0), dim: 0 }, bias);
  const sOut = 0.05;
  const y = b.tensor('fc/out', 'int8', [1, 10], { scale: [sOut], zeroPoint: [-5] });
  const p = b.tensor('probs_q', 'int8', [1, 10], { scale: [1 / 256], zeroPoint: [-128] });
  const logits = b.tensor('logits', 'float32', [1, 10]);
  const probs = b.tensor('probs', 'float32', [1, 10]);
  b.op('QUANTIZE', 1, [x], [xq]);
  b.op('FULLY_CONNECTED', 4, [xq, wt, bt], [y], { type: 'FullyConnectedOptions', fusedActivationFunction: 'NONE', weightsFormat: 'DEFAULT', keepNumDims: false, asymmetricQuantizeInputs: false });
  b.op('SOFTMAX', 2, [y], [p], { type: 'SoftmaxOptions', beta: 1 });
  b.op('DEQUANTIZE', 2, [y], [logits]);
  b.op('DEQUANTIZE', 2, [p], [probs]);
  return b.model([x], [logits, probs]);
}

/** Run both on MNIST digits; compare the float outputs in LSB of the int8 tensor they dequantize. */
async function compareOnDigits(model: Model, input: string, outputs: Record<string, number>, samples: number, reshape: (v: Float32Array) => Float32Array) {
  const bytes = writeTflite(model);
  const runner = await loadTfliteRunner(bytes, { file: 'hand-built.tflite' });
  // Written and read back: the runner and the reference see the same decoded model.
  const back = readTflite(bytes);
  const stats: Record<string, { n: number; exact: number; off1: number; worst: number; distinct: Map<number, number> }> = {};
  for (let s = 0; s < samples; s++) {
    const feed = { [input]: reshape(digit(s % 10, Math.floor(s / 10))) };
    const lite = await runner.run(feed);
    const ref = runReference(back, feed as Record<string, RefArray>).outputs;
    for (const [name, scale] of Object.entries(outputs)) {
      const a = Array.from(ref[name] as Float32Array, (v) => Math.round(v / scale));
      const b = Array.from(lite[name] as Float32Array, (v) => Math.round(v / scale));
      const c = lsbCounts(a, b);
      const t = (stats[name] ??= { n: 0, exact: 0, off1: 0, worst: 0, distinct: new Map() });
      t.n += c.n;
      t.exact += c.exact;
      t.off1 += c.off1;
      t.worst = Math.max(t.worst, c.worst);
      for (const v of a) t.distinct.set(v, (t.distinct.get(v) ?? 0) + 1);
    }
  }
  runner.close();
  return stats;
}

describe('hand-built int8 per-channel models: LiteRT.js vs the reference kernels', () => {
  it('QUANTIZE → CONV_2D (per-channel, RELU) → DEPTHWISE_CONV_2D (per-channel, ×2, stride 2) → DEQUANTIZE: within 1 LSB', async () => {
    const stats = await compareOnDigits(convModel(5), 'image', { features: 0.15 }, 20, (v) => v);
    const f = stats.features!;
    console.log(`conv+depthwise on 20 MNIST digits: ${f.n} values, ${f.exact} exact, ${f.off1} off by 1, worst ${f.worst} LSB, ${f.distinct.size} distinct`);
    expect(f.n).toBe(20 * 13 * 13 * 16);
    expect(f.worst).toBeLessThanOrEqual(1);
    // The outputs span the int8 range: many distinct values. About half see only blank MNIST
    // background (bias → RELU → bias: one value); no value takes more than that.
    expect(f.distinct.size).toBeGreaterThan(100);
    expect(Math.max(...f.distinct.values()) / f.n).toBeLessThan(0.6);
  });

  it('QUANTIZE → FULLY_CONNECTED (per-channel) → SOFTMAX/DEQUANTIZE: within 1 LSB', async () => {
    const stats = await compareOnDigits(fcModel(9), 'pixels', { logits: 0.05, probs: 1 / 256 }, 50, (v) => v);
    for (const [name, t] of Object.entries(stats)) {
      console.log(`fc ${name} on 50 MNIST digits: ${t.n} values, ${t.exact} exact, ${t.off1} off by 1, worst ${t.worst} LSB, ${t.distinct.size} distinct`);
      expect(t.n).toBe(500);
      expect(t.worst).toBeLessThanOrEqual(1);
      expect(t.distinct.size).toBeGreaterThan(20);
    }
  });

  it('an int8-I/O model runs through the uint8 rewrite with the same values as the reference', async () => {
    // The conv model without its QUANTIZE/DEQUANTIZE: int8 in, int8 out.
    const m = convModel(5);
    const sg = m.subgraphs[0]!;
    const inner: Model = { ...m, subgraphs: [{ ...sg, inputs: [1], outputs: [7], operators: sg.operators.slice(1, 3) }] };
    const runner = await loadTfliteRunner(writeTflite(inner), { file: 'int8-io.tflite' });
    expect(runner.int8Shifted).toBe(true);
    expect(runner.inputs[0]).toMatchObject({ name: 'image_q', dtype: 'int8' });
    expect(runner.outputs[0]).toMatchObject({ name: 'dw/out', dtype: 'int8' });
    const x = Int8Array.from(digit(3, 0), (v) => Math.max(-128, Math.min(127, Math.round(v * 255) - 128)));
    const lite = (await runner.run({ image_q: x }))['dw/out'] as Int8Array;
    const ref = runReference(inner, { image_q: x }).outputs['dw/out'] as Int8Array;
    runner.close();
    expect(lite).toBeInstanceOf(Int8Array);
    const c = lsbCounts(ref, lite);
    expect(c.worst).toBeLessThanOrEqual(1);
    expect(c.exact / c.n).toBeGreaterThan(0.95);
  });
});

/** Elementwise and pooling ops on `type` tensors: x → ADD(const, broadcast) → MUL(x) → SUB → AVERAGE_POOL → MAX_POOL.
 *  Scales keep each op's gain per input LSB ≤ 1 (SUB: 0.2/0.25), so differences do not grow downstream. */
function elementwiseModel(type: 'int8' | 'uint8', seed: number): Model {
  const rnd = seededRandom(seed);
  const b = new Builder();
  const zp = (z: number) => (type === 'int8' ? z - 128 : z);
  const Arr = type === 'int8' ? Int8Array : Uint8Array;
  const x = b.tensor('x', type, [1, 8, 8, 4], { scale: [0.05], zeroPoint: [zp(128)] });
  const c = b.tensor('c', type, [1, 1, 1, 4], { scale: [0.02], zeroPoint: [zp(100)] }, Arr.from({ length: 4 }, () => zp(Math.floor(rnd() * 256))));
  const sum = b.tensor('sum', type, [1, 8, 8, 4], { scale: [0.07], zeroPoint: [zp(120)] });
  const prod = b.tensor('prod', type, [1, 8, 8, 4], { scale: [0.2], zeroPoint: [zp(60)] });
  const diff = b.tensor('diff', type, [1, 8, 8, 4], { scale: [0.25], zeroPoint: [zp(140)] });
  const avg = b.tensor('avg', type, [1, 4, 4, 4], { scale: [0.25], zeroPoint: [zp(140)] });
  const max = b.tensor('max', type, [1, 2, 2, 4], { scale: [0.25], zeroPoint: [zp(140)] });
  const v = type === 'int8' ? 2 : 1;
  b.op('ADD', v, [x, c], [sum], { type: 'AddOptions', fusedActivationFunction: 'NONE' });
  b.op('MUL', v, [sum, x], [prod], { type: 'MulOptions', fusedActivationFunction: 'RELU6' });
  b.op('SUB', v, [prod, sum], [diff], { type: 'SubOptions', fusedActivationFunction: 'NONE' });
  b.op('AVERAGE_POOL_2D', v, [diff], [avg], { type: 'Pool2DOptions', padding: 'VALID', strideW: 2, strideH: 2, filterWidth: 2, filterHeight: 2, fusedActivationFunction: 'NONE' });
  b.op('MAX_POOL_2D', v, [avg], [max], { type: 'Pool2DOptions', padding: 'SAME', strideW: 2, strideH: 2, filterWidth: 3, filterHeight: 3, fusedActivationFunction: 'NONE' });
  return b.model([x], [sum, prod, diff, avg, max]);
}

describe('hand-built ADD / MUL / SUB / pools: LiteRT.js vs the reference kernels', () => {
  for (const type of ['uint8', 'int8'] as const) {
    it(`${type}: every intermediate within 1 LSB on 30 seeded inputs (uniform over the ${type} range)`, async () => {
      const m = elementwiseModel(type, 21);
      const runner = await loadTfliteRunner(writeTflite(m), { file: `elementwise-${type}.tflite` });
      const rnd = seededRandom(22);
      const totals: Record<string, { n: number; exact: number; worst: number }> = {};
      for (let k = 0; k < 30; k++) {
        const x = type === 'int8' ? Int8Array.from({ length: 256 }, () => Math.floor(rnd() * 256) - 128) : Uint8Array.from({ length: 256 }, () => Math.floor(rnd() * 256));
        const lite = await runner.run({ x });
        const ref = runReference(m, { x }).outputs;
        for (const name of ['sum', 'prod', 'diff', 'avg', 'max']) {
          const c = lsbCounts(ref[name] as Int8Array, lite[name] as Int8Array);
          const t = (totals[name] ??= { n: 0, exact: 0, worst: 0 });
          t.n += c.n;
          t.exact += c.exact;
          t.worst = Math.max(t.worst, c.worst);
        }
      }
      runner.close();
      console.log(`${type} elementwise/pools reference vs LiteRT.js: ${JSON.stringify(totals)}`);
      for (const t of Object.values(totals)) expect(t.worst).toBeLessThanOrEqual(1);
    });
  }
});

/** CONCATENATION (requantizing for uint8) → RELU (requantizing) → MAXIMUM/MINIMUM (broadcast const) → PAD. */
function concatModel(type: 'int8' | 'uint8', seed: number): Model {
  const rnd = seededRandom(seed);
  const b = new Builder();
  const zp = (z: number) => (type === 'int8' ? z - 128 : z);
  const Arr = type === 'int8' ? Int8Array : Uint8Array;
  const x = b.tensor('x', type, [1, 4, 4, 3], { scale: [0.05], zeroPoint: [zp(128)] });
  // int8 CONCATENATION requires equal params on every input; uint8 requantizes.
  const y = b.tensor('y', type, [1, 4, 4, 2], type === 'int8' ? { scale: [0.05], zeroPoint: [zp(128)] } : { scale: [0.03], zeroPoint: [zp(100)] });
  const cq = type === 'int8' ? { scale: [0.05], zeroPoint: [zp(128)] } : { scale: [0.06], zeroPoint: [zp(120)] };
  const c = b.tensor('concat', type, [1, 4, 4, 5], cq);
  const rq = { scale: [0.04], zeroPoint: [zp(0)] };
  const r = b.tensor('relu', type, [1, 4, 4, 5], rq);
  const k1 = b.tensor('k1', type, [1, 1, 1, 5], rq, Arr.from({ length: 5 }, () => zp(Math.floor(rnd() * 80))));
  const k2 = b.tensor('k2', type, [5], rq, Arr.from({ length: 5 }, () => zp(100 + Math.floor(rnd() * 150))));
  const mx = b.tensor('max', type, [1, 4, 4, 5], rq);
  const mn = b.tensor('min', type, [1, 4, 4, 5], rq);
  const pads = b.tensor('pads', 'int32', [4, 2], undefined, Int32Array.from([0, 0, 1, 1, 2, 0, 0, 0]));
  const p = b.tensor('pad', type, [1, 6, 6, 5], rq);
  const v = type === 'int8' ? 2 : 1;
  b.op('CONCATENATION', v, [x, y], [c], { type: 'ConcatenationOptions', axis: -1, fusedActivationFunction: 'NONE' });
  b.op('RELU', v, [c], [r]);
  b.op('MAXIMUM', v, [r, k1], [mx]);
  b.op('MINIMUM', v, [mx, k2], [mn]);
  b.op('PAD', v, [mn, pads], [p]);
  return b.model([x, y], [c, r, mx, mn, p]);
}

describe('hand-built CONCATENATION / RELU / MAXIMUM / MINIMUM / PAD: LiteRT.js vs the reference kernels', () => {
  for (const type of ['uint8', 'int8'] as const) {
    it(`${type}: within 1 LSB on 30 seeded inputs (uniform over the ${type} range)`, async () => {
      const m = concatModel(type, 31);
      const runner = await loadTfliteRunner(writeTflite(m), { file: `concat-${type}.tflite` });
      const rnd = seededRandom(32);
      const draw = (n: number) => (type === 'int8' ? Int8Array.from({ length: n }, () => Math.floor(rnd() * 256) - 128) : Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256)));
      const totals: Record<string, { n: number; exact: number; worst: number }> = {};
      for (let k = 0; k < 30; k++) {
        const feed = { x: draw(48), y: draw(32) };
        const lite = await runner.run(feed);
        const ref = runReference(m, feed).outputs;
        for (const name of ['concat', 'relu', 'max', 'min', 'pad']) {
          const c = lsbCounts(ref[name] as Int8Array, lite[name] as Int8Array);
          const t = (totals[name] ??= { n: 0, exact: 0, worst: 0 });
          t.n += c.n;
          t.exact += c.exact;
          t.worst = Math.max(t.worst, c.worst);
        }
      }
      runner.close();
      console.log(`${type} concat/relu/max/min/pad reference vs LiteRT.js: ${JSON.stringify(totals)}`);
      for (const t of Object.values(totals)) expect(t.worst).toBeLessThanOrEqual(1);
      expect(totals.pad!.n).toBe(30 * 180);
    });
  }
});

describe('hand-built LOGISTIC: LiteRT.js vs the reference kernels', () => {
  for (const type of ['uint8', 'int8'] as const) {
    it(`${type}: every one of the 256 input codes, at three input scales, within 1 LSB`, async () => {
      const lo = type === 'int8' ? -128 : 0;
      let exact = 0;
      let worst = 0;
      for (const scale of [0.01, 0.06, 0.25]) {
        const b = new Builder();
        const x = b.tensor('x', type, [1, 256], { scale: [scale], zeroPoint: [lo + 128] });
        const y = b.tensor('y', type, [1, 256], { scale: [1 / 256], zeroPoint: [lo] });
        b.op('LOGISTIC', type === 'int8' ? 2 : 1, [x], [y]);
        const m = b.model([x], [y]);
        const runner = await loadTfliteRunner(writeTflite(m), { file: `logistic-${type}.tflite` });
        const codes = type === 'int8' ? Int8Array.from({ length: 256 }, (_, i) => i - 128) : Uint8Array.from({ length: 256 }, (_, i) => i);
        const lite = (await runner.run({ x: codes })).y as Uint8Array;
        const ref = runReference(m, { x: codes }).outputs.y as Uint8Array;
        runner.close();
        const c = lsbCounts(ref, lite);
        exact += c.exact;
        worst = Math.max(worst, c.worst);
        // The reference also tracks the real sigmoid to within one output step.
        ref.forEach((q, i) => expect(Math.abs((q - lo) / 256 - 1 / (1 + Math.exp(-scale * (codes[i]! - lo - 128))))).toBeLessThanOrEqual(1 / 256 + 1e-9));
      }
      console.log(`${type} LOGISTIC reference vs LiteRT.js: 768 codes, ${exact} exact, worst ${worst} LSB`);
      expect(worst).toBeLessThanOrEqual(1);
    });
  }
});

describe('hand-built TANH: LiteRT.js vs the reference kernels', () => {
  for (const type of ['uint8', 'int8'] as const) {
    it(`${type}: every one of the 256 input codes, at three input scales, within 1 LSB`, async () => {
      const lo = type === 'int8' ? -128 : 0;
      let exact = 0;
      let worst = 0;
      for (const scale of [0.01, 0.03, 0.1]) {
        const b = new Builder();
        const x = b.tensor('x', type, [1, 256], { scale: [scale], zeroPoint: [lo + 128] });
        const y = b.tensor('y', type, [1, 256], { scale: [1 / 128], zeroPoint: [lo + 128] });
        b.op('TANH', type === 'int8' ? 2 : 1, [x], [y]);
        const m = b.model([x], [y]);
        const runner = await loadTfliteRunner(writeTflite(m), { file: `tanh-${type}.tflite` });
        const codes = type === 'int8' ? Int8Array.from({ length: 256 }, (_, i) => i - 128) : Uint8Array.from({ length: 256 }, (_, i) => i);
        const lite = (await runner.run({ x: codes })).y as Uint8Array;
        const ref = runReference(m, { x: codes }).outputs.y as Uint8Array;
        runner.close();
        const c = lsbCounts(ref, lite);
        exact += c.exact;
        worst = Math.max(worst, c.worst);
        ref.forEach((q, i) => expect(Math.abs((q - lo - 128) / 128 - Math.tanh(scale * (codes[i]! - lo - 128)))).toBeLessThanOrEqual(1 / 128 + 1e-9));
      }
      console.log(`${type} TANH reference vs LiteRT.js: 768 codes, ${exact} exact, worst ${worst} LSB`);
      expect(worst).toBeLessThanOrEqual(1);
    });
  }
});

describe('hand-built MEAN: LiteRT.js vs the reference kernels', () => {
  for (const type of ['uint8', 'int8'] as const) {
    it(`${type}: spatial mean (keep_dims) and a last-axis mean, with rescaling, within 1 LSB on 30 seeded inputs`, async () => {
      const zp = (z: number) => (type === 'int8' ? z - 128 : z);
      const b = new Builder();
      const x = b.tensor('x', type, [1, 7, 7, 6], { scale: [0.05], zeroPoint: [zp(120)] });
      const a12 = b.tensor('axes12', 'int32', [2], undefined, Int32Array.from([1, 2]));
      const a3 = b.tensor('axes3', 'int32', [1], undefined, Int32Array.from([3]));
      const g = b.tensor('gap', type, [1, 1, 1, 6], { scale: [0.02], zeroPoint: [zp(130)] });
      const l = b.tensor('last', type, [1, 7, 7], { scale: [0.03], zeroPoint: [zp(110)] });
      const v = type === 'int8' ? 2 : 1;
      b.op('MEAN', v, [x, a12], [g], { type: 'ReducerOptions', keepDims: true });
      b.op('MEAN', v, [x, a3], [l], { type: 'ReducerOptions', keepDims: false });
      const m = b.model([x], [g, l]);
      const runner = await loadTfliteRunner(writeTflite(m), { file: `mean-${type}.tflite` });
      const rnd = seededRandom(41);
      const totals: Record<string, { n: number; exact: number; worst: number }> = {};
      for (let k = 0; k < 30; k++) {
        // Uniform over the type's range, with a per-draw bias so the means move around.
        const shift = Math.floor(rnd() * 120) - 60;
        const lo = type === 'int8' ? -128 : 0;
        const xs = Array.from({ length: 294 }, () => Math.max(lo, Math.min(lo + 255, lo + 128 + shift + Math.floor((rnd() - 0.5) * 160))));
        const feed = { x: type === 'int8' ? Int8Array.from(xs) : Uint8Array.from(xs) };
        const lite = await runner.run(feed);
        const ref = runReference(m, feed).outputs;
        for (const name of ['gap', 'last']) {
          const c = lsbCounts(ref[name] as Int8Array, lite[name] as Int8Array);
          const t = (totals[name] ??= { n: 0, exact: 0, worst: 0 });
          t.n += c.n;
          t.exact += c.exact;
          t.worst = Math.max(t.worst, c.worst);
        }
      }
      runner.close();
      console.log(`${type} MEAN reference vs LiteRT.js: ${JSON.stringify(totals)}`);
      for (const t of Object.values(totals)) expect(t.worst).toBeLessThanOrEqual(1);
    });
  }
});
