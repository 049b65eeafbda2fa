import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassRegistry, Tensor, registerPlugin, runPipeline } from '@tfpass/core';
import { sharedExecutor } from '@tfpass/runtime';
import { expectSameOutputs, randomInputs } from '@tfpass/runtime/testing';
import { applySites, constValue, correctBiases, writeRanges, fakeQuantValue, nudge, planQuantization, weightRange } from '../src/index.js';
import { G } from './helpers.js';

const exec = sharedExecutor();

/** x[1,6,6,4] -> depthwise 3x3, channel multiplier 2 (8 output channels) -> BiasAdd -> Relu6. */
function depthwiseNet(): G {
  const b = new G();
  b.input('x', [1, 6, 6, 4]);
  // Channel c*2+m gets its own scale (1..8 x 0.1..) so one shared range would be visibly wrong.
  const w = Array.from({ length: 3 * 3 * 4 * 2 }, (_, i) => b.rand() * (1 + (i % 8)) * 2);
  b.conv('dw/depthwise', 'x', b.konst('dw/depthwise_weights', [3, 3, 4, 2], w), 'DepthwiseConv2dNative');
  b.biasAdd('dw/BiasAdd', 'dw/depthwise', b.konst('dw/bias', [8]));
  b.op('dw/Relu6', 'Relu6', ['dw/BiasAdd']);
  return b;
}

describe('per-channel depthwise weights', () => {
  it('quantize along C*M: [kh,kw,C*M] view, C*M ranges, reshaped back to [kh,kw,C,M] in every mode', () => {
    for (const kind of ['const', 'eval', 'training'] as const) {
      const g = depthwiseNet().g;
      const sites = planQuantization(g, { perChannel: true });
      // The per-tensor weight range calibrate records must not flatten the channels.
      const ranges = { 'dw/depthwise_weights': { min: -20, max: 20 }, 'dw/Relu6': { min: 0, max: 6 } };
      applySites(g, sites, kind === 'training' ? { kind } : { kind, ranges });
      const fq = g.nodes().filter((n) => n.op === 'FakeQuantWithMinMaxVarsPerChannel');
      expect(fq.length, kind).toBe(1);
      const view = g.producer(fq[0]!.dataInputs[0]!)!;
      expect(view.op).toBe('Reshape');
      expect(constValue(g, view.dataInputs[1]!)).toEqual([3, 3, 8]);
      const dw = g.node('dw/depthwise');
      const back = g.producer(dw.dataInputs[1]!)!;
      expect(back.op).toBe('Reshape');
      expect(constValue(g, back.dataInputs[1]!)).toEqual([3, 3, 4, 2]);
      if (kind === 'const') {
        expect(constValue(g, fq[0]!.dataInputs[1]!)!.length).toBe(8);
        expect(constValue(g, fq[0]!.dataInputs[2]!)!.length).toBe(8);
        expect(new Set(constValue(g, fq[0]!.dataInputs[2]!)).size).toBe(8);
      } else {
        expect(g.node(`${sites[0]!.prefix}/min`).attrs.getShape('shape')).toEqual([8]);
        if (kind === 'eval') expect(new Set(constValue(g, `${sites[0]!.prefix}/max/Initializer/Const`)).size).toBe(8);
        expect(g.node(`${sites[0]!.prefix}/max`).attrs.getShape('shape')).toEqual([8]);
      }
      if (kind === 'training') expect(constValue(g, `${sites[0]!.prefix}/BatchMin/reduction_indices`)).toEqual([0, 1]);
    }
  });

  it('numerically: each of the C*M channels is rounded on its own grid (|y-x| <= scale/2, same outputs as hand-quantized weights)', async () => {
    const float = depthwiseNet().g;
    const q = float.clone();
    const sites = planQuantization(q, { perChannel: true });
    applySites(q, sites, { kind: 'const' });
    const w = constValue(float, 'dw/depthwise_weights')!;
    const r = weightRange(float, 'dw/depthwise_weights', sites[0]!, 8)!;
    const grids = (r.min as number[]).map((m, k) => nudge(m, (r.max as number[])[k]!, 8, true));
    const wq = w.map((v, i) => fakeQuantValue(v, grids[i % 8]!));
    // The quantized filter as the runtime computes it.
    const restored = q.producer(q.node('dw/depthwise').dataInputs[1]!)!.name;
    const [y] = await exec.run(q, randomInputs({ x: [1, 6, 6, 4] }, 1), [restored]);
    const yv = y!.toFloat32();
    expect(y!.shape).toEqual([3, 3, 4, 2]);
    for (let i = 0; i < w.length; i++) {
      expect(Math.abs(yv[i]! - w[i]!), `w[${i}]`).toBeLessThanOrEqual(grids[i % 8]!.scale / 2 + 1e-6);
      expect(yv[i]).toBeCloseTo(wq[i]!, 6);
    }
    // One shared range would round the small channels much more coarsely.
    const shared = nudge(Math.min(...(r.min as number[])), Math.max(...(r.max as number[])), 8, true);
    expect(Math.min(...grids.map((x) => x.scale))).toBeLessThan(shared.scale / 4);
    const ref = float.clone();
    ref.node('dw/depthwise_weights').attrs.setTensor('value', Tensor.fromValues('float32', [3, 3, 4, 2], wq));
    await expectSameOutputs(ref, q, { inputs: { x: [1, 6, 6, 4] }, outputs: ['dw/Relu6'], trials: 3, atol: 1e-5, rtol: 1e-5 });
  });

  it('bias correction removes the mean output shift of weight rounding (depthwise and conv)', async () => {
    const b = depthwiseNet();
    b.conv('pw/Conv2D', 'dw/Relu6', b.konst('pw/weights', [1, 1, 8, 5]));
    b.biasAdd('pw/BiasAdd', 'pw/Conv2D', b.konst('pw/bias', [5]));
    const float = b.g;
    // Inputs with a non-zero mean, as post-ReLU activations have.
    const sample = (seed: number) => {
      const t = randomInputs({ x: [1, 6, 6, 4] }, seed).x!;
      return { x: new Tensor('float32', t.shape, t.toFloat32().map((v) => 1 + v / 2)) };
    };
    const corrected = float.clone();
    const opts = { perChannel: true, weightBits: 4 };
    const fixes = await correctBiases(corrected, planQuantization(corrected, opts), { data: Array.from({ length: 8 }, (_, i) => sample(10 + i)), executor: exec });
    expect(fixes.map((f) => f.bias).sort()).toEqual(['dw/bias', 'pw/bias']);
    expect(constValue(corrected, 'dw/depthwise_weights')).toEqual(constValue(float, 'dw/depthwise_weights'));
    const meanShift = async (base: typeof float) => {
      const q = base.clone();
      applySites(q, planQuantization(q, opts).filter((s) => s.kind === 'weights'), { kind: 'const' });
      const d = new Float64Array(8);
      for (let i = 0; i < 4; i++) {
        const f = sample(100 + i);
        const [a] = await exec.run(float, f, ['dw/BiasAdd']);
        const [c] = await exec.run(q, f, ['dw/BiasAdd']);
        const av = a!.toFloat32();
        const cv = c!.toFloat32();
        for (let k = 0; k < av.length; k++) d[k % 8]! += (cv[k]! - av[k]!) / (av.length / 8) / 4;
      }
      return Math.max(...Array.from(d, Math.abs));
    };
    const before = await meanShift(float);
    const after = await meanShift(corrected);
    expect(before).toBeGreaterThan(1e-3);
    expect(after).toBeLessThan(before / 3);

    // Measured only, stored in the ranges file, applied by insert_fake_quant when the weight options match.
    const measured = await correctBiases(float.clone(), planQuantization(float, opts), { data: Array.from({ length: 8 }, (_, i) => sample(10 + i)), executor: exec, apply: false });
    const file = join(mkdtempSync(join(tmpdir(), 'tfpass-bc-')), 'r.json');
    writeRanges(file, { 'dw/Relu6': { min: 0, max: 6 }, 'pw/BiasAdd': { min: -8, max: 8 } }, 'minmax', { perChannel: true, weightBits: 4, shifts: Object.fromEntries(measured.map((m) => [m.bias, m.shift])) });
    const reg = new PassRegistry();
    await registerPlugin(await import('../src/index.js'), reg);
    const viaPass = float.clone();
    const rep = await runPipeline(viaPass, `insert_fake_quant(ranges="${file}", per_channel=true, weight_bits=4)`, { registry: reg });
    expect(rep[0]!.stats.bias_corrected).toBe(2);
    for (const n of ['dw/bias', 'pw/bias']) expect(constValue(viaPass, n)).toEqual(constValue(corrected, n));
    const mismatch = float.clone();
    const rep2 = await runPipeline(mismatch, `insert_fake_quant(ranges="${file}", per_channel=true)`, { registry: reg });
    expect(rep2[0]!.warnings.join('\n')).toMatch(/4-bit per-channel weights; not applied/);
    expect(constValue(mismatch, 'dw/bias')).toEqual(constValue(float, 'dw/bias'));
  });
});
