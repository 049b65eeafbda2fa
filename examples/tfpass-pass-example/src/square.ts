import type { PassDefinition, PluginApi, Rule } from '@tfpass/core';

/** x * x -> Square(x): a rule that builds a node (grappler's arithmetic optimizer does the same). */
export function mulToSquare(lib: PluginApi['lib']): PassDefinition {
  const rule: Rule = {
    name: 'squared',
    pattern: 'Mul(*, *)',
    match: (node, _cx, m) => (node.dataInputs[0] === node.dataInputs[1] ? m : undefined),
    check: (m, cx) => (cx.keep.has(m.node.name) ? 'kept, it is a pipeline output' : undefined),
    rewrite(m, b, cx) {
      const x = m.node.dataInputs[0]!;
      // The new node takes over the Mul's own control dependencies; replaceAllUses moves those on it.
      const sq = b.op('Square', [x, ...lib.controlEdges(m.node)], { T: m.node.attrs.getType('T') });
      lib.replaceAllUses(cx.graph, m.node.name, sq.name);
      lib.removeIfDead(cx.graph, m.node.name, { keep: cx.keep });
    },
  };
  return {
    name: 'mul_to_square',
    summary: 'Rewrite x * x as Square(x), keeping --outputs',
    example: 'mul_to_square',
    run: (g, ctx) => void lib.applyRules(g, [rule], { keep: lib.protectedNames(ctx), report: ctx }),
  };
}
