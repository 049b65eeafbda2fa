/**
 * float32 / float16 export of real graphs, run in LiteRT.js, against the GraphDef on tfpass's
 * runtime (TensorFlow.js). Inputs: seeded uniform [-1, 1) (mulberry32). Equality is
 * |a − b| ≤ atol + rtol·|b| with rtol 1e-5 (float32) / 1e-3 (float16) and atol = rtol · max|b|
 * (a scale-relative floor: accumulation order differs between XNNPACK and TF.js for values near 0).
 */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { Graph } from '@tfpass/core';
import { Tensor, readGraph, float32ToHalfBits, halfBitsToFloat32 } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { runGraph } from '@tfpass/runtime';
import { writeTflite } from '@tfpass/tflite';
import { convertGraph, lowerToOps, type ConvertOptions } from '../src/index.js';
import { emitModel } from '../src/emit.js';
import { runTflite } from './litert.js';
import { compare, uniform } from './numeric.js';
import * as core from '@tfpass/core';
import { buildDemoModel, DEMO_INPUT, DEMO_LOGITS, DEMO_OUTPUT } from '@tfpass/train';
import { fuseInstanceNorms } from '@tfpass/pass-instance-norm';

const dir = modelsDir();

async function checkFloat(graph: Graph, opts: ConvertOptions, rtol: number, seed = 7): Promise<Compared[]> {
  const { model } = convertGraph(graph, opts);
  const bytes = writeTflite(model);
  const sg = model.subgraphs[0]!;
  const feeds = sg.inputs.map((i, k) => {
    const t = sg.tensors[i]!;
    return { name: t.name, shape: t.shape, data: uniform(t.shape.reduce((x, y) => x * y, 1), seed + k) };
  });
  const lite = await runTflite(bytes, feeds);
  const ref = await runGraph(graph, Object.fromEntries(feeds.map((f) => [f.name, new Tensor('float32', f.shape, f.data)])), opts.outputArrays);
  return ref.map((r, i) => {
    expect(lite[i]!.length).toBe(r.size);
    return compare(lite[i]!, r.toFloat32(), rtol);
  });
}

describe('the BiSeNetV2-style demo net (packages/train) in float', () => {
  for (const fused of [false, true]) {
    test(`${fused ? 'after fuse_instance_norm' : 'as built (SquaredDifference/Sqrt/RealDiv instance norm)'}: logits within 1e-5, ArgMax equal`, async () => {
      const g = buildDemoModel({ seed: 3, size: 32 });
      if (fused) expect(fuseInstanceNorms(g, core).length).toBe(1);
      const { model } = convertGraph(g, { outputArrays: [DEMO_LOGITS, DEMO_OUTPUT] });
      const ops = model.subgraphs[0]!.operators.map((o) => model.operatorCodes[o.opcodeIndex]!.builtin);
      // Batch norms fold into the convs; the instance norm stays as elementwise ops.
      expect(ops).not.toContain('FAKE_QUANT');
      expect(ops.filter((o) => o === 'MUL').length).toBe(fused ? 2 : 0);
      expect(ops).toContain(fused ? 'RSQRT' : 'SQUARED_DIFFERENCE');
      const x = uniform(32 * 32 * 3, 5);
      const [logits, pred] = await runTflite(writeTflite(model), [{ data: x, shape: [1, 32, 32, 3] }]);
      const [rl, rp] = await runGraph(g, { [DEMO_INPUT]: new Tensor('float32', [1, 32, 32, 3], x) }, [DEMO_LOGITS, DEMO_OUTPUT]);
      const c = compare(logits!, rl!.toFloat32(), 1e-5);
      console.log('demo', fused, JSON.stringify(c));
      expect(c.worst).toBeLessThanOrEqual(1);
      const same = Array.from(pred!).filter((v, i) => v === Number(rp!.toNumbers()[i])).length;
      expect(same).toBe(pred!.length);
    });
  }
});

describe.skipIf(!dir)('float export runs in LiteRT.js and equals the GraphDef', () => {
  const cases: [string, string, ConvertOptions][] = [
    ['tiny_conv (FAKE_QUANT kept)', 'speech-tiny-conv-qat/tiny_conv.pb', { inputArrays: ['Reshape_2'], outputArrays: ['labels_softmax'], inputShapes: [[1, 98, 40, 1]] }],
    ['keras-mobilenet-0.25-128', 'keras-mobilenet-0.25-128/mnet.pb', { outputArrays: ['output_0'] }],
    ['arm-kws-ds-cnn-s cut at Mfcc', 'arm-kws-ds-cnn-s/DS_CNN_S.pb', { inputArrays: ['Mfcc'], outputArrays: ['labels_softmax'], inputShapes: [[1, 49, 10]] }],
    ['tf-doc-localisation-mnv2', 'tf-doc-localisation-mnv2/frozen_model.pb', { outputArrays: ['keypoints_pred'] }],
  ];
  for (const [label, file, opts] of cases) {
    test(`${label}: float32 within 1e-5`, async () => {
      const g = readGraph(join(dir!, file));
      const r = await checkFloat(g, opts, 1e-5);
      console.log(label, JSON.stringify(r));
      for (const c of r) expect(c.worst).toBeLessThanOrEqual(1);
    });
  }
  test('arm-kws-ds-cnn-s: float16 weights within 1e-3 of the GraphDef', async () => {
    const g = readGraph(join(dir!, 'arm-kws-ds-cnn-s/DS_CNN_S.pb'));
    const r = await checkFloat(g, { inputArrays: ['Mfcc'], outputArrays: ['labels_softmax'], inputShapes: [[1, 49, 10]], float16Weights: true }, 1e-3);
    console.log('ds-cnn float16', JSON.stringify(r));
    for (const c of r) expect(c.worst).toBeLessThanOrEqual(1);
  });
  test('keras-mobilenet-0.25-128: float16 model = float32 model with the same rounded weights (1e-4); vs the GraphDef within 2.5 % of the range', async () => {
    const g = readGraph(join(dir!, 'keras-mobilenet-0.25-128/mnet.pb'));
    const opts = { outputArrays: ['output_0'] };
    const half = emitModel(lowerToOps(g, { ...opts, float16Weights: true })).model;
    expect(half.operatorCodes.some((c) => c.builtin === 'DEQUANTIZE' && c.version === 2)).toBe(true);
    const halfTensors = half.subgraphs[0]!.tensors.filter((t) => t.type === 'float16');
    expect(halfTensors.length).toBeGreaterThan(20);
    for (const t of halfTensors) expect(half.subgraphs[0]!.tensors.some((u) => u.name === `${t.name}_dequantize` && u.type === 'float32')).toBe(true);
    // The same lowering with every float constant rounded to float16 and kept float32.
    const lg = lowerToOps(g, opts);
    for (const op of lg.ops) for (const t of op.inputs) if (t?.data && t.type === 'float32' && t.role !== 'bias') t.data = halfBitsToFloat32(float32ToHalfBits(t.data as Float32Array));
    const rounded = emitModel(lg).model;
    const shape = [1, 128, 128, 3];
    const x = uniform(128 * 128 * 3, 11);
    const [a] = await runTflite(writeTflite(half), [{ data: x, shape }]);
    const [b] = await runTflite(writeTflite(rounded), [{ data: x, shape }]);
    // XNNPACK packs float16 weights on its own path: measured within 2.6e-5 of max|b|, asserted at 1e-4.
    const c = compare(a!, b!, 1e-4);
    console.log('mnet float16 vs rounded float32', JSON.stringify(c));
    expect(c.worst).toBeLessThanOrEqual(1);
    const [ref] = await runGraph(g, { input_1: new Tensor('float32', shape, x) }, ['output_0']);
    // float16 rounding of 27 layers' weights is itself ~1.6 % of the output range on this net
    // (measured 0.093 of 6 on this input); the 1e-3 target holds on DS-CNN (above), not here.
    const vsGraph = compare(a!, ref!.toFloat32(), 1e-3);
    console.log('mnet float16 vs GraphDef', JSON.stringify(vsGraph));
    expect(vsGraph.maxAbs).toBeLessThanOrEqual(0.025 * vsGraph.maxRef);
  });
  test('keras-mobilenet-0.25-128: int8 per-channel weights-only (--post_training_quantize --per_channel_weights) = float32 model with the dequantized weights', async () => {
    const g = readGraph(join(dir!, 'keras-mobilenet-0.25-128/mnet.pb'));
    const opts = { outputArrays: ['output_0'] };
    const q = emitModel(lowerToOps(g, { ...opts, perChannelInt8Weights: true })).model;
    const sg = q.subgraphs[0]!;
    const int8 = sg.tensors.filter((t) => t.type === 'int8');
    // Only weights of >= 1024 elements are quantized (TF's threshold); biases stay float32.
    expect(int8.length).toBeGreaterThan(10);
    for (const t of int8) {
      expect(t.shape.reduce((a, b) => a * b, 1)).toBeGreaterThanOrEqual(1024);
      expect(t.quantization!.zeroPoint!.every((z) => z === 0)).toBe(true);
    }
    // Layer weights are per output channel (DEQUANTIZE v5), on axis 0 for CONV_2D, 3 for depthwise.
    expect(q.operatorCodes.filter((c) => c.builtin === 'DEQUANTIZE').map((c) => c.version)).toEqual([5]);
    expect(int8.every((t) => t.quantization!.scale!.length === t.shape[t.quantization!.quantizedDimension ?? 0])).toBe(true);
    const lg = lowerToOps(g, opts);
    for (const op of lg.ops) {
      const t = op.inputs[1];
      if (!t?.data || t.role !== 'weights' || t.data.length < 1024) continue;
      const w = t.data as Float32Array;
      const axis = op.code === 'DEPTHWISE_CONV_2D' ? 3 : 0;
      const n = t.shape[axis]!;
      const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const m = new Array<number>(n).fill(0);
      w.forEach((v, i) => (m[Math.floor(i / inner) % n] = Math.max(m[Math.floor(i / inner) % n]!, Math.abs(v))));
      const s = m.map((v) => Math.fround(v / 127));
      for (let i = 0; i < w.length; i++) w[i] = Math.round(w[i]! / s[Math.floor(i / inner) % n]!) * s[Math.floor(i / inner) % n]!;
    }
    const shape = [1, 128, 128, 3];
    const x = uniform(128 * 128 * 3, 13);
    const [a] = await runTflite(writeTflite(q), [{ data: x, shape }]);
    const [b] = await runTflite(writeTflite(emitModel(lg).model), [{ data: x, shape }]);
    const c = compare(a!, b!, 1e-4);
    const [ref] = await runGraph(g, { input_1: new Tensor('float32', shape, x) }, ['output_0']);
    expect(c.worst).toBeLessThanOrEqual(1);
    // Weight rounding itself, as signal-to-quantization-noise of the output vs the float graph.
    const r = ref!.toFloat32();
    let sig = 0;
    let noise = 0;
    r.forEach((v, i) => ((sig += v * v), (noise += (a![i]! - v) ** 2)));
    const sqnr = 10 * Math.log10(sig / noise);
    console.log('mnet int8 weights vs dequantized float32', JSON.stringify(c), 'vs GraphDef', JSON.stringify(compare(a!, r, 1e-2)), 'SQNR dB', sqnr.toFixed(1));
    // Measured 13.6 dB on this input (per-tensor scales gave a max error of 5.6 of 6): a floor, not a target.
    expect(sqnr).toBeGreaterThan(10);
  });
});
