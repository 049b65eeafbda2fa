import { isVariableOp, parseInput, type Graph, type Node } from '@tfpass/core';
import { FAKE_QUANTS, QUANTIZABLE, type Site } from './plan.js';

// The seed's silent pitfalls of create_training_graph / calibration, found statically so the CLI
// can warn (or refuse with --strict) before writing anything. Every message is one line.

const NORMS = new Set(['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3', 'BatchNormWithGlobalNormalization']);
const SOURCES = new Set(['Placeholder', 'PlaceholderWithDefault']);
const BIASES = new Set(['BiasAdd', 'Add', 'AddV2']);
const SHIFTS = new Set(['Add', 'AddV2', 'BiasAdd', 'Sub']);
/** Not worth naming in an op summary (the saver quantize adds included). */
const BOOKKEEPING = new Set(['Const', 'Identity', 'NoOp', 'SaveV2', 'RestoreV2']);

/** A batch norm still applied after a layer instead of being folded into its weights. */
export interface UnfoldedNorm {
  /** The layer (Conv2D/DepthwiseConv2dNative/MatMul) whose output it normalizes. */
  layer: string;
  /** The norm node (FusedBatchNorm*) or the Mul that scales the layer's output. */
  norm: string;
  /** `FusedBatchNormV3` etc., or `Mul` for an unfused (Keras, tf.layers) norm. */
  op: string;
}

/** Derived from constants and variables only (no graph input): a per-channel parameter. */
function staticOf(g: Graph): (t: string) => boolean {
  const memo = new Map<string, boolean>();
  const walk = (t: string, depth = 0): boolean => {
    const name = parseInput(t).node;
    const hit = memo.get(name);
    if (hit !== undefined) return hit;
    // Norm parameters are a few ops deep; a longer path is the data path (and deep graphs would overflow).
    if (depth > 32) return false;
    memo.set(name, false); // cycle guard
    const n = g.get(name);
    let r = false;
    if (n) {
      if (n.op === 'Const' || isVariableOp(n.op)) r = true;
      else if (SOURCES.has(n.op) || FAKE_QUANTS.has(n.op) || n.dataInputs.length === 0) r = false;
      else r = n.dataInputs.every((i) => walk(i, depth + 1));
    }
    memo.set(name, r);
    return r;
  };
  return (t: string) => walk(t);
}

/**
 * Batch norms that sit after a layer unfolded: FusedBatchNorm* fed by a layer (directly or through
 * Identity / a bias add), and the unfused form `layer [→ bias] → Mul(·, scale) → Add(·, shift)`
 * with static scale and shift (Keras and tf.layers in inference mode; `fold_constants
 * fold_batch_norms` folds it). A norm after an activation is not foldable and not listed.
 */
export function unfoldedBatchNorms(g: Graph): UnfoldedNorm[] {
  const found: UnfoldedNorm[] = [];
  const isStatic = staticOf(g);
  const layerBehind = (t: string): Node | undefined => {
    let n = g.producer(t);
    for (let i = 0; n && i < 3; i++) {
      if (QUANTIZABLE.has(n.op)) return n;
      if (n.op === 'Identity' && n.dataInputs[0]) n = g.producer(n.dataInputs[0]);
      else if (BIASES.has(n.op) && n.dataInputs.length === 2) {
        const x = n.dataInputs.find((s) => !isStatic(s));
        n = x && n.dataInputs.some((s) => isStatic(s)) ? g.producer(x) : undefined;
      } else return undefined;
    }
    return n && QUANTIZABLE.has(n.op) ? n : undefined;
  };
  const only = (t: string): Node | undefined => {
    const cs = [...new Set(g.tensorConsumers(t).map((c) => c.node))];
    return cs.length === 1 ? cs[0] : undefined;
  };
  for (const n of g.nodes()) {
    if (NORMS.has(n.op)) {
      if (!n.dataInputs[0] || g.tensorConsumers(n.name).length === 0) continue;
      const layer = layerBehind(n.dataInputs[0]);
      if (layer) found.push({ layer: layer.name, norm: n.name, op: n.op });
      continue;
    }
    if (!QUANTIZABLE.has(n.op)) continue;
    let x: Node | undefined = only(n.name);
    if (x && BIASES.has(x.op) && x.dataInputs.length === 2 && x.dataInputs.some((s) => isStatic(s))) x = only(x.name);
    if (!x || x.op !== 'Mul' || x.dataInputs.length !== 2) continue;
    if (x.dataInputs.filter((s) => isStatic(s)).length !== 1) continue;
    const shift = only(x.name);
    if (!shift || !SHIFTS.has(shift.op) || shift.dataInputs.length !== 2 || !shift.dataInputs.some((s) => isStatic(s))) continue;
    found.push({ layer: n.name, norm: x.name, op: 'Mul' });
  }
  return found;
}

/** One line: how many norms, of which kind, after which layer ops, with an example. */
export function describeUnfolded(g: Graph, norms: readonly UnfoldedNorm[]): string {
  const ops = [...new Set(norms.map((u) => u.op))];
  const kinds = [...ops.filter((o) => o !== 'Mul'), ...(ops.includes('Mul') ? ['unfused Mul/Add'] : [])].join(', ');
  const layers = [...new Set(norms.map((u) => g.get(u.layer)?.op ?? 'layer'))].join('/');
  const e = norms[0]!;
  return `${norms.length} unfolded batch norm${norms.length === 1 ? '' : 's'} (${kinds} after ${layers}; e.g. ${e.layer} -> ${e.norm})`;
}

export type PitfallKind = 'unfolded-batch-norms' | 'no-fake-quants' | 'frozen' | 'already-quantized';

export interface Pitfall {
  kind: PitfallKind;
  /** The cause, one line. */
  message: string;
  /** What fixes it: fold batch norms first, or unfreeze first. */
  fix?: 'fold' | 'unfreeze';
  /** False for facts worth saying that are not mistakes (an already quantized graph). */
  warn: boolean;
}

/** Why the planner found no site: no layer at all, none in scope, all quantized already, or the norms. */
function noSiteCause(g: Graph, opts: { scope?: string }, unfolded: readonly UnfoldedNorm[], head = 'inserted 0 fake quants', done = 'nothing to add'): Pitfall {
  const layers = g.nodes().filter((n) => QUANTIZABLE.has(n.op));
  if (!layers.length) {
    const ops = new Map<string, number>();
    for (const n of g.nodes()) if (!BOOKKEEPING.has(n.op)) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
    const top = [...ops].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([o, k]) => `${o}×${k}`).join(' ');
    return { kind: 'no-fake-quants', warn: true, message: `${head}: the graph has no Conv2D, DepthwiseConv2dNative or MatMul, the only layers create_training_graph quantizes (its ops: ${top || 'none'})` };
  }
  let scope = opts.scope ?? '';
  if (scope && !scope.endsWith('/')) scope += '/';
  if (scope && !layers.some((n) => n.name.startsWith(scope))) {
    return { kind: 'no-fake-quants', warn: true, message: `${head}: no Conv2D/DepthwiseConv2dNative/MatMul is under --scope ${opts.scope} (e.g. ${layers[0]!.name})` };
  }
  if (unfolded.length) {
    return { kind: 'no-fake-quants', warn: true, fix: 'fold', message: `${head}: the graph has ${describeUnfolded(g, unfolded)}, and a layer a batch norm reads is not quantized before the norm is folded` };
  }
  const fqs = g.nodes().filter((n) => FAKE_QUANTS.has(n.op));
  if (fqs.length) {
    return { kind: 'already-quantized', warn: false, message: `${head}: the graph is already quantized (${fqs.length} fake quants cover its ${layers.length} layer${layers.length === 1 ? '' : 's'}); ${done}` };
  }
  const e = layers[0]!;
  const w = g.producer(e.dataInputs[1] ?? '');
  return { kind: 'no-fake-quants', warn: true, message: `${head}: none of the ${layers.length} layers has constant or variable weights (e.g. ${e.name} reads ${w ? `${w.op} ${w.name}` : 'nothing'} as weights)` };
}

export interface QuantizePitfallInput {
  /** The rewritten graph. */
  graph: Graph;
  /** unfoldedBatchNorms() of the graph before the rewrite. */
  unfolded: readonly UnfoldedNorm[];
  sites: readonly Site[];
  /** Layers whose batch norms the rewrite folded itself. */
  folded: readonly string[];
  /** create_training_graph (true) or create_eval_graph. */
  training: boolean;
  /** Trainable variables the written MetaGraphDef lists. */
  trainable: number;
  scope?: string;
}

/**
 * What is wrong with a quantize result: fake quants placed around unfolded batch norms (or none
 * at all), and a training graph with nothing to train.
 */
export function quantizePitfalls(p: QuantizePitfallInput): Pitfall[] {
  const out: Pitfall[] = [];
  const done = new Set(p.folded);
  const unfolded = p.unfolded.filter((u) => !done.has(u.layer));
  if (!p.sites.length) out.push(noSiteCause(p.graph, p, unfolded));
  else if (unfolded.length) {
    out.push({
      kind: 'unfolded-batch-norms',
      warn: true,
      fix: 'fold',
      message: `inserted ${p.sites.length} fake quants in the wrong places: the graph has ${describeUnfolded(p.graph, unfolded)}, so ranges sit on the raw layer outputs and on weights the norm rescales, not on the folded graph TOCO converts`,
    });
  }
  if (p.training && p.trainable === 0) {
    const weights = p.sites.filter((s) => s.kind === 'weights').length;
    const layers = p.graph.nodes().filter((n) => QUANTIZABLE.has(n.op)).length;
    if (layers) {
      out.push({
        kind: 'frozen',
        warn: true,
        fix: 'unfreeze',
        message: `the graph is frozen: its weights are constants (${weights || layers} layer weight${(weights || layers) === 1 ? '' : 's'}, 0 trainable variables), so training has nothing to update`,
      });
    }
  }
  return out;
}

/** Why ranges calibrated on this graph will not fit the graph TOCO converts (unfolded norms). */
export function calibrationPitfalls(g: Graph, planned: number): Pitfall[] {
  const unfolded = unfoldedBatchNorms(g);
  if (unfolded.length) {
    const why: string[] = [];
    if (unfolded.some((u) => u.op !== 'Mul')) why.push('the layers a fused norm reads get no range');
    if (unfolded.some((u) => u.op === 'Mul')) why.push("ranges are measured before the norms' scale and shift");
    return [{
      kind: 'unfolded-batch-norms',
      warn: true,
      fix: 'fold',
      message: `calibrating ${planned} range${planned === 1 ? '' : 's'} on a graph with ${describeUnfolded(g, unfolded)}: ${why.join(' and ')}, so the ranges will not match the folded graph TOCO converts`,
    }];
  }
  if (planned === 0) {
    return [noSiteCause(g, {}, [], 'no tensor to calibrate', 'its fake quants already hold the ranges')];
  }
  return [];
}
