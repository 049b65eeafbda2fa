import { describe, expect, test } from 'vitest';
import { fileURLToPath } from 'node:url';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { count, lib, run } from './helpers.js';

const fixture = (f: string) => fileURLToPath(new URL(`../fixtures/${f}`, import.meta.url));

describe('pbtxt fixtures: Add and AddV2 alike', () => {
  for (const addOp of ['add', 'addv2']) {
    test(`conv_${addOp}_bn: BN after a constant ${addOp} folds into conv + one BiasAdd`, async () => {
      const g = lib.readGraph(fixture(`conv_${addOp}_bn.pbtxt`));
      const after = g.clone();
      await run(after, 'fold_old_batch_norms', { outputs: ['output'] });
      expect(count(after, /BatchNorm/)).toBe(0);
      expect(after.has('conv/add')).toBe(false);
      expect(after.node('bn/FusedBatchNormV3').op).toBe('BiasAdd');
      expect(after.node('bn/FusedBatchNormV3').dataInputs[0]).toBe('conv/Conv2D');
      await expectSameOutputs(g, after, { inputs: { input: [1, 5, 5, 2] }, outputs: ['output'], seed: 5, atol: 1e-5, rtol: 1e-5 });
    });

    test(`keras_mul_${addOp}: Mul folds into the depthwise kernel, the ${addOp} stays as the one bias op`, async () => {
      const g = lib.readGraph(fixture(`keras_mul_${addOp}.pbtxt`));
      const after = g.clone();
      await run(after, 'fold_batch_norms', { outputs: ['output'] });
      expect(count(after, 'Mul')).toBe(0);
      expect(after.node('bn/mul_1').op).toBe('DepthwiseConv2dNative');
      expect(after.node('output').op).toBe(addOp === 'add' ? 'Add' : 'AddV2');
      await expectSameOutputs(g, after, { inputs: { input: [1, 5, 5, 2] }, outputs: ['output'], seed: 5, atol: 1e-5, rtol: 1e-5 });
    });
  }
});
