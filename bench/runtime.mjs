// Benchmark: inference through @tfpass/runtime's executor vs the same model run through
// tfjs-converter's GraphModel directly (same backend, same artifacts), plus wasm vs cpu.
// Both sides include input upload and output download (`dataSync`); runs are interleaved and
// runs are paired (one of each, back to back) and the ratio is the median of the per-pair ratios,
// which stays meaningful on a loaded shared machine. Target: executor / direct <= 1.1.
// Usage: node bench/runtime.mjs [--quick]   (needs dist: `npx tsc -b packages/runtime`)
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = (pkg, f = 'index.js') => join(here, '..', 'packages', pkg, 'dist', f);
const quick = process.argv.includes('--quick');

const core = await import(dist('core'));
const rt = await import(dist('runtime'));
const fmt = await import(dist('tfjs-format'));
const tf = await import('@tensorflow/tfjs-core');
const { loadGraphModelSync } = await import('@tensorflow/tfjs-converter');

const models = process.env.TFPASS_MODELS ?? join(here, '..', '..', 'shared', 'models');
const cases = [
  { name: 'keras-mobilenet-0.25-128', file: 'keras-mobilenet-0.25-128/mnet.pb', input: 'input_1', shape: [1, 128, 128, 3], output: 'output_0', runs: quick ? 10 : 100 },
  { name: 'tf-doc-localisation-mnv2', file: 'tf-doc-localisation-mnv2/frozen_model.pb', input: 'input', shape: [1, 800, 600, 3], output: 'keypoints_pred', runs: quick ? 3 : 20 },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function time(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const rows = [];
for (const c of cases) {
  const path = join(models, c.file);
  if (!existsSync(path)) {
    console.log(`skip ${c.name}: ${path} missing`);
    continue;
  }
  const graph = core.readGraph(path);
  const x = rt.randomInputs({ [c.input]: c.shape }, 1)[c.input];
  for (const backend of ['wasm', 'cpu']) {
    if (backend === 'cpu' && c.name !== 'keras-mobilenet-0.25-128') continue;
    const exec = rt.createExecutor({ backend });
    await rt.useBackend(backend);
    const a = fmt.graphToArtifacts(graph);
    const direct = loadGraphModelSync({ ...a, modelTopology: (rt.fillDefaults(a.modelTopology), a.modelTopology) });
    const runDirect = () => {
      const input = tf.tensor(x.data, x.shape, 'float32');
      const out = direct.execute({ [c.input]: input }, c.output);
      out.dataSync();
      out.dispose();
      input.dispose();
    };
    const runOurs = () => exec.run(graph, { [c.input]: x }, [c.output]);
    const runs = backend === 'cpu' ? Math.min(c.runs, 20) : c.runs;
    for (let i = 0; i < 2; i++) {
      runDirect();
      await runOurs();
    }
    const td = [];
    const to = [];
    for (let i = 0; i < runs; i++) {
      // Alternate which side goes first so neither always gets the warmer cache.
      if (i % 2) {
        td.push(await time(runDirect));
        to.push(await time(runOurs));
      } else {
        to.push(await time(runOurs));
        td.push(await time(runDirect));
      }
    }
    const ratio = median(to.map((v, i) => v / td[i]));
    rows.push({ model: c.name, backend, ours: median(to), direct: median(td), ratio, oursMin: Math.min(...to), directMin: Math.min(...td) });
    direct.dispose();
  }
}

console.log('model                       backend  executor ms  GraphModel ms  paired ratio   (min executor, min GraphModel)');
for (const r of rows) {
  console.log(`${r.model.padEnd(28)}${r.backend.padEnd(9)}${r.ours.toFixed(2).padStart(11)}${r.direct.toFixed(2).padStart(15)}${r.ratio.toFixed(3).padStart(14)}   (${r.oursMin.toFixed(2)}, ${r.directMin.toFixed(2)})`);
}
const w = rows.find((r) => r.model === 'keras-mobilenet-0.25-128' && r.backend === 'wasm');
const cpu = rows.find((r) => r.model === 'keras-mobilenet-0.25-128' && r.backend === 'cpu');
if (w && cpu) console.log(`keras-mobilenet-0.25-128: cpu / wasm = ${(cpu.ours / w.ours).toFixed(1)}x`);
const worst = Math.max(...rows.map((r) => r.ratio));
console.log(`worst executor/GraphModel ratio ${worst.toFixed(3)} (target <= 1.1): ${worst <= 1.1 ? 'PASS' : 'FAIL'}`);
