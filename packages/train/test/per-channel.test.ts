/**
 * Per-channel QAT (FakeQuantWithMinMaxVarsPerChannel weights, symmetric narrow range as the
 * int8 spec wants). Inputs: uniform [-1, 1) values, seeded.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Graph, Tensor } from '@tfpass/core';
import { Rng, buildGraphModel, fakeQuantValues, nudge, randomTensor, useBackend } from '@tfpass/runtime';
import { readCheckpoint } from '@tfpass/checkpoint';
import { buildDemoModel, DEMO_INPUT, DEMO_LOGITS, DEMO_OUTPUT, installSteKernel, qat, runFirstParty, SEED_PIPELINE } from '../src/index.js';

describe('per-channel QAT', () => {
  it('the per-channel kernel is TF\'s formula per channel, and its gradient passes inside each channel\'s range only', async () => {
    await useBackend('cpu');
    installSteKernel();
    const g = new Graph();
    const c = (name: string, shape: number[], v: number[]) => g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', shape, v) } } });
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    c('mn', [3], [-1, -0.5, -2]);
    c('mx', [3], [1, 0.5, 2]);
    g.addNode({ name: 'fq', op: 'FakeQuantWithMinMaxVarsPerChannel', inputs: ['x', 'mn', 'mx'], attrs: { num_bits: { i: 8 }, narrow_range: { b: true } } });
    const m = buildGraphModel(g);
    const xs = randomTensor({ shape: [4, 3], dist: 'uniform', low: -1.5, high: 1.5 }, new Rng(5)).toFloat32();
    const x = tf.tensor2d(xs, [4, 3]);
    const got = (m.execute({ x }, 'fq') as tf.Tensor).dataSync();
    const want = fakeQuantValues(xs, [nudge(-1, 1, 8, true), nudge(-0.5, 0.5, 8, true), nudge(-2, 2, 8, true)], false);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-6);
    const dx = tf.grad((xx: tf.Tensor) => tf.sum(m.execute({ x: xx }, 'fq') as tf.Tensor))(x).dataSync();
    const lim = [1, 0.5, 2];
    for (let i = 0; i < xs.length; i++) {
      const n = nudge(-lim[i % 3]!, lim[i % 3]!, 8, true);
      expect(dx[i], `x=${xs[i]} channel ${i % 3}`).toBe(xs[i]! >= n.min && xs[i]! <= n.max ? 1 : 0);
    }
  });

  it('trains per-channel weight ranges (depthwise through its C*M view) and checkpoints them as [C] variables', async () => {
    const float = buildDemoModel({ seed: 3, size: 16 });
    await runFirstParty(float, SEED_PIPELINE, [DEMO_INPUT], [DEMO_OUTPUT]);
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-pc-'));
    const data = (step: number) => ({ feeds: { [DEMO_INPUT]: randomTensor({ shape: [2, 16, 16, 3], dist: 'uniform', low: 0, high: 1 }, new Rng(1000 + step)) } });
    const r = await qat({ graph: float, output: DEMO_LOGITS, data, steps: 2, perChannel: true, checkpointDir: dir, checkpointEvery: 2 });
    const pc = r.sites.filter((s) => s.perChannel);
    expect(pc.length).toBeGreaterThan(1);
    const ck = readCheckpoint(join(dir, 'model.ckpt-2'));
    for (const s of pc) {
      const w = float.node(s.tensor).attrs.getTensor('value');
      const lo = ck.read(`${s.prefix}/min`).toFloat32(), hi = ck.read(`${s.prefix}/max`).toFloat32();
      const layer = float.node(s.layer!);
      const channels = layer.op === 'DepthwiseConv2dNative' ? w.shape[2]! * w.shape[3]! : w.shape[w.shape.length - 1]!;
      expect(lo.length, s.prefix).toBe(channels);
      // Symmetric narrow range per channel: min = -max.
      for (let i = 0; i < channels; i++) expect(lo[i]).toBe(-hi[i]!);
      expect(new Set(Array.from(hi)).size).toBeGreaterThan(1);
    }
  });
});
