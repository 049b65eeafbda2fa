import type { DType, Graph, Node, PassContext, PluginApi, Shape } from '@tfpass/core';

export type Lib = PluginApi['lib'];

/** Node names of `--inputs`/`--outputs` entries (`^` and `:N` stripped). */
export function nodeNames(lib: Lib, list: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const s of list) {
    const t = s.trim();
    if (t) out.add(lib.parseInput(t).node);
  }
  return out;
}

/** Protected names: inputs and outputs, both as given and with ports stripped. */
export function protectedNames(lib: Lib, ctx: Pick<PassContext, 'inputs' | 'outputs'>): Set<string> {
  const out = nodeNames(lib, [...ctx.inputs, ...ctx.outputs]);
  for (const s of [...ctx.inputs, ...ctx.outputs]) if (s.trim()) out.add(s.trim());
  return out;
}

/** Parse TF's shape parameter `"1,384,384,3"` (`-1` = unknown dim, `?` accepted too). */
export function parseShape(lib: Lib, pass: string, param: string, s: string): Shape {
  const t = s.trim();
  if (t === '') throw new lib.ParamError(pass, param, 'the shape is empty (use e.g. "1,224,224,3")');
  return t.split(',').map((p) => {
    const v = p.trim();
    if (v === '?' ) return -1;
    if (!/^[+-]?\d+$/.test(v) || Number(v) < -1) throw new lib.ParamError(pass, param, `cannot read '${s}' as a shape: '${p}' is not a dimension (integers, -1 for unknown)`);
    return Number(v);
  });
}

const BOOL_OPS = new Set([
  'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'LogicalNot',
  'IsNan', 'IsInf', 'IsFinite', 'LoopCond', 'All', 'Any', 'IsVariableInitialized', 'VarIsInitializedOp',
]);
const FLOAT_OPS = new Set(['AudioSpectrogram', 'Mfcc', 'Dequantize', 'AudioMicrofrontend']);

/** Output dtype of `node:port`: from core's op table, else from the usual attr conventions. */
export function outputDType(lib: Lib, node: Node, port: number): DType | undefined {
  const def = typeof lib.getOpDef === 'function' ? lib.getOpDef(node.op) : undefined;
  if (def) {
    let pos = 0;
    for (const arg of def.outputs) {
      const attr = (name: string) => def.attrs.find((x) => x.name === name)?.default;
      let len = 1;
      if (arg.numberAttr) len = node.attrs.kind(arg.numberAttr) === 'i' ? node.attrs.getInt(arg.numberAttr) : Number(attr(arg.numberAttr) ?? NaN);
      const list = arg.typeListAttr ? (node.attrs.kind(arg.typeListAttr) === 'list(type)' ? node.attrs.getTypes(arg.typeListAttr) : []) : undefined;
      if (list) len = list.length;
      if (!(len >= 0)) return undefined;
      if (port < pos + len) {
        if (arg.type) return arg.type;
        if (list) return list[port - pos];
        if (arg.typeAttr) return node.attrs.kind(arg.typeAttr) === 'type' ? node.attrs.getType(arg.typeAttr) : ((attr(arg.typeAttr) as DType | undefined) ?? undefined);
        return undefined;
      }
      pos += len;
    }
  }
  return outputDTypeFromAttrs(node, port);
}

function outputDTypeFromAttrs(node: Node, port: number): DType | undefined {
  const a = node.attrs;
  const type = (k: string): DType | undefined => (a.kind(k) === 'type' ? a.getType(k) : undefined);
  const op = node.op;
  if (BOOL_OPS.has(op)) return 'bool';
  if (FLOAT_OPS.has(op)) return op === 'AudioMicrofrontend' ? type('out_type') : 'float32';
  switch (op) {
    case 'Shape': case 'Size': case 'Rank': case 'ShapeN':
      return type('out_type') ?? 'int32';
    case 'Cast': return type('DstT');
    case 'ArgMax': case 'ArgMin': return type('output_type') ?? 'int64';
    case 'DecodeWav': return port === 0 ? 'float32' : 'int32';
    case 'QuantizeV2': case 'QuantizedRelu': case 'QuantizedReshape': case 'QuantizedConv2D': case 'QuantizedMatMul': case 'QuantizedBiasAdd': case 'Requantize':
      return port === 0 ? type('T') ?? type('out_type') ?? type('Toutput') : 'float32';
    case 'RequantizationRange': return 'float32';
    case 'Range': return type('Tidx');
    case 'TopKV2': case 'Unique': return port === 0 ? type('T') : type('out_idx') ?? 'int32';
    case 'FusedBatchNormV3': case 'FusedBatchNormV2': return port === 0 ? type('T') : type('U') ?? 'float32';
    case 'IdentityN': return a.kind('T') === 'list(type)' ? a.getTypes('T')[port] : undefined;
    case 'NoOp': return undefined;
  }
  return type('T') ?? type('dtype') ?? type('out_type') ?? type('Tout') ?? type('DstT');
}

/** Every node that reads some output of `name`, once each. */
export function consumerNodes(graph: Graph, name: string): Node[] {
  const seen = new Set<Node>();
  for (const c of graph.consumersOf(name)) seen.add(c.node);
  return [...seen];
}
