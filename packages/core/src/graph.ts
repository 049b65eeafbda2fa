import { clone, create } from '@bufbuild/protobuf';
import { GraphDefSchema, type GraphDef } from './gen/tensorflow/core/framework/graph_pb.js';
import { NodeDefSchema, type NodeDef } from './gen/tensorflow/core/framework/node_def_pb.js';
import { Attrs, attrFromJson, type AttrJson } from './attrs.js';
import { GraphValidationError } from './errors.js';

// ---- input strings ------------------------------------------------------------------------

export interface InputRef {
  node: string;
  port: number;
  control: boolean;
}

/** Parse `n`, `n:1` or `^n`. Names may contain ':' only as the port separator. */
export function parseInput(s: string): InputRef {
  if (s.startsWith('^')) return { node: s.slice(1), port: -1, control: true };
  const c = s.lastIndexOf(':');
  if (c > 0) {
    const tail = s.slice(c + 1);
    if (/^\d+$/.test(tail)) return { node: s.slice(0, c), port: Number(tail), control: false };
  }
  return { node: s, port: 0, control: false };
}

export function formatInput(r: { node: string; port?: number; control?: boolean }): string {
  if (r.control) return '^' + r.node;
  return r.port ? `${r.node}:${r.port}` : r.node;
}

/** Canonical tensor name: `n` for port 0, `n:k` otherwise. */
export function tensorName(node: string, port = 0): string {
  return port ? `${node}:${port}` : node;
}

/** Node name of an input or tensor string (`^n`, `n:2` -> `n`). */
export function nodeNameOf(s: string): string {
  return parseInput(s).node;
}

// ---- nodes ---------------------------------------------------------------------------------

export interface NodeSpec {
  name: string;
  op: string;
  inputs?: string[];
  attrs?: Record<string, AttrJson>;
  device?: string;
}

export interface Consumer {
  node: Node;
  /** index into node.inputs */
  index: number;
  /** output port read (-1 for a control edge) */
  port: number;
  control: boolean;
}

/** A node of the IR. Every mutation goes through methods that keep the graph's indexes right. */
export class Node {
  private _attrs: Attrs | undefined;
  /** @internal */
  constructor(
    readonly graph: Graph,
    /** @internal */ readonly def: NodeDef,
  ) {}

  /** Typed view of the node's attributes (made on first use: most nodes are never asked). */
  get attrs(): Attrs {
    return (this._attrs ??= new Attrs(this.def.attr, undefined, () => this.def.name));
  }

  get name(): string { return this.def.name; }
  get op(): string { return this.def.op; }
  set op(v: string) { this.def.op = v; }
  get device(): string { return this.def.device; }
  set device(v: string) { this.def.device = v; }

  /** All inputs as TF strings, data inputs first, then `^control` ones. */
  get inputs(): readonly string[] { return this.def.input; }
  /** Data inputs only. */
  get dataInputs(): string[] { return this.def.input.filter((s) => !s.startsWith('^')); }
  /** Names of control-dependency nodes (without `^`). */
  get controlInputs(): string[] { return this.def.input.filter((s) => s.startsWith('^')).map((s) => s.slice(1)); }
  /** Parsed data input i. */
  input(i: number): InputRef {
    const s = this.def.input[i];
    if (s === undefined) throw new GraphValidationError(this.name, `has no input ${i}`);
    return parseInput(s);
  }
  /** The producer node of data input i, if it is in the graph. */
  inputNode(i: number): Node | undefined {
    return this.graph.get(this.input(i).node);
  }

  setInput(i: number, s: string): void {
    const old = this.def.input[i];
    if (old === undefined) throw new GraphValidationError(this.name, `has no input ${i}`);
    this.graph._unlink(this, old);
    this.def.input[i] = s;
    this.graph._link(this, s);
  }
  /** Replace every input; control inputs are moved after data inputs as TF requires. */
  setInputs(list: readonly string[]): void {
    for (const s of this.def.input) this.graph._unlink(this, s);
    this.def.input = orderInputs(list);
    for (const s of this.def.input) this.graph._link(this, s);
  }
  /** Append a data input (before any control inputs). */
  addInput(s: string): void {
    if (s.startsWith('^')) return this.addControlInput(s.slice(1));
    const firstCtl = this.def.input.findIndex((x) => x.startsWith('^'));
    if (firstCtl < 0) this.def.input.push(s);
    else this.def.input.splice(firstCtl, 0, s);
    this.graph._link(this, s);
  }
  /** Add `^name` unless already present. */
  addControlInput(name: string): void {
    const s = '^' + name;
    if (this.def.input.includes(s)) return;
    this.def.input.push(s);
    this.graph._link(this, s);
  }
  removeInput(i: number): void {
    const old = this.def.input[i];
    if (old === undefined) return;
    this.def.input.splice(i, 1);
    this.graph._unlink(this, old);
  }
  removeControlInput(name: string): void {
    const i = this.def.input.indexOf('^' + name);
    if (i >= 0) this.removeInput(i);
  }
  setAttr(name: string, v: AttrJson): this {
    this.attrs.setJson(name, v);
    return this;
  }
  /** Consumers of this node's outputs and control edges. */
  consumers(): Consumer[] {
    return this.graph.consumersOf(this.name);
  }
}

function orderInputs(list: readonly string[]): string[] {
  const data = list.filter((s) => !s.startsWith('^'));
  const ctl = list.filter((s) => s.startsWith('^'));
  return [...data, ...new Set(ctl)];
}

/** A library function as returned by `Graph.functionBody`. */
export interface FunctionBody {
  name: string;
  /** Input argument names, in order. */
  inputs: string[];
  /** Output argument names, in order. */
  outputs: string[];
  /** Output argument name -> body tensor in function syntax (`node:out:k`). */
  ret: Record<string, string>;
  controlRet: Record<string, string>;
  body: Graph;
}

// ---- graph ---------------------------------------------------------------------------------

/**
 * Mutable GraphDef with a name index and a consumer index (producer -> consumers), so that
 * lookups, rewiring and renames cost O(edges touched). Versions, the function library and
 * unknown fields of the GraphDef are kept as they were read.
 */
export class Graph {
  private readonly byName = new Map<string, Node>();
  /**
   * Graph order, made on the first rename: a Set of nodes keeps a renamed node in its place in
   * O(1). Until then byName's insertion order is the graph order, which saves reads a Set.
   */
  private _order: Set<Node> | undefined;
  private get order(): Iterable<Node> {
    return this._order ?? this.byName.values();
  }
  /**
   * producer node name -> consumer node -> number of inputs referencing it. Built on first
   * use, so reading and writing a graph never pays for it; kept up to date afterwards.
   */
  private users: Map<string, Map<Node, number>> | undefined;
  /** @internal GraphDef without its nodes: versions, library, unknown fields. */
  base: GraphDef;

  constructor() {
    this.base = create(GraphDefSchema, {});
  }

  /** Build from a GraphDef message; takes ownership of its NodeDefs. @internal */
  static fromGraphDef(def: GraphDef, opts: { file?: string } = {}): Graph {
    const nodes = def.node;
    def.node = [];
    const g = new Graph();
    g.base = def;
    const byName = g.byName;
    for (let i = 0; i < nodes.length; i++) {
      const nd = nodes[i]!;
      // One hash operation per node: a name seen before leaves the size unchanged.
      byName.set(nd.name, new Node(g, nd));
      if (byName.size !== i + 1) {
        def.node = nodes;
        throw new GraphValidationError(nd.name, `duplicate node name${opts.file ? ` in ${opts.file}` : ''}`);
      }
    }
    return g;
  }

  /** A GraphDef message sharing this graph's NodeDefs. @internal */
  toGraphDef(): GraphDef {
    const out = { ...this.base } as GraphDef;
    const nodes: NodeDef[] = new Array(this.byName.size);
    let i = 0;
    for (const n of this.order) nodes[i++] = n.def;
    out.node = nodes;
    return create(GraphDefSchema, out);
  }

  get size(): number { return this.byName.size; }
  /**
   * Live iteration in graph order. It runs over the order Set (made here if needed), so a
   * rename inside the loop does not move the node to the end and visit it again.
   */
  [Symbol.iterator](): IterableIterator<Node> { return (this._order ??= new Set(this.byName.values())).values(); }
  /** Nodes in graph order (a snapshot: safe to mutate the graph while iterating). */
  nodes(): Node[] { return [...this.order]; }
  has(name: string): boolean { return this.byName.has(name); }
  get(name: string): Node | undefined { return this.byName.get(name); }
  /** Like get, but throws a GraphValidationError naming the node when it is missing. */
  node(name: string): Node {
    const n = this.byName.get(name);
    if (!n) throw new GraphValidationError(name, 'no such node');
    return n;
  }
  /** The node producing a tensor/input string. */
  producer(s: string): Node | undefined {
    return this.byName.get(parseInput(s).node);
  }

  /** TF's producer version, if present. */
  get producerVersion(): number | undefined { return this.base.versions?.producer; }
  get versions(): { producer: number; minConsumer: number; badConsumers: number[] } | undefined {
    const v = this.base.versions;
    return v ? { producer: v.producer, minConsumer: v.minConsumer, badConsumers: [...v.badConsumers] } : undefined;
  }
  /** Names of functions in the graph's library (kept opaque otherwise). */
  functionNames(): string[] {
    return (this.base.library?.function ?? []).map((f) => f.signature?.name ?? '');
  }

  addNode(spec: NodeSpec): Node {
    if (this.byName.has(spec.name)) throw new GraphValidationError(spec.name, 'a node with this name already exists');
    const attr: NodeDef['attr'] = {};
    for (const [k, v] of Object.entries(spec.attrs ?? {})) attr[k] = attrFromJson(v);
    const def = create(NodeDefSchema, { name: spec.name, op: spec.op, input: orderInputs(spec.inputs ?? []), device: spec.device ?? '', attr });
    const n = new Node(this, def);
    this.byName.set(spec.name, n);
    this._order?.add(n);
    for (const s of def.input) this._link(n, s);
    return n;
  }

  /** Insert a copy of another graph's node (attrs copied as-is). */
  importNode(src: Node, rename?: string): Node {
    const def = clone(NodeDefSchema, src.def);
    if (rename) def.name = rename;
    if (this.byName.has(def.name)) throw new GraphValidationError(def.name, 'a node with this name already exists');
    const n = new Node(this, def);
    this.byName.set(def.name, n);
    this._order?.add(n);
    for (const s of def.input) this._link(n, s);
    return n;
  }

  /** Remove a node. Its consumers keep their (now dangling) inputs: rewire them first. */
  removeNode(name: string): void {
    const n = this.byName.get(name);
    if (!n) return;
    for (const s of n.def.input) this._unlink(n, s);
    this.byName.delete(name);
    this._order?.delete(n);
  }

  /** Remove many nodes in O(total edges). */
  removeNodes(names: Iterable<string>): void {
    for (const name of names) this.removeNode(name);
  }

  /** Keep only the named nodes, preserving order. */
  retain(keep: Set<string>): void {
    for (const n of this.nodes()) if (!keep.has(n.name)) this.removeNode(n.name);
  }

  /** Rename a node and rewrite every input that refers to it. */
  renameNode(from: string, to: string): void {
    if (from === to) return;
    const n = this.node(from);
    if (this.byName.has(to)) throw new GraphValidationError(to, 'a node with this name already exists');
    const cons = this.consumersOf(from);
    // `_order` holds the node itself, so its place in graph order is unchanged.
    this._order ??= new Set(this.byName.values());
    this.byName.delete(from);
    this.byName.set(to, n);
    n.def.name = to;
    for (const c of cons) {
      const r = parseInput(c.node.def.input[c.index]!);
      c.node.setInput(c.index, formatInput({ ...r, node: to }));
    }
  }

  /** Put the nodes in the given order, a permutation of all nodes (e.g. after a sort). O(n). */
  reorder(order: readonly Node[]): void {
    if (order.length !== this.byName.size) throw new GraphValidationError(undefined, `reorder: got ${order.length} nodes, the graph has ${this.byName.size}`);
    const next = new Map<string, Node>();
    for (const n of order) {
      if (this.byName.get(n.name) !== n || next.has(n.name)) throw new GraphValidationError(n.name, 'reorder: not a node of this graph, or listed twice');
      next.set(n.name, n);
    }
    this.byName.clear();
    this._order = undefined;
    for (const [k, v] of next) this.byName.set(k, v);
  }

  /**
   * Rename many nodes at once in O(nodes + edges), keeping graph order; every input that
   * refers to a renamed node keeps its `^` and `:N`. Targets must not collide.
   */
  renameNodes(renames: ReadonlyMap<string, string>): void {
    const final = new Set<string>();
    for (const name of this.byName.keys()) {
      const to = renames.get(name) ?? name;
      if (final.has(to)) throw new GraphValidationError(to, 'renameNodes: two nodes would get this name');
      final.add(to);
    }
    const entries = [...this.byName.entries()];
    this.byName.clear();
    this.users = undefined;
    for (const [k, n] of entries) {
      const to = renames.get(k);
      if (to !== undefined) n.def.name = to;
      this.byName.set(n.def.name, n);
    }
    for (const n of this.byName.values()) {
      const ins = n.def.input;
      for (let i = 0; i < ins.length; i++) {
        const r = parseInput(ins[i]!);
        const to = renames.get(r.node);
        if (to !== undefined) ins[i] = r.control ? '^' + to : formatInput({ node: to, port: r.port });
        this._link(n, ins[i]!);
      }
    }
  }

  /**
   * A function of the graph's library: its signature and a copy of its body as a separate
   * Graph (body inputs keep function syntax, e.g. `x:output:0` or an argument name).
   */
  functionBody(name: string): FunctionBody | undefined {
    const f = (this.base.library?.function ?? []).find((x) => x.signature?.name === name);
    if (!f) return undefined;
    const g = Graph.fromGraphDef(create(GraphDefSchema, { node: f.nodeDef.map((d) => clone(NodeDefSchema, d)) }));
    return {
      name,
      inputs: (f.signature?.inputArg ?? []).map((a) => a.name),
      outputs: (f.signature?.outputArg ?? []).map((a) => a.name),
      ret: { ...f.ret },
      controlRet: { ...f.controlRet },
      body: g,
    };
  }

  /** Every input (data or control) that reads a node. */
  consumersOf(name: string): Consumer[] {
    const m = this.index().get(name);
    if (!m) return [];
    const out: Consumer[] = [];
    for (const node of m.keys()) {
      const ins = node.def.input;
      for (let i = 0; i < ins.length; i++) {
        const r = parseInput(ins[i]!);
        if (r.node === name) out.push({ node, index: i, port: r.port, control: r.control });
      }
    }
    return out;
  }

  /** Consumers of one output tensor (`n` or `n:k`), data edges only. */
  tensorConsumers(tensor: string): Consumer[] {
    const t = parseInput(tensor);
    return this.consumersOf(t.node).filter((c) => !c.control && c.port === t.port);
  }

  /** Number of distinct nodes reading `name` (data or control). */
  consumerCount(name: string): number {
    return this.index().get(name)?.size ?? 0;
  }

  /**
   * Point every data input reading `from` (a tensor, `n` or `n:k`) at `to` instead.
   * With `controls`, control edges on `from`'s node are moved to `to`'s node too.
   * Nodes in `except` are left alone. Returns how many inputs changed.
   */
  replaceUses(from: string, to: string, opts: { except?: Set<string>; controls?: boolean } = {}): number {
    const f = parseInput(from);
    const t = parseInput(to);
    let changed = 0;
    for (const c of this.consumersOf(f.node)) {
      if (opts.except?.has(c.node.name)) continue;
      if (c.control) {
        if (opts.controls) {
          c.node.removeControlInput(f.node);
          c.node.addControlInput(t.node);
          changed++;
        }
        continue;
      }
      if (c.port !== f.port) continue;
      c.node.setInput(c.index, formatInput({ node: t.node, port: t.port }));
      changed++;
    }
    return changed;
  }

  /** A name not yet used in the graph: `base`, else `base_1`, `base_2`, … */
  uniqueName(base: string): string {
    if (!this.byName.has(base)) return base;
    for (let i = 1; ; i++) {
      const n = `${base}_${i}`;
      if (!this.byName.has(n)) return n;
    }
  }

  /**
   * Stable topological order: each node comes after its inputs, otherwise in graph order.
   * Back edges of TF1 while loops (Merge <- NextIteration) are ignored. Throws on other cycles.
   */
  topoOrder(): Node[] {
    const state = new Map<Node, number>(); // 1 = on stack, 2 = done
    const out: Node[] = [];
    for (const root of this.order) {
      if (state.get(root) === 2) continue;
      const stack: [Node, number][] = [[root, 0]];
      state.set(root, 1);
      while (stack.length) {
        const top = stack[stack.length - 1]!;
        const [n, i] = top;
        const ins = n.def.input;
        if (i < ins.length) {
          top[1] = i + 1;
          const p = this.byName.get(parseInput(ins[i]!).node);
          if (!p) continue;
          if (isLoopBackEdge(n, p)) continue;
          const st = state.get(p);
          if (st === 2) continue;
          if (st === 1) throw new GraphValidationError(n.name, `is part of a cycle through '${p.name}' outside a while loop`);
          state.set(p, 1);
          stack.push([p, 0]);
        } else {
          state.set(n, 2);
          out.push(n);
          stack.pop();
        }
      }
    }
    return out;
  }

  /** Check names, dangling inputs, input order and cycles; throws the first problem found. */
  validate(): void {
    for (const n of this.order) {
      if (!n.name) throw new GraphValidationError(undefined, `a node of op '${n.op}' has an empty name`);
      if (!n.op) throw new GraphValidationError(n.name, 'has no op');
      let seenCtl = false;
      for (const s of n.def.input) {
        const r = parseInput(s);
        if (r.control) seenCtl = true;
        else if (seenCtl) throw new GraphValidationError(n.name, `data input '${s}' comes after a control input`);
        if (!this.byName.has(r.node)) throw new GraphValidationError(n.name, `input '${s}' refers to a node that does not exist`);
      }
    }
    this.topoOrder();
  }

  /** Make this graph an exact copy of `other` (used to roll back a failed pass). */
  replaceWith(other: Graph): void {
    const c = other.clone();
    this.byName.clear();
    this._order = undefined;
    this.users = undefined;
    this.base = c.base;
    for (const n of c.order) {
      const moved = new Node(this, n.def);
      this.byName.set(n.name, moved);
    }
  }

  /** Deep copy. */
  clone(): Graph {
    return Graph.fromGraphDef(clone(GraphDefSchema, this.toGraphDef()));
  }

  private index(): Map<string, Map<Node, number>> {
    if (!this.users) {
      this.users = new Map();
      for (const n of this.order) for (const s of n.def.input) this._link(n, s);
    }
    return this.users;
  }

  /** @internal */
  _link(n: Node, s: string): void {
    if (!this.users) return;
    const name = parseInput(s).node;
    let m = this.users.get(name);
    if (!m) this.users.set(name, (m = new Map()));
    m.set(n, (m.get(n) ?? 0) + 1);
  }
  /** @internal */
  _unlink(n: Node, s: string): void {
    if (!this.users) return;
    const name = parseInput(s).node;
    const m = this.users.get(name);
    if (!m) return;
    const c = (m.get(n) ?? 0) - 1;
    if (c <= 0) m.delete(n);
    else m.set(n, c);
    if (m.size === 0) this.users.delete(name);
  }
}

function isLoopBackEdge(consumer: Node, producer: Node): boolean {
  return (consumer.op === 'Merge' || consumer.op === 'RefMerge') && (producer.op === 'NextIteration' || producer.op === 'RefNextIteration');
}
