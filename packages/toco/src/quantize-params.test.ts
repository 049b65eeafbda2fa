import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  fakeQuantValues,
  int8Params,
  nudgeFakeQuant,
  quantizeBias,
  quantizeMultiplier,
  quantizeValues,
  representedRange,
  roundHalfAway,
  uint8Params,
} from './quantize-params.js';

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const f32 = Math.fround;

// Numbers from the decoded TOCO 1.15 file speech-tiny-conv-qat/tiny_conv.tflite (spec tflite.md §3.3).
describe('TOCO parameter choice (tiny_conv table)', () => {
  it('input from mean 0 / std 9.8077: scale 1/std, zp 0, stored [0, 25.999979]', () => {
    const max = f32((255 - 0) / 9.8077);
    const p = uint8Params(0, max);
    expect(rel(f32(p.scale), 0.1019607)).toBeLessThan(1e-6);
    expect(p.zeroPoint).toBe(0);
    expect(rel(representedRange(p).max, 25.999979)).toBeLessThan(1e-6);
  });

  it('narrow-range depthwise weights: (max−min)/254, zp 132', () => {
    const p = uint8Params(f32(-0.09362264), f32(0.087919265), true);
    expect(rel(f32(p.scale), 0.00071473193)).toBeLessThan(1e-6);
    expect(p.zeroPoint).toBe(132);
    expect(p.qmin).toBe(1);
  });

  it('narrow-range FC weights: zp 136', () => {
    const p = uint8Params(f32(-0.044889241), f32(0.039489467), true);
    expect(rel(f32(p.scale), 0.00033219965)).toBeLessThan(1e-6);
    expect(p.zeroPoint).toBe(136);
  });

  it('biases: s_in·s_w in double', () => {
    const sIn = uint8Params(0, f32(255 / 9.8077)).scale;
    const sW = uint8Params(f32(-0.09362264), f32(0.087919265), true).scale;
    expect(rel(f32(sIn * sW), 7.2874565e-5)).toBeLessThan(1e-6);
    const sRelu = uint8Params(0, f32(19.199446)).scale;
    const sW2 = uint8Params(f32(-0.044889241), f32(0.039489467), true).scale;
    expect(rel(f32(sRelu), 0.075291947)).toBeLessThan(1e-6);
    expect(rel(f32(sRelu * sW2), 2.5011957e-5)).toBeLessThan(1e-6);
  });

  it('activation act_quant_1 [−29.417135, 25.163311]: scale 0.21404096, zp 137, nudged range stored', () => {
    const p = uint8Params(f32(-29.417135), f32(25.163311));
    expect(rel(f32(p.scale), 0.21404096)).toBeLessThan(1e-6);
    expect(p.zeroPoint).toBe(137);
    const r = representedRange(p);
    expect(rel(r.min, -29.323612)).toBeLessThan(1e-6);
    expect(rel(r.max, 25.256834)).toBeLessThan(1e-6);
  });

  it('Keras MLP dense_1/BiasAdd [−9.2456665, 16.269325]: scale 0.10005879, zp 92, stored [−9.205409, 16.309584]', () => {
    const p = uint8Params(f32(-9.2456665), f32(16.269325));
    expect(rel(f32(p.scale), 0.10005879)).toBeLessThan(1e-6);
    expect(p.zeroPoint).toBe(92);
    const r = representedRange(p);
    expect(rel(r.min, -9.205409)).toBeLessThan(1e-6);
    expect(rel(r.max, 16.309584)).toBeLessThan(1e-6);
  });

  it('degenerate [0,0] gives scale 0, zp 0 (as TFLite)', () => {
    expect(uint8Params(0, 0)).toMatchObject({ scale: 0, zeroPoint: 0 });
  });

  it('zero point clamps to the integer range', () => {
    expect(uint8Params(0, 5).zeroPoint).toBe(0);
    expect(uint8Params(-5, 0).zeroPoint).toBe(255);
  });
});

describe('int8 activations (MLIR converter test fake_quant_per_channel)', () => {
  it('(−33.614346, 21.54917) ⇒ scale 0.2163275, zp 27', () => {
    const p = int8Params(f32(-33.614346), f32(21.54917));
    expect(rel(f32(p.scale), 0.2163275)).toBeLessThan(1e-6);
    expect(p.zeroPoint).toBe(27);
    expect([p.qmin, p.qmax]).toEqual([-128, 127]);
  });
});

describe('rounding', () => {
  it('rounds halves away from zero', () => {
    expect(roundHalfAway(-0.5)).toBe(-1);
    expect(roundHalfAway(0.5)).toBe(1);
    expect(roundHalfAway(2.5)).toBe(3);
    expect(roundHalfAway(-2.4)).toBe(-2);
  });
});

describe('TF FakeQuant nudging in float32 (fake-quant.md §3.2)', () => {
  it('wide [−1,1]: zp 127 (not the exact 128), nudged [−0.9960785, 1.0039216]', () => {
    const n = nudgeFakeQuant(-1, 1, 8, false);
    expect(n.zeroPoint).toBe(127);
    expect(rel(n.min, -0.9960785)).toBeLessThan(1e-6);
    expect(rel(n.max, 1.0039216)).toBeLessThan(1e-6);
  });

  it('narrow [−1,1]: zp 128, range kept', () => {
    const n = nudgeFakeQuant(-1, 1, 8, true);
    expect(n.zeroPoint).toBe(128);
    expect(n.min).toBe(-1);
    expect(n.max).toBe(1);
  });

  it('forward: clamps, and rounds half up on the shifted value', () => {
    const n = nudgeFakeQuant(0, 2.55, 8, false); // scale 0.01, zp 0
    const y = fakeQuantValues([-1, 0.004, 0.006, 5], n);
    expect(y[0]).toBe(0);
    expect(y[1]).toBe(0);
    expect(rel(y[2]!, 0.01)).toBeLessThan(1e-6);
    expect(rel(y[3]!, 2.55)).toBeLessThan(1e-6);
  });
});

describe('buffers', () => {
  it('quantizes with round(zp + x/scale), clamped; narrow weights never hit 0', () => {
    const p = uint8Params(-1, 1, true);
    const q = quantizeValues([-1, -2, 0, 1, 2], p);
    expect(q).toEqual([1, 1, 128, 255, 255]);
  });

  it('bias: round(b/scale), int32', () => {
    const b = quantizeBias([0.5, -0.25, 1e-9], [0.1]);
    expect([...b]).toEqual([5, -3, 0]);
    const pc = quantizeBias([1, 1], [0.5, 0.25]);
    expect([...pc]).toEqual([2, 4]);
  });
});

describe('QuantizeMultiplier', () => {
  it('1.1143418e-4 ⇒ M ≈ 1960370769, e −13 (spec §4.1; the printed d has 8 digits, so M within 2e-7)', () => {
    const r = quantizeMultiplier(1.1143418e-4);
    expect(r.shift).toBe(-13);
    expect(Math.abs(r.multiplier - 1960370769)).toBeLessThan(1960370769 * 2e-7);
    // and the exact d of that M maps back to it
    expect(quantizeMultiplier(1960370769 * 2 ** -44)).toEqual({ multiplier: 1960370769, shift: -13 });
  });

  it('represents d as M·2^(e−31) within 2^-31 relative; powers of two are exact', () => {
    for (const d of [0.75, 1, 1.5, 3.9e-7, 0.5, 0.999999999999]) {
      const { multiplier, shift } = quantizeMultiplier(d);
      expect(multiplier).toBeGreaterThanOrEqual(2 ** 30);
      expect(multiplier).toBeLessThan(2 ** 31);
      expect(rel(multiplier * 2 ** (shift - 31), d)).toBeLessThan(2 ** -30);
    }
    expect(quantizeMultiplier(0.5)).toEqual({ multiplier: 2 ** 30, shift: 0 });
    expect(quantizeMultiplier(0)).toEqual({ multiplier: 0, shift: 0 });
  });
});

describe('properties (fast-check, 500 random ranges each)', () => {
  it('chooseParams: integer zero point in range (so 0.0 is exact), span = (qmax−qmin)·scale, range covered', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e4, max: 0, noNaN: true }), fc.double({ min: 1e-6, max: 1e4, noNaN: true }), fc.boolean(), (lo, hi, narrow) => {
        for (const p of [uint8Params(lo, hi, narrow), int8Params(lo, hi, narrow)]) {
          expect(Number.isInteger(p.zeroPoint)).toBe(true);
          expect(p.zeroPoint).toBeGreaterThanOrEqual(p.qmin);
          expect(p.zeroPoint).toBeLessThanOrEqual(p.qmax);
          expect(Math.abs(p.scale * (p.qmax - p.qmin) - (hi - lo))).toBeLessThanOrEqual(1e-9 * (hi - lo));
          // the represented range covers [lo, hi] up to half a step at either end
          const r = representedRange(p);
          expect(r.min).toBeLessThanOrEqual(lo + p.scale / 2 + 1e-6 * (hi - lo));
          expect(r.max).toBeGreaterThanOrEqual(hi - p.scale / 2 - 1e-6 * (hi - lo));
        }
      }),
      { numRuns: 500, seed: 42 },
    );
  });

  it('FakeQuant: outputs lie on the nudged grid, inside the nudged range; quantizing them with TOCO params is lossless', () => {
    fc.assert(
      fc.property(fc.float({ min: -100, max: 0, noNaN: true }), fc.float({ min: Math.fround(0.01), max: 100, noNaN: true }), fc.boolean(), fc.array(fc.float({ min: -200, max: 200, noNaN: true }), { minLength: 1, maxLength: 20 }), (lo, hi, narrow, xs) => {
        const n = nudgeFakeQuant(lo, hi, 8, narrow);
        const y = fakeQuantValues(xs, n);
        const p = uint8Params(n.min, n.max, narrow);
        const q = quantizeValues(y, p);
        y.forEach((v, i) => {
          expect(v).toBeGreaterThanOrEqual(n.min - 1e-6);
          expect(v).toBeLessThanOrEqual(n.max + 1e-6);
          const k = (v - n.min) / n.scale;
          expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-3);
          // dequantized TOCO value equals the fake-quant value to float32 precision
          expect(Math.abs((q[i]! - p.zeroPoint) * p.scale - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)) + p.scale * 1e-3);
        });
      }),
      { numRuns: 500, seed: 7 },
    );
  });
});
