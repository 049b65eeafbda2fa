import { describe, expect, it } from 'vitest';
import { PassRegistry, registerPlugin, runPipeline } from '@tfpass/core';
import { quantizeNodes } from '../src/index.js';
import { G } from './helpers.js';

const FLOAT_OPS = ['BiasAdd', 'Concat', 'Conv2D', 'MatMul', 'Relu', 'Relu6', 'AvgPool', 'MaxPool'];
const ops = (b: G) => b.g.nodes().map((n) => n.op);

describe('quantize_nodes (GTT §3.20), structurally', () => {
  it('conv → bias → relu → maxpool: no float op left, names kept as Dequantize, redundant quantizations removed', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 2]);
    b.conv('conv', 'x', b.konst('w', [3, 3, 2, 4]));
    b.biasAdd('bias', 'conv', b.konst('b', [4]));
    b.op('relu', 'Relu', ['bias']);
    b.op('pool', 'MaxPool', ['relu'], { ksize: { list: { i: [1, 2, 2, 1] } }, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' } });
    const r = quantizeNodes(b.g, { outputs: ['pool'] });
    b.g.validate();
    expect(r.quantized).toBe(4);
    for (const op of FLOAT_OPS) expect(ops(b)).not.toContain(op);
    for (const n of ['conv', 'bias', 'relu', 'pool']) expect(b.g.node(n).op).toBe('Dequantize');
    expect(b.g.node('conv/eightbit').op).toBe('QuantizedConv2D');
    expect(b.g.node('conv/eightbit').attrs.getString('padding')).toBe('SAME');
    expect(b.g.node('conv/eightbit/requant_range').op).toBe('RequantizationRange');
    // relu's QuantizeV2 of the bias Dequantize was redundant: QuantizedRelu reads the requantized bias add.
    expect(b.g.node('relu/eightbit').dataInputs[0]).toBe('bias/eightbit/requantize');
    expect(b.g.node('pool/eightbit').dataInputs[0]).toBe('relu/eightbit');
    expect(r.redundantRemoved).toBe(3);
  });

  it('fake quants: hoisted to the op output, turned into Requantize and merged (exactly one Requantize left)', () => {
    const b = new G();
    b.input('x', [1, 1, 2, 6]);
    b.biasAdd('bias_add_op', 'x', b.konst('offset', [6]));
    b.op('relu_op', 'Relu', ['bias_add_op']);
    b.op('fake_quant_op', 'FakeQuantWithMinMaxVars', ['relu_op', b.konst('fq/min', [], [0]), b.konst('fq/max', [], [18])], { num_bits: { i: 8 }, narrow_range: { b: false } });
    b.op('out', 'Identity', ['fake_quant_op']);
    const r = quantizeNodes(b.g, { outputs: ['out'] });
    b.g.validate();
    expect(r.hoisted).toBe(1);
    expect(ops(b).filter((o) => o.startsWith('FakeQuant'))).toEqual([]);
    expect(r.requantizesMerged).toBe(1);
    expect(ops(b).filter((o) => o === 'Requantize').length).toBe(1);
    expect(ops(b)).not.toContain('RequantizationRange');
    // The requantize of the bias add now uses the fake quant's range.
    const req = b.g.nodes().find((n) => n.op === 'Requantize')!;
    expect(req.dataInputs.slice(3)).toEqual(['fq/min', 'fq/max']);
    expect(req.dataInputs[0]).toBe('bias_add_op/eightbit');
  });

  it('placeholders, fallback ranges, ignore_op and non-float ops', async () => {
    const b = new G();
    b.input('x', [4, 5]);
    b.op('r', 'Relu', ['x']);
    b.matmul('mm', 'r', b.konst('w', [5, 3]));
    b.op('ir', 'Reshape', [b.g.addNode({ name: 'ints', op: 'Placeholder', attrs: { dtype: { type: 'int32' }, shape: { shape: [4, 5] } } }).name, b.konst('s', [1], [-1])], { T: { type: 'int32' }, Tshape: { type: 'int32' } });
    const reg = new PassRegistry();
    await registerPlugin(await import('../src/index.js'), reg);
    await runPipeline(b.g, 'quantize_nodes(input_min=-10, input_max=10, fallback_min=0, fallback_max=200, ignore_op=Relu)', { registry: reg, outputs: ['mm'] });
    expect(b.g.node('x').attrs.getType('dtype')).toBe('quint8');
    expect(b.g.node('r').op).toBe('Relu');
    expect(b.g.node('r').dataInputs[0]).toBe('x_eightbit/dequantize');
    expect(b.g.node('mm').op).toBe('Dequantize');
    expect(b.g.has('mm/eightbit/fallback_min')).toBe(true);
    expect(ops(b)).not.toContain('RequantizationRange');
    expect(b.g.node('ir').op).toBe('Reshape');
    await expect(runPipeline(b.g, 'quantize_nodes(input_min=1)', { registry: reg })).rejects.toThrow(/both input_min and input_max/);
  });
});
