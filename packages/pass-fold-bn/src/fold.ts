import type { Builder, Graph, LinearInfo, Node, PassContext, PassDefinition, PluginApi, Refusal, Rule, RuleContext } from '@tfpass/core';

type Lib = PluginApi['lib'];

const BIAS_OPS = new Set(['BiasAdd', 'Add', 'AddV2']);
const BN_OPS = ['BatchNormWithGlobalNormalization', 'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3'];

/** A foldable linear op, optionally behind a constant bias add or a BatchToSpaceND, read only by the BN-like node. */
type Chain = { info: LinearInfo; bias?: { node: Node; vec: Float32Array }; b2s?: Node };

/** A constant added per channel: Add's broadcasts, BiasAdd's is [C] on its own data_format's channel axis. */
function biasVector(lib: Lib, g: Graph, add: Node, input: string, info: LinearInfo): Float32Array | undefined {
  const t = lib.constTensor(g, input);
  if (!t || add.op !== 'BiasAdd') return t && lib.channelVector(t, info.cols, info.axis, info.rank);
  const sameAxis = info.rank !== 4 || (add.attrs.optString('data_format', 'NHWC') === 'NCHW') === info.nchw;
  return t.dtype === 'float32' && t.rank === 1 && t.size === info.cols && sameAxis ? Float32Array.from(t.toFloat32()) : undefined;
}

/** Walk up from the BN's data input to a foldable linear op. */
function findChain(lib: Lib, cx: RuleContext, x: Node, allowB2S: boolean): Chain | undefined {
  const { graph: g, keep } = cx;
  if (!lib.usedOnlyOnce(g, x, keep)) return undefined;
  if (lib.matchAt(g, x, lib.LINEAR_OPS)) {
    const info = lib.linearInfo(g, x);
    return info && { info };
  }
  const m = lib.matchAt(g, x, `BiasAdd|Add|AddV2(${lib.LINEAR_OPS}! as conv, Const)`, { commutative: true, through: true, keep });
  if (m) {
    const info = lib.linearInfo(g, m.labels.conv!);
    const vec = info && biasVector(lib, g, x, x.dataInputs[m.operands[1]!]!, info);
    return vec && { info: info!, bias: { node: x, vec } };
  }
  const b2s = allowB2S ? lib.matchAt(g, x, 'BatchToSpaceND(Conv2D|DepthwiseConv2dNative! as conv, Const, Const)', { keep }) : undefined;
  const info = b2s && lib.linearInfo(g, b2s.labels.conv!);
  return info && { info, b2s: x };
}

/** `T` and `data_format` of a BiasAdd after the linear op. */
function biasAttrs(info: LinearInfo, defaultT?: 'float32') {
  return { T: info.node.attrs.kind('T') === 'type' ? info.node.attrs.getType('T') : defaultT, data_format: info.nchw ? 'NCHW' : undefined };
}

/** The per-channel offset Const after a linear op. */
const offsetConst = (lib: Lib, b: Builder, info: LinearInfo, v: Float32Array) =>
  b.const(new lib.Tensor('float32', [v.length], v), { name: `${info.node.name}_bn_offset`, device: info.node.device }).name;

/**
 * Fold a per-channel `scale` (and `offset`) into the chain's linear op. The head node keeps its
 * name, so its readers and the pipeline's outputs stay valid.
 */
function applyFold(lib: Lib, g: Graph, b: Builder, head: Node, chain: Chain, scale: Float32Array, offset?: Float32Array): void {
  const { info, bias: cb, b2s } = chain;
  const conv = info.node;
  const old = head.dataInputs.slice(1).concat(cb ? cb.node.dataInputs : []);
  const controls = lib.controlEdges(head, cb?.node, b2s);
  lib.setWeights(g, info, lib.scaleWeights(info, scale));
  let bias: Float32Array | undefined;
  if (cb || offset) {
    bias = new Float32Array(info.cols);
    for (let c = 0; c < info.cols; c++) bias[c] = (cb ? cb.vec[c]! * scale[c]! : 0) + (offset ? offset[c]! : 0);
  }
  if (b2s) {
    const src = bias ? b.op('BiasAdd', [conv.name, offsetConst(lib, b, info, bias)], biasAttrs(info, 'float32'), { name: `${conv.name}/biasadd`, device: conv.device }).name : conv.name;
    b.absorb(head, b2s, [src, ...b2s.dataInputs.slice(1), ...controls]);
  } else if (bias) {
    b.become(head, 'BiasAdd', [conv.name, offsetConst(lib, b, info, bias), ...controls], biasAttrs(info));
    if (cb) lib.removeIfDead(g, cb.node.name);
  } else b.absorb(head, conv, [...conv.inputs, ...controls], { device: true }); // pure scale: the conv takes the head's name (as TF does)
  for (const s of old) lib.removeIfDead(g, s);
}

/** Per-channel scale/offset of an inference BN, or why it cannot be folded. */
function bnParams(lib: Lib, g: Graph, bn: Node, cols: number): { scale: Float32Array; offset: Float32Array } | string {
  const ins = bn.dataInputs;
  if (ins.length !== 5) return 'not folded, expected 5 inputs';
  const old = bn.op === 'BatchNormWithGlobalNormalization';
  const v = (i: number) => lib.vectorInput(g, ins[i]!, cols);
  const [mean, variance, beta, gamma] = old ? [v(1), v(2), v(3), v(4)] : [v(3), v(4), v(2), v(1)];
  const [eps, useGamma] = old ? [bn.attrs.optFloat('variance_epsilon', 0.001), bn.attrs.optBool('scale_after_normalization', false)] : [bn.attrs.optFloat('epsilon', 0.0001), true];
  if (!mean || !variance || !beta || (useGamma && !gamma)) return `not folded, its mean/variance/offset/scale are not constant vectors of length ${cols}`;
  const [scale, offset] = [new Float32Array(cols), new Float32Array(cols)];
  for (let c = 0; c < cols; c++) {
    const s = (useGamma ? gamma![c]! : 1) / Math.sqrt(variance[c]! + eps);
    scale[c] = s;
    offset[c] = beta[c]! - mean[c]! * Math.fround(s);
  }
  return { scale, offset };
}

/** Mul(chain, per-channel const) -> chain with scaled weights (fold_batch_norms). */
const foldMul = (lib: Lib): Rule<{ mul: Node; k?: number; chain?: Chain; scale?: Float32Array; refuse?: string }> => ({
  name: 'folded',
  ops: ['Mul'],
  match(mul, cx) {
    if (mul.dataInputs.length !== 2) return undefined;
    let refuse: string | undefined;
    for (const k of [0, 1]) {
      const x = cx.graph.producer(mul.dataInputs[k]!);
      const t = lib.constTensor(cx.graph, mul.dataInputs[1 - k]!);
      const chain = x && t ? findChain(lib, cx, x, false) : undefined;
      if (!chain) continue;
      const { cols, axis, rank, node } = chain.info;
      const scale = lib.channelVector(t!, cols, axis, rank);
      if (scale) return { mul, k, chain, scale };
      refuse ??= `multiplier of shape [${t!.shape}] is not per-channel for ${node.name}; left as is`;
    }
    return refuse ? { mul, refuse } : undefined;
  },
  check: (m) => m.refuse,
  rewrite({ mul, k, chain, scale }, b, cx) {
    // Keep the chain as the first input, so applyFold sees the constant last.
    if (k === 1) mul.setInputs([mul.inputs[1]!, mul.inputs[0]!, ...mul.inputs.slice(2)]);
    applyFold(lib, cx.graph, b, mul, chain!, scale!);
  },
});

/** The linear op a BN would fold into when its data_format is invalid. */
function invalidFormat(lib: Lib, g: Graph, x: Node): Node | undefined {
  const candidates = [x, ...(BIAS_OPS.has(x.op) || x.op === 'BatchToSpaceND' ? x.dataInputs.map((s) => g.producer(s)) : [])];
  return candidates.find((c): c is Node => !!c && lib.matchAt(g, c, lib.LINEAR_OPS) !== undefined && !['NHWC', 'NCHW'].includes(c.attrs.optString('data_format', 'NHWC')));
}

type BnMatch = { bn: Node; refuse?: Refusal; chain?: Chain; concat?: { cat: Node; infos: LinearInfo[]; onChannels: boolean }; p?: { scale: Float32Array; offset: Float32Array } };

/** BN(ConcatV2(conv_0..conv_k, axis)): each conv gets its slice of the BN (TF's concat form). */
function concatChain(lib: Lib, cx: RuleContext, cat: Node): BnMatch['concat'] {
  const { graph: g, keep } = cx;
  const ins = cat.dataInputs;
  const axisT = lib.constTensor(g, ins[ins.length - 1]!);
  if (!lib.usedOnlyOnce(g, cat, keep) || !axisT || axisT.size !== 1) return undefined;
  const infos: LinearInfo[] = [];
  for (const s of ins.slice(0, -1)) {
    const c = g.producer(s);
    const info = c && lib.matchAt(g, c, 'Conv2D|DepthwiseConv2dNative!', { keep }) ? lib.linearInfo(g, c) : undefined;
    if (!info || (infos[0] && infos[0].nchw !== info.nchw)) return undefined;
    infos.push(info);
  }
  if (!infos.length) return undefined;
  const axis = Number(axisT.toNumbers()[0]);
  const onChannels = (axis < 0 ? axis + infos[0]!.rank : axis) === infos[0]!.axis;
  if (!onChannels && infos.some((i) => i.cols !== infos[0]!.cols)) return undefined;
  return { cat, infos, onChannels };
}

/** FusedBatchNorm*(chain) / BatchNormWithGlobalNormalization(chain) -> chain + BiasAdd (fold_old_batch_norms). */
const foldBn = (lib: Lib): Rule<BnMatch> => ({
  name: 'folded',
  ops: BN_OPS,
  match(bn, cx) {
    const g = cx.graph;
    if (bn.op !== 'BatchNormWithGlobalNormalization' && bn.attrs.optBool('is_training', true)) {
      return { bn, refuse: { warn: `not folded, ${bn.op} has is_training=true: it normalizes with batch statistics; export the graph in inference mode (is_training=false) or freeze the training switch with freeze_placeholder` } };
    }
    if (g.consumersOf(bn.name).some((c) => !c.control && c.port > 0)) return { bn, refuse: 'not folded, its batch statistics outputs are used' };
    const x = g.producer(bn.dataInputs[0] ?? '');
    if (!x) return undefined;
    if (x.op === 'ConcatV2') {
      const concat = concatChain(lib, cx, x);
      if (!concat) return undefined;
      const p = bnParams(lib, g, bn, concat.onChannels ? concat.infos.reduce((a, i) => a + i.cols, 0) : concat.infos[0]!.cols);
      return typeof p === 'string' ? { bn, refuse: p } : { bn, concat, p };
    }
    const chain = findChain(lib, cx, x, true);
    const bad = chain ? undefined : invalidFormat(lib, g, x);
    if (bad) return { bn, refuse: { warn: `not folded, ${bad.name} (${bad.op}) has data_format '${bad.attrs.optString('data_format', '')}' (only NHWC or NCHW are valid; TensorFlow would refuse to run this graph)` } };
    if (!chain) return undefined;
    const bnNchw = bn.attrs.optString('data_format', 'NHWC') === 'NCHW';
    if (bn.op !== 'BatchNormWithGlobalNormalization' && chain.info.kind !== 'matmul' && bnNchw !== chain.info.nchw) {
      return { bn, refuse: { warn: `data_format ${bnNchw ? 'NCHW' : 'NHWC'} differs from ${chain.info.node.name}'s; not folded` } };
    }
    const p = bnParams(lib, g, bn, chain.info.cols);
    return typeof p === 'string' ? { bn, refuse: p } : { bn, chain, p };
  },
  check: (m) => m.refuse,
  rewrite({ bn, chain, concat, p }, b, cx) {
    if (chain) return applyFold(lib, cx.graph, b, bn, chain, p!.scale, p!.offset);
    const g = cx.graph;
    const { cat, infos, onChannels } = concat!;
    const old = bn.dataInputs.slice(1);
    const controls = lib.controlEdges(bn);
    const adds: string[] = [];
    let at = 0;
    infos.forEach((info, k) => {
      const [from, to] = onChannels ? [at, (at += info.cols)] : [0, info.cols];
      lib.setWeights(g, info, lib.scaleWeights(info, p!.scale.slice(from, to)));
      const off = offsetConst(lib, b, info, p!.offset.slice(from, to));
      adds.push(b.op('BiasAdd', [info.node.name, off], biasAttrs(info, 'float32'), { name: `${cat.name}_bn_in${k}`, device: info.node.device }).name);
    });
    b.absorb(bn, cat, [...adds, cat.dataInputs[cat.dataInputs.length - 1]!, ...controls]);
    for (const s of old) lib.removeIfDead(g, s);
  },
});

/** bias2(bias1(conv, c1), c2) -> BiasAdd(conv, c1 + c2) named as the outer node: one bias op per conv. */
const mergeBias = (lib: Lib): Rule<{ outer: Node; chain: Chain; c2: Float32Array }> => ({
  name: 'biases_merged',
  ops: [...BIAS_OPS],
  match(outer, cx) {
    const g = cx.graph;
    if (outer.dataInputs.length !== 2) return undefined;
    for (const k of outer.op === 'BiasAdd' ? [0] : [0, 1]) {
      const inner = g.producer(outer.dataInputs[k]!);
      // Cheap op checks first: findChain decodes the weights.
      if (!inner || !BIAS_OPS.has(inner.op) || g.producer(outer.dataInputs[1 - k]!)?.op !== 'Const') continue;
      const chain = findChain(lib, cx, inner, false);
      const c2 = chain?.bias && biasVector(lib, g, outer, outer.dataInputs[1 - k]!, chain.info);
      if (c2) return { outer, chain: chain!, c2 };
    }
    return undefined;
  },
  rewrite({ outer, chain, c2 }, b, cx) {
    const { info, bias } = chain;
    const sum = new Float32Array(info.cols);
    for (let c = 0; c < info.cols; c++) sum[c] = bias!.vec[c]! + c2[c]!;
    const old = [...outer.dataInputs, ...bias!.node.dataInputs];
    b.become(outer, 'BiasAdd', [info.node.name, offsetConst(lib, b, info, sum), ...lib.controlEdges(outer, bias!.node)], biasAttrs(info));
    for (const s of old) lib.removeIfDead(cx.graph, s);
  },
});

/** Merge consecutive constant bias adds after each linear op; returns how many were merged. */
export const mergeBiases = (lib: Lib, g: Graph, keep: Set<string>): number => lib.applyRules(g, [mergeBias(lib)], { keep }).applied.biases_merged ?? 0;

const run = (lib: Lib, first: Rule<any>) => (g: Graph, ctx: PassContext) => void lib.applyRules(g, [first, mergeBias(lib)], { keep: lib.protectedNames(ctx), report: ctx });

export function foldPasses(lib: Lib): PassDefinition[] {
  return [
    {
      name: 'fold_batch_norms',
      summary: 'Fold a constant per-channel Mul after Conv2D/DepthwiseConv2dNative/MatMul into the weights',
      description:
        'Mul(conv(x, W), s) -> conv(x, W*s), also through a constant BiasAdd/Add/AddV2 between conv and Mul; ' +
        'consecutive constant bias adds after a conv are merged. Run fold_constants first. Shared weights are copied, never overwritten.',
      example: 'fold_constants(ignore_errors=true) fold_batch_norms',
      run: run(lib, foldMul(lib)),
    },
    {
      name: 'fold_old_batch_norms',
      summary: 'Fold BatchNormWithGlobalNormalization / FusedBatchNorm(V2,V3) into the preceding convolution',
      description:
        'BN after Conv2D/DepthwiseConv2dNative/MatMul (optionally through a constant BiasAdd/Add/AddV2, a BatchToSpaceND, ' +
        'or a ConcatV2 of convs), NHWC or NCHW, becomes conv with folded weights + BiasAdd named as the BN. ' +
        'A BN with is_training=true is left alone with a warning.',
      example: 'remove_nodes(op=Identity) fold_old_batch_norms',
      run: run(lib, foldBn(lib)),
    },
  ];
}
