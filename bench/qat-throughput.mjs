// QAT throughput on keras-mobilenet-0.25-128 (issues 15, 20): training examples per second at batch 4 (--batch N)
// (fake-quant forward + backward + Adam, distillation loss) and its ratio to the inference
// executor's examples per second on the same backend (wasm) and the same prepared float graph.
// Inputs: uniform [-1, 1) images, seeded per step. Medians over the timed steps (warm-up skipped).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readGraph } from '../packages/core/dist/index.js';
import { Rng, createExecutor, randomTensor } from '../packages/runtime/dist/index.js';
import { qat, runFirstParty } from '../packages/train/dist/index.js';

const quick = process.argv.includes('--quick');
const models = process.env.TFPASS_MODELS ?? resolve(import.meta.dirname, '../../shared/models');
const file = join(models, 'keras-mobilenet-0.25-128', 'mnet.pb');
if (!existsSync(file)) {
  console.log(`BENCH_SUMMARY ${JSON.stringify({ name: 'qat-throughput', skipped: `${file} not found` })}`);
  process.exit(0);
}
const argv = process.argv.slice(2);
const B = Number(argv[argv.indexOf('--batch') + 1]) || 4, steps = quick ? 6 : 14, warm = 2;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const g = readGraph(file);
await runFirstParty(g, 'remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms', ['input_1'], ['output_0']);
const batch = (s) => randomTensor({ shape: [B, 128, 128, 3], dist: 'uniform', low: -1, high: 1 }, new Rng(100 + s));

const r = await qat({ graph: g, output: 'output_0', data: (s) => ({ feeds: { input_1: batch(s) } }), steps, lr: 1e-4, backend: 'wasm' });
const trainMs = median(r.history.slice(warm).map((h) => h.ms));

const ex = createExecutor({ backend: 'wasm' });
const inferMs = [];
for (let s = 0; s < steps; s++) {
  const x = batch(s);
  const t0 = performance.now();
  await ex.run(g, { input_1: x }, ['output_0']);
  if (s >= warm) inferMs.push(performance.now() - t0);
}
const infer = median(inferMs);
const qatEps = (1000 * B) / trainMs, inferEps = (1000 * B) / infer;
console.log(`keras-mobilenet-0.25-128, batch ${B}, wasm: QAT ${qatEps.toFixed(1)} examples/s (${trainMs.toFixed(0)} ms/step, ${r.sites.length} fake-quant sites), inference ${inferEps.toFixed(1)} examples/s (${infer.toFixed(0)} ms/batch)`);
// Issue 20's target: a training step (forward, backward, update) costs at most 2x three forward passes.
console.log(`step / forward = ${(trainMs / infer).toFixed(2)} (target <= 6, i.e. <= 2x of 3 forward passes)`);
console.log(`BENCH_SUMMARY ${JSON.stringify({ name: 'qat-throughput', qat_examples_per_s: +qatEps.toFixed(1), inference_examples_per_s: +inferEps.toFixed(1), ratio_qat_to_inference: +(qatEps / inferEps).toFixed(3), step_over_forward: +(trainMs / infer).toFixed(2), ok: trainMs / infer <= 6 })}`);
