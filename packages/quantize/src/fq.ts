// FakeQuant arithmetic as TF's kernels compute it (float32 throughout), spec §3.

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

/** Round half away from zero (std::round), used for the zero point only. */
function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** TF's Nudge: keep the scale, shift the grid so 0 is exact. */
export function nudge(min: number, max: number, numBits = 8, narrowRange = false): Nudged {
  const quantMin = narrowRange ? 1 : 0;
  const quantMax = 2 ** numBits - 1;
  const scale = f(f(f(max) - f(min)) / f(quantMax - quantMin));
  const zpFromMin = f(quantMin - f(f(min) / scale));
  let zp: number;
  if (zpFromMin < quantMin) zp = quantMin;
  else if (zpFromMin > quantMax) zp = quantMax;
  else zp = roundAway(zpFromMin);
  return { min: f(f(quantMin - zp) * scale), max: f(f(quantMax - zp) * scale), scale, zeroPoint: zp, quantMin, quantMax };
}

/** FakeQuantWithMinMaxVars forward on one value: clamp, then round half up on the grid. */
export function fakeQuantValue(x: number, n: Nudged): number {
  const c = Math.min(Math.max(f(x), n.min), n.max);
  const q = Math.floor(f(f(f(c - n.min) / n.scale) + 0.5));
  return f(f(q * n.scale) + n.min);
}

export function fakeQuant(xs: ArrayLike<number>, min: number, max: number, numBits = 8, narrowRange = false): Float32Array {
  const n = nudge(min, max, numBits, narrowRange);
  const out = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = fakeQuantValue(xs[i]!, n);
  return out;
}

/**
 * Range a quantizer tracks from a batch min/max (contrib quant_ops): 0 always inside;
 * symmetric derives the smaller side from the larger one.
 */
export function trackedRange(batchMin: number, batchMax: number, opts: { symmetric?: boolean; narrowRange?: boolean; numBits?: number } = {}): [number, number] {
  if (!opts.symmetric) return [Math.min(batchMin, 0), Math.max(batchMax, 0)];
  const b = opts.numBits ?? 8;
  const r = opts.narrowRange ? -1 : -(2 ** b - 2) / 2 ** b;
  return [Math.min(batchMin, batchMax / r), Math.max(batchMax, batchMin * r)];
}

/**
 * Exponential moving average with TF's zero debiasing (moving_averages.assign_moving_average,
 * zero_debias=True): the first update yields exactly the first value.
 */
export class DebiasedEma {
  private biased = 0;
  private step = 0;
  value: number;
  constructor(readonly decay: number, init = 0) {
    this.value = init;
  }
  update(x: number): number {
    this.biased -= (this.biased - x) * (1 - this.decay);
    this.step++;
    this.value = this.biased / (1 - this.decay ** this.step);
    return this.value;
  }
}
