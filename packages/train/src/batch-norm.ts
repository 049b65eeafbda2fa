/**
 * Batch norm during QAT as contrib's fold_batch_norms does it. The graph is first put in
 * create_eval_graph's folded form, with the batch-norm variables kept as constants of their own:
 *
 *   mul_fold = w * gamma * rsqrt(moving_variance + eps)     <- the weight fake quant reads this
 *   add_fold = layer_Fold(x, mul_fold) + (beta - moving_mean * gamma * rsqrt(...))
 *
 * For training with batch statistics, `batchStatsGraph` adds the original layer (its output
 * gives the batch mean and variance) and one TfpassFoldBatchNorm node per batch norm. That node
 * computes contrib's corrections: the weights become w * gamma / sigma_mv (so the weight ranges
 * are the ones the frozen graph will have), and the layer output is rescaled by
 * sigma_mv / sigma_batch and offset so it equals batch norm on the batch's statistics.
 */
import { Tensor, constProducer, removeIfDead, type Graph, type Node } from '@tfpass/core';

export type BatchNormMode = 'frozen' | 'batch_stats';

/** The TF op name of the training-time correction node (a tfpass kernel, never written to a file). */
export const FOLD_BN_OP = 'TfpassFoldBatchNorm';

const LAYERS = new Set(['Conv2D', 'DepthwiseConv2dNative', 'MatMul']);
const FUSED = new Set(['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3']);

/** One batch norm in create_eval_graph's folded form. */
export interface FoldedBn {
  /** The folded layer (`…_Fold`). */
  layer: string;
  /** Raw weights tensor (mul_fold's first input). */
  weights: string;
  mulFold: string;
  /** Depthwise: the Reshape of the multiplier to [C, M]. */
  reshape?: string;
  addFold: string;
  /** The bias input of add_fold. */
  bias: string;
  gamma?: string;
  beta: string;
  mean: string;
  variance: string;
  epsilon: number;
  channels: number;
}

const f32 = { type: 'float32' as const };

/** The Const behind a tensor, through Identity nodes. */
const constNode = constProducer;

function through(g: Graph, tensor: string): Node | undefined {
  let n = g.producer(tensor);
  while (n && n.op === 'Identity') n = g.producer(n.dataInputs[0]!);
  return n;
}

const isAdd = (n?: Node) => !!n && (n.op === 'Add' || n.op === 'AddV2');
const scope = (name: string) => (name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : name);
const readers = (g: Graph, n: Node) => g.consumersOf(n.name).filter((c) => !c.control);

interface Match {
  layer: Node;
  out: Node;
  gamma?: string;
  beta: string;
  mean: string;
  variance: string;
  epsilon: number;
  /** Graph's own moving-average decay (FusedBatchNormV3's exponential_avg_factor), when it states one. */
  decay?: number;
}

/** The linear layer feeding a batch norm, read by nothing else, NHWC (or a MatMul). */
function layerOf(g: Graph, tensor: string): Node | undefined {
  const n = through(g, tensor);
  if (!n || !LAYERS.has(n.op) || readers(g, n).length !== 1) return undefined;
  if (n.op !== 'MatMul' && n.attrs.optString('data_format', 'NHWC') !== 'NHWC') return undefined;
  if (n.op === 'MatMul' && (n.attrs.optBool('transpose_b', false) || !constNode(g, n.dataInputs[1]!))) return undefined;
  return constNode(g, n.dataInputs[1]!) ? n : undefined;
}

function matchFused(g: Graph, bn: Node): Match | undefined {
  if (!FUSED.has(bn.op) || bn.attrs.optBool('is_training', true) || bn.dataInputs.length !== 5) return undefined;
  if (bn.attrs.optString('data_format', 'NHWC') !== 'NHWC') return undefined;
  if (g.consumersOf(bn.name).some((c) => !c.control && c.port > 0)) return undefined;
  const layer = layerOf(g, bn.dataInputs[0]!);
  if (!layer || layer.op === 'MatMul') return undefined; // contrib wants a Reshape around a MatMul's fused BN
  const [gamma, beta, mean, variance] = bn.dataInputs.slice(1).map((s) => constNode(g, s)?.name);
  if (!gamma || !beta || !mean || !variance) return undefined;
  const f = bn.attrs.optFloat('exponential_avg_factor', 1);
  return { layer, out: bn, gamma, beta, mean, variance, epsilon: bn.attrs.optFloat('epsilon', 1e-4), decay: f > 0 && f < 1 ? 1 - f : undefined };
}

/** The other input of a two-input node than `tensor`'s producer `n`. */
function other(node: Node, n: Node, g: Graph): string | undefined {
  const [a, b] = node.dataInputs;
  if (!a || !b) return undefined;
  if (through(g, a) === n) return b;
  if (through(g, b) === n) return a;
  return undefined;
}

/**
 * Unfused inference batch norm (Keras, slim's unfused): add_1 = layer * mul + (beta - mean * mul),
 * mul = rsqrt(variance + eps) * gamma (or the rsqrt alone without scale).
 */
function matchUnfused(g: Graph, add: Node): Match | undefined {
  if (!isAdd(add) || add.dataInputs.length !== 2) return undefined;
  for (const k of [0, 1]) {
    const mul1 = through(g, add.dataInputs[k]!);
    const sub = through(g, add.dataInputs[1 - k]!);
    if (mul1?.op !== 'Mul' || sub?.op !== 'Sub' || readers(g, mul1).length !== 1) continue;
    for (const j of [0, 1]) {
      const layer = layerOf(g, mul1.dataInputs[j]!);
      const mul = through(g, mul1.dataInputs[1 - j]!);
      if (!layer || !mul) continue;
      let rsqrt = mul;
      let gamma: string | undefined;
      if (mul.op === 'Mul') {
        const r = mul.dataInputs.map((s) => through(g, s)).find((n) => n?.op === 'Rsqrt');
        const gm = r && other(mul, r, g);
        gamma = gm && constNode(g, gm)?.name;
        if (!r || !gamma) continue;
        rsqrt = r;
      }
      if (rsqrt.op !== 'Rsqrt') continue;
      const sum = through(g, rsqrt.dataInputs[0]!);
      if (!isAdd(sum)) continue;
      const [va, vb] = sum!.dataInputs.map((s) => constNode(g, s));
      if (!va || !vb) continue;
      const [varNode, epsNode] = va.attrs.getTensor('value').size === 1 ? [vb, va] : [va, vb];
      const beta = constNode(g, sub.dataInputs[0]!)?.name;
      const mul2 = through(g, sub.dataInputs[1]!);
      const meanIn = mul2?.op === 'Mul' ? other(mul2, mul, g) : undefined;
      const mean = meanIn && constNode(g, meanIn)?.name;
      if (!beta || !mean) continue;
      const c = varNode.attrs.getTensor('value').size;
      if ([beta, mean, gamma].some((n) => n && g.node(n).attrs.getTensor('value').size !== c)) continue;
      return { layer, out: add, gamma, beta, mean, variance: varNode.name, epsilon: epsNode.attrs.getTensor('value').toNumbers()[0]! };
    }
  }
  return undefined;
}

export interface EvalFoldResult {
  folded: FoldedBn[];
  /** Moving-average decay stated by the graph, by moving_mean constant. */
  decays: Record<string, number>;
  /** Batch-norm ops of the graph that were not folded this way (they stay for the inference fold). */
  left: string[];
}

/**
 * Rewrite every foldable inference batch norm into create_eval_graph's folded form, in place.
 * `keep` names nodes that must keep their names (graph outputs): a batch norm output in it
 * names the add_fold.
 */
export function foldBatchNormsForEval(g: Graph, keep: Set<string> = new Set()): EvalFoldResult {
  const folded: FoldedBn[] = [];
  const decays: Record<string, number> = {};
  const matches: Match[] = [];
  for (const n of g.nodes()) {
    const m = matchFused(g, n) ?? matchUnfused(g, n);
    if (m && !matches.some((x) => x.layer === m.layer)) matches.push(m);
  }
  for (const m of matches) {
    const { layer, out } = m;
    const p = scope(layer.name);
    const name = (s: string) => g.uniqueName(`${p}/${s}`);
    const add = (n: string, op: string, inputs: string[], attrs: Record<string, unknown> = { T: f32 }) => g.addNode({ name: n, op, inputs, attrs: attrs as never }).name;
    const konst = (n: string, t: Tensor) => g.addNode({ name: n, op: 'Const', attrs: { dtype: { type: t.dtype }, value: { tensor: t } } }).name;
    const weights = layer.dataInputs[1]!;
    const wShape = constNode(g, weights)!.attrs.getTensor('value').shape;
    const channels = g.node(m.variance).attrs.getTensor('value').size;
    const eps = konst(name('BatchNorm_Fold/add/y'), Tensor.fromValues('float32', [], [m.epsilon]));
    const sum = add(name('BatchNorm_Fold/add'), 'Add', [m.variance, eps]);
    const rs = add(name('BatchNorm_Fold/Rsqrt'), 'Rsqrt', [sum]);
    const mult = m.gamma ? add(name('BatchNorm_Fold/mul'), 'Mul', [m.gamma, rs]) : rs;
    const mul1 = add(name('BatchNorm_Fold/mul_1'), 'Mul', [m.mean, mult]);
    const bias = add(name('BatchNorm_Fold/bias'), 'Sub', [m.beta, mul1]);
    let scale = mult;
    let reshape: string | undefined;
    if (layer.op === 'DepthwiseConv2dNative') {
      const shape = konst(name('scale_reshape/shape'), Tensor.fromValues('int32', [2], [wShape[2]!, wShape[3]!]));
      scale = reshape = add(name('scale_reshape'), 'Reshape', [mult, shape], { T: f32, Tshape: { type: 'int32' } });
    }
    const mulFold = add(name('mul_fold'), 'Mul', [weights, scale]);
    const fold = g.importNode(layer, g.uniqueName(`${layer.name}_Fold`));
    fold.setInput(1, mulFold);
    const outName = out.name;
    const protectedOut = keep.has(outName);
    const tmp = g.uniqueName(`${p}/add_fold`);
    add(tmp, 'Add', [fold.name, bias]);
    g.replaceUses(outName, tmp, { except: new Set([tmp]) });
    g.replaceUses(outName, tmp, { except: new Set([tmp]), controls: true });
    const bnVars = new Set([m.gamma, m.beta, m.mean, m.variance, weights.split(':')[0]!].filter((s): s is string => !!s));
    g.removeNode(outName);
    // The norm's own subgraph goes with it (the folded layer reads none of it).
    for (const s of out.inputs) removeIfDead(g, s, { keep: bnVars, ops: 'any' });
    let addFold = tmp;
    if (protectedOut) {
      g.renameNode(tmp, outName);
      addFold = outName;
    }
    if (m.decay !== undefined) decays[m.mean] = m.decay;
    folded.push({ layer: fold.name, weights, mulFold, reshape, addFold, bias, gamma: m.gamma, beta: m.beta, mean: m.mean, variance: m.variance, epsilon: m.epsilon, channels });
  }
  const left = g.nodes().filter((n) => FUSED.has(n.op) || n.op === 'BatchNormWithGlobalNormalization').map((n) => n.name);
  return { folded, decays, left };
}

/** Mul of the two given nodes, in either order. */
function mulOf(g: Graph, n: Node | undefined, a: (x: Node | undefined) => boolean, b: (x: Node | undefined) => boolean): [Node, Node] | undefined {
  if (n?.op !== 'Mul') return undefined;
  const [x, y] = n.dataInputs.map((s) => through(g, s));
  if (a(x) && b(y)) return [x!, y!];
  if (a(y) && b(x)) return [y!, x!];
  return undefined;
}

/**
 * The batch norms of a graph in create_eval_graph's folded form (as `foldBatchNormsForEval`
 * writes it; the structure @tfpass/quantize's eval fold builds too), statistics as constants.
 */
export function findFoldedBatchNorms(g: Graph): FoldedBn[] {
  const out: FoldedBn[] = [];
  const isConst = (n?: Node) => n?.op === 'Const';
  for (const addFold of g.nodes()) {
    if (!isAdd(addFold) || addFold.dataInputs.length !== 2) continue;
    for (const k of [0, 1]) {
      const layer = g.producer(addFold.dataInputs[k]!);
      const biasNode = through(g, addFold.dataInputs[1 - k]!);
      if (!layer || !LAYERS.has(layer.op) || biasNode?.op !== 'Sub') continue;
      const mulFold = g.producer(layer.dataInputs[1]!);
      if (mulFold?.op !== 'Mul') continue;
      const wc = constNode(g, mulFold.dataInputs[0]!);
      let scale = through(g, mulFold.dataInputs[1]!);
      let reshape: string | undefined;
      if (scale?.op === 'Reshape') {
        reshape = scale.name;
        scale = through(g, scale.dataInputs[0]!);
      }
      if (!wc || !scale) continue;
      let rs = scale;
      let gamma: string | undefined;
      const gm = mulOf(g, scale, isConst, (x) => x?.op === 'Rsqrt');
      if (gm) [gamma, rs] = [gm[0].name, gm[1]];
      if (rs.op !== 'Rsqrt') continue;
      const sum = through(g, rs.dataInputs[0]!);
      if (!isAdd(sum)) continue;
      const ve = sum!.dataInputs.map((s) => constNode(g, s));
      if (!ve[0] || !ve[1]) continue;
      const [varNode, epsNode] = ve[0].attrs.getTensor('value').size === 1 && ve[1].attrs.getTensor('value').size > 1 ? [ve[1], ve[0]] : [ve[0], ve[1]];
      const beta = constNode(g, biasNode.dataInputs[0]!);
      const mm = mulOf(g, through(g, biasNode.dataInputs[1]!), isConst, (x) => x === scale);
      if (!beta || !mm) continue;
      out.push({
        layer: layer.name, weights: mulFold.dataInputs[0]!, mulFold: mulFold.name, reshape, addFold: addFold.name, bias: addFold.dataInputs[1 - k]!,
        gamma, beta: beta.name, mean: mm[0].name, variance: varNode.name, epsilon: epsNode.attrs.getTensor('value').toNumbers()[0]!, channels: varNode.attrs.getTensor('value').size,
      });
      break;
    }
  }
  return out;
}

/**
 * Training form of folded batch norms, in place: the original layer on the raw weights gives the
 * batch statistics, and a TfpassFoldBatchNorm node gives (weight multiplier, post-layer
 * multiplier, offset), contrib's mul_fold / correction_recip / bias + correction_offset.
 * Returns the correction node per batch norm.
 */
export function batchStatsGraph(g: Graph, bns: FoldedBn[]): string[] {
  const nodes: string[] = [];
  for (const bn of bns) {
    const p = scope(bn.mulFold);
    const fold = g.node(bn.layer);
    const raw = g.importNode(fold, g.uniqueName(bn.layer.endsWith('_Fold') ? bn.layer.slice(0, -5) : `${bn.layer}/batch`));
    raw.setInput(1, bn.weights);
    const gamma = bn.gamma ?? g.addNode({ name: g.uniqueName(`${p}/BatchNorm_Fold/ones`), op: 'Const', attrs: { dtype: f32, value: { tensor: new Tensor('float32', [bn.channels], new Float32Array(bn.channels).fill(1)) } } }).name;
    const c = g.addNode({ name: g.uniqueName(`${p}/batch_norm_correction`), op: FOLD_BN_OP, inputs: [raw.name, gamma, bn.beta, bn.mean, bn.variance], attrs: { T: f32, epsilon: { f: bn.epsilon } } }).name;
    if (bn.reshape) g.node(bn.reshape).setInput(0, c);
    else g.node(bn.mulFold).setInput(1, c);
    const post = g.addNode({ name: g.uniqueName(`${p}/post_conv_mul`), op: 'Mul', inputs: [bn.layer, `${c}:1`], attrs: { T: f32 } }).name;
    const add = g.node(bn.addFold);
    const k = add.dataInputs.findIndex((s) => s.split(':')[0] === bn.layer);
    add.setInput(k, post);
    add.setInput(1 - k, `${c}:2`);
    nodes.push(c);
  }
  return nodes;
}

/** Swap the batch-norm constants for placeholders (so fold_constants leaves the fold alone) and back. */
export function hideConstants(g: Graph, names: string[]): () => void {
  const saved = new Map<string, Tensor>();
  for (const n of new Set(names)) {
    const node = g.get(n);
    if (!node || node.op !== 'Const') continue;
    const t = node.attrs.getTensor('value');
    saved.set(n, t);
    const cons = g.consumersOf(n).map((c) => ({ node: c.node.name, index: c.index, input: c.node.inputs[c.index]! }));
    g.removeNode(n);
    g.addNode({ name: n, op: 'Placeholder', attrs: { dtype: { type: t.dtype }, shape: { shape: [...t.shape] } } });
    for (const c of cons) g.node(c.node).setInput(c.index, c.input);
  }
  return () => {
    for (const [n, t] of saved) {
      const node = g.get(n);
      if (!node) continue;
      const cons = g.consumersOf(n).map((c) => ({ node: c.node.name, index: c.index, input: c.node.inputs[c.index]! }));
      g.removeNode(n);
      g.addNode({ name: n, op: 'Const', attrs: { dtype: { type: t.dtype }, value: { tensor: t } } });
      for (const c of cons) g.node(c.node).setInput(c.index, c.input);
    }
  };
}
