/** Seeded inputs and tolerance checks shared by the numeric tests. */

/** Seeded uniform [-1, 1) (mulberry32). */
export function uniform(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export interface Compared {
  maxAbs: number;
  maxRef: number;
  worst: number;
}

/** Largest |a−b| / (atol + rtol|b|) over all elements: ≤ 1 means equal within tolerance. */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number): Compared {
  let maxRef = 0;
  for (let i = 0; i < b.length; i++) maxRef = Math.max(maxRef, Math.abs(b[i]!));
  const atol = rtol * maxRef;
  let worst = 0;
  let maxAbs = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    maxAbs = Math.max(maxAbs, d);
    worst = Math.max(worst, d / (atol + rtol * Math.abs(b[i]!)));
  }
  return { maxAbs, maxRef, worst };
}

