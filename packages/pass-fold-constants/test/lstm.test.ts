import { expect, test } from 'vitest';
import { modelPath } from '@tfpass/core/testing';
import { createExecutor } from '@tfpass/runtime';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { lib, withExecutor } from './helpers.js';

const lstm = modelPath('arm-kws-lstm-s/LSTM_S.pb');
test.skipIf(!lstm)('arm-kws-lstm-s (TF1 while loop): nothing folded across the loop frame, outputs equal', async () => {
  const original = lib.readGraph(lstm!);
  const r = new lib.PassRegistry();
  await lib.registerPlugin(await import('../src/index.js'), r);
  await lib.registerPlugin(await import('@tfpass/pass-strip'), r);
  const opts = { registry: r, container: withExecutor(createExecutor()), inputs: ['Mfcc'], outputs: ['labels_softmax'] };
  const before = original.clone();
  await lib.runPipeline(before, 'strip_unused_nodes(type=float, shape="1,25,10") remove_nodes(op=Identity)', opts);
  const after = before.clone();
  const rep = await lib.runPipeline(after, 'fold_constants', opts);
  const loopOps = (g: lib.Graph) => g.nodes().filter((n) => /^(Enter|Exit|Merge|Switch|NextIteration|LoopCond)$/.test(n.op)).length;
  console.log(`lstm: ${before.size} -> ${after.size} nodes, ${JSON.stringify(rep[0]!.stats)}, loop ops ${loopOps(before)} -> ${loopOps(after)}`);
  expect(loopOps(after)).toBe(loopOps(before));
  expect(loopOps(after)).toBeGreaterThan(0);
  // Consts inside the frame hang off the loop pivot by control edges: they must stay where they are.
  for (const n of after.nodes().filter((x) => x.op === 'Enter')) expect(after.producer(n.dataInputs[0]!)).toBeDefined();
  after.validate();
  await expectSameOutputs(before, after, { inputs: { Mfcc: [1, 25, 10] }, outputs: ['labels_softmax'], atol: 1e-6, rtol: 1e-6 });
});
