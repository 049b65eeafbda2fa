/**
 * qat on data read through @tfpass/data as training goes: PNG class folders (real
 * fashion-mnist images, pixels 0–255 grey levels, --std 255) on the real edgetpu MLP float
 * weights, and PNG masks on the demo segmentation net; validation history, best checkpoint.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readGraph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { runGraph } from '@tfpass/runtime';
import { createMetric, encodeExample, encodeTfrecords, layoutFor, openDataset } from '@tfpass/data';
import { buildDemoModel, demoImages, DEMO_INPUT, DEMO_LOGITS, runQatJob } from '../src/index.js';
import { MLP_INPUT, MLP_LOGITS, stripFakeQuants } from './helpers/edgetpu.js';

const require = createRequire(import.meta.url);

function png(path: string, w: number, h: number, channels: 1 | 3, px: (i: number, c: number) => number): void {
  const p = new PNG({ width: w, height: h, colorType: channels === 1 ? 0 : 2 });
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) p.data[i * 4 + c] = px(i, channels === 1 ? 0 : c);
    p.data[i * 4 + 3] = 255;
  }
  writeFileSync(path, PNG.sync.write(p, { colorType: channels === 1 ? 0 : 2 }));
}

/** `perClass` fashion-mnist images per class as PNG class folders (0_tshirt ... 9_boot order = label). */
function fashionFolders(dir: string, perClass: number, from: number): void {
  for (let c = 0; c < 10; c++) {
    const raw = require(`fashion-mnist/src/clothes/${c}.json`).data as number[][];
    mkdirSync(join(dir, `class${c}`), { recursive: true });
    for (let k = 0; k < perClass; k++) png(join(dir, `class${c}`, `${k}.png`), 28, 28, 1, (i) => raw[from + k]![i]!);
  }
}

const mlpPath = modelPath('edgetpu-qat-fashion-mlp/frozen_model.pb');

describe('qat with streamed data and validation', () => {
  it.skipIf(!mlpPath)('PNG class folders on the real edgetpu MLP: float at step 0, quantized per evaluation, equal to the frozen graph', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-stream-'));
    fashionFolders(join(dir, 'train'), 24, 0);
    fashionFolders(join(dir, 'val'), 10, 6000);
    const graph = stripFakeQuants(readGraph(mlpPath!));
    const layout = layoutFor([-1, 28, 28], { std: [255] });
    const train = openDataset([join(dir, 'train')], layout).shuffled(3);
    const val = openDataset([join(dir, 'val')], layout);
    const r = await runQatJob({
      graph, data: {}, output: MLP_LOGITS, steps: 20, batch: 16, lr: 1e-4, quantDelay: 5,
      stream: { input: MLP_INPUT, train, val, metric: () => createMetric('top1'), evalEvery: 10, keepBest: true },
      checkpointDir: join(dir, 'qat'), outTflite: join(dir, 'mlp.tflite'), inferenceType: 'INT8',
    });
    const ev = r.result.evals;
    expect(ev.map((p) => p.step)).toEqual([0, 10, 20]);
    expect(ev[0]!.quantized).toBeUndefined();
    // The pretrained float MLP on 100 held-out images (its published test top-1 is ~0.87).
    expect(ev[0]!.float!).toBeGreaterThanOrEqual(0.8);
    for (const p of ev.slice(1)) expect(p.quantized!).toBeGreaterThanOrEqual(0.8);
    expect(r.result.best && existsSync(r.result.best.prefix + '.index')).toBe(true);
    expect(r.result.best!.value).toBe(Math.max(...ev.slice(1).map((p) => p.quantized!)));

    // The .tflite (LiteRT.js) against the fake-quant graph on 32 validation images: same class
    // for each (measured 100%); the logits differ by a few LSB (measured 20.9 dB) because the
    // MLP's batch norm (after the Relu, not foldable) has no fake quants of its own and TOCO
    // takes its constants' ranges from their values, as it warns.
    const t = r.tflite!;
    expect(existsSync(t.file)).toBe(true);
    expect(t.examples).toBe(32);
    expect(t.agreement).toBeGreaterThanOrEqual(0.95);
    expect(t.sqnrDb).toBeGreaterThan(15);
    expect(t.lsb!.mean).toBeLessThan(6);
    const md = readFileSync(r.files.report!, 'utf8');
    expect(md).toContain('mlp.tflite');
    expect(md).toContain('| 20 |');
    expect(readFileSync(r.files.plots!, 'utf8')).toContain('validation top1');

    // The last evaluation ran the model as frozen: the deployable graph gives the same top-1.
    const m = createMetric('top1');
    for (const b of val.batches(50)) {
      const [logits] = await runGraph(readGraph(r.files.frozen!), { [MLP_INPUT]: new (await import('@tfpass/core')).Tensor('float32', [b.size, 28, 28], b.inputs) }, [MLP_LOGITS]);
      m.add(logits!.toFloat32(), b.labels!, 10);
    }
    expect(Math.abs(m.value() - ev[2]!.quantized!)).toBeLessThanOrEqual(1 / val.size + 1e-9);
  }, 60_000);

  it.skipIf(!mlpPath)('TFRecords of tf.train.Example (PNG image/encoded, int64 image/class/label) feed training and validation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-records-'));
    const records = (from: number, n: number) => {
      const out: Uint8Array[] = [];
      for (let c = 0; c < 10; c++) {
        const raw = require(`fashion-mnist/src/clothes/${c}.json`).data as number[][];
        for (let k = 0; k < n; k++) {
          const p = new PNG({ width: 28, height: 28, colorType: 0 });
          raw[from + k]!.forEach((v, i) => { p.data.fill(v, i * 4, i * 4 + 3); p.data[i * 4 + 3] = 255; });
          out.push(encodeExample({ 'image/encoded': new Uint8Array(PNG.sync.write(p, { colorType: 0 })), 'image/class/label': { int64: [c] } }));
        }
      }
      return encodeTfrecords(out);
    };
    writeFileSync(join(dir, 'train.tfrecord'), records(0, 4));
    writeFileSync(join(dir, 'val.tfrecord'), records(6000, 5));
    const layout = layoutFor([-1, 28, 28], { std: [255] });
    const train = openDataset([join(dir, 'train.tfrecord')], layout);
    const val = openDataset([join(dir, 'val.tfrecord')], layout);
    expect([train.size, val.size]).toEqual([40, 50]);
    const r = await runQatJob({
      graph: stripFakeQuants(readGraph(mlpPath!)), data: {}, output: MLP_LOGITS, steps: 4, batch: 8, lr: 1e-4,
      stream: { input: MLP_INPUT, train, val, metric: () => createMetric('top1'), evalEvery: 4 },
      checkpointDir: join(dir, 'qat'),
    });
    expect(r.result.evals.map((p) => p.step)).toEqual([0, 4]);
    // The pretrained MLP classifies the decoded records: far above chance (0.1).
    expect(r.result.evals[0]!.float!).toBeGreaterThan(0.7);
    expect(r.result.evals[1]!.quantized!).toBeGreaterThan(0.7);
  }, 60_000);

  it('PNG masks on the demo net: mIoU for float and quantized', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-masks-'));
    const size = 16;
    mkdirSync(join(dir, 'img'));
    mkdirSync(join(dir, 'mask'));
    const x = demoImages(12, size, 5).toFloat32();
    const per = size * size * 3;
    for (let k = 0; k < 12; k++) {
      // Image in 0–255, read back with --std 255; the mask is the brightest channel per pixel (4th class: dark).
      png(join(dir, 'img', `${k}.png`), size, size, 3, (i, c) => Math.round(255 * x[k * per + i * 3 + c]!));
      png(join(dir, 'mask', `${k}.png`), size, size, 1, (i) => {
        const v = [0, 1, 2].map((c) => x[k * per + i * 3 + c]!);
        const top = v.indexOf(Math.max(...v));
        return v[top]! < 0.3 ? 3 : top;
      });
    }
    const layout = layoutFor([1, size, size, 3], { std: [255] });
    const all = openDataset([join(dir, 'img')], layout, { masksDir: join(dir, 'mask') });
    const { train, val } = all.split(0.25, 1);
    expect(val.size).toBe(3);
    const r = await runQatJob({
      graph: buildDemoModel({ seed: 4, size }), data: {}, output: DEMO_LOGITS, steps: 4, batch: 3, quantDelay: 1,
      stream: { input: DEMO_INPUT, train, val, metric: () => createMetric('miou'), evalEvery: 2 },
      checkpointDir: join(dir, 'qat'),
    });
    const ev = r.result.evals;
    expect(ev.map((p) => p.step)).toEqual([0, 2, 4]);
    for (const p of ev) expect(p.float!).toBeGreaterThan(0), expect(p.float!).toBeLessThanOrEqual(1);
    for (const p of ev.slice(1)) expect(p.quantized!).toBeGreaterThan(0);
    expect(r.result.history.every((h) => Number.isFinite(h.loss))).toBe(true);
  }, 60_000);
});
