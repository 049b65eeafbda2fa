import { describe, expect, it } from 'vitest';
import { fillDefaults, runtimeDefaults } from '../src/defaults.js';

// The hand-written proto3-JSON the runtime filled in before the values came from core's op table,
// kept as the expected output: what tfjs-converter reads (base64 `s`, string ints, plain bools).
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const ints = (...i: number[]) => ({ list: { i: i.map(String) } });
const str = (s: string) => ({ s: b64(s) });
const bool = (b: boolean) => ({ b });
const CONV = { dilations: ints(1, 1, 1, 1), data_format: str('NHWC') };
const BEFORE: Record<string, Record<string, unknown>> = {
  Conv2D: CONV,
  DepthwiseConv2dNative: CONV,
  DepthwiseConv2D: CONV,
  Conv2DBackpropInput: CONV,
  _FusedConv2D: CONV,
  FusedDepthwiseConv2dNative: CONV,
  Conv3D: { dilations: ints(1, 1, 1, 1, 1), data_format: str('NDHWC') },
  MaxPool: { data_format: str('NHWC') },
  AvgPool: { data_format: str('NHWC') },
  BiasAdd: { data_format: str('NHWC') },
  MatMul: { transpose_a: bool(false), transpose_b: bool(false) },
  BatchMatMul: { adj_x: bool(false), adj_y: bool(false) },
  BatchMatMulV2: { adj_x: bool(false), adj_y: bool(false) },
  ResizeBilinear: { align_corners: bool(false), half_pixel_centers: bool(false) },
  ResizeNearestNeighbor: { align_corners: bool(false), half_pixel_centers: bool(false) },
  StridedSlice: { begin_mask: { i: '0' }, end_mask: { i: '0' }, ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' }, shrink_axis_mask: { i: '0' } },
  Mean: { keep_dims: bool(false) },
  Sum: { keep_dims: bool(false) },
  Max: { keep_dims: bool(false) },
  Min: { keep_dims: bool(false) },
  Prod: { keep_dims: bool(false) },
  Pack: { axis: { i: '0' } },
  Unpack: { axis: { i: '0' } },
};

describe('fillDefaults', () => {
  it('fills the same proto3-JSON as the hand-written table did, for every op in the list', () => {
    const got = Object.fromEntries(runtimeDefaults());
    expect(Object.keys(got).sort()).toEqual(Object.keys(BEFORE).sort());
    for (const op of Object.keys(BEFORE)) expect(got[op], op).toStrictEqual(BEFORE[op]);
  });

  it('adds only missing attrs, routes NCHW and drops Placeholder shapes as before', () => {
    const topo = {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: {} } } },
        { name: 'c', op: 'Conv2D', attr: { data_format: str('NCHW') } },
        { name: 'm', op: 'MatMul', attr: { transpose_b: bool(true) } },
        { name: 'r', op: 'Relu' },
      ],
    };
    fillDefaults(topo);
    const [x, c, m, r] = topo.node as { op: string; attr?: Record<string, unknown> }[];
    expect(x!.attr).toEqual({ dtype: { type: 'DT_FLOAT' } });
    expect(c!.op).toBe('_TfpassNCHW_Conv2D');
    expect(c!.attr).toEqual({ data_format: str('NCHW') });
    expect(m!.attr).toEqual({ transpose_a: bool(false), transpose_b: bool(true) });
    expect(r!.attr).toBeUndefined();
  });
});
