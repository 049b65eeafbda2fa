import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readGraph } from '@tfpass/core';
import { planQuantization, quantizeTraining } from '../src/index.js';

const fixture = fileURLToPath(new URL('../fixtures/residual-addv2.pbtxt', import.meta.url));

describe('AddV2 fixture (residual block, post-activation bypass, final layer)', () => {
  it('places contrib names on AddV2 bias adds and bypasses', () => {
    const g = readGraph(fixture);
    const sites = planQuantization(g);
    expect(sites.map((s) => [s.prefix, s.tensor, s.consumers])).toEqual([
      // post_activation_bypass match (largest first): conv layer with bypass and Relu6
      ['block/conv/weights_quant', 'block/conv/weights/read', ['block/conv/Conv2D']],
      ['block/act_quant', 'block/Relu6', ['post/AddV2']],
      ['block/conv/conv_quant', 'block/conv/add', ['block/AddV2']],
      ['post/post_activation_bypass_quant', 'post/AddV2', ['flat']],
      // final layer: MatMul + AddV2 bias, no activation
      ['fc/weights_quant', 'fc/weights/read', ['fc/MatMul']],
      ['fc/act_quant', 'fc/add', ['logits']],
    ]);
  });

  it('training rewrite: EMA quantizers named after the AddV2 contexts, graph valid', () => {
    const g = readGraph(fixture);
    const r = quantizeTraining(g);
    expect(g.node('post/post_activation_bypass_quant/AssignMaxEma').op).toBe('AssignSub');
    expect(g.node('flat').dataInputs[0]).toBe('post/post_activation_bypass_quant/FakeQuantWithMinMaxVars');
    expect(r.sites.length).toBe(6);
    g.validate();
  });
});
