import { OP_TABLE } from './table.js';
import { registerOpDefs } from './registry.js';

registerOpDefs(OP_TABLE);

export type { ArgDef, AttrDef, AttrDefault, AttrType, OpDef, OpRole, OutputInfo, ShapeContext, ShapeFn, TensorInfo } from './types.js';
export {
  getOpDef, opNames, defaultAttrs, inputIndex, inputRange, inputOf, numOutputs, argRanges, registerOpDefs, defineOp,
  attrDefaultJson, compareVersions, DEFAULT_TF_VERSION, type OpSpec, opRole, isIdentityLike, isVariableOp, opsWith,
} from './registry.js';
export { inferShapes, inferNode, constantValue, constantSource, weightSource, parseShapeString, type ShapeMap, type InferOptions } from './infer.js';
export { countFlops, batchOneInputs, type FlopReport, type NodeCost } from './flops.js';
export { broadcastShapes, stridedSliceShape, windowOut } from './shape-fns.js';
export * as shapeFns from './shape-fns.js';
export { OP_TABLE };
