import { describe, expect, it } from 'vitest';
import { argRanges, getOpDef, type Graph } from '@tfpass/core';
import { quantizeEval, quantizeNodes, quantizeTraining, insertFakeQuant } from '../src/index.js';
import { G } from './helpers.js';

/** Every node: a known op, every attr without default present, no undeclared attr, inputs count right. */
function checkAgainstOpDefs(g: Graph): string[] {
  const problems: string[] = [];
  for (const n of g.nodes()) {
    const def = getOpDef(n.op);
    if (!def) {
      problems.push(`${n.name}: unknown op ${n.op}`);
      continue;
    }
    for (const a of def.attrs) if (a.default === undefined && !n.attrs.has(a.name)) problems.push(`${n.name} (${n.op}): missing attr ${a.name}`);
    const declared = new Set(def.attrs.map((a) => a.name));
    for (const k of n.attrs.keys()) if (!k.startsWith('_') && !declared.has(k)) problems.push(`${n.name} (${n.op}): undeclared attr ${k}`);
    const r = argRanges(def, n);
    const want = Math.max(0, ...[...r.values()].map((x) => x.end));
    if (n.dataInputs.length !== want) problems.push(`${n.name} (${n.op}): ${n.dataInputs.length} inputs, OpDef wants ${want}`);
  }
  return problems;
}

function net() {
  const b = new G();
  b.input('x', [2, 6, 6, 3]);
  b.conv('test/Conv2D', 'x', b.variable('test/weights', [3, 3, 3, 4]));
  const v = (n: string) => b.variable(`test/BatchNorm/${n}`, [4]);
  const [gamma, beta, mm, mv] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map(v) as [string, string, string, string];
  b.op('test/BatchNorm/FusedBatchNorm', 'FusedBatchNorm', ['test/Conv2D', gamma, beta, mm, mv], { is_training: { b: true }, epsilon: { f: 0.001 }, data_format: { s: 'NHWC' } });
  for (const [k, s, m] of [[1, 'AssignMovingAvg', mm], [2, 'AssignMovingAvg_1', mv]] as const) {
    b.op(`test/BatchNorm/${s}/sub`, 'Sub', [m, `test/BatchNorm/FusedBatchNorm:${k}`]);
    b.op(`test/BatchNorm/${s}/mul`, 'Mul', [`test/BatchNorm/${s}/sub`, b.konst(`test/BatchNorm/${s}/decay`, [], [0.003])]);
  }
  b.op('test/Relu6', 'Relu6', ['test/BatchNorm/FusedBatchNorm']);
  b.conv('dw/depthwise', 'test/Relu6', b.variable('dw/depthwise_weights', [3, 3, 4, 1]), 'DepthwiseConv2dNative');
  b.op('dw/Relu', 'Relu', ['dw/depthwise']);
  b.op('res/add', 'AddV2', ['dw/Relu', 'test/Relu6']);
  b.op('res/Mul', 'Mul', ['res/add', b.konst('two', [], [2])]);
  b.op('out', 'Softmax', ['res/Mul']);
  return b;
}

describe("every op the rewrites emit matches TF's OpDef (what import_meta_graph checks)", () => {
  it('quantize_training with quant_delay, freeze_bn_delay, symmetric and per-channel', () => {
    const b = net();
    quantizeTraining(b.g, { quantDelay: 10, freezeBnDelay: 20, symmetric: true, perChannel: true });
    insertFakeQuant(b.g, 'out', { movingAverage: { decay: 0.99 } }, { quantDelay: 5 });
    expect(checkAgainstOpDefs(b.g)).toEqual([]);
  });
  it('quantize_eval', () => {
    const b = net();
    quantizeEval(b.g);
    expect(checkAgainstOpDefs(b.g)).toEqual([]);
  });
  it('quantize_nodes', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 2]);
    b.conv('conv', 'x', b.konst('w', [3, 3, 2, 4]));
    b.biasAdd('bias', 'conv', b.konst('b', [4]));
    b.op('relu', 'Relu6', ['bias']);
    b.op('fq', 'FakeQuantWithMinMaxVars', ['relu', b.konst('mn', [], [0]), b.konst('mx', [], [6])], { num_bits: { i: 8 }, narrow_range: { b: false } });
    b.op('pool', 'AvgPool', ['fq'], { ksize: { list: { i: [1, 2, 2, 1] } }, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' } });
    quantizeNodes(b.g, { outputs: ['pool'] });
    expect(checkAgainstOpDefs(b.g)).toEqual([]);
  });
});
