import { Tensor } from '@tfpass/core';

/**
 * Seeded synthetic "photos" in [-1, 1]: smooth gradients plus a few low-frequency waves and
 * blobs per channel (image-like statistics; white noise is a pathological input for a CNN).
 */
export function syntheticImage(seed: number, h = 128, w = 128, c = 3): Tensor {
  let s = seed * 9301 + 49297;
  const r = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const out = new Float32Array(h * w * c);
  for (let ch = 0; ch < c; ch++) {
    const waves = Array.from({ length: 4 }, () => ({ fx: r() * 6, fy: r() * 6, ph: r() * 6.28, a: r() }));
    const blobs = Array.from({ length: 3 }, () => ({ x: r() * w, y: r() * h, rad: 8 + r() * 30, a: r() * 2 - 1 }));
    const gx = r() * 2 - 1;
    const gy = r() * 2 - 1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = (gx * x) / w + (gy * y) / h;
        for (const q of waves) v += q.a * Math.sin((q.fx * x) / w * 6.28 + (q.fy * y) / h * 6.28 + q.ph);
        for (const b of blobs) v += b.a * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.rad * b.rad));
        out[(y * w + x) * c + ch] = Math.tanh(v / 2);
      }
    }
  }
  return new Tensor('float32', [1, h, w, c], out);
}
