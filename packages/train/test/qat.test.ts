import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Graph, Tensor } from '@tfpass/core';
import { Rng, randomTensor, useBackend } from '@tfpass/runtime';
import { readCheckpoint } from '@tfpass/checkpoint';
import { buildDemoModel, DEMO_INPUT, DEMO_LOGITS, DEMO_OUTPUT, qat, runFirstParty, SEED_PIPELINE, installSteKernel, buildTrainingGraph } from '../src/index.js';
import { planQuantization } from '@tfpass/quantize';

async function foldedDemo(): Promise<Graph> {
  const g = buildDemoModel({ seed: 3, size: 16 });
  await runFirstParty(g, SEED_PIPELINE, [DEMO_INPUT], [DEMO_OUTPUT]);
  return g;
}

// Inputs: uniform [0, 1) images, seeded per step.
const data = (step: number) => ({ feeds: { [DEMO_INPUT]: randomTensor({ shape: [2, 16, 16, 3], dist: 'uniform', low: 0, high: 1 }, new Rng(1000 + step)) } });

describe('qat', () => {
  it('the straight-through gradient is 1 inside the nudged range and 0 outside', async () => {
    await useBackend('cpu');
    installSteKernel();
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'mn', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [], [-1]) } } });
    g.addNode({ name: 'mx', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [], [1]) } } });
    g.addNode({ name: 'fq', op: 'FakeQuantWithMinMaxVars', inputs: ['x', 'mn', 'mx'], attrs: { num_bits: { i: 8 }, narrow_range: { b: false } } });
    const { buildGraphModel } = await import('@tfpass/runtime');
    const m = buildGraphModel(g);
    const x = tf.tensor1d([-2, -0.5, 0, 0.99, 1.5]);
    const dx = tf.grad((xx: tf.Tensor) => tf.sum(m.execute({ x: xx }, 'fq') as tf.Tensor))(x);
    expect(Array.from(dx.dataSync())).toEqual([0, 1, 1, 1, 0]);
    const y = (m.execute({ x }, 'fq') as tf.Tensor).dataSync();
    // min=-1, max=1: scale 2/255, zero point 127 (spec §3), so -0.5 lands on the grid.
    expect(Math.abs(y[1]! - Math.round(-0.5 / (2 / 255)) * (2 / 255))).toBeLessThan(1e-6);
  });

  it('trains the demo model with quant_delay, tracks ranges from step one and checkpoints every variable', async () => {
    const float = await foldedDemo();
    const sites = planQuantization(float);
    const { graph: tg } = buildTrainingGraph(float, sites);
    expect(tg.nodes().filter((n) => n.op === 'FakeQuantWithMinMaxVars')).toHaveLength(sites.length);
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-qat-'));
    const res = await qat({ graph: float, output: DEMO_LOGITS, data, steps: 12, quantDelay: 6, checkpointDir: dir, checkpointEvery: 6, lr: 0.001 });
    expect(res.history.map((h) => h.quantized)).toEqual([false, false, false, false, false, true, true, true, true, true, true, true]);
    for (const h of res.history) expect(Number.isFinite(h.loss)).toBe(true);
    // Distillation starts from the teacher's own weights: the float loss is ~0 before the delay.
    expect(res.history[0]!.loss).toBeLessThan(1e-8);
    expect(res.history[6]!.loss).toBeGreaterThan(0);
    for (const [prefix, [mn, mx]] of res.ranges) {
      expect(mn, prefix).toBeLessThanOrEqual(0);
      expect(mx, prefix).toBeGreaterThan(mn);
      expect(mx, prefix).not.toBe(6); // tracked, not the initial [0, 6]
    }
    const ck = readCheckpoint(join(dir, 'model.ckpt-12'));
    for (const s of res.sites) {
      expect(ck.has(`${s.prefix}/min`)).toBe(true);
      expect(ck.has(`${s.prefix}/max`)).toBe(true);
    }
    expect(ck.read('global_step').toNumbers()[0]).toBe(12);
    // Resume continues at step 13.
    const more = await qat({ graph: float, output: DEMO_LOGITS, data, steps: 14, quantDelay: 6, checkpointDir: dir, checkpointEvery: 1, resume: true });
    expect(more.history.map((h) => h.step)).toEqual([13, 14]);
    expect(more.restore!.restored.length).toBeGreaterThan(0);
  });
});

describe('qat stops with a typed error where TensorFlow.js has no gradient', () => {
  it('names the op and the node (DepthToSpace after a MatMul), before any update', async () => {
    const g = new Graph();
    const c = (name: string, shape: number[], v: number[]) => g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', shape, v) } } });
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 4] } } });
    c('w', [4, 16], Array.from({ length: 64 }, (_, i) => ((i * 7) % 11) / 11 - 0.5));
    g.addNode({ name: 'mm', op: 'MatMul', inputs: ['x', 'w'], attrs: { T: { type: 'float32' } } });
    g.addNode({ name: 'shape', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [4], [1, 2, 2, 4]) } } });
    g.addNode({ name: 'r', op: 'Reshape', inputs: ['mm', 'shape'], attrs: { T: { type: 'float32' } } });
    g.addNode({ name: 'up/d2s', op: 'DepthToSpace', inputs: ['r'], attrs: { T: { type: 'float32' }, block_size: { i: 2 }, data_format: { s: 'NHWC' } } });
    const x = Tensor.fromValues('float32', [1, 4], [0.1, 0.2, 0.3, 0.4]);
    await expect(qat({ graph: g, output: 'up/d2s', data: () => ({ feeds: { x } }), steps: 1, backend: 'cpu' })).rejects.toThrow(/no gradient for DepthToSpace \(node up\/d2s\).*nothing was trained/);
  });
});
