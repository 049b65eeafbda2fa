/**
 * Ranges and checkpoints as contrib has them: at step 1 the forward pass quantizes with the
 * batch's own ranges (zero-debiased EMA's first value), and a resumed run continues exactly.
 * Model: the generated demo CNN (16x16x3), inputs uniform [0, 1), seeded per step.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Graph, Tensor } from '@tfpass/core';
import { Rng, randomTensor, runGraph } from '@tfpass/runtime';
import { trackedRange } from '@tfpass/quantize';
import { readCheckpoint } from '@tfpass/checkpoint';
import { buildDemoModel, buildTrainingGraph, completeSites, DEMO_INPUT, DEMO_LOGITS, DEMO_OUTPUT, installSteKernel, qat, runFirstParty, SEED_PIPELINE, ZeroDebiasedEma } from '../src/index.js';

async function foldedDemo(): Promise<Graph> {
  const g = buildDemoModel({ seed: 3, size: 16 });
  await runFirstParty(g, SEED_PIPELINE, [DEMO_INPUT], [DEMO_OUTPUT]);
  return g;
}
const batch = (step: number) => randomTensor({ shape: [2, 16, 16, 3], dist: 'uniform', low: 0, high: 1 }, new Rng(1000 + step));
const data = (step: number) => ({ feeds: { [DEMO_INPUT]: batch(step) } });

/** Loss of step 1 computed independently: each site's range is the batch's own, site after site. */
async function lossUnderBatchRanges(float: Graph): Promise<number> {
  installSteKernel();
  const { sites } = completeSites(float);
  const { graph: tg, train } = buildTrainingGraph(float, sites);
  const order = new Map(tg.topoOrder().map((n, i) => [n.name, i]));
  train.sort((a, b) => order.get(a.fq)! - order.get(b.fq)!);
  const feeds: Record<string, Tensor> = { [DEMO_INPUT]: batch(1) };
  for (const t of train) feeds[t.minFeed] = feeds[t.maxFeed] = Tensor.scalar('float32', 0);
  for (const t of train) {
    const [x] = await runGraph(tg, feeds, [t.site.tensor]);
    const v = x!.toFloat32();
    let lo = Infinity, hi = -Infinity;
    for (const e of v) [lo, hi] = [Math.min(lo, e), Math.max(hi, e)];
    const [blo, bhi] = trackedRange(lo, hi, t.site);
    // Activations: the zero-debiased EMA's first value, in float32 as TF computes it (the batch
    // value times 1.0000129, TF's own float32 rounding of 1 - 0.999); weights: the value itself.
    const first = (v: number) => new ZeroDebiasedEma(0.999, 0).update(v);
    const [a, b] = t.site.tracking === 'moving_average' ? [first(blo), first(bhi)] : [blo, bhi];
    feeds[t.minFeed] = Tensor.scalar('float32', a);
    feeds[t.maxFeed] = Tensor.scalar('float32', b);
  }
  const [q] = await runGraph(tg, feeds, [DEMO_LOGITS]);
  const [f] = await runGraph(float, { [DEMO_INPUT]: batch(1) }, [DEMO_LOGITS]);
  const a = q!.toFloat32(), b = f!.toFloat32();
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

describe('ranges and resume as contrib', () => {
  it('step 1 quantizes with the batch\'s own ranges at quant_delay 0 and 1', async () => {
    const float = await foldedDemo();
    await tf.setBackend('wasm');
    const want = await lossUnderBatchRanges(float);
    expect(want).toBeGreaterThan(0);
    for (const quantDelay of [0, 1]) {
      const r = await qat({ graph: float, output: DEMO_LOGITS, data, steps: 1, quantDelay, lr: 0 });
      expect(r.history[0]!.quantized).toBe(true);
      expect(Math.abs(r.history[0]!.loss - want)).toBeLessThanOrEqual(1e-12 + 1e-5 * want);
    }
  });

  it('a resumed run continues exactly: weights, ranges, EMA state, Adam slots and step', async () => {
    const float = await foldedDemo();
    const a = mkdtempSync(join(tmpdir(), 'tfpass-resume-a-'));
    const b = mkdtempSync(join(tmpdir(), 'tfpass-resume-b-'));
    const opts = { graph: float, output: DEMO_LOGITS, data, quantDelay: 2, lr: 3e-3, checkpointEvery: 2 };
    const whole = await qat({ ...opts, steps: 5, checkpointDir: a });
    await qat({ ...opts, steps: 2, checkpointDir: b });
    const rest = await qat({ ...opts, steps: 5, checkpointDir: b, resume: true });
    expect(rest.history.map((h) => h.step)).toEqual([3, 4, 5]);
    for (const [i, h] of rest.history.entries()) {
      const w = whole.history[i + 2]!.loss;
      expect(Math.abs(h.loss - w), `step ${h.step}`).toBeLessThanOrEqual(1e-7 + 1e-4 * w);
    }
    const ca = readCheckpoint(join(a, 'model.ckpt-5'));
    const cb = readCheckpoint(join(b, 'model.ckpt-5'));
    expect([...cb.entries.keys()].sort()).toEqual([...ca.entries.keys()].sort());
    for (const k of ca.entries.keys()) {
      const x = ca.read(k).toFloat32(), y = cb.read(k).toFloat32();
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!), k).toBeLessThanOrEqual(1e-6 + 1e-4 * Math.abs(x[i]!));
    }
    expect(ca.read('global_step').toNumbers()[0]).toBe(5);
    expect(ca.read('beta2_power').toNumbers()[0]).toBeCloseTo(0.999 ** 6, 6);
    expect([...ca.entries.keys()].some((k) => k.endsWith('/Adam_1'))).toBe(true);
    expect([...ca.entries.keys()].some((k) => k.endsWith('/local_step'))).toBe(true);
  });
});
