/**
 * Quantization facts per TFLite builtin, as data: how TOCO's HardcodeMinMax derives a missing
 * range, which output params are copied or fixed (uint8: TOCO 1.15 quantize.cc; int8: the TFLite
 * int8 spec), and the op version each converter stamps (spec tflite.md §2.4). Rules read this
 * table; no op is special-cased elsewhere except the affine ops' weights/bias.
 */
import type { Operator } from '@tfpass/tflite';

/** How a missing range is derived from neighbours (TOCO hardcode_min_max.cc). */
export type Derive =
  /** Relu family: the input takes the output's range. */
  | 'inputFromOutput'
  /** Resize/Slice/Squeeze/Pad/Gather/Transpose/Mean/…: output takes the (data) input's range. */
  | 'outputFromInput'
  /** Pools: output = input widened to include 0. */
  | 'pool'
  /** Concatenation: output = union of the inputs' (and output's) ranges. */
  | 'concat'
  /** Reshape: either direction. */
  | 'reshape'
  /** Pack: output = the inputs' range when they all agree. */
  | 'packIfEqual';

export interface FixedParams {
  scale: number;
  zeroPoint: number;
}

export interface VersionContext {
  /** s_a·s_b/s_out ≥ 1 for MUL (needs the version with a > 1 multiplier). */
  mulRatioAtLeastOne: boolean;
  dilated: boolean;
  halfPixelCenters: boolean;
  keepNumDims: boolean;
  /** An optional input (FC bias) is absent. */
  noBias: boolean;
  /** STRIDED_SLICE ellipsis or new-axis masks. */
  ellipsisOrNewAxis: boolean;
}

/** The facts op versions depend on, read from an operator's options and inputs. */
export function versionContext(op: Operator, mulRatioAtLeastOne: boolean): VersionContext {
  const o = op.builtinOptions ?? { type: '' };
  return {
    mulRatioAtLeastOne,
    dilated: Number(o.dilationWFactor ?? 1) !== 1 || Number(o.dilationHFactor ?? 1) !== 1,
    halfPixelCenters: !!o.halfPixelCenters,
    keepNumDims: !!o.keepNumDims,
    noBias: op.inputs.length < 3 || op.inputs[2]! < 0,
    ellipsisOrNewAxis: !!o.ellipsisMask || !!o.newAxisMask,
  };
}

export interface QuantOp {
  /** Index of the input whose range/params flow to the output (Split: 1). */
  data?: number;
  derive?: Derive;
  /** TOCO 1.15 `SupportsQuantization` lists it. */
  toco: boolean;
  /** uint8 output params: copied from the data input (TOCO ChooseQuantizationForOperatorOutput) or fixed. */
  u8Out?: 'copy' | FixedParams;
  /** int8: output shares the data input's params (the spec's same-scale ops), or fixed params. */
  i8Out?: 'same' | FixedParams;
  /** int8: every float input must share the output's params (CONCATENATION, MAXIMUM, MINIMUM). */
  i8SameInputs?: boolean;
  /** Conv/DW/FC: input 1 weights, input 2 bias. */
  affine?: 'conv' | 'depthwise' | 'fc';
  u8Version?: (c: VersionContext) => number;
  i8Version: number | ((c: VersionContext) => number);
}

const SOFTMAX_U8: FixedParams = { scale: 1 / 256, zeroPoint: 0 };
const SOFTMAX_I8: FixedParams = { scale: 1 / 256, zeroPoint: -128 };

const same = (i8Version: QuantOp['i8Version'], derive: Derive = 'outputFromInput', extra: Partial<QuantOp> = {}): QuantOp => ({
  toco: true,
  derive,
  i8Out: 'same',
  i8Version,
  ...extra,
});

export const QUANT_OPS: Record<string, QuantOp> = {
  CONV_2D: { toco: true, affine: 'conv', i8Version: 3 },
  DEPTHWISE_CONV_2D: { toco: true, affine: 'depthwise', u8Version: (c) => (c.dilated ? 2 : 1), i8Version: 3 },
  FULLY_CONNECTED: { toco: true, affine: 'fc', i8Version: (c) => (c.noBias ? 6 : c.keepNumDims ? 5 : 4) },
  ADD: { toco: true, i8Version: 2 },
  SUB: { toco: true, i8Version: 2 },
  MUL: { toco: true, u8Version: (c) => (c.mulRatioAtLeastOne ? 3 : 1), i8Version: (c) => (c.mulRatioAtLeastOne ? 3 : 2) },
  AVERAGE_POOL_2D: same(2, 'pool'),
  MAX_POOL_2D: same(2, 'pool'),
  SOFTMAX: { toco: true, u8Out: SOFTMAX_U8, i8Out: SOFTMAX_I8, i8Version: 2 },
  LOGISTIC: { toco: true, u8Out: SOFTMAX_U8, i8Out: SOFTMAX_I8, i8Version: 2 },
  TANH: { toco: true, u8Out: { scale: 1 / 128, zeroPoint: 128 }, i8Out: { scale: 1 / 128, zeroPoint: 0 }, i8Version: 2 },
  L2_NORMALIZATION: { toco: true, u8Out: { scale: 1 / 128, zeroPoint: 128 }, i8Out: { scale: 1 / 128, zeroPoint: 0 }, i8Version: 2 },
  LOG_SOFTMAX: { toco: true, u8Out: { scale: 16 / 256, zeroPoint: 255 }, i8Out: { scale: 16 / 256, zeroPoint: 127 }, i8Version: 2 },
  // TOCO copies the input's params to Relu outputs; int8 kernels rescale, so their output is free.
  RELU: { toco: true, derive: 'inputFromOutput', u8Out: 'copy', i8Version: 2 },
  RELU6: { toco: true, derive: 'inputFromOutput', u8Out: 'copy', i8Version: 2 },
  RELU_N1_TO_1: { toco: true, derive: 'inputFromOutput', u8Out: 'copy', i8Version: 1 },
  PRELU: { toco: true, u8Out: 'copy', i8Version: 1 },
  MINIMUM: { toco: true, i8Out: 'same', i8SameInputs: true, i8Version: 2 },
  MAXIMUM: { toco: true, i8Out: 'same', i8SameInputs: true, i8Version: 2 },
  RESHAPE: same(1, 'reshape', { u8Out: 'copy' }),
  SQUEEZE: same(1),
  EXPAND_DIMS: same(1),
  CONCATENATION: same(2, 'concat', { i8SameInputs: true }),
  RESIZE_BILINEAR: same((c) => (c.halfPixelCenters ? 3 : 2)),
  RESIZE_NEAREST_NEIGHBOR: same((c) => (c.halfPixelCenters ? 3 : 2)),
  PAD: same(2),
  PADV2: same(2),
  MIRROR_PAD: { toco: false, derive: 'outputFromInput', i8Out: 'same', i8Version: 2 },
  STRIDED_SLICE: same((c) => (c.ellipsisOrNewAxis ? 6 : 2)),
  SLICE: same(2),
  GATHER: same(2),
  TRANSPOSE: same(2),
  SPACE_TO_BATCH_ND: same(2),
  BATCH_TO_SPACE_ND: same(2),
  SPACE_TO_DEPTH: same(2, 'outputFromInput', { u8Out: 'copy' }),
  DEPTH_TO_SPACE: same(2, 'outputFromInput', { u8Out: 'copy' }),
  SPLIT: same(2, 'outputFromInput', { data: 1, u8Out: 'copy' }),
  SPLIT_V: same(2),
  PACK: same(2, 'packIfEqual', { u8Version: () => 1 }),
  UNPACK: same(2, 'outputFromInput', { u8Version: () => 2 }),
  REDUCE_MAX: same(2),
  REDUCE_MIN: same(2),
  // Mean and Sum rescale internally: free output params for int8; TOCO still derives from the input.
  MEAN: { toco: true, derive: 'outputFromInput', i8Version: 2 },
  SUM: { toco: true, derive: 'outputFromInput', i8Version: 2 },
  ARG_MAX: { toco: true, i8Version: 2 },
  LEAKY_RELU: { toco: true, i8Version: 2 },
  HARD_SWISH: { toco: true, i8Version: 1 },
  // Not in TOCO 1.15's quantizable set; int8 kernels with free output params today (instance norm).
  SQUARED_DIFFERENCE: { toco: false, i8Version: 2 },
  RSQRT: { toco: false, i8Version: 2 },
  SHAPE: { toco: true, i8Version: 1 },
};

/** Names of ops TOCO 1.15 quantizes; anything else is TOCO's "Unimplemented" error for uint8. */
export function quantOp(builtin: string): QuantOp | undefined {
  return QUANT_OPS[builtin];
}
