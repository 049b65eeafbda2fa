import { describe, expect, it } from 'vitest';
import { DebiasedEma, fakeQuantValue, nudge, trackedRange } from '../src/index.js';

describe('fake-quant arithmetic (one module)', () => {
  it('debiased EMA: the first update is the value itself, later ones follow the closed form', () => {
    for (const float32 of [true, false]) {
      const e = new DebiasedEma(0.999, 6, { float32 });
      expect(e.value).toBe(6);
      // exact in float64; float32 (as TF) is off by its rounding of 1 - decay
      expect(Math.abs(e.update(2.5) - 2.5)).toBeLessThan(float32 ? 1e-4 : 1e-12);
      const xs = [2.5, 3, 1, 4];
      for (const x of xs.slice(1)) e.update(x);
      // zero-debiased EMA = sum_k (1-d) d^(n-k) x_k / (1 - d^n)
      const d = 0.999, n = xs.length;
      const want = xs.reduce((a, x, k) => a + (1 - d) * d ** (n - 1 - k) * x, 0) / (1 - d ** n);
      expect(Math.abs(e.value - want)).toBeLessThan(float32 ? 2e-3 : 1e-9);
      expect(e.localStep).toBe(4);
    }
  });

  it('float32 EMA rounds each step (values are float32-representable)', () => {
    const e = new DebiasedEma(0.9, 0);
    for (const x of [0.1, 0.7, 0.3]) e.update(x);
    expect(Math.fround(e.value)).toBe(e.value);
    expect(Math.fround(e.biased)).toBe(e.biased);
  });

  it('tracked range keeps 0 inside and is symmetric on request', () => {
    expect(trackedRange(0.5, 3)).toEqual([0, 3]);
    expect(trackedRange(-2, -1)).toEqual([-2, 0]);
    const [lo, hi] = trackedRange(-1, 4, { symmetric: true, narrowRange: true });
    expect([lo, hi]).toEqual([-4, 4]);
    const n = nudge(lo, hi, 8, true);
    expect(fakeQuantValue(0, n)).toBe(0);
  });
});
