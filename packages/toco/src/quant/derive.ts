import type { TensorRange } from '../lowered.js';
import { quantOp, type FixedParams } from './ops.js';
import type { QuantGraph } from './graph.js';

const f32 = Math.fround;

function sameRange(a: TensorRange, b: TensorRange): boolean {
  return a.min === b.min && a.max === b.max;
}

/** The range fixed output params represent (e.g. Softmax [0, 255/256]). */
export function fixedRange(p: FixedParams, qmin: number, qmax: number): TensorRange {
  return { min: f32((qmin - p.zeroPoint) * p.scale), max: f32((qmax - p.zeroPoint) * p.scale), numBits: 8, narrowRange: false, source: 'derived' };
}

/**
 * TOCO's HardcodeMinMax, run to a fixed point: fill missing ranges from neighbours by the rules
 * in the op table. Alternating forward and backward sweeps converge in a few rounds on real
 * graphs (each rule only fills a missing range or widens a concat union, so it terminates).
 */
export function hardcodeMinMax(g: QuantGraph, opts: { changeConcatInputRanges?: boolean; fixed: 'u8' | 'i8' }): void {
  const { ranges, sg } = g;
  const set = (t: number, r: TensorRange): boolean => {
    const old = ranges.get(t);
    if (old && sameRange(old, r)) return false;
    ranges.set(t, { ...r, source: r.source === 'derived' || !old ? 'derived' : r.source, perChannel: undefined });
    return true;
  };
  const fill = (t: number, r: TensorRange | undefined): boolean => (t >= 0 && g.isFloat(t) && !ranges.has(t) && r ? set(t, { ...r, source: 'derived' }) : false);
  const step = (opIndex: number): boolean => {
    const op = sg.operators[opIndex]!;
    const q = quantOp(g.builtin(op));
    if (!q) return false;
    const input = op.inputs[q.data ?? 0] ?? -1;
    const out = op.outputs[0] ?? -1;
    const fixed = opts.fixed === 'u8' ? q.u8Out : q.i8Out;
    if (fixed && typeof fixed === 'object') {
      const r = opts.fixed === 'u8' ? fixedRange(fixed, 0, 255) : fixedRange(fixed, -128, 127);
      const old = ranges.get(out);
      return old && sameRange(old, r) ? false : (ranges.set(out, r), true);
    }
    let changed = false;
    switch (q.derive) {
      case 'inputFromOutput':
        changed = fill(input, ranges.get(out));
        break;
      case 'outputFromInput':
        for (const o of op.outputs) changed = fill(o, ranges.get(input)) || changed;
        break;
      case 'pool': {
        const r = ranges.get(input);
        if (r) changed = fill(out, { ...r, min: Math.min(r.min, 0), max: Math.max(r.max, 0) });
        break;
      }
      case 'reshape':
        changed = fill(out, ranges.get(input)) || fill(input, ranges.get(out));
        break;
      case 'packIfEqual': {
        const rs = op.inputs.map((t) => ranges.get(t));
        const first = rs[0];
        if (first && rs.every((r) => r && sameRange(r, first))) changed = fill(out, first);
        break;
      }
      case 'concat': {
        const ins = op.inputs.filter((t) => t >= 0 && g.isFloat(t));
        const rs = ins.map((t) => ranges.get(t));
        if (rs.some((r) => !r)) break;
        let min = Infinity;
        let max = -Infinity;
        for (const r of [...rs, ranges.get(out)]) {
          if (!r) continue;
          min = Math.min(min, r.min);
          max = Math.max(max, r.max);
        }
        const union: TensorRange = { min, max, numBits: 8, narrowRange: false, source: 'derived' };
        const old = ranges.get(out);
        if (!old || !sameRange(old, union)) changed = set(out, union);
        if (opts.changeConcatInputRanges) {
          for (const t of ins) {
            const r = ranges.get(t)!;
            if (sameRange(r, union)) continue;
            g.notes.push({ level: 'warning', message: `Tweaking the MinMax of array ${g.describe(t)}, which is an input to Concatenation, to the union of the ranges of all inputs` });
            changed = set(t, union) || changed;
          }
        }
        break;
      }
    }
    return changed;
  };
  const n = sg.operators.length;
  for (let round = 0; round < n + 2; round++) {
    let changed = false;
    for (let i = 0; i < n; i++) changed = step(i) || changed;
    for (let i = n - 1; i >= 0; i--) changed = step(i) || changed;
    if (!changed) return;
  }
}
