/**
 * Lowering on real graphs: the TOCO-made tiny_conv.tflite is the oracle for structure, names,
 * options and (dequantized) weight values; errors name node, op and array.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, Tensor, readGraph } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { readTflite, writeTflite, type Model } from '@tfpass/tflite';
import { lowerGraph, convertGraph, quantizeLowered } from '../src/index.js';

const dir = modelsDir();

const opsOf = (m: Model) => m.subgraphs[0]!.operators.map((o) => m.operatorCodes[o.opcodeIndex]!.builtin);

describe.skipIf(!dir)('tiny_conv.pb lowers as TOCO lowered it', () => {
  const opts = { inputArrays: ['Reshape_2'], outputArrays: ['labels_softmax'], inputShapes: [[1, 98, 40, 1]] };
  const lowered = () => lowerGraph(readGraph(join(dir!, 'speech-tiny-conv-qat/tiny_conv.pb')), opts);
  const golden = () => readTflite(readFileSync(join(dir!, 'speech-tiny-conv-qat/tiny_conv.tflite')));

  test('operators, operator codes, options, tensor names/shapes/order', () => {
    const { model } = lowered();
    const g = golden();
    expect(opsOf(model)).toEqual(['DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'SOFTMAX']);
    expect(model.operatorCodes).toEqual(g.operatorCodes.map((c) => ({ builtin: c.builtin, version: c.version })));
    const sg = model.subgraphs[0]!;
    const gs = g.subgraphs[0]!;
    expect(sg.tensors.map((t) => [t.name, t.shape])).toEqual(gs.tensors.map((t) => [t.name, t.shape]));
    expect(sg.inputs).toEqual(gs.inputs);
    expect(sg.outputs).toEqual(gs.outputs);
    sg.operators.forEach((o, i) => {
      expect(o.inputs).toEqual(gs.operators[i]!.inputs);
      expect(o.outputs).toEqual(gs.operators[i]!.outputs);
    });
    const dw = sg.operators[0]!.builtinOptions!;
    expect(dw).toMatchObject({ type: 'DepthwiseConv2DOptions', padding: 'SAME', strideW: 2, strideH: 2, depthMultiplier: 8 });
    // Float lowering keeps the fused Relu; TOCO's uint8 file has NONE because quantization drops it as trivial.
    expect(dw.fusedActivationFunction).toBe('RELU');
    expect(sg.tensors.every((t) => t.type === 'float32')).toBe(true);
    expect(model.metadata.map((m) => m.name)).toEqual(['min_runtime_version']);
    expect(new TextDecoder().decode(model.buffers[model.metadata[0]!.buffer]!.data)).toBe('1.5.0');
    expect(model.description).toBe('TOCO Converted.');
  });

  test('float weights and biases equal the golden dequantized ones within one quantization step', () => {
    const { model, roles, ranges } = lowered();
    const g = golden();
    const sg = model.subgraphs[0]!;
    const gs = g.subgraphs[0]!;
    let checked = 0;
    sg.tensors.forEach((t, i) => {
      const role = roles.get(i);
      if (!role) return;
      const gt = gs.tensors[i]!;
      const q = gt.quantization!;
      const scale = q.scale![0]!;
      const zp = q.zeroPoint![0]!;
      const raw = g.buffers[gt.buffer]!.data!;
      const gq = gt.type === 'int32' ? new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) : raw;
      const mine = new Float32Array(model.buffers[t.buffer]!.data!.slice().buffer);
      expect(mine.length).toBe(gq.length);
      let worst = 0;
      for (let k = 0; k < mine.length; k++) worst = Math.max(worst, Math.abs(mine[k]! - scale * (Number(gq[k]) - zp)));
      expect(worst).toBeLessThanOrEqual(scale * 1.0001);
      checked++;
    });
    expect(checked).toBe(4);
    // Weight ranges come from the constant FakeQuants (narrow range), activations' from act_quant.
    const byName = new Map(sg.tensors.map((t, i) => [t.name, ranges.get(i)]));
    expect(byName.get('weights_quant/FakeQuantWithMinMaxVars')).toMatchObject({ min: -0.09362263977527618, narrowRange: true, numBits: 8 });
    expect(byName.get('Relu')).toMatchObject({ min: 0, max: 19.199445724487305, source: 'act_quant/FakeQuantWithMinMaxVars' });
    expect(byName.get('add_1')?.source).toBe('act_quant_1/FakeQuantWithMinMaxVars');
  });

  test('float mode keeps the activation FakeQuants as FAKE_QUANT with TOCO warning', () => {
    const { model, notes } = convertGraph(readGraph(join(dir!, 'speech-tiny-conv-qat/tiny_conv.pb')), opts);
    expect(opsOf(model)).toEqual(['DEPTHWISE_CONV_2D', 'FAKE_QUANT', 'FULLY_CONNECTED', 'FAKE_QUANT', 'SOFTMAX']);
    expect(notes.some((n) => /FAKE_QUANT operation\(s\) were not converted/.test(n.message))).toBe(true);
  });

  test('errors: missing input array, unsupported op (TOCO wording), custom op with allow_custom_ops', () => {
    const g = readGraph(join(dir!, 'speech-tiny-conv-qat/tiny_conv.pb'));
    expect(() => lowerGraph(g, { ...opts, inputArrays: ['Reshape_9'] })).toThrow(/node 'Reshape_9': specified input array is not produced by any op in this graph.*'Reshape_2'/);
    expect(() => lowerGraph(g, { ...opts, outputArrays: ['nope'] })).toThrow(/'nope': specified output array/);
    // From the wav input, AudioMicrofrontend/DecodeWav have no builtin.
    const e = (() => {
      try {
        lowerGraph(g, { outputArrays: ['labels_softmax'] });
      } catch (err) {
        return err as Error & { code?: string };
      }
      return undefined;
    })();
    expect(e?.code).toBe('E_UNSUPPORTED_OP');
    expect(e?.message).toMatch(/not supported by the standard TensorFlow Lite runtime.*custom implementations: AudioMicrofrontend, DecodeWav/);
    expect(e?.message).not.toMatch(/\n/);
  });
});

describe.skipIf(!dir)('lowering leaves its input alone', () => {
  test('converting the same Graph twice gives the same bytes (BN folding scales copies, not the graph)', () => {
    const g = readGraph(join(dir!, 'keras-mobilenet-0.25-128/mnet.pb'));
    const a = writeTflite(convertGraph(g, { outputArrays: ['output_0'] }).model);
    const b = writeTflite(convertGraph(g, { outputArrays: ['output_0'] }).model);
    expect(a.length).toBeGreaterThan(400_000);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
  });
});

describe('op table on small graphs', () => {
  const f32 = { type: 'float32' } as const;
  function graph(build: (g: Graph, c: (name: string, shape: number[], v: number[]) => string) => void): Graph {
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: f32, shape: { shape: [1, 4, 4, 2] } } });
    const c = (name: string, shape: number[], v: number[]) => g.addNode({ name, op: 'Const', attrs: { dtype: f32, value: { tensor: Tensor.fromValues('float32', shape, v) } } }).name;
    build(g, c);
    return g;
  }

  test('custom op with --allow_custom_ops; unsupported without', () => {
    const g = graph((g) => {
      g.addNode({ name: 'y', op: 'Erf', inputs: ['x'], attrs: { T: f32 } });
    });
    expect(() => lowerGraph(g, { outputArrays: ['y'] })).toThrow(/node 'y': op 'Erf' is not supported.*Erf \(nodes: y\)/);
    const { model } = lowerGraph(g, { outputArrays: ['y'], allowCustomOps: true });
    expect(model.operatorCodes).toEqual([{ builtin: 'CUSTOM', customCode: 'Erf', version: 1 }]);
  });

  test('Keras clip Relu→Minimum(6)→Maximum(0) fuses as RELU6; BN Mul/Add fold into the conv bias and weights', () => {
    const g = graph((g, c) => {
      g.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', c('w', [1, 1, 2, 3], [1, 2, 3, 4, 5, 6])], attrs: { T: f32, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' } } });
      g.addNode({ name: 'mul', op: 'Mul', inputs: ['conv', c('s', [3], [2, 3, 4])], attrs: { T: f32 } });
      g.addNode({ name: 'add', op: 'Add', inputs: ['mul', c('b', [3], [0.5, 1, 1.5])], attrs: { T: f32 } });
      g.addNode({ name: 'relu', op: 'Relu', inputs: ['add'], attrs: { T: f32 } });
      g.addNode({ name: 'min', op: 'Minimum', inputs: ['relu', c('six', [], [6])], attrs: { T: f32 } });
      g.addNode({ name: 'max', op: 'Maximum', inputs: ['min', c('zero', [], [0])], attrs: { T: f32 } });
    });
    const { model } = lowerGraph(g, { outputArrays: ['max'] });
    const sg = model.subgraphs[0]!;
    expect(opsOf(model)).toEqual(['CONV_2D']);
    const op = sg.operators[0]!;
    expect(op.builtinOptions!.fusedActivationFunction).toBe('RELU6');
    expect(sg.tensors[op.outputs[0]!]!.name).toBe('max');
    const data = (i: number) => Array.from(new Float32Array(model.buffers[sg.tensors[op.inputs[i]!]!.buffer]!.data!.slice().buffer));
    // OHWI: out channel o holds w[0,0,:,o]·s[o].
    expect(data(1)).toEqual([1 * 2, 4 * 2, 2 * 3, 5 * 3, 3 * 4, 6 * 4]);
    expect(data(2)).toEqual([0.5, 1, 1.5]);
    expect(sg.tensors[op.inputs[2]!]!.name).toBe('conv_bias');
  });

  test('contrib-style QAT block: per-channel weight FakeQuant resolved with its range, output FakeQuant gives the output its range and name', () => {
    const g = graph((g, c) => {
      const w = c('w', [1, 1, 2, 3], [0.5, -0.25, 0.125, 1, -1, 0.3]);
      g.addNode({ name: 'wq', op: 'FakeQuantWithMinMaxVarsPerChannel', inputs: [w, c('wq/min', [3], [-1, -1, -0.5]), c('wq/max', [3], [1, 1, 0.5])], attrs: { num_bits: { i: 8 }, narrow_range: { b: true } } });
      g.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', 'wq'], attrs: { T: f32, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'VALID' } } });
      g.addNode({ name: 'bias', op: 'BiasAdd', inputs: ['conv', c('b', [3], [0.1, 0.2, 0.3])], attrs: { T: f32 } });
      g.addNode({ name: 'relu', op: 'Relu6', inputs: ['bias'], attrs: { T: f32 } });
      g.addNode({ name: 'act', op: 'FakeQuantWithMinMaxVars', inputs: ['relu', c('act/min', [], [0]), c('act/max', [], [6])], attrs: { num_bits: { i: 8 } } });
    });
    const { model, ranges, roles } = lowerGraph(g, { outputArrays: ['act'] });
    const sg = model.subgraphs[0]!;
    expect(opsOf(model)).toEqual(['CONV_2D']);
    const op = sg.operators[0]!;
    expect(op.builtinOptions!.fusedActivationFunction).toBe('RELU6');
    const out = sg.tensors[op.outputs[0]!]!;
    expect(out.name).toBe('act');
    expect(ranges.get(op.outputs[0]!)).toMatchObject({ min: 0, max: 6, numBits: 8, narrowRange: false, source: 'act' });
    const wi = op.inputs[1]!;
    expect(sg.tensors[wi]!.name).toBe('wq');
    expect(roles.get(wi)).toBe('weights');
    expect(ranges.get(wi)!.perChannel).toEqual({ min: [-1, -1, -0.5], max: [1, 1, 0.5], axis: 0 });
    // Nudged per channel: channel 2 has step 1/254 on [-0.5, 0.5], so 0.3 (w[0,0,1,2]) → round(0.3·254)/254.
    const w = new Float32Array(model.buffers[sg.tensors[wi]!.buffer]!.data!.slice().buffer);
    expect(w[2 * 2 + 1]).toBeCloseTo(Math.round(0.3 * 254) / 254, 6);
    expect(w[0]).toBeCloseTo(Math.round(0.5 * 127) / 127, 6);
  });

  test('depth-1 Conv2D turned DEPTHWISE: its per-channel weight range sits on axis 3, where the output channels are', () => {
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: f32, shape: { shape: [1, 4, 4, 1] } } });
    const c = (name: string, shape: number[], v: number[]) => g.addNode({ name, op: 'Const', attrs: { dtype: f32, value: { tensor: Tensor.fromValues('float32', shape, v) } } }).name;
    const w = c('w', [1, 1, 1, 3], [0.5, -0.25, 0.125]);
    g.addNode({ name: 'wq', op: 'FakeQuantWithMinMaxVarsPerChannel', inputs: [w, c('wq/min', [3], [-0.5, -0.25, -0.125]), c('wq/max', [3], [0.5, 0.25, 0.125])], attrs: { num_bits: { i: 8 }, narrow_range: { b: true } } });
    g.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', 'wq'], attrs: { T: f32, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' } } });
    g.addNode({ name: 'act', op: 'FakeQuantWithMinMaxArgs', inputs: ['conv'], attrs: { min: { f: -1 }, max: { f: 1 } } });
    const lowered = lowerGraph(g, { outputArrays: ['act'] });
    const sg = lowered.model.subgraphs[0]!;
    expect(opsOf(lowered.model)).toEqual(['DEPTHWISE_CONV_2D']);
    const wi = sg.operators[0]!.inputs[1]!;
    expect(sg.tensors[wi]!.shape).toEqual([1, 1, 1, 3]);
    expect(lowered.ranges.get(wi)!.perChannel).toEqual({ min: [-0.5, -0.25, -0.125], max: [0.5, 0.25, 0.125], axis: 3 });
    const q = quantizeLowered(lowered, { inferenceType: 'int8', rangesFromFile: { x: { min: -1, max: 1 } } }).model;
    const wq = q.subgraphs[0]!.tensors[q.subgraphs[0]!.operators.find((o) => q.operatorCodes[o.opcodeIndex]!.builtin === 'DEPTHWISE_CONV_2D')!.inputs[1]!]!;
    expect(wq.quantization).toMatchObject({ quantizedDimension: 3, zeroPoint: [0, 0, 0] });
    expect(wq.quantization!.scale!.map((s) => s * 127)).toEqual([0.5, 0.25, 0.125].map((v) => expect.closeTo(v, 6)));
  });

  test('a batch norm that cannot fold stays as MUL/ADD with a warning; NCHW and shape-count errors', () => {
    const g = graph((g, c) => {
      g.addNode({ name: 'relu', op: 'Relu', inputs: ['x'], attrs: { T: f32 } });
      g.addNode({ name: 'bn', op: 'FusedBatchNorm', inputs: ['relu', c('g', [2], [1, 2]), c('b', [2], [0, 1]), c('m', [2], [0.5, 0]), c('v', [2], [1, 4])], attrs: { T: f32, epsilon: { f: 0 }, is_training: { b: false } } });
    });
    const { model, notes } = lowerGraph(g, { outputArrays: ['bn'] });
    expect(opsOf(model)).toEqual(['RELU', 'MUL', 'ADD']);
    const sg = model.subgraphs[0]!;
    const vec = (op: number) => Array.from(new Float32Array(model.buffers[sg.tensors[sg.operators[op]!.inputs[1]!]!.buffer]!.data!.slice().buffer));
    expect(vec(1)).toEqual([1, 1]); // γ/√σ² = 1/1, 2/2
    expect(vec(2)).toEqual([-0.5, 1]); // β − μ·mul
    expect(notes.map((n) => n.message)).toEqual([expect.stringMatching(/batch norm 'bn' could not be folded into the preceding layer and stays as MUL\/ADD/)]);
    const nchw = graph((g, c) => {
      g.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', c('w', [1, 1, 2, 2], [1, 0, 0, 1])], attrs: { T: f32, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NCHW' } } });
    });
    expect(() => lowerGraph(nchw, { outputArrays: ['conv'] })).toThrow(/node 'conv': op 'Conv2D' is not supported — data_format NCHW: TFLite has only NHWC/);
    expect(() => lowerGraph(nchw, { outputArrays: ['conv'], inputShapes: [[1, 4, 4, 2], [1]] })).toThrow(/--input_shapes gives 2 shape\(s\) for 1 input array\(s\) \(x\)/);
  });

  test('a FakeQuant between a conv and its Relu blocks the fusion, unless --reorder_across_fake_quant', () => {
    const g = graph((g, c) => {
      g.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', c('w', [1, 1, 2, 2], [1, 0, 0, 1])], attrs: { T: f32, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' } } });
      g.addNode({ name: 'fq', op: 'FakeQuantWithMinMaxArgs', inputs: ['conv'], attrs: { min: { f: -4 }, max: { f: 4 } } });
      g.addNode({ name: 'relu', op: 'Relu', inputs: ['fq'], attrs: { T: f32 } });
    });
    expect(opsOf(lowerGraph(g, { outputArrays: ['relu'] }).model)).toEqual(['CONV_2D', 'RELU']);
    const r = lowerGraph(g, { outputArrays: ['relu'], reorderAcrossFakeQuant: true });
    expect(opsOf(r.model)).toEqual(['CONV_2D']);
    expect(r.model.subgraphs[0]!.operators[0]!.builtinOptions!.fusedActivationFunction).toBe('RELU');
  });

  test('a constant fold that would be huge is left to the runtime (bounded memory)', () => {
    const g = graph((g, c) => {
      const big = g.addNode({ name: 'mult', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [2], [1 << 20, 1 << 20]) } } }).name;
      g.addNode({ name: 'tile', op: 'Tile', inputs: [c('v', [1, 1], [3]), big], attrs: { T: f32, Tmultiples: { type: 'int32' } } });
      g.addNode({ name: 'y', op: 'Mul', inputs: ['x', c('s', [], [2])], attrs: { T: f32 } });
    });
    const { model } = lowerGraph(g, { inputArrays: ['x'], outputArrays: ['y', 'tile'] });
    expect(opsOf(model)).toEqual(['TILE', 'MUL']);
  });
});
