import { defineOp, type OpSpec } from './registry.js';
import * as S from './shape-fns.js';
import type { OpDef } from './types.js';

// The op table: TF op signatures, attrs with their TF 1.15 defaults (later attrs tagged `@ver`),
// statefulness and a shape function per op. Notation: see registry.ts.

const T = 'T:type';
const unaryOp = (f?: (x: number) => number, attrs = T): OpSpec => ({ sig: 'x:T -> y:T', attrs, shape: S.unary(f) });
const binOp = (f?: (x: number, y: number) => number): OpSpec => ({ sig: 'x:T, y:T -> z:T', attrs: T, shape: S.binary(f) });
const cmpOp = (f: (x: number, y: number) => boolean, extra = ''): OpSpec => ({
  sig: 'x:T, y:T -> z:bool', attrs: T + extra, shape: S.binary((a, b) => (f(a, b) ? 1 : 0)),
});
const activation = (extra = ''): OpSpec => ({ sig: 'features:T -> activations:T', attrs: T + extra, shape: S.unchangedNoValue });
const gradOp = (a: string, b: string, out: string, extra = ''): OpSpec => ({ sig: `${a}:T, ${b}:T -> ${out}:T`, attrs: T + extra, shape: S.unchangedNoValue });
const reduceOp = (f?: (a: number, b: number) => number): OpSpec => ({
  sig: 'input:T, reduction_indices:Tidx -> output:T', attrs: 'keep_dims:bool=false; T:type; Tidx:type=int32', shape: S.reduce(f),
});
const boolReduce: OpSpec = { sig: 'input:bool, reduction_indices:Tidx -> output:bool', attrs: 'keep_dims:bool=false; Tidx:type=int32', shape: S.reduce() };

const CONV_ATTRS = 'T:type; strides:list(int); use_cudnn_on_gpu:bool=true; padding:string; explicit_paddings:list(int)=[]; data_format:string="NHWC"; dilations:list(int)=[1,1,1,1]';
const DW_ATTRS = 'T:type; strides:list(int); padding:string; explicit_paddings:list(int)=[]@2.2; data_format:string="NHWC"; dilations:list(int)=[1,1,1,1]';
const POOL_ATTRS = 'ksize:list(int); strides:list(int); padding:string; data_format:string="NHWC"';
const FBN_ATTRS = 'epsilon:float=0.0001; exponential_avg_factor:float=1@2.2; data_format:string="NHWC"; is_training:bool=true';
const FQ_ARGS = 'min:float=-6; max:float=6; num_bits:int=8; narrow_range:bool=false';
const FQ_VARS = 'num_bits:int=8; narrow_range:bool=false';
const RANDOM = 'seed:int=0; seed2:int=0; dtype:type; T:type';
const TA_FLOW = 'handle:resource, flow_in:float';

const SPECS: Record<string, OpSpec> = {
  // ---- sources, variables, identity-like ----
  Const: { sig: ' -> output:dtype', attrs: 'value:tensor; dtype:type', shape: S.constShape },
  Placeholder: { sig: ' -> output:dtype', attrs: 'dtype:type; shape:shape=null', shape: S.placeholder },
  PlaceholderWithDefault: { sig: 'input:dtype -> output:dtype', attrs: 'dtype:type; shape:shape', shape: S.shapeFromAttr('shape') },
  VariableV2: { sig: ' -> ref:&dtype', attrs: 'shape:shape; dtype:type; container:string=""; shared_name:string=""', shape: S.shapeFromAttr('shape'), stateful: true },
  Variable: { sig: ' -> ref:&dtype', attrs: 'shape:shape; dtype:type; container:string=""; shared_name:string=""', shape: S.shapeFromAttr('shape'), stateful: true },
  VarHandleOp: { sig: ' -> resource:resource', attrs: 'container:string=""; shared_name:string=""; dtype:type; shape:shape; allowed_devices:list(string)=[]@2.3', shape: S.scalar, stateful: true },
  ReadVariableOp: { sig: 'resource:resource -> value:dtype', attrs: 'dtype:type', shape: S.readVariable, stateful: true },
  AssignVariableOp: { sig: 'resource:resource, value:dtype -> ', attrs: 'dtype:type; validate_shape:bool=false@2.11', shape: S.noOutputs, stateful: true },
  AssignAddVariableOp: { sig: 'resource:resource, value:dtype -> ', attrs: 'dtype:type', shape: S.noOutputs, stateful: true },
  AssignSubVariableOp: { sig: 'resource:resource, value:dtype -> ', attrs: 'dtype:type', shape: S.noOutputs, stateful: true },
  VarIsInitializedOp: { sig: 'resource:resource -> is_initialized:bool', attrs: '', shape: S.scalar, stateful: true },
  IsVariableInitialized: { sig: 'ref:&dtype -> is_initialized:bool', attrs: 'dtype:type', shape: S.scalar },
  Assign: { sig: 'ref:&T, value:T -> output_ref:&T', attrs: 'T:type; validate_shape:bool=true; use_locking:bool=true', shape: S.unchangedNoValue },
  AssignAdd: { sig: 'ref:&T, value:T -> output_ref:&T', attrs: 'T:type; use_locking:bool=false', shape: S.unchangedNoValue },
  AssignSub: { sig: 'ref:&T, value:T -> output_ref:&T', attrs: 'T:type; use_locking:bool=false', shape: S.unchangedNoValue },
  Identity: { sig: 'input:T -> output:T', attrs: T, shape: S.unchanged },
  IdentityN: { sig: 'input:T -> output:T', attrs: 'T:list(type)', shape: S.identityN },
  Snapshot: { sig: 'input:T -> output:T', attrs: T, shape: S.unchanged },
  StopGradient: { sig: 'input:T -> output:T', attrs: T, shape: S.unchanged },
  PreventGradient: { sig: 'input:T -> output:T', attrs: 'T:type; message:string=""', shape: S.unchanged },
  CheckNumerics: { sig: 'tensor:T -> output:T', attrs: 'T:type; message:string', shape: S.unchanged },
  Print: { sig: 'input:T, data:U -> output:T', attrs: 'T:type; U:list(type); message:string=""; first_n:int=-1; summarize:int=3', shape: S.unchanged, stateful: true },
  Assert: { sig: 'condition:bool, data:T -> ', attrs: 'T:list(type); summarize:int=3', shape: S.noOutputs, stateful: true },
  NoOp: { sig: ' -> ', shape: S.noOutputs },

  // ---- elementwise binary ----
  Add: binOp((a, b) => a + b),
  AddV2: binOp((a, b) => a + b),
  Sub: binOp((a, b) => a - b),
  Mul: binOp((a, b) => a * b),
  Div: binOp((a, b) => a / b),
  RealDiv: binOp((a, b) => a / b),
  DivNoNan: binOp((a, b) => (b === 0 ? 0 : a / b)),
  FloorDiv: binOp((a, b) => Math.floor(a / b)),
  FloorMod: binOp((a, b) => a - Math.floor(a / b) * b),
  TruncateDiv: binOp((a, b) => Math.trunc(a / b)),
  Mod: binOp((a, b) => a % b),
  Maximum: binOp(Math.max),
  Minimum: binOp(Math.min),
  Pow: binOp((a, b) => a ** b),
  SquaredDifference: binOp((a, b) => (a - b) ** 2),
  Less: cmpOp((a, b) => a < b),
  LessEqual: cmpOp((a, b) => a <= b),
  Greater: cmpOp((a, b) => a > b),
  GreaterEqual: cmpOp((a, b) => a >= b),
  Equal: cmpOp((a, b) => a === b, '; incompatible_shape_error:bool=true'),
  NotEqual: cmpOp((a, b) => a !== b, '; incompatible_shape_error:bool=true'),
  LogicalAnd: { sig: 'x:bool, y:bool -> z:bool', shape: S.binary((a, b) => (a && b ? 1 : 0)) },
  LogicalOr: { sig: 'x:bool, y:bool -> z:bool', shape: S.binary((a, b) => (a || b ? 1 : 0)) },
  LogicalNot: { sig: 'x:bool -> y:bool', shape: S.unary((a) => (a ? 0 : 1)) },
  AddN: { sig: 'inputs:N*T -> sum:T', attrs: 'N:int; T:type', shape: S.mergeInputs },
  BiasAdd: { sig: 'value:T, bias:T -> output:T', attrs: 'T:type; data_format:string="NHWC"', shape: S.biasAdd },
  BiasAddV1: { sig: 'value:T, bias:T -> output:T', attrs: T, shape: S.biasAdd },
  Select: { sig: 'condition:bool, t:T, e:T -> output:T', attrs: T, shape: S.select },
  SelectV2: { sig: 'condition:bool, t:T, e:T -> output:T', attrs: T, shape: S.selectV2 },
  ClipByValue: { sig: 't:T, clip_value_min:T, clip_value_max:T -> output:T', attrs: T, shape: S.unchangedNoValue },

  // ---- elementwise unary ----
  Abs: unaryOp(Math.abs),
  Neg: unaryOp((a) => -a),
  Exp: unaryOp(Math.exp),
  Log: unaryOp(Math.log),
  Log1p: unaryOp(Math.log1p),
  Sqrt: unaryOp(Math.sqrt),
  Rsqrt: unaryOp((a) => 1 / Math.sqrt(a)),
  Square: unaryOp((a) => a * a),
  Reciprocal: unaryOp((a) => 1 / a),
  Inv: unaryOp((a) => 1 / a),
  Sign: unaryOp(Math.sign),
  Floor: unaryOp(Math.floor),
  Ceil: unaryOp(Math.ceil),
  Round: unaryOp(),
  Sigmoid: unaryOp(),
  Tanh: unaryOp(),
  Erf: unaryOp(),
  Sin: unaryOp(),
  Cos: unaryOp(),
  Relu: activation(),
  Relu6: activation(),
  Elu: activation(),
  Selu: activation(),
  Softplus: activation(),
  Softsign: activation(),
  LeakyRelu: { sig: 'features:T -> activations:T', attrs: 'alpha:float=0.2; T:type=float32', shape: S.unchangedNoValue },
  Softmax: { sig: 'logits:T -> softmax:T', attrs: T, shape: S.unchangedNoValue },
  LogSoftmax: { sig: 'logits:T -> logsoftmax:T', attrs: T, shape: S.unchangedNoValue },
  ZerosLike: { sig: 'x:T -> y:T', attrs: T, shape: (c) => [{ shape: c.inputs[0]?.shape ?? null, value: c.inputs[0]?.value?.map(() => 0) }] },
  OnesLike: { sig: 'x:T -> y:T', attrs: T, shape: (c) => [{ shape: c.inputs[0]?.shape ?? null, value: c.inputs[0]?.value?.map(() => 1) }] },
  Cast: { sig: 'x:SrcT -> y:DstT', attrs: 'SrcT:type; DstT:type; Truncate:bool=false', shape: S.cast },
  L2Loss: { sig: 't:T -> output:T', attrs: T, shape: S.scalar },
  LRN: { sig: 'input:T -> output:T', attrs: 'depth_radius:int=5; bias:float=1; alpha:float=1; beta:float=0.5; T:type=float32', shape: S.lrn },

  // ---- gradients (training graphs) ----
  TanhGrad: gradOp('y', 'dy', 'z'),
  SigmoidGrad: gradOp('y', 'dy', 'z'),
  RsqrtGrad: gradOp('y', 'dy', 'z'),
  SqrtGrad: gradOp('y', 'dy', 'z'),
  ReciprocalGrad: gradOp('y', 'dy', 'z'),
  ReluGrad: gradOp('gradients', 'features', 'backprops'),
  Relu6Grad: gradOp('gradients', 'features', 'backprops'),
  EluGrad: gradOp('gradients', 'outputs', 'backprops'),
  LeakyReluGrad: { sig: 'gradients:T, features:T -> backprops:T', attrs: 'alpha:float=0.2; T:type=float32', shape: S.unchangedNoValue },
  BiasAddGrad: { sig: 'out_backprop:T -> output:T', attrs: 'T:type; data_format:string="NHWC"', shape: S.biasAddGrad },
  BroadcastGradientArgs: { sig: 's0:T, s1:T -> r0:T, r1:T', attrs: 'T:type=int32', shape: S.broadcastGradientArgs },
  SoftmaxCrossEntropyWithLogits: { sig: 'features:T, labels:T -> loss:T, backprop:T', attrs: T, shape: S.softmaxXent },
  SparseSoftmaxCrossEntropyWithLogits: { sig: 'features:T, labels:Tlabels -> loss:T, backprop:T', attrs: 'T:type; Tlabels:type=int64', shape: S.sparseXent },
  Conv2DBackpropInput: { sig: 'input_sizes:int32, filter:T, out_backprop:T -> output:T', attrs: CONV_ATTRS, shape: S.conv2dBackpropInput },
  Conv2DBackpropFilter: { sig: 'input:T, filter_sizes:int32, out_backprop:T -> output:T', attrs: CONV_ATTRS, shape: S.conv2dBackpropFilter },
  DepthwiseConv2dNativeBackpropInput: { sig: 'input_sizes:int32, filter:T, out_backprop:T -> output:T', attrs: DW_ATTRS, shape: S.conv2dBackpropInput },
  DepthwiseConv2dNativeBackpropFilter: { sig: 'input:T, filter_sizes:int32, out_backprop:T -> output:T', attrs: DW_ATTRS, shape: S.conv2dBackpropFilter },
  MaxPoolGrad: { sig: 'orig_input:T, orig_output:T, grad:T -> output:T', attrs: POOL_ATTRS + '; T:type=float32', shape: S.unchangedNoValue },
  AvgPoolGrad: { sig: 'orig_input_shape:int32, grad:T -> output:T', attrs: POOL_ATTRS + '; T:type', shape: S.fromShapeInput('orig_input_shape') },
  FusedBatchNormGrad: { sig: 'y_backprop:T, x:T, scale:T, reserve_space_1:T, reserve_space_2:T -> x_backprop:T, scale_backprop:T, offset_backprop:T, reserve_space_3:T, reserve_space_4:T', attrs: 'T:type; epsilon:float=0.0001; data_format:string="NHWC"; is_training:bool=true', shape: (c) => [{ shape: c.inputs[1]?.shape ?? null }, { shape: c.inputs[2]?.shape ?? null }, { shape: c.inputs[2]?.shape ?? null }, { shape: [0] }, { shape: [0] }] },
  FusedBatchNormGradV2: { sig: 'y_backprop:T, x:T, scale:float, reserve_space_1:U, reserve_space_2:U -> x_backprop:T, scale_backprop:U, offset_backprop:U, reserve_space_3:U, reserve_space_4:U', attrs: 'T:type; U:type; epsilon:float=0.0001; data_format:string="NHWC"; is_training:bool=true', shape: (c) => [{ shape: c.inputs[1]?.shape ?? null }, { shape: c.inputs[2]?.shape ?? null }, { shape: c.inputs[2]?.shape ?? null }, { shape: [0] }, { shape: [0] }] },
  FusedBatchNormGradV3: { sig: 'y_backprop:T, x:T, scale:float, reserve_space_1:U, reserve_space_2:U, reserve_space_3:U -> x_backprop:T, scale_backprop:U, offset_backprop:U, reserve_space_4:U, reserve_space_5:U', attrs: 'T:type; U:type; epsilon:float=0.0001; data_format:string="NHWC"; is_training:bool=true', shape: (c) => [{ shape: c.inputs[1]?.shape ?? null }, { shape: c.inputs[2]?.shape ?? null }, { shape: c.inputs[2]?.shape ?? null }, { shape: [0] }, { shape: [0] }] },
  FakeQuantWithMinMaxArgsGradient: { sig: 'gradients:float, inputs:float -> backprops:float', attrs: FQ_ARGS, shape: S.unchangedNoValue },
  FakeQuantWithMinMaxVarsGradient: { sig: 'gradients:float, inputs:float, min:float, max:float -> backprops_wrt_input:float, backprop_wrt_min:float, backprop_wrt_max:float', attrs: FQ_VARS, shape: S.fakeQuantGrad },
  FakeQuantWithMinMaxVarsPerChannelGradient: { sig: 'gradients:float, inputs:float, min:float, max:float -> backprops_wrt_input:float, backprop_wrt_min:float, backprop_wrt_max:float', attrs: FQ_VARS, shape: S.fakeQuantGrad },

  // ---- training updates ----
  ApplyGradientDescent: { sig: 'var:&T, alpha:T, delta:T -> out:&T', attrs: 'T:type; use_locking:bool=false', shape: S.unchangedNoValue },
  ApplyMomentum: { sig: 'var:&T, accum:&T, lr:T, grad:T, momentum:T -> out:&T', attrs: 'T:type; use_locking:bool=false; use_nesterov:bool=false', shape: S.unchangedNoValue },
  ApplyAdam: { sig: 'var:&T, m:&T, v:&T, beta1_power:T, beta2_power:T, lr:T, beta1:T, beta2:T, epsilon:T, grad:T -> out:&T', attrs: 'T:type; use_locking:bool=false; use_nesterov:bool=false', shape: S.unchangedNoValue },
  ApplyRMSProp: { sig: 'var:&T, ms:&T, mom:&T, lr:T, rho:T, momentum:T, epsilon:T, grad:T -> out:&T', attrs: 'T:type; use_locking:bool=false', shape: S.unchangedNoValue },

  // ---- matmul / conv / nn ----
  MatMul: { sig: 'a:T, b:T -> product:T', attrs: 'transpose_a:bool=false; transpose_b:bool=false; T:type', shape: S.matMul },
  BatchMatMul: { sig: 'x:T, y:T -> output:T', attrs: 'T:type; adj_x:bool=false; adj_y:bool=false', shape: S.batchMatMul },
  BatchMatMulV2: { sig: 'x:T, y:T -> output:T', attrs: 'T:type; adj_x:bool=false; adj_y:bool=false', shape: S.batchMatMul },
  Conv2D: { sig: 'input:T, filter:T -> output:T', attrs: CONV_ATTRS, shape: S.conv2d },
  DepthwiseConv2dNative: { sig: 'input:T, filter:T -> output:T', attrs: DW_ATTRS, shape: S.depthwiseConv2d },
  MaxPool: { sig: 'input:T -> output:T', attrs: 'T:type=float32; ' + POOL_ATTRS + '; explicit_paddings:list(int)=[]@2.5', shape: S.pool },
  AvgPool: { sig: 'value:T -> output:T', attrs: POOL_ATTRS + '; T:type', shape: S.pool },
  FusedBatchNorm: { sig: 'x:T, scale:T, offset:T, mean:T, variance:T -> y:T, batch_mean:T, batch_variance:T, reserve_space_1:T, reserve_space_2:T', attrs: 'T:type; ' + FBN_ATTRS, shape: S.fusedBatchNorm },
  FusedBatchNormV2: { sig: 'x:T, scale:U, offset:U, mean:U, variance:U -> y:T, batch_mean:U, batch_variance:U, reserve_space_1:U, reserve_space_2:U', attrs: 'T:type; U:type; ' + FBN_ATTRS, shape: S.fusedBatchNorm },
  FusedBatchNormV3: { sig: 'x:T, scale:U, offset:U, mean:U, variance:U -> y:T, batch_mean:U, batch_variance:U, reserve_space_1:U, reserve_space_2:U, reserve_space_3:U', attrs: 'T:type; U:type; ' + FBN_ATTRS, shape: S.fusedBatchNorm },
  BatchNormWithGlobalNormalization: { sig: 't:T, m:T, v:T, beta:T, gamma:T -> result:T', attrs: 'T:type; variance_epsilon:float; scale_after_normalization:bool', shape: S.batchNormGlobal },
  ResizeBilinear: { sig: 'images:T, size:int32 -> resized_images:float', attrs: 'T:type; align_corners:bool=false; half_pixel_centers:bool=false', shape: S.resize },
  ResizeNearestNeighbor: { sig: 'images:T, size:int32 -> resized_images:T', attrs: 'T:type; align_corners:bool=false; half_pixel_centers:bool=false', shape: S.resize },
  SpaceToBatchND: { sig: 'input:T, block_shape:Tblock_shape, paddings:Tpaddings -> output:T', attrs: 'T:type; Tblock_shape:type=int32; Tpaddings:type=int32', shape: S.spaceToBatchND },
  BatchToSpaceND: { sig: 'input:T, block_shape:Tblock_shape, crops:Tcrops -> output:T', attrs: 'T:type; Tblock_shape:type=int32; Tcrops:type=int32', shape: S.batchToSpaceND },
  DepthToSpace: { sig: 'input:T -> output:T', attrs: 'T:type; block_size:int; data_format:string="NHWC"', shape: S.depthToSpace },
  SpaceToDepth: { sig: 'input:T -> output:T', attrs: 'T:type; block_size:int; data_format:string="NHWC"', shape: S.spaceToDepth },
  TopKV2: { sig: 'input:T, k:int32 -> values:T, indices:int32', attrs: 'sorted:bool=true; T:type', shape: S.topK },

  // ---- reductions ----
  Mean: reduceOp(),
  Sum: reduceOp((a, b) => a + b),
  Max: reduceOp(Math.max),
  Min: reduceOp(Math.min),
  Prod: reduceOp((a, b) => a * b),
  Any: boolReduce,
  All: boolReduce,
  ArgMax: { sig: 'input:T, dimension:Tidx -> output:output_type', attrs: 'T:type; Tidx:type=int32; output_type:type=int64', shape: S.argReduce },
  ArgMin: { sig: 'input:T, dimension:Tidx -> output:output_type', attrs: 'T:type; Tidx:type=int32; output_type:type=int64', shape: S.argReduce },
  Cumsum: { sig: 'x:T, axis:Tidx -> out:T', attrs: 'exclusive:bool=false; reverse:bool=false; T:type; Tidx:type=int32', shape: S.unchangedNoValue },

  // ---- shapes and layout ----
  Shape: { sig: 'input:T -> output:out_type', attrs: 'T:type; out_type:type=int32', shape: S.shapeOf },
  ShapeN: { sig: 'input:N*T -> output:N*out_type', attrs: 'N:int; T:type; out_type:type=int32', shape: S.shapeN },
  Size: { sig: 'input:T -> output:out_type', attrs: 'T:type; out_type:type=int32', shape: S.sizeOf },
  Rank: { sig: 'input:T -> output:int32', attrs: T, shape: S.rankOf },
  Reshape: { sig: 'tensor:T, shape:Tshape -> output:T', attrs: 'T:type; Tshape:type=int32', shape: S.reshape },
  Squeeze: { sig: 'input:T -> output:T', attrs: 'T:type; squeeze_dims:list(int)=[]', shape: S.squeeze },
  ExpandDims: { sig: 'input:T, dim:Tdim -> output:T', attrs: 'T:type; Tdim:type=int32', shape: S.expandDims },
  Transpose: { sig: 'x:T, perm:Tperm -> y:T', attrs: 'T:type; Tperm:type=int32', shape: S.transpose },
  ConcatV2: { sig: 'values:N*T, axis:Tidx -> output:T', attrs: 'N:int; T:type; Tidx:type=int32', shape: S.concatV2 },
  Concat: { sig: 'concat_dim:int32, values:N*T -> output:T', attrs: 'N:int; T:type', shape: S.concat },
  ConcatOffset: { sig: 'concat_dim:int32, shape:N*int32 -> offset:N*int32', attrs: 'N:int', shape: S.concatOffset },
  Pack: { sig: 'values:N*T -> output:T', attrs: 'N:int; T:type; axis:int=0', shape: S.pack },
  Unpack: { sig: 'value:T -> output:num*T', attrs: 'num:int; T:type; axis:int=0', shape: S.unpack },
  Split: { sig: 'split_dim:int32, value:T -> output:num_split*T', attrs: 'num_split:int; T:type', shape: S.split },
  SplitV: { sig: 'value:T, size_splits:Tlen, split_dim:int32 -> output:num_split*T', attrs: 'num_split:int; T:type; Tlen:type=int64', shape: S.splitV },
  Slice: { sig: 'input:T, begin:Index, size:Index -> output:T', attrs: 'T:type; Index:type', shape: S.slice },
  StridedSlice: { sig: 'input:T, begin:Index, end:Index, strides:Index -> output:T', attrs: 'T:type; Index:type; begin_mask:int=0; end_mask:int=0; ellipsis_mask:int=0; new_axis_mask:int=0; shrink_axis_mask:int=0', shape: S.stridedSlice },
  Pad: { sig: 'input:T, paddings:Tpaddings -> output:T', attrs: 'T:type; Tpaddings:type=int32', shape: S.pad },
  PadV2: { sig: 'input:T, paddings:Tpaddings, constant_values:T -> output:T', attrs: 'T:type; Tpaddings:type=int32', shape: S.pad },
  MirrorPad: { sig: 'input:T, paddings:Tpaddings -> output:T', attrs: 'T:type; Tpaddings:type=int32; mode:string', shape: S.pad },
  Tile: { sig: 'input:T, multiples:Tmultiples -> output:T', attrs: 'T:type; Tmultiples:type=int32', shape: S.tile },
  BroadcastTo: { sig: 'input:T, shape:Tidx -> output:T', attrs: 'T:type; Tidx:type=int32', shape: S.fromShapeInput('shape') },
  ReverseV2: { sig: 'tensor:T, axis:Tidx -> output:T', attrs: 'Tidx:type=int32; T:type', shape: S.unchangedNoValue },
  Gather: { sig: 'params:Tparams, indices:Tindices -> output:Tparams', attrs: 'validate_indices:bool=true; Tparams:type; Tindices:type', shape: S.gather },
  GatherV2: { sig: 'params:Tparams, indices:Tindices, axis:Taxis -> output:Tparams', attrs: 'batch_dims:int=0; Tparams:type; Tindices:type; Taxis:type', shape: S.gatherV2 },
  Fill: { sig: 'dims:index_type, value:T -> output:T', attrs: 'T:type; index_type:type=int32', shape: S.fill },
  Range: { sig: 'start:Tidx, limit:Tidx, delta:Tidx -> output:Tidx', attrs: 'Tidx:type=int32', shape: S.range },
  OneHot: { sig: 'indices:TI, depth:int32, on_value:T, off_value:T -> output:T', attrs: 'axis:int=-1; T:type; TI:type=int64', shape: S.oneHot },
  Where: { sig: 'input:T -> index:int64', attrs: 'T:type=bool', shape: S.where },
  DynamicStitch: { sig: 'indices:N*int32, data:N*T -> merged:T', attrs: 'N:int; T:type', shape: S.dynamicStitch },

  // ---- control flow ----
  Switch: { sig: 'data:T, pred:bool -> output_false:T, output_true:T', attrs: T, shape: S.switchFn },
  Merge: { sig: 'inputs:N*T -> output:T, value_index:int32', attrs: 'T:type; N:int', shape: S.merge },
  Enter: { sig: 'data:T -> output:T', attrs: 'T:type; frame_name:string; is_constant:bool=false; parallel_iterations:int=10', shape: S.unchanged },
  Exit: { sig: 'data:T -> output:T', attrs: T, shape: S.unchangedNoValue },
  NextIteration: { sig: 'data:T -> output:T', attrs: T, shape: S.unchangedNoValue },
  LoopCond: { sig: 'input:bool -> output:bool', shape: S.unchangedNoValue },
  TensorArrayV3: { sig: 'size:int32 -> handle:resource, flow:float', attrs: 'dtype:type; element_shape:shape=null; dynamic_size:bool=false; clear_after_read:bool=true; identical_element_shapes:bool=false; tensor_array_name:string=""', shape: S.tensorArrayV3, stateful: true },
  TensorArrayScatterV3: { sig: 'handle:resource, indices:int32, value:T, flow_in:float -> flow_out:float', attrs: T, shape: S.scalar, stateful: true },
  TensorArrayWriteV3: { sig: 'handle:resource, index:int32, value:T, flow_in:float -> flow_out:float', attrs: T, shape: S.scalar, stateful: true },
  TensorArrayReadV3: { sig: 'handle:resource, index:int32, flow_in:float -> value:dtype', attrs: 'dtype:type', shape: S.tensorArrayRead, stateful: true },
  TensorArrayGatherV3: { sig: 'handle:resource, indices:int32, flow_in:float -> value:dtype', attrs: 'dtype:type; element_shape:shape=null', shape: S.tensorArrayGather, stateful: true },
  TensorArraySizeV3: { sig: TA_FLOW + ' -> size:int32', shape: S.scalar, stateful: true },

  // ---- quantization ----
  FakeQuantWithMinMaxArgs: { sig: 'inputs:float -> outputs:float', attrs: FQ_ARGS, shape: S.unchangedNoValue },
  FakeQuantWithMinMaxVars: { sig: 'inputs:float, min:float, max:float -> outputs:float', attrs: FQ_VARS, shape: S.unchangedNoValue },
  FakeQuantWithMinMaxVarsPerChannel: { sig: 'inputs:float, min:float, max:float -> outputs:float', attrs: FQ_VARS, shape: S.unchangedNoValue },
  QuantizeAndDequantizeV2: { sig: 'input:T, input_min:T, input_max:T -> output:T', attrs: 'signed_input:bool=true; num_bits:int=8; range_given:bool=false; T:type; round_mode:string="HALF_TO_EVEN"; narrow_range:bool=false; axis:int=-1', shape: S.unchangedNoValue },
  QuantizeAndDequantizeV3: { sig: 'input:T, input_min:T, input_max:T, num_bits:int32 -> output:T', attrs: 'signed_input:bool=true; range_given:bool=true; T:type; narrow_range:bool=false; axis:int=-1', shape: S.unchangedNoValue },
  QuantizeV2: { sig: 'input:float, min_range:float, max_range:float -> output:T, output_min:float, output_max:float', attrs: 'T:type; mode:string="MIN_COMBINED"; round_mode:string="HALF_AWAY_FROM_ZERO"; narrow_range:bool=false@2.1; axis:int=-1@2.1; ensure_minimum_range:float=0.01@2.2', shape: S.quantizeV2 },
  Dequantize: { sig: 'input:T, min_range:float, max_range:float -> output:dtype', attrs: 'T:type; mode:string="MIN_COMBINED"; narrow_range:bool=false@2.1; axis:int=-1@2.1; dtype:type=float32@2.3', shape: S.unchangedNoValue },
  QuantizedConv2D: { sig: 'input:Tinput, filter:Tfilter, min_input:float, max_input:float, min_filter:float, max_filter:float -> output:out_type, min_output:float, max_output:float', attrs: 'Tinput:type; Tfilter:type; out_type:type=qint32; strides:list(int); padding:string; dilations:list(int)=[1,1,1,1]; padding_list:list(int)=[]@2.1', shape: S.withMinMax(S.conv2d) },
  QuantizedRelu: { sig: 'features:Tinput, min_features:float, max_features:float -> activations:out_type, min_activations:float, max_activations:float', attrs: 'Tinput:type; out_type:type=quint8', shape: S.withMinMax(S.unchangedNoValue) },
  QuantizedRelu6: { sig: 'features:Tinput, min_features:float, max_features:float -> activations:out_type, min_activations:float, max_activations:float', attrs: 'Tinput:type; out_type:type=quint8', shape: S.withMinMax(S.unchangedNoValue) },
  QuantizedReshape: { sig: 'tensor:T, shape:Tshape, input_min:float, input_max:float -> output:T, output_min:float, output_max:float', attrs: 'T:type; Tshape:type=int32', shape: S.withMinMax(S.reshape) },
  QuantizedMatMul: { sig: 'a:T1, b:T2, min_a:float, max_a:float, min_b:float, max_b:float -> out:Toutput, min_out:float, max_out:float', attrs: 'T1:type; T2:type; Toutput:type=qint32; transpose_a:bool=false; transpose_b:bool=false; Tactivation:type=quint8', shape: S.withMinMax(S.matMul) },
  QuantizedBiasAdd: { sig: 'input:T1, bias:T2, min_input:float, max_input:float, min_bias:float, max_bias:float -> output:out_type, min_out:float, max_out:float', attrs: 'T1:type; T2:type; out_type:type', shape: S.withMinMax(S.biasAdd) },
  RequantizationRange: { sig: 'input:Tinput, input_min:float, input_max:float -> output_min:float, output_max:float', attrs: 'Tinput:type', shape: S.scalar },
  Requantize: { sig: 'input:Tinput, input_min:float, input_max:float, requested_output_min:float, requested_output_max:float -> output:out_type, output_min:float, output_max:float', attrs: 'Tinput:type; out_type:type', shape: S.withMinMax(S.unchangedNoValue) },

  // ---- audio ----
  DecodeWav: { sig: 'contents:string -> audio:float, sample_rate:int32', attrs: 'desired_channels:int=-1; desired_samples:int=-1', shape: S.decodeWav },
  AudioSpectrogram: { sig: 'input:float -> spectrogram:float', attrs: 'window_size:int; stride:int; magnitude_squared:bool=false', shape: S.audioSpectrogram },
  Mfcc: { sig: 'spectrogram:float, sample_rate:int32 -> output:float', attrs: 'upper_frequency_limit:float=4000; lower_frequency_limit:float=20; filterbank_channel_count:int=40; dct_coefficient_count:int=13', shape: S.mfcc },
  AudioMicrofrontend: { sig: 'audio:int16 -> filterbanks:out_type', attrs: 'sample_rate:int=16000; window_size:int=25; window_step:int=10; num_channels:int=32; upper_band_limit:float=7500; lower_band_limit:float=125; smoothing_bits:int=10; even_smoothing:float=0.025; odd_smoothing:float=0.06; min_signal_remaining:float=0.05; enable_pcan:bool=false; pcan_strength:float=0.95; pcan_offset:float=80; gain_bits:int=21; enable_log:bool=true; scale_shift:int=6; left_context:int=0; right_context:int=0; frame_stride:int=1; zero_padding:bool=false; out_scale:int=1; out_type:type=uint16', shape: S.audioMicrofrontend },

  // ---- random ----
  RandomUniform: { sig: 'shape:T -> output:dtype', attrs: RANDOM, shape: S.fromShapeInput('shape'), stateful: true },
  RandomStandardNormal: { sig: 'shape:T -> output:dtype', attrs: RANDOM, shape: S.fromShapeInput('shape'), stateful: true },
  TruncatedNormal: { sig: 'shape:T -> output:dtype', attrs: RANDOM, shape: S.fromShapeInput('shape'), stateful: true },
  RandomUniformInt: { sig: 'shape:T, minval:Tout, maxval:Tout -> output:Tout', attrs: 'seed:int=0; seed2:int=0; Tout:type; T:type', shape: S.fromShapeInput('shape'), stateful: true },

  // ---- checkpoints, strings, summaries, parsing ----
  SaveV2: { sig: 'prefix:string, tensor_names:string, shape_and_slices:string, tensors:dtypes -> ', attrs: 'dtypes:list(type)', shape: S.noOutputs, stateful: true },
  RestoreV2: { sig: 'prefix:string, tensor_names:string, shape_and_slices:string -> tensors:dtypes', attrs: 'dtypes:list(type)', shape: S.unknown, stateful: true },
  MergeV2Checkpoints: { sig: 'checkpoint_prefixes:string, destination_prefix:string -> ', attrs: 'delete_old_dirs:bool=true', shape: S.noOutputs, stateful: true },
  ShardedFilename: { sig: 'basename:string, shard:int32, num_shards:int32 -> filename:string', shape: S.scalar },
  StringJoin: { sig: 'inputs:N*string -> output:string', attrs: 'N:int; separator:string=""', shape: S.stringJoin },
  ScalarSummary: { sig: 'tags:string, values:T -> summary:string', attrs: T, shape: S.scalar },
  MergeSummary: { sig: 'inputs:N*string -> summary:string', attrs: 'N:int', shape: S.scalar },
  ParseExample: { sig: 'serialized:string, names:string, sparse_keys:Nsparse*string, dense_keys:Ndense*string, dense_defaults:Tdense -> sparse_indices:Nsparse*int64, sparse_values:sparse_types, sparse_shapes:Nsparse*int64, dense_values:Tdense', attrs: 'Nsparse:int; Ndense:int; sparse_types:list(type); Tdense:list(type); dense_shapes:list(shape)', shape: S.parseExample },
  DenseToDenseSetOperation: { sig: 'set1:T, set2:T -> result_indices:int64, result_values:T, result_shape:int64', attrs: 'set_operation:string; validate_indices:bool=true; T:type', shape: S.setOperation },
};

export const OP_TABLE: readonly OpDef[] = Object.entries(SPECS).map(([name, spec]) => defineOp(name, spec));
