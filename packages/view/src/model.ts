/**
 * Turns IR graphs into the plain data the viewer page draws: nodes with op family, scope
 * path, attrs summary and collapsed Const parameters; a diff of two graphs; overlays.
 */
import type { Graph, Node, AttrJson, Tensor } from '@tfpass/core';
import { nodeName } from '@tfpass/core';

export type Family = 'conv' | 'bn' | 'quant' | 'act' | 'io' | 'const' | 'control' | 'shape' | 'math' | 'other';
export type DiffStatus = 'same' | 'added' | 'removed' | 'changed';

export interface ViewNode {
  name: string;
  op: string;
  family: Family;
  inputs: string[];
  attrs: Record<string, string>;
  /** Consts collapsed into this node: name, shape and value stats. */
  params: { name: string; summary: string }[];
  shapes?: string[];
  device?: string;
  status?: DiffStatus;
  /** Highlight reason (e.g. quant-check finding). */
  flag?: string;
}

export interface ViewData {
  title: string;
  nodeCount: number;
  nodes: ViewNode[];
  /** Per-pass rows for a pipeline report. */
  passes?: { name: string; ms: number; before: number; after: number; notes: string[] }[];
  counts?: { added: number; removed: number; changed: number };
}

const FAMILIES: [Family, RegExp][] = [
  ['quant', /^(FakeQuant|Quantize|Dequantize|Requantize|Quantized)/],
  ['bn', /BatchNorm/],
  ['conv', /^(Conv|DepthwiseConv|MatMul|BatchMatMul|_Fused|Fused.*Conv|FusedDepthwise|Conv2DBackprop)/],
  ['act', /^(Relu|Relu6|Elu|Selu|LeakyRelu|Sigmoid|Tanh|Softmax|LogSoftmax|Prelu|Swish|HardSwish)$/],
  ['io', /^(Placeholder|PlaceholderWithDefault|_Arg|_Retval)$/],
  ['const', /^(Const|VariableV2|Variable|VarHandleOp|ReadVariableOp)$/],
  ['control', /^(Switch|Merge|Enter|Exit|NextIteration|LoopCond|NoOp|Assert|CheckNumerics|Identity|StopGradient|Print)$/],
  ['shape', /^(Reshape|Shape|Squeeze|ExpandDims|Transpose|ConcatV2|Concat|Pack|Unpack|Split|SplitV|Slice|StridedSlice|Pad|PadV2|MirrorPad|Tile|Gather|GatherV2|ResizeBilinear|ResizeNearestNeighbor|SpaceToBatchND|BatchToSpaceND)$/],
  ['math', /^(Add|AddV2|AddN|Sub|Mul|RealDiv|Div|Maximum|Minimum|Rsqrt|Sqrt|Square|SquaredDifference|Mean|Sum|Max|Min|Pow|Exp|Log|Neg|Abs|BiasAdd|MaxPool|AvgPool|ArgMax|Cast)$/],
  // TFLite builtin operators (upper snake case, so they never collide with TF op names).
  ['quant', /^(QUANTIZE|DEQUANTIZE|FAKE_QUANT)$/],
  ['conv', /^(CONV_2D|DEPTHWISE_CONV_2D|FULLY_CONNECTED|TRANSPOSE_CONV|BATCH_MATMUL|CONV_3D)$/],
  ['act', /^(RELU|RELU6|RELU_N1_TO_1|RELU_0_TO_1|LOGISTIC|TANH|SOFTMAX|LOG_SOFTMAX|PRELU|HARD_SWISH|LEAKY_RELU|ELU|GELU)$/],
  ['shape', /^(RESHAPE|SQUEEZE|EXPAND_DIMS|TRANSPOSE|CONCATENATION|PACK|UNPACK|SPLIT|SPLIT_V|SLICE|STRIDED_SLICE|PAD|PADV2|MIRROR_PAD|TILE|GATHER|GATHER_ND|RESIZE_BILINEAR|RESIZE_NEAREST_NEIGHBOR|SPACE_TO_BATCH_ND|BATCH_TO_SPACE_ND|SPACE_TO_DEPTH|DEPTH_TO_SPACE|SHAPE)$/],
  ['math', /^(ADD|SUB|MUL|DIV|MAXIMUM|MINIMUM|RSQRT|SQRT|SQUARE|SQUARED_DIFFERENCE|MEAN|SUM|REDUCE_MAX|REDUCE_MIN|POW|EXP|LOG|NEG|ABS|MAX_POOL_2D|AVERAGE_POOL_2D|L2_POOL_2D|ARG_MAX|ARG_MIN|CAST|ADD_N)$/],
];

export function opFamily(op: string): Family {
  for (const [f, re] of FAMILIES) if (re.test(op)) return f;
  return 'other';
}

function tensorSummary(t: Tensor): string {
  const shape = `[${t.shape.join(',')}] ${t.dtype}`;
  if (t.dtype === 'string' || t.dtype === 'complex64' || t.dtype === 'complex128') return shape;
  let v: ArrayLike<number>;
  try {
    v = t.toFloat32();
  } catch {
    return shape;
  }
  if (v.length === 0) return shape;
  if (v.length <= 8) return `${shape} = [${Array.from(v, (x) => +x.toPrecision(4)).join(', ')}]`;
  let mn = Infinity, mx = -Infinity, sum = 0, sq = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x < mn) mn = x;
    if (x > mx) mx = x;
    sum += x;
    sq += x * x;
  }
  const mean = sum / v.length;
  const std = Math.sqrt(Math.max(0, sq / v.length - mean * mean));
  const f = (x: number) => +x.toPrecision(4);
  return `${shape} min ${f(mn)} max ${f(mx)} mean ${f(mean)} std ${f(std)}`;
}

function attrText(j: AttrJson | undefined): string {
  if (!j) return '';
  if ('s' in j) return JSON.stringify(j.s);
  if ('i' in j) return String(j.i);
  if ('f' in j) return String(j.f);
  if ('b' in j) return String(j.b);
  if ('type' in j) return j.type;
  if ('shape' in j) return j.shape === null ? '<unknown rank>' : `[${j.shape.join(',')}]`;
  if ('tensor' in j) return tensorSummary(j.tensor);
  if ('func' in j) return `func ${j.func.name}`;
  if ('placeholder' in j) return `$${j.placeholder}`;
  const l = j.list;
  const parts = Object.entries(l).map(([k, v]) => `${k}: [${(v as unknown[]).map((x) => (Array.isArray(x) ? `[${x.join(',')}]` : typeof x === 'object' && x !== null ? '…' : String(x))).join(', ')}]`);
  return parts.join(' ') || '[]';
}

/** A Const read by exactly one node is drawn inside that node instead of as its own box. */
function collapsibleConsts(graph: Graph): Map<string, string> {
  const owner = new Map<string, string>();
  for (const n of graph) {
    if (n.op !== 'Const') continue;
    const users = new Set(graph.consumersOf(n.name).map((c) => c.node.name));
    if (users.size === 1) owner.set(n.name, [...users][0]!);
  }
  return owner;
}

function toViewNode(graph: Graph, n: Node, owned: Map<string, string[]>, shapes?: (n: Node) => string[] | undefined): ViewNode {
  const attrs: Record<string, string> = {};
  for (const k of n.attrs.keys()) attrs[k] = attrText(n.attrs.getJson(k));
  const params = (owned.get(n.name) ?? []).map((c) => {
    const cn = graph.node(c);
    return { name: c, summary: cn.attrs.has('value') ? attrText(cn.attrs.getJson('value')) : '' };
  });
  return { name: n.name, op: n.op, family: opFamily(n.op), inputs: [...n.inputs], attrs, params, shapes: shapes?.(n), device: n.device || undefined };
}

export interface BuildOptions {
  title?: string;
  /** Output shapes per node, e.g. from core's inferShapes. */
  shapes?: (n: Node) => string[] | undefined;
  /** Node names to highlight with a reason. */
  flags?: Map<string, string>;
  /** Keep every Const as its own node. */
  showConsts?: boolean;
}

export function buildView(graph: Graph, opts: BuildOptions = {}): ViewData {
  const owner = opts.showConsts ? new Map<string, string>() : collapsibleConsts(graph);
  const owned = new Map<string, string[]>();
  for (const [c, o] of owner) {
    if (!owned.has(o)) owned.set(o, []);
    owned.get(o)!.push(c);
  }
  const nodes: ViewNode[] = [];
  for (const n of graph) {
    if (owner.has(n.name)) continue;
    const v = toViewNode(graph, n, owned, opts.shapes);
    v.inputs = v.inputs.filter((i) => !owner.has(nodeName(i)));
    const f = opts.flags?.get(n.name);
    if (f) v.flag = f;
    nodes.push(v);
  }
  return { title: opts.title ?? 'graph', nodeCount: graph.size, nodes };
}

function signature(n: Node): string {
  const attrs = n.attrs.keys().map((k) => `${k}=${attrText(n.attrs.getJson(k))}`);
  return `${n.op}|${n.inputs.join(',')}|${attrs.join(';')}`;
}

/**
 * Union of two graphs: nodes only in `before` are 'removed', only in `after` 'added', in both
 * with another op, inputs or attrs 'changed'. Removed nodes keep their old inputs.
 */
export function buildDiffView(before: Graph, after: Graph, opts: BuildOptions & { passes?: ViewData['passes'] } = {}): ViewData {
  const a = buildView(after, opts);
  const b = buildView(before, { ...opts, flags: undefined });
  const bByName = new Map(b.nodes.map((n) => [n.name, n]));
  let added = 0, changed = 0, removed = 0;
  for (const n of a.nodes) {
    const old = before.get(n.name);
    if (!old) {
      n.status = 'added';
      added++;
    } else if (signature(old) !== signature(after.node(n.name)) || JSON.stringify(n.params) !== JSON.stringify(bByName.get(n.name)?.params)) {
      // (A changed constant drawn inside its consumer, e.g. a TFLite weight or bias, marks the consumer.)
      n.status = 'changed';
      changed++;
    } else n.status = 'same';
  }
  const shown = new Set(a.nodes.map((n) => n.name));
  for (const n of b.nodes) {
    if (after.has(n.name) || shown.has(n.name)) continue;
    n.status = 'removed';
    removed++;
    a.nodes.push(n);
    shown.add(n.name);
  }
  // Removed Consts that were drawn inside their consumer still count.
  for (const n of before) if (!after.has(n.name) && !shown.has(n.name)) removed++;
  return { ...a, title: opts.title ?? 'pipeline diff', nodeCount: after.size, counts: { added, removed, changed }, passes: opts.passes };
}
