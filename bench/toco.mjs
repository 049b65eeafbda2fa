// Benchmark: `tfpass toco` on tf-doc-localisation-mnv2 (1083 nodes, 3 MB, FusedBatchNorms, a keypoint
// head of shape arithmetic): read .pb + lower + fuse + write .tflite, against one read + write of the
// same GraphDef (core readGraph + encodeGraph). Target: conversion <= 2x. Medians of alternating runs
// after a warm-up, in one process. A second row does the same file to file (read the .pb, write the
// output atomically, as `tfpass convert a.pb b.pb` and `tfpass toco` do).
// Usage: node bench/toco.mjs [--quick]   (needs dist builds: `npm run build`)
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = (pkg, f = 'index.js') => join(here, '..', 'packages', pkg, 'dist', f);
const quick = process.argv.includes('--quick');
const models = process.env.TFPASS_MODELS ?? resolve(here, '../../shared/models');
const file = join(models, 'tf-doc-localisation-mnv2/frozen_model.pb');
if (!existsSync(file)) {
  console.log(`skipped: ${file} not found (set TFPASS_MODELS)`);
  console.log(`BENCH_SUMMARY ${JSON.stringify({ worst: null, ok: true, skipped: true })}`);
  process.exit(0);
}

const core = await import(dist('core'));
const { convertGraph } = await import(dist('toco'));
const { writeTflite } = await import(dist('tflite'));
const bytes = new Uint8Array(readFileSync(file));

const roundTrip = () => core.encodeGraph(core.readGraph(bytes)).length;
const convert = () => writeTflite(convertGraph(core.readGraph(bytes), { outputArrays: ['keypoints_pred'] }).model).length;
const tmp = mkdtempSync(join(tmpdir(), 'tfpass-bench-toco-'));
const fileRoundTrip = () => core.writeGraph(core.readGraph(file), join(tmp, 'out.pb'));
const fileConvert = () => core.writeFileAtomic(join(tmp, 'out.tflite'), writeTflite(convertGraph(core.readGraph(file), { outputArrays: ['keypoints_pred'] }).model));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(f) {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

function ratioOf(base, conv, label) {
  base();
  conv();
  const n = quick ? 5 : 15;
  const a = [];
  const b = [];
  for (let i = 0; i < n; i++) {
    a.push(time(base));
    b.push(time(conv));
  }
  const ratio = +(median(b) / median(a)).toFixed(2);
  // The minimum is what the code costs without other jobs' interference (this machine is shared).
  const best = +(Math.min(...b) / Math.min(...a)).toFixed(2);
  console.log(`${label}: GraphDef read+write ${median(a).toFixed(1)} ms; read + toco + write .tflite ${median(b).toFixed(1)} ms; ratio of medians ${ratio}, of minima ${best} (target <= 2)`);
  return ratio;
}
const inMemory = ratioOf(roundTrip, convert, 'mnv2 in memory');
const files = ratioOf(fileRoundTrip, fileConvert, 'mnv2 file to file');
rmSync(tmp, { recursive: true, force: true });
console.log(`BENCH_SUMMARY ${JSON.stringify({ worst: inMemory, ok: inMemory <= 2, fileToFile: files })}`);
