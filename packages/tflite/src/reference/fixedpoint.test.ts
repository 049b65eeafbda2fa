import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { expOnNegativeValues, multiplyByQuantizedMultiplier, quantizeMultiplier, roundingDivideByPOT, srdhm, INT32_MIN, INT32_MAX } from './fixedpoint.js';
import { softmax } from './kernels.js';

/** 64-bit oracle of gemmlowp's SaturatingRoundingDoublingHighMul. */
function srdhmBig(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const p = BigInt(a) * BigInt(b);
  const nudge = p >= 0n ? 1n << 30n : 1n - (1n << 30n);
  return Number((p + nudge) / (1n << 31n));
}

/** Oracle of RoundingDivideByPOT: nearest, ties away from zero, exact rational arithmetic. */
function rdpBig(x: number, n: number): number {
  const d = 1n << BigInt(n);
  const X = BigInt(x);
  const q = X / d; // truncates
  const r = X - q * d;
  if (2n * (r < 0n ? -r : r) >= d) return Number(q + (X < 0n ? -1n : 1n));
  return Number(q);
}

const int32 = fc.integer({ min: INT32_MIN, max: INT32_MAX });

describe('fixed-point arithmetic (spec §4.1)', () => {
  it('srdhm equals the 64-bit definition on 20,000 random and edge int32 pairs', () => {
    const edges = [INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX, 1 << 30, -(1 << 30), 65535, 65536, -65536];
    for (const a of edges) for (const b of edges) expect(srdhm(a, b)).toBe(srdhmBig(a, b));
    fc.assert(fc.property(int32, int32, (a, b) => srdhm(a, b) === srdhmBig(a, b)), { numRuns: 20000, seed: 1 });
  });

  it('roundingDivideByPOT rounds to nearest with ties away from zero', () => {
    expect([roundingDivideByPOT(5, 1), roundingDivideByPOT(-5, 1), roundingDivideByPOT(6, 2), roundingDivideByPOT(-6, 2), roundingDivideByPOT(7, 2)]).toEqual([3, -3, 2, -2, 2]);
    fc.assert(fc.property(int32, fc.integer({ min: 0, max: 31 }), (x, n) => roundingDivideByPOT(x, n) === rdpBig(x, n)), { numRuns: 20000, seed: 2 });
  });

  it('quantizeMultiplier reproduces the spec example and keeps M in [2^30, 2^31)', () => {
    // The spec's example multiplier (printed as 1.1143418e-4) is 1960370769·2^-44.
    expect(quantizeMultiplier(1960370769 * 2 ** -44)).toEqual({ multiplier: 1960370769, shift: -13 });
    expect(quantizeMultiplier(1.1143418e-4).shift).toBe(-13);
    expect(quantizeMultiplier(0.5)).toEqual({ multiplier: 2 ** 30, shift: 0 });
    expect(quantizeMultiplier(0)).toEqual({ multiplier: 0, shift: 0 });
    fc.assert(
      fc.property(fc.double({ min: 1e-9, max: 1e3, noNaN: true }), (d) => {
        const { multiplier: m, shift } = quantizeMultiplier(d);
        return m >= 2 ** 30 && m < 2 ** 31 && Math.abs(m * 2 ** (shift - 31) - d) <= d * 2 ** -30;
      }),
      { numRuns: 5000, seed: 3 },
    );
  });

  it('multiplyByQuantizedMultiplier approximates x·d within one unit (double rounding)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 24), max: 2 ** 24 }), fc.double({ min: 1e-6, max: 0.99, noNaN: true }), (x, d) => {
        const { multiplier, shift } = quantizeMultiplier(d);
        return Math.abs(multiplyByQuantizedMultiplier(x, multiplier, shift) - x * d) <= 1;
      }),
      { numRuns: 5000, seed: 4 },
    );
  });

  it('fixed-point exp matches Math.exp to 1e-6 on [−31, 0]', () => {
    for (let v = -31; v <= 0; v += 0.037) {
      const raw = Math.round(v * 2 ** 26); // 5 integer bits
      const got = expOnNegativeValues(raw, 5) / 2 ** 31;
      expect(Math.abs(got - Math.exp(raw / 2 ** 26))).toBeLessThan(1e-6);
    }
  });

  it('quantized softmax is within 1 LSB of the float softmax of the dequantized input', () => {
    // Inputs: uint8 rows of 10 values uniform in [0, 255], scale 0.1, 500 rows (seeded LCG).
    let s = 12345;
    const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s >>> 24);
    const depth = 10;
    const x = Uint8Array.from({ length: 500 * depth }, next);
    const out = new Uint8Array(x.length);
    softmax(x, depth, 0.1, 1, out, 0, 255);
    let worst = 0;
    for (let r = 0; r < 500; r++) {
      const row = Array.from(x.subarray(r * depth, (r + 1) * depth), (q) => q * 0.1);
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b, 0);
      e.forEach((v, c) => (worst = Math.max(worst, Math.abs(out[r * depth + c]! - Math.min(255, (v / sum) * 256)))));
    }
    expect(worst).toBeLessThanOrEqual(1);
  });
});
