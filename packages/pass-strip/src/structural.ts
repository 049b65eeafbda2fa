import type { Graph, Node, PassContext, PassDefinition, PluginApi } from '@tfpass/core';

type Lib = PluginApi['lib'];

const MERGE_OPS = new Set(['Merge', 'RefMerge', '_XlaMerge']);

/**
 * TF's execution order: Kahn's algorithm with a LIFO ready stack; a Merge is ready after
 * one data input (so while loops sort). O(nodes + edges).
 */
export function executionOrder(lib: Lib, graph: Graph): Node[] {
  const nodes = graph.nodes();
  const index = new Map<string, number>();
  nodes.forEach((n, i) => index.set(n.name, i));
  const pending = new Int32Array(nodes.length);
  // Edges producer -> consumer, parsed once, then grouped by producer (CSR).
  let src = new Int32Array(nodes.length * 2);
  let dst = new Int32Array(nodes.length * 2);
  let m = 0;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    const ins = n.inputs;
    let ctl = 0;
    for (const s of ins) {
      const control = s.charCodeAt(0) === 94; // '^'
      const j = index.get(control ? s.slice(1) : s) ?? index.get(lib.parseInput(s).node);
      if (j === undefined) throw new lib.GraphValidationError(n.name, `unknown input node '${s}'`);
      if (m === src.length) {
        const grow = (a: Int32Array) => { const b = new Int32Array(a.length * 2); b.set(a); return b; };
        src = grow(src);
        dst = grow(dst);
      }
      src[m] = j;
      dst[m++] = i;
      if (control) ctl++;
    }
    pending[i] = MERGE_OPS.has(n.op) && ins.length > ctl ? ctl + 1 : ins.length;
  }
  const start = new Int32Array(nodes.length + 1);
  for (let e = 0; e < m; e++) start[src[e]! + 1]!++;
  for (let i = 0; i < nodes.length; i++) start[i + 1]! += start[i]!;
  const fill = start.slice(0, nodes.length);
  const edges = new Int32Array(m);
  for (let e = 0; e < m; e++) edges[fill[src[e]!]!++] = dst[e]!;
  const ready: number[] = [];
  for (let i = 0; i < nodes.length; i++) if (pending[i] === 0) ready.push(i);
  const out: Node[] = [];
  while (ready.length) {
    const i = ready.pop()!;
    out.push(nodes[i]!);
    for (let e = start[i]!; e < start[i + 1]!; e++) {
      const c = edges[e]!;
      if (--pending[c]! === 0) ready.push(c);
    }
  }
  if (out.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => pending[i]! > 0).slice(0, 5).map((n) => n.name);
    throw new lib.GraphValidationError(undefined, `${nodes.length - out.length} nodes are in a cycle (e.g. ${stuck.join(', ')})`);
  }
  return out;
}

const noParams = {};

export function structuralPasses(lib: Lib): PassDefinition<any>[] {
  const opMatch = (want: string) => (op: string) => want === '*' || want === op;
  return [
    {
      name: 'sort_by_execution_order',
      summary: 'Order nodes so that each comes after its inputs (TensorFlow\'s execution order)',
      params: noParams,
      example: 'sort_by_execution_order',
      run(graph: Graph) {
        graph.reorder(executionOrder(lib, graph));
      },
    },
    {
      name: 'remove_device',
      summary: 'Clear the device of every node',
      params: noParams,
      example: 'remove_device',
      run(graph: Graph, ctx: PassContext) {
        for (const n of graph) if (n.device) {
          n.device = '';
          ctx.count('cleared');
        }
      },
    },
    {
      name: 'set_device',
      summary: 'Set the device of every node (or only of nodes without one)',
      params: {
        device: { type: 'string', default: '', description: 'device string, quoted: "/device:CPU:0" (empty clears)' },
        if_default: { type: 'bool', default: false, description: 'only set it on nodes that have no device yet' },
      },
      example: 'set_device(device="/device:CPU:0", if_default=true)',
      run(graph: Graph, ctx: PassContext<{ device: string; if_default: boolean }>) {
        for (const n of graph) {
          if (ctx.params.if_default && n.device) continue;
          n.device = ctx.params.device;
        }
      },
    },
    {
      name: 'remove_attribute',
      summary: 'Remove an attribute from every node (or every node of one op)',
      params: {
        attribute_name: { type: 'string', required: true, description: 'attribute to remove' },
        op_name: { type: 'string', default: '*', description: 'only nodes of this op (* = all)' },
      },
      example: 'remove_attribute(attribute_name=_class)',
      run(graph: Graph, ctx: PassContext<{ attribute_name: string; op_name: string }>) {
        const m = opMatch(ctx.params.op_name);
        for (const n of graph) if (m(n.op) && n.attrs.delete(ctx.params.attribute_name)) ctx.count('removed');
      },
    },
    {
      name: 'rename_attribute',
      summary: 'Rename an attribute on every node (or every node of one op)',
      params: {
        old_attribute_name: { type: 'string', required: true, description: 'current attribute name' },
        new_attribute_name: { type: 'string', required: true, description: 'new attribute name' },
        op_name: { type: 'string', default: '*', description: 'only nodes of this op (* = all)' },
      },
      example: 'rename_attribute(old_attribute_name=foo, new_attribute_name=bar, op_name=Mul)',
      run(graph: Graph, ctx: PassContext<{ old_attribute_name: string; new_attribute_name: string; op_name: string }>) {
        const { old_attribute_name: from, new_attribute_name: to } = ctx.params;
        if (from === to) return;
        const m = opMatch(ctx.params.op_name);
        for (const n of graph) {
          if (!m(n.op) || !n.attrs.has(from)) continue;
          if (n.attrs.has(to)) {
            // TF drops the old value here; keep both and say so.
            ctx.warn(`node '${n.name}' already has '${to}'; its '${from}' is left as it is`);
            continue;
          }
          n.attrs.copyFrom(n.attrs, from, to);
          n.attrs.delete(from);
          ctx.count('renamed');
        }
      },
    },
    {
      name: 'rename_op',
      summary: 'Change the op of every node of one op to another',
      params: {
        old_op_name: { type: 'string', required: true, description: 'op to replace' },
        new_op_name: { type: 'string', required: true, description: 'op to put instead (attributes are kept)' },
      },
      example: 'rename_op(old_op_name=Mul, new_op_name=Multiply)',
      run(graph: Graph, ctx: PassContext<{ old_op_name: string; new_op_name: string }>) {
        for (const n of graph) if (n.op === ctx.params.old_op_name) {
          n.op = ctx.params.new_op_name;
          ctx.count('renamed');
        }
      },
    },
    {
      name: 'rename_node',
      summary: 'Rename one node and every reference to it',
      params: {
        old_node_name: { type: 'string', required: true, description: 'current node name' },
        new_node_name: { type: 'string', required: true, description: 'new node name (must be unused)' },
      },
      example: 'rename_node(old_node_name=splitter, new_node_name=demux)',
      run(graph: Graph, ctx: PassContext<{ old_node_name: string; new_node_name: string }>) {
        const { old_node_name: from, new_node_name: to } = ctx.params;
        if (from !== to && graph.has(to)) throw new lib.GraphValidationError(to, 'rename_node: a node already has this name');
        // TF renames whatever matches, so a name that is not there changes nothing.
        if (!graph.has(from)) return void ctx.note(`no node named '${from}'; nothing renamed (as in TensorFlow)`);
        // The bulk rename scans inputs once instead of building the consumer index.
        graph.renameNodes(new Map([[from, to]]));
      },
    },
    {
      name: 'remove_control_dependencies',
      summary: 'Drop every control (^) input',
      params: noParams,
      example: 'remove_control_dependencies',
      run(graph: Graph, ctx: PassContext) {
        let frame = 0;
        for (const n of graph) {
          const ins = n.inputs;
          if (!ins.some((s) => s.startsWith('^'))) continue;
          const data = ins.filter((s) => !s.startsWith('^'));
          // A Const inside a while loop reaches its frame only through its control input.
          if (data.length === 0 && ins.some((s) => isLoopPivot(graph, s.slice(1)))) frame++;
          ctx.count('removed', ins.length - data.length);
          n.setInputs(data);
        }
        if (frame) ctx.warn(`${frame} node(s) lost the control input that put them inside a while loop; the graph may no longer run`);
      },
    },
    {
      name: 'merge_duplicate_nodes',
      summary: 'Merge nodes with the same op, inputs, device and attributes into one',
      description:
        'One pass in topological order, so chains of duplicates collapse together. Equal Enter (same frame), Exit, Switch, Merge and LoopCond nodes merge as in TensorFlow. ' +
        'Stateful ops, ops the op table does not know, Placeholders, NextIteration and --inputs/--outputs (ports ignored) are never merged; node order is kept (TensorFlow reorders by hash).',
      params: noParams,
      example: 'merge_duplicate_nodes',
      idempotent: true,
      run(graph: Graph, ctx: PassContext) {
        mergeDuplicates(lib, graph, ctx);
      },
    },
    {
      name: 'obfuscate_names',
      summary: 'Replace node names by short base-62 names, keeping --inputs/--outputs',
      params: noParams,
      example: 'obfuscate_names',
      idempotent: false,
      run(graph: Graph, ctx: PassContext) {
        const keep = lib.protectedNames(ctx);
        const renames = new Map<string, string>();
        let counter = 0;
        const next = () => {
          for (;;) {
            const s = base62(counter++);
            if (!keep.has(s)) return s;
          }
        };
        for (const n of graph) if (!keep.has(n.name)) renames.set(n.name, next());
        // Names left alone that collide with a new name (kept names are skipped above).
        graph.renameNodes(renames);
        ctx.count('renamed', renames.size);
      },
    },
  ];
}

function isLoopPivot(graph: Graph, name: string): boolean {
  const n = graph.get(name);
  if (!n || n.op !== 'Identity') return false;
  const src = n.inputNode(0);
  return !!src && (src.op === 'Switch' || src.op === 'RefSwitch');
}

const B62 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
export function base62(n: number): string {
  let s = '';
  do {
    s = B62[n % 62] + s;
    n = Math.floor(n / 62);
  } while (n > 0);
  return s;
}

// Ops whose two instances are not interchangeable even with equal inputs and attrs. Enter, Exit,
// Switch, Merge and LoopCond are pure functions of their inputs (an Enter's frame is its
// frame_name attr), so equal ones merge as in TF. NextIteration is kept: its readers are Merges
// visited before it (back edges), so merging it would leave two Merges sharing one back edge.
const NEVER_MERGE = new Set([
  'Placeholder', 'PlaceholderWithDefault', 'PlaceholderV2', 'RefEnter', 'RefExit', 'RefMerge', 'RefSwitch',
  'NextIteration', 'RefNextIteration', 'ControlTrigger', 'Print', 'PrintV2', 'Assert', 'NoOp', '_Send', '_Recv', '_HostSend', '_HostRecv',
  'Multinomial', 'ParameterizedTruncatedNormal', 'Save', 'SaveV2', 'SaveSlices', 'Restore', 'RestoreV2', 'RestoreSlice', 'MergeV2Checkpoints',
  'PartitionedCall', 'StatefulPartitionedCall', 'Stage', 'Unstage', 'TensorArrayV3', 'TensorArrayV2', 'TensorArray', 'TensorArrayGradV3', 'Variable', 'VariableV2',
  'VarHandleOp', 'ReadVariableOp', 'Assign', 'AssignAdd', 'AssignSub', 'ReadFile', 'WriteFile',
]);
const STATEFUL = /^(Random|Stateful|Truncated|Variable|Var|Assign|Scatter|Resource|Queue|.*Queue|.*Reader|.*Iterator|.*Table|Lookup|Initialize|Stack|TensorArray|Barrier|Accumulator|Apply|SparseApply|ResourceApply|.*Summary$)/;

function mergeable(lib: Lib, node: Node): boolean {
  if (NEVER_MERGE.has(node.op) || node.op.startsWith('_')) return false;
  const def = typeof lib.getOpDef === 'function' ? lib.getOpDef(node.op) : undefined;
  // Ops the table does not know (custom ops) are left alone: they may be stateful.
  if (def) return !def.isStateful;
  return typeof lib.getOpDef !== 'function' && !STATEFUL.test(node.op);
}

function hashBytes(b: Uint8Array, h: number): number {
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 16777619);
  return h >>> 0;
}

/** A key equal for nodes with the same op, device and inputs (attrs are compared apart). */
function wiringKey(lib: Lib, node: Node, into: ReadonlyMap<string, string>): string {
  const data: string[] = [];
  const ctl: string[] = [];
  for (const s of node.inputs) {
    const r = lib.parseInput(s);
    const name = into.get(r.node) ?? r.node;
    if (r.control) ctl.push(name);
    else data.push(`${name}:${r.port}`);
  }
  return `${node.op}|${node.device}|${data.join(',')}|${[...new Set(ctl)].sort().join(',')}`;
}

/** A key equal for equal attribute maps (tensors by hash; `sameTensors` confirms). */
function attrsKey(node: Node): string {
  let key = '';
  for (const k of node.attrs.keys()) {
    // _class names colocation by node name, which differs between duplicates.
    if (k === '_class') continue;
    key += `|${k}=${attrKey(node, k)}`;
  }
  return key;
}

function attrKey(node: Node, k: string): string {
  const kind = node.attrs.kind(k);
  if (kind === 'tensor') {
    const t = node.attrs.getTensor(k);
    const d = t.data;
    let h = 2166136261;
    let len = 0;
    if (Array.isArray(d)) for (const x of d) { h = hashBytes(x, h ^ x.length); len += x.length; }
    else {
      const b = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      h = hashBytes(b, h);
      len = b.length;
    }
    return `T${t.dtype}[${t.shape.join(',')}]#${len}#${h.toString(36)}`;
  }
  return JSON.stringify(node.attrs.getJson(k), (_, v) => (typeof v === 'bigint' ? v.toString() : v));
}

function sameTensors(a: Node, b: Node): boolean {
  for (const k of a.attrs.keys()) {
    if (a.attrs.kind(k) !== 'tensor') continue;
    const x = a.attrs.getTensor(k).data;
    const y = b.attrs.getTensor(k).data;
    if (Array.isArray(x) || Array.isArray(y)) {
      if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!bytesEqual(x[i]!, y[i]!)) return false;
      continue;
    }
    if (!bytesEqual(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), new Uint8Array(y.buffer, y.byteOffset, y.byteLength))) return false;
  }
  return true;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function mergeDuplicates(lib: Lib, graph: Graph, ctx: PassContext) {
  const keep = lib.protectedNames(ctx);
  // wiring key -> the first node wired so, and (once a second one shows up) attr key -> nodes
  const seen = new Map<string, { first: Node; byAttrs?: Map<string, Node[]> }>();
  const into = new Map<string, string>(); // merged node -> the node kept in its place
  // Producers first (graph order otherwise), so the first of a group in graph order is kept;
  // keys read inputs through `into`, so a merge upstream shows in its readers' keys.
  for (const node of graph.topoOrder()) {
    if (keep.has(node.name) || !mergeable(lib, node)) continue;
    const key = wiringKey(lib, node, into);
    const entry = seen.get(key);
    if (!entry) {
      seen.set(key, { first: node });
      continue;
    }
    // Attributes are only serialised for nodes wired like an earlier one.
    if (!entry.byAttrs) entry.byAttrs = new Map([[attrsKey(entry.first), [entry.first]]]);
    const ak = attrsKey(node);
    const same = entry.byAttrs.get(ak);
    const twin = same?.find((b) => sameTensors(b, node));
    if (twin) into.set(node.name, twin.name);
    else if (same) same.push(node);
    else entry.byAttrs.set(ak, [node]);
  }
  if (!into.size) return;
  // One scan rewires the readers of every port and control edge (no consumer index needed).
  lib.mergeNodes(graph, into);
  ctx.count('merged', into.size);
}
