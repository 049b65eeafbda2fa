import { describe, expect, test } from 'vitest';
import type { Graph } from '@tfpass/core';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { CONV_W, bnConsts, count, konst, lib, op, run } from './helpers.js';

const VALID = { strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'VALID' } };
const TOL = { atol: 1e-5, rtol: 1e-5 };

function input(g: Graph, name = 'input_op') {
  g.addNode({ name, op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  return name;
}

/** Run `transforms` on a copy and compare both graphs on seeded uniform inputs. */
async function same(g: Graph, transforms: string, inputs: Record<string, number[]>, opts: { outputs?: string[]; tol?: { atol: number; rtol: number } } = {}) {
  const after = g.clone();
  const outputs = opts.outputs ?? ['output'];
  const reports = await run(after, transforms, { outputs });
  const r = await expectSameOutputs(g, after, { inputs, outputs, seed: 7, trials: 2, ...(opts.tol ?? TOL) });
  expect(r.outputs.every((o) => o.ok)).toBe(true);
  return { after, reports };
}

function conv(g: Graph, o = 'Conv2D', name = 'conv_op', x = 'input_op', w = 'weights_op', extra = {}) {
  return op(g, name, o, [x, w], { ...VALID, ...extra });
}

function fused(g: Graph, name: string, x: string, bnOp = 'FusedBatchNorm', ch = 2, extra = {}) {
  const [mean, variance, beta, gamma] = bnConsts(g, ch);
  g.addNode({ name, op: bnOp, inputs: [x, gamma!, beta!, mean!, variance!], attrs: { T: { type: 'float32' }, epsilon: { f: 1e-5 }, is_training: { b: false }, ...(bnOp === 'FusedBatchNorm' ? {} : { U: { type: 'float32' } }), ...extra } });
}

function bnwgn(g: Graph, name: string, x: string, ch = 2) {
  const [mean, variance, beta, gamma] = bnConsts(g, ch);
  g.addNode({ name, op: 'BatchNormWithGlobalNormalization', inputs: [x, mean!, variance!, beta!, gamma!], attrs: { T: { type: 'float32' }, variance_epsilon: { f: 1e-5 }, scale_after_normalization: { b: false } } });
}

describe('spec §4.6 fold_batch_norms, numerically', () => {
  test('Conv2D', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
    conv(g);
    konst(g, 'mul_values', [2], [2, 3]);
    op(g, 'output', 'Mul', ['conv_op', 'mul_values']);
    const { after } = await same(g, 'fold_batch_norms', { input_op: [1, 1, 6, 2] });
    expect(count(after, 'Mul')).toBe(0);
  });

  test('MatMul', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [2, 2], [1, 2, 0.3, 0.4]);
    op(g, 'matmul_op', 'MatMul', ['input_op', 'weights_op'], { transpose_a: { b: false }, transpose_b: { b: false } });
    konst(g, 'mul_values', [2], [2, 3]);
    op(g, 'output', 'Mul', ['matmul_op', 'mul_values']);
    const { after } = await same(g, 'fold_batch_norms', { input_op: [6, 2] });
    expect(count(after, 'Mul')).toBe(0);
  });

  test('MatMul with transpose_b', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [3, 2], [1, 2, 0.3, 0.4, -1, 5]);
    op(g, 'matmul_op', 'MatMul', ['input_op', 'weights_op'], { transpose_a: { b: false }, transpose_b: { b: true } });
    konst(g, 'mul_values', [3], [2, 3, 4]);
    op(g, 'output', 'Mul', ['matmul_op', 'mul_values']);
    const { after } = await same(g, 'fold_batch_norms', { input_op: [6, 2] });
    expect(count(after, 'Mul')).toBe(0);
  });

  test('shared conv: two Muls, both outputs unchanged', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
    conv(g);
    konst(g, 'mul_values', [2], [2, 3]);
    op(g, 'output', 'Mul', ['conv_op', 'mul_values']);
    konst(g, 'mul_values_2', [2], [4, 5]);
    op(g, 'output_2', 'Mul', ['conv_op', 'mul_values_2']);
    await same(g, 'fold_batch_norms', { input_op: [1, 1, 6, 2] }, { outputs: ['output', 'output_2'] });
  });

  test('Keras form: depthwise -> Mul -> Add, and Add/AddV2/BiasAdd bias before the Mul', async () => {
    for (const biasOp of ['', 'Add', 'AddV2', 'BiasAdd']) {
      const g = new lib.Graph();
      input(g);
      konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
      conv(g, 'DepthwiseConv2dNative');
      let x = 'conv_op';
      if (biasOp) {
        konst(g, 'b', [4], [1, -2, 3, 0.5]);
        x = op(g, 'biased', biasOp, ['conv_op', 'b']);
      }
      konst(g, 'mul_values', [4], [2, 3, -1, 0.5]);
      op(g, 'mul', 'Mul', [x, 'mul_values']);
      konst(g, 'sub', [4], [0.1, 0.2, 0.3, 0.4]);
      op(g, 'output', 'AddV2', ['mul', 'sub']);
      const { after } = await same(g, 'fold_batch_norms', { input_op: [1, 1, 6, 2] });
      expect(count(after, 'Mul')).toBe(0);
      expect(count(after, /Add/)).toBe(1);
    }
  });
});

describe('spec §4.7 fold_old_batch_norms, numerically', () => {
  test('BatchNormWithGlobalNormalization after Conv2D', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
    conv(g);
    bnwgn(g, 'output', 'conv_op');
    const { after } = await same(g, 'fold_old_batch_norms', { input_op: [1, 1, 6, 2] });
    expect(count(after, /BatchNorm/)).toBe(0);
  });

  test('BatchNormWithGlobalNormalization with scale_after_normalization=true', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
    conv(g);
    bnwgn(g, 'output', 'conv_op');
    g.node('output').attrs.setBool('scale_after_normalization', true);
    const { after } = await same(g, 'fold_old_batch_norms', { input_op: [1, 1, 6, 2] });
    expect(count(after, /BatchNorm/)).toBe(0);
  });

  for (const bnOp of ['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3']) {
    test(`${bnOp} after Conv2D and after DepthwiseConv2dNative`, async () => {
      for (const convOp of ['Conv2D', 'DepthwiseConv2dNative']) {
        const g = new lib.Graph();
        input(g);
        konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
        conv(g, convOp);
        fused(g, 'output', 'conv_op', bnOp, convOp === 'Conv2D' ? 2 : 4);
        const { after } = await same(g, 'fold_old_batch_norms', { input_op: [1, 1, 6, 2] }, { tol: { atol: 2e-5, rtol: 2e-5 } });
        expect(count(after, /BatchNorm/)).toBe(0);
      }
    });
  }

  test('BatchNormWithGlobalNormalization after DepthwiseConv2dNative', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
    conv(g, 'DepthwiseConv2dNative');
    bnwgn(g, 'output', 'conv_op', 4);
    const { after } = await same(g, 'fold_old_batch_norms', { input_op: [1, 1, 6, 2] });
    expect(count(after, /BatchNorm/)).toBe(0);
  });

  for (const split of [true, false]) {
    test(`ConcatV2 of two convs (split=${split})`, async () => {
      const g = new lib.Graph();
      input(g, 'input_op');
      input(g, 'input1_op');
      konst(g, 'weights_op', split ? [1, 2, 2, 1] : [1, 2, 1, 2], [1, 2, 3, 4]);
      konst(g, 'weights1_op', split ? [1, 2, 2, 1] : [1, 2, 1, 2], [1, 2, 3, 4]);
      conv(g, 'Conv2D', 'conv_op', 'input_op', 'weights_op');
      conv(g, 'Conv2D', 'conv1_op', 'input1_op', 'weights1_op');
      konst(g, 'axis', [], [split ? 3 : 2], 'int32');
      op(g, 'concat_op', 'ConcatV2', ['conv_op', 'conv1_op', 'axis'], { N: { i: 2 }, Tidx: { type: 'int32' } });
      fused(g, 'output', 'concat_op');
      const shape = split ? [1, 1, 6, 2] : [1, 1, 12, 1];
      const { after } = await same(g, 'fold_old_batch_norms', { input_op: shape, input1_op: shape });
      expect(count(after, /BatchNorm/)).toBe(0);
    });
  }

  test('Conv2D -> BatchToSpaceND -> FusedBatchNorm', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
    conv(g);
    konst(g, 'block_shape_op', [2], [1, 2], 'int32');
    konst(g, 'crops_op', [2, 2], [0, 0, 0, 1], 'int32');
    g.addNode({ name: 'b2s', op: 'BatchToSpaceND', inputs: ['conv_op', 'block_shape_op', 'crops_op'], attrs: { T: { type: 'float32' }, Tblock_shape: { type: 'int32' }, Tcrops: { type: 'int32' } } });
    fused(g, 'output', 'b2s');
    const { after } = await same(g, 'fold_old_batch_norms', { input_op: [2, 1, 3, 2] });
    expect(count(after, /BatchNorm/)).toBe(0);
  });

  for (const addOp of ['BiasAdd', 'Add', 'AddV2']) {
    test(`conv -> ${addOp}(const) -> FusedBatchNorm (keyword-spotting form)`, async () => {
      const g = new lib.Graph();
      input(g);
      konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
      conv(g);
      konst(g, 'bias', addOp === 'BiasAdd' ? [2] : [1, 1, 1, 2], [0.5, -3]);
      op(g, 'biased', addOp, ['conv_op', 'bias']);
      fused(g, 'output', 'biased');
      const { after } = await same(g, 'fold_old_batch_norms', { input_op: [1, 1, 6, 2] });
      expect(count(after, /BatchNorm/)).toBe(0);
      expect(count(after, /Add/)).toBe(1);
    });
  }

  test('weights shared by two convs and BN constants shared by two BNs', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
    conv(g, 'Conv2D', 'conv_a');
    conv(g, 'Conv2D', 'conv_b');
    conv(g, 'Conv2D', 'conv_c');
    const [mean, variance, beta, gamma] = bnConsts(g);
    for (const n of ['a', 'b']) g.addNode({ name: `bn_${n}`, op: 'FusedBatchNormV3', inputs: [`conv_${n}`, gamma!, beta!, mean!, variance!], attrs: { T: { type: 'float32' }, U: { type: 'float32' }, epsilon: { f: 1e-3 }, is_training: { b: false } } });
    op(g, 'ab', 'AddV2', ['bn_a', 'bn_b']);
    op(g, 'output', 'AddV2', ['ab', 'conv_c']);
    const { after } = await same(g, 'fold_old_batch_norms', { input_op: [1, 1, 6, 2] });
    expect(count(after, /BatchNorm/)).toBe(0);
  });
});

describe('spec §4.8 convolution fusions, numerically', () => {
  const base = (g: Graph, resize: boolean, pad: boolean) => {
    input(g);
    konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
    let x = 'input_op';
    if (resize) {
      konst(g, 'size', [2], [12, 4], 'int32');
      x = op(g, 'resize_op', 'ResizeBilinear', [x, 'size'], { align_corners: { b: false } });
    }
    if (pad) {
      konst(g, 'pad_dims_op', [4, 2], [0, 0, 1, 1, 2, 2, 0, 0], 'int32');
      x = op(g, 'pad_op', 'MirrorPad', [x, 'pad_dims_op'], { mode: { s: 'REFLECT' }, Tpaddings: { type: 'int32' } });
    }
    conv(g, 'Conv2D', 'output', x);
  };
  for (const [name, resize, pad, fusedOp] of [
    ['fuse_resize_pad_and_conv', true, true, 'FusedResizeAndPadConv2D'],
    ['fuse_resize_and_conv', true, false, 'FusedResizeAndPadConv2D'],
    ['fuse_pad_and_conv', false, true, 'FusedPadConv2D'],
  ] as const) {
    test(name, async () => {
      const g = new lib.Graph();
      base(g, resize, pad);
      const { after } = await same(g, name, { input_op: [1, 2, 3, 2] });
      expect(count(after, 'Conv2D') + count(after, 'MirrorPad') + count(after, 'ResizeBilinear')).toBe(0);
      expect(after.node('output').op).toBe(fusedOp);
    });
  }
});

describe('flatten_atrous_conv, round_weights, quantize_weights', () => {
  for (const convOp of ['Conv2D', 'DepthwiseConv2dNative']) {
    test(`flatten_atrous_conv (${convOp})`, async () => {
      const g = new lib.Graph();
      input(g);
      konst(g, 'block', [2], [2, 2], 'int32');
      konst(g, 'paddings', [2, 2], [1, 2, 1, 2], 'int32');
      g.addNode({ name: 's2b', op: 'SpaceToBatchND', inputs: ['input_op', 'block', 'paddings'], attrs: { T: { type: 'float32' }, Tblock_shape: { type: 'int32' }, Tpaddings: { type: 'int32' } } });
      konst(g, 'weights_op', [2, 2, 2, 1], [0.1, 0.2, 0.3, 0.4, 0.1, 0.2, 0.3, 0.4]);
      conv(g, convOp, 'conv', 's2b');
      konst(g, 'crops', [2, 2], [0, 1, 0, 1], 'int32');
      g.addNode({ name: 'output', op: 'BatchToSpaceND', inputs: ['conv', 'block', 'crops'], attrs: { T: { type: 'float32' }, Tblock_shape: { type: 'int32' }, Tcrops: { type: 'int32' } } });
      const { after } = await same(g, 'flatten_atrous_conv', { input_op: [1, 3, 3, 2] }, { tol: { atol: 1e-6, rtol: 1e-5 } });
      expect(after.nodes().map((n) => n.op)).toEqual(['Placeholder', 'Const', convOp]);
    });
  }

  test('round_weights keeps float Consts and stays within half a bucket', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [1, 2, 2, 10], Array.from({ length: 40 }, (_, i) => CONV_W[i % 8]!));
    conv(g);
    g.node('conv_op').attrs.setJson('T', { type: 'float32' });
    op(g, 'output', 'Identity', ['conv_op']);
    const { after } = await same(g, 'round_weights', { input_op: [1, 1, 6, 2] }, { tol: { atol: 0.5, rtol: 0 } });
    expect(after.node('weights_op').op).toBe('Const');
    expect(after.node('weights_op').attrs.getType('dtype')).toBe('float32');
    const vals = new Set(after.node('weights_op').attrs.getTensor('value').toNumbers());
    expect(vals.size).toBeLessThanOrEqual(8);
  });

  test('quantize_weights: quint8 Const + Dequantize, small tensors untouched', async () => {
    const g = new lib.Graph();
    input(g);
    konst(g, 'weights_op', [1, 2, 2, 10], Array.from({ length: 40 }, (_, i) => CONV_W[i % 8]!));
    konst(g, 'small', [1, 1, 1, 10], Array.from({ length: 10 }, (_, i) => -i));
    conv(g);
    op(g, 'output', 'Add', ['conv_op', 'small']);
    const { after } = await same(g, 'quantize_weights(minimum_size=16)', { input_op: [1, 1, 6, 2] }, { tol: { atol: 0.5, rtol: 0 } });
    expect(after.node('weights_op').op).toBe('Dequantize');
    expect(after.producer(after.node('weights_op').dataInputs[0]!)!.attrs.getType('dtype')).toBe('quint8');
    expect(after.node('small').op).toBe('Const');
  });
});

describe('freeze_placeholder', () => {
  /** y = cond(training, x*2 + 1, relu(x) - 1) written the way tf.cond lays it out. */
  function condGraph(defaultTraining: boolean) {
    const g = new lib.Graph();
    input(g, 'x');
    konst(g, 'default', [], [defaultTraining ? 1 : 0], 'bool');
    g.addNode({ name: 'training', op: 'PlaceholderWithDefault', inputs: ['default'], attrs: { dtype: { type: 'bool' }, shape: { shape: [] } } });
    g.addNode({ name: 'cond/Switch', op: 'Switch', inputs: ['training', 'training'], attrs: { T: { type: 'bool' } } });
    g.addNode({ name: 'cond/switch_t', op: 'Identity', inputs: ['cond/Switch:1'], attrs: { T: { type: 'bool' } } });
    g.addNode({ name: 'cond/switch_f', op: 'Identity', inputs: ['cond/Switch'], attrs: { T: { type: 'bool' } } });
    g.addNode({ name: 'cond/pred_id', op: 'Identity', inputs: ['training'], attrs: { T: { type: 'bool' } } });
    op(g, 'cond/Switch_1', 'Switch', ['x', 'cond/pred_id']);
    konst(g, 'cond/two', [], [2], 'float32', );
    g.node('cond/two').addControlInput('cond/switch_t');
    konst(g, 'cond/one', [], [1]);
    g.node('cond/one').addControlInput('cond/switch_t');
    op(g, 'cond/mul', 'Mul', ['cond/Switch_1:1', 'cond/two']);
    op(g, 'cond/true', 'AddV2', ['cond/mul', 'cond/one']);
    konst(g, 'cond/m1', [], [1]);
    g.node('cond/m1').addControlInput('cond/switch_f');
    op(g, 'cond/relu', 'Relu', ['cond/Switch_1']);
    op(g, 'cond/false', 'Sub', ['cond/relu', 'cond/m1']);
    op(g, 'cond/Merge', 'Merge', ['cond/false', 'cond/true'], { N: { i: 2 } });
    op(g, 'output', 'Identity', ['cond/Merge']);
    return g;
  }

  for (const value of [false, true]) {
    test(`value=${value}: every Switch/Merge goes and the chosen branch's outputs stay`, async () => {
      const g = condGraph(true);
      const after = g.clone();
      const r = await run(after, `freeze_placeholder(name=training, value=${value})`, { outputs: ['output'] });
      expect(count(after, /Switch|Merge/)).toBe(0);
      expect(after.node('training').op).toBe('Const');
      expect(after.has(value ? 'cond/relu' : 'cond/mul')).toBe(false);
      expect(r[0]!.stats.removed).toBeGreaterThan(0);
      // Reference: the same graph whose default takes the frozen branch.
      const ref = condGraph(value);
      const rep = await expectSameOutputs(ref, after, { inputs: { x: [2, 3] }, outputs: ['output'], seed: 3, ...TOL });
      expect(rep.outputs[0]!.ok).toBe(true);
    });
  }

  test('a LogicalNot predicate is resolved too', async () => {
    const g = condGraph(true);
    g.addNode({ name: 'not_training', op: 'LogicalNot', inputs: ['training'] });
    g.node('cond/pred_id').setInput(0, 'not_training');
    g.node('cond/Switch').setInputs(['not_training', 'not_training']);
    const after = g.clone();
    await run(after, 'freeze_placeholder(name=training, value=true)', { outputs: ['output'] });
    expect(count(after, /Switch|Merge/)).toBe(0);
    // not(true) takes the false branch: relu(x) - 1.
    expect(after.has('cond/relu')).toBe(true);
    expect(after.has('cond/mul')).toBe(false);
    await expectSameOutputs(condGraph(false), after, { inputs: { x: [2, 3] }, outputs: ['output'], seed: 4, ...TOL });
  });

  test('unknown name is a parameter error with a suggestion', async () => {
    const g = condGraph(true);
    await expect(run(g, 'freeze_placeholder(name=trainin, value=false)')).rejects.toThrow(/did you mean 'training'/);
  });
});
