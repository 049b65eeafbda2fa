import type { Match, PassDefinition, PluginApi, Rule } from '@tfpass/core';

/** The constant that leaves `x` unchanged, per op. */
const NEUTRAL: Record<string, number> = { Add: 0, AddV2: 0, Sub: 0, Mul: 1, RealDiv: 1 };

/** x + 0, x - 0, x * 1, x / 1 -> x (also 0 + x and 1 * x; the constant may sit behind an Identity). */
export function removeNeutralOps(lib: PluginApi['lib']): PassDefinition {
  const constOf = (m: Match) => m.node.dataInputs[m.operands[1]!]!;
  const rule: Rule = {
    name: 'removed',
    pattern: 'Add|AddV2|Sub|Mul|RealDiv(*, Const)',
    matchOptions: { commutative: true, through: true },
    // Only a neutral constant is a match at all: anything else is simply another op.
    match: (node, cx, m) => (lib.constValue(cx.graph, constOf(m!))?.every((v) => v === NEUTRAL[node.op]) ? m : undefined),
    check(m, cx) {
      if (cx.keep.has(m.node.name)) return 'kept, it is a pipeline output';
      // x + [0, 0] has the broadcast shape, not x's: only a scalar is sure to change nothing.
      if (lib.constTensor(cx.graph, constOf(m))!.size !== 1) return 'kept, its constant is not a scalar and may broadcast x';
      return undefined;
    },
    rewrite(m, _b, cx) {
      lib.bypass(cx.graph, m.node, m.node.dataInputs[m.operands[0]!]!);
      lib.removeIfDead(cx.graph, constOf(m));
    },
  };
  return {
    name: 'remove_neutral_ops',
    summary: 'Remove x + 0, x - 0, x * 1 and x / 1 (scalar constants), keeping --outputs',
    example: 'remove_neutral_ops',
    run: (g, ctx) => void lib.applyRules(g, [rule], { keep: lib.protectedNames(ctx), report: ctx }),
  };
}
