import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Graph, Tensor, UnsupportedOpError, readGraph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { ExecutionError, createExecutor, useBackend } from '../src/index.js';
import { expectSameOutputs, randomGraph } from '../src/testing.js';

function convGraph(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 5, 5, 2] } } });
  const w = Tensor.fromValues('float32', [3, 3, 2, 4], Array.from({ length: 72 }, (_, i) => Math.sin(i)));
  g.addNode({ name: 'w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: w } } });
  g.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', 'w'], attrs: { T: { type: 'float32' }, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' } } });
  g.addNode({ name: 'b', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [4], [0.1, -0.2, 0.3, -0.4]) } } });
  g.addNode({ name: 'y', op: 'BiasAdd', inputs: ['conv', 'b'], attrs: { T: { type: 'float32' }, data_format: { s: 'NHWC' } } });
  g.addNode({ name: 'r', op: 'Relu6', inputs: ['y'], attrs: { T: { type: 'float32' } } });
  return g;
}

describe('executor', () => {
  it('runs a graph built in code exactly like the same tfjs ops', async () => {
    const g = convGraph();
    const xs = Tensor.fromValues('float32', [1, 5, 5, 2], Array.from({ length: 50 }, (_, i) => Math.cos(i * 0.7)));
    const [r] = await createExecutor().run(g, { x: xs }, ['r']);
    await useBackend('wasm');
    const ref = tf.relu6(tf.add(tf.conv2d(tf.tensor4d(xs.data as Float32Array, [1, 5, 5, 2]), tf.tensor4d(g.node('w').attrs.getTensor('value').data as Float32Array, [3, 3, 2, 4]), 1, 'same'), tf.tensor1d([0.1, -0.2, 0.3, -0.4])));
    expect(r!.shape).toEqual([1, 5, 5, 4]);
    expect(Array.from(r!.data as Float32Array)).toEqual(Array.from(ref.dataSync()));
  });

  it('feeds non-Placeholder nodes and fetches intermediates', async () => {
    const g = convGraph();
    const y = Tensor.fromValues('float32', [1, 1, 1, 4], [-1, 3, 7, 0.5]);
    const [r] = await createExecutor().run(g, { y }, ['r']);
    expect(Array.from(r!.data as Float32Array)).toEqual([0, 3, 6, 0.5]);
    const b = Tensor.fromValues('float32', [4], [1, 1, 1, 1]);
    const xs = Tensor.zeros('float32', [1, 5, 5, 2]);
    const [out] = await createExecutor().run(g, { x: xs, b }, ['y']);
    expect(Array.from(out!.data as Float32Array).every((v) => v === 1)).toBe(true);
  });

  it('notices graph edits between runs (cache invalidation)', async () => {
    const g = convGraph();
    const ex = createExecutor();
    const y = Tensor.fromValues('float32', [1, 1, 1, 4], [-1, 3, 7, 0.5]);
    expect(Array.from((await ex.run(g, { y }, ['r']))[0]!.data as Float32Array)).toEqual([0, 3, 6, 0.5]);
    g.node('r').op = 'Relu';
    g.node('r').setAttr('T', { type: 'float32' });
    expect(Array.from((await ex.run(g, { y }, ['r']))[0]!.data as Float32Array)).toEqual([0, 3, 7, 0.5]);
  });

  it('names op and node of unsupported ops', async () => {
    const g = convGraph();
    g.addNode({ name: 'weird', op: 'MyCustomOp', inputs: ['r'] });
    const err = await createExecutor().run(g, { x: Tensor.zeros('float32', [1, 5, 5, 2]) }, ['weird']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedOpError);
    expect(String((err as Error).message)).toMatch(/'weird'.*'MyCustomOp'.*registerKernel/);
  });

  it('cpu and wasm agree', async () => {
    const g = convGraph();
    const xs = Tensor.fromValues('float32', [1, 5, 5, 2], Array.from({ length: 50 }, (_, i) => Math.cos(i)));
    const [a] = await createExecutor({ backend: 'cpu' }).run(g, { x: xs }, ['r']);
    const [b] = await createExecutor({ backend: 'wasm' }).run(g, { x: xs }, ['r']);
    const d = Array.from(a!.data as Float32Array).map((v, i) => Math.abs(v - (b!.data as Float32Array)[i]!));
    expect(Math.max(...d)).toBeLessThan(1e-5);
  });
});

describe('expectSameOutputs', () => {
  it('passes for a copy and throws for a changed constant', async () => {
    const g = convGraph();
    const rep = await expectSameOutputs(g, g.clone(), { inputs: { x: [1, 5, 5, 2] }, outputs: ['r', 'conv'], seed: 3 });
    expect(rep.outputs.map((o) => o.maxAbsError)).toEqual([0, 0]);
    expect(rep.inputs.x).toBe('float32[1,5,5,2] ~ U(-1, 1)');
    const h = g.clone();
    h.node('b').setAttr('value', { tensor: Tensor.fromValues('float32', [4], [0.1, -0.2, 0.3, -0.41]) });
    await expect(expectSameOutputs(g, h, { inputs: { x: [1, 5, 5, 2] }, outputs: ['y'], atol: 1e-3 })).rejects.toThrow(/differ beyond/);
    await expectSameOutputs(g, h, { inputs: { x: [1, 5, 5, 2] }, outputs: ['y'], atol: 0.02, rtol: 0 });
  });

  it('random graphs run and equal their clones', async () => {
    for (let s = 1; s <= 5; s++) {
      const { graph, inputs, outputs } = randomGraph(s);
      graph.validate();
      const rep = await expectSameOutputs(graph, graph.clone(), { inputs, outputs, seed: s });
      expect(rep.outputs[0]!.maxAbsError).toBe(0);
    }
  });
});

describe('real models', () => {
  it('tf2onnx-regression gives exactly X*W + b', async () => {
    const p = modelPath('tf2onnx-regression/graphdef/frozen.pb');
    if (!p) return;
    const g = readGraph(p);
    const W = Math.fround(0.21396178);
    const b = Math.fround(1.0495254);
    expect((g.node('W').attrs.getTensor('value').data as Float32Array)[0]).toBe(W);
    const xs = [0, 1, -2.5, 3.25, 100];
    const [pred] = await createExecutor().run(g, { X: Tensor.fromValues('float32', [5], xs) }, ['pred']);
    expect(Array.from(pred!.data as Float32Array)).toEqual(xs.map((x) => Math.fround(Math.fround(x * W) + b)));
  });
});

describe('fetching constants', () => {
  it('returns Const values without freeing the cached model weights', async () => {
    const g = convGraph();
    const ex = createExecutor();
    const [b1] = await ex.run(g, {}, ['b']);
    const [b2, w] = await ex.run(g, {}, ['b', 'w']);
    expect(Array.from(b1!.data as Float32Array)).toEqual(Array.from(b2!.data as Float32Array));
    expect(w!.shape).toEqual([3, 3, 2, 4]);
    const [r] = await ex.run(g, { x: Tensor.zeros('float32', [1, 5, 5, 2]) }, ['r']);
    expect(Array.from(r!.data as Float32Array).slice(0, 4)).toEqual([0.1, 0, 0.3, 0].map(Math.fround));
  });
});

describe('memory', () => {
  it('repeated runs leave no tfjs tensors behind (builtin and tfpass kernels)', async () => {
    const g = convGraph();
    g.addNode({ name: 'mn', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.scalar('float32', -1) } } });
    g.addNode({ name: 'mx', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.scalar('float32', 1) } } });
    g.addNode({ name: 'fq', op: 'FakeQuantWithMinMaxVars', inputs: ['r', 'mn', 'mx'] });
    for (const [i, v] of [[1, 1.5], [2, 0.1], [3, -0.2], [4, 2]] as const) g.addNode({ name: `p${i}`, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [4], [v, v, v, v]) } } });
    g.addNode({ name: 'bn', op: 'FusedBatchNormV3', inputs: ['fq', 'p1', 'p2', 'p3', 'p4'], attrs: { is_training: { b: false } } });
    const ex = createExecutor();
    const x = Tensor.fromValues('float32', [1, 5, 5, 2], Array.from({ length: 50 }, (_, i) => Math.sin(i)));
    await ex.run(g, { x }, ['bn', 'fq']);
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await ex.run(g, { x }, ['bn', 'fq', 'conv']);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('feeding output ports', () => {
  it('feeds n:1 of a multi-output node while n:0 is still computed', async () => {
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'axis', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.scalar('int32', 0) } } });
    g.addNode({ name: 'split', op: 'Split', inputs: ['axis', 'x'], attrs: { T: { type: 'float32' }, num_split: { i: 2 } } });
    g.addNode({ name: 'sum', op: 'AddV2', inputs: ['split', 'split:1'], attrs: { T: { type: 'float32' } } });
    const x = Tensor.fromValues('float32', [4], [1, 2, 3, 4]);
    const ex = createExecutor();
    const [s0] = await ex.run(g, { x }, ['sum']);
    expect(Array.from(s0!.data as Float32Array)).toEqual([4, 6]);
    const [s1, fed] = await ex.run(g, { x, 'split:1': Tensor.fromValues('float32', [2], [10, 20]) }, ['sum', 'split:1']);
    expect(Array.from(s1!.data as Float32Array)).toEqual([11, 22]);
    expect(Array.from(fed!.data as Float32Array)).toEqual([10, 20]);
    expect(g.has('split/tfpass_feed_1')).toBe(false);
  });
});

describe('expectSameOutputs inputs', () => {
  it('feeds each graph only the inputs it has and rejects names in neither', async () => {
    const g = convGraph();
    const h = g.clone();
    // Freeze x into a constant in `h`: same outputs for that value.
    const xs = Tensor.fromValues('float32', [1, 5, 5, 2], Array.from({ length: 50 }, (_, i) => Math.cos(i)));
    h.removeNode('x');
    h.addNode({ name: 'x', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: xs } } });
    const hc = h.clone();
    hc.renameNode('x', 'x_frozen');
    await expectSameOutputs(g, hc, { inputs: { x: xs }, outputs: ['r'] });
    await expect(expectSameOutputs(g, hc, { inputs: { x: xs, typo: [1] }, outputs: ['r'] })).rejects.toThrow(/'typo' is in neither graph/);
  });
});

describe('failures inside tfjs', () => {
  it('name the failing node', async () => {
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.zeros('float32', [4, 2]) } } });
    g.addNode({ name: 'ok', op: 'Relu', inputs: ['x'], attrs: { T: { type: 'float32' } } });
    g.addNode({ name: 'mm', op: 'MatMul', inputs: ['ok', 'w'], attrs: { T: { type: 'float32' } } });
    g.addNode({ name: 'out', op: 'Relu', inputs: ['mm'], attrs: { T: { type: 'float32' } } });
    const err = await createExecutor().run(g, { x: Tensor.zeros('float32', [2, 3]) }, ['out']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecutionError);
    expect((err as ExecutionError).node).toBe('mm');
    expect((err as Error).message).toMatch(/^node 'mm' \(MatMul\) failed on tfjs \(wasm\): /);
  });
});
