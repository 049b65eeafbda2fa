/**
 * TOCO's fusions on lowered ops (spec §2.3), each one sweep over the op list with a consumer
 * map built once per sweep. The fused op takes the output tensor of the last op it swallows, so
 * names come out as TOCO's (`Relu`, `add_1`, …).
 */
import type { LGraph, LOp, LTensor } from './ir.js';
import { consumers, producers, sweep, replaceInput } from './ir.js';

const LAYERS = new Set(['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED']);
/** OperatorSupportsFusedActivation in TOCO's tooling_util.cc, restricted to TFLite ops with the option. */
const TAKES_ACTIVATION = new Set(['ADD', 'AVERAGE_POOL_2D', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'DIV', 'FULLY_CONNECTED', 'MAX_POOL_2D', 'MUL', 'SUB']);

function scalarOf(t: LTensor | null | undefined): number | undefined {
  if (!t?.data || t.data.length !== 1 || t.type !== 'float32') return undefined;
  return Number(t.data[0]);
}

function isDiscardable(g: LGraph, t: LTensor): boolean {
  return !g.outputs.includes(t) && !g.inputs.includes(t);
}

/** Hand `victim`'s output to `op` (TOCO: the fused op produces the swallowed op's output array). */
function takeOutput(g: LGraph, op: LOp, victim: LOp): void {
  op.outputs[0] = victim.outputs[0]!;
  victim.dead = true;
}

/**
 * Keras' clip (Minimum(x, 6) → Maximum(·, 0), either order) → RELU6, ±1 → RELU_N1_TO_1
 * (TOCO's IdentifyRelu1 does the latter only; the Relu6 form is ours). A RELU right before a
 * RELU6/RELU_N1_TO_1 that reads only it is dropped (relu6(relu(x)) = relu6(x)).
 */
export function identifyClips(g: LGraph): void {
  const cons = consumers(g);
  const prod = producers(g);
  for (const op of g.ops) {
    if (op.dead || (op.code !== 'MAXIMUM' && op.code !== 'MINIMUM')) continue;
    const outerBound = scalarOf(op.inputs[1]);
    const inner = op.inputs[0] ? prod.get(op.inputs[0]) : undefined;
    if (outerBound === undefined || !inner || inner.dead || (cons.get(op.inputs[0]!)?.length ?? 0) !== 1 || !isDiscardable(g, op.inputs[0]!)) continue;
    const want = op.code === 'MAXIMUM' ? 'MINIMUM' : 'MAXIMUM';
    const innerBound = scalarOf(inner.inputs[1]);
    if (inner.code !== want || innerBound === undefined) continue;
    const lo = op.code === 'MAXIMUM' ? outerBound : innerBound;
    const hi = op.code === 'MAXIMUM' ? innerBound : outerBound;
    const code = lo === 0 && hi === 6 ? 'RELU6' : lo === -1 && hi === 1 ? 'RELU_N1_TO_1' : undefined;
    if (!code) continue;
    inner.dead = true;
    op.code = code;
    op.inputs = [inner.inputs[0]!];
    op.options = undefined;
  }
  sweep(g);
  const cons2 = consumers(g);
  const prod2 = producers(g);
  for (const op of g.ops) {
    if (op.code !== 'RELU6' && op.code !== 'RELU_N1_TO_1') continue;
    const r = op.inputs[0] ? prod2.get(op.inputs[0]) : undefined;
    if (r?.code === 'RELU' && !r.dead && (cons2.get(op.inputs[0]!)?.length ?? 0) === 1 && isDiscardable(g, op.inputs[0]!) && op.code === 'RELU6') {
      r.dead = true;
      op.inputs = [r.inputs[0]!];
    }
  }
  sweep(g);
}

/** A Reshape right before a FULLY_CONNECTED is dropped: the kernel flattens its input itself. */
export function foldReshapeIntoFc(g: LGraph): void {
  const cons = consumers(g);
  const prod = producers(g);
  for (const fc of g.ops) {
    if (fc.code !== 'FULLY_CONNECTED' || !fc.inputs[0]) continue;
    const r = prod.get(fc.inputs[0]);
    if (!r || r.code !== 'RESHAPE' || (cons.get(r.outputs[0]!)?.length ?? 0) !== 1 || !isDiscardable(g, r.outputs[0]!)) continue;
    const inDim = fc.inputs[1]!.shape[1]!;
    const outShape = r.outputs[0]!.shape;
    // Only when the reshape is the flatten the kernel does anyway: [batch, in].
    if (outShape.length !== 2 || outShape[1] !== inDim) continue;
    fc.inputs[0] = r.inputs[0]!;
    r.dead = true;
  }
  sweep(g);
}

/** SPACE_TO_BATCH_ND → conv → BATCH_TO_SPACE_ND (TF's atrous conv) → one dilated conv. */
export function identifyDilatedConv(g: LGraph): void {
  const cons = consumers(g);
  const prod = producers(g);
  for (const b2s of g.ops) {
    if (b2s.code !== 'BATCH_TO_SPACE_ND' || !b2s.inputs[0]) continue;
    const conv = prod.get(b2s.inputs[0]);
    if (!conv || (conv.code !== 'CONV_2D' && conv.code !== 'DEPTHWISE_CONV_2D') || (cons.get(conv.outputs[0]!)?.length ?? 0) !== 1) continue;
    const s2b = conv.inputs[0] ? prod.get(conv.inputs[0]) : undefined;
    if (!s2b || s2b.code !== 'SPACE_TO_BATCH_ND' || (cons.get(s2b.outputs[0]!)?.length ?? 0) !== 1) continue;
    const block = s2b.inputs[1]?.data;
    const block2 = b2s.inputs[1]?.data;
    const pads = s2b.inputs[2]?.data;
    if (!block || !block2 || !pads || block.length !== 2 || Number(block[0]) !== Number(block2[0]) || Number(block[1]) !== Number(block2[1])) continue;
    const anyPad = Array.from(pads as ArrayLike<number | bigint>).some((v) => Number(v) !== 0);
    conv.inputs[0] = s2b.inputs[0]!;
    conv.options = { ...conv.options!, dilationHFactor: Number(block[0]), dilationWFactor: Number(block[1]), padding: anyPad ? 'SAME' : 'VALID' };
    s2b.dead = true;
    takeOutput(g, conv, b2s);
  }
  sweep(g);
}

/** The per-output-channel view of a layer's weights: apply f(channel) to every element. */
function scaleWeights(layer: LOp, factor: (o: number) => number): void {
  const w = layer.inputs[1]!;
  const d = w.data as Float32Array;
  const n = d.length;
  if (layer.code === 'DEPTHWISE_CONV_2D') {
    const out = w.shape[3]!;
    const f = Float32Array.from({ length: out }, (_, o) => factor(o));
    for (let i = 0, o = 0; i < n; i++, o = o + 1 === out ? 0 : o + 1) d[i] = d[i]! * f[o]!;
  } else {
    const inner = n / w.shape[0]!;
    for (let o = 0, i = 0; o < w.shape[0]!; o++) {
      const f = factor(o);
      for (const end = i + inner; i < end; i++) d[i] = d[i]! * f;
    }
  }
}

/**
 * FuseBinaryIntoPrecedingAffine: ADD/SUB/MUL/DIV by a constant per-channel (or scalar) vector
 * right after a conv/depthwise/FC folds into its bias (and weights for MUL/DIV). TOCO's
 * conditions: the layer's output feeds only this op and is not a model output, the layer has no
 * fused activation, its bias is constant and used once; for MUL/DIV the weights are constant
 * (here also: carry no FakeQuant range, which scaling would invalidate); DIV only as divisor.
 */
export function fuseBinaryIntoAffine(g: LGraph): void {
  const cons = consumers(g);
  const prod = producers(g);
  for (const op of g.ops) {
    if (op.dead || !['ADD', 'SUB', 'MUL', 'DIV'].includes(op.code) || op.options?.fusedActivationFunction !== 'NONE') continue;
    let [x, c] = op.inputs;
    if (!x || !c) continue;
    if (!c.data && x.data && (op.code === 'ADD' || op.code === 'MUL')) [x, c] = [c, x];
    if (!c.data || x.data || c.type !== 'float32') continue;
    const layer = prod.get(x);
    if (!layer || !LAYERS.has(layer.code) || layer.options?.fusedActivationFunction !== 'NONE') continue;
    if ((cons.get(x)?.length ?? 0) !== 1 || !isDiscardable(g, x)) continue;
    const bias = layer.inputs[2];
    const w = layer.inputs[1];
    if (!bias?.data || (cons.get(bias)?.length ?? 0) !== 1 || !w?.data) continue;
    const channels = bias.shape[0]!;
    const cv = c.data as Float32Array;
    // The constant must broadcast along the output channel only: a scalar or [..1.., channels].
    if (cv.length !== 1 && (cv.length !== channels || c.shape[c.shape.length - 1] !== channels)) continue;
    const at = (o: number) => (cv.length === 1 ? cv[0]! : cv[o]!);
    if ((op.code === 'MUL' || op.code === 'DIV') && (w.range || (cons.get(w)?.length ?? 0) !== 1)) continue;
    const b = bias.data as Float32Array;
    for (let o = 0; o < channels; o++) {
      if (op.code === 'ADD') b[o] = b[o]! + at(o);
      else if (op.code === 'SUB') b[o] = b[o]! - at(o);
      else if (op.code === 'MUL') b[o] = b[o]! * at(o);
      else b[o] = b[o]! / at(o);
    }
    if (op.code === 'MUL') scaleWeights(layer, at);
    if (op.code === 'DIV') scaleWeights(layer, (o) => 1 / at(o));
    takeOutput(g, layer, op);
    // The next op (e.g. a BN's ADD after its MUL) now sees the layer as its producer.
    prod.set(layer.outputs[0]!, layer);
    cons.set(layer.outputs[0]!, cons.get(op.outputs[0]!) ?? []);
  }
  sweep(g);
}

/** FuseActivationFunctions: RELU/RELU6/RELU_N1_TO_1 into a producer that has the option. */
export function fuseActivations(g: LGraph): void {
  const cons = consumers(g);
  const prod = producers(g);
  for (const op of g.ops) {
    if (op.dead || !['RELU', 'RELU6', 'RELU_N1_TO_1'].includes(op.code) || !op.inputs[0]) continue;
    const x = op.inputs[0];
    const p = prod.get(x);
    if (!p || !TAKES_ACTIVATION.has(p.code) || !p.options || p.options.fusedActivationFunction !== 'NONE') continue;
    if ((cons.get(x)?.length ?? 0) !== 1 || !isDiscardable(g, x)) continue;
    p.options = { ...p.options, fusedActivationFunction: op.code };
    takeOutput(g, p, op);
    prod.set(p.outputs[0]!, p);
  }
  sweep(g);
}

/** Leftover BN arithmetic (TOCO keeps it as MUL/ADD, spec §2.3), named once per batch norm. */
export function leftoverBatchNorms(g: LGraph): string[] {
  return [...new Set(g.ops.filter((o) => o.fromBatchNorm).map((o) => o.node))];
}

/** Ops nothing reads (after fusions and folding), removed back from the outputs. */
export function removeDeadOps(g: LGraph): void {
  const live = new Set<LTensor>(g.outputs);
  for (let i = g.ops.length - 1; i >= 0; i--) {
    const op = g.ops[i]!;
    if (op.outputs.some((t) => live.has(t))) for (const t of op.inputs) t && live.add(t);
    else op.dead = true;
  }
  sweep(g);
}

export function substitute(g: LGraph, subst: Map<LTensor, LTensor>): void {
  if (!subst.size) return;
  const resolve = (t: LTensor) => {
    let r = t;
    for (let i = 0; i < 64 && subst.has(r); i++) r = subst.get(r)!;
    return r;
  };
  for (const op of g.ops) for (const t of op.inputs) if (t && subst.has(t)) replaceInput(op, t, resolve(t));
  g.outputs = g.outputs.map(resolve);
}
