/**
 * TFLite's reference integer kernels (spec §4.2), own code after `kernels/internal/reference/*`
 * and `integer_ops/*`: one function per op over flat NHWC typed arrays. Quantized values are
 * plain ints (uint8 or int8 storage); `offset`s are minus the zero points, as in the kernels.
 */
import { multiplyByQuantizedMultiplier as mbqm, roundHalfAway, srdhm, roundingDivideByPOT, saturatingShiftLeft, expOnNegativeValues, oneOverOnePlusX, tanhFixed, reciprocal, quantizeMultiplier, INT32_MAX } from './fixedpoint.js';

export type Ints = Uint8Array | Int8Array | Int16Array | Int32Array;
export type Padding = 'SAME' | 'VALID';

/** Per output channel requantization, (M, shift) from QuantizeMultiplier; one entry = per tensor. */
export interface Requant {
  multiplier: number[];
  shift: number[];
}

export interface ConvGeometry {
  padding: Padding;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
}

/** TFLite's output size and leading padding (ComputePaddingHeightWidth); the extra row/column is trailing. */
export function convOut(inSize: number, filter: number, stride: number, dilation: number, padding: Padding): { out: number; pad: number } {
  const eff = (filter - 1) * dilation + 1;
  const out = padding === 'SAME' ? Math.floor((inSize + stride - 1) / stride) : Math.floor((inSize + stride - eff) / stride);
  const pad = Math.max(0, Math.floor(((out - 1) * stride + eff - inSize) / 2));
  return { out, pad };
}

interface Affine {
  input: Ints;
  inputShape: number[];
  inputOffset: number;
  filter: Ints;
  filterShape: number[];
  /** 0 for int8 per-channel filters; −zp for uint8. */
  filterOffset: number;
  bias?: Int32Array;
  outputOffset: number;
  requant: Requant;
  actMin: number;
  actMax: number;
}

const pick = (r: Requant, c: number) => (r.multiplier.length === 1 ? 0 : c);

function finish(acc: number, r: Requant, c: number, a: Affine): number {
  const i = pick(r, c);
  const v = mbqm(acc, r.multiplier[i]!, r.shift[i]!) + a.outputOffset;
  return v < a.actMin ? a.actMin : v > a.actMax ? a.actMax : v;
}

/** CONV_2D: filter OHWI [O, KH, KW, I]; output [N, OH, OW, O]. */
export function conv2d(a: Affine & ConvGeometry, out: Ints, outShape: number[]): void {
  const [n, ih, iw, ic] = a.inputShape as [number, number, number, number];
  const [oc, kh, kw] = a.filterShape as [number, number, number];
  const [, oh, ow] = outShape as [number, number, number];
  const padH = convOut(ih, kh, a.strideH, a.dilationH, a.padding).pad;
  const padW = convOut(iw, kw, a.strideW, a.dilationW, a.padding).pad;
  const { input, filter, inputOffset: xo, filterOffset: wo, bias } = a;
  let o = 0;
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++)
        for (let c = 0; c < oc; c++) {
          let acc = 0;
          for (let fy = 0; fy < kh; fy++) {
            const iy = y * a.strideH - padH + fy * a.dilationH;
            if (iy < 0 || iy >= ih) continue; // taps outside the image are skipped (= padding with the zero point)
            for (let fx = 0; fx < kw; fx++) {
              const ix = x * a.strideW - padW + fx * a.dilationW;
              if (ix < 0 || ix >= iw) continue;
              const ib = ((b * ih + iy) * iw + ix) * ic;
              const wb = ((c * kh + fy) * kw + fx) * ic;
              for (let d = 0; d < ic; d++) acc += (input[ib + d]! + xo) * (filter[wb + d]! + wo);
            }
          }
          if (bias) acc += bias[c]!;
          out[o++] = finish(acc, a.requant, c, a);
        }
}

/** DEPTHWISE_CONV_2D: filter [1, KH, KW, I·M]; output channel o = i·M + m. */
export function depthwiseConv2d(a: Affine & ConvGeometry & { depthMultiplier: number }, out: Ints, outShape: number[]): void {
  const [n, ih, iw, ic] = a.inputShape as [number, number, number, number];
  const [, kh, kw, fc] = a.filterShape as [number, number, number, number];
  const [, oh, ow, oc] = outShape as [number, number, number, number];
  const m = oc / ic;
  if (fc !== oc || !Number.isInteger(m)) throw new RangeError(`depthwise: filter channels ${fc}, output ${oc}, input ${ic}`);
  const padH = convOut(ih, kh, a.strideH, a.dilationH, a.padding).pad;
  const padW = convOut(iw, kw, a.strideW, a.dilationW, a.padding).pad;
  const { input, filter, inputOffset: xo, filterOffset: wo, bias } = a;
  let o = 0;
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++)
        for (let c = 0; c < oc; c++) {
          const inC = Math.floor(c / m);
          let acc = 0;
          for (let fy = 0; fy < kh; fy++) {
            const iy = y * a.strideH - padH + fy * a.dilationH;
            if (iy < 0 || iy >= ih) continue;
            for (let fx = 0; fx < kw; fx++) {
              const ix = x * a.strideW - padW + fx * a.dilationW;
              if (ix < 0 || ix >= iw) continue;
              acc += (input[((b * ih + iy) * iw + ix) * ic + inC]! + xo) * (filter[(fy * kw + fx) * oc + c]! + wo);
            }
          }
          if (bias) acc += bias[c]!;
          out[o++] = finish(acc, a.requant, c, a);
        }
}

/** FULLY_CONNECTED: weights [O, D]; the input is flattened to [size/D, D]. */
export function fullyConnected(a: Affine, out: Ints): void {
  const [oc, depth] = a.filterShape as [number, number];
  const rows = a.input.length / depth;
  const { input, filter, inputOffset: xo, filterOffset: wo, bias } = a;
  for (let b = 0; b < rows; b++)
    for (let c = 0; c < oc; c++) {
      let acc = 0;
      for (let d = 0; d < depth; d++) acc += (input[b * depth + d]! + xo) * (filter[c * depth + d]! + wo);
      if (bias) acc += bias[c]!;
      out[b * oc + c] = finish(acc, a.requant, c, a);
    }
}

/** Index maps of NumPy broadcasting of `a` and `b` to `out` (ranks right-aligned). */
export function broadcastIndex(aShape: number[], bShape: number[], outShape: number[]): (i: number) => [number, number] {
  const r = outShape.length;
  const pad = (s: number[]) => [...Array(r - s.length).fill(1), ...s];
  const as = pad(aShape);
  const bs = pad(bShape);
  const same = as.every((d, k) => d === outShape[k]) && bs.every((d, k) => d === outShape[k]);
  if (same) return (i) => [i, i];
  const strides = (s: number[]) => {
    const st = new Array<number>(r);
    let acc = 1;
    for (let k = r - 1; k >= 0; k--) {
      st[k] = s[k] === 1 ? 0 : acc;
      acc *= s[k]!;
    }
    return st;
  };
  const sa = strides(as);
  const sb = strides(bs);
  return (i) => {
    let ia = 0;
    let ib = 0;
    for (let k = r - 1; k >= 0; k--) {
      const d = outShape[k]!;
      const q = i % d;
      i = (i - q) / d;
      ia += q * sa[k]!;
      ib += q * sb[k]!;
    }
    return [ia, ib];
  };
}

export interface ScaleZp {
  scale: number;
  zeroPoint: number;
}

/** ADD / SUB, 8-bit: both sides rescaled to 2·max(s1, s2) with 20 bits of headroom, then to the output. */
export function addSub(sub: boolean, x: Ints, xq: ScaleZp, y: Ints, yq: ScaleZp, oq: ScaleZp, index: (i: number) => [number, number], out: Ints, actMin: number, actMax: number): void {
  const leftShift = 20;
  const twiceMax = 2 * Math.max(xq.scale, yq.scale);
  const m1 = quantizeMultiplier(xq.scale / twiceMax);
  const m2 = quantizeMultiplier(yq.scale / twiceMax);
  const mo = quantizeMultiplier(twiceMax / (2 ** leftShift * oq.scale));
  for (let i = 0; i < out.length; i++) {
    const [ia, ib] = index(i);
    const a = mbqm((x[ia]! - xq.zeroPoint) * 2 ** leftShift, m1.multiplier, m1.shift);
    const b = mbqm((y[ib]! - yq.zeroPoint) * 2 ** leftShift, m2.multiplier, m2.shift);
    const v = mbqm(sub ? a - b : a + b, mo.multiplier, mo.shift) + oq.zeroPoint;
    out[i] = v < actMin ? actMin : v > actMax ? actMax : v;
  }
}

/** MUL, 8-bit: one multiplier s1·s2/s_out, in double from the float32 scales. */
export function mul(x: Ints, xq: ScaleZp, y: Ints, yq: ScaleZp, oq: ScaleZp, index: (i: number) => [number, number], out: Ints, actMin: number, actMax: number): void {
  const m = quantizeMultiplier((xq.scale * yq.scale) / oq.scale);
  for (let i = 0; i < out.length; i++) {
    const [ia, ib] = index(i);
    const v = mbqm((x[ia]! - xq.zeroPoint) * (y[ib]! - yq.zeroPoint), m.multiplier, m.shift) + oq.zeroPoint;
    out[i] = v < actMin ? actMin : v > actMax ? actMax : v;
  }
}

export interface PoolParams {
  padding: Padding;
  strideH: number;
  strideW: number;
  filterH: number;
  filterW: number;
  actMin: number;
  actMax: number;
}

/** AVERAGE_POOL_2D / MAX_POOL_2D over the taps inside the image; no rescaling (same params in and out). */
export function pool(kind: 'avg' | 'max', x: Ints, inShape: number[], p: PoolParams, out: Ints, outShape: number[]): void {
  const [n, ih, iw, c] = inShape as [number, number, number, number];
  const [, oh, ow] = outShape as [number, number, number];
  const padH = convOut(ih, p.filterH, p.strideH, 1, p.padding).pad;
  const padW = convOut(iw, p.filterW, p.strideW, 1, p.padding).pad;
  let o = 0;
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++)
        for (let ch = 0; ch < c; ch++) {
          const y0 = y * p.strideH - padH;
          const x0 = xx * p.strideW - padW;
          let acc = kind === 'max' ? -Infinity : 0;
          let count = 0;
          for (let fy = Math.max(0, -y0); fy < Math.min(p.filterH, ih - y0); fy++)
            for (let fx = Math.max(0, -x0); fx < Math.min(p.filterW, iw - x0); fx++) {
              const v = x[((b * ih + y0 + fy) * iw + x0 + fx) * c + ch]!;
              acc = kind === 'max' ? Math.max(acc, v) : acc + v;
              count++;
            }
          // Average: integer division rounded half away from zero (integer_ops/pooling.h).
          let v = kind === 'max' ? acc : acc > 0 ? Math.trunc((acc + Math.trunc(count / 2)) / count) : Math.trunc((acc - Math.trunc(count / 2)) / count);
          v = v < p.actMin ? p.actMin : v > p.actMax ? p.actMax : v;
          out[o++] = v;
        }
}

/**
 * SOFTMAX, 8-bit, the reference fixed-point kernel (reference/softmax.h): exp of the rescaled
 * difference to the row max with 5 integer bits, sums with 12, one reciprocal per row. The output
 * is 1/256 steps from the type's minimum (zp 0 for uint8, −128 for int8), as TFLite requires.
 */
export function softmax(x: Ints, depth: number, inputScale: number, beta: number, out: Ints, qmin: number, qmax: number): void {
  const diffBits = 5;
  const accBits = 12;
  const real = Math.min(beta * inputScale * 2 ** (31 - diffBits), 2 ** 31 - 1);
  const { multiplier, shift } = quantizeMultiplier(real);
  const diffMin = -Math.floor((((1 << diffBits) - 1) * 2 ** (31 - diffBits)) / 2 ** shift);
  const rescale = (d: number) => srdhm(d * 2 ** shift, multiplier);
  const outBits = qmax - qmin === 255 ? 8 : 16;
  for (let r = 0; r < x.length / depth; r++) {
    let max = -Infinity;
    for (let c = 0; c < depth; c++) max = Math.max(max, x[r * depth + c]!);
    let sum = 0;
    for (let c = 0; c < depth; c++) {
      const d = x[r * depth + c]! - max;
      if (d >= diffMin) sum = (sum + roundingDivideByPOT(expOnNegativeValues(rescale(d), diffBits), accBits)) | 0;
    }
    const { raw: inv, bitsOverUnit } = reciprocal(sum, accBits);
    for (let c = 0; c < depth; c++) {
      const d = x[r * depth + c]! - max;
      if (d < diffMin) {
        out[r * depth + c] = qmin;
        continue;
      }
      const e = expOnNegativeValues(rescale(d), diffBits);
      const v = roundingDivideByPOT(srdhm(inv, e), bitsOverUnit + 31 - outBits) + qmin;
      out[r * depth + c] = v < qmin ? qmin : v > qmax ? qmax : v;
    }
  }
}

/** QUANTIZE float → int: clamp(round(x / s) + zp) with a float32 division. */
export function quantize(x: Float32Array, q: ScaleZp, out: Ints, qmin: number, qmax: number): void {
  const s = Math.fround(q.scale);
  for (let i = 0; i < x.length; i++) {
    const v = roundHalfAway(Math.fround(x[i]! / s)) + q.zeroPoint;
    out[i] = v < qmin ? qmin : v > qmax ? qmax : v;
  }
}

/** QUANTIZE int → int (requantize, e.g. uint8 ↔ int8): one multiplier s_in/s_out. */
export function requantize(x: Ints, iq: ScaleZp, oq: ScaleZp, out: Ints, qmin: number, qmax: number): void {
  const { multiplier, shift } = quantizeMultiplier(iq.scale / oq.scale);
  const exact = iq.scale === oq.scale;
  for (let i = 0; i < x.length; i++) {
    const v = (exact ? x[i]! - iq.zeroPoint : mbqm(x[i]! - iq.zeroPoint, multiplier, shift)) + oq.zeroPoint;
    out[i] = v < qmin ? qmin : v > qmax ? qmax : v;
  }
}

/** DEQUANTIZE: s·(q − zp), rounded to float32. */
export function dequantize(x: Ints, q: ScaleZp, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = q.scale * (x[i]! - q.zeroPoint);
}

/** The clamp a fused activation applies on quantized outputs (CalculateActivationRangeQuantized). */
export function activationRange(act: string | undefined, q: ScaleZp, qmin: number, qmax: number): [number, number] {
  const at = (r: number) => q.zeroPoint + roundHalfAway(Math.fround(r / Math.fround(q.scale)));
  switch (act ?? 'NONE') {
    case 'NONE':
      return [qmin, qmax];
    case 'RELU':
      return [Math.max(qmin, at(0)), qmax];
    case 'RELU6':
      return [Math.max(qmin, at(0)), Math.min(qmax, at(6))];
    case 'RELU_N1_TO_1':
      return [Math.max(qmin, at(-1)), Math.min(qmax, at(1))];
    default:
      throw new RangeError(`fused activation ${act} has no quantized form`);
  }
}

export { INT32_MAX, saturatingShiftLeft };

/**
 * CONCATENATION, 8-bit: inputs with the output's params are copied; others are requantized in
 * float32, round(q·s + b) + zp_out with s = s_in/s_out and b = −zp_in·s (reference
 * ConcatenationWithScaling; uint8 only in practice, int8 requires equal params).
 */
export function concatenation(parts: { data: Ints; shape: number[]; q: ScaleZp }[], axis: number, oq: ScaleZp, out: Ints, qmin: number, qmax: number): void {
  const outer = parts[0]!.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  let o = 0;
  for (let i = 0; i < outer; i++) {
    for (const p of parts) {
      const run = p.shape.slice(axis).reduce((a, b) => a * b, 1);
      const from = i * run;
      if (p.q.scale === oq.scale && p.q.zeroPoint === oq.zeroPoint) {
        for (let j = 0; j < run; j++) out[o++] = p.data[from + j]!;
        continue;
      }
      const s = Math.fround(Math.fround(p.q.scale) * Math.fround(1 / oq.scale));
      const b = Math.fround(-p.q.zeroPoint * s);
      for (let j = 0; j < run; j++) {
        const v = roundHalfAway(Math.fround(Math.fround(p.data[from + j]! * s) + b)) + oq.zeroPoint;
        out[o++] = v < qmin ? qmin : v > qmax ? qmax : v;
      }
    }
  }
}

/** MAXIMUM / MINIMUM: no rescaling (inputs and output share params). */
export function maxMin(kind: 'max' | 'min', x: Ints, y: Ints, index: (i: number) => [number, number], out: Ints): void {
  for (let i = 0; i < out.length; i++) {
    const [ia, ib] = index(i);
    out[i] = kind === 'max' ? Math.max(x[ia]!, y[ib]!) : Math.min(x[ia]!, y[ib]!);
  }
}

/** Standalone RELU / RELU6 / RELU_N1_TO_1, 8-bit: requantize s_in → s_out, then clamp (activations.cc QuantizedReluX). */
export function reluX(x: Ints, iq: ScaleZp, oq: ScaleZp, actMin: number, actMax: number, out: Ints): void {
  const { multiplier, shift } = quantizeMultiplier(iq.scale / oq.scale);
  for (let i = 0; i < x.length; i++) {
    const v = oq.zeroPoint + mbqm(x[i]! - iq.zeroPoint, multiplier, shift);
    out[i] = v < actMin ? actMin : v > actMax ? actMax : v;
  }
}

/** PAD / PADV2 on any rank: `paddings` is [rank, 2] (before, after); new cells take `value`. */
export function pad(x: Ints, inShape: number[], paddings: ArrayLike<number>, value: number, out: Ints, outShape: number[]): void {
  out.fill(value);
  const r = inShape.length;
  const outStrides = new Array<number>(r);
  let acc = 1;
  for (let k = r - 1; k >= 0; k--) {
    outStrides[k] = acc;
    acc *= outShape[k]!;
  }
  for (let i = 0; i < x.length; i++) {
    let rest = i;
    let o = 0;
    for (let k = r - 1; k >= 0; k--) {
      const d = inShape[k]!;
      const c = rest % d;
      rest = (rest - c) / d;
      o += (c + Number(paddings[2 * k]!)) * outStrides[k]!;
    }
    out[o] = x[i]!;
  }
}

/**
 * LOGISTIC, 8-bit, the reference fixed-point kernel: the centred input rescaled to 4 integer
 * bits, gemmlowp's logistic (1 / (1 + exp(−|x|)), mirrored for x < 0), then 1/256 steps from
 * the type's minimum; inputs beyond the radius saturate.
 */
export function logistic(x: Ints, iq: ScaleZp, out: Ints, qmin: number, qmax: number): void {
  const intBits = 4;
  const { multiplier, shift } = quantizeMultiplier(iq.scale * 2 ** (31 - intBits));
  const radius = Math.floor((((1 << intBits) - 1) * 2 ** (31 - intBits)) / 2 ** shift);
  for (let i = 0; i < x.length; i++) {
    const c = x[i]! - iq.zeroPoint;
    if (c <= -radius) out[i] = qmin;
    else if (c >= radius) out[i] = qmax;
    else {
      const a = srdhm(c * 2 ** shift, multiplier);
      let p: number;
      if (a === 0) p = 1 << 30;
      else {
        const pos = oneOverOnePlusX(expOnNegativeValues(-Math.abs(a), intBits));
        p = a > 0 ? pos : (INT32_MAX - pos) | 0;
      }
      const v = roundingDivideByPOT(p, 23) + qmin;
      out[i] = v > qmax ? qmax : v < qmin ? qmin : v;
    }
  }
}

/**
 * TANH, 8-bit, the reference fixed-point kernel: input rescaled to 4 integer bits, gemmlowp's
 * tanh, then 1/128 steps around zero point `outZp` (128 for uint8, 0 for int8).
 */
export function tanh(x: Ints, iq: ScaleZp, out: Ints, outZp: number, qmin: number, qmax: number): void {
  const intBits = 4;
  const { multiplier, shift } = quantizeMultiplier(iq.scale * 2 ** (31 - intBits));
  const radius = Math.floor((((1 << intBits) - 1) * 2 ** (31 - intBits)) / 2 ** shift);
  for (let i = 0; i < x.length; i++) {
    const c = x[i]! - iq.zeroPoint;
    if (c <= -radius) out[i] = qmin;
    else if (c >= radius) out[i] = qmax;
    else {
      const v = roundingDivideByPOT(tanhFixed(srdhm(c * 2 ** shift, multiplier), intBits), 24) + outZp;
      out[i] = v > qmax ? qmax : v < qmin ? qmin : v;
    }
  }
}

/**
 * MEAN, 8-bit, over `axes` (any rank), as reference QuantizedMeanOrSum: the int32 sum of
 * (q − zp_in), times one multiplier that folds s_in/s_out and 1/N together: M·2^k / N
 * (truncated, k = ⌊log2 N⌋ capped at 32 and at 31 + shift) with shift − k; plus zp_out.
 */
export function mean(x: Ints, inShape: number[], axes: number[], iq: ScaleZp, oq: ScaleZp, out: Ints, qmin: number, qmax: number): void {
  const r = inShape.length;
  const reduced = new Set(axes.map((a) => (a + r) % r));
  const count = [...reduced].reduce((n, a) => n * inShape[a]!, 1);
  const { multiplier, shift } = quantizeMultiplier(iq.scale / oq.scale);
  const acc = new Float64Array(out.length);
  // Output index of each input element: the kept dims in order.
  const keptStrides = new Array<number>(r).fill(0);
  let stride = 1;
  for (let k = r - 1; k >= 0; k--) {
    if (reduced.has(k)) continue;
    keptStrides[k] = stride;
    stride *= inShape[k]!;
  }
  for (let i = 0; i < x.length; i++) {
    let rest = i;
    let o = 0;
    for (let k = r - 1; k >= 0; k--) {
      const d = inShape[k]!;
      const c = rest % d;
      rest = (rest - c) / d;
      o += c * keptStrides[k]!;
    }
    acc[o]! += x[i]! - iq.zeroPoint;
  }
  const k = Math.min(31 - Math.clz32(count), 32, 31 + shift);
  const folded = Number((BigInt(multiplier) << BigInt(k)) / BigInt(count));
  for (let o = 0; o < out.length; o++) {
    const v = mbqm(acc[o]!, folded, shift - k) + oq.zeroPoint;
    out[o] = v < qmin ? qmin : v > qmax ? qmax : v;
  }
}
