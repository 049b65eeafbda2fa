import type { DType, Executor, Graph, Node, PassContext, PassDefinition, PluginApi, Tensor, TensorInfo } from '@tfpass/core';
import { LAYOUT_OPS, NotFolded, evalExact, fitsInt32, fromTensor, isWide, needsExact, toTensor } from './exact.js';

export type Lib = PluginApi['lib'];

export interface FoldParams {
  clear_output_shapes: boolean;
  exclude_op: string[];
  exclude_node: string[];
  max_constant_size_in_bytes: number;
  fold_fake_quant: boolean;
}

/** Converters (TOCO, vendor NPU tools) read weight ranges from these; folding them away loses the ranges. */
const FAKE_QUANT = new Set(['FakeQuantWithMinMaxVars', 'FakeQuantWithMinMaxArgs', 'FakeQuantWithMinMaxVarsPerChannel']);

/** Ops whose value may change between runs or that have side effects (besides OpDef.isStateful). */
const NEVER = new Set([
  'Placeholder', 'PlaceholderV2', 'PlaceholderWithDefault', 'VariableV2', 'Variable', 'VarHandleOp', 'ReadVariableOp',
  'Switch', 'RefSwitch', 'Merge', 'RefMerge', 'Enter', 'RefEnter', 'Exit', 'RefExit', 'NextIteration', 'RefNextIteration', 'LoopCond',
  'ControlTrigger', 'NoOp', '_Send', '_Recv', '_HostSend', '_HostRecv', 'Print', 'PrintV2', 'Assert', 'Stack', 'StackV2',
  'RandomUniform', 'RandomUniformInt', 'RandomStandardNormal', 'TruncatedNormal', 'RandomShuffle', 'RandomGamma', 'RandomPoisson',
  'RandomPoissonV2', 'Multinomial', 'ParameterizedTruncatedNormal', 'RandomCrop', 'StatelessRandomUniform',
  'GetSessionHandle', 'GetSessionHandleV2', 'GetSessionTensor', 'DeleteSessionTensor', 'PartitionedCall', 'StatefulPartitionedCall',
  'If', 'While', 'StatelessIf', 'StatelessWhile', 'Queue', 'FIFOQueueV2', 'QueueDequeueV2', 'TensorArrayV3',
]);

const SHAPE_OPS = new Set(['Shape', 'Size', 'Rank', 'ShapeN']);

function isStateful(lib: Lib, op: string): boolean {
  if (NEVER.has(op) || /^(Random|Stateful|Assign|Scatter|Queue|Reader|TensorArray|Stack|Barrier|Iterator|Dataset)/.test(op) || /(Variable|VariableOp|Queue|QueueV2)$/.test(op)) return true;
  return lib.getOpDef(op)?.isStateful ?? false;
}

/** Values of Shape/Size/Rank/ShapeN when the input shapes are fully known. */
function countOutputs(shapes: Map<string, TensorInfo>, name: string): number {
  let k = 0;
  while (shapes.has(`${name}:${k}`) || (k === 0 && shapes.has(name))) k++;
  return k;
}

function shapeValues(lib: Lib, n: Node, shapes: Map<string, TensorInfo> | undefined): Tensor[] | undefined {
  if (!shapes) return undefined;
  const ins = n.dataInputs.map((s) => {
    const r = lib.parseInput(s);
    return shapes.get(lib.tensorName(r.node, r.port))?.shape;
  });
  if (!ins.length || ins.some((s) => !s || s.some((d) => d < 0))) return undefined;
  const outType = (n.attrs.optType('out_type') ?? 'int32') as 'int32' | 'int64';
  const s0 = ins[0]!;
  switch (n.op) {
    case 'Shape': return [lib.Tensor.fromValues(outType, [s0.length], s0)];
    case 'ShapeN': return ins.map((s) => lib.Tensor.fromValues(outType, [s!.length], s!));
    case 'Size': return [lib.Tensor.scalar(outType, s0.reduce((a, b) => a * b, 1))];
    case 'Rank': return [lib.Tensor.scalar('int32', s0.length)];
  }
  return undefined;
}

function castTo(lib: Lib, t: Tensor, want: DType | undefined): Tensor {
  if (!want || want === t.dtype || t.dtype === 'string' || want === 'string' || want === 'resource' || want === 'variant') return t;
  return lib.Tensor.fromValues(want, t.shape, t.toNumbers());
}

function bytesOf(t: Tensor): number {
  const d = t.data as { byteLength?: number };
  return d.byteLength ?? (t.data as Uint8Array[]).reduce((a, s) => a + s.length, 0);
}

/** Turn `n` into a Const holding `t`, keeping its name (so outputs stay addressable). */
function makeConst(n: Node, t: Tensor): void {
  for (const k of n.attrs.keys()) n.attrs.delete(k);
  n.op = 'Const';
  n.attrs.setType('dtype', t.dtype);
  n.attrs.setTensor('value', t);
  n.setInputs([]);
}

export async function foldConstants(lib: Lib, g: Graph, ctx: PassContext<FoldParams>): Promise<void> {
  const p = ctx.params;
  const executor = ctx.services.executor as Executor;
  // The host's executor may be deferred: TensorFlow.js loads only when a node needs the runtime.
  const runtime = () => lib.readyExecutor(executor);
  const fed = new Set(ctx.inputs.filter((s) => s.trim()).map((s) => lib.nodeNameOf(s.trim())));
  const outs = ctx.outputs.filter((s) => s.trim()).map((s) => lib.parseInput(s.trim()));
  for (const o of outs) if (!g.has(o.node)) throw new lib.GraphValidationError(o.node, 'is listed in --outputs but is not in the graph');
  // TF feeds --inputs and requires each to be a Placeholder (strip_unused_nodes makes them so); same wording as TF.
  for (const f of fed) {
    const op = g.get(f)?.op;
    if (op && op !== 'Placeholder' && op !== 'PlaceholderWithDefault' && op !== 'PlaceholderV2') {
      throw new lib.PassError('fold_constants', `Input '${f}' was expected to be a Placeholder or PlaceholderWithDefault op, but was ${op} (run strip_unused_nodes first to make it one)`);
    }
  }
  const outNames = new Set(outs.map((o) => o.node));
  const excludeOp = new Set(p.exclude_op);
  const excludeNode = new Set(p.exclude_node);
  let keptFakeQuants = 0;

  if (p.clear_output_shapes) for (const n of g) n.attrs.delete('_output_shapes');

  // Nothing can fold unless some node could be the first foldable one: a shape op, or an
  // eligible node reading only Consts. Checking that first skips shape inference (and the runtime)
  // on graphs with nothing to fold; pruning below still runs.
  const eligible = (n: Node) => !fed.has(n.name) && !excludeNode.has(n.name) && n.op !== 'Const' && !excludeOp.has(n.op);
  const constOnly = (n: Node) => n.inputs.every((s) => g.get(lib.nodeNameOf(s))?.op === 'Const');
  const foldable = new Set<string>();
  let mayFold = false;
  for (const n of g) {
    if (eligible(n) && (SHAPE_OPS.has(n.op) || (!isStateful(lib, n.op) && constOnly(n)))) {
      mayFold = true;
      break;
    }
  }
  if (mayFold) await foldValues();
  else ctx.note('nothing to fold: no node reads only constants or known shapes');

  async function foldValues(): Promise<void> {
    // Dtypes (and shapes) of every tensor: integer folding and the size bound depend on them.
    const types = lib.inferShapes(g, {}, { useOutputShapes: !p.clear_output_shapes });
    const dtypeOf = (t: string): DType | undefined => {
      const d = types.get(t)?.dtype;
      return d && d !== 'invalid' ? d : undefined;
    };
    const maxElems = (d: DType | undefined) => Math.floor(p.max_constant_size_in_bytes / Math.max(1, (d && lib.dtypeSize(d)) || 1));

    // 1. Which nodes have a value known before any input is fed. Integer values the runtime would
    //    get wrong are computed exactly here (exact.ts) or the node is left unfolded with a note.
    const order = g.topoOrder();
    const shapeConst = new Map<string, Tensor[]>();
    const exact = new Map<string, Tensor>();
    const constValue = new Map<string, Tensor>();
    const valueOf = async (s: string): Promise<Tensor> => {
      const r = lib.parseInput(s);
      const key = lib.tensorName(r.node, r.port);
      const src = g.node(r.node);
      const hit = exact.get(key) ?? shapeConst.get(r.node)?.[r.port];
      if (hit) return hit;
      if (src.op === 'Const') {
        const shape = types.get(key)?.shape;
        if (shape && shape.reduce((a, b) => a * b, 1) > maxElems(dtypeOf(key))) throw new NotFolded(`input ${r.node} is larger than max_constant_size_in_bytes`);
        let c = constValue.get(r.node);
        if (!c) constValue.set(r.node, (c = src.attrs.getTensor('value')));
        return c;
      }
      // A layout op the runtime computes exactly (e.g. StridedSlice of an int32 shape).
      const [t] = await evalOnRuntime([key]);
      return t!;
    };
    for (const n of order) {
      if (fed.has(n.name) || excludeNode.has(n.name)) continue;
      if (SHAPE_OPS.has(n.op) && !excludeOp.has(n.op)) {
        const v = shapeValues(lib, n, types);
        if (v) {
          shapeConst.set(n.name, v);
          foldable.add(n.name);
          continue;
        }
      }
      if (n.op !== 'Const') {
        if (!p.fold_fake_quant && FAKE_QUANT.has(n.op)) {
          if (n.inputs.every((s) => foldable.has(lib.nodeNameOf(s)))) keptFakeQuants++;
          continue;
        }
        if (excludeOp.has(n.op) || isStateful(lib, n.op)) continue;
      } else if (n.attrs.optType('dtype') === 'resource') continue;
      if (!n.inputs.every((s) => foldable.has(lib.nodeNameOf(s)))) continue;
      if (n.op !== 'Const') {
        const outTypes = Array.from({ length: Math.max(1, countOutputs(types, n.name)) }, (_, k) => dtypeOf(lib.tensorName(n.name, k)));
        // Results too large to keep are not computed at all (a splat Const may declare billions of elements).
        const big = outTypes.findIndex((d, k) => {
          const s = types.get(lib.tensorName(n.name, k))?.shape;
          return s != null && s.every((x) => x >= 0) && s.reduce((a, b) => a * b, 1) > maxElems(d);
        });
        if (big >= 0) continue;
        const inTypes = n.dataInputs.map((s) => {
          const r = lib.parseInput(s);
          return dtypeOf(lib.tensorName(r.node, r.port));
        });
        if (needsExact(n.op, inTypes, outTypes)) {
          const ins: Tensor[] = [];
          try {
            for (const s of n.dataInputs) ins.push(await valueOf(s));
            exact.set(lib.tensorName(n.name, 0), toTensor(lib, evalExact(n, ins.map(fromTensor), maxElems(outTypes[0]))));
          } catch (e) {
            if (!(e instanceof NotFolded) && !lib.isTfpassError(e)) throw e;
            // A layout op the folder lacks (Gather, Tile, StridedSlice, ...) with int64 indices that
            // fit in int32 and no wide result: the runtime moves those values exactly.
            const narrow = e instanceof NotFolded && e.unsupported && ins.length === n.dataInputs.length && LAYOUT_OPS.has(n.op) && !outTypes.some(isWide) && ins.every(fitsInt32);
            if (!narrow || !(await runtime()).supportsOp(n.op)) {
              ctx.note(`${n.name} (${n.op}) not folded: ${(e as Error).message.split('\n')[0]}`);
              continue;
            }
          }
        } else if (!(await runtime()).supportsOp(n.op)) continue;
        else if (outTypes.length === 1 && (outTypes[0] === 'float16' || outTypes[0] === 'bfloat16')) {
          // TF rounds every half-precision op's result; the runtime computes a cone in float32.
          // Evaluating such a node on its own (its result cast back) rounds where TF rounds.
          try {
            const [t] = await evalOnRuntime([n.name]);
            exact.set(lib.tensorName(n.name, 0), t!);
          } catch (e) {
            ctx.note(`${n.name} (${n.op}) not folded: ${(e as Error).message.split('\n')[0]}`);
            continue;
          }
        }
      }
      foldable.add(n.name);
    }

    /** Run the constant cone of `fetches` on the runtime; known values enter it as Consts. */
    async function evalOnRuntime(fetches: string[]): Promise<Tensor[]> {
      const sub = new lib.Graph();
      const stack = fetches.map((f) => lib.parseInput(f).node);
      const seen = new Set<string>();
      while (stack.length) {
        const name = stack.pop()!;
        if (seen.has(name)) continue;
        seen.add(name);
        const src = g.node(name);
        const sv = shapeConst.get(name);
        const ex = exact.get(lib.tensorName(name, 0));
        if (sv || ex) {
          // Values already known (shape facts, exact integers) need no inputs.
          const t = ex ?? sv![0]!;
          sub.addNode({ name, op: 'Const', attrs: { dtype: { type: t.dtype }, value: { tensor: t } } });
          continue;
        }
        const copy = sub.importNode(src);
        copy.setInputs(copy.dataInputs);
        for (const s of copy.dataInputs) stack.push(lib.nodeNameOf(s));
      }
      const res = await executor.run(sub, {}, fetches);
      return fetches.map((f, i) => {
        const r = lib.parseInput(f);
        return castTo(lib, res[i]!, dtypeOf(lib.tensorName(r.node, r.port)));
      });
    }

    if (keptFakeQuants) ctx.note(`kept ${keptFakeQuants} fake-quant(s) of constants so converters still see their ranges (fold_fake_quant=true folds them)`);

    // 2. Targets: folded values some non-constant node (or an output) still reads.
    const targets = new Map<string, Set<number>>();
    for (const name of foldable) {
      const n = g.node(name);
      if (n.op === 'Const') continue;
      const ports = new Set<number>();
      for (const c of g.consumersOf(name)) if (!foldable.has(c.node.name)) ports.add(c.control ? 0 : c.port);
      for (const o of outs) if (o.node === name) ports.add(o.port);
      if (ports.size) targets.set(name, ports.add(0));
    }

    // The runtime computes float64 in float32: double-precision values are not folded.
    const wantType = (name: string, k: number) => dtypeOf(lib.tensorName(name, k));
    for (const [name, ports] of targets) {
      if (shapeConst.has(name) || exact.has(lib.tensorName(name, 0))) continue;
      const wide = [...ports].map((k) => wantType(name, k)).find((d) => d === 'float64' || d === 'complex128');
      if (wide) {
        targets.delete(name);
        ctx.note(`${name}: ${wide} result not folded (the runtime computes in 32 bits)`);
      }
    }

    // 3. Evaluate every remaining target in one run of the constant subgraph.
    const values = new Map<string, Tensor>();
    for (const [name, v] of shapeConst) if (targets.has(name)) v.forEach((t, k) => values.set(lib.tensorName(name, k), t));
    for (const [key, t] of exact) values.set(key, t);
    const toRun = [...targets.keys()].filter((n) => !shapeConst.has(n) && !exact.has(lib.tensorName(n, 0)));
    if (toRun.length) {
      const fetches = toRun.flatMap((n) => [...targets.get(n)!].map((k) => lib.tensorName(n, k)));
      const evalBatch = async (f: string[]) => {
        const res = await evalOnRuntime(f);
        f.forEach((t, i) => values.set(t, res[i]!));
      };
      try {
        await evalBatch(fetches);
      } catch (e) {
        // One bad node must not stop the rest: retry target by target and leave failures as they are.
        for (const n of toRun) {
          const f = [...targets.get(n)!].map((k) => lib.tensorName(n, k));
          try {
            await evalBatch(f);
          } catch (e2) {
            ctx.note(`${n} (${g.node(n).op}) not folded: ${(e2 as Error).message.split('\n')[0]}`);
          }
        }
        void e;
      }
    }

    // 4. Replace targets by Consts; port k > 0 gets its own Const.
    let folded = 0;
    const replaced = new Set<string>();
    for (const [name, ports] of targets) {
      const n = g.node(name);
      const v0 = values.get(name);
      if (!v0) continue;
      const all = [...ports].map((k) => values.get(lib.tensorName(name, k)));
      if (all.some((t) => !t) || all.some((t) => bytesOf(t!) > p.max_constant_size_in_bytes)) {
        if (all.some((t) => t && bytesOf(t) > p.max_constant_size_in_bytes)) ctx.note(`${name}: result larger than max_constant_size_in_bytes, not folded`);
        continue;
      }
      const oldIns = n.inputs.map((s) => lib.nodeNameOf(s));
      for (const k of ports) {
        if (k === 0) continue;
        const t = values.get(lib.tensorName(name, k))!;
        const c = g.addNode({ name: g.uniqueName(`${name}/_${k}__cf`), op: 'Const', device: n.device, attrs: { dtype: { type: t.dtype }, value: { tensor: t } } });
        g.replaceUses(lib.tensorName(name, k), c.name);
      }
      makeConst(n, v0);
      replaced.add(name);
      folded++;
      for (const s of oldIns) removeDead(lib, g, s, foldable, fed, outNames);
    }

    ctx.count('folded', folded);
    ctx.note(`${folded} nodes replaced by constants (${shapeConst.size} from known shapes)`);
  }

  // 5. TF prunes to what the outputs need (fed nodes always stay).
  let pruned = 0;
  if (outs.length) {
    const need = new Set<string>([...fed].filter((f) => g.has(f)));
    const stack = outs.map((o) => o.node);
    while (stack.length) {
      const name = stack.pop()!;
      if (need.has(name)) continue;
      need.add(name);
      for (const s of g.get(name)?.inputs ?? []) stack.push(lib.nodeNameOf(s));
    }
    const before = g.size;
    g.retain(need);
    pruned = before - g.size;
  }
  // Fed PlaceholderWithDefault becomes a plain Placeholder (its default is never used).
  for (const f of fed) {
    const n = g.get(f);
    if (n?.op === 'PlaceholderWithDefault') {
      const dtype = n.attrs.optType('dtype');
      const shape = n.attrs.has('shape') ? n.attrs.getShape('shape') : undefined;
      const old = n.dataInputs.map((s) => lib.nodeNameOf(s));
      for (const k of n.attrs.keys()) n.attrs.delete(k);
      n.op = 'Placeholder';
      if (dtype) n.attrs.setType('dtype', dtype);
      if (shape !== undefined) n.attrs.setShape('shape', shape);
      n.setInputs([]);
      for (const s of old) removeDead(lib, g, s, foldable, fed, outNames);
    }
  }
  ctx.count('pruned', pruned);
}

/** Remove a constant-valued node nothing reads any more, and its inputs transitively. */
function removeDead(lib: Lib, g: Graph, name: string, foldable: Set<string>, fed: Set<string>, keep: Set<string>): void {
  const stack = [name];
  while (stack.length) {
    const q = stack.pop()!;
    const n = g.get(q);
    if (!n || !foldable.has(q) || fed.has(q) || keep.has(q) || g.consumerCount(q) > 0) continue;
    const ins = n.inputs.map((s) => lib.nodeNameOf(s));
    g.removeNode(q);
    stack.push(...ins);
  }
}

export function foldConstantsPass(lib: Lib): PassDefinition<FoldParams> {
  return {
    name: 'fold_constants',
    summary: 'Evaluate every subgraph whose inputs are all constant and store the results as Const nodes',
    description:
      'Runs the constant parts of the graph on the tfpass runtime. Never folds Placeholders, fed (--inputs) nodes, ' +
      'stateful/random ops or control flow. Shape/Size/Rank of statically known shapes become constants. ' +
      'Folded nodes keep their names; with --outputs the graph is pruned to what the outputs need.',
    params: {
      clear_output_shapes: { type: 'bool', default: true, description: 'drop _output_shapes attrs (false: use them as known shapes)' },
      exclude_op: { type: 'string', repeated: true, description: 'op types never folded' },
      exclude_node: { type: 'string', repeated: true, description: 'node names never folded' },
      max_constant_size_in_bytes: { type: 'int', default: 10 * 1024 * 1024, description: 'larger results are not materialised' },
      fold_fake_quant: {
        type: 'bool',
        default: false,
        description: 'also fold fake-quants of constants (TF does; converters then lose the weight ranges they read from them)',
      },
    },
    inject: { executor: lib.TOKENS.executor },
    example: 'fold_constants(ignore_errors=true)',
    run: (g, ctx) => foldConstants(lib, g, ctx),
  };
}
