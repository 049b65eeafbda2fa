import { describe, expect, it } from 'vitest';
import { Graph, Tensor } from '@tfpass/core';
import { planQuantization, quantCheck, loadTarget, applySites } from '@tfpass/quantize';
import { completeSites } from '../src/index.js';

const f32 = { type: 'float32' as const };

/** Two conv+Relu branches added and followed by a Relu: contrib leaves the sum without a range. */
function twoBranches(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: f32, shape: { shape: [1, 4, 4, 2] } } });
  for (const b of ['a', 'b']) {
    g.addNode({ name: `${b}/w`, op: 'Const', attrs: { dtype: f32, value: { tensor: Tensor.fromValues('float32', [1, 1, 2, 2], [0.1, 0.2, -0.3, 0.4]) } } });
    g.addNode({ name: `${b}/Conv2D`, op: 'Conv2D', inputs: ['x', `${b}/w`], attrs: { T: f32, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' } } });
    g.addNode({ name: `${b}/bias`, op: 'Const', attrs: { dtype: f32, value: { tensor: Tensor.fromValues('float32', [2], [0.1, -0.1]) } } });
    g.addNode({ name: `${b}/BiasAdd`, op: 'BiasAdd', inputs: [`${b}/Conv2D`, `${b}/bias`], attrs: { T: f32 } });
    g.addNode({ name: `${b}/Relu`, op: 'Relu', inputs: [`${b}/BiasAdd`], attrs: { T: f32 } });
  }
  g.addNode({ name: 'sum', op: 'AddV2', inputs: ['a/Relu', 'b/Relu'], attrs: { T: f32 } });
  g.addNode({ name: 'sum/Relu', op: 'Relu', inputs: ['sum'], attrs: { T: f32 } });
  g.addNode({ name: 'head/w', op: 'Const', attrs: { dtype: f32, value: { tensor: Tensor.fromValues('float32', [1, 1, 2, 1], [0.5, -0.5]) } } });
  g.addNode({ name: 'head/Conv2D', op: 'Conv2D', inputs: ['sum/Relu', 'head/w'], attrs: { T: f32, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' } } });
  return g;
}

describe('completeSites', () => {
  it('adds a range where contrib leaves the converter without one, and nothing else', () => {
    const g = twoBranches();
    const missingWith = (sites: ReturnType<typeof planQuantization>) => {
      const probe = g.clone();
      applySites(probe, sites, { kind: 'const' });
      return quantCheck(probe, loadTarget('tflite')).filter((f) => f.rule === 'missing-range').map((f) => f.tensor);
    };
    const contrib = planQuantization(g);
    expect(missingWith(contrib)).toContain('sum/Relu');
    const { sites, added } = completeSites(g);
    expect(added.map((s) => s.tensor)).toEqual(missingWith(contrib));
    expect(added.every((s) => s.tracking === 'moving_average' && s.kind === 'activation')).toBe(true);
    expect(missingWith(sites)).toEqual([]);
    expect(sites.length).toBe(contrib.length + added.length);
  });
});

describe('eval.meta keeps the weights as variables', () => {
  it('freezing it with a checkpoint takes that checkpoint\'s weights with its ranges', async () => {
    const { buildDemoModel, DEMO_INPUT, DEMO_LOGITS, DEMO_OUTPUT, runFirstParty, SEED_PIPELINE, evalMetaGraph } = await import('../src/index.js');
    const { planQuantization } = await import('@tfpass/quantize');
    const { freezeGraph, writeCheckpoint } = await import('@tfpass/checkpoint');
    const { Tensor } = await import('@tfpass/core');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const g = buildDemoModel({ seed: 3, size: 16 });
    await runFirstParty(g, SEED_PIPELINE, [DEMO_INPUT], [DEMO_OUTPUT]);
    const sites = planQuantization(g);
    const w = sites.find((s) => s.kind === 'weights')!.tensor;
    const ev = evalMetaGraph(g, sites, [w]);
    expect(ev.model.graph.node(w).op).toBe('VariableV2');
    // A checkpoint with other weights (all 0.25) and every range.
    const old = g.node(w).attrs.getTensor('value');
    const t = new Map<string, Tensor>([[w, new Tensor('float32', old.shape, new Float32Array(old.size).fill(0.25))]]);
    for (const s of sites) {
      t.set(`${s.prefix}/min`, Tensor.scalar('float32', -1));
      t.set(`${s.prefix}/max`, Tensor.scalar('float32', 1));
    }
    const prefix = join(mkdtempSync(join(tmpdir(), 'tfpass-eval-')), 'model.ckpt-1');
    writeCheckpoint(prefix, t);
    const frozen = freezeGraph({ inputGraph: ev.model, inputCheckpoint: prefix, outputNodeNames: [DEMO_LOGITS] });
    expect(Array.from(frozen.node(w).attrs.getTensor('value').toFloat32()).every((v) => v === 0.25)).toBe(true);
  });
});

describe('Keras ReLU6 (Relu -> Minimum -> Maximum) is one activation', () => {
  it('Keras MobileNet gets one range per activation, after the clip, none inside it', async () => {
    const { modelsDir } = await import('@tfpass/core/testing');
    const M = modelsDir();
    if (!M) return;
    const { readGraph } = await import('@tfpass/core');
    const { join } = await import('node:path');
    const { runFirstParty, clipInterior } = await import('../src/index.js');
    const g = readGraph(join(M, 'keras-mobilenet-0.25-128', 'mnet.pb'));
    await runFirstParty(g, 'remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms', ['input_1'], ['output_0']);
    const interior = clipInterior(g);
    expect(interior.size).toBe(54); // 27 Relu + 27 Minimum outputs
    const { sites } = completeSites(g);
    expect(sites.filter((s) => interior.has(s.producer))).toEqual([]);
    const clips = g.nodes().filter((n) => n.op === 'Maximum');
    for (const c of clips) expect(sites.some((s) => s.producer === c.name), c.name).toBe(true);
    expect(sites.length).toBe(27 + 27);
  });
});
