import type { Graph, Node } from '../graph.js';
import { parseInput } from '../graph.js';
import type { Tensor } from '../tensor.js';

/**
 * Ops a rewrite looks through to find a `Const`: only `Identity`, because that is what TF's own
 * folds (fold_batch_norms, fold_old_batch_norms, …) look through. Deliberately narrower than the op
 * table's identity role (`opsWith('identity')` adds Snapshot, StopGradient, PreventGradient and
 * CheckNumerics, which TF's folds keep): pass `opsWith('identity')` as `through` to widen it.
 */
export const IDENTITY_OPS: ReadonlySet<string> = new Set(['Identity']);

/** Ops whose two data inputs may be swapped without changing the result. */
export const COMMUTATIVE_OPS: ReadonlySet<string> = new Set(['Add', 'AddV2', 'Mul', 'Maximum', 'Minimum', 'SquaredDifference', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr']);

/** The node an input string (`n`, `n:k`, `^n`) names: ports and `^` stripped. */
export function nodeName(s: string): string {
  return parseInput(s).node;
}

/** The `Const` an input reads, following identity-like ops; undefined when it is not constant. */
export function constProducer(g: Graph, input: string, through: ReadonlySet<string> = IDENTITY_OPS): Node | undefined {
  let n = g.producer(input);
  // The hop bound only guards against an (invalid) identity cycle.
  for (let hops = 0; n && through.has(n.op) && hops < 64; hops++) n = g.producer(n.dataInputs[0] ?? '');
  return n && n.op === 'Const' && n.attrs.has('value') ? n : undefined;
}

/** The value of the `Const` an input reads (see constProducer). */
export function constTensor(g: Graph, input: string): Tensor | undefined {
  return constProducer(g, input)?.attrs.getTensor('value');
}

/** The constant an input reads as plain numbers; undefined when not constant or not numeric. */
export function constValue(g: Graph, input: string): number[] | undefined {
  const n = constProducer(g, input);
  if (!n) return undefined;
  try {
    return n.attrs.getTensor('value').toNumbers();
  } catch {
    return undefined;
  }
}

/**
 * Names a rewrite must keep: the pipeline's `--inputs`/`--outputs`, both with ports stripped
 * (node names) and as given (`n:1`), so either spelling can be looked up.
 */
export function protectedNames(ctx: { inputs: readonly string[]; outputs: readonly string[] }): Set<string> {
  const out = new Set<string>();
  for (const s of [...ctx.inputs, ...ctx.outputs]) {
    const t = s.trim();
    if (!t) continue;
    out.add(t);
    out.add(parseInput(t).node);
  }
  return out;
}

/** True when the node is a pipeline input or output (by node name). */
export function isGraphOutput(keep: ReadonlySet<string>, n: Node | string): boolean {
  return keep.has(typeof n === 'string' ? n : n.name);
}

/**
 * True when `n` is read exactly once, by a data edge from its output 0, and is not protected:
 * a rewrite may then fold it away without another reader seeing the change.
 */
export function usedOnlyOnce(g: Graph, n: Node, keep?: ReadonlySet<string>): boolean {
  if (keep?.has(n.name)) return false;
  const cons = g.consumersOf(n.name);
  return cons.length === 1 && !cons[0]!.control && cons[0]!.port === 0;
}

/** Every node that reads some output of `name`, once each. */
export function consumerNodes(g: Graph, name: string): Node[] {
  const seen = new Set<Node>();
  for (const c of g.consumersOf(name)) seen.add(c.node);
  return [...seen];
}
