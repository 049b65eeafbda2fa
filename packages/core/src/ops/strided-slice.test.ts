import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inferShapes } from '../index.js';
import { G, int, type } from './__tests__/build.js';

/** Python's slice semantics (what TF's StridedSlice follows per dim), written as a plain index walk. */
function pySlice(n: number, begin: number | null, end: number | null, step: number): number[] {
  const norm = (v: number) => (v < 0 ? v + n : v);
  let start: number;
  let stop: number;
  if (step > 0) {
    start = begin === null ? 0 : Math.min(Math.max(norm(begin), 0), n);
    stop = end === null ? n : Math.min(Math.max(norm(end), 0), n);
  } else {
    start = begin === null ? n - 1 : Math.min(Math.max(norm(begin), -1), n - 1);
    stop = end === null ? -1 : Math.min(Math.max(norm(end), -1), n - 1);
  }
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

describe('StridedSlice on values', () => {
  it('matches Python slicing for any begin/end/stride/masks on a 1-D tensor', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: -12, max: 12 }),
        fc.integer({ min: -12, max: 12 }),
        fc.integer({ min: -4, max: 4 }).filter((s) => s !== 0),
        fc.boolean(),
        fc.boolean(),
        (n, b, e, st, bm, em) => {
          const g = new G();
          const data = Array.from({ length: n }, (_, i) => 100 + i);
          g.c('v', data, [n]);
          g.c('b', [b]);
          g.c('e', [e]);
          g.c('s', [st]);
          g.op('ss', 'StridedSlice', ['v', 'b', 'e', 's'], { Index: type('int32'), begin_mask: int(bm ? 1 : 0), end_mask: int(em ? 1 : 0) });
          const want = pySlice(n, bm ? null : b, em ? null : e, st).map((i) => data[i]!);
          const got = inferShapes(g.g).get('ss')!;
          expect(got.shape).toEqual([want.length]);
          expect(got.value ?? []).toEqual(want);
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});
