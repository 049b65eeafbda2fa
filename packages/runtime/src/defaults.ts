/**
 * TF op-def defaults that tfjs-converter does not fill in itself. Old GraphDefs (written before
 * an attr existed, e.g. `dilations` before TF 1.5) omit them and tfjs would read undefined.
 */
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const ints = (...i: number[]) => ({ list: { i: i.map(String) } });
const str = (s: string) => ({ s: b64(s) });
const bool = (b: boolean) => ({ b });

const CONV = { dilations: ints(1, 1, 1, 1), data_format: str('NHWC') };
const DEFAULTS: Record<string, Record<string, unknown>> = {
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

const NCHW_ADAPTED = new Set(['Conv2D', 'DepthwiseConv2dNative', 'BiasAdd', 'MaxPool', 'AvgPool']);
const NCHW = b64('NCHW');

/**
 * Prepare a topology (proto3-JSON) for tfjs-converter, in place: add missing default attrs,
 * drop Placeholder shapes (checked by the executor), and route NCHW nodes of ops tfjs handles
 * only in NHWC to tfpass's NCHW kernels.
 */
export function fillDefaults(topology: Record<string, unknown>): void {
  const nodes = (topology['node'] ?? []) as { op: string; attr?: Record<string, unknown> }[];
  for (const n of nodes) {
    if (NCHW_ADAPTED.has(n.op) && (n.attr?.['data_format'] as { s?: string } | undefined)?.s === NCHW) n.op = `_TfpassNCHW_${n.op}`;
    // Placeholder shapes are checked by the executor itself: old graphs write `shape {}` for
    // "unknown", which tfjs would read as a scalar and reject every feed.
    if (n.op.startsWith('Placeholder') && n.attr) delete n.attr['shape'];
    const d = DEFAULTS[n.op];
    if (!d) continue;
    const attr = (n.attr ??= {});
    for (const [k, v] of Object.entries(d)) if (!(k in attr)) attr[k] = v;
  }
}
