import { describe, expect, it } from 'vitest';
import { readGraph, type Graph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { loadTarget, quantCheck, type Finding } from '../src/index.js';
import { G } from './helpers.js';

const tflite = loadTarget('tflite');
const key = (f: Finding) => `${f.rule}:${f.tensor}`;

/** Remove one fake quant, rerouting its consumers to its input. */
function dropFakeQuant(g: Graph, name: string): string {
  const fq = g.node(name);
  const x = fq.dataInputs[0]!;
  g.replaceUses(name, x);
  g.removeNode(name);
  return x;
}

const real: [string, string[] | undefined][] = [
  ['speech-tiny-conv-qat/tiny_conv.pb', ['Reshape_2']],
  ['edgetpu-qat-fashion-mlp/frozen_model.pb', undefined],
];

describe.each(real)('quant-check on %s', (rel, inputs) => {
  const path = modelPath(rel);
  it.runIf(!!path)('clean graph: no missing range; each removed FakeQuant is reported alone', () => {
    const base = quantCheck(readGraph(path!), tflite, { inputs });
    expect(base.filter((f) => f.severity === 'error')).toEqual([]);
    const fqs = readGraph(path!).nodes().filter((n) => n.op === 'FakeQuantWithMinMaxVars').map((n) => n.name);
    expect(fqs.length).toBeGreaterThanOrEqual(4);
    const before = new Set(base.map(key));
    for (const fq of fqs) {
      const g = readGraph(path!);
      const x = dropFakeQuant(g, fq);
      const extra = quantCheck(g, tflite, { inputs }).filter((f) => !before.has(key(f)));
      expect(extra.map((f) => f.tensor), fq).toEqual([x]);
      const f = extra[0]!;
      expect(f.node).toBe(x);
      expect(f.consumer).toBeTruthy();
      expect(f.rule).toBe(/weights_quant/.test(fq) ? 'constant-without-range' : 'missing-range');
    }
  });
});

describe('quant-check rules', () => {
  it('reports producer and consumer of a tensor without range; Relu copies from its output; degenerate and per-channel', () => {
    const b = new G();
    b.input('x', [1, 8]);
    b.op('fq_w', 'FakeQuantWithMinMaxVars', [b.konst('w', [8, 4]), b.konst('wmin', [], [-1]), b.konst('wmax', [], [1])], { num_bits: { i: 8 }, narrow_range: { b: true } });
    b.matmul('fc/MatMul', 'x', 'fq_w');
    b.op('fc/Div', 'RealDiv', ['fc/MatMul', b.konst('two', [], [2])]);
    b.op('fc/Relu', 'Relu', ['fc/Div']);
    b.op('fq', 'FakeQuantWithMinMaxVars', ['fc/Relu', b.konst('amin', [], [0]), b.konst('amax', [], [0])], { num_bits: { i: 4 }, narrow_range: { b: false } });
    b.op('out', 'Softmax', ['fq']);
    const f = quantCheck(b.g, tflite);
    const missing = f.filter((x) => x.rule === 'missing-range');
    expect(missing.map((x) => [x.tensor, x.op, x.consumer, x.consumerOp])).toEqual([['fc/MatMul', 'MatMul', 'fc/Div', 'RealDiv']]);
    expect(f.some((x) => x.rule === 'degenerate-range' && x.node === 'fq')).toBe(true);
    expect(f.some((x) => x.rule === 'num-bits' && x.node === 'fq')).toBe(true);
    expect(f.some((x) => x.tensor === 'fc/Div')).toBe(false); // Relu input gets the output's range
  });

  it('targets are data files; unknown target is a typed error', () => {
    expect(tflite.ops).toContain('Conv2D');
    expect(tflite.ops).not.toContain('SquaredDifference');
    expect(() => loadTarget('/nonexistent/npu.json')).toThrow(/target profile/);
  });
});
