import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NumericMismatchError, Tensor } from '@tfpass/core';
import { artifactsToGraph, graphToArtifacts } from '@tfpass/tfjs-format';
import { createExecutor, randomInputs } from '../src/index.js';
import { expectSameOutputs, randomGraph } from '../src/testing.js';

describe('randomGraph property tests', () => {
  it('generates valid graphs covering every layer kind, deterministically per seed', () => {
    const ops = new Set<string>();
    for (let s = 0; s < 60; s++) {
      const { graph } = randomGraph(s, { randomShapes: true, depth: 8 });
      graph.validate();
      for (const n of graph) ops.add(n.op);
    }
    for (const op of ['Conv2D', 'DepthwiseConv2dNative', 'FusedBatchNorm', 'Mul', 'Add', 'AddV2', 'BiasAdd', 'Identity', 'ConcatV2', 'MatMul', 'Relu', 'Relu6']) expect(ops).toContain(op);
    const a = randomGraph(42, { randomShapes: true });
    const b = randomGraph(42, { randomShapes: true });
    expect(a.graph.nodes().map((n) => `${n.name}:${n.op}:${n.inputs.join(',')}`)).toEqual(b.graph.nodes().map((n) => `${n.name}:${n.op}:${n.inputs.join(',')}`));
    expect(a.inputs).toEqual(b.inputs);
  });

  it('wasm and cpu agree, and the TF.js artifact round trip is exact, on random graphs', async () => {
    const cpu = createExecutor({ backend: 'cpu' });
    const wasm = createExecutor();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), async (seed) => {
        const { graph, inputs, outputs } = randomGraph(seed, { randomShapes: true });
        const feeds = randomInputs(inputs as Record<string, number[] | { shape: number[] }>, seed);
        const [a] = await wasm.run(graph, feeds, outputs);
        const [b] = await cpu.run(graph, feeds, outputs);
        const x = a!.toFloat32();
        const y = b!.toFloat32();
        for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(y[i]!)));
        const back = artifactsToGraph(graphToArtifacts(graph));
        const [c] = await wasm.run(back, feeds, outputs);
        expect(Array.from(c!.toFloat32())).toEqual(Array.from(x));
      }),
      { numRuns: 12, seed: 7 },
    );
  });

  it('expectSameOutputs catches a 1% change of any single constant', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), fc.nat(), async (seed, pick) => {
        const { graph, inputs, outputs } = randomGraph(seed, { depth: 4 });
        const consts = graph.nodes().filter((n) => n.op === 'Const' && n.attrs.getTensor('value').dtype === 'float32');
        const victim = consts[pick % consts.length]!;
        const after = graph.clone();
        const t = victim.attrs.getTensor('value');
        const v = Float32Array.from(t.data as Float32Array);
        let k = 0;
        for (let i = 1; i < v.length; i++) if (Math.abs(v[i]!) > Math.abs(v[k]!)) k = i;
        v[k] = v[k]! * 1.01 + 0.01;
        after.node(victim.name).setAttr('value', { tensor: new Tensor('float32', t.shape, v) });
        await expect(expectSameOutputs(graph, after, { inputs, outputs, seed, atol: 1e-7, rtol: 1e-7, trials: 2 })).rejects.toBeInstanceOf(NumericMismatchError);
      }),
      { numRuns: 8, seed: 11 },
    );
  });
});
