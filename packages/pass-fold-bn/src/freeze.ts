import type { DType, Graph, Node, PassContext, PassDefinition, PluginApi, Tensor } from '@tfpass/core';
type Lib = PluginApi['lib'];

const SWITCH = new Set(['Switch', 'RefSwitch']);
const MERGE = new Set(['Merge', 'RefMerge']);

function parseValue(lib: Lib, node: Node, dtype: DType, raw: string): Tensor {
  const shape = node.attrs.has('shape') ? node.attrs.getShape('shape') : [];
  // Fill a fully known shape; otherwise a scalar (the usual case for training switches).
  const dims = shape && shape.every((d) => d >= 0) ? shape : [];
  const n = dims.reduce((a, b) => a * b, 1);
  let v: number | boolean;
  if (dtype === 'bool') {
    const s = raw.toLowerCase();
    if (!['true', 'false', '1', '0'].includes(s)) throw new lib.ParamError('freeze_placeholder', 'value', `'${raw}' is not a bool for ${node.name} (use true/false)`);
    v = s === 'true' || s === '1';
  } else {
    v = Number(raw);
    if (raw.trim() === '' || Number.isNaN(v)) throw new lib.ParamError('freeze_placeholder', 'value', `'${raw}' is not a number for ${node.name} (${dtype})`);
  }
  return lib.Tensor.fromValues(dtype, dims, new Array(n).fill(v));
}

/** Bool scalar value of a Switch predicate that is constant (through Identity). */
function constPred(lib: Lib, g: Graph, input: string, depth = 0): boolean | undefined {
  let p = g.producer(input);
  for (let hops = 0; p?.op === 'Identity' && hops < 64; hops++) p = g.producer(p.dataInputs[0] ?? '');
  // `not training` style predicates.
  if (p?.op === 'LogicalNot' && depth < 16) {
    const v = constPred(lib, g, p.dataInputs[0]!, depth + 1);
    return v === undefined ? undefined : !v;
  }
  const t = lib.constTensor(g, input);
  if (!t || t.dtype !== 'bool' || t.size !== 1) return undefined;
  return (t.data as Uint8Array)[0] !== 0;
}

/**
 * Remove Switch/Merge whose predicate is constant: the dead branch goes, the live branch is
 * wired straight through. Returns the number of Switch + Merge nodes removed.
 */
export function pruneDeadBranches(lib: Lib, g: Graph, keep: Set<string>): number {
  const order = g.topoOrder();
  const deadNodes = new Set<string>();
  /** Switch name -> live output port. */
  const livePort = new Map<string, number>();
  const mergeLive = new Map<string, number>();
  const isDead = (s: string): boolean => {
    const r = lib.parseInput(s);
    if (deadNodes.has(r.node)) return true;
    const lp = livePort.get(r.node);
    return !r.control && lp !== undefined && r.port !== lp;
  };
  for (const n of order) {
    if (MERGE.has(n.op)) {
      const data = n.dataInputs;
      const live = data.map((s, i) => (isDead(s) ? -1 : i)).filter((i) => i >= 0);
      if (live.length === 0) deadNodes.add(n.name);
      else if (live.length === 1 && data.length > 1) mergeLive.set(n.name, live[0]!);
      continue;
    }
    if (n.inputs.some((s) => isDead(s))) {
      deadNodes.add(n.name);
      continue;
    }
    if (SWITCH.has(n.op) && n.dataInputs.length === 2) {
      const p = constPred(lib, g, n.dataInputs[1]!);
      if (p !== undefined) livePort.set(n.name, p ? 1 : 0);
    }
  }
  const lost = [...deadNodes].filter((d) => keep.has(d));
  if (lost.length) throw new lib.PassError('freeze_placeholder', `output ${lost.join(', ')} lies in a branch that the frozen value makes dead`);
  let removed = 0;
  for (const n of order) {
    if (deadNodes.has(n.name)) continue;
    const lp = livePort.get(n.name);
    if (lp !== undefined) {
      const data = n.dataInputs[0]!;
      for (const c of g.consumersOf(n.name)) {
        if (deadNodes.has(c.node.name)) continue;
        if (c.control) {
          c.node.removeControlInput(n.name);
          c.node.addControlInput(lib.nodeName(data));
        } else if (c.port === lp) c.node.setInput(c.index, data);
      }
      removed++;
      continue;
    }
    const li = mergeLive.get(n.name);
    if (li !== undefined) {
      const src = n.dataInputs[li]!;
      let idx: Node | undefined;
      for (const c of g.consumersOf(n.name)) {
        if (deadNodes.has(c.node.name)) continue;
        if (c.control) {
          c.node.removeControlInput(n.name);
          c.node.addControlInput(lib.nodeName(src));
        } else if (c.port === 0) c.node.setInput(c.index, src);
        else {
          // value_index output: the branch taken is now a constant.
          idx ??= g.addNode({ name: g.uniqueName(`${n.name}/value_index`), op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: lib.Tensor.scalar('int32', li) } } });
          c.node.setInput(c.index, idx.name);
        }
      }
      removed++;
    }
  }
  // Remove dead nodes, resolved switches and merges (consumers were rewired above).
  const gone = new Set([...deadNodes, ...livePort.keys(), ...mergeLive.keys()]);
  for (const name of gone) {
    if (keep.has(name) && !deadNodes.has(name)) {
      // A resolved Switch/Merge named as an output becomes an Identity of the live value.
      const n = g.node(name);
      const src = livePort.has(name) ? n.dataInputs[0]! : n.dataInputs[mergeLive.get(name)!]!;
      const t = n.attrs.getJson('T');
      for (const k of n.attrs.keys()) n.attrs.delete(k);
      if (t) n.attrs.setJson('T', t);
      n.op = 'Identity';
      n.setInputs([src]);
      gone.delete(name);
    }
  }
  for (const name of gone) {
    // Consumers still reading a removed node are themselves removed; drop stray control edges.
    for (const c of g.consumersOf(name)) if (c.control && !gone.has(c.node.name)) c.node.removeControlInput(name);
  }
  g.removeNodes(gone);
  return removed + deadNodes.size;
}

export function freezePlaceholder(lib: Lib, g: Graph, ctx: PassContext<{ name: string; value: string }>): void {
  const { value } = ctx.params;
  let name = ctx.params.name;
  let node = g.get(name);
  if (!node) {
    // Keras scopes the learning phase (`batch_normalization_v1/keras_learning_phase`): accept a unique suffix.
    const phs = g.nodes().filter((n) => n.op.startsWith('Placeholder')).map((n) => n.name);
    const bySuffix = phs.filter((n) => n.endsWith('/' + name));
    if (bySuffix.length === 1) {
      ctx.note(`'${name}' resolved to ${bySuffix[0]}`);
      name = bySuffix[0]!;
      node = g.node(name);
    } else {
      const near = bySuffix.length ? bySuffix : lib.nearest(name, phs);
      throw new lib.ParamError('freeze_placeholder', 'name', `no node '${name}' in the graph${near.length ? ` (did you mean '${near.join("' or '")}'?)` : ''}`);
    }
  }
  if (!node.op.startsWith('Placeholder')) throw new lib.ParamError('freeze_placeholder', 'name', `'${name}' is a ${node.op}, not a Placeholder`);
  const dtype = node.attrs.optType('dtype') ?? 'float32';
  const t = parseValue(lib, node, dtype, value);
  const oldIns = node.dataInputs;
  node.op = 'Const';
  for (const k of node.attrs.keys()) node.attrs.delete(k);
  node.attrs.setType('dtype', dtype);
  node.attrs.setTensor('value', t);
  node.setInputs([]);
  // The PlaceholderWithDefault's default value is no longer read.
  for (const s of oldIns) {
    const p = g.producer(s);
    if (p && g.consumerCount(p.name) === 0 && p.op === 'Const') g.removeNode(p.name);
  }
  const keep = new Set(ctx.outputs.map((s) => lib.nodeNameOf(s)));
  let total = 0;
  for (let i = 0; i < 32; i++) {
    const r = pruneDeadBranches(lib, g, keep);
    total += r;
    if (!r) break;
  }
  ctx.count('removed', total);
  ctx.note(`${name} frozen to ${value}; ${total} control-flow/dead nodes removed`);
}

export function freezePasses(lib: Lib): PassDefinition[] {
  return [
    {
      name: 'freeze_placeholder',
      summary: 'Turn a placeholder (e.g. keras_learning_phase, is_training) into a constant and remove dead Switch/Merge branches',
      params: {
        name: { type: 'string', required: true, description: 'placeholder to freeze' },
        value: { type: 'string', required: true, description: 'its value (true/false for bool, a number otherwise)' },
      },
      example: 'freeze_placeholder(name=keras_learning_phase, value=false)',
      // A second run finds a Const where the placeholder was and refuses.
      idempotent: false,
      run: (g, ctx) => freezePlaceholder(lib, g, ctx as PassContext<{ name: string; value: string }>),
    },
  ];
}
