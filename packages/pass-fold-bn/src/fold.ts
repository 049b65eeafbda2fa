import type { Graph, Node, PassContext, PassDefinition } from '@tfpass/core';
import {
  BIAS_OPS, CONV_OPS, type ConvInfo, type Lib, addConst, channelVector, constTensor, convInfo, copyAttrs,
  protectedNames, removeIfDead, scaleWeights, setConvWeights, soleUse, vectorInput,
} from './common.js';

/** Conv (+ optional constant bias, + optional BatchToSpaceND) feeding a BN-like node. */
interface Chain {
  info: ConvInfo;
  bias?: { node: Node; vec: Float32Array };
  b2s?: Node;
}

/** [pattern, index of the constant operand] */
const BIAS_PATTERNS: [string, number][] = [
  [`BiasAdd|Add|AddV2(${CONV_OPS} as conv, *)`, 1],
  [`Add|AddV2(*, ${CONV_OPS} as conv)`, 0],
];

/** Walk up from the BN's data input to a foldable convolution. */
function findChain(lib: Lib, g: Graph, x: Node, keep: Set<string>, allowB2S: boolean): Chain | undefined {
  if (!soleUse(g, x, keep)) return undefined;
  if (lib.matchAt(g, x, CONV_OPS)) {
    const info = convInfo(g, x);
    return info && { info };
  }
  if (BIAS_OPS.has(x.op) && x.dataInputs.length === 2) {
    for (const [p, ci] of BIAS_PATTERNS) {
      const m = lib.matchAt(g, x, p);
      if (!m) continue;
      const conv = m.labels.conv!;
      const info = convInfo(g, conv);
      const t = constTensor(g, x.dataInputs[ci]!);
      if (!info || !t || !soleUse(g, conv, keep)) continue;
      // BiasAdd's bias is always [C] on the data_format's channel axis.
      const vec = x.op === 'BiasAdd' ? (t.rank === 1 ? channelVector(t, info.cols, info.axis, info.rank) : undefined) : channelVector(t, info.cols, info.axis, info.rank);
      if (!vec) continue;
      return { info, bias: { node: x, vec } };
    }
    return undefined;
  }
  if (allowB2S) {
    const m = lib.matchAt(g, x, 'BatchToSpaceND(Conv2D|DepthwiseConv2dNative as conv, Const, Const)');
    if (m && soleUse(g, m.labels.conv!, keep)) {
      const info = convInfo(g, m.labels.conv!);
      return info && { info, b2s: x };
    }
  }
  return undefined;
}

/** The convolution a BN would fold into (directly, behind a bias add or a BatchToSpaceND) when its data_format is invalid. */
function invalidFormatConv(lib: Lib, g: Graph, x: Node): Node | undefined {
  const candidates = [x, ...(BIAS_OPS.has(x.op) || x.op === 'BatchToSpaceND' ? x.dataInputs.map((s) => g.producer(s)) : [])];
  return candidates.find((c): c is Node => !!c && lib.matchAt(g, c, CONV_OPS) !== undefined && !['NHWC', 'NCHW'].includes(c.attrs.optString('data_format', 'NHWC')));
}

function vec(lib: Lib, v: Float32Array) {
  return new lib.Tensor('float32', [v.length], v);
}

function biasAddNode(g: Graph, name: string, info: ConvInfo, input: string, bias: string): Node {
  const n = g.addNode({ name: g.uniqueName(name), op: 'BiasAdd', inputs: [input, bias], device: info.conv.device });
  copyAttrs(n, info.conv, ['T']);
  if (!n.attrs.has('T')) n.attrs.setType('T', 'float32');
  if (info.nchw) n.attrs.setString('data_format', 'NCHW');
  return n;
}

/**
 * Fold a per-channel `scale` (and `offset`, when the head adds one) into the chain's
 * convolution. The head node keeps its name so its consumers and outputs stay valid.
 */
function applyFold(lib: Lib, g: Graph, head: Node, chain: Chain, scale: Float32Array, offset?: Float32Array): void {
  const { info } = chain;
  const conv = info.conv;
  const oldInputs = head.dataInputs.slice(1).concat(chain.bias ? chain.bias.node.dataInputs : []);
  const controls = [...head.controlInputs, ...(chain.bias?.node.controlInputs ?? []), ...(chain.b2s?.controlInputs ?? [])].map((c) => '^' + c);
  setConvWeights(g, info, scaleWeights(lib, info, scale));
  let bias: Float32Array | undefined;
  if (chain.bias || offset) {
    bias = new Float32Array(info.cols);
    for (let c = 0; c < info.cols; c++) bias[c] = (chain.bias ? chain.bias.vec[c]! * scale[c]! : 0) + (offset ? offset[c]! : 0);
  }
  if (chain.b2s) {
    const b2s = chain.b2s;
    let src = conv.name;
    if (bias) {
      const off = addConst(g, `${conv.name}_bn_offset`, vec(lib, bias), conv.device);
      src = biasAddNode(g, `${conv.name}/biasadd`, info, conv.name, off.name).name;
    }
    const rest = b2s.dataInputs.slice(1);
    g.removeNode(b2s.name);
    head.op = 'BatchToSpaceND';
    copyAttrs(head, b2s);
    head.setInputs([src, ...rest, ...controls]);
  } else if (bias) {
    const off = addConst(g, `${conv.name}_bn_offset`, vec(lib, bias), conv.device);
    head.op = 'BiasAdd';
    copyAttrs(head, conv, ['T']);
    if (info.nchw) head.attrs.setString('data_format', 'NCHW');
    head.setInputs([conv.name, off.name, ...controls]);
    if (chain.bias) removeIfDead(g, chain.bias.node.name);
  } else {
    // Pure scale: the conv itself takes the head's name (as TF does).
    const ins = [...conv.inputs, ...controls];
    head.op = conv.op;
    head.device = conv.device;
    copyAttrs(head, conv);
    head.setInputs(ins);
    g.removeNode(conv.name);
  }
  for (const s of oldInputs) removeIfDead(g, lib.nodeNameOf(s));
}

const BN_OPS = new Set(['BatchNormWithGlobalNormalization', 'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3']);

interface BnParams {
  scale: Float32Array;
  offset: Float32Array;
}

/** Per-channel scale/offset of an inference BN, or a reason it cannot be folded. */
function bnParams(g: Graph, bn: Node, cols: number): BnParams | string {
  const ins = bn.dataInputs;
  let mean, variance, beta, gamma: Float32Array | undefined;
  let eps: number;
  let useGamma = true;
  if (bn.op === 'BatchNormWithGlobalNormalization') {
    if (ins.length !== 5) return 'expected 5 inputs';
    [mean, variance, beta, gamma] = [1, 2, 3, 4].map((i) => vectorInput(g, ins[i]!, cols));
    eps = bn.attrs.optFloat('variance_epsilon', 0.001);
    useGamma = bn.attrs.optBool('scale_after_normalization', false);
  } else {
    if (ins.length !== 5) return 'expected 5 inputs';
    [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => vectorInput(g, ins[i]!, cols));
    eps = bn.attrs.optFloat('epsilon', 0.0001);
  }
  if (!mean || !variance || !beta || (useGamma && !gamma)) return `its mean/variance/offset/scale are not constant vectors of length ${cols}`;
  const scale = new Float32Array(cols);
  const offset = new Float32Array(cols);
  for (let c = 0; c < cols; c++) {
    const s = (useGamma ? gamma![c]! : 1) / Math.sqrt(variance[c]! + eps);
    scale[c] = s;
    offset[c] = beta[c]! - mean[c]! * Math.fround(s);
  }
  return { scale, offset };
}

/** Fold BN(ConcatV2(conv_0..conv_k, axis)) into each conv (TF's concat form). */
function foldConcat(lib: Lib, g: Graph, bn: Node, cat: Node, keep: Set<string>, ctx: PassContext): boolean {
  if (!soleUse(g, cat, keep)) return false;
  const ins = cat.dataInputs;
  const axisT = constTensor(g, ins[ins.length - 1]!);
  if (!axisT || axisT.size !== 1) return false;
  const infos: ConvInfo[] = [];
  for (const s of ins.slice(0, -1)) {
    const c = g.producer(s);
    const info = c && lib.matchAt(g, c, 'Conv2D|DepthwiseConv2dNative') && soleUse(g, c, keep) ? convInfo(g, c) : undefined;
    if (!info || (infos[0] && infos[0].nchw !== info.nchw)) return false;
    infos.push(info);
  }
  if (!infos.length) return false;
  const rank = infos[0]!.rank;
  let axis = Number(axisT.toNumbers()[0]);
  if (axis < 0) axis += rank;
  const onChannels = axis === infos[0]!.axis;
  const cols = onChannels ? infos.reduce((a, i) => a + i.cols, 0) : infos[0]!.cols;
  if (!onChannels && infos.some((i) => i.cols !== cols)) return false;
  const p = bnParams(g, bn, cols);
  if (typeof p === 'string') {
    ctx.note(`${bn.name}: not folded, ${p}`);
    return false;
  }
  const oldInputs = bn.dataInputs.slice(1);
  const controls = bn.controlInputs.map((c) => '^' + c);
  const adds: string[] = [];
  let at = 0;
  infos.forEach((info, k) => {
    const sl = onChannels ? [at, at + info.cols] : [0, cols];
    at += info.cols;
    const scale = p.scale.slice(sl[0], sl[1]);
    const offset = p.offset.slice(sl[0], sl[1]);
    setConvWeights(g, info, scaleWeights(lib, info, scale));
    const off = addConst(g, `${info.conv.name}_bn_offset`, vec(lib, offset), info.conv.device);
    adds.push(biasAddNode(g, `${cat.name}_bn_in${k}`, info, info.conv.name, off.name).name);
  });
  const axisIn = ins[ins.length - 1]!;
  g.removeNode(cat.name);
  bn.op = 'ConcatV2';
  copyAttrs(bn, cat);
  bn.setInputs([...adds, axisIn, ...controls]);
  for (const s of oldInputs) removeIfDead(g, lib.nodeNameOf(s));
  return true;
}

/**
 * Merge `bias2(bias1(conv, c1), c2)` into one `BiasAdd(conv, c1 + c2)` named as the outer
 * node, so each convolution ends with at most one bias op.
 */
export function mergeBiases(lib: Lib, g: Graph, keep: Set<string>): number {
  let merged = 0;
  for (const outer of g.nodes()) {
    if (!g.has(outer.name) || !BIAS_OPS.has(outer.op) || outer.dataInputs.length !== 2) continue;
    for (const k of outer.op === 'BiasAdd' ? [0] : [0, 1]) {
      const inner = g.producer(outer.dataInputs[k]!);
      // Cheap op checks first: findChain decodes the conv weights.
      if (!inner || !BIAS_OPS.has(inner.op) || g.producer(outer.dataInputs[1 - k]!)?.op !== 'Const') continue;
      const chain = findChain(lib, g, inner, keep, false);
      if (!chain?.bias) continue;
      const t = constTensor(g, outer.dataInputs[1 - k]!);
      const { info } = chain;
      const c2 = t && (outer.op === 'BiasAdd' ? (t.rank === 1 ? channelVector(t, info.cols, info.axis, info.rank) : undefined) : channelVector(t, info.cols, info.axis, info.rank));
      if (!c2) continue;
      const sum = new Float32Array(info.cols);
      for (let c = 0; c < info.cols; c++) sum[c] = chain.bias.vec[c]! + c2[c]!;
      const old = [...outer.dataInputs, ...inner.dataInputs];
      const controls = [...outer.controlInputs, ...inner.controlInputs].map((c) => '^' + c);
      const off = addConst(g, `${info.conv.name}_bn_offset`, vec(lib, sum), info.conv.device);
      outer.op = 'BiasAdd';
      copyAttrs(outer, info.conv, ['T']);
      if (info.nchw) outer.attrs.setString('data_format', 'NCHW');
      outer.setInputs([info.conv.name, off.name, ...controls]);
      for (const s of old) removeIfDead(g, lib.nodeNameOf(s));
      merged++;
      break;
    }
  }
  return merged;
}

export function foldBatchNorms(lib: Lib, g: Graph, ctx: PassContext): void {
  const keep = protectedNames(lib, ctx);
  for (let round = 0; round < 16; round++) {
    let changed = 0;
    for (const mul of g.nodes()) {
      if (mul.op !== 'Mul' || !g.has(mul.name) || mul.dataInputs.length !== 2) continue;
      for (const k of [0, 1]) {
        const x = g.producer(mul.dataInputs[k]!);
        const t = constTensor(g, mul.dataInputs[1 - k]!);
        if (!x || !t) continue;
        const chain = findChain(lib, g, x, keep, false);
        if (!chain) continue;
        const scale = channelVector(t, chain.info.cols, chain.info.axis, chain.info.rank);
        if (!scale) {
          ctx.note(`${mul.name}: multiplier of shape [${t.shape}] is not per-channel for ${chain.info.conv.name}; left as is`);
          continue;
        }
        if (k === 1) {
          // Keep the chain as the first input so applyFold's bookkeeping sees the const last.
          const ins = mul.inputs.slice();
          [ins[0], ins[1]] = [ins[1]!, ins[0]!];
          mul.setInputs(ins);
        }
        applyFold(lib, g, mul, chain, scale);
        ctx.count('folded');
        changed++;
        break;
      }
    }
    const m = mergeBiases(lib, g, keep);
    ctx.count('biases_merged', m);
    if (!changed && !m) break;
  }
}

export function foldOldBatchNorms(lib: Lib, g: Graph, ctx: PassContext): void {
  const keep = protectedNames(lib, ctx);
  const warned = new Set<string>();
  for (let round = 0; round < 16; round++) {
    let changed = 0;
    for (const bn of g.nodes()) {
      if (!BN_OPS.has(bn.op) || !g.has(bn.name) || warned.has(bn.name)) continue;
      if (bn.op !== 'BatchNormWithGlobalNormalization' && bn.attrs.optBool('is_training', true)) {
        ctx.warn(`${bn.name} (${bn.op}) has is_training=true: it normalizes with batch statistics and is not folded; export the graph in inference mode (is_training=false) or freeze the training switch with freeze_placeholder`);
        warned.add(bn.name);
        continue;
      }
      if (g.consumersOf(bn.name).some((c) => !c.control && c.port > 0)) {
        ctx.note(`${bn.name}: not folded, its batch statistics outputs are used`);
        warned.add(bn.name);
        continue;
      }
      const x = g.producer(bn.dataInputs[0] ?? '');
      if (!x) continue;
      if (x.op === 'ConcatV2') {
        if (foldConcat(lib, g, bn, x, keep, ctx)) {
          ctx.count('folded');
          changed++;
        }
        continue;
      }
      const chain = findChain(lib, g, x, keep, true);
      if (!chain) {
        const bad = invalidFormatConv(lib, g, x);
        if (bad) {
          ctx.warn(`${bn.name}: not folded, ${bad.name} (${bad.op}) has data_format '${bad.attrs.optString('data_format', '')}' (only NHWC or NCHW are valid; TensorFlow would refuse to run this graph)`);
          warned.add(bn.name);
        }
        continue;
      }
      const bnNchw = bn.attrs.optString('data_format', 'NHWC') === 'NCHW';
      if (bn.op !== 'BatchNormWithGlobalNormalization' && chain.info.kind !== 'matmul' && bnNchw !== chain.info.nchw) {
        ctx.warn(`${bn.name}: data_format ${bnNchw ? 'NCHW' : 'NHWC'} differs from ${chain.info.conv.name}'s; not folded`);
        warned.add(bn.name);
        continue;
      }
      const p = bnParams(g, bn, chain.info.cols);
      if (typeof p === 'string') {
        ctx.note(`${bn.name}: not folded, ${p}`);
        warned.add(bn.name);
        continue;
      }
      applyFold(lib, g, bn, chain, p.scale, p.offset);
      ctx.count('folded');
      changed++;
    }
    const m = mergeBiases(lib, g, keep);
    ctx.count('biases_merged', m);
    if (!changed && !m) break;
  }
}

export function foldPasses(lib: Lib): PassDefinition[] {
  return [
    {
      name: 'fold_batch_norms',
      summary: 'Fold a constant per-channel Mul after Conv2D/DepthwiseConv2dNative/MatMul into the weights',
      description:
        'Mul(conv(x, W), s) -> conv(x, W*s), also through a constant BiasAdd/Add/AddV2 between conv and Mul; ' +
        'consecutive constant bias adds after a conv are merged. Run fold_constants first. Shared weights are copied, never overwritten.',
      example: 'fold_constants(ignore_errors=true) fold_batch_norms',
      run: (g, ctx) => foldBatchNorms(lib, g, ctx),
    },
    {
      name: 'fold_old_batch_norms',
      summary: 'Fold BatchNormWithGlobalNormalization / FusedBatchNorm(V2,V3) into the preceding convolution',
      description:
        'BN after Conv2D/DepthwiseConv2dNative/MatMul (optionally through a constant BiasAdd/Add/AddV2, a BatchToSpaceND, ' +
        'or a ConcatV2 of convs), NHWC or NCHW, becomes conv with folded weights + BiasAdd named as the BN. ' +
        'A BN with is_training=true is left alone with a warning.',
      example: 'remove_nodes(op=Identity) fold_old_batch_norms',
      run: (g, ctx) => foldOldBatchNorms(lib, g, ctx),
    },
  ];
}
