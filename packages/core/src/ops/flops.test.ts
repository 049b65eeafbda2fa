import { describe, expect, it } from 'vitest';
import { modelPath } from '../testing.js';
import { readGraph, countFlops, inferShapes, batchOneInputs } from '../index.js';
import { G, int, ints, str, type } from './__tests__/build.js';

describe('countFlops on hand-computed graphs', () => {
  it('Conv2D 1x8x8x3 * 3x3x3x4 SAME stride 1 = 8*8*4*27 MACs; depthwise and bias add', () => {
    const b = new G();
    b.ph('x', [1, 8, 8, 3]);
    b.c('w', new Array(108).fill(0.5), [3, 3, 3, 4], 'float32');
    b.op('w/read', 'Identity', ['w']);
    b.op('conv', 'Conv2D', ['x', 'w/read'], { T: type('float32'), strides: ints([1, 1, 1, 1]), padding: str('SAME') });
    b.c('bias', [1, 2, 3, 4], [4], 'float32');
    b.op('ba', 'BiasAdd', ['conv', 'bias']);
    b.c('dw', new Array(36).fill(1), [3, 3, 4, 1], 'float32');
    b.op('dconv', 'DepthwiseConv2dNative', ['ba', 'dw'], { strides: ints([1, 2, 2, 1]), padding: str('SAME') });
    b.op('pool', 'MaxPool', ['dconv'], { ksize: ints([1, 2, 2, 1]), strides: ints([1, 2, 2, 1]), padding: str('VALID') });
    const r = countFlops(b.g);
    const by = Object.fromEntries(r.nodes.map((n) => [n.name, n]));
    expect(by.conv).toEqual({ name: 'conv', op: 'Conv2D', params: 108, macs: 8 * 8 * 4 * 27, flops: 2 * 8 * 8 * 4 * 27 });
    expect(by.ba).toEqual({ name: 'ba', op: 'BiasAdd', params: 4, macs: 0, flops: 256 });
    // depthwise: 4x4 outputs x 4 channels x 3x3 taps
    expect(by.dconv).toMatchObject({ params: 36, macs: 4 * 4 * 4 * 9 });
    expect(by.pool).toMatchObject({ macs: 0, flops: 2 * 2 * 4 * 4 });
    expect(r.params).toBe(148);
    // grappler's fused conv (conv + bias) costs the same MACs and owns both weights
    const f = new G();
    f.ph('x', [1, 8, 8, 3]);
    f.c('w', new Array(108).fill(0.5), [3, 3, 3, 4], 'float32');
    f.c('bias', [1, 2, 3, 4], [4], 'float32');
    f.op('fc', '_FusedConv2D', ['x', 'w', 'bias'], { num_args: int(1), strides: ints([1, 1, 1, 1]), padding: str('SAME'), fused_ops: { list: { s: ['BiasAdd'] } } });
    expect(countFlops(f.g).nodes).toEqual([{ name: 'fc', op: '_FusedConv2D', params: 112, macs: 6912, flops: 13824 }]);
    expect(r.macs).toBe(6912 + 576);
    expect(r.unknown).toEqual([]);
  });

  it('MatMul, BatchMatMul, FusedBatchNorm; a Const shared by two nodes counts once; scalars are not params', () => {
    const b = new G();
    b.ph('x', [-1, 5]);
    b.c('w', new Array(15).fill(1), [5, 3], 'float32');
    b.op('mm', 'MatMul', ['x', 'w']);
    b.op('mm2', 'MatMul', ['x', 'w']);
    b.c('eps', [0.001], [], 'float32');
    b.op('add', 'Add', ['mm', 'eps']);
    b.ph('p', [2, 4, 6]);
    b.ph('q', [2, 6, 3]);
    b.op('bmm', 'BatchMatMulV2', ['p', 'q']);
    b.ph('img', [1, 4, 4, 3]);
    for (const n of ['s', 'o', 'm', 'v']) b.c(n, [1, 1, 1], [3], 'float32');
    b.op('bn', 'FusedBatchNorm', ['img', 's', 'o', 'm', 'v']);
    b.c('shape', [-1, 3]);
    b.op('rs', 'Reshape', ['add', 'shape']);
    expect(batchOneInputs(b.g)).toEqual({ x: [1, 5] });
    const r = countFlops(b.g);
    const by = Object.fromEntries(r.nodes.map((n) => [n.name, n]));
    expect(by.mm).toMatchObject({ params: 15, macs: 15 });
    expect(by.mm2).toMatchObject({ params: 0, macs: 15 });
    expect(by.add).toMatchObject({ params: 0, flops: 3 });
    expect(by.bmm).toMatchObject({ macs: 2 * 4 * 3 * 6 });
    expect(by.bn).toMatchObject({ params: 12, macs: 48 });
    expect(by.rs).toBeUndefined(); // int32 shape Consts are not weights
    expect(r.params).toBe(27);
    // shapes inferred with the batch left unknown give the same per-example numbers
    const r2 = countFlops(b.g, inferShapes(b.g));
    expect(r2.macs).toBe(r.macs);
    // an unknown spatial size makes the cost unknown (and says where)
    const c = new G();
    c.ph('x', [1, -1, -1, 3]);
    c.c('w', new Array(27).fill(1), [3, 3, 3, 1], 'float32');
    c.op('conv', 'Conv2D', ['x', 'w'], { strides: ints([1, 1, 1, 1]), padding: str('SAME') });
    const r3 = countFlops(c.g);
    expect(r3.unknown).toEqual(['conv']);
    expect(r3.params).toBe(27);
    expect(r3.macs).toBe(0);
  });
});

describe('countFlops in while loops (issue 17)', () => {
  it('counts weights reached through Enter and reports the loop body cost as per iteration', () => {
    const b = new G();
    b.ph('x', [1, 4]);
    b.c('w', new Array(12).fill(1), [4, 3], 'float32');
    b.op('w/read', 'Identity', ['w']);
    b.op('enter_w', 'Enter', ['w/read'], { frame_name: str('loop'), is_constant: { b: true } });
    b.op('enter_x', 'Enter', ['x'], { frame_name: str('loop') });
    b.op('merge', 'Merge', ['enter_x', 'next']);
    b.op('body', 'Identity', ['merge']);
    b.op('mm', 'MatMul', ['body', 'enter_w']);
    b.op('next', 'NextIteration', ['mm']);
    b.op('exit', 'Exit', ['merge']);
    b.c('w2', new Array(8).fill(1), [4, 2], 'float32');
    b.op('after', 'MatMul', ['exit', 'w2']);
    const r = countFlops(b.g);
    const by = Object.fromEntries(r.nodes.map((n) => [n.name, n]));
    expect(by.mm).toMatchObject({ params: 12, macs: 12 });
    expect(by.after).toMatchObject({ params: 8, macs: 8 });
    expect(r.params).toBe(20);
    // only the MatMul inside the loop is loop work; the one after the Exit is not
    expect(r.loop).toEqual({ nodes: 1, macs: 12, flops: 24 });
  });

  it('KWS LSTM: all 78,516 parameters (the loop weights come in through Enter), loop MACs noted', () => {
    const p = modelPath('arm-kws-lstm-s/LSTM_S.pb');
    if (!p) return;
    const r = countFlops(readGraph(p));
    expect(r.params).toBe(78516);
    expect(r.loop!.macs).toBeGreaterThan(0);
    expect(r.loop!.macs).toBeLessThan(r.macs);
  });
});

describe('countFlops on real models', () => {
  it('simple MNIST: 7,850 parameters and 7,840 MACs', () => {
    const p = modelPath('armnn-simple-mnist/simple_mnist_tf.pb');
    if (!p) return;
    const g = readGraph(p);
    const r = countFlops(g);
    expect(r.params).toBe(7850);
    expect(r.macs).toBe(7840);
    expect(r.flops).toBe(2 * 7840 + 10 + 3 * 10);
    expect(r.unknown).toEqual([]);
    // the text copy of the same model agrees
    const t = readGraph(modelPath('armnn-simple-mnist/simple_mnist_tf.prototxt')!);
    expect(countFlops(t)).toEqual(r);
  });

  it('Keras MobileNet 0.25/128 matches the layer-by-layer formula', () => {
    const p = modelPath('keras-mobilenet-0.25-128/mnet.pb');
    if (!p) return;
    const r = countFlops(readGraph(p), inferShapes(readGraph(p), { input_1: [1, 128, 128, 3] }));
    // conv1 (3x3, stride 2, 8 filters, BN), then 13 depthwise-separable blocks, each with BN after dw and pw
    const blocks: [number, number, number][] = [
      [8, 16, 1], [16, 32, 2], [32, 32, 1], [32, 64, 2], [64, 64, 1], [64, 128, 2],
      [128, 128, 1], [128, 128, 1], [128, 128, 1], [128, 128, 1], [128, 128, 1], [128, 256, 2], [256, 256, 1],
    ];
    let size = 64;
    let params = 3 * 3 * 3 * 8 + 4 * 8;
    let macs = size * size * 8 * 27;
    for (const [cin, cout, stride] of blocks) {
      size = Math.ceil(size / stride);
      params += 9 * cin + 4 * cin + cin * cout + 4 * cout;
      macs += size * size * cin * 9 + size * size * cin * cout;
    }
    expect(params).toBe(218544);
    expect(r.params).toBe(params);
    expect(r.macs).toBe(macs);
    expect(r.unknown).toEqual([]);
  });

  it('a QAT training graph (.meta, resource variables, Keras Adam slots) has the frozen graph\'s parameters', () => {
    const meta = modelPath('edgetpu-qat-fashion-mlp/checkpoints.meta');
    if (!meta) return;
    const frozen = countFlops(readGraph(modelPath('edgetpu-qat-fashion-mlp/frozen_model.pb')!));
    expect(frozen.params).toBe(784 * 128 + 128 + 4 * 128 + 128 * 10 + 10);
    expect(countFlops(readGraph(meta)).params).toBe(frozen.params);
    // TF1 VariableV2 weights with RMSProp slots: W [4,1], W [1,4], b [4] (the 1-element bias is not counted)
    expect(countFlops(readGraph(modelPath('mltf2ed-autoencoder-ckpt/model.ckpt.meta')!)).params).toBe(12);
  });
});
