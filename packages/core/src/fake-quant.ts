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

/**
 * Range a quantizer tracks from a batch min/max (contrib quant_ops): 0 is always inside;
 * symmetric derives the smaller side from the larger one.
 */
export function trackedRange(batchMin: number, batchMax: number, opts: { symmetric?: boolean; narrowRange?: boolean; numBits?: number } = {}): [number, number] {
  if (!opts.symmetric) return [Math.min(batchMin, 0), Math.max(batchMax, 0)];
  const b = opts.numBits ?? 8;
  const r = opts.narrowRange ? -1 : -(2 ** b - 2) / 2 ** b;
  return [Math.min(batchMin, batchMax / r), Math.max(batchMax, batchMin * r)];
}

/**
 * `assign_moving_average(zero_debias=True)` with contrib's state (`biased`, `local_step`): the
 * first update yields exactly the first value. `float32` (default) rounds every step as TF's
 * kernels do, so QAT ranges match contrib's bit for bit; calibration may keep float64.
 */
export class DebiasedEma {
  biased = 0;
  localStep = 0;
  value: number;
  readonly float32: boolean;
  constructor(readonly decay: number, init = 0, opts: { float32?: boolean } = {}) {
    this.value = init;
    this.float32 = opts.float32 ?? true;
  }
  update(x: number): number {
    const r = this.float32 ? f : (v: number) => v;
    this.biased = r(this.biased - r(r(this.biased - x) * r(1 - this.decay)));
    this.localStep = r(this.localStep + 1);
    this.value = r(this.biased / r(1 - r(Math.pow(r(this.decay), this.localStep))));
    return this.value;
  }
}
