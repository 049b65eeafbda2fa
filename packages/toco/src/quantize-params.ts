/**
 * Quantization parameter arithmetic, written to give the same bits as TF 1.15 / TFLite:
 * TOCO chooses params in double and stores float32 scales; TF's FakeQuant nudges in float32.
 * Everything here is pure (numbers in, numbers out) so it can be checked against decoded files.
 */

const f32 = Math.fround;

// C's `round()` (halves away from zero; JS `Math.round(-0.5)` is −0, not −1) and TF's FakeQuant
// nudge are core's, shared with the runtime's kernels and the quantize rewriter.
import { fakeQuantValue, nudge as nudgeFakeQuant, roundHalfAway, type Nudged } from '@tfpass/core';
export { nudgeFakeQuant, roundHalfAway, type Nudged };

export interface QuantParams {
  /** The double scale TOCO computes with (bias scales multiply these). */
  scale: number;
  zeroPoint: number;
  qmin: number;
  qmax: number;
}

/**
 * TFLite's `ChooseQuantizationParams(rmin, rmax, narrow_range)` in double: scale over the integer
 * span, zero point from whichever end has the smaller rounding error, clamped, rounded half away.
 * A degenerate [0,0] gives scale 0 (as TFLite). Callers check rmin ≤ 0 ≤ rmax first (TFLite aborts).
 */
export function chooseParams(rmin: number, rmax: number, qmin: number, qmax: number): QuantParams {
  if (rmin === rmax) return { scale: 0, zeroPoint: 0, qmin, qmax };
  const scale = (rmax - rmin) / (qmax - qmin);
  const fromMin = qmin - rmin / scale;
  const fromMax = qmax - rmax / scale;
  const errMin = Math.abs(qmin) + Math.abs(rmin / scale);
  const errMax = Math.abs(qmax) + Math.abs(rmax / scale);
  const zp = errMin < errMax ? fromMin : fromMax;
  const zeroPoint = zp < qmin ? qmin : zp > qmax ? qmax : roundHalfAway(zp);
  return { scale, zeroPoint, qmin, qmax };
}

/** uint8 params as TOCO picks them (narrow range raises qmin to 1). */
export function uint8Params(rmin: number, rmax: number, narrowRange = false): QuantParams {
  return chooseParams(rmin, rmax, narrowRange ? 1 : 0, 255);
}

/**
 * int8 activation params as the MLIR converter types a FakeQuant: unsigned first, then zero point
 * and storage range shifted by −128 (scale unchanged), so an int8 file agrees with the uint8 one.
 */
export function int8Params(rmin: number, rmax: number, narrowRange = false): QuantParams {
  const u = uint8Params(rmin, rmax, narrowRange);
  return { scale: u.scale, zeroPoint: u.zeroPoint - 128, qmin: u.qmin - 128, qmax: 127 };
}

/** Symmetric int8 weight params (zp 0, [−127,127]): scale = max(|min|,|max|)/127. */
export function symmetricParams(rmin: number, rmax: number): QuantParams {
  const m = Math.max(Math.abs(rmin), Math.abs(rmax));
  return { scale: m / 127, zeroPoint: 0, qmin: -127, qmax: 127 };
}

/** The range a quantized tensor represents, as float32 (what TOCO stores back as min/max). */
export function representedRange(p: QuantParams): { min: number; max: number } {
  return { min: f32((p.qmin - p.zeroPoint) * p.scale), max: f32((p.qmax - p.zeroPoint) * p.scale) };
}

/**
 * TF's FakeQuantWithMinMaxVars forward in float32: clamp to the nudged range, then
 * floor((x − nudged_min)/scale + 0.5)·scale + nudged_min. This is what TOCO's
 * ResolveConstantFakeQuant bakes into frozen weights before choosing their params.
 */
export function fakeQuantValues(x: ArrayLike<number>, n: Nudged): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = fakeQuantValue(x[i]!, n);
  return out;
}

/** TOCO's QuantizeBuffer: round(zp + x/scale) in double, clamped to [qmin,qmax]. */
export function quantizeValues(x: ArrayLike<number>, p: QuantParams): number[] {
  const out = new Array<number>(x.length);
  for (let i = 0; i < x.length; i++) {
    const q = p.scale === 0 ? p.zeroPoint : roundHalfAway(p.zeroPoint + x[i]! / p.scale);
    out[i] = Math.min(Math.max(q, p.qmin), p.qmax);
  }
  return out;
}

/**
 * Per-channel quantization along `axis` of `shape` (one params entry per channel), e.g. OHWI conv
 * weights on axis 0, depthwise [1,H,W,C·M] on axis 3. Strided walk, one pass over the data.
 */
export function quantizePerChannel(x: ArrayLike<number>, shape: readonly number[], axis: number, params: readonly QuantParams[]): number[] {
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = shape[axis]!;
  const out = new Array<number>(x.length);
  for (let i = 0; i < x.length; i++) {
    const p = params[Math.floor(i / inner) % channels]!;
    const q = p.scale === 0 ? 0 : roundHalfAway(p.zeroPoint + x[i]! / p.scale);
    out[i] = Math.min(Math.max(q, p.qmin), p.qmax);
  }
  return out;
}

/** int32 bias: zero point 0, value round(b/scale); the scale is s_input·s_weights in double. */
export function quantizeBias(b: ArrayLike<number>, scales: readonly number[]): Int32Array {
  const out = new Int32Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const s = scales.length === 1 ? scales[0]! : scales[i]!;
    const q = s === 0 ? 0 : roundHalfAway(b[i]! / s);
    out[i] = Math.min(Math.max(q, -2147483647), 2147483647);
  }
  return out;
}

/**
 * TFLite's `QuantizeMultiplier(d)`: d ≈ M·2^(shift−31) with M a Q31 in [2^30, 2^31).
 * Returns { multiplier: M, shift }; d = 0 (or too small) gives M = shift = 0.
 */
export function quantizeMultiplier(d: number): { multiplier: number; shift: number } {
  if (d === 0) return { multiplier: 0, shift: 0 };
  // frexp: d = q·2^e, q in [0.5, 1)
  let e = Math.floor(Math.log2(Math.abs(d))) + 1;
  let q = d / 2 ** e;
  if (Math.abs(q) >= 1) {
    q /= 2;
    e += 1;
  } else if (Math.abs(q) < 0.5) {
    q *= 2;
    e -= 1;
  }
  let m = roundHalfAway(q * 2 ** 31);
  if (m === 2 ** 31) {
    m /= 2;
    e += 1;
  }
  if (e < -31) return { multiplier: 0, shift: 0 };
  return { multiplier: m, shift: e };
}
