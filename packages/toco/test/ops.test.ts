import { mulberry32 } from '@tfpass/core';
/**
 * The op table and fusions on one synthetic graph using most of the lowered ops (atrous conv,
 * depthwise + FusedBatchNorm + Relu6, Keras-style ±1 clip, Concat/Pad/MirrorPad/pools/resize,
 * reductions, StridedSlice/Transpose/Reshape → MatMul, leftover BN after an FC with Relu,
 * Split/SplitV/Pack/Unpack/Gather/ArgMax/ExpandDims/Squeeze/Cast). LiteRT.js output vs the GraphDef
 * on TF.js for seeded uniform [-1, 1) inputs, rtol 1e-5 with atol = 1e-5·max|b|.
 */
import { expect, test } from 'vitest';
import { Graph, Tensor } from '@tfpass/core';
import { runGraph } from '@tfpass/runtime';
import { writeTflite } from '@tfpass/tflite';
import { convertGraph } from '../src/index.js';
import { runTflite } from './litert.js';
import { compare } from './numeric.js';

function rand(seed: number): () => number {
  const u = mulberry32(seed);
  return () => u() * 2 - 1;
}

function build(): Graph {
  const g = new Graph();
  const r = rand(42);
  const f32 = { T: { type: 'float32' as const } };
  const k = (name: string, shape: number[], f: () => number = r) => g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, f)) } } }).name;
  const ki = (name: string, shape: number[], v: number[]) => g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', shape, v) } } }).name;
  const op = (name: string, o: string, inputs: string[], attrs: Record<string, unknown> = {}) => g.addNode({ name, op: o, inputs, attrs: { ...f32, ...attrs } as never }).name;
  const ints = (i: number[]) => ({ list: { i } });
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [-1, 8, 8, 4] } } });
  // atrous conv (tf.nn.atrous_conv2d, rate 2, SAME), then bias and relu
  const s2b = op('atrous/SpaceToBatchND', 'SpaceToBatchND', ['x', ki('atrous/block', [2], [2, 2]), ki('atrous/pads', [2, 2], [2, 2, 2, 2])], { Tblock_shape: { type: 'int32' }, Tpaddings: { type: 'int32' } });
  const conv = op('atrous/Conv2D', 'Conv2D', [s2b, k('atrous/w', [3, 3, 4, 6])], { strides: ints([1, 1, 1, 1]), padding: { s: 'VALID' } });
  const b2s = op('atrous/BatchToSpaceND', 'BatchToSpaceND', [conv, 'atrous/block', ki('atrous/crops', [2, 2], [0, 0, 0, 0])], { Tblock_shape: { type: 'int32' }, Tcrops: { type: 'int32' } });
  const a1 = op('atrous/Relu', 'Relu', [op('atrous/BiasAdd', 'BiasAdd', [b2s, k('atrous/b', [6])])]);
  // depthwise + FusedBatchNorm + Relu6
  const dw = op('dw/depthwise', 'DepthwiseConv2dNative', [a1, k('dw/w', [3, 3, 6, 2])], { strides: ints([1, 1, 1, 1]), padding: { s: 'SAME' } });
  const pos = () => 0.5 + (r() + 1) / 2;
  const bn = op('dw/bn', 'FusedBatchNorm', [dw, k('dw/gamma', [12], pos), k('dw/beta', [12]), k('dw/mean', [12]), k('dw/var', [12], pos)], { epsilon: { f: 0.001 }, is_training: { b: false } });
  const a2 = op('dw/Relu6', 'Relu6', [bn]);
  const a3 = op('clip/max', 'Maximum', [op('clip/min', 'Minimum', [a2, k('one', [], () => 1)]), k('minus_one', [], () => -1)]);
  const cat = op('cat', 'ConcatV2', [a3, op('tanh', 'Tanh', [a2]), ki('cat/axis', [], [3])], { N: { i: 2 }, Tidx: { type: 'int32' } });
  const pool = op('pool', 'MaxPool', [op('pad', 'Pad', [cat, ki('pad/p', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0])], { Tpaddings: { type: 'int32' } })], { ksize: ints([1, 3, 3, 1]), strides: ints([1, 2, 2, 1]), padding: { s: 'VALID' } });
  const mp = op('mirror', 'MirrorPad', [pool, ki('mirror/p', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0])], { mode: { s: 'REFLECT' }, Tpaddings: { type: 'int32' } });
  const avg = op('avg', 'AvgPool', [mp], { ksize: ints([1, 2, 2, 1]), strides: ints([1, 2, 2, 1]), padding: { s: 'SAME' } });
  const up = op('up', 'ResizeNearestNeighbor', [avg, ki('up/size', [2], [6, 6])], { align_corners: { b: false } });
  const mean = op('mean', 'Mean', [up, ki('mean/axes', [2], [1, 2])], { keep_dims: { b: false }, Tidx: { type: 'int32' } });
  const ss = op('ss', 'StridedSlice', [up, ki('ss/b', [4], [0, 1, 0, 0]), ki('ss/e', [4], [1, 5, 6, 24]), ki('ss/s', [4], [1, 2, 1, 1])], { Index: { type: 'int32' } });
  const tr = op('tr', 'Transpose', [ss, ki('tr/perm', [4], [0, 2, 1, 3])], { Tperm: { type: 'int32' } });
  const flat = op('flat', 'Reshape', [tr, ki('flat/shape', [2], [-1, 288])], { Tshape: { type: 'int32' } });
  const fc = op('fc/Relu', 'Relu', [op('fc/BiasAdd', 'BiasAdd', [op('fc/MatMul', 'MatMul', [flat, k('fc/w', [288, 10], () => r() * 0.1)], { transpose_a: { b: false }, transpose_b: { b: false } }), k('fc/b', [10])])]);
  // Keras BN after a Dense with Relu: stays MUL/ADD (the FC has a fused activation)
  op('logits', 'Add', [op('bn2/mul', 'Mul', [fc, k('bn2/scale', [10], pos)]), k('bn2/shift', [10])]);
  const halves = op('split', 'Split', [ki('split/axis', [], [1]), mean], { num_split: { i: 2 } });
  op('pack', 'Pack', [halves, `${halves}:1`], { N: { i: 2 }, axis: { i: 1 } });
  const sv = op('splitv', 'SplitV', [mean, ki('splitv/sizes', [2], [4, 20]), ki('splitv/axis', [], [1])], { num_split: { i: 2 }, Tlen: { type: 'int32' } });
  op('unpack', 'Unpack', [op('pack2', 'Pack', [sv, sv], { N: { i: 2 }, axis: { i: 0 } })], { num: { i: 2 }, axis: { i: 0 } });
  const gat = op('gather', 'GatherV2', [mean, ki('gather/i', [3], [3, 1, 0]), ki('gather/axis', [], [1])], { Tparams: { type: 'float32' }, Tindices: { type: 'int32' }, Taxis: { type: 'int32' } });
  op('sq', 'Squeeze', [op('ed', 'ExpandDims', [op('sig', 'Sigmoid', [gat]), ki('ed/axis', [], [1])], { Tdim: { type: 'int32' } })], { squeeze_dims: ints([1]) });
  op('argmax', 'ArgMax', ['logits', ki('argmax/axis', [], [1])], { Tidx: { type: 'int32' }, output_type: { type: 'int32' } });
  op('cast', 'Cast', ['argmax'], { SrcT: { type: 'int32' }, DstT: { type: 'float32' } });
  g.validate();
  return g;
}

test('one graph through most of the op table: structure and numbers', async () => {
  const g = build();
  const outputs = ['logits', 'pack', 'unpack:1', 'sq', 'cast'];
  const { model, notes } = convertGraph(g, { outputArrays: outputs });
  const sg = model.subgraphs[0]!;
  const ops = sg.operators.map((o) => model.operatorCodes[o.opcodeIndex]!.builtin);
  // The atrous pattern is one dilated conv with the bias and relu fused in; the BN folds into the depthwise.
  expect(ops).not.toContain('SPACE_TO_BATCH_ND');
  expect(ops).not.toContain('BATCH_TO_SPACE_ND');
  const conv = sg.operators[ops.indexOf('CONV_2D')]!;
  expect(conv.builtinOptions).toMatchObject({ dilationWFactor: 2, dilationHFactor: 2, padding: 'SAME', fusedActivationFunction: 'RELU' });
  expect(sg.tensors[conv.outputs[0]!]!.name).toBe('atrous/Relu');
  const dw = sg.operators[ops.indexOf('DEPTHWISE_CONV_2D')]!;
  expect(dw.builtinOptions).toMatchObject({ depthMultiplier: 2, fusedActivationFunction: 'RELU6' });
  expect(model.operatorCodes.find((c) => c.builtin === 'DEPTHWISE_CONV_2D')!.version).toBe(1);
  expect(ops).toContain('RELU_N1_TO_1');
  expect(ops.filter((o) => o === 'RESHAPE').length).toBe(2); // ExpandDims and Squeeze; the flatten before the FC is folded
  const fc = sg.operators[ops.indexOf('FULLY_CONNECTED')]!;
  expect(sg.tensors[fc.inputs[0]!]!.name).toBe('tr');
  expect(fc.builtinOptions!.fusedActivationFunction).toBe('RELU');
  expect(sg.tensors[fc.inputs[1]!]!).toMatchObject({ name: 'fc/w/transpose', shape: [10, 288] });
  expect(ops.filter((o) => o === 'MUL' || o === 'ADD')).toEqual(['MUL', 'ADD']);
  expect(notes).toEqual([]);
  // Operator codes ascending by builtin code.
  const codes = model.operatorCodes.map((c) => c.builtin);
  expect(codes.slice(0, 4)).toEqual(['ADD', 'AVERAGE_POOL_2D', 'CONCATENATION', 'CONV_2D']);

  const x = new Float32Array(8 * 8 * 4).map(rand(9));
  const lite = await runTflite(writeTflite(model), [{ data: x, shape: [1, 8, 8, 4] }]);
  const ref = await runGraph(g, { x: new Tensor('float32', [1, 8, 8, 4], x) }, outputs);
  ref.forEach((t, i) => {
    expect(Array.from(sg.tensors[sg.outputs[i]!]!.shape)).toEqual(t.shape);
    const c = compare(lite[i]!, t.toFloat32(), 1e-5);
    expect(c.worst, `${outputs[i]} ${JSON.stringify(c)}`).toBeLessThanOrEqual(1);
  });
});
