import { describe, expect, test } from 'vitest';
import type { Graph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { createExecutor } from '@tfpass/runtime';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { rootServices as container } from '@tfpass/core';
import { lib } from './helpers.js';

const SEED = 'strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms';

async function registry() {
  const r = new lib.PassRegistry();
  await lib.registerPlugin(await import('../src/index.js'), r);
  await lib.registerPlugin(await import('@tfpass/pass-fold-constants'), r);
  await lib.registerPlugin(await import('@tfpass/pass-strip'), r);
  return r;
}

const CONVS = new Set(['Conv2D', 'DepthwiseConv2dNative', 'MatMul']);
const BIAS = new Set(['BiasAdd', 'Add', 'AddV2']);

/** Longest run of constant bias ops directly after any conv. */
function maxBiasRun(g: Graph): number {
  let worst = 0;
  for (const n of g) {
    if (!CONVS.has(n.op)) continue;
    let run = 0;
    let cur = n;
    for (;;) {
      const cons = g.consumersOf(cur.name);
      if (cons.length !== 1) break;
      const next = cons[0]!.node;
      if (!BIAS.has(next.op) || !next.dataInputs.some((s) => g.producer(s)?.op === 'Const')) break;
      run++;
      cur = next;
    }
    worst = Math.max(worst, run);
  }
  return worst;
}

const histogram = (g: Graph) => {
  const h: Record<string, number> = {};
  for (const n of g) h[n.op] = (h[n.op] ?? 0) + 1;
  return h;
};

const CASES = [
  { model: 'tf-doc-localisation-mnv2/frozen_model.pb', inputs: { input: [1, 800, 600, 3] }, outputs: ['keypoints_pred'], strip: 'strip_unused_nodes(type=float, shape="1,800,600,3")', bns: 52 },
  { model: 'keras-mobilenet-0.25-128/mnet.pb', inputs: { input_1: [1, 128, 128, 3] }, outputs: ['output_0'], strip: 'strip_unused_nodes(type=float, shape="1,128,128,3")', bns: 27 },
  { model: 'arm-kws-ds-cnn-s/DS_CNN_S.pb', inputs: { Mfcc: [1, 49, 10] }, outputs: ['labels_softmax'], strip: 'strip_unused_nodes(type=float, shape="1,49,10")', bns: 9 },
  { model: 'arm-kws-cnn-s/CNN_S.pb', inputs: { Mfcc: [1, 49, 10] }, outputs: ['labels_softmax'], strip: 'strip_unused_nodes(type=float, shape="1,49,10")', bns: 3 },
];

describe('seed pipeline on real models', () => {
  for (const c of CASES) {
    const path = modelPath(c.model);
    test.skipIf(!path)(`${c.model}: no BatchNorm/Rsqrt left, one bias op per conv, same outputs`, async () => {
      const original = lib.readGraph(path!);
      const reg = await registry();
      const di = container.createChildContainer();
      di.register(lib.TOKENS.executor, { useValue: createExecutor() });
      const opts = { registry: reg, container: di, inputs: Object.keys(c.inputs), outputs: c.outputs };
      // Reference: the same cut, nothing folded.
      const before = original.clone();
      await lib.runPipeline(before, c.strip, opts);
      const after = original.clone();
      const reports = await lib.runPipeline(after, SEED.replace('strip_unused_nodes', c.strip), opts);
      const h = histogram(after);
      console.log(`${c.model}: ${original.size} nodes -> cut ${before.size} -> folded ${after.size}; ` + reports.map((r) => `${r.name} ${r.nodesBefore}->${r.nodesAfter} ${JSON.stringify(r.stats)}`).join(', '));
      console.log(`  ops after: ${JSON.stringify(h)}`);
      expect(Object.keys(h).filter((o) => /BatchNorm|Rsqrt/.test(o))).toEqual([]);
      expect(maxBiasRun(after)).toBeLessThanOrEqual(1);
      const folded = reports.filter((r) => r.name.startsWith('fold_') && r.name !== 'fold_constants').reduce((a, r) => a + (r.stats.folded ?? 0), 0);
      expect(folded).toBe(c.bns);
      const rep = await expectSameOutputs(before, after, { inputs: c.inputs, outputs: c.outputs, seed: 11, atol: 1e-4, rtol: 1e-3 });
      console.log(`  max abs error ${rep.outputs.map((o) => o.maxAbsError.toExponential(2)).join(', ')}`);
      expect(rep.outputs.every((o) => o.ok)).toBe(true);
    });
  }
});
