/**
 * `--inference_type=INT8`: full-integer int8 as today's converter writes it (the TFLite int8
 * spec): asymmetric per-tensor int8 activations, symmetric narrow-range weights (per-channel on
 * axis 0 for CONV_2D, 3 for DEPTHWISE_CONV_2D; FULLY_CONNECTED per-channel on axis 0 when its
 * range is per-channel, else per-tensor), int32 biases with s_in·s_w[c], same-scale and
 * fixed-scale outputs, a requantizing QUANTIZE where a same-scale constraint meets a different
 * range, and QUANTIZE/DEQUANTIZE (or uint8/int8 tensors) at the model boundary.
 */
import type { Model, Operator, Tensor } from '@tfpass/tflite';
import type { LoweredModel, Note, TensorRange } from './lowered.js';
import { QuantGraph, int32Bytes, int8Bytes } from './quant/graph.js';
import { hardcodeMinMax } from './quant/derive.js';
import { quantOp, versionContext } from './quant/ops.js';
import { QuantizationError } from './quant/errors.js';
import type { QuantizeOptions } from './quantize.js';
import { applyCommonRanges, applyDefaultRanges, checkRanges, constantRange } from './quantize-ranges.js';
import { int8Params, quantizeBias, quantizePerChannel, quantizeValues, nudgeFakeQuant, fakeQuantValues, type QuantParams } from './quantize-params.js';

const f32 = Math.fround;

/** Per-tensor or per-axis params of one tensor. */
interface Params {
  scales: number[];
  zeroPoints: number[];
  axis?: number;
}

const perTensor = (p: QuantParams): Params => ({ scales: [p.scale], zeroPoints: [p.zeroPoint] });
const sameParams = (a: Params, b: Params): boolean =>
  a.scales.length === b.scales.length && a.scales.every((s, i) => f32(s) === f32(b.scales[i]!) && a.zeroPoints[i] === b.zeroPoints[i]);

const WEIGHT_AXIS: Record<string, number> = { conv: 0, depthwise: 3, fc: 0 };

export function quantizeInt8(lowered: LoweredModel, options: QuantizeOptions): { model: Model; notes: Note[] } {
  const g = new QuantGraph(lowered);
  const reciprocals = divBySqrtAsMulByRsqrt(g);
  applyCommonRanges(g, options, -128, 127);
  for (const t of reciprocals) rsqrtRange(g, t);
  hardcodeMinMax(g, { changeConcatInputRanges: options.changeConcatInputRanges, fixed: 'i8' });
  // TOCO: defaults fill what the first HardcodeMinMax left, then derived ranges win again.
  if (applyDefaultRanges(g, options)) hardcodeMinMax(g, { fixed: 'i8' });
  checkRanges(g, (b) => !!quantOp(b));

  const params = new Map<number, Params>();
  const paramsOf = (t: number): Params => {
    const p = params.get(t);
    if (!p) throw new QuantizationError(`internal: no quantization params for '${g.describe(t)}' yet`);
    return p;
  };
  const own = (t: number): Params => {
    const r = g.ranges.get(t);
    if (!r) throw new QuantizationError(`Array ${g.describe(t)} does not have MinMax information, and is not a constant array. Cannot proceed with quantization.`);
    return perTensor(activationParams(r.min, r.max, false));
  };
  const ops: Operator[] = [];
  /** Requantize `from` params into a new tensor (or into `into`), via QUANTIZE int8 → int8. */
  const requantize = (src: number, p: Params, suffix: string): number => {
    const t = g.tensor(src);
    const dst = g.addTensor({ name: `${t.name}/${suffix}`, type: 'float32', shape: [...t.shape], buffer: newActivationBuffer(g) });
    params.set(dst, p);
    return dst;
  };

  for (const t of g.sg.inputs) if (g.isFloat(t) && !params.has(t)) params.set(t, own(t));

  for (const op of g.sg.operators) {
    const builtin = g.builtin(op);
    const q = quantOp(builtin)!;
    const before: Operator[] = [];
    const after: Operator[] = [];
    // Weights and bias of affine ops.
    if (q.affine) quantizeAffine(g, op, q.affine, params, paramsOf);
    op.inputs.forEach((t, k) => {
      if (t < 0 || !g.isFloat(t) || params.has(t) || (q.affine && k <= 2 && k >= 1)) return;
      if (g.isConst(t)) quantizeConstant(g, t, op, params);
      else params.set(t, own(t));
    });
    const data = op.inputs[q.data ?? 0] ?? -1;
    op.outputs.forEach((out, k) => {
      if (out < 0 || !g.isFloat(out)) return;
      let p: Params;
      if (q.i8Out && typeof q.i8Out === 'object') p = perTensor({ scale: q.i8Out.scale, zeroPoint: q.i8Out.zeroPoint, qmin: -128, qmax: 127 });
      else if (q.i8Out === 'same' && !q.i8SameInputs && data >= 0 && params.has(data)) {
        p = params.get(data)!;
        const mine = g.ranges.has(out) ? own(out) : p;
        if (!sameParams(mine, p)) {
          // The output has a range of its own (a FakeQuant after a same-scale op): the op writes
          // its input's params, a QUANTIZE moves them onto the output's grid.
          const mid = requantize(out, p, 'requantize_in');
          op.outputs[k] = mid;
          after.push(quantizeOp(g, mid, out));
          p = mine;
        }
      } else p = own(out);
      params.set(out, p);
    });
    if (q.i8SameInputs) {
      const p = params.get(op.outputs[0]!)!;
      op.inputs.forEach((t, k) => {
        if (t < 0 || !g.isFloat(t) || sameParams(paramsOf(t), p)) return;
        const mid = requantize(t, p, `requantized_for_${g.tensor(op.outputs[0]!).name}`);
        before.push(quantizeOp(g, t, mid));
        op.inputs[k] = mid;
      });
    }
    ops.push(...before, op, ...after);
  }
  g.sg.operators = ops;

  // Types and params on every quantized tensor (biases were typed by quantizeAffine).
  for (const [t, p] of params) {
    const tensor = g.tensor(t);
    if (tensor.type === 'int32') continue;
    tensor.type = 'int8';
    tensor.quantization = quantization(p);
  }

  boundaries(g, options, params);
  g.reindex();

  g.setVersions((op, builtin) => {
    if (builtin === 'QUANTIZE') return 2;
    if (builtin === 'DEQUANTIZE') return 2;
    const q = quantOp(builtin);
    if (!q) return undefined;
    if (typeof q.i8Version === 'number') return q.i8Version;
    const a = params.get(op.inputs[0]!);
    const b = params.get(op.inputs[1]!);
    const o = params.get(op.outputs[0]!);
    return q.i8Version(versionContext(op, !!(a && b && o && (f32(a.scales[0]!) * f32(b.scales[0]!)) / f32(o.scales[0]!) >= 1)));
  });
  return { model: g.model, notes: g.notes };
}

/**
 * x / sqrt(v) → x · rsqrt(v) (a raw instance or layer norm): TFLite has no int8 SQRT or DIV
 * kernel, but RSQRT and MUL. Only where the SQRT feeds nothing else. The rsqrt tensor is renamed
 * `<sqrt>/rsqrt` and loses the SQRT's range (its values are the reciprocals); returns those tensors.
 */
function divBySqrtAsMulByRsqrt(g: QuantGraph): number[] {
  const out: number[] = [];
  for (const div of g.sg.operators) {
    if (g.builtin(div) !== 'DIV') continue;
    const d = div.inputs[1]!;
    const p = d >= 0 ? g.producer[d]! : -1;
    const sqrt = p >= 0 ? g.sg.operators[p]! : undefined;
    if (!sqrt || g.builtin(sqrt) !== 'SQRT' || g.consumers[d]!.length !== 1 || g.sg.outputs.includes(d)) continue;
    sqrt.opcodeIndex = g.opcode('RSQRT', 1);
    div.opcodeIndex = g.opcode('MUL', 1);
    div.builtinOptions = { type: 'MulOptions', fusedActivationFunction: div.builtinOptions?.fusedActivationFunction ?? 'NONE' };
    const t = g.tensor(d);
    const was = t.name;
    t.name = `${was}/rsqrt`;
    g.ranges.delete(d);
    g.notes.push({ level: 'info', node: g.opName(g.producer[div.outputs[0]!]!), message: `${g.tensor(div.outputs[0]!).name}: x / sqrt(v) computed as x · rsqrt(v) ('${t.name}'), as TFLite has no int8 SQRT or DIV kernel` });
    out.push(d);
  }
  return out;
}

/**
 * Range of a `<sqrt>/rsqrt` tensor from its input's: the smallest non-zero int8 input is one step
 * s = (max − min)/255, so the outputs lie in [0, 1/√s] (an input of 0 saturates, as the kernel
 * treats it as the top of the range). No data needed; a ranges-file entry for the name wins.
 */
function rsqrtRange(g: QuantGraph, t: number): void {
  if (g.ranges.has(t)) return;
  const x = g.sg.operators[g.producer[t]!]!.inputs[0]!;
  const r = g.ranges.get(x);
  if (!r || !(r.max > r.min)) return; // reported by checkRanges as the input's missing range
  g.ranges.set(t, { min: 0, max: 1 / Math.sqrt((r.max - r.min) / 255), numBits: 8, narrowRange: false, source: `1/sqrt of ${g.describe(x)}'s range` });
}

/** int8 params of a range; a [0, 0] range gets scale 1 (as the MLIR converter), never scale 0. */
function activationParams(min: number, max: number, narrowRange: boolean): QuantParams {
  const p = int8Params(min, max, narrowRange);
  return p.scale === 0 ? { ...p, scale: 1, zeroPoint: 0 } : p;
}

function quantization(p: Params): Tensor['quantization'] {
  return { scale: p.scales.map((s) => f32(s)), zeroPoint: [...p.zeroPoints], ...(p.axis !== undefined ? { quantizedDimension: p.axis } : {}) };
}

function newActivationBuffer(g: QuantGraph): number {
  g.model.buffers.push({});
  return g.model.buffers.length - 1;
}

function quantizeOp(g: QuantGraph, from: number, to: number): Operator {
  return { opcodeIndex: g.opcode('QUANTIZE', 2), inputs: [from], outputs: [to] };
}

/** Symmetric weights (re-deriving asymmetric QAT ranges, with a note) and per-channel int32 bias. */
function quantizeAffine(g: QuantGraph, op: Operator, kind: 'conv' | 'depthwise' | 'fc', params: Map<number, Params>, paramsOf: (t: number) => Params): void {
  const [x, w, b] = op.inputs as [number, number, number | undefined];
  if (!params.has(x) && g.isFloat(x)) {
    const r = g.ranges.get(x);
    if (r) params.set(x, perTensor(activationParams(r.min, r.max, false)));
  }
  if (!params.has(w) && g.isFloat(w) && g.isConst(w)) {
    const t = g.tensor(w);
    const axis = WEIGHT_AXIS[kind]!;
    const channels = t.shape[axis]!;
    const data = g.floatData(w);
    const r = g.ranges.get(w);
    let mins: number[];
    let maxs: number[];
    let perAxis: boolean;
    if (r?.perChannel) {
      if (r.perChannel.axis !== axis || r.perChannel.min.length !== channels) {
        throw new QuantizationError(`weights '${t.name}': per-channel range on axis ${r.perChannel.axis} with ${r.perChannel.min.length} values, ${kind} weights need axis ${axis} with ${channels}`);
      }
      mins = r.perChannel.min;
      maxs = r.perChannel.max;
      perAxis = true;
    } else if (r) {
      mins = [r.min];
      maxs = [r.max];
      perAxis = false;
    } else {
      // No FakeQuant (a float graph with a ranges file): per-channel ranges from the data, as the
      // post-training quantizer does (per-tensor for FC, as 1.15-era tooling).
      perAxis = kind !== 'fc';
      ({ mins, maxs } = channelExtremes(data, t.shape, axis, perAxis ? channels : 1));
    }
    // An all-zero channel (a pruned filter) gets scale 1 as the MLIR converter gives it: weights
    // quantize to 0 either way, but its bias keeps a usable scale s_in·1 (scale 0 would drop it).
    const scales = mins.map((mn, c) => Math.max(Math.abs(mn), Math.abs(maxs[c]!)) / 127 || 1);
    widenForBias(g, t, scales, perAxis, b !== undefined && b >= 0 && g.isConst(b) ? g.floatData(b) : undefined, params.get(x)?.scales[0]);
    const qp: QuantParams[] = scales.map((s) => ({ scale: s, zeroPoint: 0, qmin: -127, qmax: 127 }));
    const q = perAxis ? quantizePerChannel(data, t.shape, axis, qp) : quantizeValues(data, qp[0]!);
    if (r) noteSymmetric(g, t, data, q, qp, r, perAxis, axis);
    g.setData(w, int8Bytes(q));
    params.set(w, { scales, zeroPoints: scales.map(() => 0), ...(perAxis ? { axis } : {}) });
  }
  if (b !== undefined && b >= 0 && g.isFloat(b) && g.isConst(b)) {
    const sIn = paramsOf(x).scales[0]!;
    const sW = paramsOf(w).scales;
    const scales = sW.map((s) => sIn * s);
    g.setData(b, int32Bytes(quantizeBias(g.floatData(b), scales)));
    const t = g.tensor(b);
    t.type = 'int32';
    t.quantization = { scale: scales.map((s) => f32(s)), zeroPoint: scales.map(() => 0), quantizedDimension: 0 };
    params.set(b, { scales, zeroPoints: scales.map(() => 0) });
  }
}

/**
 * A bias must fit int32 at scale s_in·s_w[c]. BN folding leaves near-dead channels with tiny
 * weights (scales ~1e-14) and an ordinary bias, whose int32 value would saturate; such a
 * channel's weight scale is raised until the bias fits (its weights then round to ~0, which
 * they nearly are), as the post-training quantizer does. Said in a note.
 */
function widenForBias(g: QuantGraph, t: Tensor, scales: number[], perAxis: boolean, bias: Float32Array | undefined, sIn: number | undefined): void {
  if (!bias || !sIn) return;
  const limit = 2 ** 31 - 1;
  let widened = 0;
  for (let c = 0; c < bias.length; c++) {
    const k = perAxis ? c : 0;
    const need = Math.abs(bias[c]!) / (sIn * limit);
    if (scales[k]! < need) {
      scales[k] = need * (1 + 1e-6);
      widened++;
    }
  }
  if (widened) g.notes.push({ level: 'info', node: t.name, message: `weights ${t.name}: ${widened} channel scale(s) raised so their bias fits int32 at s_in·s_w (near-zero weights next to a normal bias)` });
}

function channelExtremes(data: Float32Array, shape: readonly number[], axis: number, channels: number): { mins: number[]; maxs: number[] } {
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const mins = new Array<number>(channels).fill(0);
  const maxs = new Array<number>(channels).fill(0);
  for (let i = 0; i < data.length; i++) {
    const c = channels === 1 ? 0 : Math.floor(i / inner) % channels;
    if (data[i]! < mins[c]!) mins[c] = data[i]!;
    if (data[i]! > maxs[c]!) maxs[c] = data[i]!;
  }
  return { mins, maxs };
}

/**
 * The int8 kernels need weight zero point 0: an asymmetric QAT range is re-derived as symmetric.
 * Say so, with the largest change of a dequantized weight against the trained fake-quant value.
 */
function noteSymmetric(g: QuantGraph, t: Tensor, data: Float32Array, q: number[], qp: QuantParams[], r: TensorRange, perAxis: boolean, axis: number): void {
  const mins = r.perChannel?.min ?? [r.min];
  const maxs = r.perChannel?.max ?? [r.max];
  if (mins.every((mn, c) => mn === -maxs[c]!)) return;
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = mins.length;
  const fq = mins.map((mn, c) => nudgeFakeQuant(mn, maxs[c]!, r.numBits, r.narrowRange));
  let worst = 0;
  let worstLsb = 0;
  for (let i = 0; i < data.length; i++) {
    const c = perAxis ? Math.floor(i / inner) % channels : 0;
    const trained = fakeQuantValues([data[i]!], fq[c]!)[0]!;
    const now = q[i]! * qp[c]!.scale;
    const d = Math.abs(now - trained);
    if (d > worst) {
      worst = d;
      worstLsb = d / fq[c]!.scale;
    }
  }
  g.notes.push({
    level: 'info',
    node: t.name,
    message: `weights ${t.name}: asymmetric FakeQuant range${perAxis ? 's' : ''} re-derived as symmetric (zero point 0, max(|min|,|max|)/127) for the int8 kernels; largest change of a weight: ${worst.toPrecision(3)} (${worstLsb.toFixed(2)} LSB of the trained scale)`,
  });
}

/** A float constant that is not a weight or bias (an ADD/MUL operand): asymmetric int8 from its range or data. */
function quantizeConstant(g: QuantGraph, t: number, op: Operator, params: Map<number, Params>): void {
  const data = g.floatData(t);
  const r = g.ranges.get(t) ?? constantRange(g, t, data, g.tensor(op.outputs[0]!).name);
  const values = g.ranges.has(t) ? fakeQuantValues(data, nudgeFakeQuant(r.min, r.max, r.numBits, r.narrowRange)) : data;
  const p = activationParams(r.min, r.max, r.narrowRange);
  g.setData(t, int8Bytes(quantizeValues(values, p)));
  params.set(t, perTensor(p));
}

/**
 * Model boundary (modify_io_nodes): float I/O keeps float tensors with a QUANTIZE after each
 * input and a DEQUANTIZE before each output; uint8 I/O re-types them as uint8 (zp + 128, same
 * scale) behind a requantizing QUANTIZE; int8 I/O leaves the int8 tensors as they are.
 */
function boundaries(g: QuantGraph, options: QuantizeOptions, params: Map<number, Params>): void {
  const inType = options.inferenceInputType ?? 'float32';
  const outType = options.inferenceOutputType ?? 'float32';
  const head: Operator[] = [];
  const tail: Operator[] = [];
  const rewire = (from: number, to: number, skip?: Operator) => {
    for (const op of g.sg.operators) {
      if (op === skip) continue;
      op.inputs = op.inputs.map((t) => (t === from ? to : t));
    }
  };
  for (const t of g.sg.inputs) {
    const p = params.get(t);
    if (!p || inType === 'int8') continue;
    const tensor = g.tensor(t);
    const inner = g.addTensor({ ...tensor, name: `${tensor.name}_int8`, type: 'int8', buffer: newActivationBuffer(g), quantization: quantization(p) });
    rewire(t, inner);
    if (inType === 'float32') {
      tensor.type = 'float32';
      delete tensor.quantization;
      head.push({ opcodeIndex: g.opcode('QUANTIZE', 2), inputs: [t], outputs: [inner] });
    } else {
      tensor.type = 'uint8';
      tensor.quantization = { scale: p.scales.map((s) => f32(s)), zeroPoint: p.zeroPoints.map((z) => z + 128) };
      head.push({ opcodeIndex: g.opcode('QUANTIZE', 2), inputs: [t], outputs: [inner] });
    }
  }
  for (const t of g.sg.outputs) {
    const p = params.get(t);
    if (!p || outType === 'int8') continue;
    const tensor = g.tensor(t);
    const inner = g.addTensor({ ...tensor, name: `${tensor.name}_int8`, type: 'int8', buffer: newActivationBuffer(g), quantization: quantization(p) });
    for (const op of g.sg.operators) op.outputs = op.outputs.map((o) => (o === t ? inner : o));
    rewire(t, inner);
    if (outType === 'float32') {
      tensor.type = 'float32';
      delete tensor.quantization;
      tail.push({ opcodeIndex: g.opcode('DEQUANTIZE', 2), inputs: [inner], outputs: [t] });
    } else {
      tensor.type = 'uint8';
      tensor.quantization = { scale: p.scales.map((s) => f32(s)), zeroPoint: p.zeroPoints.map((z) => z + 128) };
      tail.push({ opcodeIndex: g.opcode('QUANTIZE', 2), inputs: [inner], outputs: [t] });
    }
  }
  g.sg.operators = [...head, ...g.sg.operators, ...tail];
}
