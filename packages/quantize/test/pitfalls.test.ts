/**
 * Issue 15 items 5 and 7 at the API level: quant-check takes Keras' ReLU6 clip as one activation
 * (as tfpass toco fuses it into RELU6), and the pitfall finders on the real graphs.
 */
import { describe, expect, it } from 'vitest';
import { readGraph, readModel } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { calibrationPitfalls, loadTarget, planQuantization, quantCheck, quantizeEval, quantizeTraining, unfoldedBatchNorms } from '../src/index.js';
import { G } from './helpers.js';

const tflite = loadTarget('tflite');
const errors = (fs: ReturnType<typeof quantCheck>) => fs.filter((f) => f.severity === 'error').map((f) => f.tensor);

/** x → conv → bias → [Relu →] clip → fq(0, 6) → conv2, the clip's ops in the given order. */
function clipGraph(opts: { relu: boolean; order: ['Minimum' | 'Maximum', 'Minimum' | 'Maximum']; bounds?: [number, number]; leak?: boolean }) {
  const b = new G();
  b.input('x', [1, 4, 4, 3]);
  const wq = b.op('wq', 'FakeQuantWithMinMaxVars', [b.konst('w', [1, 1, 3, 4]), b.konst('wmin', [], [-1]), b.konst('wmax', [], [1])], { num_bits: { i: 8 }, narrow_range: { b: true } });
  b.conv('conv', 'x', wq);
  let t = b.biasAdd('bias', 'conv', b.konst('b', [4]));
  if (opts.relu) t = b.op('relu', 'Relu', [t]);
  const [lo, hi] = opts.bounds ?? [0, 6];
  for (const op of opts.order) t = b.op(`clip/${op}`, op, [t, b.konst(`clip/${op}/y`, [], [op === 'Minimum' ? hi : lo])]);
  if (opts.leak) b.op('other', 'Relu', [`clip/${opts.order[0]}`]); // the inner tensor has a second reader
  const aq = b.op('aq', 'FakeQuantWithMinMaxVars', [t, b.konst('amin', [], [0]), b.konst('amax', [], [6])], { num_bits: { i: 8 }, narrow_range: { b: false } });
  const wq2 = b.op('wq2', 'FakeQuantWithMinMaxVars', [b.konst('w2', [1, 1, 4, 2]), b.konst('w2min', [], [-1]), b.konst('w2max', [], [1])], { num_bits: { i: 8 }, narrow_range: { b: true } });
  b.conv('conv2', aq, wq2);
  b.op('out', 'FakeQuantWithMinMaxVars', ['conv2', b.konst('omin', [], [-4]), b.konst('omax', [], [4])], { num_bits: { i: 8 }, narrow_range: { b: false } });
  return b.g;
}

describe('quant-check: the Keras ReLU6 clip is one activation', () => {
  it('Relu → Minimum(6) → Maximum(0) with one range after it: no missing range', () => {
    expect(errors(quantCheck(clipGraph({ relu: true, order: ['Minimum', 'Maximum'] }), tflite))).toEqual([]);
  });
  it('either order, with or without the Relu; ±1 too (RELU_N1_TO_1)', () => {
    expect(errors(quantCheck(clipGraph({ relu: false, order: ['Maximum', 'Minimum'] }), tflite))).toEqual([]);
    expect(errors(quantCheck(clipGraph({ relu: false, order: ['Minimum', 'Maximum'], bounds: [-1, 1] }), tflite))).toEqual([]);
  });
  it('still reports the tensors inside a clip that is not a ReLU6 (bounds 0..5), or whose inner tensor has another reader', () => {
    expect(errors(quantCheck(clipGraph({ relu: true, order: ['Minimum', 'Maximum'], bounds: [0, 5] }), tflite))).toEqual(['relu', 'clip/Minimum']);
    expect(errors(quantCheck(clipGraph({ relu: false, order: ['Minimum', 'Maximum'], leak: true }), tflite))).toContain('clip/Minimum');
  });
  it('a target without clips (a vendor profile) keeps demanding the inner ranges', () => {
    const { clips: _, ...noClips } = tflite;
    expect(errors(quantCheck(clipGraph({ relu: true, order: ['Minimum', 'Maximum'] }), noClips))).toEqual(['relu', 'clip/Minimum']);
  });
});

describe('quant-check on a create_eval_graph MetaGraphDef', () => {
  it('variable initializers, the saver and range reads are not checked (a frozen graph drops them); the data path still is', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 3]);
    b.conv('conv', 'x', b.konst('w', [1, 1, 3, 4]));
    b.op('relu', 'Relu', [b.biasAdd('bias', 'conv', b.konst('b', [4]))]);
    b.op('out', 'Sub', ['relu', 'relu']); // no site: contrib quantizes only Add/Mul after a layer
    const { model } = quantizeEval(b.g);
    const g = model.graph;
    expect(g.nodes().some((n) => n.op === 'Assign')).toBe(true);
    // The Sub's output has no range but no reader either, so nothing is missing...
    expect(errors(quantCheck(g, tflite))).toEqual([]);
    // ...until something reads it.
    g.addNode({ name: 'sink', op: 'Tanh', inputs: ['out'], attrs: { T: { type: 'float32' } } });
    expect(errors(quantCheck(g, tflite))).toEqual(['out']);
  });
});

const mnet = modelPath('keras-mobilenet-0.25-128/mnet.pb');
const slim = modelPath('tf-doc-localisation-mnv2/frozen_model.pb');
const dscnn = modelPath('arm-kws-ds-cnn-s/DS_CNN_S.pb');
const mlp = modelPath('edgetpu-qat-fashion-mlp/frozen_model.pb');
const mlpMeta = modelPath('edgetpu-qat-fashion-mlp/checkpoints.meta');

describe.skipIf(!mnet)('unfolded batch norms in the real graphs', () => {
  it('Keras MobileNet: 27 unfused Mul/Add norms right after the convolutions', () => {
    const u = unfoldedBatchNorms(readGraph(mnet!));
    expect(u).toHaveLength(27);
    expect(new Set(u.map((x) => x.op))).toEqual(new Set(['Mul']));
    expect(u[0]).toEqual({ layer: 'conv1/convolution', norm: 'conv1_bn/batchnorm_1/mul_1', op: 'Mul' });
  });
  it('slim MobileNetV2: 52 FusedBatchNorm fed by a layer; DS-CNN: 9 through a BiasAdd', () => {
    expect(unfoldedBatchNorms(readGraph(slim!)).filter((x) => x.op === 'FusedBatchNorm')).toHaveLength(52);
    const ds = unfoldedBatchNorms(readGraph(dscnn!));
    expect(ds).toHaveLength(9);
    expect(ds[0]!.layer).toMatch(/Conv2D$/);
  });
  it('edgetpu MLP: its norm follows a Relu (not foldable into the layer), so none is listed', () => {
    expect(unfoldedBatchNorms(readGraph(mlp!))).toEqual([]);
  });
  it('create_eval_graph folds the slim norms itself: no pitfall; the training graph of the frozen file is frozen', () => {
    const e = quantizeEval(readModel(slim!));
    expect(e.folded).toHaveLength(52);
    expect(e.pitfalls).toEqual([]);
    const t = quantizeTraining(readModel(slim!));
    expect(t.pitfalls.map((p) => p.kind)).toEqual(['frozen']);
  });
  it('the edgetpu .meta with variables: no pitfall but the already-quantized fact', () => {
    const t = quantizeTraining(readModel(mlpMeta!));
    expect(t.sites).toEqual([]);
    expect(t.pitfalls.map((p) => [p.kind, p.warn])).toEqual([['already-quantized', false]]);
  });
  it('calibrationPitfalls: Keras MobileNet raw warns, folded-by-plan count is passed through', () => {
    const g = readGraph(mnet!);
    const p = calibrationPitfalls(g, planQuantization(g).length);
    expect(p).toHaveLength(1);
    expect(p[0]!.message).toMatch(/^calibrating 81 ranges on a graph with 27 unfolded batch norms/);
    expect(p[0]!.fix).toBe('fold');
  });
});
