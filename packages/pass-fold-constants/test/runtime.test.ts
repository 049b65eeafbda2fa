import { describe, expect, test } from 'vitest';
import type { Graph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { createExecutor } from '@tfpass/runtime';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { fold, iota, konst, lib, op } from './helpers.js';

const ex = createExecutor();

describe('fold_constants on the runtime', () => {
  test('spec 4.5(1): a + b folded, outputs equal', async () => {
    const g = new lib.Graph();
    konst(g, 'a_expect_removed', [100], iota(100));
    konst(g, 'b_expect_removed', [100], iota(100));
    op(g, 'add_expect_removed', 'Add', ['a_expect_removed', 'b_expect_removed']);
    g.addNode({ name: 'placeholder_expect_remains', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    op(g, 'output_expect_remains', 'Mul', ['add_expect_removed', 'placeholder_expect_remains']);
    const after = g.clone();
    await fold(after, 'fold_constants', ex, { inputs: ['placeholder_expect_remains'], outputs: ['output_expect_remains'] });
    expect(after.nodes().map((n) => n.name).filter((n) => n.endsWith('expect_removed') && after.node(n).op !== 'Const')).toEqual([]);
    expect(after.size).toBe(3);
    const r = await expectSameOutputs(g, after, { inputs: { placeholder_expect_remains: [100] }, outputs: ['output_expect_remains'], atol: 1e-5, rtol: 1e-5 });
    expect(r.outputs[0]!.maxAbsError).toBe(0);
  });

  test('spec 4.5(3): Shape and Cast of a constant fold; a chain of real ops evaluates right', async () => {
    const g = new lib.Graph();
    g.addNode({ name: 'placeholder', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    konst(g, 'a', [1, 1, 3], [1, 1, 1]);
    g.addNode({ name: 'shape', op: 'Shape', inputs: ['a'], attrs: { T: { type: 'float32' }, out_type: { type: 'int32' } } });
    g.addNode({ name: 'cast', op: 'Cast', inputs: ['shape'], attrs: { SrcT: { type: 'int32' }, DstT: { type: 'float32' } } });
    konst(g, 'w', [3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    g.addNode({ name: 'wt', op: 'Transpose', inputs: ['w', 'perm'], attrs: { T: { type: 'float32' }, Tperm: { type: 'int32' } } });
    konst(g, 'perm', [2], [1, 0], 'int32');
    op(g, 'sq', 'Rsqrt', ['wt']);
    op(g, 'cw', 'Mul', ['cast', 'sq']);
    op(g, 'output', 'Mul', ['cw', 'placeholder']);
    const after = g.clone();
    await fold(after, 'fold_constants', ex, { inputs: ['placeholder'], outputs: ['output'] });
    expect(after.nodes().map((n) => n.op).sort()).toEqual(['Const', 'Mul', 'Placeholder']);
    await expectSameOutputs(g, after, { inputs: { placeholder: [3, 3] }, outputs: ['output'], atol: 1e-6, rtol: 1e-6 });
  });

  test('results keep their declared dtype (int64 from an int32 runtime); float64 results stay unfolded', async () => {
    const g = new lib.Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    konst(g, 'shape32', [2], [3, 2], 'int32');
    g.addNode({ name: 'shape64', op: 'Cast', inputs: ['shape32'], attrs: { SrcT: { type: 'int32' }, DstT: { type: 'int64' } } });
    g.addNode({ name: 'output', op: 'Reshape', inputs: ['x', 'shape64'], attrs: { T: { type: 'float32' }, Tshape: { type: 'int64' } } });
    konst(g, 'd1', [2], [0.1, 0.2], 'float64');
    g.addNode({ name: 'dsum', op: 'AddV2', inputs: ['d1', 'd1'], attrs: { T: { type: 'float64' } } });
    g.addNode({ name: 'dx', op: 'Placeholder', attrs: { dtype: { type: 'float64' } } });
    g.addNode({ name: 'doutput', op: 'Mul', inputs: ['dsum', 'dx'], attrs: { T: { type: 'float64' } } });
    const after = g.clone();
    const r = await fold(after, 'fold_constants', ex, { inputs: ['x', 'dx'], outputs: ['output', 'doutput'] });
    expect(after.node('shape64').op).toBe('Const');
    expect(after.node('shape64').attrs.getType('dtype')).toBe('int64');
    expect(after.node('shape64').attrs.getTensor('value').toNumbers()).toEqual([3, 2]);
    expect(after.node('dsum').op).toBe('AddV2');
    expect(r[0]!.messages.join()).toMatch(/dsum: float64 result not folded/);
    await expectSameOutputs(g, after, { inputs: { x: [6] }, outputs: ['output'], atol: 0, rtol: 0 });
  });

  const mnet = modelPath('keras-mobilenet-0.25-128/mnet.pb');
  test.skipIf(!mnet)('keras-mobilenet-0.25-128 after remove_nodes(op=Identity): every unfused BN chain becomes constants, outputs identical', async () => {
    const original = lib.readGraph(mnet!);
    const r = new lib.PassRegistry();
    await lib.registerPlugin(await import('../src/index.js'), r);
    await lib.registerPlugin(await import('@tfpass/pass-strip'), r);
    const { withExecutor } = await import('./helpers.js');
    const opts = { registry: r, container: withExecutor(ex), inputs: ['input_1'], outputs: ['output_0'] };
    const before = original.clone();
    await lib.runPipeline(before, 'remove_nodes(op=Identity)', opts);
    const after = before.clone();
    const reports = await lib.runPipeline(after, 'fold_constants', opts);
    const ops = (g: Graph, o: string) => g.nodes().filter((n) => n.op === o).length;
    console.log(`keras-mobilenet: ${before.size} -> ${after.size} nodes, ${JSON.stringify(reports[0]!.stats)}`);
    expect(ops(before, 'Rsqrt')).toBe(27);
    expect(ops(after, 'Rsqrt')).toBe(0);
    expect(ops(after, 'Sub')).toBe(0);
    // What remains of each BN: conv -> Mul(const) -> Add(const).
    for (const n of after.nodes().filter((x) => x.op === 'Mul')) {
      const ins = n.dataInputs.map((s) => after.producer(s)!.op);
      expect(ins.filter((o) => o === 'Const')).toHaveLength(1);
    }
    expect(ops(after, 'Mul')).toBe(27);
    // Folded nodes keep their names.
    expect(after.node('conv1_bn/batchnorm_1/mul').op).toBe('Const');
    const rep = await expectSameOutputs(before, after, { inputs: { input_1: [1, 128, 128, 3] }, outputs: ['output_0'], atol: 0, rtol: 0 });
    expect(rep.outputs[0]!.maxAbsError).toBe(0);
  });
});
