/**
 * TF op → TFLite operator, as data: one entry per TF op naming the builtin, the inputs it takes,
 * its options from the node's attrs, and (in VERSIONS) the op version rule. Layout changes of
 * weights (HWIO → OHWI, depthwise → [1,H,W,C·M], MatMul b → [out,in]) live in the three layer
 * entries; fusions run afterwards on the lowered ops (fuse.ts).
 */
import type { Node, Tensor as CoreTensor } from '@tfpass/core';
import { UnsupportedOpError } from '@tfpass/core/errors';
import type { BuiltinOptions, TensorType } from '@tfpass/tflite';
import type { LOp, LTensor } from './ir.js';
import { transpose } from './const-eval.js';

export interface LowerCtx {
  node: Node;
  /** Lowered tensor of data input `i` (a constant input becomes a constant tensor). */
  input(i: number): LTensor;
  /** Value of data input `i` when it is constant. */
  constant(i: number): CoreTensor | undefined;
  /** Name the constant behind input `i` carries (through Identity, FakeQuant output name). */
  constName(i: number): string;
  /** How many ops read the constant behind input `i` (TOCO's "used once" conditions). */
  constUses(i: number): number;
  output(k?: number): LTensor;
  /**
   * A constant made from input `from`; a per-channel range on it (TF's last axis) moves to
   * `channelAxis`, where the rule's layout puts the output channels.
   */
  constTensor(name: string, type: TensorType, shape: number[], data: LTensor['data'], role?: LTensor['role'], from?: number, channelAxis?: number): LTensor;
  emit(op: Omit<LOp, 'node'>): LOp;
  dataInputs: number;
}

export interface Rule {
  builtin: string;
  lower(c: LowerCtx): void;
}

const ACT_NONE = 'NONE';

function requireConst(c: LowerCtx, i: number, what: string): CoreTensor {
  const t = c.constant(i);
  if (!t) throw new UnsupportedOpError(c.node.op, c.node.name, `its ${what} (input ${i}) must be constant after folding for TFLite`);
  return t;
}

function nhwc(c: LowerCtx): void {
  const f = c.node.attrs.optString('data_format', 'NHWC');
  if (f !== 'NHWC') throw new UnsupportedOpError(c.node.op, c.node.name, `data_format ${f}: TFLite has only NHWC`);
}

function padding(c: LowerCtx): 'SAME' | 'VALID' {
  const p = c.node.attrs.optString('padding', 'VALID');
  if (p !== 'SAME' && p !== 'VALID') throw new UnsupportedOpError(c.node.op, c.node.name, `padding ${p} has no TFLite equivalent`);
  return p;
}

function hw(c: LowerCtx, attr: string): [number, number] {
  const v = c.node.attrs.optInts(attr, [1, 1, 1, 1]);
  if (v.length !== 4 || v[0] !== 1 || v[3] !== 1) throw new UnsupportedOpError(c.node.op, c.node.name, `${attr} ${JSON.stringify(v)}: TFLite needs 1 in the batch and depth positions`);
  return [v[1]!, v[2]!];
}

const f32 = (t: CoreTensor) => t.toFloat32().slice();

/** Conv2D: OHWI weights, a zero bias `<node>_bias`; TOCO's depth-1 → DEPTHWISE rule. */
function lowerConv(c: LowerCtx): void {
  nhwc(c);
  const w = requireConst(c, 1, 'filter');
  const [kh, kw, ci, co] = w.shape as [number, number, number, number];
  const [sh, sw] = hw(c, 'strides');
  const [dh, dw] = hw(c, 'dilations');
  const x = c.input(0);
  const bias = c.constTensor(`${c.node.name}_bias`, 'float32', [co], new Float32Array(co), 'bias');
  // ConvertPureConvToDepthwise: input depth 1, equal strides, no dilation, weights used once.
  if (ci === 1 && sh === sw && dh === 1 && dw === 1 && c.constUses(1) === 1) {
    const wt = c.constTensor(c.constName(1), 'float32', [1, kh, kw, co], f32(w), 'weights', 1, 3);
    c.emit({ code: 'DEPTHWISE_CONV_2D', inputs: [x, wt, bias], outputs: [c.output()], options: { type: 'DepthwiseConv2DOptions', padding: padding(c), strideW: sw, strideH: sh, depthMultiplier: co, fusedActivationFunction: ACT_NONE, dilationWFactor: 1, dilationHFactor: 1 } });
    return;
  }
  const t = transpose(w.toFloat32(), w.shape, [3, 0, 1, 2], new Float32Array(w.size));
  const wt = c.constTensor(c.constName(1), 'float32', t.shape, t.data, 'weights', 1, 0);
  c.emit({ code: 'CONV_2D', inputs: [x, wt, bias], outputs: [c.output()], options: { type: 'Conv2DOptions', padding: padding(c), strideW: sw, strideH: sh, fusedActivationFunction: ACT_NONE, dilationWFactor: dw, dilationHFactor: dh } });
}

/** DepthwiseConv2dNative: [kh,kw,C,M] is already [1,kh,kw,C·M] in memory (o = c·M + m). */
function lowerDepthwise(c: LowerCtx): void {
  nhwc(c);
  const w = requireConst(c, 1, 'filter');
  const [kh, kw, ci, m] = w.shape as [number, number, number, number];
  const [sh, sw] = hw(c, 'strides');
  const [dh, dw] = hw(c, 'dilations');
  const wt = c.constTensor(c.constName(1), 'float32', [1, kh, kw, ci * m], f32(w), 'weights', 1, 3);
  const bias = c.constTensor(`${c.node.name}_bias`, 'float32', [ci * m], new Float32Array(ci * m), 'bias');
  c.emit({ code: 'DEPTHWISE_CONV_2D', inputs: [c.input(0), wt, bias], outputs: [c.output()], options: { type: 'DepthwiseConv2DOptions', padding: padding(c), strideW: sw, strideH: sh, depthMultiplier: m, fusedActivationFunction: ACT_NONE, dilationWFactor: dw, dilationHFactor: dh } });
}

/** MatMul → FULLY_CONNECTED with weights [out,in] (`<b>/transpose` when TOCO's Transpose was folded in). */
function lowerMatMul(c: LowerCtx): void {
  const a = c.node.attrs;
  if (a.optBool('transpose_a', false) || a.optBool('adjoint_a', false) || a.optBool('adjoint_b', false)) {
    throw new UnsupportedOpError(c.node.op, c.node.name, 'transpose_a/adjoint are not supported by FULLY_CONNECTED');
  }
  const b = requireConst(c, 1, 'weights');
  const tb = a.optBool('transpose_b', false);
  const [r, k] = b.shape as [number, number];
  let wt: LTensor;
  if (tb) wt = c.constTensor(c.constName(1), 'float32', [r, k], f32(b), 'weights', 1, 0);
  else {
    const t = transpose(b.toFloat32(), b.shape, [1, 0], new Float32Array(b.size));
    wt = c.constTensor(`${c.constName(1)}/transpose`, 'float32', t.shape, t.data, 'weights', 1, 0);
  }
  const out = wt.shape[0]!;
  const bias = c.constTensor(`${c.node.name}_bias`, 'float32', [out], new Float32Array(out), 'bias');
  c.emit({ code: 'FULLY_CONNECTED', inputs: [c.input(0), wt, bias], outputs: [c.output()], options: { type: 'FullyConnectedOptions', fusedActivationFunction: ACT_NONE, weightsFormat: 'DEFAULT', keepNumDims: false } });
}

/** Inference FusedBatchNorm → MUL(x, γ/√(σ²+ε)) then ADD(β − μ·mul); fuse.ts folds both into the layer when TOCO would. */
function lowerBatchNorm(c: LowerCtx): void {
  nhwc(c);
  if (c.node.attrs.optBool('is_training', true)) throw new UnsupportedOpError(c.node.op, c.node.name, 'is_training=true: freeze an inference graph first');
  const [g, b, m, v] = [1, 2, 3, 4].map((i) => requireConst(c, i, ['', 'scale', 'offset', 'mean', 'variance'][i]!).toFloat32());
  const eps = c.node.attrs.optFloat('epsilon', 1e-4);
  const mul = new Float32Array(g!.length);
  const add = new Float32Array(g!.length);
  for (let i = 0; i < mul.length; i++) {
    mul[i] = g![i]! / Math.sqrt(Math.fround(v![i]! + eps));
    add[i] = b![i]! - m![i]! * mul[i]!;
  }
  const n = c.node.name;
  const y = c.output(0);
  const mid: LTensor = { name: `${n}/mul_1`, type: 'float32', shape: [...y.shape] };
  const mulT = c.constTensor(`${n}/mul`, 'float32', [mul.length], mul);
  const addT = c.constTensor(`${n}/sub`, 'float32', [add.length], add);
  c.emit({ code: 'MUL', inputs: [c.input(0), mulT], outputs: [mid], options: { type: 'MulOptions', fusedActivationFunction: ACT_NONE }, fromBatchNorm: true });
  c.emit({ code: 'ADD', inputs: [mid, addT], outputs: [y], options: { type: 'AddOptions', fusedActivationFunction: ACT_NONE }, fromBatchNorm: true });
}

/** FakeQuant on an activation: a FAKE_QUANT op for now; lower.ts records its range and drops it (or keeps it in float mode). */
function lowerFakeQuant(c: LowerCtx): void {
  const a = c.node.attrs;
  let min: number;
  let max: number;
  let perChannel: { min: number[]; max: number[] } | undefined;
  if (c.node.op === 'FakeQuantWithMinMaxArgs') {
    min = a.optFloat('min', -6);
    max = a.optFloat('max', 6);
  } else {
    const lo = requireConst(c, 1, 'min').toNumbers();
    const hi = requireConst(c, 2, 'max').toNumbers();
    if (c.node.op === 'FakeQuantWithMinMaxVarsPerChannel') perChannel = { min: lo, max: hi };
    min = Math.min(...lo);
    max = Math.max(...hi);
  }
  const numBits = a.optInt('num_bits', 8);
  const narrowRange = a.optBool('narrow_range', false);
  c.emit({ code: 'FAKE_QUANT', inputs: [c.input(0)], outputs: [c.output()], options: { type: 'FakeQuantOptions', min, max, numBits, narrowRange }, ...(perChannel ? { perChannel } : {}) });
}

type OptionsFn = (c: LowerCtx) => BuiltinOptions | undefined;

/** An op whose TFLite inputs are (a subset of) the TF data inputs, in order. */
function simple(builtin: string, options?: OptionsFn, inputs?: (c: LowerCtx) => number[]): Rule {
  return {
    builtin,
    lower(c) {
      const idx = inputs ? inputs(c) : Array.from({ length: c.dataInputs }, (_, i) => i);
      const outs = Array.from({ length: Math.max(1, outputCount(c)) }, (_, k) => c.output(k));
      c.emit({ code: builtin, inputs: idx.map((i) => c.input(i)), outputs: outs, options: options?.(c) });
    },
  };
}

function outputCount(c: LowerCtx): number {
  const a = c.node.attrs;
  if (c.node.op === 'Split' || c.node.op === 'SplitV') return a.optInt('num_split', 1);
  if (c.node.op === 'Unpack') return a.optInt('num', 1);
  return 1;
}

const act = (type: string): OptionsFn => () => ({ type, fusedActivationFunction: ACT_NONE });
const none: OptionsFn = () => undefined;
const empty = (type: string): OptionsFn => () => ({ type });

function pool(c: LowerCtx): BuiltinOptions {
  nhwc(c);
  const [kh, kw] = hw(c, 'ksize');
  const [sh, sw] = hw(c, 'strides');
  return { type: 'Pool2DOptions', padding: padding(c), strideW: sw, strideH: sh, filterWidth: kw, filterHeight: kh, fusedActivationFunction: ACT_NONE };
}

function axisOf(c: LowerCtx, i: number): number {
  return requireConst(c, i, 'axis').toNumbers()[0]!;
}

const reducer: OptionsFn = (c) => {
  requireConst(c, 1, 'reduction axes');
  return { type: 'ReducerOptions', keepDims: c.node.attrs.has('keep_dims') ? c.node.attrs.getBool('keep_dims') : c.node.attrs.optBool('keepdims', false) };
};

const tfliteType = (t: string): string => (t === 'float32' ? 'FLOAT32' : t.toUpperCase());

/** Reshape-like ops take the resolved output shape as an int32 tensor and as `new_shape` (TOCO turns Squeeze/ExpandDims into RESHAPE too). */
const reshape: Rule = {
  builtin: 'RESHAPE',
  lower(c) {
    const y = c.output();
    const shape = c.constTensor(`${c.node.name}/shape`, 'int32', [y.shape.length], Int32Array.from(y.shape));
    c.emit({ code: 'RESHAPE', inputs: [c.input(0), shape], outputs: [y], options: { type: 'ReshapeOptions', newShape: [...y.shape] } });
  },
};

export const RULES: Record<string, Rule> = {
  Conv2D: { builtin: 'CONV_2D', lower: lowerConv },
  DepthwiseConv2dNative: { builtin: 'DEPTHWISE_CONV_2D', lower: lowerDepthwise },
  MatMul: { builtin: 'FULLY_CONNECTED', lower: lowerMatMul },
  FusedBatchNorm: { builtin: 'MUL', lower: lowerBatchNorm },
  FusedBatchNormV2: { builtin: 'MUL', lower: lowerBatchNorm },
  FusedBatchNormV3: { builtin: 'MUL', lower: lowerBatchNorm },
  FakeQuantWithMinMaxArgs: { builtin: 'FAKE_QUANT', lower: lowerFakeQuant },
  FakeQuantWithMinMaxVars: { builtin: 'FAKE_QUANT', lower: lowerFakeQuant },
  FakeQuantWithMinMaxVarsPerChannel: { builtin: 'FAKE_QUANT', lower: lowerFakeQuant },
  BiasAdd: simple('ADD', (c) => (nhwc(c), { type: 'AddOptions', fusedActivationFunction: ACT_NONE })),
  Add: simple('ADD', act('AddOptions')),
  AddV2: simple('ADD', act('AddOptions')),
  Sub: simple('SUB', act('SubOptions')),
  Mul: simple('MUL', act('MulOptions')),
  RealDiv: simple('DIV', act('DivOptions')),
  Div: simple('DIV', act('DivOptions')),
  FloorDiv: simple('FLOOR_DIV', empty('FloorDivOptions')),
  Maximum: simple('MAXIMUM', none),
  Minimum: simple('MINIMUM', none),
  SquaredDifference: simple('SQUARED_DIFFERENCE', empty('SquaredDifferenceOptions')),
  Pow: simple('POW', empty('PowOptions')),
  Relu: simple('RELU', none),
  Relu6: simple('RELU6', none),
  LeakyRelu: simple('LEAKY_RELU', (c) => ({ type: 'LeakyReluOptions', alpha: c.node.attrs.optFloat('alpha', 0.2) })),
  Sigmoid: simple('LOGISTIC', none),
  Tanh: simple('TANH', none),
  Softmax: simple('SOFTMAX', () => ({ type: 'SoftmaxOptions', beta: 1 })),
  Rsqrt: simple('RSQRT', none),
  Sqrt: simple('SQRT', none),
  Exp: simple('EXP', empty('ExpOptions')),
  Log: simple('LOG', none),
  Neg: simple('NEG', empty('NegOptions')),
  Abs: simple('ABS', empty('AbsOptions')),
  Square: simple('SQUARE', empty('SquareOptions')),
  Floor: simple('FLOOR', none),
  AvgPool: simple('AVERAGE_POOL_2D', pool),
  MaxPool: simple('MAX_POOL_2D', pool),
  Reshape: reshape,
  Squeeze: reshape,
  ExpandDims: reshape,
  Mean: simple('MEAN', reducer),
  Sum: simple('SUM', reducer),
  Max: simple('REDUCE_MAX', reducer),
  Min: simple('REDUCE_MIN', reducer),
  Prod: simple('REDUCE_PROD', reducer),
  ConcatV2: simple('CONCATENATION', (c) => ({ type: 'ConcatenationOptions', axis: axisOf(c, c.dataInputs - 1), fusedActivationFunction: ACT_NONE }), (c) => Array.from({ length: c.dataInputs - 1 }, (_, i) => i)),
  Concat: simple('CONCATENATION', (c) => ({ type: 'ConcatenationOptions', axis: axisOf(c, 0), fusedActivationFunction: ACT_NONE }), (c) => Array.from({ length: c.dataInputs - 1 }, (_, i) => i + 1)),
  Pad: simple('PAD', empty('PadOptions')),
  PadV2: simple('PADV2', empty('PadV2Options')),
  MirrorPad: simple('MIRROR_PAD', (c) => ({ type: 'MirrorPadOptions', mode: c.node.attrs.optString('mode', 'REFLECT') === 'SYMMETRIC' ? 'SYMMETRIC' : 'REFLECT' })),
  // TOCO 1.15 drops half_pixel_centers (a silent numeric change); we keep it (RESIZE_BILINEAR v3).
  ResizeBilinear: simple('RESIZE_BILINEAR', (c) => ({ type: 'ResizeBilinearOptions', alignCorners: c.node.attrs.optBool('align_corners', false), halfPixelCenters: c.node.attrs.optBool('half_pixel_centers', false) })),
  ResizeNearestNeighbor: simple('RESIZE_NEAREST_NEIGHBOR', (c) => ({ type: 'ResizeNearestNeighborOptions', alignCorners: c.node.attrs.optBool('align_corners', false), halfPixelCenters: c.node.attrs.optBool('half_pixel_centers', false) })),
  ArgMax: simple('ARG_MAX', (c) => ({ type: 'ArgMaxOptions', outputType: tfliteType(c.node.attrs.optType('output_type') ?? 'int64') })),
  ArgMin: simple('ARG_MIN', (c) => ({ type: 'ArgMinOptions', outputType: tfliteType(c.node.attrs.optType('output_type') ?? 'int64') })),
  StridedSlice: simple('STRIDED_SLICE', (c) => {
    const a = c.node.attrs;
    return { type: 'StridedSliceOptions', beginMask: a.optInt('begin_mask', 0), endMask: a.optInt('end_mask', 0), ellipsisMask: a.optInt('ellipsis_mask', 0), newAxisMask: a.optInt('new_axis_mask', 0), shrinkAxisMask: a.optInt('shrink_axis_mask', 0) };
  }),
  Slice: simple('SLICE', empty('SliceOptions')),
  Transpose: simple('TRANSPOSE', empty('TransposeOptions')),
  Tile: simple('TILE', empty('TileOptions')),
  Pack: simple('PACK', (c) => ({ type: 'PackOptions', valuesCount: c.dataInputs, axis: c.node.attrs.optInt('axis', 0) })),
  Unpack: simple('UNPACK', (c) => ({ type: 'UnpackOptions', num: c.node.attrs.optInt('num', 1), axis: c.node.attrs.optInt('axis', 0) })),
  Split: simple('SPLIT', (c) => ({ type: 'SplitOptions', numSplits: c.node.attrs.optInt('num_split', 1) })),
  SplitV: simple('SPLIT_V', (c) => ({ type: 'SplitVOptions', numSplits: c.node.attrs.optInt('num_split', 1) })),
  GatherV2: simple('GATHER', (c) => ({ type: 'GatherOptions', axis: axisOf(c, 2), batchDims: c.node.attrs.optInt('batch_dims', 0) }), () => [0, 1]),
  Gather: simple('GATHER', () => ({ type: 'GatherOptions', axis: 0 })),
  Cast: simple('CAST', (c) => ({ type: 'CastOptions', inDataType: tfliteType(c.node.attrs.optType('SrcT') ?? 'float32'), outDataType: tfliteType(c.node.attrs.optType('DstT') ?? 'float32') })),
  Shape: simple('SHAPE', (c) => ({ type: 'ShapeOptions', outType: tfliteType(c.node.attrs.optType('out_type') ?? 'int32') })),
  SpaceToBatchND: simple('SPACE_TO_BATCH_ND', empty('SpaceToBatchNDOptions')),
  BatchToSpaceND: simple('BATCH_TO_SPACE_ND', empty('BatchToSpaceNDOptions')),
  SpaceToDepth: simple('SPACE_TO_DEPTH', (c) => ({ type: 'SpaceToDepthOptions', blockSize: c.node.attrs.optInt('block_size', 2) })),
  DepthToSpace: simple('DEPTH_TO_SPACE', (c) => ({ type: 'DepthToSpaceOptions', blockSize: c.node.attrs.optInt('block_size', 2) })),
};

/** Op versions as TOCO 1.15 stamps them for float tensors (and today's rules where TOCO has none). */
export const VERSIONS: Record<string, (op: LOp) => number> = {
  DEPTHWISE_CONV_2D: (op) => ((op.options?.dilationWFactor ?? 1) !== 1 || (op.options?.dilationHFactor ?? 1) !== 1 ? 2 : 1),
  FAKE_QUANT: (op) => (op.options?.narrowRange ? 2 : 1),
  RESIZE_BILINEAR: (op) => (op.options?.halfPixelCenters ? 3 : 1),
  RESIZE_NEAREST_NEIGHBOR: (op) => (op.options?.halfPixelCenters ? 3 : 1),
  // float16 and per-tensor int8 input: 2 (what TOCO 1.15 writes for float16); per-channel int8: 5.
  DEQUANTIZE: (op) => ((op.inputs[0]?.quant?.scale.length ?? 1) > 1 ? 5 : 2),
};

/** Builtin codes (schema `BuiltinOperator`), for TOCO's operator-code order (ascending code). */
export const BUILTIN_CODES: Record<string, number> = {
  ADD: 0, AVERAGE_POOL_2D: 1, CONCATENATION: 2, CONV_2D: 3, DEPTHWISE_CONV_2D: 4, DEPTH_TO_SPACE: 5, DEQUANTIZE: 6,
  FLOOR: 8, FULLY_CONNECTED: 9, LOGISTIC: 14, MAX_POOL_2D: 17, MUL: 18, RELU: 19, RELU_N1_TO_1: 20, RELU6: 21,
  RESHAPE: 22, RESIZE_BILINEAR: 23, SOFTMAX: 25, SPACE_TO_DEPTH: 26, TANH: 28, CUSTOM: 32, PAD: 34, GATHER: 36,
  BATCH_TO_SPACE_ND: 37, SPACE_TO_BATCH_ND: 38, TRANSPOSE: 39, MEAN: 40, SUB: 41, DIV: 42, SQUEEZE: 43,
  STRIDED_SLICE: 45, EXP: 47, SPLIT: 49, CAST: 53, MAXIMUM: 55, ARG_MAX: 56, MINIMUM: 57, NEG: 59, PADV2: 60,
  SLICE: 65, TILE: 69, EXPAND_DIMS: 70, LOG: 73, SUM: 74, SQRT: 75, RSQRT: 76, SHAPE: 77, POW: 78, ARG_MIN: 79,
  FAKE_QUANT: 80, REDUCE_PROD: 81, REDUCE_MAX: 82, PACK: 83, UNPACK: 88, REDUCE_MIN: 89, FLOOR_DIV: 90, SQUARE: 92,
  RESIZE_NEAREST_NEIGHBOR: 97, LEAKY_RELU: 98, SQUARED_DIFFERENCE: 99, MIRROR_PAD: 100, ABS: 101, SPLIT_V: 102,
  QUANTIZE: 114,
};

/**
 * min_runtime_version per (op, version), the table TOCO 1.15 consults (toco/tflite/op_version.cc);
 * ops absent are skipped, as TOCO does.
 */
const RUNTIME: Record<string, string[]> = {
  ADD: ['1.5.0', '1.14.0'], AVERAGE_POOL_2D: ['1.5.0', '1.14.0'], CONCATENATION: ['1.5.0', '1.14.0'], CONV_2D: ['1.5.0', '1.14.0', '1.14.0'],
  DEPTHWISE_CONV_2D: ['1.5.0', '1.12.0', '1.14.0'], DEQUANTIZE: ['1.13.1', '1.14.0', '1.15.0', '2.2.0', '2.7.0'], FULLY_CONNECTED: ['1.5.0', '1.10.0', '1.14.0', '1.14.0'],
  LOGISTIC: ['1.14.0', '1.14.0'], MAX_POOL_2D: ['1.5.0', '1.14.0'], MUL: ['1.5.0', '1.14.0', '1.15.0'], RELU: ['1.5.0'], RELU_N1_TO_1: ['1.5.0'],
  RELU6: ['1.5.0', '1.14.0'], RESHAPE: ['1.5.0'], RESIZE_BILINEAR: ['1.7.0', '1.14.0'], SOFTMAX: ['1.5.0', '1.14.0'], TANH: ['1.14.0', '1.14.0'],
  PAD: ['1.5.0', '1.14.0'], GATHER: ['1.6.0', '1.14.0', '1.15.0'], BATCH_TO_SPACE_ND: ['1.6.0', '1.14.0'], SPACE_TO_BATCH_ND: ['1.6.0', '1.14.0'],
  TRANSPOSE: ['1.6.0', '1.14.0'], MEAN: ['1.6.0', '1.14.0'], SUB: ['1.6.0', '1.14.0'], DIV: ['1.6.0'], SQUEEZE: ['1.6.0'],
  STRIDED_SLICE: ['1.6.0', '1.14.0'], EXP: ['1.7.0'], SPLIT: ['1.5.0', '1.14.0', '1.14.0'], CAST: ['1.5.0'], MAXIMUM: ['1.14.0', '1.14.0'],
  ARG_MAX: ['1.9.0', '1.14.0'], MINIMUM: ['1.14.0', '1.14.0'], NEG: ['1.9.0'], PADV2: ['1.9.0', '1.14.0'], SLICE: ['1.14.0', '1.14.0'],
  TILE: ['1.10.1'], EXPAND_DIMS: ['1.10.0'], SUM: ['1.10.0', '1.15.0'], SHAPE: ['1.10.0'], POW: ['1.10.0'], FAKE_QUANT: ['1.5.0', '1.10.0'],
  REDUCE_MAX: ['1.11.0', '1.14.0'], PACK: ['1.11.0', '1.14.0'], UNPACK: ['1.11.0', '1.14.0'], FLOOR_DIV: ['1.14.0', '1.14.0'],
  RESIZE_NEAREST_NEIGHBOR: ['1.13.1', '1.14.0'], LEAKY_RELU: ['1.13.1'], SQUARED_DIFFERENCE: ['1.13.1'], MIRROR_PAD: ['1.13.1'],
  SPLIT_V: ['1.13.1'], QUANTIZE: ['1.14.0', '1.15.0'], FLOOR: ['1.9.0'],
};

/**
 * The model's min_runtime_version: the largest entry over its (op, version) pairs. TOCO compares
 * the strings with strcmp, so "1.14.0" < "1.5.0"; we compare numerically (the value is a claim
 * about which runtimes can load the file, and the lexicographic answer can understate it).
 */
export function minRuntimeVersion(codes: { builtin: string; version: number }[]): string | undefined {
  let best: string | undefined;
  const num = (s: string) => s.split('.').map(Number);
  const less = (a: string, b: string) => {
    const x = num(a);
    const y = num(b);
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
    return false;
  };
  for (const c of codes) {
    const v = RUNTIME[c.builtin]?.[c.version - 1];
    if (v && (!best || less(best, v))) best = v;
  }
  return best;
}

export function ruleFor(node: Node): Rule | undefined {
  return Object.prototype.hasOwnProperty.call(RULES, node.op) ? RULES[node.op] : undefined;
}

