/**
 * Issue 15 item 7 in a transform_graph pipeline: quantize_training / quantize_eval say the seed's
 * pitfalls as pass warnings (what `tfpass quantize` prints), so scripts get them too.
 */
import { describe, expect, it } from 'vitest';
import { PassRegistry, readGraph, registerPlugin, runPipeline } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import * as quantize from '../src/index.js';

const mnet = modelPath('keras-mobilenet-0.25-128/mnet.pb');

async function warnings(path: string, transforms: string): Promise<{ warnings: string[]; messages: string[] }> {
  const registry = new PassRegistry();
  await registerPlugin(quantize, registry, { packageName: '@tfpass/quantize', packageVersion: '0.0.0' });
  const [r] = await runPipeline(readGraph(path), transforms, { registry });
  return r!;
}

describe.skipIf(!mnet)('quantize passes warn about the seed pitfalls (raw Keras MobileNet, unfolded BN, frozen weights)', () => {
  it('quantize_training: unfolded batch norms (fold first) and a frozen graph (unfreeze first), one warning each', async () => {
    const r = await warnings(mnet!, 'quantize_training');
    const bn = r.warnings.filter((w) => /unfolded batch norm/.test(w));
    expect(bn).toHaveLength(1);
    expect(bn[0]).toMatch(/27 unfolded batch norms.*fold batch norms first/);
    const frozen = r.warnings.filter((w) => /the graph is frozen/.test(w));
    expect(frozen).toHaveLength(1);
    expect(frozen[0]).toMatch(/0 trainable variables.*unfreeze first/);
    for (const w of r.warnings) expect(w).not.toContain('\n');
  });

  it('quantize_eval: the unfolded norms, but no frozen-graph warning (eval trains nothing)', async () => {
    const r = await warnings(mnet!, 'quantize_eval');
    expect(r.warnings.filter((w) => /unfolded batch norm/.test(w))).toHaveLength(1);
    expect(r.warnings.some((w) => /frozen/.test(w))).toBe(false);
  });
});
