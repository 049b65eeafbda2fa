import { expect, test } from 'vitest';
import { modelPath } from '@tfpass/core/testing';
import { count, lib, run } from './helpers.js';

const meta = modelPath('edgetpu-qat-fashion-mlp/checkpoints.meta');
test.skipIf(!meta)('edgetpu-qat-fashion-mlp training graph: freezing keras_learning_phase removes the BN cond', async () => {
  const g = lib.readGraph(meta!);
  const lp = g.node('batch_normalization_v1/keras_learning_phase');
  expect(lp.op).toBe('PlaceholderWithDefault');
  // Switches whose predicate is (an Identity of) the learning phase.
  const onPhase = (gr: lib.Graph) =>
    gr.nodes().filter((n) => n.op === 'Switch' && /keras_learning_phase|batch_normalization_v1\/cond(_\d)?\/pred_id/.test(n.dataInputs[1] ?? '')).length;
  const sw0 = count(g, 'Switch');
  const m0 = count(g, 'Merge');
  const before = onPhase(g);
  const r = await run(g, 'freeze_placeholder(name=keras_learning_phase, value=false)');
  console.log(`keras_learning_phase frozen: Switch ${sw0} -> ${count(g, 'Switch')}, Merge ${m0} -> ${count(g, 'Merge')}; ${r[0]!.messages.join('; ')}`);
  expect(before).toBeGreaterThan(0);
  expect(onPhase(g)).toBe(0);
  expect(count(g, 'Merge')).toBeLessThan(m0);
  expect(g.node('batch_normalization_v1/keras_learning_phase').op).toBe('Const');
  expect(r[0]!.messages.join()).toMatch(/resolved to batch_normalization_v1\/keras_learning_phase/);
  expect(g.nodes().some((n) => n.name.startsWith('batch_normalization_v1/cond') && /Switch|Merge/.test(n.op))).toBe(false);
  g.validate();
});
