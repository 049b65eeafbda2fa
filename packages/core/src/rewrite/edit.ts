import type { Graph, Node } from '../graph.js';
import { parseInput } from '../graph.js';
import { IDENTITY_OPS } from './query.js';

/**
 * Point every reader of `from` (a tensor `n`/`n:k`) at `to`. Control edges on `from`'s node
 * move to `to`'s node too, so an ordering constraint is never lost. Returns the edges changed.
 */
export function replaceAllUses(g: Graph, from: string, to: string, opts: { except?: Set<string> } = {}): number {
  return g.replaceUses(from, to, { except: opts.except, controls: true });
}

/** Upstream ops that are removed with their last reader by default. */
const DEAD_WITH_READER: ReadonlySet<string> = new Set(['Const', ...IDENTITY_OPS]);

/**
 * Remove `name` when nothing reads it and it is not protected, then, transitively, its inputs
 * that became unread. Only `ops` (default: Const and identity-like ops) are removed upstream,
 * so a rewrite never deletes real computation it did not own. Returns how many were removed.
 */
export function removeIfDead(g: Graph, name: string, opts: { keep?: ReadonlySet<string>; ops?: ReadonlySet<string> } = {}): number {
  const ops = opts.ops ?? DEAD_WITH_READER;
  const stack = [parseInput(name).node];
  let removed = 0;
  while (stack.length) {
    const n = g.get(stack.pop()!);
    if (!n || opts.keep?.has(n.name) || g.consumerCount(n.name) > 0) continue;
    const ins = n.inputs.map((s) => parseInput(s).node);
    g.removeNode(n.name);
    removed++;
    for (const p of ins) {
      const pn = g.get(p);
      if (pn && ops.has(pn.op)) stack.push(p);
    }
  }
  return removed;
}

/** Replace every attribute of `dst` by `src`'s (only the listed ones, when given). */
export function copyAttrs(dst: Node, src: Node, only?: readonly string[]): void {
  for (const k of dst.attrs.keys()) dst.attrs.delete(k);
  for (const k of only ?? src.attrs.keys()) if (src.attrs.has(k)) dst.attrs.copyFrom(src.attrs, k);
}

/** The node's control inputs as input strings (`^n`), to carry over to a replacement. */
export function controlEdges(...nodes: (Node | undefined)[]): string[] {
  const out: string[] = [];
  for (const n of nodes) if (n) for (const c of n.controlInputs) out.push('^' + c);
  return out;
}
