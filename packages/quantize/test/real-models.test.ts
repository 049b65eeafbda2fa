import { describe, expect, it } from 'vitest';
import { readGraph, readModel } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { planQuantization, quantizeEval } from '../src/index.js';

describe('real graphs', () => {
  const meta = modelPath('edgetpu-qat-fashion-mlp/checkpoints.meta');
  it.runIf(!!meta)('a contrib training graph is left alone (no site twice, none on Keras gradient ops)', () => {
    expect(planQuantization(readModel(meta!).graph)).toEqual([]);
  });

  const mnv2 = modelPath('tf-doc-localisation-mnv2/frozen_model.pb');
  it.runIf(!!mnv2)('slim MobileNetV2: quantize_eval folds the 52 fused BNs and quantizes 53 weights', () => {
    const g = readGraph(mnv2!);
    const r = quantizeEval(g);
    expect(r.folded.length).toBe(52);
    expect(r.sites.filter((s) => s.kind === 'weights').length).toBe(53);
    // Linear bottleneck + residual: Identity activation and post-activation bypass, as contrib does.
    const names = new Set(r.sites.map((s) => s.prefix));
    for (const p of ['MobilenetV2/expanded_conv_2/project/weights_quant', 'MobilenetV2/expanded_conv_2/project/act_quant', 'MobilenetV2/expanded_conv_2/post_activation_bypass_quant']) expect(names.has(p), p).toBe(true);
    expect(g.nodes().some((n) => n.op === 'FusedBatchNorm' && g.consumerCount(n.name) > 0)).toBe(false);
    g.validate();
  });
});
