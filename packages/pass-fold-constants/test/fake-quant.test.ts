import { describe, expect, test } from 'vitest';
import { Graph, Tensor } from '@tfpass/core';
import { createExecutor } from '@tfpass/runtime';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { fold } from './helpers.js';

const ex = createExecutor();
const f32 = { type: 'float32' as const };

/** x -> Conv2D(x, FakeQuant(w, -1, 1)) : the shape of every frozen QAT graph's weights. */
function quantizedConv(): Graph {
  const g = new Graph();
  const c = (name: string, shape: number[], v: number[]) => g.addNode({ name, op: 'Const', attrs: { dtype: f32, value: { tensor: Tensor.fromValues('float32', shape, v) } } });
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: f32, shape: { shape: [1, 4, 4, 2] } } });
  c('w', [1, 1, 2, 3], [0.3, -0.7, 0.12, 0.9, -0.05, 0.41]);
  c('w_min', [], [-1]);
  c('w_max', [], [1]);
  g.addNode({ name: 'w_quant', op: 'FakeQuantWithMinMaxVars', inputs: ['w', 'w_min', 'w_max'], attrs: { num_bits: { i: 8 }, narrow_range: { b: true } } });
  g.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', 'w_quant'], attrs: { T: f32, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' } } });
  return g;
}

describe('fold_constants and fake-quants', () => {
  test('keeps a fake-quant of constant weights by default, so converters still read its range', async () => {
    const g = quantizedConv();
    const [r] = await fold(g, 'fold_constants', ex, { inputs: ['x'], outputs: ['conv'] });
    expect(g.node('w_quant').op).toBe('FakeQuantWithMinMaxVars');
    expect(g.node('conv').inputs[1]).toBe('w_quant');
    expect(r!.messages.join(' ')).toContain('kept 1 fake-quant');
  });

  test('fold_fake_quant=true folds it into quantized constants with the same outputs', async () => {
    const before = quantizedConv();
    const g = quantizedConv();
    await fold(g, 'fold_constants(fold_fake_quant=true)', ex, { inputs: ['x'], outputs: ['conv'] });
    expect(g.node('w_quant').op).toBe('Const');
    // Inputs: x ~ U(-1, 1), seed 3; the folded weights sit on the nudged grid, so outputs match.
    await expectSameOutputs(before, g, { inputs: { x: [1, 4, 4, 2] }, outputs: ['conv'], seed: 3, atol: 1e-6, rtol: 1e-6 });
  });
});
