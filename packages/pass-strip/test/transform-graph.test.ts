// transform_graph pipelines through core's transformGraph() with every pass package (issue 17).
import { describe, expect, it } from 'vitest';
import { transformGraph } from '@tfpass/core';
import { graph } from './helpers.js';
import { allPasses } from './pipeline.js';

const tg = async (g: ReturnType<typeof graph>, inputs: string[], outputs: string[], t: string) =>
  transformGraph(g, inputs, outputs, t, { registry: await allPasses(), discover: false });

describe('messages as TF gives them', () => {
  it("fold_constants with an --inputs node that is not a Placeholder says so in TF's words", async () => {
    const g = graph([{ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } }, ['m', 'Relu', ['x']], ['out', 'Relu', ['m']]]);
    const err = await tg(g, ['m'], ['out'], 'fold_constants').catch((e) => e);
    expect(err.code).toBe('E_PASS');
    expect(err.message).toMatch(/Input 'm' was expected to be a Placeholder or PlaceholderWithDefault op, but was Relu/);
    // strip_unused_nodes first makes it one, as in TF's documented order
    const out = await tg(g, ['m'], ['out'], 'strip_unused_nodes fold_constants');
    expect(out.node('m').op).toBe('Placeholder');
  });
});
