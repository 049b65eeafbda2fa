import * as tf from '@tensorflow/tfjs-core';
import { TfpassError, nudge, type Nudged } from '@tfpass/core';
import type { KernelContext, KernelTable } from './attrs.js';

const f = Math.fround;

// Nudge (TF's float32 arithmetic) lives once, in core.
export { nudge, type Nudged };

function checkBits(ctx: { node: string; op: string }, bits: number): void {
  if (!(bits >= 2 && bits <= 16)) {
    throw new TfpassError('E_GRAPH_VALIDATION', `node '${ctx.node}' (${ctx.op}): num_bits must be between 2 and 16, inclusive (got ${bits})`);
  }
}

/**
 * Fake-quantize `x[i]` for channel `i % channels` in place semantics of TF's functors.
 * `useInverse` selects the Args variant (multiply by 1/scale) over the Vars one (divide).
 */
export function fakeQuantValues(x: Float32Array, ranges: Nudged[], useInverse: boolean): Float32Array {
  const out = new Float32Array(x.length);
  const c = ranges.length;
  for (let i = 0; i < x.length; i++) {
    const r = ranges[c === 1 ? 0 : i % c]!;
    const v = x[i]!;
    const clamped = v > r.max ? r.max : v < r.min ? r.min : v;
    const shifted = f(clamped - r.min);
    const scaled = useInverse ? f(shifted * f(1 / r.scale)) : f(shifted / r.scale);
    const q = Math.floor(f(scaled + 0.5));
    out[i] = f(f(q * r.scale) + r.min);
  }
  return out;
}

function fakeQuant(ctx: KernelContext, kind: 'args' | 'vars' | 'channel'): tf.Tensor {
  const bits = ctx.attrs.int('num_bits', 8);
  checkBits(ctx, bits);
  const narrow = ctx.attrs.bool('narrow_range', false);
  const x = ctx.inputs[0]!;
  let ranges: Nudged[];
  if (kind === 'args') {
    const min = ctx.attrs.float('min', -6);
    const max = ctx.attrs.float('max', 6);
    if (!(min < max)) throw new TfpassError('E_GRAPH_VALIDATION', `node '${ctx.node}' (${ctx.op}): min has to be smaller than max, was: ${min} >= ${max}`);
    ranges = [nudge(min, max, bits, narrow)];
  } else {
    const mins = ctx.inputs[1]!.dataSync() as Float32Array;
    const maxs = ctx.inputs[2]!.dataSync() as Float32Array;
    if (kind === 'channel') {
      const d = x.shape[x.shape.length - 1] ?? 1;
      if (mins.length !== d || maxs.length !== d) {
        throw new TfpassError('E_GRAPH_VALIDATION', `node '${ctx.node}' (${ctx.op}): min and max must have ${d} elements (last dimension of inputs), got ${mins.length} and ${maxs.length}`);
      }
    }
    ranges = Array.from(mins, (m, i) => nudge(m, maxs[i]!, bits, narrow));
  }
  const data = x.dataSync() as Float32Array;
  return tf.tensor(fakeQuantValues(data, ranges, kind === 'args'), x.shape, 'float32');
}

export const fakeQuantKernels = (): KernelTable => [
  ['FakeQuantWithMinMaxArgs', (c) => fakeQuant(c, 'args')],
  ['FakeQuantWithMinMaxVars', (c) => fakeQuant(c, 'vars')],
  ['FakeQuantWithMinMaxVarsPerChannel', (c) => fakeQuant(c, 'channel')],
];
