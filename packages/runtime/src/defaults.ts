import { TfpassError, attrDefaultJson, attrFromJson, getOpDef } from '@tfpass/core';
import { AttrValueSchema, toJson } from '@tfpass/core/proto';

/**
 * Attrs tfjs-converter reads without defaulting them. Old GraphDefs (written before an attr
 * existed, e.g. `dilations` before TF 1.5) omit them and tfjs would read undefined. The values are
 * TF's defaults from core's op table; `as` names the TF op behind a tfjs-only op name.
 */
const CONV = ['dilations', 'data_format'];
const FILL: Record<string, { attrs: string[]; as?: string }> = {
  Conv2D: { attrs: CONV },
  DepthwiseConv2dNative: { attrs: CONV },
  DepthwiseConv2D: { attrs: CONV, as: 'DepthwiseConv2dNative' },
  Conv2DBackpropInput: { attrs: CONV },
  _FusedConv2D: { attrs: CONV },
  FusedDepthwiseConv2dNative: { attrs: CONV, as: 'DepthwiseConv2dNative' },
  Conv3D: { attrs: CONV },
  MaxPool: { attrs: ['data_format'] },
  AvgPool: { attrs: ['data_format'] },
  BiasAdd: { attrs: ['data_format'] },
  MatMul: { attrs: ['transpose_a', 'transpose_b'] },
  BatchMatMul: { attrs: ['adj_x', 'adj_y'] },
  BatchMatMulV2: { attrs: ['adj_x', 'adj_y'] },
  ResizeBilinear: { attrs: ['align_corners', 'half_pixel_centers'] },
  ResizeNearestNeighbor: { attrs: ['align_corners', 'half_pixel_centers'] },
  StridedSlice: { attrs: ['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'] },
  Mean: { attrs: ['keep_dims'] },
  Sum: { attrs: ['keep_dims'] },
  Max: { attrs: ['keep_dims'] },
  Min: { attrs: ['keep_dims'] },
  Prod: { attrs: ['keep_dims'] },
  Pack: { attrs: ['axis'] },
  Unpack: { attrs: ['axis'] },
};

/** The filled attrs of one op as proto3-JSON (what the topology holds: base64 `s`, string ints). */
function defaultsOf(op: string): Record<string, unknown> {
  const spec = FILL[op]!;
  const def = getOpDef(spec.as ?? op);
  const out: Record<string, unknown> = {};
  for (const name of spec.attrs) {
    const a = def?.attrs.find((x) => x.name === name);
    const j = a && attrDefaultJson(a);
    // A table without the attr's default is a bug in the table, not in the user's graph.
    if (!j) throw new TfpassError('E_INTERNAL', `op table has no default for ${spec.as ?? op}.${name}`);
    out[name] = toJson(AttrValueSchema, attrFromJson(j));
  }
  return out;
}

let cache: Map<string, Record<string, unknown>> | undefined;

/** The attr defaults fillDefaults adds, per op (computed once from the op table). */
export function runtimeDefaults(): ReadonlyMap<string, Readonly<Record<string, unknown>>> {
  return (cache ??= new Map(Object.keys(FILL).map((op) => [op, defaultsOf(op)])));
}

const NCHW_ADAPTED = new Set(['Conv2D', 'DepthwiseConv2dNative', 'BiasAdd', 'MaxPool', 'AvgPool']);
const NCHW = Buffer.from('NCHW').toString('base64');

/**
 * Prepare a topology (proto3-JSON) for tfjs-converter, in place: add missing default attrs,
 * drop Placeholder shapes (checked by the executor), and route NCHW nodes of ops tfjs handles
 * only in NHWC to tfpass's NCHW kernels.
 */
export function fillDefaults(topology: Record<string, unknown>): void {
  const nodes = (topology['node'] ?? []) as { op: string; attr?: Record<string, unknown> }[];
  const defaults = runtimeDefaults();
  for (const n of nodes) {
    if (NCHW_ADAPTED.has(n.op) && (n.attr?.['data_format'] as { s?: string } | undefined)?.s === NCHW) n.op = `_TfpassNCHW_${n.op}`;
    // Placeholder shapes are checked by the executor itself: old graphs write `shape {}` for
    // "unknown", which tfjs would read as a scalar and reject every feed.
    if (n.op.startsWith('Placeholder') && n.attr) delete n.attr['shape'];
    const d = defaults.get(n.op);
    if (!d) continue;
    const attr = (n.attr ??= {});
    for (const [k, v] of Object.entries(d)) if (!(k in attr)) attr[k] = v;
  }
}
