import { describe, expect, it } from 'vitest';
import { Graph, PassRegistry, runPipeline, definePass, parseTransforms, Tensor, encodeGraph, readGraph } from '@tfpass/core';

describe('smoke', () => {
  it('builds, runs a pass, round-trips', async () => {
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'id', op: 'Identity', inputs: ['x'] });
    g.addNode({ name: 'y', op: 'Relu', inputs: ['id'] });
    const reg = new PassRegistry();
    reg.register(definePass({ name: 'drop_identity', summary: 's', run(graph) {
      for (const n of graph.nodes()) if (n.op === 'Identity') { graph.replaceUses(n.name, n.inputs[0]!); graph.removeNode(n.name); }
    } }));
    const r = await runPipeline(g, 'drop_identity', { registry: reg });
    expect(r[0]!.nodesAfter).toBe(2);
    expect(g.node('y').inputs).toEqual(['x']);
    const g2 = readGraph(encodeGraph(g) as Uint8Array);
    expect(g2.size).toBe(2);
    expect(parseTransforms('a(b=1, b="2,3") c')).toHaveLength(2);
    expect(Tensor.fromValues('float16', [2], [1, 0.5]).toFloat32()[1]).toBe(0.5);
  });
});
