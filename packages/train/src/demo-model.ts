/**
 * A small BiSeNetV2-style segmentation network built in code, for the demo and tests:
 * a detail branch (strided convs), a semantic branch (depthwise separable convs and one
 * instance norm written the way the seed's `_instance_norm` writes it), an aggregation Add,
 * a 1x1 head, bilinear upsampling and ArgMax. Batch norms are FusedBatchNorm(is_training=false);
 * an Identity and a CheckNumerics are left in, as exported training graphs have them.
 */
import { Graph, Tensor } from '@tfpass/core';

export interface DemoModelOptions {
  seed?: number;
  /** Input height = width. */
  size?: number;
  classes?: number;
  batch?: number;
}

export const DEMO_INPUT = 'input_image';
export const DEMO_OUTPUT = 'pred';
export const DEMO_LOGITS = 'head/logits';

/** Mulberry32: small, fast, seedable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export function buildDemoModel(opts: DemoModelOptions = {}): Graph {
  const r = rng(opts.seed ?? 1);
  const size = opts.size ?? 32;
  const classes = opts.classes ?? 4;
  const g = new Graph();
  const f32 = { type: 'float32' as const };
  const konst = (name: string, shape: number[], fill: () => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = fill();
    g.addNode({ name, op: 'Const', attrs: { dtype: f32, value: { tensor: new Tensor('float32', shape, v) } } });
    return name;
  };
  const intConst = (name: string, shape: number[], vals: number[]) => {
    g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', shape, vals) } } });
    return name;
  };
  const he = (fanIn: number) => () => gaussian(r) * Math.sqrt(2 / fanIn);
  const conv = (scope: string, x: string, k: number, cin: number, cout: number, stride: number) => {
    const w = konst(`${scope}/weights`, [k, k, cin, cout], he(k * k * cin));
    g.addNode({
      name: `${scope}/Conv2D`, op: 'Conv2D', inputs: [x, w],
      attrs: { T: f32, strides: { list: { i: [1, stride, stride, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' }, dilations: { list: { i: [1, 1, 1, 1] } }, use_cudnn_on_gpu: { b: true } },
    });
    return `${scope}/Conv2D`;
  };
  const dwconv = (scope: string, x: string, k: number, c: number, stride: number) => {
    const w = konst(`${scope}/depthwise_weights`, [k, k, c, 1], he(k * k));
    g.addNode({
      name: `${scope}/depthwise`, op: 'DepthwiseConv2dNative', inputs: [x, w],
      attrs: { T: f32, strides: { list: { i: [1, stride, stride, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' }, dilations: { list: { i: [1, 1, 1, 1] } } },
    });
    return `${scope}/depthwise`;
  };
  const bn = (scope: string, x: string, c: number) => {
    const gamma = konst(`${scope}/BatchNorm/gamma`, [c], () => 1 + 0.2 * gaussian(r));
    const beta = konst(`${scope}/BatchNorm/beta`, [c], () => 0.1 * gaussian(r));
    const mean = konst(`${scope}/BatchNorm/moving_mean`, [c], () => 0.1 * gaussian(r));
    const variance = konst(`${scope}/BatchNorm/moving_variance`, [c], () => 0.5 + r());
    g.addNode({
      name: `${scope}/BatchNorm/FusedBatchNormV3`, op: 'FusedBatchNormV3', inputs: [x, gamma, beta, mean, variance],
      attrs: { T: f32, U: f32, epsilon: { f: 0.001 }, is_training: { b: false }, data_format: { s: 'NHWC' }, exponential_avg_factor: { f: 1 } },
    });
    return `${scope}/BatchNorm/FusedBatchNormV3`;
  };
  const act = (op: 'Relu' | 'Relu6', x: string, name: string) => {
    g.addNode({ name, op, inputs: [x], attrs: { T: f32 } });
    return name;
  };
  const cbr = (scope: string, x: string, k: number, cin: number, cout: number, stride: number, a: 'Relu' | 'Relu6' = 'Relu') =>
    act(a, bn(scope, conv(scope, x, k, cin, cout, stride), cout), `${scope}/${a}`);

  g.addNode({ name: DEMO_INPUT, op: 'Placeholder', attrs: { dtype: f32, shape: { shape: [opts.batch ?? -1, size, size, 3] } } });
  g.addNode({ name: 'input/Identity', op: 'Identity', inputs: [DEMO_INPUT], attrs: { T: f32 } });

  // Detail branch: 1/2 resolution, wide.
  let d = cbr('detail/conv1', 'input/Identity', 3, 3, 16, 2);
  d = cbr('detail/conv2', d, 3, 16, 16, 1);

  // Semantic branch: stem, depthwise separable block, pointwise + bias, instance norm.
  let s = cbr('semantic/stem', 'input/Identity', 3, 3, 16, 2, 'Relu6');
  s = act('Relu6', bn('semantic/dw1', dwconv('semantic/dw1', s, 3, 16, 1), 16), 'semantic/dw1/Relu6');
  const pw = conv('semantic/pw1', s, 1, 16, 16, 1);
  g.addNode({ name: 'semantic/pw1/BiasAdd', op: 'BiasAdd', inputs: [pw, konst('semantic/pw1/biases', [16], () => 0.05 * gaussian(r))], attrs: { T: f32, data_format: { s: 'NHWC' } } });
  // The seed's _instance_norm: mu, var = moments(x, [1, 2], keep_dims=True); (x - mu) / sqrt(var + eps)
  const inx = 'semantic/pw1/BiasAdd';
  const axes = intConst('semantic/instance_norm/moments/axes', [2], [1, 2]);
  g.addNode({ name: 'semantic/instance_norm/moments/mean', op: 'Mean', inputs: [inx, axes], attrs: { T: f32, Tidx: { type: 'int32' }, keep_dims: { b: true } } });
  g.addNode({ name: 'semantic/instance_norm/moments/SquaredDifference', op: 'SquaredDifference', inputs: [inx, 'semantic/instance_norm/moments/mean'], attrs: { T: f32 } });
  g.addNode({ name: 'semantic/instance_norm/moments/variance', op: 'Mean', inputs: ['semantic/instance_norm/moments/SquaredDifference', axes], attrs: { T: f32, Tidx: { type: 'int32' }, keep_dims: { b: true } } });
  g.addNode({ name: 'semantic/instance_norm/sub', op: 'Sub', inputs: [inx, 'semantic/instance_norm/moments/mean'], attrs: { T: f32 } });
  konst('semantic/instance_norm/epsilon', [], () => 1e-3);
  g.addNode({ name: 'semantic/instance_norm/add', op: 'AddV2', inputs: ['semantic/instance_norm/moments/variance', 'semantic/instance_norm/epsilon'], attrs: { T: f32 } });
  g.addNode({ name: 'semantic/instance_norm/Sqrt', op: 'Sqrt', inputs: ['semantic/instance_norm/add'], attrs: { T: f32 } });
  g.addNode({ name: 'semantic/instance_norm/truediv', op: 'RealDiv', inputs: ['semantic/instance_norm/sub', 'semantic/instance_norm/Sqrt'], attrs: { T: f32 } });
  s = act('Relu', 'semantic/instance_norm/truediv', 'semantic/Relu');

  // Aggregation and head.
  g.addNode({ name: 'aggregation/add', op: 'AddV2', inputs: [d, s], attrs: { T: f32 } });
  const agg = act('Relu', 'aggregation/add', 'aggregation/Relu');
  const hc = conv('head', agg, 1, 16, classes, 1);
  g.addNode({ name: 'head/BiasAdd', op: 'BiasAdd', inputs: [hc, konst('head/biases', [classes], () => 0.05 * gaussian(r))], attrs: { T: f32, data_format: { s: 'NHWC' } } });
  g.addNode({ name: 'head/CheckNumerics', op: 'CheckNumerics', inputs: ['head/BiasAdd'], attrs: { T: f32, message: { s: 'head logits are not finite' } } });
  g.addNode({ name: DEMO_LOGITS, op: 'ResizeBilinear', inputs: ['head/CheckNumerics', intConst('head/size', [2], [size, size])], attrs: { T: f32, align_corners: { b: false }, half_pixel_centers: { b: true } } });
  g.addNode({ name: DEMO_OUTPUT, op: 'ArgMax', inputs: [DEMO_LOGITS, intConst('pred/dimension', [], [3])], attrs: { T: f32, Tidx: { type: 'int32' }, output_type: { type: 'int32' } } });
  g.validate();
  return g;
}
