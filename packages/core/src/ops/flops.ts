import { type DType, isFloatDType } from '../dtype.js';
import type { Graph, Node } from '../graph.js';
import { parseInput, tensorName } from '../graph.js';
import { inferShapes, weightSource, type ShapeMap } from './infer.js';
import { opRole } from './registry.js';
import { numel } from './shape-fns.js';
import type { OpRole, TensorInfo } from './types.js';

export interface NodeCost {
  name: string;
  op: string;
  /** elements of float Const weights this node is the first to consume */
  params: number;
  /** multiply-accumulates of convolutions, matmuls and batch norms */
  macs: number;
  /** 2·MACs plus one per element for elementwise work (adds, activations, pooling window reads) */
  flops: number;
}

export interface FlopReport {
  nodes: NodeCost[];
  params: number;
  macs: number;
  flops: number;
  /** compute nodes whose cost could not be counted because a shape was unknown */
  unknown: string[];
  /** Nodes inside TF1 while loops: their MACs and FLOPs above are for one iteration. */
  loop?: { nodes: number; macs: number; flops: number };
}

/** Forwarding ops: no cost of their own (the roles behind Identity…, IdentityN and Enter). */
const PASS_THROUGH = new Set<OpRole | undefined>(['identity', 'identityN', 'enter']);
const ELEMENTWISE = new Set([
  'BiasAdd', 'BiasAddV1', 'Add', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Div', 'Maximum', 'Minimum', 'SquaredDifference', 'Pow',
  'FloorDiv', 'DivNoNan', 'Relu', 'Relu6', 'Elu', 'Selu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Rsqrt', 'Sqrt', 'Square', 'Exp',
  'Log', 'Neg', 'Abs', 'Reciprocal', 'Softplus', 'ClipByValue',
]);
/** Float and 8/16-bit (quantized) element types hold weights; int32/int64 Consts are shapes and axes. */
function isWeightDType(d: DType): boolean {
  return isFloatDType(d) || ['int8', 'uint8', 'qint8', 'quint8', 'int16', 'uint16', 'qint16', 'quint16'].includes(d);
}

const NOT_A_LAYER = /^(Apply|ResourceApply|Assign|ResourceScatter|ScatterUpdate|SaveV2|Save$|RestoreV2|IsVariableInitialized|VarIsInitializedOp)/;

/** Optimizer slots (TF1 slot_creator names, Keras `training/<Optimizer>/…`) and EMA shadows are not weights. */
const OPTIMIZER_SLOT = /\/(RMSProp|Adam|Momentum|Adagrad|AdagradDA|Adadelta|Ftrl|ProximalAdagrad|ExponentialMovingAverage)(_\d+)?$|^training\/[A-Za-z]+\//;

function variableInfo(n: Node): TensorInfo | undefined {
  if (n.attrs.kind('dtype') !== 'type' || n.attrs.kind('shape') !== 'shape') return undefined;
  return { dtype: n.attrs.getType('dtype'), shape: n.attrs.getShape('shape') };
}

const REDUCE = new Set(['Mean', 'Sum', 'Max', 'Min', 'Prod']);

/** Elements of a tensor; an unknown leading (batch) dim counts as 1, so costs are per example. */
function count(s: TensorInfo | undefined): number {
  const sh = s?.shape;
  if (!sh) return -1;
  return numel(sh.length && sh[0] === -1 ? [1, ...sh.slice(1)] : sh);
}

/** MACs and extra elementwise FLOPs of one node, or undefined when a needed shape is unknown. */
function cost(node: Node, ins: (TensorInfo | undefined)[], out: TensorInfo | undefined): { macs: number; ew: number } | undefined {
  const op = node.op;
  const o = count(out);
  const fmtNCHW = node.attrs.kind('data_format') === 's' && node.attrs.getString('data_format').startsWith('NCHW');
  switch (op) {
    case 'Conv2D':
    case '_FusedConv2D':
    case 'QuantizedConv2D': {
      const f = ins[1]?.shape;
      if (o < 0 || !f || f.length !== 4 || f.slice(0, 3).some((d) => d < 0)) return undefined;
      return { macs: o * f[0]! * f[1]! * f[2]!, ew: 0 };
    }
    case 'DepthwiseConv2dNative': {
      const f = ins[1]?.shape;
      if (o < 0 || !f || f.length !== 4 || f[0]! < 0 || f[1]! < 0) return undefined;
      return { macs: o * f[0]! * f[1]!, ew: 0 };
    }
    case 'Conv2DBackpropInput': {
      // a transposed convolution: every out_backprop element meets kh·kw·cout filter taps
      const f = ins[1]?.shape;
      const g = count(ins[2]);
      if (g < 0 || !f || f.length !== 4 || f.slice(0, 3).some((d) => d < 0)) return undefined;
      return { macs: g * f[0]! * f[1]! * f[2]!, ew: 0 };
    }
    case 'MatMul':
    case '_FusedMatMul':
    case 'QuantizedMatMul': {
      // the inner dim from either operand (an old graph's input may have unknown rank)
      const a = ins[0]?.shape;
      const b = ins[1]?.shape;
      const ta = node.attrs.kind('transpose_a') === 'b' && node.attrs.getBool('transpose_a');
      const tb = node.attrs.kind('transpose_b') === 'b' && node.attrs.getBool('transpose_b');
      let k = a?.length === 2 ? a[ta ? 0 : 1]! : -1;
      if (k < 0 && b?.length === 2) k = b[tb ? 1 : 0]!;
      return o < 0 || k < 0 ? undefined : { macs: o * k, ew: 0 };
    }
    case 'BatchMatMul':
    case 'BatchMatMulV2': {
      const a = ins[0]?.shape;
      if (o < 0 || !a || a.length < 2) return undefined;
      const adj = node.attrs.kind('adj_x') === 'b' && node.attrs.getBool('adj_x');
      const k = a[adj ? a.length - 2 : a.length - 1]!;
      return k < 0 ? undefined : { macs: o * k, ew: 0 };
    }
    case 'FusedBatchNorm':
    case 'FusedBatchNormV2':
    case 'FusedBatchNormV3':
    case 'BatchNormWithGlobalNormalization':
      // inference form: one scale-and-shift per element
      return o < 0 ? undefined : { macs: o, ew: 0 };
    case 'MaxPool':
    case 'AvgPool': {
      const k = node.attrs.kind('ksize') === 'list(i)' ? node.attrs.getInts('ksize') : [];
      const win = fmtNCHW ? (k[2] ?? 1) * (k[3] ?? 1) : (k[1] ?? 1) * (k[2] ?? 1);
      return o < 0 ? undefined : { macs: 0, ew: o * win };
    }
    case 'AddN':
      return o < 0 ? undefined : { macs: 0, ew: o * Math.max(0, ins.length - 1) };
    case 'Softmax':
    case 'LogSoftmax':
      return o < 0 ? undefined : { macs: 0, ew: 3 * o };
    default:
      if (ELEMENTWISE.has(op)) return o < 0 ? undefined : { macs: 0, ew: o };
      if (REDUCE.has(op)) {
        const i = count(ins[0]);
        return i < 0 ? undefined : { macs: 0, ew: i };
      }
      return { macs: 0, ew: 0 };
  }
}

/** Placeholder shapes with an unknown leading (batch) dim set to 1: per-example cost. */
export function batchOneInputs(graph: Graph): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const n of graph) {
    if (n.op !== 'Placeholder' || n.attrs.kind('shape') !== 'shape') continue;
    const s = n.attrs.getShape('shape');
    if (s && s.length && s[0] === -1) out[n.name] = [1, ...s.slice(1)];
  }
  return out;
}

/** Ops a weight passes through unchanged on its way to a layer (Enter brings it into a while loop). */
const WEIGHT_PATH = new Set<OpRole | undefined>([...PASS_THROUGH, 'readVariable']);

/** The Const or variable behind `tensor`, looking through Identity-like nodes and loop Enters. */
function paramSource(graph: Graph, tensor: string): Node | undefined {
  let t = tensor;
  for (let hops = 0; hops < 64; hops++) {
    const src = weightSource(graph, t);
    if (src) return src;
    const r = parseInput(t);
    const n = graph.get(r.node);
    if (!n || r.control || r.port !== 0 || !WEIGHT_PATH.has(opRole(n.op)) || !n.dataInputs.length) return undefined;
    t = n.dataInputs[0]!;
  }
  return undefined;
}

/** While-loop nesting depth of each node: +1 after an Enter, -1 after an Exit (back edges ignored by topoOrder). */
function loopDepths(order: readonly Node[]): Map<string, number> {
  const depth = new Map<string, number>();
  for (const n of order) {
    let d = 0;
    for (const s of n.inputs) d = Math.max(d, depth.get(parseInput(s).node) ?? 0);
    if (n.op === 'Enter' || n.op === 'RefEnter') d++;
    else if ((n.op === 'Exit' || n.op === 'RefExit') && d > 0) d--;
    depth.set(n.name, d);
  }
  return depth;
}

/**
 * Parameters, MACs and FLOPs per node, per example: without `shapes`, Placeholders with an
 * unknown batch are inferred with batch 1, and any remaining unknown leading dim counts as 1.
 * Parameters are the float (or 8/16-bit quantized) Consts and variables (VariableV2, VarHandleOp)
 * with more than one element, each counted once at its first reader, looking through `…/read`
 * Identities and ReadVariableOp. Optimizer updates, Assign and SaveV2 are not readers, and
 * optimizer slot / EMA variables (recognised by TF's and Keras' naming) are not parameters.
 */
export function countFlops(graph: Graph, shapes: ShapeMap = inferShapes(graph, batchOneInputs(graph))): FlopReport {
  const seen = new Set<string>();
  const report: FlopReport = { nodes: [], params: 0, macs: 0, flops: 0, unknown: [] };
  const order = graph.topoOrder();
  const depth = loopDepths(order);
  for (const node of order) {
    if (node.op === 'Const' || PASS_THROUGH.has(opRole(node.op))) continue;
    let params = 0;
    // optimizer updates, initializers and savers touch every variable (slots too): not layers
    const reads = !NOT_A_LAYER.test(node.op);
    for (const s of reads ? node.dataInputs : []) {
      const src = paramSource(graph, s);
      if (!src || seen.has(src.name)) continue;
      if (src.op !== 'Const' && OPTIMIZER_SLOT.test(src.name)) continue;
      const info = src.op === 'VarHandleOp' ? variableInfo(src) : shapes.get(src.name);
      const n = numel(info?.shape ?? null);
      if (!info || !isWeightDType(info.dtype) || n <= 1) continue;
      seen.add(src.name);
      params += n;
    }
    const ins = node.dataInputs.map((s) => shapes.get(s.replace(/:0$/, '')));
    const c = cost(node, ins, shapes.get(tensorName(node.name)));
    if (!c) report.unknown.push(node.name);
    const macs = c?.macs ?? 0;
    const flops = 2 * macs + (c?.ew ?? 0);
    if (params || macs || flops) report.nodes.push({ name: node.name, op: node.op, params, macs, flops });
    report.params += params;
    report.macs += macs;
    report.flops += flops;
    if ((depth.get(node.name) ?? 0) > 0 && (macs || flops)) {
      const l = (report.loop ??= { nodes: 0, macs: 0, flops: 0 });
      l.nodes++;
      l.macs += macs;
      l.flops += flops;
    }
  }
  return report;
}
