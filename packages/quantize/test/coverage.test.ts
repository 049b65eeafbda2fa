// Weight coverage beyond contrib's matcher (issue 17): a conv/matmul with no BiasAdd or
// activation after it still gets its weights quantized, and quant-check names such a layer.
import { describe, expect, it } from 'vitest';
import { Tensor, type Graph } from '@tfpass/core';
import { sharedExecutor } from '@tfpass/runtime';
import { applySites, constValue, nudge, planQuantization, quantCheck, quantizeEval, loadTarget } from '../src/index.js';
import { G } from './helpers.js';

const tflite = loadTarget('tflite');
const fq = (p: string) => `${p}/FakeQuantWithMinMaxVars`;

/** conv -> MaxPool, depthwise -> ConcatV2, matmul -> Reshape: none has a bias or activation after it. */
function bare(): G {
  const b = new G();
  b.input('x', [1, 6, 6, 3]);
  b.conv('a/Conv2D', 'x', b.konst('a/weights', [3, 3, 3, 4]));
  b.op('a/pool', 'MaxPool', ['a/Conv2D'], { ksize: { list: { i: [1, 2, 2, 1] } }, strides: { list: { i: [1, 2, 2, 1] } }, padding: { s: 'VALID' }, data_format: { s: 'NHWC' } });
  b.conv('b/depthwise', 'a/pool', b.konst('b/depthwise_weights', [3, 3, 4, 1]), 'DepthwiseConv2dNative');
  b.g.addNode({ name: 'axis', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [], [3]) } } });
  b.op('b/concat', 'ConcatV2', ['b/depthwise', 'a/pool', 'axis'], { N: { i: 2 }, Tidx: { type: 'int32' } });
  b.g.addNode({ name: 'flat_shape', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [2], [1, 72]) } } });
  b.op('flat', 'Reshape', ['b/concat', 'flat_shape'], { Tshape: { type: 'int32' } });
  b.matmul('c/MatMul', 'flat', b.konst('c/weights', [72, 5]));
  b.g.addNode({ name: 'out_shape', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [1], [5]) } } });
  b.op('out', 'Reshape', ['c/MatMul', 'out_shape'], { Tshape: { type: 'int32' } });
  return b;
}

const LAYERS = ['a/Conv2D', 'b/depthwise', 'c/MatMul'];

describe('every Conv2D/DepthwiseConv2dNative/MatMul weight is quantized', () => {
  it('plans weights_quant and an output range for layers with no bias or activation after them', () => {
    const sites = planQuantization(bare().g);
    for (const l of LAYERS) {
      expect(sites.find((s) => s.kind === 'weights' && s.layer === l), l).toBeDefined();
      expect(sites.find((s) => s.kind === 'activation' && s.tensor === l), l).toBeDefined();
    }
  });

  it('quant-check warns about each unquantized weight naming its layer; after quantize_eval none is left', () => {
    const before = quantCheck(bare().g, tflite).filter((f) => f.rule === 'constant-without-range');
    expect(before.map((f) => [f.severity, f.consumer]).sort()).toEqual(LAYERS.map((l) => ['warning', l]).sort());
    for (const f of before) expect(f.message).toContain(f.consumer!);
    const b = bare();
    quantizeEval(b.g);
    for (const l of LAYERS) expect(b.g.node(l).dataInputs[1]).toMatch(/weights_quant\/FakeQuantWithMinMaxVars$/);
    expect(quantCheck(b.g, tflite).filter((f) => f.rule === 'constant-without-range')).toEqual([]);
  });

  it('frozen graph (insert_fake_quant const ranges): each layer reads its weights on the 8-bit grid, within half an LSB', async () => {
    const before = bare().g;
    const g: Graph = bare().g;
    applySites(g, planQuantization(g), { kind: 'const' });
    const wq = LAYERS.map((l) => g.node(l).dataInputs[1]!);
    expect(wq.every((w) => g.node(w).op === 'FakeQuantWithMinMaxVars')).toBe(true);
    // Inputs: x uniform in [-1, 1), seeded.
    const x = Tensor.fromValues('float32', [1, 6, 6, 3], Array.from({ length: 108 }, (_, i) => ((i * 37) % 108) / 54 - 1));
    const got = await sharedExecutor('cpu').run(g, { x }, wq);
    wq.forEach((w, k) => {
      const n = g.node(w);
      const src = before.node(LAYERS[k]!).dataInputs[1]!;
      const float = constValue(before, src)!;
      const q = nudge(constValue(g, n.dataInputs[1]!)![0]!, constValue(g, n.dataInputs[2]!)![0]!, 8, true);
      const y = got[k]!.toFloat32();
      expect(y.length).toBe(float.length);
      for (let i = 0; i < y.length; i++) {
        const level = (y[i]! - q.min) / q.scale;
        expect(Math.abs(level - Math.round(level)), `${w}[${i}] on the grid`).toBeLessThan(1e-3);
        expect(Math.abs(y[i]! - float[i]!), `${w}[${i}] within half an LSB`).toBeLessThanOrEqual(q.scale / 2 + 1e-6);
      }
    });
  });

  it('a layer an unfolded batch norm reads is left to the fold (no weights_quant before it)', () => {
    const b = new G();
    b.input('x', [1, 4, 4, 3]);
    b.conv('l/Conv2D', 'x', b.konst('l/weights', [1, 1, 3, 2]));
    for (const n of ['gamma', 'beta', 'mean', 'var']) b.konst(n, [2], [1, 0, 0, 1].slice(0, 2));
    b.op('l/bn', 'FusedBatchNormV3', ['l/Conv2D', 'gamma', 'beta', 'mean', 'var'], { U: { type: 'float32' }, is_training: { b: true }, epsilon: { f: 1e-3 } });
    expect(planQuantization(b.g).filter((s) => s.layer === 'l/Conv2D' && s.kind === 'weights')).toEqual([]);
  });
});
