import { describe, expect, it } from 'vitest';
import { Tensor, encodeGraph, metaCollection, metaSaver, decodeVariableDef, readModel, encodeModel } from '@tfpass/core';
import { DebiasedEma, applySites, quantCheck, quantizeGraph, planQuantization, quantizeEval, quantizeTraining, trackedRange } from '../src/index.js';
import { G } from './helpers.js';

const fq = (p: string) => `${p}/FakeQuantWithMinMaxVars`;
const names = (g: G) => new Set(g.g.nodes().map((n) => n.name));
const evalGraph = (b: G) => {
  quantizeEval(b.g);
  return b;
};

describe('contrib placement rules (spec §1.3–1.4)', () => {
  it('conv -> Relu6 without bias: weights_quant feeds the conv, act_quant after Relu6', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 3]);
    b.conv('test/Conv2D', 'x', b.variable('test/weights', [3, 3, 3, 8]));
    b.op('test/Relu6', 'Relu6', ['test/Conv2D']);
    b.op('out', 'Identity', ['test/Relu6']);
    evalGraph(b);
    expect(b.g.node('test/Conv2D').dataInputs[1]).toBe(fq('test/weights_quant'));
    expect(b.g.node(fq('test/weights_quant')).attrs.getBool('narrow_range')).toBe(true);
    expect(b.g.node(fq('test/act_quant')).dataInputs[0]).toBe('test/Relu6');
    expect(b.g.node(fq('test/act_quant')).attrs.getBool('narrow_range')).toBe(false);
    expect(b.g.node('out').dataInputs[0]).toBe(fq('test/act_quant'));
  });

  it('final layer without activation: act_quant on the BiasAdd output', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 3]);
    b.conv('test/Conv2D', 'x', b.variable('test/weights', [3, 3, 3, 8]));
    b.biasAdd('test/BiasAdd', 'test/Conv2D', b.variable('test/bias', [8]));
    b.op('out', 'Softmax', ['test/BiasAdd']);
    const sites = planQuantization(b.g);
    expect(sites.map((s) => [s.name, s.tensor])).toEqual([['weights_quant', 'test/weights/read'], ['act_quant', 'test/BiasAdd']]);
    // An Identity consumer counts as the activation (contrib's TODO), so it gets the range.
    b.op('out2', 'Identity', ['test/BiasAdd']);
    expect(planQuantization(b.g)[1]!.tensor).toBe('out2');
  });

  it('bypass (residual Add before Relu): conv_quant into the Add, act_quant one scope up, add_quant skipped', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 8]);
    b.conv('test/test/Conv2D', 'x', b.variable('test/test/weights', [3, 3, 8, 8]));
    b.biasAdd('test/test/BiasAdd', 'test/test/Conv2D', b.variable('test/test/bias', [8]), 'AddV2');
    b.op('test/add', 'AddV2', ['test/test/BiasAdd', 'x']);
    b.op('test/Relu', 'Relu', ['test/add']);
    b.op('out', 'Identity', ['test/Relu']);
    evalGraph(b);
    const n = names(b);
    expect(n.has(fq('test/test/conv_quant'))).toBe(true);
    expect(b.g.node('test/add').dataInputs[0]).toBe(fq('test/test/conv_quant'));
    expect(n.has(fq('test/act_quant'))).toBe(true);
    expect([...n].some((x) => x.includes('add_quant'))).toBe(false);
  });

  it('bypass followed by Identity: activation on the Identity, the Add itself via activation_Add_quant', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 8]);
    b.conv('test/test/Conv2D', 'x', b.variable('test/test/weights', [3, 3, 8, 8]));
    b.biasAdd('test/test/BiasAdd', 'test/test/Conv2D', b.variable('test/test/bias', [8]));
    b.op('test/add', 'Add', ['x', 'test/test/BiasAdd']);
    b.op('out', 'Identity', ['test/add']);
    b.op('out2', 'Softmax', ['test/add']);
    const sites = planQuantization(b.g);
    expect(sites.map((s) => s.prefix)).toEqual(['test/test/weights_quant', 'test/act_quant', 'test/test/conv_quant', 'test/add/activation_Add_quant']);
    // Identity consumer: activation pattern (Identity ← bypass) wins, as in contrib.
    expect(sites[1]!.tensor).toBe('out');
  });

  it('post-activation bypass: post_activation_bypass_quant unless a Relu follows', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 8]);
    b.conv('scope1/Conv2D', 'x', b.variable('scope1/weights', [3, 3, 8, 8]));
    b.biasAdd('scope1/BiasAdd', 'scope1/Conv2D', b.variable('scope1/bias', [8]));
    b.op('scope1/Relu', 'Relu', ['scope1/BiasAdd']);
    b.op('scope1/add', 'AddV2', ['x', 'scope1/Relu']);
    b.op('out', 'Softmax', ['scope1/add']);
    const sites = planQuantization(b.g);
    expect(sites.map((s) => s.prefix)).toEqual(['scope1/weights_quant', 'scope1/act_quant', 'scope1/post_activation_bypass_quant']);
    const b2 = new G();
    b2.input('x', [1, 4, 4, 8]);
    b2.conv('scope1/Conv2D', 'x', b2.variable('scope1/weights', [3, 3, 8, 8]));
    b2.biasAdd('scope1/BiasAdd', 'scope1/Conv2D', b2.variable('scope1/bias', [8]));
    b2.op('scope1/Relu', 'Relu', ['scope1/BiasAdd']);
    b2.op('scope1/add', 'AddV2', ['x', 'scope1/Relu']);
    b2.op('scope1/Relu_1', 'Relu', ['scope1/add']);
    expect(planQuantization(b2.g).some((s) => s.name === 'post_activation_bypass_quant')).toBe(false);
  });

  it('separable conv: the depthwise output is quantized as its own activation', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 3]);
    b.conv('test/test/separable_conv2d/depthwise', 'x', b.variable('test/test/depthwise_weights', [3, 3, 3, 1]), 'DepthwiseConv2dNative');
    b.conv('test/test/separable_conv2d', 'test/test/separable_conv2d/depthwise', b.variable('test/test/pointwise_weights', [1, 1, 3, 8]));
    b.op('test/test/Relu6', 'Relu6', ['test/test/separable_conv2d']);
    evalGraph(b);
    const n = names(b);
    for (const p of ['test/test/weights_quant', 'test/test/separable_conv2d/weights_quant', 'test/test/separable_conv2d/act_quant', 'test/test/act_quant']) expect(n.has(fq(p)), p).toBe(true);
  });

  it('remaining Mul/AddV2 fed by a quantized tensor: activation_<Op>_quant named after the op', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 3]);
    b.conv('test/Conv2D', 'x', b.variable('test/weights', [3, 3, 3, 8]));
    b.op('test/Relu6', 'Relu6', ['test/Conv2D']);
    b.op('test/Mul', 'Mul', ['test/Relu6', b.konst('c1', [])]);
    b.op('test/Mul_1', 'Mul', ['test/Mul', b.konst('c2', [])]);
    b.op('test/add', 'AddV2', ['test/Mul_1', b.konst('c3', [])]);
    b.op('test/Mul_2', 'Mul', [b.konst('c4', []), b.konst('c5', [])]);
    b.op('out', 'Identity', ['test/add']);
    evalGraph(b);
    const n = names(b);
    for (const p of ['test/Mul/activation_Mul_quant', 'test/Mul_1/activation_Mul_quant', 'test/add/activation_AddV2_quant']) expect(n.has(fq(p)), p).toBe(true);
    expect(n.has(fq('test/Mul_2/activation_Mul_quant'))).toBe(false);
  });

  it('an Add whose only consumer is Relu is left to the Relu', () => {
    const b = new G();
    b.input('x', [1, 8]);
    b.matmul('fc/MatMul', 'x', b.variable('fc/w', [8, 8]));
    b.op('fc/Relu', 'Relu', ['fc/MatMul']);
    b.op('m/add', 'AddV2', ['fc/Relu', 'x']);
    b.op('m/Relu', 'Relu', ['m/add']);
    const sites = planQuantization(b.g);
    // post-activation bypass followed by Relu: skipped; add → Relu only: skipped too.
    expect(sites.map((s) => s.prefix)).toEqual(['fc/weights_quant', 'fc/act_quant']);
  });

  it('idempotent, and hand-placed fake quants (after a Reshape) are respected', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 3]);
    b.conv('test/Conv2D', 'x', b.variable('test/weights', [3, 3, 3, 8]));
    b.op('test/Relu', 'Relu', ['test/Conv2D']);
    b.op('test/Reshape', 'Reshape', ['test/Relu', b.konst('shape', [2], [1, -1])]);
    b.op('user/fq', 'FakeQuantWithMinMaxVars', ['test/Reshape', b.konst('user/min', [], [0]), b.konst('user/max', [], [6])]);
    quantizeGraph(b.g, { kind: 'eval' });
    expect(names(b).has(fq('test/act_quant'))).toBe(false);
    expect(names(b).has(fq('test/weights_quant'))).toBe(true);
    const once = encodeGraph(b.g);
    const again = quantizeGraph(b.g, { kind: 'eval' });
    expect(again.sites).toEqual([]);
    expect(encodeGraph(b.g)).toEqual(once);
  });

  it('scope: only ops under the scope are transformed', () => {
    const b = new G();
    b.input('x', [1, 8]);
    b.matmul('a/MatMul', 'x', b.variable('a/w', [8, 8]));
    b.op('a/Relu', 'Relu', ['a/MatMul']);
    b.matmul('b/MatMul', 'a/Relu', b.variable('b/w', [8, 8]));
    b.op('b/Relu', 'Relu', ['b/MatMul']);
    expect(planQuantization(b.g, { scope: 'b' }).map((s) => s.prefix)).toEqual(['b/weights_quant', 'b/act_quant']);
  });

  it('weight_bits/activation_bits/symmetric reach the sites; per-channel only for conv weights', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 3]);
    b.conv('c/Conv2D', 'x', b.konst('c/w', [3, 3, 3, 8]));
    b.op('c/Relu', 'Relu', ['c/Conv2D']);
    const s = planQuantization(b.g, { weightBits: 4, activationBits: 6, symmetric: true, perChannel: true });
    expect(s.map((x) => [x.numBits, x.symmetric, x.perChannel])).toEqual([[4, true, true], [6, true, false]]);
    const r = applySites(b.g, s, { kind: 'const' });
    expect(b.g.node('c/weights_quant/FakeQuantWithMinMaxVarsPerChannel').op).toBe('FakeQuantWithMinMaxVarsPerChannel');
    expect(r.warnings[0]).toMatch(/TOCO/);
  });
});

describe('Concat and pooling (spec §1.8, §4.3)', () => {
  it('no fake quant on ConcatV2/AvgPool/MaxPool outputs; the converter derives their ranges', () => {
    const b = new G();
    b.input('x', [1, 8, 8, 3]);
    for (const s of ['a', 'b']) {
      b.conv(`${s}/Conv2D`, 'x', b.konst(`${s}/w`, [3, 3, 3, 4]));
      b.op(`${s}/Relu`, 'Relu', [`${s}/Conv2D`]);
    }
    const axis = b.g.addNode({ name: 'axis', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [], [3]) } } }).name;
    b.op('cat', 'ConcatV2', ['a/Relu', 'b/Relu', axis], { N: { i: 2 }, Tidx: { type: 'int32' } });
    const pool = { ksize: { list: { i: [1, 2, 2, 1] } }, strides: { list: { i: [1, 2, 2, 1] } }, padding: { s: 'VALID' } };
    b.op('avg', 'AvgPool', ['cat'], pool);
    b.op('max', 'MaxPool', ['avg'], pool);
    b.conv('c/Conv2D', 'max', b.konst('c/w', [1, 1, 8, 2]));
    b.op('c/Relu', 'Relu', ['c/Conv2D']);
    const sites = planQuantization(b.g);
    expect(sites.map((s) => s.tensor).filter((t) => ['cat', 'avg', 'max'].includes(t))).toEqual([]);
    expect(sites.filter((s) => s.name === 'act_quant').map((s) => s.tensor)).toEqual(['a/Relu', 'b/Relu', 'c/Relu']);
    quantizeGraph(b.g, { kind: 'const' });
    expect(quantCheck(b.g, 'tflite').filter((f) => f.rule === 'missing-range')).toEqual([]);
  });
});

describe('quantize_training (spec §1.5–1.6, §2)', () => {
  const net = () => {
    const b = new G();
    b.input('x', [1, 8]);
    b.matmul('fc/MatMul', 'x', b.variable('fc/weights', [8, 4]));
    b.biasAdd('fc/BiasAdd', 'fc/MatMul', b.variable('fc/bias', [4]));
    b.op('fc/Relu', 'Relu', ['fc/BiasAdd']);
    b.op('out', 'Softmax', ['fc/Relu']);
    return b;
  };

  it('training graph: Assign*Last for weights, debiased EMA for activations; eval graph has none', () => {
    const b = net();
    const r = quantizeTraining(b.g);
    const n = names(b);
    for (const x of ['fc/weights_quant/AssignMinLast', 'fc/weights_quant/AssignMaxLast', 'fc/act_quant/AssignMinEma', 'fc/act_quant/AssignMaxEma', 'fc/act_quant/min', 'fc/act_quant/max', 'fc/act_quant/BatchMin', 'fc/act_quant/AssignMinEma/fc/act_quant/min/biased', 'fc/act_quant/AssignMinEma/fc/act_quant/min/local_step', 'fc/act_quant/AssignMinEma/fc/act_quant/min/Pow']) expect(n.has(x), x).toBe(true);
    expect(b.g.node(fq('fc/act_quant')).dataInputs.slice(1)).toEqual(['fc/act_quant/AssignMinEma', 'fc/act_quant/AssignMaxEma']);
    expect(r.model.kind).toBe('meta');
    expect(n.has('fake_quantization_step')).toBe(false); // no delay -> no step counter
    const e = net();
    quantizeEval(e.g);
    expect([...names(e)].some((x) => /Assign(Min|Max)/.test(x))).toBe(false);
    expect(e.g.node(fq('fc/act_quant')).dataInputs.slice(1)).toEqual(['fc/act_quant/min/read', 'fc/act_quant/max/read']);
  });

  it('MetaGraphDef: every range variable in `variables` and in the saver; update_ops listed; round-trips', () => {
    const b = net();
    const r = quantizeTraining(b.g, { quantDelay: 100 });
    const m = readModel(encodeModel(r.model) as Uint8Array, { kind: 'meta' });
    const vars = metaCollection(m, 'variables')!.bytes!.map(decodeVariableDef).map((v) => v.variableName);
    for (const v of ['fc/act_quant/min:0', 'fc/act_quant/max:0', 'fc/weights_quant/min:0', 'fake_quantization_step:0', 'fc/weights:0']) expect(vars).toContain(v);
    const trainable = metaCollection(m, 'trainable_variables')!.bytes!.map(decodeVariableDef).map((v) => v.variableName);
    expect(trainable.sort()).toEqual(['fc/bias:0', 'fc/weights:0']);
    expect(metaCollection(m, 'update_ops')!.nodes).toContain('fc/act_quant/AssignMinEma');
    const saver = metaSaver(m)!;
    expect(saver.restoreOpName).toBe('save/restore_all');
    const saved = m.graph.node('save/SaveV2/tensor_names').attrs.getTensor('value').data as Uint8Array[];
    const savedNames = saved.map((x) => new TextDecoder().decode(x));
    for (const v of vars) expect(savedNames).toContain(v.replace(/:0$/, ''));
    m.graph.validate();
  });

  it('quant_delay: ranges always update; only the forwarded tensor switches (delayed_quant/Merge)', () => {
    const b = net();
    quantizeTraining(b.g, { quantDelay: 2000 });
    const g = b.g;
    expect(g.node('fc/act_quant/activate_quant/y').attrs.getTensor('value').toNumbers()).toEqual([2000]);
    expect(g.node('fc/act_quant/activate_quant').dataInputs[0]).toBe('fake_quantization_step/Identity');
    expect(g.node('out').dataInputs[0]).toBe('fc/act_quant/delayed_quant/Merge');
    // The fake quant (and its range updates) sit outside the cond: fed straight from the tensor.
    expect(g.node(fq('fc/act_quant')).dataInputs[0]).toBe('fc/Relu');
    expect(g.node('fc/act_quant/delayed_quant/Switch_2').dataInputs[0]).toBe('fc/Relu');
  });

  it('rejects graphs that already contain optimizer ops', () => {
    const b = net();
    b.op('train/ApplyAdam', 'ApplyAdam', ['fc/weights']);
    expect(() => quantizeTraining(b.g)).toThrow(/ApplyAdam/);
  });

  it('zero-debiased EMA: [-1,1] then [0,0] with decay 0.999 gives about ±0.5 (spec §1.6)', () => {
    const lo = new DebiasedEma(0.999, 0, { float32: false });
    const hi = new DebiasedEma(0.999, 6, { float32: false });
    for (const batch of [[-1, 1], [0, 0]]) {
      const [a, c] = trackedRange(Math.min(...batch), Math.max(...batch));
      lo.update(a);
      hi.update(c);
    }
    expect(lo.value).toBeCloseTo(-0.999 / 1.999, 6);
    expect(hi.value).toBeCloseTo(0.999 / 1.999, 6);
    expect(trackedRange(-1, 0.5, { symmetric: true, narrowRange: true })).toEqual([-1, 1]);
    expect(trackedRange(-0.9921875, 0.9921875, { symmetric: true })).toEqual([-1, 0.9921875]);
  });

  it('batch norm folded for training with correction factors and freeze_bn_delay (spec §2.2)', () => {
    const b = new G();
    b.input('x', [2, 4, 4, 3]);
    b.conv('test/Conv2D', 'x', b.variable('test/weights', [3, 3, 3, 8]));
    const gamma = b.variable('test/BatchNorm/gamma', [8]);
    const beta = b.variable('test/BatchNorm/beta', [8]);
    const mm = b.variable('test/BatchNorm/moving_mean', [8]);
    const mv = b.variable('test/BatchNorm/moving_variance', [8]);
    b.op('test/BatchNorm/FusedBatchNorm', 'FusedBatchNorm', ['test/Conv2D', gamma, beta, b.konst('e1', [0], []), b.konst('e2', [0], [])], { is_training: { b: true }, epsilon: { f: 0.001 } });
    for (const [k, v, s] of [[1, mm, 'AssignMovingAvg'], [2, mv, 'AssignMovingAvg_1']] as const) {
      b.op(`test/BatchNorm/${s}/sub`, 'Sub', [v, `test/BatchNorm/FusedBatchNorm:${k}`]);
      b.op(`test/BatchNorm/${s}/mul`, 'Mul', [`test/BatchNorm/${s}/sub`, b.konst(`test/BatchNorm/${s}/decay`, [], [0.003])]);
    }
    b.op('test/Relu', 'Relu', ['test/BatchNorm/FusedBatchNorm']);
    const r = quantizeTraining(b.g, { freezeBnDelay: 50 });
    const g = b.g;
    expect(r.folded).toEqual(['test/Conv2D']);
    expect(g.node('test/mul_fold').dataInputs).toEqual(['test/correction_mult', 'test/BatchNorm_Fold/mul']);
    expect(g.node('test/Conv2D_Fold').dataInputs[1]).toBe(fq('test/weights_quant'));
    expect(g.node(fq('test/weights_quant')).dataInputs[0]).toBe('test/mul_fold');
    expect(g.node('test/post_conv_mul').dataInputs).toEqual(['test/Conv2D_Fold', 'test/batch_norm_correction/correction_recip/Merge']);
    expect(g.node('test/add_fold').dataInputs).toEqual(['test/correction_add', 'test/BatchNorm_Fold/bias']);
    expect(g.node('test/Relu').dataInputs[0]).toBe('test/add_fold');
    expect(g.node(fq('test/act_quant')).dataInputs[0]).toBe('test/Relu');
    expect(g.node('test/BatchNorm/AssignMovingAvg/mul').dataInputs[1]).toBe('test/batch_norm_correction/freeze_moving_mean/Merge');
    expect(g.node('test/Undo_Bessel_Correction').dataInputs[0]).toBe('test/BatchNorm/FusedBatchNorm:2');
    g.validate();
  });
});
