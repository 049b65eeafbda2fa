import { describe, expect, it } from 'vitest';
import * as lib from '@tfpass/core';
import { Graph, Tensor, PassRegistry, readGraph, registerPlugin, runPipeline } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { findInstanceNorms, fuseInstanceNorms } from '../src/index.js';

const F = { T: { type: 'float32' } } as const;

class B {
  g = new Graph();
  k(name: string, shape: number[], values: number[]): string {
    this.g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', shape, values) } } });
    return name;
  }
  ki(name: string, values: number[]): string {
    this.g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [values.length], values) } } });
    return name;
  }
  op(name: string, op: string, inputs: string[], attrs: Record<string, unknown> = {}): string {
    this.g.addNode({ name, op, inputs, attrs: { ...F, ...attrs } as never });
    return name;
  }
  input(name = 'x', shape = [2, 5, 4, 3]): string {
    this.g.addNode({ name, op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape } } });
    return name;
  }
  /** tf.nn.moments(x, axes, keep_dims=True) */
  moments(s: string, x: string, axes = [1, 2]): [string, string] {
    const mean = this.op(`${s}/mean`, 'Mean', [x, this.ki(`${s}/mean/reduction_indices`, axes)], { Tidx: { type: 'int32' }, keep_dims: { b: true } });
    const sg = this.op(`${s}/StopGradient`, 'StopGradient', [mean]);
    const sd = this.op(`${s}/SquaredDifference`, 'SquaredDifference', [x, sg]);
    const v = this.op(`${s}/variance`, 'Mean', [sd, this.ki(`${s}/variance/reduction_indices`, axes)], { Tidx: { type: 'int32' }, keep_dims: { b: true } });
    return [mean, v];
  }
  /** tf.nn.batch_normalization(x, mean, var, offset, scale, eps) */
  batchNorm(s: string, x: string, mean: string, v: string, eps: number, gamma?: string, beta?: string): string {
    const add = this.op(`${s}/add`, 'AddV2', [v, this.k(`${s}/add/y`, [], [eps])]);
    let inv = this.op(`${s}/Rsqrt`, 'Rsqrt', [add]);
    if (gamma) inv = this.op(`${s}/mul`, 'Mul', [inv, gamma]);
    const mul1 = this.op(`${s}/mul_1`, 'Mul', [x, inv]);
    const mul2 = this.op(`${s}/mul_2`, 'Mul', [mean, inv]);
    const sub = beta ? this.op(`${s}/sub`, 'Sub', [beta, mul2]) : this.op(`${s}/Neg`, 'Neg', [mul2]);
    return this.op(`${s}/add_1`, 'AddV2', [mul1, sub]);
  }
}

const C = 3;
const gammaV = [1.5, 0.5, -2];
const betaV = [0.1, -0.3, 2];

function seed(opts: { scale: boolean; shift: boolean; sqrt?: boolean }) {
  // The seed's _instance_norm: mu, var = moments(net, [1,2], keep_dims); (net-mu)/(var+eps)**.5; scale*n + shift
  const b = new B();
  const x = b.input();
  const conv = b.op('conv/Relu', 'Relu', [x]);
  const [mu, v] = b.moments('moments', conv);
  const sub = b.op('sub', 'Sub', [conv, mu]);
  const add = b.op('add', 'AddV2', [v, b.k('add/y', [], [1e-3])]);
  const den = opts.sqrt ? b.op('Sqrt', 'Sqrt', [add]) : b.op('pow', 'Pow', [add, b.k('pow/y', [], [0.5])]);
  let out = b.op('truediv', 'RealDiv', [sub, den]);
  if (opts.scale) out = b.op('mul', 'Mul', [b.k('Variable_1', [C], gammaV), out]);
  if (opts.shift) out = b.op('add_1', 'AddV2', [out, b.k('Variable', [C], betaV)]);
  b.op('out', 'Identity', [out]);
  return b.g;
}

function contrib(opts: { scale: boolean; center: boolean }) {
  // tf.contrib.layers.instance_norm (NHWC), scope InstanceNorm, epsilon 1e-6
  const b = new B();
  const x = b.input();
  const [mean, v] = b.moments('InstanceNorm/moments', x);
  const gamma = opts.scale ? b.op('InstanceNorm/gamma/read', 'Identity', [b.k('InstanceNorm/gamma', [C], gammaV)]) : undefined;
  const beta = opts.center ? b.op('InstanceNorm/beta/read', 'Identity', [b.k('InstanceNorm/beta', [C], betaV)]) : undefined;
  const y = b.batchNorm('InstanceNorm/instancenorm', x, mean, v, 1e-6, gamma, beta);
  b.op('out', 'Relu', [y]);
  return b.g;
}

function addons() {
  // tfa.layers.InstanceNormalization: epsilon 1e-3, gamma/beta reshaped to [1,1,1,C]
  const b = new B();
  const x = b.input();
  const [mean, v] = b.moments('instance_normalization/moments', x);
  const shape = b.ki('instance_normalization/Reshape/shape', [1, 1, 1, C]);
  const gamma = b.op('instance_normalization/Reshape', 'Reshape', [b.k('instance_normalization/gamma', [C], gammaV), shape], { Tshape: { type: 'int32' } });
  const beta = b.op('instance_normalization/Reshape_1', 'Reshape', [b.k('instance_normalization/beta', [C], betaV), shape], { Tshape: { type: 'int32' } });
  const y = b.batchNorm('instance_normalization/batchnorm', x, mean, v, 1e-3, gamma, beta);
  b.op('out', 'Identity', [y]);
  return b.g;
}

const cases: [string, () => Graph, string][] = [
  ['seed, scale+shift (Pow)', () => seed({ scale: true, shift: true }), 'division'],
  ['seed, no scale/shift (Sqrt)', () => seed({ scale: false, shift: false, sqrt: true }), 'division'],
  ['seed, scale only', () => seed({ scale: true, shift: false }), 'division'],
  ['contrib instance_norm', () => contrib({ scale: true, center: true }), 'batch_normalization'],
  ['contrib instance_norm, center only', () => contrib({ scale: false, center: true }), 'batch_normalization'],
  ['contrib instance_norm, neither', () => contrib({ scale: false, center: false }), 'batch_normalization'],
  ['Addons InstanceNormalization', addons, 'batch_normalization'],
];

describe.each(cases)('fuse_instance_norm: %s', (_, build, form) => {
  it('recognised once, rewritten without SquaredDifference/Pow/RealDiv, outputs kept (atol 1e-5, rtol 1e-4)', async () => {
    const before = build();
    const found = findInstanceNorms(before);
    expect(found.map((b) => b.form)).toEqual([form]);
    const after = before.clone();
    const fused = fuseInstanceNorms(after, lib);
    expect(fused.length).toBe(1);
    after.validate();
    const ops = new Set(after.nodes().map((n) => n.op));
    for (const op of ['SquaredDifference', 'Pow', 'RealDiv', 'Sqrt', 'StopGradient', 'Neg']) expect(ops.has(op), op).toBe(false);
    expect(after.node(fused[0]!.output).attrs.getString('_tfpass_fused')).toBe('output');
    for (const n of after.nodes().filter((x) => x.attrs.has('_tfpass_fused'))) {
      const def = lib.getOpDef(n.op)!;
      for (const a of def.attrs) if (a.default === undefined) expect(n.attrs.has(a.name), `${n.name}.${a.name}`).toBe(true);
      for (const k of n.attrs.keys()) if (!k.startsWith('_')) expect(def.attrs.some((a) => a.name === k), `${n.name}.${k}`).toBe(true);
    }
    const rep = await expectSameOutputs(before, after, { inputs: { x: { shape: [2, 5, 4, 3], low: -3, high: 3 } }, outputs: ['out'], atol: 1e-5, rtol: 1e-4, trials: 2 });
    expect(rep.outputs[0]!.ok).toBe(true);
    // Idempotent: the canonical form is not matched again.
    expect(findInstanceNorms(after).length).toBe(0);
  });
});

describe('real model', () => {
  const path = modelPath('tf-stylize-quantized/stylize_quantized.pb');
  it.runIf(!!path)('all 18 conditional instance-norm blocks of tf-stylize-quantized are recognised and fused', async () => {
    const g = readGraph(path!);
    const blocks = findInstanceNorms(g);
    expect(blocks.length).toBe(18);
    expect(new Set(blocks.map((b) => b.moments))).toEqual(new Set(['sufficient_statistics']));
    expect(blocks.every((b) => b.gamma && b.beta && b.scope.endsWith('/InstanceNorm'))).toBe(true);
    const reg = new PassRegistry();
    await registerPlugin(await import('../src/index.js'), reg);
    const rep = await runPipeline(g, 'fuse_instance_norm', { registry: reg });
    expect(rep[0]!.stats.fused).toBe(18);
    expect(g.nodes().filter((n) => n.name.includes('moments/sufficient_statistics')).length).toBe(0);
  });
});
