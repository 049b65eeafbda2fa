import { describe, expect, it } from 'vitest';
import * as lib from '@tfpass/core';
import { readGraph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { fuseInstanceNorms } from '@tfpass/pass-instance-norm';
import { lint, planQuantization, quantCheck, quantizeGraph } from '../src/index.js';
import { G } from './helpers.js';

describe('quantizing fused instance norms', () => {
  it('one fake quant at the block output (after its Relu) and one at its input, none inside', () => {
    const b = new G();
    b.input('x', [1, 8, 8, 3]);
    b.conv('conv1/Conv2D', 'x', b.variable('conv1/weights', [3, 3, 3, 4]));
    const x = 'conv1/Conv2D';
    const mean = b.op('in/moments/mean', 'Mean', [x, b.g.addNode({ name: 'in/axes', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: lib.Tensor.fromValues('int32', [2], [1, 2]) } } }).name], { Tidx: { type: 'int32' }, keep_dims: { b: true } });
    const sd = b.op('in/moments/SquaredDifference', 'SquaredDifference', [x, b.op('in/moments/StopGradient', 'StopGradient', [mean])]);
    const v = b.op('in/moments/variance', 'Mean', [sd, 'in/axes'], { Tidx: { type: 'int32' }, keep_dims: { b: true } });
    const sub = b.op('in/sub', 'Sub', [x, mean]);
    const den = b.op('in/pow', 'Pow', [b.op('in/add', 'AddV2', [v, b.konst('in/eps', [], [1e-3])]), b.konst('in/half', [], [0.5])]);
    const norm = b.op('in/truediv', 'RealDiv', [sub, den]);
    const y = b.op('in/add_1', 'AddV2', [b.op('in/mul', 'Mul', [b.konst('in/scale', [4]), norm]), b.konst('in/shift', [4])]);
    b.op('relu', 'Relu', [y]);
    b.op('out', 'Identity', ['relu']);
    const fused = fuseInstanceNorms(b.g, lib);
    expect(fused.length).toBe(1);
    const sites = planQuantization(b.g);
    expect(sites.map((s) => [s.name, s.tensor])).toEqual([
      ['weights_quant', 'conv1/weights/read'],
      ['act_quant', 'conv1/Conv2D'],
      ['act_quant', 'relu'],
    ]);
    expect(sites[2]!.prefix).toBe('in/fused_instance_norm/act_quant');
    quantizeGraph(b.g, { kind: 'const' });
    const fqInputs = b.g.nodes().filter((n) => n.op === 'FakeQuantWithMinMaxVars').map((n) => b.g.producer(n.dataInputs[0]!)!);
    expect(fqInputs.map((n) => n.name).sort()).toEqual(['conv1/Conv2D', 'conv1/weights/read', 'relu']);
    expect(fqInputs.some((n) => n.attrs.has('_tfpass_fused'))).toBe(false);
  });

  const path = modelPath('tf-stylize-quantized/stylize_quantized.pb');
  it.runIf(!!path)('tf-stylize: 18 fused blocks, one fake quant after each block (on its Relu when one follows)', () => {
    const g = readGraph(path!);
    expect(fuseInstanceNorms(g, lib).length).toBe(18);
    const sites = planQuantization(g);
    const outs = sites.filter((s) => g.get(s.producer)?.attrs.has('_tfpass_fused') || g.get(g.node(s.producer).dataInputs[0] ?? '')?.attrs.has('_tfpass_fused'));
    expect(outs.length).toBe(18);
  });

  it('normInternals: ranges on every non-derived intermediate too; quant-check then only objects to Rsqrt', () => {
    const b = new G();
    b.input('x', [1, 8, 8, 3]);
    b.conv('conv1/Conv2D', 'x', b.konst('conv1/weights', [3, 3, 3, 4]));
    const ax = b.g.addNode({ name: 'in/axes', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: lib.Tensor.fromValues('int32', [2], [1, 2]) } } }).name;
    const mean = b.op('in/mean', 'Mean', ['conv1/Conv2D', ax], { Tidx: { type: 'int32' }, keep_dims: { b: true } });
    const sd = b.op('in/sd', 'SquaredDifference', ['conv1/Conv2D', b.op('in/sg', 'StopGradient', [mean])]);
    const v = b.op('in/variance', 'Mean', [sd, ax], { Tidx: { type: 'int32' }, keep_dims: { b: true } });
    const den = b.op('in/Sqrt', 'Sqrt', [b.op('in/add', 'AddV2', [v, b.konst('in/eps', [], [1e-3])])]);
    b.op('in/truediv', 'RealDiv', [b.op('in/sub', 'Sub', ['conv1/Conv2D', mean]), den]);
    b.op('out', 'Softmax', ['in/truediv']);
    fuseInstanceNorms(b.g, lib);
    const sites = planQuantization(b.g, { normInternals: true });
    expect(sites.map((s) => s.prefix)).toEqual(['conv1/weights_quant', 'conv1/act_quant', 'in/fused_instance_norm/centered/act_quant', 'in/fused_instance_norm/square/act_quant', 'in/fused_instance_norm/add/act_quant', 'in/fused_instance_norm/rsqrt/act_quant', 'in/fused_instance_norm/act_quant']);
    quantizeGraph(b.g, { kind: 'const' }, { normInternals: true });
    const f = quantCheck(b.g, 'tflite');
    expect(f.filter((x) => x.rule === 'missing-range')).toEqual([]);
    expect(lint(b.g, { disable: ['dynamic-input'] }).filter((x) => x.rule === 'op-outside-target').map((x) => x.op)).toEqual(['Rsqrt']);
  });
});
