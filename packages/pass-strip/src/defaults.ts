import type { AttrJson, Graph, PassContext, PassDefinition, PluginApi } from '@tfpass/core';

type Lib = PluginApi['lib'];

type Defaults = Record<string, AttrJson>;

const nhwc: AttrJson = { s: 'NHWC' };
const EMPTY: Record<string, Defaults> = {};
const conv: Defaults = { data_format: nhwc, dilations: { list: { i: [1, 1, 1, 1] } } };

// Ops with no attr defaults (so they are known, not "unknown").
for (const op of ('Const Identity IdentityN Add AddV2 AddN Mul Sub RealDiv Div Relu Relu6 Rsqrt Sqrt Square Sigmoid Tanh Minimum Maximum Softmax ' +
  'NoOp Switch Merge Exit NextIteration LoopCond Less Greater Equal Split ExpandDims Slice Tile Pad MirrorPad Neg Exp Log Abs ' +
  'TensorArrayReadV3 TensorArrayWriteV3 TensorArrayScatterV3 TensorArraySizeV3 StopGradient CheckNumerics Snapshot PlaceholderWithDefault').split(' ')) {
  EMPTY[op] = {};
}

/**
 * TF 1.15 attr defaults of common ops, used when core's op table does not know an op (or is
 * missing in an older core). Values follow TensorFlow's op registrations.
 */
export const FALLBACK_DEFAULTS: Record<string, Defaults> = {
  ...EMPTY,
  LRN: { depth_radius: { i: 5 }, bias: { f: 1 }, alpha: { f: 1 }, beta: { f: 0.5 }, T: { type: 'float32' } },
  Conv2D: { ...conv, use_cudnn_on_gpu: { b: true } },
  DepthwiseConv2dNative: { ...conv },
  BiasAdd: { data_format: nhwc },
  AvgPool: { data_format: nhwc },
  MaxPool: { data_format: nhwc },
  MatMul: { transpose_a: { b: false }, transpose_b: { b: false } },
  BatchMatMul: { adj_x: { b: false }, adj_y: { b: false } },
  FusedBatchNorm: { epsilon: { f: 0.0001 }, data_format: nhwc, is_training: { b: true } },
  FusedBatchNormV3: { epsilon: { f: 0.0001 }, data_format: nhwc, is_training: { b: true } },
  Squeeze: { squeeze_dims: { list: {} } },
  Sum: { keep_dims: { b: false }, Tidx: { type: 'int32' } },
  Mean: { keep_dims: { b: false }, Tidx: { type: 'int32' } },
  Max: { keep_dims: { b: false }, Tidx: { type: 'int32' } },
  Min: { keep_dims: { b: false }, Tidx: { type: 'int32' } },
  Prod: { keep_dims: { b: false }, Tidx: { type: 'int32' } },
  ConcatV2: { Tidx: { type: 'int32' } },
  Reshape: { Tshape: { type: 'int32' } },
  Transpose: { Tperm: { type: 'int32' } },
  Range: { Tidx: { type: 'int32' } },
  Fill: { index_type: { type: 'int32' } },
  Shape: { out_type: { type: 'int32' } },
  Pack: { axis: { i: 0 } },
  Unpack: { axis: { i: 0 } },
  Softmax: {},
  StridedSlice: { begin_mask: { i: 0 }, end_mask: { i: 0 }, ellipsis_mask: { i: 0 }, new_axis_mask: { i: 0 }, shrink_axis_mask: { i: 0 } },
  FakeQuantWithMinMaxVars: { num_bits: { i: 8 }, narrow_range: { b: false } },
  FakeQuantWithMinMaxVarsPerChannel: { num_bits: { i: 8 }, narrow_range: { b: false } },
  FakeQuantWithMinMaxArgs: { min: { f: -6 }, max: { f: 6 }, num_bits: { i: 8 }, narrow_range: { b: false } },
  DecodeWav: { desired_channels: { i: -1 }, desired_samples: { i: -1 } },
  AudioSpectrogram: { magnitude_squared: { b: false } },
  Mfcc: { upper_frequency_limit: { f: 4000 }, lower_frequency_limit: { f: 20 }, filterbank_channel_count: { i: 40 }, dct_coefficient_count: { i: 13 } },
  Placeholder: { shape: { shape: null } },
  Enter: { is_constant: { b: false }, parallel_iterations: { i: 10 } },
  TensorArrayV3: { element_shape: { shape: null }, dynamic_size: { b: false }, clear_after_read: { b: true }, identical_element_shapes: { b: false }, tensor_array_name: { s: '' } },
  TensorArrayGatherV3: { element_shape: { shape: null } },
  TensorArrayConcatV3: { element_shape_except0: { shape: null } },
  ArgMax: { Tidx: { type: 'int32' }, output_type: { type: 'int64' } },
  ResizeBilinear: { align_corners: { b: false } },
  ResizeNearestNeighbor: { align_corners: { b: false } },
  QuantizeV2: { mode: { s: 'MIN_COMBINED' }, round_mode: { s: 'HALF_AWAY_FROM_ZERO' } },
  Dequantize: { mode: { s: 'MIN_COMBINED' } },
  Print: { message: { s: '' }, first_n: { i: -1 }, summarize: { i: 3 } },
};

/** Core's op table (TF 1.15 defaults unless asked for a later release), else the fallback above. */
export function defaultsLookup(lib: Lib, tfVersion: string): { source: string; get(op: string): Defaults | undefined } {
  if (typeof lib.defaultAttrs === 'function') {
    return { source: 'op table', get: (op) => lib.defaultAttrs(op, { tfVersion }) ?? FALLBACK_DEFAULTS[op] };
  }
  return { source: 'built-in table', get: (op) => FALLBACK_DEFAULTS[op] };
}

export function addDefaultAttributes(lib: Lib): PassDefinition {
  return {
    name: 'add_default_attributes',
    summary: 'Write out attributes that nodes leave at their op\'s default',
    description: 'Ops the table does not know (custom ops, _Fused*, TF.js ops) are left as they are and counted in the report; TensorFlow fails on them.',
    params: {
      tf_version: { type: 'string', default: '1.15', description: 'TensorFlow release the graph is for: attrs added after it are not written (a TF 1.15 runtime rejects them)' },
    },
    example: 'add_default_attributes(tf_version=1.15)',
    run(graph: Graph, ctx: PassContext<{ tf_version: string }>) {
      if (!/^\d+\.\d+(\.\d+)?$/.test(ctx.params.tf_version)) throw new lib.ParamError('add_default_attributes', 'tf_version', `expected a release like 1.15 or 2.4, got '${ctx.params.tf_version}'`);
      const table = defaultsLookup(lib, ctx.params.tf_version);
      const unknown = new Set<string>();
      for (const n of graph) {
        const d = table.get(n.op);
        if (!d) {
          unknown.add(n.op);
          continue;
        }
        for (const [k, v] of Object.entries(d)) {
          if (n.attrs.has(k)) continue;
          n.attrs.setJson(k, v);
          ctx.count('added');
        }
      }
      if (unknown.size) ctx.note(`no defaults known for ${[...unknown].sort().join(', ')} (${table.source}); those nodes are unchanged`);
    },
  };
}
