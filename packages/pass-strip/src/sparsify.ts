import type { Graph, Node, PassContext, PassDefinition, PluginApi } from '@tfpass/core';

type Lib = PluginApi['lib'];

interface SparsifyParams {
  input_checkpoint: string;
  group_init_node: string;
}

const WEIGHT_OPS = new Set(['Const', 'Variable', 'VariableV2']);
const SHRINKABLE = new Set(['Assign', 'Reshape', 'Equal', 'Mean', 'ScalarSummary']);

export function sparsifyGather(lib: Lib): PassDefinition<SparsifyParams> {
  return {
    name: 'sparsify_gather',
    summary: 'Replace Gather on a mostly-zero [N,1] weight by a hash-table lookup of its non-zero rows',
    description:
      'Matches Gather(Identity(Const), ids) and GatherV2(Identity(Const), ids, 0). Rows with |w| >= 1e-5 go into a HashTable ' +
      'initialised under `group_init_node`. Unlike TensorFlow, a weight still read by anything but the gathers and concat/save ' +
      'bookkeeping is kept. Weights held in variables need a frozen graph (run freeze first).',
    params: {
      input_checkpoint: { type: 'string', default: '', description: 'checkpoint prefix for variable weights (not supported: freeze the graph first)' },
      group_init_node: { type: 'string', default: 'group_deps', description: 'NoOp that runs the table initialisers (created if absent)' },
    },
    example: 'sparsify_gather(group_init_node=group_deps)',
    idempotent: true,
    run(graph: Graph, ctx: PassContext<SparsifyParams>) {
      const keep = lib.protectedNames(ctx);
      for (const n of graph) if (n.attrs.has('_output_shapes')) n.attrs.delete('_output_shapes');
      const weightsDone = new Map<string, string>(); // weight -> HashTable name
      const dead = new Set<string>();
      const gathers = graph.nodes().filter((n) => n.op === 'Gather' || n.op === 'GatherV2');
      for (const g of gathers) {
        const data = g.dataInputs;
        if (data.length !== (g.op === 'Gather' ? 2 : 3)) continue;
        const read = graph.producer(data[0]!);
        if (!read || read.op !== 'Identity') continue;
        const w = read.inputNode(0);
        if (!w || !WEIGHT_OPS.has(w.op)) continue;
        if (g.op === 'GatherV2') {
          const ax = graph.producer(data[2]!);
          if (!ax || ax.op !== 'Const') continue;
          const t = ax.attrs.getTensor('value');
          if ((t.dtype !== 'int32' && t.dtype !== 'int64') || t.size !== 1 || t.toNumbers()[0] !== 0) {
            throw new lib.PassError('sparsify_gather', `'${g.name}': the gather axis must be a scalar 0, found ${t.toNumbers().join(',')}`);
          }
        }
        if (w.op !== 'Const') {
          throw new lib.PassError('sparsify_gather', `weight '${w.name}' of '${g.name}' is a variable; reading it from a checkpoint is not supported, freeze the graph first`);
        }
        const wt = w.attrs.getTensor('value');
        if (wt.dtype !== 'float32' || wt.shape.length !== 2 || wt.shape[1] !== 1) {
          throw new lib.PassError('sparsify_gather', `weight '${w.name}' must be float with shape [N,1], found ${wt.dtype} [${wt.shape.join(',')}]`);
        }
        let table = weightsDone.get(w.name);
        if (!table) table = buildTable(lib, graph, w, wt.toFloat32(), ctx.params.group_init_node);
        weightsDone.set(w.name, table);
        // The gather becomes ExpandDims(LookupTableFind(table, ids, 0.0), -1).
        const ids = data[1]!;
        const dflt = graph.addNode({ name: graph.uniqueName(`${g.name}/Const`), op: 'Const', device: g.device, attrs: { dtype: { type: 'float32' }, value: { tensor: lib.Tensor.scalar('float32', 0) } } });
        const find = graph.addNode({
          name: graph.uniqueName(`${g.name}/LookupTableFind`), op: 'LookupTableFind', device: g.device, inputs: [table, ids, dflt.name],
          attrs: { Tin: { type: 'int64' }, Tout: { type: 'float32' } },
        });
        const dim = graph.addNode({ name: graph.uniqueName(`${g.name}/ExpandDims/Const`), op: 'Const', device: g.device, attrs: { dtype: { type: 'int32' }, value: { tensor: lib.Tensor.scalar('int32', -1) } } });
        const lost = g.dataInputs.map((s) => lib.parseInput(s).node);
        g.op = 'ExpandDims';
        for (const k of g.attrs.keys()) g.attrs.delete(k);
        g.attrs.setType('T', 'float32').setType('Tdim', 'int32');
        g.setInputs([find.name, dim.name, ...g.controlInputs.map((c) => '^' + c)]);
        for (const l of lost) if (graph.consumerCount(l) === 0) dead.add(l);
        ctx.count('sparsified');
      }
      // The weight and its read go away when only bookkeeping (concat for saving, assigns) still reads them.
      for (const wname of weightsDone.keys()) {
        const w = graph.get(wname);
        if (!w) continue;
        const reads = graph.consumersOf(wname).map((c) => c.node);
        const tail = (n: Node) => n.op === 'ConcatV2' || n.op === 'Assign' || n.op.startsWith('Save');
        const ok = reads.every((r) => (r.op === 'Identity' ? graph.consumersOf(r.name).every((c) => tail(c.node)) : tail(r)));
        if (!ok) {
          ctx.warn(`weight '${wname}' is still read by other nodes and is kept`);
          continue;
        }
        for (const r of reads) if (r.op === 'Identity') dead.add(r.name);
        dead.add(wname);
      }
      collect(lib, graph, dead, keep, ctx);
    },
  };
}

function buildTable(lib: Lib, graph: Graph, w: Node, values: Float32Array, initName: string): string {
  const idx: number[] = [];
  const vals: number[] = [];
  values.forEach((v, i) => {
    if (Math.abs(v) >= 1e-5) {
      idx.push(i);
      vals.push(v);
    }
  });
  if (!idx.length) {
    idx.push(0);
    vals.push(0);
  }
  const base = w.name;
  const indices = graph.addNode({ name: graph.uniqueName(`${base}/indices`), op: 'Const', device: w.device, attrs: { dtype: { type: 'int64' }, value: { tensor: lib.Tensor.fromValues('int64', [idx.length], idx) } } });
  const valuesNode = graph.addNode({ name: graph.uniqueName(`${base}/values`), op: 'Const', device: w.device, attrs: { dtype: { type: 'float32' }, value: { tensor: lib.Tensor.fromValues('float32', [vals.length], vals) } } });
  const table = graph.addNode({
    name: graph.uniqueName(`${base}/HashTable`), op: 'HashTable', device: w.device,
    attrs: { key_dtype: { type: 'int64' }, value_dtype: { type: 'float32' }, container: { s: '' }, shared_name: { s: '' }, use_node_name_sharing: { b: false } },
  });
  const init = graph.addNode({
    name: graph.uniqueName(`${base}/InitializeTable`), op: 'InitializeTable', device: w.device, inputs: [table.name, indices.name, valuesNode.name],
    attrs: { Tkey: { type: 'int64' }, Tval: { type: 'float32' } },
  });
  const group = graph.get(initName) ?? graph.addNode({ name: initName, op: 'NoOp' });
  group.addControlInput(init.name);
  return table.name;
}

/** Delete `dead` nodes, shrink their readers as TF does, and drop what is left unread. */
function collect(lib: Lib, graph: Graph, dead: Set<string>, keep: Set<string>, ctx: PassContext<any>) {
  const queue = [...dead].filter((n) => !keep.has(n));
  const gone = new Set<string>();
  while (queue.length) {
    const name = queue.pop()!;
    const node = graph.get(name);
    if (!node || gone.has(name) || keep.has(name) || node.op === 'RestoreV2' || node.op === 'Placeholder') continue;
    const producers = new Set(node.inputs.map((s) => lib.parseInput(s).node));
    const readers = new Map<Node, boolean>(); // reader -> reads only through control edges
    for (const c of graph.consumersOf(name)) readers.set(c.node, (readers.get(c.node) ?? true) && c.control);
    for (const [r, controlOnly] of readers) {
      const ins = r.inputs.filter((s) => lib.parseInput(s).node !== name);
      const data = ins.filter((s) => !s.startsWith('^'));
      if (r.op === 'ConcatV2' && !controlOnly) {
        if (data.length > 2) {
          r.setInputs(ins);
          r.attrs.setInt('N', data.length - 1);
        } else if (data.length === 2) {
          r.setInputs([data[0]!, ...ins.filter((s) => s.startsWith('^'))]);
          r.op = 'Identity';
          for (const k of r.attrs.keys()) if (k !== 'T') r.attrs.delete(k);
          queue.push(lib.parseInput(data[1]!).node);
        } else {
          r.setInputs(ins);
          queue.push(r.name);
        }
        continue;
      }
      r.setInputs(ins);
      if ((SHRINKABLE.has(r.op) && data.length === 1) || (data.length === 0 && !controlOnly)) queue.push(r.name);
    }
    graph.removeNode(name);
    gone.add(name);
    for (const p of producers) if (graph.has(p) && graph.consumerCount(p) === 0) queue.push(p);
  }
  ctx.count('removed', gone.size);
}
