// Benchmark: @tfpass/quantize placement, rewrite and coverage check scale linearly.
// A chain of N conv→bias→relu6 blocks with a residual Add every other block (small tensors: the
// graph size is what matters), at N and 10·N blocks. Target: 10x the nodes costs <= 12x the time
// for planQuantization + insert (const ranges) + quantCheck, measured in one process after a warm-up.
// Usage: node bench/quantize.mjs [--quick]   (needs dist builds: `npm run build`)
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = (pkg, f = 'index.js') => join(here, '..', 'packages', pkg, 'dist', f);
const quick = process.argv.includes('--quick');
const core = await import(dist('core'));
const q = await import(dist('quantize'));

function net(blocks) {
  const g = new core.Graph();
  const T = { T: { type: 'float32' } };
  const k = (name, shape) => g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: core.Tensor.fromValues('float32', shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 37) % 11) / 5 - 1)) } } }).name;
  g.addNode({ name: 'input', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 8, 8, 4] } } });
  let x = 'input';
  for (let i = 0; i < blocks; i++) {
    const s = `block${i}`;
    g.addNode({ name: `${s}/Conv2D`, op: 'Conv2D', inputs: [x, k(`${s}/weights`, [1, 1, 4, 4])], attrs: { ...T, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' } } });
    g.addNode({ name: `${s}/BiasAdd`, op: 'BiasAdd', inputs: [`${s}/Conv2D`, k(`${s}/bias`, [4])], attrs: T });
    let y = `${s}/BiasAdd`;
    if (i % 2) y = g.addNode({ name: `${s}/add`, op: 'AddV2', inputs: [y, x], attrs: T }).name;
    x = g.addNode({ name: `${s}/Relu6`, op: 'Relu6', inputs: [y], attrs: T }).name;
  }
  g.addNode({ name: 'out', op: 'Softmax', inputs: [x], attrs: T });
  return g;
}

function time(blocks, reps) {
  let best = Infinity;
  let sites = 0;
  for (let r = 0; r < reps; r++) {
    const g = net(blocks);
    const t0 = performance.now();
    const plan = q.planQuantization(g);
    q.applySites(g, plan, { kind: 'const' });
    const findings = q.quantCheck(g, 'tflite');
    best = Math.min(best, performance.now() - t0);
    sites = plan.length;
    const errs = findings.filter((f) => f.severity === 'error');
    if (errs.length) throw new Error('unexpected missing ranges: ' + errs.slice(0, 3).map((f) => f.message).join('; '));
  }
  return { ms: best, sites, nodes: net(blocks).size };
}

const n = quick ? 100 : 300;
time(n, 1); // warm-up
const a = time(n, quick ? 2 : 3);
const b = time(10 * n, quick ? 1 : 2);
const ratio = b.ms / a.ms;
console.log(`quantize: ${a.nodes} nodes (${a.sites} sites) ${a.ms.toFixed(1)} ms; ${b.nodes} nodes (${b.sites} sites) ${b.ms.toFixed(1)} ms`);
console.log(`quantize: 10x nodes -> ${ratio.toFixed(2)}x time (target <= 12x) ${ratio <= 12 ? 'PASS' : 'FAIL'}`);
console.log(`BENCH_SUMMARY ${JSON.stringify({ worst: +ratio.toFixed(2), ok: ratio <= 12 })}`);
if (ratio > 12) process.exitCode = 1;
