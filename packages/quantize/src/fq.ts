// FakeQuant arithmetic as TF's kernels compute it (float32 throughout), spec §3.

import { fakeQuantValue, nudge } from '@tfpass/core';

// The arithmetic itself lives once, in core; quantize re-exports it for its callers.
export { nudge, fakeQuantValue, trackedRange, DebiasedEma, type Nudged } from '@tfpass/core';


export function fakeQuant(xs: ArrayLike<number>, min: number, max: number, numBits = 8, narrowRange = false): Float32Array {
  const n = nudge(min, max, numBits, narrowRange);
  const out = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = fakeQuantValue(xs[i]!, n);
  return out;
}
