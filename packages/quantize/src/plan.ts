import { opsWith, type Graph, type Node } from '@tfpass/core';

// Placement of fake-quant nodes, following tf.contrib.quantize (TF 1.15) as described in
// spec fake-quant.md §1.2–§1.5. Pure: reads the graph, returns sites; every rewrite
// (training, eval, const ranges) and the QAT trainer use the same list.

export const QUANTIZABLE = new Set(['Conv2D', 'MatMul', 'DepthwiseConv2dNative']);
export const ACTIVATIONS = new Set(['Relu', 'Relu6', 'Identity']);
export const RELUS = new Set(['Relu', 'Relu6']);
export const INTERMEDIATE = new Set(['Add', 'AddV2', 'Mul']);
export const PASS_THROUGH = new Set(['Reshape', 'Identity', 'BatchToSpaceND', 'SpaceToBatchND', 'MaxPool', 'Max']);
export const FAKE_QUANTS: ReadonlySet<string> = opsWith('fakeQuant');
/** Consumers under these prefixes are ignored (contrib common.SKIPPED_PREFIXES). */
const SKIPPED_PREFIXES = ['gradients/', 'RMSProp/', 'Adagrad/', 'Const_', 'HistogramSummary', 'ScalarSummary'];
const GRADIENT_SCOPE = /(^|\/)gradients(_\d+)?\//;
const VARIABLES = new Set(['VariableV2', 'Variable', 'VarHandleOp']);
const ADDS = new Set(['Add', 'AddV2']);
const BIAS_ADDS = new Set(['Add', 'AddV2', 'BiasAdd']);
const BATCH_NORMS = new Set(['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3', 'BatchNormWithGlobalNormalization']);

export type SiteName =
  | 'weights_quant'
  | 'act_quant'
  | 'conv_quant'
  | 'add_quant'
  | 'post_activation_bypass_quant'
  | `activation_${string}_quant`;

export interface Site {
  /** Contrib's quantizer name (weights_quant, act_quant, …, activation_Mul_quant). */
  name: SiteName;
  /** Unique name prefix of the inserted ops: `<context>/<name>[_k]`. */
  prefix: string;
  /** The quantized tensor (`node` for output 0). */
  tensor: string;
  producer: string;
  producerOp: string;
  /** Nodes whose inputs are rerouted to the fake-quant output. */
  consumers: string[];
  kind: 'weights' | 'activation';
  /** last_value for weights, moving_average for activations. */
  tracking: 'last_value' | 'moving_average';
  numBits: number;
  narrowRange: boolean;
  symmetric: boolean;
  perChannel: boolean;
  /** Initial [min, max] of the range variables. */
  init: [number, number];
  /** The layer op (Conv2D/MatMul/DepthwiseConv2dNative) the site belongs to, if any. */
  layer?: string;
}

export interface PlanOptions {
  weightBits?: number;
  activationBits?: number;
  symmetric?: boolean;
  /** Only transform ops under this name scope. */
  scope?: string;
  /** Per-channel ranges on Conv2D/DepthwiseConv2dNative weights (not contrib; TOCO wants per-tensor). */
  perChannel?: boolean;
  /** Also put ranges inside fused instance norms (for converters that do not fuse them). Default false. */
  normInternals?: boolean;
  /** Treat Keras' Relu→Minimum(6)→Maximum(0) clip as Relu6: range after the clip (default true; not in contrib). */
  clipAsRelu6?: boolean;
  /** Accept Const / Identity(Const) weights (frozen graphs). Default true. */
  constWeights?: boolean;
}

interface LayerMatch {
  layer: Node;
  weight?: Node;
  activation?: Node;
  biasAdd?: Node;
  bypass?: Node;
  postBypass?: Node;
}

function dataIn(g: Graph, n: Node, i: number): Node | undefined {
  const s = n.dataInputs[i];
  return s === undefined ? undefined : g.get(s.startsWith('^') ? s.slice(1) : s.replace(/:\d+$/, ''));
}

/** Port of data input i (only output 0 takes part in patterns, as in contrib). */
function inPort(n: Node, i: number): number {
  const s = n.dataInputs[i] ?? '';
  const m = /:(\d+)$/.exec(s);
  return m ? Number(m[1]) : 0;
}

function context(name: string): string {
  const i = name.lastIndexOf('/');
  return i < 0 ? '' : name.slice(0, i);
}

export function planQuantization(graph: Graph, opts: PlanOptions = {}): Site[] {
  const wBits = opts.weightBits ?? 8;
  const aBits = opts.activationBits ?? 8;
  const symmetric = opts.symmetric ?? false;
  let scope = opts.scope ?? '';
  if (scope && !scope.endsWith('/')) scope += '/';
  const constWeights = opts.constWeights ?? true;
  const g = graph;

  const consumersOf = (n: Node): Node[] => {
    const seen = new Set<Node>();
    for (const c of g.tensorConsumers(n.name)) {
      if (SKIPPED_PREFIXES.some((p) => c.node.name.startsWith(p)) || GRADIENT_SCOPE.test(c.node.name)) continue;
      seen.add(c.node);
    }
    return [...seen];
  };

  // ---- patterns (each returns the root's match or undefined) ------------------------------

  const isWeight = (n: Node | undefined): boolean => {
    if (!n) return false;
    if (n.op === 'ReadVariableOp' || n.op === 'Mul') return true;
    if (constWeights && n.op === 'Const') return true;
    if (n.op !== 'Identity') return false;
    const p = dataIn(g, n, 0);
    if (!p) return false;
    if (VARIABLES.has(p.op) || (constWeights && p.op === 'Const')) return true;
    if (p.op === 'Identity') {
      const q = dataIn(g, p, 0);
      return !!q && (VARIABLES.has(q.op) || (constWeights && q.op === 'Const'));
    }
    if (p.op === 'ConcatV2') return p.dataInputs.length === 3 && dataIn(g, p, 0)?.op === 'Identity';
    return false;
  };

  const matchLayer = (n: Node | undefined): { layer: Node; weight: Node } | undefined => {
    if (!n || !QUANTIZABLE.has(n.op) || n.dataInputs.length !== 2) return undefined;
    // Unordered (*, weight): TF tries the given order first.
    const a = dataIn(g, n, 1);
    if (isWeight(a) && inPort(n, 1) === 0) return { layer: n, weight: a! };
    if (n.op === 'MatMul') {
      const b = dataIn(g, n, 0);
      if (isWeight(b) && inPort(n, 0) === 0) return { layer: n, weight: b! };
    }
    return undefined;
  };

  const matchLayerOutput = (n: Node | undefined) => {
    if (!n) return undefined;
    if (n.op === 'BatchToSpaceND' && n.dataInputs.length === 3) {
      const m = matchLayer(dataIn(g, n, 0));
      if (m) return m;
    }
    return matchLayer(n);
  };

  /** Try a 2-input unordered pattern: `first` on one input, anything on the other. */
  const unordered2 = <T,>(n: Node, first: (x: Node | undefined) => T | undefined, secondFirst = false): T | undefined => {
    if (n.dataInputs.length !== 2) return undefined;
    const order = secondFirst ? [1, 0] : [0, 1];
    for (const i of order) {
      if (inPort(n, i) !== 0) continue;
      const m = first(dataIn(g, n, i));
      if (m) return m;
    }
    return undefined;
  };

  const matchBiasAdd = (n: Node | undefined): (LayerMatch & { biasAdd: Node }) | undefined => {
    if (!n || !BIAS_ADDS.has(n.op)) return undefined;
    const m = unordered2(n, matchLayerOutput);
    return m ? { ...m, biasAdd: n } : undefined;
  };

  const matchFoldedBiasAdd = (n: Node | undefined): (LayerMatch & { biasAdd: Node }) | undefined => {
    if (!n || !ADDS.has(n.op)) return undefined;
    const m = unordered2(n, (c) => {
      if (!c || !ADDS.has(c.op)) return undefined;
      return unordered2(c, (mul) => (mul && mul.op === 'Mul' ? unordered2(mul, matchLayerOutput, true) : undefined));
    });
    return m ? { ...m, biasAdd: n } : undefined;
  };

  const matchBnIdentity = (n: Node | undefined) => {
    if (!n || n.op !== 'Identity' || n.dataInputs.length !== 1) return undefined;
    return matchFoldedBiasAdd(dataIn(g, n, 0));
  };

  const matchAnyBias = (n: Node | undefined) => matchBiasAdd(n) ?? matchFoldedBiasAdd(n) ?? matchBnIdentity(n);

  const matchBypass = (n: Node | undefined): LayerMatch | undefined => {
    if (!n || !ADDS.has(n.op)) return undefined;
    const m = unordered2(n, matchAnyBias);
    return m ? { ...m, bypass: n } : undefined;
  };

  const matchActivation = (n: Node | undefined): LayerMatch | undefined => {
    if (!n || !ACTIVATIONS.has(n.op) || n.dataInputs.length !== 1 || inPort(n, 0) !== 0) return undefined;
    const x = dataIn(g, n, 0);
    const m = matchAnyBias(x) ?? matchBypass(x) ?? matchLayer(x);
    return m ? { ...m, activation: n } : undefined;
  };

  const matchPostBypass = (n: Node): LayerMatch | undefined => {
    if (!ADDS.has(n.op)) return undefined;
    const m = unordered2(n, matchActivation, true);
    return m ? { ...m, postBypass: n } : undefined;
  };

  const isSkipLayer = (act: Node): boolean => {
    if (act.op !== 'Identity') return false;
    const cs = consumersOf(act);
    return cs.length === 1 && (cs[0]!.op === 'FusedBatchNorm' || cs[0]!.op === 'FusedBatchNormV3');
  };

  // ---- matching, largest patterns first; each layer op is used once ------------------------

  const nodes = g.nodes();
  const matched = new Set<Node>();
  const layers: LayerMatch[] = [];
  const take = (m: LayerMatch | undefined) => {
    if (!m || matched.has(m.layer)) return;
    matched.add(m.layer);
    layers.push(m);
  };
  for (const n of nodes) take(matchPostBypass(n));
  for (const n of nodes) {
    const m = matchActivation(n);
    if (m && !isSkipLayer(m.activation!)) take(m);
  }
  for (const n of nodes) {
    const m = matchBiasAdd(n) ?? matchFoldedBiasAdd(n);
    if (m) take({ layer: m.layer, weight: m.weight, activation: m.biasAdd });
  }
  for (const n of nodes) {
    if (!QUANTIZABLE.has(n.op)) continue;
    const inner = unordered2(n, matchLayerOutput);
    if (inner) take({ layer: inner.layer, weight: inner.weight, activation: inner.layer });
  }
  // Not in contrib, whose patterns need a bias, an activation or a following layer (so a conv
  // into a pool, a concat or a reshape kept float weights): every other layer with a weight gets
  // weights_quant and an output range. A layer a batch norm reads is left alone: either the norm
  // is folded for training (this layer only feeds its batch statistics; the `_Fold` copy is
  // quantized) or it is not folded, and quantizing weights the converter will rescale is wrong.
  for (const n of nodes) {
    if (matched.has(n)) continue;
    const m = matchLayer(n);
    if (m && !consumersOf(n).some((c) => BATCH_NORMS.has(c.op))) take({ layer: n, weight: m.weight, activation: n });
  }

  /** Keras `relu(max_value=6)`: Relu → Minimum(·, c) → Maximum(·, 0) is one Relu6 (range after the clip). */
  const isConst = (x: string | undefined) => {
    let n = x === undefined ? undefined : g.producer(x);
    for (let i = 0; n && (n.op === 'Identity' || n.op === 'Cast') && i < 4; i++) n = g.producer(n.dataInputs[0]!);
    return n?.op === 'Const';
  };
  const clipEnd = (act: Node): Node => {
    if (act.op !== 'Relu') return act;
    const c1 = consumersOf(act);
    const mn = c1.length === 1 && c1[0]!.op === 'Minimum' ? c1[0]! : undefined;
    if (!mn || !isConst(mn.dataInputs.find((x) => g.producer(x) !== act))) return act;
    const c2 = consumersOf(mn);
    const mx = c2.length === 1 && c2[0]!.op === 'Maximum' ? c2[0]! : undefined;
    if (!mx || !isConst(mx.dataInputs.find((x) => g.producer(x) !== mn))) return act;
    return mx;
  };

  // ---- sites ----------------------------------------------------------------------------

  const sites: Site[] = [];
  const quantizedTensors = new Set<string>();
  const quantizedOps = new Set<string>();
  const usedPrefixes = new Set<string>();
  const prefixTaken = (p: string): boolean => usedPrefixes.has(p) || g.has(p) || g.has(`${p}/FakeQuantWithMinMaxVars`) || g.has(`${p}/min`);
  const uniquePrefix = (p: string): string => {
    let q = p;
    for (let k = 1; prefixTaken(q); k++) q = `${p}_${k}`;
    usedPrefixes.add(q);
    return q;
  };

  /** contrib's _FollowedByFakeQuant: a fake quant already reads it (through Reshape/Identity). */
  const followedByFakeQuant = (n: Node): boolean => {
    const stack = [n];
    const seen = new Set<Node>();
    while (stack.length) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      for (const c of g.tensorConsumers(x.name)) {
        if (FAKE_QUANTS.has(c.node.op)) return true;
        if (c.node.op === 'Reshape' || c.node.op === 'Identity') stack.push(c.node);
      }
    }
    return false;
  };

  const add = (
    ctx: string,
    name: SiteName,
    producer: Node,
    consumers: Node[],
    kind: Site['kind'],
    extra: { init: [number, number]; layer?: Node; producerScope?: boolean; consumerScope?: boolean; symmetric?: boolean },
  ): boolean => {
    if (scope && extra.producerScope && !producer.name.startsWith(scope)) return false;
    if (scope && extra.consumerScope && consumers.some((c) => !c.name.startsWith(scope))) return false;
    if (quantizedTensors.has(producer.name) || followedByFakeQuant(producer)) return false;
    const weights = kind === 'weights';
    const perChannel = weights && !!opts.perChannel && !!extra.layer && extra.layer.op !== 'MatMul';
    sites.push({
      name,
      prefix: uniquePrefix(ctx ? `${ctx}/${name}` : name),
      tensor: producer.name,
      producer: producer.name,
      producerOp: producer.op,
      consumers: consumers.map((c) => c.name),
      kind,
      tracking: weights ? 'last_value' : 'moving_average',
      numBits: weights ? wBits : aBits,
      narrowRange: weights,
      symmetric: extra.symmetric ?? symmetric,
      perChannel,
      init: extra.init,
      layer: extra.layer?.name,
    });
    quantizedTensors.add(producer.name);
    return true;
  };

  for (const m of layers) {
    const ctx = context(m.layer.name);
    if (m.weight) add(ctx, 'weights_quant', m.weight, consumersOf(m.weight), 'weights', { init: [-6, 6], layer: m.layer, consumerScope: true });
    let addCtx = ctx;
    if (m.bypass) addCtx = context(ctx);
    if (m.activation) {
      const act = opts.clipAsRelu6 === false ? m.activation : clipEnd(m.activation);
      add(addCtx, 'act_quant', act, consumersOf(act), 'activation', { init: [0, 6], layer: m.layer, producerScope: true });
      quantizedOps.add(m.activation.name);
    }
    if (m.bypass && m.biasAdd) {
      add(ctx, 'conv_quant', m.biasAdd, [m.bypass], 'activation', { init: [-6, 6], layer: m.layer, producerScope: true, consumerScope: true });
      quantizedOps.add(m.biasAdd.name);
      const cs = consumersOf(m.bypass);
      if (!cs.some((c) => ACTIVATIONS.has(c.op))) {
        add(addCtx, 'add_quant', m.bypass, cs, 'activation', { init: [-6, 6], layer: m.layer, producerScope: true, consumerScope: true });
        quantizedOps.add(m.bypass.name);
      }
    }
    if (m.postBypass) {
      const cs = consumersOf(m.postBypass);
      if (!cs.some((c) => RELUS.has(c.op))) {
        add(context(m.postBypass.name), 'post_activation_bypass_quant', m.postBypass, cs, 'activation', { init: [-6, 6], layer: m.layer, producerScope: true });
        quantizedOps.add(m.postBypass.name);
      }
    }
  }

  // ---- remaining Add/AddV2/Mul fed (through pass-through ops) by a quantized tensor ----------

  const memo = new Map<Node, boolean>();
  const reachesQuant = (n: Node | undefined, depth = 0): boolean => {
    // Walk back through pass-through ops along input 0.
    while (n && PASS_THROUGH.has(n.op) && !quantizedTensors.has(n.name)) n = dataIn(g, n, 0);
    if (!n) return false;
    if (quantizedTensors.has(n.name) || FAKE_QUANTS.has(n.op) || n.name.includes('delayed_quant/Merge')) return true;
    if (INTERMEDIATE.has(n.op) && depth < 64) return quantizable(n, depth + 1);
    return false;
  };
  const quantizable = (n: Node, depth = 0): boolean => {
    const hit = memo.get(n);
    if (hit !== undefined) return hit;
    memo.set(n, false); // cycle guard
    let ok = false;
    if (INTERMEDIATE.has(n.op) && !quantizedOps.has(n.name)) {
      const cs = consumersOf(n);
      const reluOnly = cs.length === 1 && RELUS.has(cs[0]!.op);
      if (!reluOnly) ok = n.dataInputs.some((_, i) => inPort(n, i) === 0 && reachesQuant(dataIn(g, n, i), depth));
    }
    memo.set(n, ok);
    return ok;
  };
  for (const n of nodes) {
    if (!INTERMEDIATE.has(n.op) || quantizedOps.has(n.name)) continue;
    // Not contrib: its skip list misses Keras' `training/…/gradients/…` ops (tensorflow#27880).
    if (GRADIENT_SCOPE.test(n.name)) continue;
    if (n.attrs.has('_tfpass_fused')) continue;
    memo.clear();
    if (!quantizable(n)) continue;
    if (add(n.name, `activation_${n.op}_quant`, n, consumersOf(n), 'activation', { init: [-6, 6], producerScope: true, symmetric: false })) {
      quantizedOps.add(n.name);
    }
  }

  // ---- outputs of fused normalization blocks (fuse_instance_norm marks them) -------------------

  for (const n of nodes) {
    if (!n.attrs.has('_tfpass_fused') || n.attrs.getString('_tfpass_fused') !== 'output') continue;
    // The block's input needs a range too (Mean/Sub read it); a conv feeding it gets its weights quantized.
    const centered = g.get(`${context(n.name)}/centered`);
    const x = centered ? dataIn(g, centered, 0) : undefined;
    if (x && !quantizedTensors.has(x.name) && inPort(centered!, 0) === 0) {
      const lm = matchLayer(x) ?? matchBiasAdd(x);
      if (lm && !matched.has(lm.layer)) {
        matched.add(lm.layer);
        add(context(lm.layer.name), 'weights_quant', lm.weight!, consumersOf(lm.weight!), 'weights', { init: [-6, 6], layer: lm.layer, consumerScope: true });
      }
      add(context(x.name), 'act_quant', x, consumersOf(x), 'activation', { init: [-6, 6], layer: lm?.layer, producerScope: true });
    }
    if (opts.normInternals) {
      // For converters that run the decomposition op by op: every intermediate that is not
      // derived (Mean takes its input's range) gets a range as well.
      for (const part of ['centered', 'square', 'add', 'rsqrt', 'scale', 'normalized']) {
        const p = g.get(`${context(n.name)}/${part}`);
        if (p && p !== n && p.attrs.has('_tfpass_fused')) add(`${context(n.name)}/${part}`, 'act_quant', p, consumersOf(p), 'activation', { init: [-6, 6], producerScope: true });
      }
    }
    // A Relu right after the block carries the range instead (TOCO copies it to the Relu input).
    const cs = consumersOf(n);
    const out = cs.length === 1 && RELUS.has(cs[0]!.op) ? cs[0]! : n;
    if (quantizedTensors.has(out.name)) continue;
    add(context(n.name), 'act_quant', out, consumersOf(out), 'activation', { init: [-6, 6], producerScope: true });
  }
  return sites;
}
