/**
 * The integer arithmetic of TFLite's reference kernels (spec §4.1), bit-exact in JS numbers.
 * Every value is an int32; 64-bit products are split so no step leaves the 2^53 exact range.
 * Semantics follow gemmlowp `fixedpoint.h` and TFLite `kernels/internal/common.cc`
 * (default build: double rounding, i.e. SRDHM then a rounding shift).
 */

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
const TWO31 = 2147483648;

// Half-away rounding (C's round) is core's, shared with the converter and the runtime.
import { roundHalfAway } from '@tfpass/core';
export { roundHalfAway };

/** gemmlowp SaturatingRoundingDoublingHighMul: (a·b + nudge) / 2^31 truncated, nudge 2^30 or 1 − 2^30. */
export function srdhm(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  // a·b = hi·2^16 + lo with |hi| < 2^47 and 0 ≤ bl < 2^16: both partial products are exact.
  const bl = b & 0xffff;
  const bh = (b - bl) / 65536;
  const hi = a * bh;
  const lo = a * bl;
  const negative = hi * 65536 + lo < 0; // sign only: the rounding error cannot flip it (|lo| < 2^47)
  const nudge = negative ? 1 - 2 ** 30 : 2 ** 30;
  // p + nudge = hq·2^31 + r with r exact (|r| < 2^49); then divide r by 2^31 by floor.
  const hq = Math.floor(hi / 32768);
  const r = (hi - hq * 32768) * 65536 + lo + nudge;
  const rq = Math.floor(r / TWO31);
  let q = hq + rq;
  const rem = r - rq * TWO31;
  // C++ division truncates toward zero: a negative quotient with a remainder moves up by one.
  if (q < 0 && rem !== 0) q += 1;
  return q | 0;
}

/** gemmlowp RoundingDivideByPOT: x / 2^n rounded to nearest, ties away from zero. */
export function roundingDivideByPOT(x: number, n: number): number {
  if (n === 0) return x;
  if (n >= 32) {
    // Beyond int32 shifts (softmax can ask for them on huge rows): same rule, in floats.
    const d = 2 ** n;
    const q = Math.floor(x / d);
    const rem = x - q * d;
    const threshold = Math.floor((d - 1) / 2) + (x < 0 ? 1 : 0);
    return q + (rem > threshold ? 1 : 0);
  }
  const mask = n === 31 ? 0x7fffffff : (1 << n) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> n) + (remainder > threshold ? 1 : 0);
}

/** TFLite MultiplyByQuantizedMultiplier(x, M, shift): shift > 0 multiplies first, < 0 divides after. */
export function multiplyByQuantizedMultiplier(x: number, m: number, shift: number): number {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  return roundingDivideByPOT(srdhm(Math.imul(x, 2 ** left | 0), m), right);
}

/** gemmlowp SaturatingRoundingMultiplyByPOT for a left shift (exponent ≥ 0). */
export function saturatingShiftLeft(x: number, e: number): number {
  const v = x * 2 ** e;
  return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v;
}

/** C frexp: d = q·2^e with |q| in [0.5, 1). */
export function frexp(d: number): [number, number] {
  if (d === 0 || !Number.isFinite(d)) return [d, 0];
  let e = Math.floor(Math.log2(Math.abs(d))) + 1;
  let q = d / 2 ** e;
  // log2 can be off by one near powers of two.
  while (Math.abs(q) >= 1) (q /= 2), e++;
  while (Math.abs(q) < 0.5) (q *= 2), e--;
  return [q, e];
}

/** TFLite QuantizeMultiplier: a double multiplier as (M, shift), M = round(q·2^31), real ≈ M·2^(shift−31). */
export function quantizeMultiplier(d: number): { multiplier: number; shift: number } {
  if (d === 0) return { multiplier: 0, shift: 0 };
  const [q, e] = frexp(d);
  let m = roundHalfAway(q * TWO31);
  let shift = e;
  if (m === TWO31) (m /= 2), shift++;
  if (shift < -31) return { multiplier: 0, shift: 0 };
  return { multiplier: m, shift };
}

// ---- gemmlowp fixed-point exp and reciprocal, used by the quantized softmax ----

/** Raw int32 of the fixed-point constant `v` with `intBits` integer bits (gemmlowp's checked constants). */
const fixedConst = (v: number, intBits: number): number => roundHalfAway(v * 2 ** (31 - intBits));
/** Wrapping int32 add, as gemmlowp's raw `+`. */
const add = (a: number, b: number): number => (a + b) | 0;

const EXP_M1_8 = fixedConst(Math.exp(-1 / 8), 0);
const ONE_THIRD = fixedConst(1 / 3, 0);
/** exp(−2^k) for k = −2…4, the barrel shifter of exp_on_negative_values. */
const EXP_NEG_POT = [-2, -1, 0, 1, 2, 3, 4].map((k) => ({ k, m: fixedConst(Math.exp(-(2 ** k)), 0) }));

/** exp(a) for a in [−1/4, 0), a with 0 integer bits: Taylor series around −1/8. */
function expQuarter(a: number): number {
  const x = add(a, 1 << 28); // a + 1/8
  const x2 = srdhm(x, x);
  const x3 = srdhm(x2, x);
  const x4 = srdhm(x2, x2);
  const x4over4 = roundingDivideByPOT(x4, 2);
  const poly = roundingDivideByPOT(add(srdhm(add(x4over4, x3), ONE_THIRD), x2), 1);
  return add(EXP_M1_8, srdhm(EXP_M1_8, add(x, poly)));
}

/** gemmlowp exp_on_negative_values: `a` ≤ 0 with `intBits` integer bits → exp(a) with 0 integer bits. */
export function expOnNegativeValues(a: number, intBits: number): number {
  const fracBits = 31 - intBits;
  const quarter = 1 << (fracBits - 2);
  const modMinusQuarter = add(a & (quarter - 1), -quarter);
  let result = expQuarter(saturatingShiftLeft(modMinusQuarter, intBits));
  const remainder = add(modMinusQuarter, -a);
  for (const { k, m } of EXP_NEG_POT) {
    if (intBits > k && remainder & (1 << (fracBits + k))) result = srdhm(result, m);
  }
  return a === 0 ? INT32_MAX : result;
}

/** Newton–Raphson (3 steps) for x ≈ 2/(1 + a), a in (0, 1) with 0 integer bits; x has 2 integer bits. */
function twoOverOnePlusX(a: number): number {
  const sum = a + INT32_MAX;
  const halfDen = Math.trunc((sum + (sum >= 0 ? 1 : -1)) / 2);
  const one2 = 1 << 29;
  let x = add(fixedConst(48 / 17, 2), srdhm(halfDen, fixedConst(-32 / 17, 2)));
  for (let i = 0; i < 3; i++) {
    const oneMinus = add(one2, -srdhm(halfDen, x));
    x = add(x, saturatingShiftLeft(srdhm(x, oneMinus), 2));
  }
  return x;
}

/** gemmlowp one_over_one_plus_x_for_x_in_0_1: halving by retyping (same raw, 1 integer bit), then rescaling to 0 bits. */
export function oneOverOnePlusX(a: number): number {
  return saturatingShiftLeft(twoOverOnePlusX(a), 1);
}

/** gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1: (2/(1 + a) − 1) rescaled to 0 integer bits. */
export function oneMinusXOverOnePlusX(a: number): number {
  return saturatingShiftLeft(add(twoOverOnePlusX(a), -(1 << 29)), 2);
}

/** gemmlowp tanh of `a` with `intBits` integer bits, result with 0 integer bits. */
export function tanhFixed(a: number, intBits: number): number {
  if (a === 0) return 0;
  // tanh(|a|) = (1 − e^(−2|a|)) / (1 + e^(−2|a|)); doubling by retyping −|a| to intBits + 1.
  const t = oneMinusXOverOnePlusX(expOnNegativeValues(-Math.abs(a), intBits + 1));
  return a < 0 ? -t : t;
}

/** Leading zeros of x as uint32. */
const clz = (x: number): number => Math.clz32(x);

/** TFLite GetReciprocal: 1/x for x with `intBits` integer bits, as (raw, bits over unit). */
export function reciprocal(x: number, intBits: number): { raw: number; bitsOverUnit: number } {
  const headroomPlusOne = clz(x);
  const shiftedMinusOne = (((x >>> 0) * 2 ** headroomPlusOne) % 2 ** 32) - TWO31;
  return { raw: oneOverOnePlusX(shiftedMinusOne | 0), bitsOverUnit: intBits - headroomPlusOne };
}
