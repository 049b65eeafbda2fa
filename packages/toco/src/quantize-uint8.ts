/**
 * `--inference_type=QUANTIZED_UINT8`, as TOCO 1.15 does it (toco_tooling.cc's quantized branch):
 * HardcodeMinMax, default ranges, the all-arrays-have-ranges check, Quantize (params per array,
 * constant buffers, int32 biases), FixMinMaxPostQuantization, trivial activation removal and the
 * fast-int8 weight rule. Differences from TOCO: every missing range is reported at once (TOCO
 * aborts on the first) and errors are typed instead of a core dump.
 */
import type { Model, Operator } from '@tfpass/tflite';
import type { LoweredModel, Note, TensorRange } from './lowered.js';
import { QuantGraph, int32Bytes, uint8Bytes } from './quant/graph.js';
import { hardcodeMinMax } from './quant/derive.js';
import { quantOp, versionContext } from './quant/ops.js';
import { QuantizationError } from './quant/errors.js';
import type { QuantizeOptions } from './quantize.js';
import { applyCommonRanges, applyDefaultRanges, checkRanges, constantRange } from './quantize-ranges.js';
import { fakeQuantValues, nudgeFakeQuant, quantizeBias, quantizeValues, uint8Params, type QuantParams } from './quantize-params.js';

const f32 = Math.fround;

const CLAMPS: Record<string, [number, number]> = { RELU: [0, Infinity], RELU6: [0, 6], RELU_N1_TO_1: [-1, 1] };

const MIN_DISTANCE_BETWEEN_BAD_VALUES = 16;

export function quantizeUint8(lowered: LoweredModel, options: QuantizeOptions): { model: Model; notes: Note[] } {
  if (options.inferenceInputType && options.inferenceInputType !== 'uint8') {
    throw new QuantizationError(
      options.inferenceInputType === 'float32'
        ? 'Quantized inference is not allowed with float inputs. (--inference_type=QUANTIZED_UINT8 with --inference_input_type=FLOAT)'
        : `--inference_input_type=${options.inferenceInputType.toUpperCase()} is not supported with --inference_type=QUANTIZED_UINT8 (TOCO 1.15 takes uint8 inputs)`,
    );
  }
  if (options.inferenceOutputType && options.inferenceOutputType !== 'uint8') {
    throw new QuantizationError(`--inference_output_type=${options.inferenceOutputType.toUpperCase()} is not supported with --inference_type=QUANTIZED_UINT8 (TOCO 1.15 removes the final Dequantize, outputs are uint8)`);
  }
  const g = new QuantGraph(lowered);
  for (const [t, r] of g.ranges) {
    if (r.perChannel) {
      throw new QuantizationError(
        `per-channel FakeQuant range on '${g.describe(t)}' (from ${r.source}): TOCO 1.15 cannot quantize per-channel to QUANTIZED_UINT8 (its importer has no FakeQuantWithMinMaxVarsPerChannel); use --inference_type=INT8`,
      );
    }
  }
  applyCommonRanges(g, options, 0, 255);
  hardcodeMinMax(g, { changeConcatInputRanges: options.changeConcatInputRanges, fixed: 'u8' });
  // TOCO: defaults fill what the first HardcodeMinMax left, then derived ranges win again.
  if (applyDefaultRanges(g, options)) hardcodeMinMax(g, { changeConcatInputRanges: options.changeConcatInputRanges, fixed: 'u8' });
  checkRanges(g, (b) => !!quantOp(b)?.toco);

  const params = new Map<number, QuantParams>();
  /** Raw (pre-nudge) range each array was quantized from; constants keep it as stored min/max. */
  const stored = new Map<number, { min: number; max: number }>();
  const paramsOf = (t: number): QuantParams => {
    const p = params.get(t);
    if (!p) throw new QuantizationError(`internal: no quantization params for '${g.describe(t)}' yet (operators out of order?)`);
    return p;
  };

  const quantizeConstant = (t: number, op: Operator): void => {
    if (params.has(t)) return;
    const data = g.floatData(t);
    let r: TensorRange | undefined = g.ranges.get(t);
    let values: Float32Array = data;
    if (r) {
      // ResolveConstantFakeQuant: bake TF's float32 fake-quant into the data first.
      values = fakeQuantValues(data, nudgeFakeQuant(r.min, r.max, r.numBits, r.narrowRange));
    } else {
      r = constantRange(g, t, data, g.tensor(op.outputs[0]!).name);
    }
    const p = uint8Params(r.min, r.max, r.narrowRange);
    params.set(t, p);
    stored.set(t, { min: r.min, max: r.max });
    g.setData(t, uint8Bytes(quantizeValues(values, p)));
  };

  const inputParams = (t: number): void => {
    if (params.has(t)) return;
    const r = g.ranges.get(t)!;
    params.set(t, uint8Params(r.min, r.max, false));
    stored.set(t, fixMinMax(r, params.get(t)!));
  };
  for (const t of g.sg.inputs) if (g.isFloat(t)) inputParams(t);

  g.sg.operators.forEach((op, opIndex) => {
    const builtin = g.builtin(op);
    const q = quantOp(builtin)!;
    op.inputs.forEach((t, k) => {
      if (t < 0 || !g.isFloat(t) || params.has(t)) return;
      if (q.affine && k === 2) return; // bias, below
      if (g.isConst(t)) quantizeConstant(t, op);
      else inputParams(t); // an activation produced by nothing (a graph input not listed)
    });
    if (q.affine && op.inputs[2] !== undefined && op.inputs[2] >= 0 && g.isFloat(op.inputs[2])) {
      const b = op.inputs[2];
      const scale = paramsOf(op.inputs[0]!).scale * paramsOf(op.inputs[1]!).scale;
      g.setData(b, int32Bytes(quantizeBias(g.floatData(b), [scale])));
      params.set(b, { scale, zeroPoint: 0, qmin: -2147483648, qmax: 2147483647 });
      const t = g.tensor(b);
      t.type = 'int32';
      t.quantization = { scale: [f32(scale)], zeroPoint: [0] };
    }
    for (const out of op.outputs) {
      if (out < 0 || !g.isFloat(out)) continue;
      const fixed = q.u8Out;
      let p: QuantParams;
      if (fixed === 'copy' || (builtin === 'CONCATENATION' && options.changeConcatInputRanges)) {
        p = { ...paramsOf(op.inputs[q.data ?? 0]!) };
      } else if (fixed) {
        p = { scale: fixed.scale, zeroPoint: fixed.zeroPoint, qmin: 0, qmax: 255 };
      } else {
        const r = g.ranges.get(out)!;
        p = uint8Params(r.min, r.max, false);
      }
      params.set(out, p);
      const r = g.ranges.get(out) ?? { min: (0 - p.zeroPoint) * p.scale, max: (255 - p.zeroPoint) * p.scale };
      stored.set(out, fixMinMax(r, p));
    }
    void opIndex;
  });

  // Write types and params.
  for (const [t, p] of params) {
    const tensor = g.tensor(t);
    if (tensor.type === 'int32') continue; // biases, done
    tensor.type = 'uint8';
    const s = stored.get(t)!;
    tensor.quantization = { min: [f32(s.min)], max: [f32(s.max)], scale: [f32(p.scale)], zeroPoint: [p.zeroPoint] };
  }

  removeTrivialActivations(g, params);
  ensureWeightsSafeForFastInt8(g, options.allowNudgingWeights || !!options.defaultRanges);

  g.setVersions((op, builtin) => {
    const q = quantOp(builtin);
    if (!q) return undefined;
    if (!q.u8Version) return 1;
    const a = params.get(op.inputs[0]!);
    const b = params.get(op.inputs[1]!);
    const o = params.get(op.outputs[0]!);
    return q.u8Version(versionContext(op, !!(a && b && o && o.scale > 0 && (f32(a.scale) * f32(b.scale)) / f32(o.scale) >= 1)));
  });
  return { model: g.model, notes: g.notes };
}

/**
 * FixMinMaxPostQuantization: an array's stored min/max become the range its params represent
 * when they differ from it by more than 1e-5 of the width.
 */
function fixMinMax(r: { min: number; max: number }, p: QuantParams): { min: number; max: number } {
  const min = (p.qmin - p.zeroPoint) * p.scale;
  const max = (p.qmax - p.zeroPoint) * p.scale;
  const tol = 1e-5 * (r.max - r.min);
  return Math.abs(min - r.min) > tol || Math.abs(max - r.max) > tol ? { min, max } : { min: r.min, max: r.max };
}

/**
 * RemoveTrivialQuantizedActivationFunc: a fused Relu/Relu6/Relu1 whose output's quantized range
 * already lies inside the clamp does nothing, so it is set to NONE.
 */
function removeTrivialActivations(g: QuantGraph, params: Map<number, QuantParams>): void {
  for (const op of g.sg.operators) {
    const act = op.builtinOptions?.fusedActivationFunction;
    if (typeof act !== 'string' || !(act in CLAMPS)) continue;
    const p = params.get(op.outputs[0]!);
    if (!p) continue;
    const [lo, hi] = CLAMPS[act]!;
    const min = (p.qmin - p.zeroPoint) * p.scale;
    const max = (p.qmax - p.zeroPoint) * p.scale;
    if (lo <= min && hi >= max) op.builtinOptions!.fusedActivationFunction = 'NONE';
  }
}

/**
 * EnsureUint8WeightsSafeForFastInt8Kernels: in Conv/FC weights (not depthwise) two 0 bytes closer
 * than 16 break TFLite's fast int8 GEMM; TOCO aborts, or sets the later one to 1 when nudging is
 * allowed (or default ranges are in use).
 */
function ensureWeightsSafeForFastInt8(g: QuantGraph, allowNudging: boolean): void {
  for (const op of g.sg.operators) {
    const q = quantOp(g.builtin(op));
    if (q?.affine !== 'conv' && q?.affine !== 'fc') continue;
    const w = op.inputs[1]!;
    const t = g.tensor(w);
    if (t.type !== 'uint8' || !g.isConst(w)) continue;
    const data = g.model.buffers[t.buffer]!.data!;
    let bad = 0;
    let previous = 0;
    let copy: Uint8Array | undefined;
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== 0) continue;
      bad++;
      if (bad > 1 && i - previous < MIN_DISTANCE_BETWEEN_BAD_VALUES) {
        if (!allowNudging) {
          throw new QuantizationError(
            `Bad value for ${t.name} at index ${i}, previous bad value at index ${previous}, distance=${i - previous}, kMinDistanceBetweenBadValues=${MIN_DISTANCE_BETWEEN_BAD_VALUES}. Consider passing --allow_nudging_weights_to_use_fast_gemm_kernel if you don't care about accuracy.`,
          );
        }
        copy ??= data.slice();
        copy[i] = 1;
        continue;
      }
      previous = i;
    }
    if (copy) {
      g.setData(w, copy);
      g.notes.push({ level: 'warning', node: t.name, message: `weights ${t.name}: 0 bytes closer than ${MIN_DISTANCE_BETWEEN_BAD_VALUES} set to 1 for the fast int8 kernels` });
    }
  }
}
