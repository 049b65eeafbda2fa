/**
 * `--post_training_quantize` (weights only), as TF 1.15's tools/optimize/quantize_weights does
 * it on a float model: large constant weights of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
 * EMBEDDING_LOOKUP (input 1) and GATHER (input 0) become int8, symmetric per-tensor (zero point
 * 0, scale = max|w|/127, values in [−127,127]); activations stay float32. CONV_2D and
 * FULLY_CONNECTED run them in hybrid kernels (versions 2 and 3); every other consumer reads a
 * float copy through a DEQUANTIZE (version 2) named `<weights>_dequantize`, placed before its
 * first consumer. Weights smaller than `minElements` (1024, TF's default) stay float.
 */
import type { Model, Operator } from '@tfpass/tflite';
import type { LoweredModel, Note } from './lowered.js';
import { QuantGraph, int8Bytes } from './quant/graph.js';

const f32 = Math.fround;

/** Which inputs hold weights, by builtin. */
const WEIGHT_INPUTS: Record<string, number[]> = {
  CONV_2D: [1],
  DEPTHWISE_CONV_2D: [1],
  FULLY_CONNECTED: [1],
  EMBEDDING_LOOKUP: [1],
  GATHER: [0],
};
/** Kernels with a hybrid (float activations × int8 weights) path in 1.15, and the version they need. */
const HYBRID_VERSION: Record<string, number> = { CONV_2D: 2, FULLY_CONNECTED: 3 };
/** Versions 1.15 stamps on every opcode of these builtins once weights are int8. */
const INT8_WEIGHT_VERSION: Record<string, number> = { CONV_2D: 2, FULLY_CONNECTED: 3, EMBEDDING_LOOKUP: 3 };

export interface QuantizeWeightsOptions {
  /** Weights with fewer elements stay float (TF's `weights_min_num_elements`, default 1024). */
  minElements?: number;
}

/**
 * TF's SymmetricQuantizeFloats in float32: scale = range/127 with range = max(|min|,|max|),
 * q = round_half_away(x · (127/range)) clamped to ±127; an all-zero tensor gets scale 1.
 */
export function symmetricQuantizeFloats(x: Float32Array): { values: number[]; scale: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const range = f32(Math.max(Math.abs(lo), Math.abs(hi)));
  if (!(range > 0)) return { values: new Array<number>(x.length).fill(0), scale: 1 };
  const inv = f32(127 / range);
  const values = new Array<number>(x.length);
  for (let i = 0; i < x.length; i++) {
    const p = f32(x[i]! * inv);
    values[i] = Math.min(127, Math.max(-127, Math.sign(p) * Math.floor(Math.abs(p) + 0.5)));
  }
  return { values, scale: f32(range / 127) };
}

export function quantizeWeights(model: Model, options: QuantizeWeightsOptions = {}): { model: Model; notes: Note[] } {
  const minElements = options.minElements ?? 1024;
  const lowered: LoweredModel = { model, ranges: new Map(), roles: new Map(), sourceNode: new Map(), notes: [] };
  const g = new QuantGraph(lowered);
  const { sg } = g;
  const chosen = new Set<number>();
  for (const op of sg.operators) {
    for (const k of WEIGHT_INPUTS[g.builtin(op)] ?? []) {
      const t = op.inputs[k];
      if (t === undefined || t < 0 || !g.isFloat(t) || !g.isConst(t)) continue;
      if (g.tensor(t).shape.reduce((a, b) => a * b, 1) < minElements) continue;
      chosen.add(t);
    }
  }
  for (const t of chosen) {
    const { values, scale } = symmetricQuantizeFloats(g.floatData(t));
    g.setData(t, int8Bytes(values));
    const tensor = g.tensor(t);
    tensor.type = 'int8';
    tensor.quantization = { scale: [scale], zeroPoint: [0] };
  }
  // A hybrid kernel takes int8 weights only when every weight input of the op is int8.
  const hybrid = (op: Operator, k: number): boolean => {
    const b = g.builtin(op);
    return b in HYBRID_VERSION && (WEIGHT_INPUTS[b] ?? []).includes(k) && (WEIGHT_INPUTS[b] ?? []).every((i) => op.inputs[i]! < 0 || g.tensor(op.inputs[i]!).type === 'int8');
  };
  const inserts: { at: number; op: Operator }[] = [];
  for (const t of chosen) {
    // consumers index: one walk per consuming op, not over the whole model per tensor
    const users = [...new Set(g.consumers[t])].flatMap((at) => sg.operators[at]!.inputs.flatMap((x, k) => (x === t ? [{ op: sg.operators[at]!, at, k }] : []))).filter((u) => !hybrid(u.op, u.k));
    const isOutput = sg.outputs.includes(t);
    if (!users.length && !isOutput) continue;
    const tensor = g.tensor(t);
    const deq = g.addTensor({ name: `${tensor.name}_dequantize`, type: 'float32', shape: [...tensor.shape], buffer: 0 });
    for (const u of users) u.op.inputs[u.k] = deq;
    sg.outputs = sg.outputs.map((o) => (o === t ? deq : o));
    inserts.push({ at: users.length ? Math.min(...users.map((u) => u.at)) : sg.operators.length, op: { opcodeIndex: g.opcode('DEQUANTIZE', 2), inputs: [t], outputs: [deq] } });
  }
  // Insert each DEQUANTIZE before its first consumer (operators stay topologically sorted).
  const before = new Map<number, Operator[]>();
  for (const i of inserts) before.set(i.at, [...(before.get(i.at) ?? []), i.op]);
  const ops: Operator[] = [];
  sg.operators.forEach((op, i) => ops.push(...(before.get(i) ?? []), op));
  ops.push(...(before.get(sg.operators.length) ?? []));
  sg.operators = ops;
  if (chosen.size) {
    for (const c of g.model.operatorCodes) if (c.builtin in INT8_WEIGHT_VERSION) c.version = Math.max(c.version, INT8_WEIGHT_VERSION[c.builtin]!);
    g.notes.push({ level: 'info', message: `post-training weight quantization: ${chosen.size} weight tensor(s) int8 (symmetric per-tensor), ${inserts.length} behind DEQUANTIZE` });
  }
  g.reindex();
  return { model: g.model, notes: g.notes };
}
