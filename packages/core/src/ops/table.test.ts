import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelsDir } from '../testing.js';
import { Graph } from '../graph.js';
import { TfpassError } from '../errors.js';
import {
  defaultAttrs, getOpDef, inputIndex, inputOf, inputRange, numOutputs, opNames, OP_TABLE, registerOpDefs, defineOp,
} from '../index.js';

// Ops found only in deepmd-kit's custom op library: no TF registration exists for them.
const CUSTOM_OPS = new Set(['ProdEnvMatA', 'ProdForceSeA', 'ProdVirialSeA']);

describe('op table', () => {
  it('holds the common TF1 ops with unique names', () => {
    expect(OP_TABLE.length).toBeGreaterThanOrEqual(150);
    expect(new Set(OP_TABLE.map((d) => d.name)).size).toBe(OP_TABLE.length);
    expect(opNames()).toEqual([...opNames()].sort());
    for (const op of ['Conv2D', 'DepthwiseConv2dNative', 'MatMul', 'BatchMatMulV2', 'FusedBatchNormV3', 'FakeQuantWithMinMaxVarsPerChannel', 'StridedSlice', 'Mfcc', 'RestoreV2', 'LoopCond']) {
      expect(getOpDef(op), op).toBeDefined();
    }
    // every op declares a shape function
    expect(OP_TABLE.filter((d) => !d.shape).map((d) => d.name)).toEqual([]);
  });

  it('has every op the brief lists', () => {
    const listed = `Conv2D DepthwiseConv2dNative MatMul BatchMatMul BatchMatMulV2 BiasAdd Add AddV2 Sub Mul RealDiv Maximum Minimum
      SquaredDifference Pow Relu Relu6 Elu Selu LeakyRelu Sigmoid Tanh Softmax LogSoftmax Rsqrt Sqrt Square Exp Log Neg Abs Mean Sum
      Max Min Prod Reshape Squeeze ExpandDims Transpose ConcatV2 Concat Pack Unpack Split SplitV Slice StridedSlice Pad PadV2 MirrorPad
      Tile Gather GatherV2 Shape Size Rank Fill ZerosLike OnesLike Cast Identity IdentityN StopGradient CheckNumerics Snapshot NoOp
      Placeholder PlaceholderWithDefault Const VariableV2 Variable VarHandleOp ReadVariableOp Assign AssignVariableOp FusedBatchNorm
      FusedBatchNormV2 FusedBatchNormV3 BatchNormWithGlobalNormalization MaxPool AvgPool ResizeBilinear ResizeNearestNeighbor
      SpaceToBatchND BatchToSpaceND FakeQuantWithMinMaxVars FakeQuantWithMinMaxArgs FakeQuantWithMinMaxVarsPerChannel Dequantize
      QuantizeV2 Switch Merge Enter Exit NextIteration LoopCond Less Greater Equal LogicalAnd Select Where ArgMax OneHot Range
      Conv2DBackpropInput Mfcc AudioSpectrogram DecodeWav RandomUniform RandomStandardNormal TruncatedNormal Print SaveV2 RestoreV2`;
    const missing = listed.split(/\s+/).filter((o) => o && !getOpDef(o));
    expect(missing).toEqual([]);
  });

  it('covers every op of the real models except deepmd custom ops', () => {
    const dir = modelsDir();
    if (!dir) return;
    const ops = new Set<string>();
    for (const line of readFileSync(join(dir, 'OP_HISTOGRAMS.tsv'), 'utf8').split('\n').slice(1)) {
      for (const p of (line.split('\t')[3] ?? '').split(' ')) if (p) ops.add(p.split(':')[0]!);
    }
    expect(ops.size).toBeGreaterThan(100);
    const missing = [...ops].filter((o) => !getOpDef(o) && !CUSTOM_OPS.has(o));
    expect(missing).toEqual([]);
  });

  it('has TF defaults for Conv2D, FusedBatchNorm, FakeQuant and LRN', () => {
    expect(defaultAttrs('Conv2D')).toEqual({
      use_cudnn_on_gpu: { b: true },
      explicit_paddings: { list: { i: [] } },
      data_format: { s: 'NHWC' },
      dilations: { list: { i: [1, 1, 1, 1] } },
    });
    expect(defaultAttrs('FusedBatchNorm')).toEqual({ epsilon: { f: 0.0001 }, data_format: { s: 'NHWC' }, is_training: { b: true } });
    expect(defaultAttrs('FusedBatchNormV3', { tfVersion: '2.4' })).toMatchObject({ exponential_avg_factor: { f: 1 }, epsilon: { f: 0.0001 } });
    expect(defaultAttrs('FakeQuantWithMinMaxArgs')).toEqual({ min: { f: -6 }, max: { f: 6 }, num_bits: { i: 8 }, narrow_range: { b: false } });
    expect(defaultAttrs('FakeQuantWithMinMaxVars')).toEqual({ num_bits: { i: 8 }, narrow_range: { b: false } });
    // the add_default_attributes test case of TF's graph transforms
    expect(defaultAttrs('LRN')).toEqual({ depth_radius: { i: 5 }, bias: { f: 1 }, alpha: { f: 1 }, beta: { f: 0.5 }, T: { type: 'float32' } });
    expect(defaultAttrs('Placeholder')).toEqual({ shape: { shape: null } });
    expect(defaultAttrs('Mean')).toEqual({ keep_dims: { b: false }, Tidx: { type: 'int32' } });
    expect(defaultAttrs('StridedSlice')).toEqual({ begin_mask: { i: 0 }, end_mask: { i: 0 }, ellipsis_mask: { i: 0 }, new_axis_mask: { i: 0 }, shrink_axis_mask: { i: 0 } });
    expect(defaultAttrs('DecodeWav')).toEqual({ desired_channels: { i: -1 }, desired_samples: { i: -1 } });
    expect(defaultAttrs('Mfcc')).toMatchObject({ upper_frequency_limit: { f: 4000 }, dct_coefficient_count: { i: 13 } });
  });

  it('filters attrs TF 1.15 does not know unless a newer version is asked for', () => {
    expect(defaultAttrs('QuantizeV2')).toEqual({ mode: { s: 'MIN_COMBINED' }, round_mode: { s: 'HALF_AWAY_FROM_ZERO' } });
    expect(Object.keys(defaultAttrs('QuantizeV2', { tfVersion: '2.2' }))).toEqual(['mode', 'round_mode', 'narrow_range', 'axis', 'ensure_minimum_range']);
    expect(defaultAttrs('DepthwiseConv2dNative')).not.toHaveProperty('explicit_paddings');
  });

  it('marks stateful ops', () => {
    for (const op of ['VariableV2', 'VarHandleOp', 'RandomUniform', 'TruncatedNormal', 'SaveV2', 'RestoreV2', 'Print', 'Assert', 'TensorArrayV3']) {
      expect(getOpDef(op)!.isStateful, op).toBe(true);
    }
    for (const op of ['Conv2D', 'Const', 'Identity', 'Placeholder', 'Enter', 'Merge', 'NoOp']) expect(getOpDef(op)!.isStateful, op).toBe(false);
  });

  it('throws a typed error for ops outside the table', () => {
    expect(defaultAttrs('ProdEnvMatA')).toBeUndefined();
    try {
      defaultAttrs('Conv2d', { node: 'c1', strict: true });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TfpassError);
      expect((e as TfpassError).code).toBe('E_UNSUPPORTED_OP');
      expect((e as Error).message).toMatch(/node 'c1'.*'Conv2d'.*did you mean 'Conv2D'/);
    }
    expect(() => inputIndex('Conv2D', 'weights')).toThrow(/no input 'weights' \(inputs: input, filter\)/);
  });
});

describe('argument positions', () => {
  const g = new Graph();
  const cat = g.addNode({ name: 'cat', op: 'ConcatV2', inputs: ['a', 'b', 'c', 'axis'], attrs: { N: { i: 3 } } });
  const old = g.addNode({ name: 'old', op: 'Concat', inputs: ['dim', 'a', 'b'], attrs: { N: { i: 2 } } });
  const noN = g.addNode({ name: 'noN', op: 'ConcatV2', inputs: ['a', 'b', 'axis'] });
  const split = g.addNode({ name: 'split', op: 'Split', inputs: ['dim', 'x'], attrs: { num_split: { i: 4 } } });
  const unpack = g.addNode({ name: 'unpack', op: 'Unpack', inputs: ['x'], attrs: { num: { i: 3 } } });
  const idn = g.addNode({ name: 'idn', op: 'IdentityN', inputs: ['a', 'b'], attrs: { T: { list: { type: ['float32', 'int32'] } } } });
  const fbn = g.addNode({ name: 'fbn', op: 'FusedBatchNorm', inputs: ['x', 's', 'o', 'm', 'v'] });
  const fbn3 = g.addNode({ name: 'fbn3', op: 'FusedBatchNormV3', inputs: ['x', 's', 'o', 'm', 'v'] });
  const conv = g.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', 'w', '^ctl'] });

  it('finds named inputs past variadic args', () => {
    expect(inputIndex('ConcatV2', 'axis', cat)).toBe(3);
    expect(inputRange('ConcatV2', 'values', cat)).toEqual({ start: 0, end: 3 });
    expect(inputIndex('Concat', 'values', old)).toBe(1);
    // N missing: solved from the node's input count
    expect(inputIndex('ConcatV2', 'axis', noN)).toBe(2);
    expect(inputIndex('Split', 'value', split)).toBe(1);
    expect(inputIndex('FusedBatchNorm', 'variance')).toBe(4);
    expect(inputOf(conv, 'filter')).toBe('w');
    expect(inputOf(cat, 'values', 2)).toBe('c');
    expect(inputOf(cat, 'values', 3)).toBeUndefined();
  });

  it('counts outputs from attrs', () => {
    expect(numOutputs(split)).toBe(4);
    expect(numOutputs(unpack)).toBe(3);
    expect(numOutputs(idn)).toBe(2);
    expect(numOutputs(fbn)).toBe(5);
    expect(numOutputs(fbn3)).toBe(6);
    expect(numOutputs(conv)).toBe(1);
    expect(numOutputs(g.addNode({ name: 'sv', op: 'SaveV2', inputs: [] }))).toBe(0);
    expect(numOutputs(g.addNode({ name: 'u', op: 'Whatever' }))).toBeUndefined();
  });

  it('accepts op definitions registered by plugins', () => {
    registerOpDefs([defineOp('TestOnlyScale', { sig: 'x:T, s:float -> y:T', attrs: 'T:type; factor:float=2', shape: (c) => [{ shape: c.inputs[0]?.shape ?? null }] })]);
    expect(defaultAttrs('TestOnlyScale')).toEqual({ factor: { f: 2 } });
    expect(inputIndex('TestOnlyScale', 's')).toBe(1);
    expect(() => defineOp('Bad', { sig: 'x:Q -> y:T', attrs: 'T:type' })).toThrow(/'Q' is neither a type attr nor a dtype/);
  });
});
