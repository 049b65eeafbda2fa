// Per-channel QAT vs per-channel PTQ on keras-mobilenet-0.25-128 (issue 15, int8 NPUs):
// the same job (tfpass qat, distillation against the float graph, --per_channel), once with
// learning rate 0 (PTQ: EMA calibration of every range, weights untouched) and once with Adam.
// Quality: SQNR of the frozen deployable graph's output_0 against the original float graph on
// held-out inputs. Inputs: generated "blob" images (packages/train demoImages), values in [0, 1];
// 16 training images (train seeds 1..), 16 held-out (other seeds).
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Tensor, readGraph } from '../packages/core/dist/index.js';
import { runGraph, writeNpy } from '../packages/runtime/dist/index.js';
import { demoImages, runQatJob } from '../packages/train/dist/index.js';

const quick = process.argv.includes('--quick');
const models = process.env.TFPASS_MODELS ?? resolve(import.meta.dirname, '../../shared/models');
const file = join(models, 'keras-mobilenet-0.25-128', 'mnet.pb');
if (!existsSync(file)) {
  console.log(`BENCH_SUMMARY ${JSON.stringify({ name: 'qat-per-channel', skipped: `${file} not found` })}`);
  process.exit(0);
}
const float = readGraph(file);
const dir = mkdtempSync(join(tmpdir(), 'tfpass-pc-'));
mkdirSync(join(dir, 'data'));
const files = [];
for (let i = 0; i < 2; i++) {
  files.push(join(dir, 'data', `x${i}.npy`));
  writeNpy(files[i], demoImages(8, 128, 1 + i));
}
const held = demoImages(16, 128, 5000);

async function sqnr(g) {
  const [q] = await runGraph(g, { input_1: held }, ['output_0']);
  const [f] = await runGraph(float, { input_1: held }, ['output_0']);
  const a = f.toFloat32(), b = q.toFloat32();
  let s = 0, n = 0;
  for (let i = 0; i < a.length; i++) { s += a[i] ** 2; n += (a[i] - b[i]) ** 2; }
  return 10 * Math.log10(s / Math.max(n, 1e-30));
}

const steps = quick ? 8 : 40;
const base = { graph: float, data: { input_1: files }, output: 'output_0', batch: 8, quantDelay: 0, perChannel: true };
const ptq = await runQatJob({ ...base, steps, lr: 0, checkpointDir: join(dir, 'ptq') });
const q = await runQatJob({ ...base, steps, lr: 1e-4, checkpointDir: join(dir, 'qat') });
const a = await sqnr(readGraph(ptq.files.frozen)), b = await sqnr(readGraph(q.files.frozen));
console.log(`keras-mobilenet-0.25-128, per-channel 8-bit, ${steps} steps of batch 8: PTQ ${a.toFixed(2)} dB, QAT ${b.toFixed(2)} dB SQNR of output_0 vs float on 16 held-out images`);
console.log(`BENCH_SUMMARY ${JSON.stringify({ name: 'qat-per-channel', ptq_per_channel_sqnr_db: +a.toFixed(2), qat_per_channel_sqnr_db: +b.toFixed(2), qat_minus_ptq_db: +(b - a).toFixed(2), target: 'QAT > PTQ', ok: b > a })}`);
