/**
 * FakeQuant arithmetic as TF's kernels compute it, every step in float32 (spec fake-quant.md §3):
 * the one copy used by the runtime's kernels, the quantize rewriter and the TFLite converter.
 */
const f = Math.fround;

export interface Nudged {
  min: number;
  max: number;
  scale: number;
  /** Nudged zero point, in [quantMin, quantMax]. */
  zeroPoint: number;
  quantMin: number;
  quantMax: number;
}

/** Round half away from zero (C's std::round): zero points, never the values themselves. */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** TF's Nudge: keep the scale, shift the grid so that 0 is exactly representable. */
export function nudge(min: number, max: number, numBits = 8, narrowRange = false): Nudged {
  const quantMin = narrowRange ? 1 : 0;
  const quantMax = 2 ** numBits - 1;
  const scale = f(f(f(max) - f(min)) / f(quantMax - quantMin));
  const zpFromMin = f(quantMin - f(f(min) / scale));
  const zeroPoint = zpFromMin < quantMin ? quantMin : zpFromMin > quantMax ? quantMax : roundHalfAway(zpFromMin);
  return { min: f(f(quantMin - zeroPoint) * scale), max: f(f(quantMax - zeroPoint) * scale), scale, zeroPoint, quantMin, quantMax };
}

/** FakeQuantWithMinMaxVars forward on one value: clamp, then round half up on the grid. */
export function fakeQuantValue(x: number, n: Nudged): number {
  const c = Math.min(Math.max(f(x), n.min), n.max);
  const q = Math.floor(f(f(f(c - n.min) / n.scale) + 0.5));
  return f(f(q * n.scale) + n.min);
}
