import type { DType, Graph, Node, PassContext, PassDefinition, PluginApi, Rule, Shape } from '@tfpass/core';

type Lib = PluginApi['lib'];

/** Parse TF's shape parameter `"1,384,384,3"` (`-1` = unknown dim, `?` accepted too). */
function parseShape(lib: Lib, pass: string, param: string, s: string): Shape {
  const t = s.trim();
  if (t === '') throw new lib.ParamError(pass, param, 'the shape is empty (use e.g. "1,224,224,3")');
  return t.split(',').map((p) => {
    const v = p.trim();
    if (v === '?') return -1;
    if (!/^[+-]?\d+$/.test(v) || Number(v) < -1) throw new lib.ParamError(pass, param, `cannot read '${s}' as a shape: '${p}' is not a dimension (integers, -1 for unknown)`);
    return Number(v);
  });
}

interface StripParams {
  type: DType[];
  shape: string[];
  name: string[];
  type_for_name: DType[];
  shape_for_name: string[];
  pin_shapes: boolean;
}

/** Pick the k-th value of a parameter given once (for every input) or once per input. */
function perInput<T>(lib: Lib, param: string, vals: T[], i: number, n: number): T | undefined {
  if (vals.length === 0) return undefined;
  if (vals.length === 1) return vals[0];
  if (vals.length !== n) throw new lib.ParamError('strip_unused_nodes', param, `given ${vals.length} times but there are ${n} --inputs: give it once (for every input) or once per input, in order`);
  return vals[i];
}

const fmt = (s: Shape | null) => (s ? `[${s.map((d) => (d < 0 ? '?' : d)).join(',')}]` : 'unknown');
const sameShape = (a: Shape | null, b: Shape) => a !== null && a.length === b.length && a.every((d, i) => d === b[i]);

/** Nodes that already are graph inputs: they keep their own dtype and shape. */
const FED = new Set(['Placeholder', 'PlaceholderWithDefault']);

export function stripUnusedNodes(lib: Lib): PassDefinition<StripParams> {
  return {
    name: 'strip_unused_nodes',
    summary: 'Keep only what --outputs need; turn each --inputs node into a Placeholder of the given type and shape',
    description:
      'Walks back from --outputs (data and control edges) and stops at --inputs. Every input that is not a Placeholder ' +
      '(e.g. the Mfcc node of an audio front end) becomes a Placeholder of `type`/`shape`. As in TensorFlow, an input that ' +
      'already is a Placeholder keeps its dtype and shape (a warning says when `shape` differs); `pin_shapes=true` fills ' +
      "the unknown dimensions of existing Placeholders from `shape`/`shape_for_name` and refuses another rank or a different known dimension. " +
      'Unlike TensorFlow, a PlaceholderWithDefault input also keeps its own dtype and shape (TF gives it `type`/`shape`, which breaks ' +
      'its readers when they differ). `type` and `shape` may be given once (for every input) or once per input, in --inputs order.',
    params: {
      type: { type: 'dtype', repeated: true, description: 'dtype of new Placeholders: once for all inputs or once per input (default float)' },
      shape: { type: 'string', repeated: true, description: 'shape of new Placeholders like "1,224,224,3" (-1 = unknown): once for all inputs or once per input' },
      name: { type: 'string', repeated: true, description: 'an input name that the next type_for_name/shape_for_name apply to' },
      type_for_name: { type: 'dtype', repeated: true, description: 'dtype for the input named by the matching name=' },
      shape_for_name: { type: 'string', repeated: true, description: 'shape for the input named by the matching name=' },
      pin_shapes: { type: 'bool', default: false, description: 'also give existing Placeholders the shape (only unknown dimensions are filled; same dtype and rank required). Not in TensorFlow' },
    },
    example: 'strip_unused_nodes(type=float, shape="1,49,10")',
    run(graph: Graph, ctx: PassContext<StripParams>) {
      const p = ctx.params;
      const pass = 'strip_unused_nodes';
      if (p.type_for_name.length && p.type_for_name.length !== p.name.length) throw new lib.ParamError(pass, 'type_for_name', `given ${p.type_for_name.length} times for ${p.name.length} name= values; give one per name`);
      if (p.shape_for_name.length && p.shape_for_name.length !== p.name.length) throw new lib.ParamError(pass, 'shape_for_name', `given ${p.shape_for_name.length} times for ${p.name.length} name= values; give one per name`);
      if (ctx.outputs.length === 0) throw new lib.PassError(pass, 'needs --outputs (the nodes whose inputs are kept)');
      const inputList = ctx.inputs.map((s) => s.trim()).filter(Boolean);
      const inputs = new Set(inputList.map((s) => lib.parseInput(s).node));
      for (const n of inputs) if (!graph.has(n)) ctx.warn(`input '${n}' is not in the graph; ignored`);

      // What the outputs need (control edges too), not looking past the inputs.
      const outputs = ctx.outputs.map((o) => lib.parseInput(o.trim()).node);
      for (const name of outputs) if (!graph.has(name)) throw new lib.GraphValidationError(name, 'is named in --outputs but is not in the graph');
      const keep = lib.liveNodes(graph, outputs, inputs);
      for (const n of inputs) if (graph.has(n)) keep.add(n);

      // Resolve type/shape per input (explicit per-name values win).
      const byName = new Map<string, { type?: DType; shape?: Shape }>();
      inputList.forEach((s, i) => {
        const node = lib.parseInput(s).node;
        const t = perInput(lib, 'type', p.type, i, inputList.length);
        const sh = perInput(lib, 'shape', p.shape, i, inputList.length);
        byName.set(node, { type: t, shape: sh === undefined ? undefined : parseShape(lib, pass, 'shape', sh) });
      });
      p.name.forEach((n, i) => {
        const e = byName.get(n);
        if (!e) throw new lib.ParamError(pass, 'name', `'${n}' is not one of --inputs (${[...inputs].join(', ') || 'none'})`);
        if (p.type_for_name[i] !== undefined) e.type = p.type_for_name[i];
        if (p.shape_for_name[i] !== undefined) e.shape = parseShape(lib, pass, 'shape_for_name', p.shape_for_name[i]!);
      });
      const namedType = new Map(p.name.flatMap((n, i) => (p.type_for_name[i] !== undefined ? [[n, p.type_for_name[i]!] as const] : [])));

      // Pinning is checked before anything changes, so a refused pin leaves the graph as it was.
      const existing = [...inputs].map((n) => graph.get(n)).filter((n): n is Node => !!n && keep.has(n.name) && FED.has(n.op));
      const pins = p.pin_shapes ? existing.flatMap((n) => pinFor(lib, n, byName.get(n.name)?.shape, namedType.get(n.name))) : [];

      const removed = graph.size - keep.size;
      graph.retain(keep);
      ctx.count('removed', removed);

      // Inputs fed at a port other than 0 read port 0 of the new Placeholder.
      for (const s of inputList) {
        const r = lib.parseInput(s);
        if (r.control || r.port === 0 || !graph.has(r.node)) continue;
        const others = inputList.filter((x) => lib.parseInput(x).node === r.node);
        if (others.length > 1) throw new lib.PassError(pass, `--inputs names several outputs of '${r.node}'; a node can become only one Placeholder`);
      }
      const ignored: string[] = [];
      for (const name of inputs) {
        const node = graph.get(name);
        if (!node) continue;
        const want = byName.get(name) ?? {};
        if (FED.has(node.op)) {
          if (node.op === 'PlaceholderWithDefault') toPlaceholder(node, ctx);
          const own = shapeOf(node);
          const dtype = node.attrs.optType('dtype');
          const named = namedType.get(name);
          const why: string[] = [];
          if (!p.pin_shapes && want.shape && !sameShape(own, want.shape)) why.push(fmt(own));
          if (named && named !== dtype) why.push(`${dtype ?? 'no dtype'}, not type_for_name ${named}`);
          if (why.length) ignored.push(`'${name}' ${why.join(' ')}`);
          continue;
        }
        const port = inputList.map((s) => lib.parseInput(s)).find((r) => r.node === name)?.port ?? 0;
        if (port > 0) for (const c of graph.tensorConsumers(`${name}:${port}`)) c.node.setInput(c.index, name);
        const was = node.op;
        node.op = 'Placeholder';
        node.setInputs([]);
        node.device = '';
        for (const k of node.attrs.keys()) node.attrs.delete(k);
        node.attrs.setType('dtype', want.type ?? 'float32');
        node.attrs.setShape('shape', want.shape ?? []);
        ctx.count('placeholders_created');
        ctx.note(`'${name}' (${was}) is now a Placeholder ${want.type ?? 'float32'} [${(want.shape ?? []).join(',')}]`);
      }
      for (const { node, shape } of pins) {
        const old = shapeOf(node);
        node.attrs.setShape('shape', shape);
        if (node.attrs.has('_output_shapes')) node.attrs.setShapes('_output_shapes', [shape]);
        ctx.count('placeholders_pinned');
        ctx.note(`Placeholder '${node.name}' now has shape ${fmt(shape)} (was ${fmt(old)}; pin_shapes=true)`);
      }
      if (ignored.length) {
        ctx.warn(`type/shape apply only to the Placeholders this pass creates (as in TensorFlow); kept existing ${ignored.join(', ')} as they are (pin_shapes=true fills unknown dimensions)`);
      }
    },
  };
}

function shapeOf(node: Node): Shape | null {
  return node.attrs.kind('shape') === 'shape' ? node.attrs.getShape('shape') : null;
}

/** A fed PlaceholderWithDefault never uses its default: a Placeholder of the same dtype and shape. */
function toPlaceholder(node: Node, ctx: PassContext<any>) {
  const dtype = node.attrs.getType('dtype');
  const shape = shapeOf(node);
  node.op = 'Placeholder';
  node.setInputs([]);
  node.device = '';
  for (const k of node.attrs.keys()) node.attrs.delete(k);
  node.attrs.setType('dtype', dtype);
  if (shape) node.attrs.setShape('shape', shape);
  ctx.count('placeholders_created');
  ctx.note(`'${node.name}' (PlaceholderWithDefault) is now a Placeholder ${dtype} ${fmt(shape)}`);
}

/**
 * The shape pin_shapes gives an existing Placeholder: its unknown dims filled from `want`.
 * Another dtype, another rank or a different known dimension would change what the graph computes: refused.
 */
function pinFor(lib: Lib, node: Node, wanted: Shape | undefined, namedType: DType | undefined): { node: Node; shape: Shape }[] {
  const pass = 'strip_unused_nodes';
  const dtype = node.attrs.optType('dtype');
  // `type=` is only the default for new Placeholders; a type_for_name naming this input must agree.
  if (namedType && dtype && namedType !== dtype) {
    throw new lib.ParamError(pass, 'pin_shapes', `Placeholder '${node.name}' is ${dtype}, type_for_name gives ${namedType}; pinning never changes an input's dtype`);
  }
  if (!wanted) return [];
  const want = { shape: wanted };
  const own = shapeOf(node);
  if (own === null) return [{ node, shape: want.shape }];
  if (own.length !== want.shape.length) {
    throw new lib.ParamError(pass, 'pin_shapes', `Placeholder '${node.name}' has rank ${own.length} ${fmt(own)}, shape= gives rank ${want.shape.length} ${fmt(want.shape)}; pinning never changes an input's rank`);
  }
  const bad = own.findIndex((d, i) => d >= 0 && want.shape![i]! >= 0 && d !== want.shape![i]);
  if (bad >= 0) {
    throw new lib.ParamError(pass, 'pin_shapes', `Placeholder '${node.name}' ${fmt(own)} has dimension ${bad} = ${own[bad]}, shape= gives ${want.shape[bad]}; pinning only fills unknown dimensions`);
  }
  const shape = own.map((d, i) => (d >= 0 ? d : want.shape![i]!));
  return sameShape(own, shape) ? [] : [{ node, shape }];
}

interface RemoveParams {
  op: string[];
  max_inputs: number;
}


export function removeNodes(lib: Lib): PassDefinition<RemoveParams> {
  return {
    name: 'remove_nodes',
    summary: 'Splice out pass-through nodes (Identity, CheckNumerics, StopGradient, …), keeping --inputs/--outputs',
    description:
      'Every node of a listed op with 1..max_inputs data inputs is removed and its readers read its first input instead ' +
      '(port kept). Unlike TensorFlow, the removed node\'s own control dependencies move to its readers, producers of its ' +
      'other inputs are never dropped, and a node whose other outputs are read is left alone. Without --outputs, nodes ' +
      'nobody reads count as outputs and are kept.',
    params: {
      op: { type: 'string', repeated: true, required: true, description: 'op type to remove (repeat for several)' },
      max_inputs: { type: 'int', default: 1, description: 'remove nodes with up to this many data inputs (only the first is passed on)' },
    },
    example: 'remove_nodes(op=Identity, op=CheckNumerics)',
    run(graph: Graph, ctx: PassContext<RemoveParams>) {
      const ops = new Set(ctx.params.op);
      const max = ctx.params.max_inputs;
      if (max < 1) throw new lib.ParamError('remove_nodes', 'max_inputs', `must be at least 1, got ${max}`);
      const implicitOutputs = ctx.outputs.length === 0;
      const rule: Rule<Node> = {
        name: 'removed',
        ops: [...ops],
        match(n, cx) {
          const g = cx.graph;
          const data = n.dataInputs;
          if (cx.keep.has(n.name) || data.length < 1 || data.length > max || lib.parseInput(data[0]!).node === n.name) return undefined;
          // Without --outputs, a node nobody reads is an output.
          return implicitOutputs && g.consumerCount(n.name) === 0 ? undefined : n;
        },
        check: (n, { graph: g }) => (g.consumersOf(n.name).some((c) => !c.control && c.port !== 0) ? 'kept because outputs other than :0 are read' : undefined),
        rewrite: (n, _b, { graph: g }) => lib.bypass(g, n),
      };
      lib.applyRules(graph, [rule], { keep: lib.protectedNames(ctx), report: ctx });
    },
  };
}
