// FakeQuant arithmetic as TF's kernels compute it (float32 throughout), spec §3.

import { fakeQuantValue, nudge } from '@tfpass/core';

// The arithmetic itself lives once, in core; quantize re-exports it for its callers.
export { nudge, fakeQuantValue, type Nudged } from '@tfpass/core';


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
