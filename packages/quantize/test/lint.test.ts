import { describe, expect, it } from 'vitest';
import { readGraph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { lint } from '../src/index.js';
import { G } from './helpers.js';

describe('lint', () => {
  it('flags each checklist rule on a graph built to break them', () => {
    const b = new G();
    b.input('x', [-1, 8]);
    b.matmul('fc/MatMul', 'x', b.konst('w', [8, 4]));
    b.op('fc/Softmax', 'Softmax', ['fc/MatMul']);
    b.op('fc/check', 'CheckNumerics', ['fc/Softmax'], { message: { s: 'nan' } });
    b.op('loss/Softmax', 'Softmax', ['fc/check']);
    b.op('bn', 'FusedBatchNorm', ['x', b.konst('g', [8]), b.konst('bb', [8]), b.konst('m', [8]), b.konst('v', [8])], { is_training: { b: true } });
    b.op('sq', 'SquaredDifference', ['bn', 'x']);
    const rules = new Set(lint(b.g).map((f) => `${f.rule}:${f.node}`));
    for (const r of ['softmax-twice:loss/Softmax', 'bn-training:bn', 'bn-unfolded:bn', 'identity-left:fc/check', 'dynamic-input:x', 'op-outside-target:sq', 'missing-range:fc/MatMul']) expect(rules.has(r), r).toBe(true);
    expect(rules.has('softmax-twice:fc/Softmax')).toBe(false);
    expect(lint(b.g, { disable: ['missing-range'] }).some((f) => f.rule === 'missing-range')).toBe(false);
  });

  const path = modelPath('keras-mobilenet-0.25-128/mnet.pb');
  it.runIf(!!path)('keras MobileNet: 27 unfolded batch norms, Identities, dynamic batch, no ranges', () => {
    const f = lint(readGraph(path!));
    expect(f.filter((x) => x.rule === 'bn-unfolded').length).toBe(27);
    expect(f.some((x) => x.rule === 'identity-left')).toBe(true);
    expect(f.some((x) => x.rule === 'dynamic-input' && x.node === 'input_1')).toBe(true);
    expect(f.some((x) => x.rule === 'missing-range')).toBe(true);
  });

  for (const rel of ['speech-tiny-conv-qat/tiny_conv.pb', 'edgetpu-qat-fashion-mlp/frozen_model.pb']) {
    const p = modelPath(rel);
    it.runIf(!!p)(`real QAT graph ${rel}: no missing range, no Softmax twice, no BN in training mode`, () => {
      const f = lint(readGraph(p!), rel.startsWith('speech') ? { inputs: ['Reshape_2'] } : {});
      expect(f.filter((x) => ['missing-range', 'softmax-twice', 'bn-training'].includes(x.rule))).toEqual([]);
      // Their Identities only read constants (frozen variables): folded by the converter, not flagged.
      expect(f.some((x) => x.rule === 'identity-left')).toBe(false);
    });
  }
});
