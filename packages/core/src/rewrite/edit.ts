import type { Graph, Node } from '../graph.js';
import { formatInput, parseInput } from '../graph.js';
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
 * so a rewrite never deletes real computation it did not own; `'any'` removes the whole dead
 * subgraph (for a rewrite that owns it, e.g. a replaced batch norm). Returns how many were removed.
 */
export function removeIfDead(g: Graph, name: string, opts: { keep?: ReadonlySet<string>; ops?: ReadonlySet<string> | 'any' } = {}): number {
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
      if (pn && (ops === 'any' || ops.has(pn.op))) stack.push(p);
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

/**
 * Splice out a pass-through node: readers of its output 0 read `input` (default its first data
 * input) instead, control edges on it wait for that input's producer, and its own control
 * dependencies move to its readers (TF's remove_nodes drops them). The node is removed.
 * Readers of its other outputs are the caller's to refuse first.
 */
export function bypass(g: Graph, node: Node, input: string = node.dataInputs[0]!): void {
  const target = input;
  const src = parseInput(target).node;
  const ctl = node.controlInputs;
  for (const reader of consumersOnce(g, node.name)) {
    const ins = reader.inputs;
    // Common case first: no dependencies to carry and no edge that would point at the reader
    // itself, so only the inputs reading `node` change (no relinking of the others).
    if (!ctl.length && src !== reader.name) {
      for (let i = 0; i < ins.length; i++) {
        const r = parseInput(ins[i]!);
        if (r.node === node.name) reader.setInput(i, r.control ? '^' + src : target);
      }
      continue;
    }
    const next: string[] = [];
    const extra: string[] = [];
    for (const s of ins) {
      const r = parseInput(s);
      if (r.node !== node.name) next.push(s);
      else {
        next.push(r.control ? '^' + src : target);
        for (const c of ctl) extra.push('^' + c);
      }
    }
    reader.setInputs([...next, ...extra].filter((s) => s !== '^' + reader.name));
  }
  g.removeNode(node.name);
}

function consumersOnce(g: Graph, name: string): Node[] {
  const seen = new Set<Node>();
  for (const c of g.consumersOf(name)) seen.add(c.node);
  return [...seen];
}

/**
 * Names of the nodes the `roots` need (inputs and control inputs, transitively), not looking
 * past `stopAt` nodes; everything else is dead for those roots. O(nodes + edges).
 */
export function liveNodes(g: Graph, roots: Iterable<string>, stopAt: ReadonlySet<string> = new Set()): Set<string> {
  const live = new Set<string>();
  const queue: string[] = [];
  for (const r of roots) if (g.has(r) && !live.has(r)) live.add(r), queue.push(r);
  for (let i = 0; i < queue.length; i++) {
    const name = queue[i]!;
    if (stopAt.has(name)) continue;
    for (const s of g.get(name)!.inputs) {
      const src = parseInput(s).node;
      if (live.has(src) || !g.has(src)) continue;
      live.add(src);
      queue.push(src);
    }
  }
  return live;
}

/** Point the data inputs of the named readers that read `tensor` at `to`; returns how many changed. */
export function replaceUsesIn(g: Graph, tensor: string, to: string, readers: readonly string[]): number {
  const t = parseInput(tensor);
  let changed = 0;
  for (const name of readers) {
    const n = g.get(name);
    if (!n) continue;
    n.inputs.forEach((s, i) => {
      const r = parseInput(s);
      if (!r.control && r.node === t.node && r.port === t.port) {
        n.setInput(i, to);
        changed++;
      }
    });
  }
  return changed;
}

/**
 * Merge nodes into others in one scan of the graph: every input (data or control) reading a key
 * of `into` reads its value instead, ports kept; a control edge a node would get on itself is
 * dropped; the merged nodes are removed. Values must not be keys. O(nodes + edges).
 */
export function mergeNodes(g: Graph, into: ReadonlyMap<string, string>): void {
  if (!into.size) return;
  for (const n of g.nodes()) {
    if (into.has(n.name)) continue;
    const ins = n.inputs;
    let hit = false;
    for (const s of ins) if (into.has(parseInput(s).node)) hit = true;
    if (!hit) continue;
    const next: string[] = [];
    for (const s of ins) {
      const r = parseInput(s);
      const to = into.get(r.node);
      const v = to === undefined ? s : r.control ? '^' + to : formatInput({ node: to, port: r.port });
      if (v !== '^' + n.name) next.push(v);
    }
    n.setInputs(next);
  }
  g.removeNodes(into.keys());
}
