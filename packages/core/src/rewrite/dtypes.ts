import type { DType } from '../dtype.js';
import type { Node } from '../graph.js';
import { getOpDef } from '../ops/index.js';

const BOOL_OPS = new Set([
  'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'LogicalNot',
  'IsNan', 'IsInf', 'IsFinite', 'LoopCond', 'All', 'Any', 'IsVariableInitialized', 'VarIsInitializedOp',
]);
const FLOAT_OPS = new Set(['AudioSpectrogram', 'Mfcc', 'Dequantize', 'AudioMicrofrontend']);

/** Output dtype of `node:port`: from the op table, else from the usual attr conventions (ops the table lacks). */
export function outputDType(node: Node, port: number): DType | undefined {
  const def = getOpDef(node.op);
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
