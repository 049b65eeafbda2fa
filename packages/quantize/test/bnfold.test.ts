import { describe, expect, it } from 'vitest';
import { Tensor } from '@tfpass/core';
import { sharedExecutor } from '@tfpass/runtime';
import { randomInputs } from '@tfpass/runtime/testing';
import { QuantBuilder, foldBatchNormsForTraining } from '../src/index.js';
import { G } from './helpers.js';

const exec = sharedExecutor();

function net(isTraining: boolean, depthwise = false) {
  const b = new G();
  b.input('x', [2, 6, 6, 3]);
  const C = depthwise ? 3 : 4;
  b.conv('test/Conv2D', 'x', b.variable('test/weights', depthwise ? [3, 3, 3, 1] : [3, 3, 3, 4]), depthwise ? 'DepthwiseConv2dNative' : 'Conv2D');
  const v = (n: string) => b.variable(`test/BatchNorm/${n}`, [C]);
  const [gamma, beta, mm, mv] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map(v) as [string, string, string, string];
  const empty = b.konst('empty', [0], []);
  b.op('test/BatchNorm/FusedBatchNorm', 'FusedBatchNorm', ['test/Conv2D', gamma, beta, isTraining ? empty : mm, isTraining ? empty : mv], { is_training: { b: isTraining }, epsilon: { f: 0.001 }, data_format: { s: 'NHWC' } });
  if (isTraining) {
    for (const [k, s, m] of [[1, 'AssignMovingAvg', mm], [2, 'AssignMovingAvg_1', mv]] as const) {
      b.op(`test/BatchNorm/${s}/sub`, 'Sub', [m, `test/BatchNorm/FusedBatchNorm:${k}`]);
      b.op(`test/BatchNorm/${s}/mul`, 'Mul', [`test/BatchNorm/${s}/sub`, b.konst(`test/BatchNorm/${s}/decay`, [], [0.003])]);
    }
  }
  b.op('out', 'Identity', ['test/BatchNorm/FusedBatchNorm']);
  const r = (shape: number[], lo: number, hi: number, seed: number) => randomInputs({ v: { shape, low: lo, high: hi } }, seed).v!;
  const feeds: Record<string, Tensor> = {
    x: r([2, 6, 6, 3], -1, 1, 1),
    'test/weights': r(depthwise ? [3, 3, 3, 1] : [3, 3, 3, 4], -1, 1, 2),
    'test/BatchNorm/gamma': r([C], 0.5, 2, 3),
    'test/BatchNorm/beta': r([C], -1, 1, 4),
    'test/BatchNorm/moving_mean': r([C], -0.5, 0.5, 5),
    'test/BatchNorm/moving_variance': r([C], 0.5, 3, 6),
  };
  return { b, feeds };
}

describe('batch-norm folding for quantization (spec §2.2), numerically', () => {
  for (const dw of [false, true]) {
    it(`training fold equals the batch-statistics BN before the freeze${dw ? ' (depthwise)' : ''}`, async () => {
      const { b, feeds } = net(true, dw);
      const [ref] = await exec.run(b.g, feeds, ['out']);
      const folded = foldBatchNormsForTraining(b.g, new QuantBuilder(b.g), { training: true });
      expect(folded).toEqual(['test/Conv2D']);
      expect(b.g.node('out').dataInputs[0]).toBe('test/add_fold');
      const [got] = await exec.run(b.g, feeds, ['out']);
      const a = ref!.toFloat32();
      const c = got!.toFloat32();
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - c[i]!)).toBeLessThanOrEqual(1e-4 + 1e-4 * Math.abs(a[i]!));
    });
  }

  it('eval fold equals the moving-statistics BN', async () => {
    const { b, feeds } = net(false);
    const [ref] = await exec.run(b.g, feeds, ['out']);
    foldBatchNormsForTraining(b.g, new QuantBuilder(b.g), { training: false });
    expect(b.g.has('test/post_conv_mul')).toBe(false);
    const [got] = await exec.run(b.g, feeds, ['out']);
    const a = ref!.toFloat32();
    const c = got!.toFloat32();
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - c[i]!)).toBeLessThanOrEqual(1e-4 + 1e-4 * Math.abs(a[i]!));
  });
});
