import type { DType } from '../dtype.js';
import { GraphValidationError, nearest } from '../errors.js';
import type { Graph, Node } from '../graph.js';
import { parseInput, tensorName } from '../graph.js';
import type { Shape, Tensor } from '../tensor.js';
import { argRanges, argLength, getOpDef, isIdentityLike, isVariableOp, opRole } from './registry.js';
import { MAX_VALUE_ELEMENTS, numel } from './shape-fns.js';
import type { ArgDef, OpDef, OutputInfo, ShapeContext, TensorInfo } from './types.js';

/** dtype + shape (+ small known values) of every output tensor, keyed `name` / `name:k`, in topological order. */
export type ShapeMap = Map<string, TensorInfo>;

export interface InferOptions {
  /** Fall back to a node's `_output_shapes` attr when the table has no answer (default true). */
  useOutputShapes?: boolean;
}

const UNKNOWN: TensorInfo = { dtype: 'invalid', shape: null };

/** Canonical key for an input string (`n:0` and `n` are the same tensor). */
function key(s: string): string {
  const r = parseInput(s);
  return tensorName(r.node, r.port);
}

/**
 * The Const tensor behind a tensor name, looking through Identity-like nodes (`…/read`).
 * Undefined when the tensor is not Const-backed.
 */
export function constantValue(graph: Graph, tensor: string): Tensor | undefined {
  let r = parseInput(tensor);
  for (let hops = 0; hops < 64; hops++) {
    const n = graph.get(r.node);
    if (!n || r.control) return undefined;
    if (n.op === 'Const') return r.port === 0 && n.attrs.has('value') ? n.attrs.getTensor('value') : undefined;
    if (!isIdentityLike(n.op) || r.port !== 0 || !n.dataInputs.length) return undefined;
    r = parseInput(n.dataInputs[0]!);
  }
  return undefined;
}

/**
 * The Const or variable node (VariableV2 / VarHandleOp) holding a tensor's value, through
 * Identity-like nodes and ReadVariableOp: where a layer's weights live in frozen and training graphs.
 */
export function weightSource(graph: Graph, tensor: string): Node | undefined {
  let r = parseInput(tensor);
  for (let hops = 0; hops < 64; hops++) {
    const n = graph.get(r.node);
    if (!n || r.control || r.port !== 0) return undefined;
    if (n.op === 'Const' || isVariableOp(n.op)) return n;
    if ((!isIdentityLike(n.op) && opRole(n.op) !== 'readVariable') || !n.dataInputs.length) return undefined;
    r = parseInput(n.dataInputs[0]!);
  }
  return undefined;
}

/** The Const node behind a tensor (through Identity-like nodes), if any. */
export function constantSource(graph: Graph, tensor: string): Node | undefined {
  let r = parseInput(tensor);
  for (let hops = 0; hops < 64; hops++) {
    const n = graph.get(r.node);
    if (!n || r.control || r.port !== 0) return undefined;
    if (n.op === 'Const') return n;
    if (!isIdentityLike(n.op) || !n.dataInputs.length) return undefined;
    r = parseInput(n.dataInputs[0]!);
  }
  return undefined;
}

function attrDefault(def: OpDef | undefined, name: string): unknown {
  return def?.attrs.find((a) => a.name === name)?.default;
}

function makeContext(node: Node, def: OpDef, inputs: TensorInfo[], numOutputs: number, lookup: (t: string) => TensorInfo | undefined): ShapeContext {
  let ranges: ReturnType<typeof argRanges> | undefined;
  const range = (name: string) => (ranges ??= argRanges(def, node)).get(name);
  const a = node.attrs;
  const ctx: ShapeContext = {
    node, def, inputs, numOutputs, lookup,
    producerVersion: node.graph.producerVersion ?? 0,
    args(name) {
      const r = range(name);
      return r ? inputs.slice(r.start, r.end) : [];
    },
    arg(name) {
      return ctx.args(name)[0] ?? UNKNOWN;
    },
    value(name) {
      const v = ctx.arg(name).value;
      return v && v.every((x) => !Number.isNaN(x)) ? v : undefined;
    },
    int: (n) => (a.kind(n) === 'i' ? a.getInt(n) : ((attrDefault(def, n) as number | undefined) ?? 0)),
    ints: (n) => (a.has(n) && a.raw()[n]!.value.case === 'list' ? a.getInts(n) : ((attrDefault(def, n) as number[] | undefined) ?? [])),
    float: (n) => (a.kind(n) === 'f' ? a.getFloat(n) : ((attrDefault(def, n) as number | undefined) ?? 0)),
    bool: (n) => (a.kind(n) === 'b' ? a.getBool(n) : ((attrDefault(def, n) as boolean | undefined) ?? false)),
    str: (n) => (a.kind(n) === 's' ? a.getString(n) : ((attrDefault(def, n) as string | undefined) ?? '')),
    type: (n) => (a.kind(n) === 'type' ? a.getType(n) : (attrDefault(def, n) as DType | undefined)),
    shapeAttr: (n) => (a.kind(n) === 'shape' ? a.getShape(n) : ((attrDefault(def, n) as Shape | null | undefined) ?? null)),
  };
  return ctx;
}

/** Element types of an output arg, from the node's attrs, the op's defaults, or inputs sharing the type attr. */
function argDtypes(def: OpDef, arg: ArgDef, node: Node, len: number, ctx: ShapeContext): DType[] {
  if (arg.type) return new Array(len).fill(arg.type);
  if (arg.typeAttr) {
    let t: DType | undefined = node.attrs.kind(arg.typeAttr) === 'type' ? node.attrs.getType(arg.typeAttr) : undefined;
    if (!t) {
      const inArg = def.inputs.find((i) => i.typeAttr === arg.typeAttr);
      const seen = inArg ? ctx.args(inArg.name).find((x) => x.dtype !== 'invalid') : undefined;
      t = seen?.dtype ?? (attrDefault(def, arg.typeAttr) as DType | undefined);
    }
    return new Array(len).fill(t ?? 'invalid');
  }
  if (arg.typeListAttr) {
    if (node.attrs.has(arg.typeListAttr)) return node.attrs.getTypes(arg.typeListAttr);
    const inArg = def.inputs.find((i) => i.typeListAttr === arg.typeListAttr);
    if (inArg) return ctx.args(inArg.name).map((x) => x.dtype);
  }
  return new Array(len).fill('invalid');
}

function outputShapesAttr(node: Node): (Shape | null)[] | undefined {
  if (node.attrs.kind('_output_shapes') !== 'list(shape)') return undefined;
  return node.attrs.getShapes('_output_shapes');
}

function guessDtype(node: Node, inputs: TensorInfo[]): DType {
  for (const n of ['T', 'dtype', 'out_type', 'DstT', 'Tout']) if (node.attrs.kind(n) === 'type') return node.attrs.getType(n);
  return inputs[0]?.dtype ?? 'invalid';
}

function unknownOpOutputs(graph: Graph, node: Node, inputs: TensorInfo[], useAttr: boolean): TensorInfo[] {
  const shapes = useAttr ? outputShapesAttr(node) : undefined;
  let n = shapes?.length ?? 0;
  for (const c of graph.consumersOf(node.name)) if (!c.control) n = Math.max(n, c.port + 1);
  const dtype = guessDtype(node, inputs);
  return Array.from({ length: Math.max(n, 1) }, (_, i) => ({ dtype, shape: shapes?.[i] ?? null }));
}

function clean(o: OutputInfo | undefined, dtype: DType): TensorInfo {
  const shape = o?.shape ? o.shape.map((d) => (Number.isFinite(d) && d >= 0 ? Math.trunc(d) : -1)) : null;
  const info: TensorInfo = { dtype: o?.dtype ?? dtype, shape };
  const v = o?.value;
  if (v && shape && v.length <= MAX_VALUE_ELEMENTS && numel(shape) === v.length) info.value = v;
  return info;
}

/** Output infos of one node, given its input infos. Never throws. */
export function inferNode(graph: Graph, node: Node, inputs: TensorInfo[], opts: InferOptions = {}, lookup: (t: string) => TensorInfo | undefined = () => undefined): TensorInfo[] {
  const useAttr = opts.useOutputShapes ?? true;
  const def = getOpDef(node.op);
  if (!def) return unknownOpOutputs(graph, node, inputs, useAttr);
  try {
    const lens = def.outputs.map((a) => argLength(def, a, node));
    // A count attr beyond any real op (num=2^31 on a corrupt Unpack) is not allocated as outputs.
    if (lens.some((l) => l === undefined || l < 0 || l > 1 << 20)) return unknownOpOutputs(graph, node, inputs, useAttr);
    const total = (lens as number[]).reduce((a, b) => a + b, 0);
    const ctx = makeContext(node, def, inputs, total, lookup);
    const dtypes = def.outputs.flatMap((a, i) => argDtypes(def, a, node, lens[i]!, ctx));
    let outs: OutputInfo[] = [];
    try {
      outs = def.shape ? def.shape(ctx) : [];
    } catch {
      outs = [];
    }
    const attrShapes = useAttr ? outputShapesAttr(node) : undefined;
    return Array.from({ length: total }, (_, k) => {
      const o = outs[k];
      if ((!o || o.shape === null) && attrShapes?.[k] !== undefined) return clean({ shape: attrShapes[k]! }, dtypes[k]!);
      return clean(o, dtypes[k]!);
    });
  } catch {
    return unknownOpOutputs(graph, node, inputs, useAttr);
  }
}

/**
 * Infer dtype and shape of every tensor. `inputShapes` overrides the `shape` attr of Placeholders
 * (or pins output 0 of any named node, e.g. a cut point); naming a node the graph lacks throws a
 * GraphValidationError. Unknown ops give unknown shapes; nothing else throws.
 */
export function inferShapes(graph: Graph, inputShapes: Record<string, number[]> = {}, opts: InferOptions = {}): ShapeMap {
  for (const name of Object.keys(inputShapes)) {
    if (!graph.has(name)) throw new GraphValidationError(name, `is given an input shape but is not in the graph${hint(graph, name)}`);
  }
  const map: ShapeMap = new Map();
  for (const node of graph.topoOrder()) {
    const inputs = node.dataInputs.map((s) => map.get(key(s)) ?? UNKNOWN);
    const outs = inferNode(graph, node, inputs, opts, (t) => map.get(key(t)));
    const pinned = inputShapes[node.name];
    if (pinned && outs[0]) {
      outs[0] = { dtype: outs[0].dtype, shape: [...pinned] };
      if (outs[0].dtype === 'invalid' && node.attrs.kind('dtype') === 'type') outs[0].dtype = node.attrs.getType('dtype');
    }
    outs.forEach((o, k) => map.set(tensorName(node.name, k), o));
  }
  return map;
}

function hint(graph: Graph, name: string): string {
  const near = nearest(name, [...graph].filter((n) => n.op === 'Placeholder').map((n) => n.name));
  return near.length ? `; did you mean ${near.map((x) => `'${x}'`).join(', ')}?` : '';
}

/** Parse `"1,384,384,3"` style shape strings (TF's transform syntax) into dims. */
export function parseShapeString(s: string): number[] {
  return s.trim() === '' ? [] : s.split(',').map((x) => Number(x.trim()));
}

