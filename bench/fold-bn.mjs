// Benchmark: the seed deployment pipeline
//   strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms
// on a generated ResNet-50-scale frozen graph (>= 100 MB of float weights, 53 FusedBatchNorm behind
// `/read` Identity nodes), against raw protobuf-es fromBinary + toBinary of the same bytes (target <= 2x),
// and the pipeline alone on a narrow ResNet vs one with 10x the blocks (target: time grows <= 12x).
// Everything is timed inside one process after a warm-up run, so Node's start-up does not hide it.
// Usage: node bench/fold-bn.mjs [--quick]   (needs dist builds: `npm run build`)
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = (pkg, f = 'index.js') => join(here, '..', 'packages', pkg, 'dist', f);
const quick = process.argv.includes('--quick');

const core = { ...(await import(dist('core', 'proto.js'))), ...(await import(dist('core'))) };
const { createExecutor } = await import(dist('runtime'));
const container = core.rootServices;

const SEED = 'strip_unused_nodes(type=float, shape="1,224,224,3") remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms';

let rng = 12345;
function randomFloats(n, scale) {
  const out = new Float32Array(n);
  let x = rng;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = ((x >>> 0) / 4294967296 - 0.5) * scale;
  }
  rng = x;
  return out;
}

/** A frozen ResNet-50-style graph: bottleneck blocks, FusedBatchNorm after every conv, `/read` Identities. */
function resnet({ width = 1, repeats = [3, 4, 6, 3] } = {}) {
  const g = new core.Graph();
  const T = { T: { type: 'float32' } };
  const konst = (name, shape, values) => {
    g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: new core.Tensor('float32', shape, values) } } });
    g.addNode({ name: `${name}/read`, op: 'Identity', inputs: [name], attrs: T });
    return `${name}/read`;
  };
  const convBn = (scope, x, k, cin, cout, stride = 1) => {
    const w = konst(`${scope}/weights`, [k, k, cin, cout], randomFloats(k * k * cin * cout, 0.1));
    g.addNode({ name: `${scope}/Conv2D`, op: 'Conv2D', inputs: [x, w], attrs: { ...T, strides: { list: { i: [1, stride, stride, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' } } });
    const gamma = konst(`${scope}/BatchNorm/gamma`, [cout], randomFloats(cout, 0.5).map((v) => 1 + v));
    const beta = konst(`${scope}/BatchNorm/beta`, [cout], randomFloats(cout, 0.2));
    const mean = konst(`${scope}/BatchNorm/moving_mean`, [cout], randomFloats(cout, 0.2));
    const variance = konst(`${scope}/BatchNorm/moving_variance`, [cout], randomFloats(cout, 0.5).map((v) => 1 + v));
    g.addNode({ name: `${scope}/BatchNorm/FusedBatchNorm`, op: 'FusedBatchNorm', inputs: [`${scope}/Conv2D`, gamma, beta, mean, variance], attrs: { ...T, epsilon: { f: 0.001 }, is_training: { b: false }, data_format: { s: 'NHWC' } } });
    return `${scope}/BatchNorm/FusedBatchNorm`;
  };
  const relu = (name, x) => g.addNode({ name, op: 'Relu', inputs: [x], attrs: T }).name;
  g.addNode({ name: 'input', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 224, 224, 3] } } });
  const c = (n) => Math.max(1, Math.round(n * width));
  let x = relu('conv1/Relu', convBn('conv1', 'input', 7, 3, c(64), 2));
  let cin = c(64);
  const widths = [64, 128, 256, 512];
  widths.forEach((w0, s) => {
    for (let b = 0; b < repeats[s]; b++) {
      const scope = `block${s + 1}/unit_${b + 1}`;
      const mid = c(w0);
      const out = c(w0 * 4);
      const stride = b === 0 && s > 0 ? 2 : 1;
      const shortcut = b === 0 ? convBn(`${scope}/shortcut`, x, 1, cin, out, stride) : x;
      let y = relu(`${scope}/conv1/Relu`, convBn(`${scope}/conv1`, x, 1, cin, mid));
      y = relu(`${scope}/conv2/Relu`, convBn(`${scope}/conv2`, y, 3, mid, mid, stride));
      y = convBn(`${scope}/conv3`, y, 1, mid, out);
      g.addNode({ name: `${scope}/add`, op: 'AddV2', inputs: [shortcut, y], attrs: T });
      x = relu(`${scope}/Relu`, `${scope}/add`);
      cin = out;
    }
  });
  g.addNode({ name: 'pool', op: 'Mean', inputs: [x, 'pool/axes'], attrs: { ...T, Tidx: { type: 'int32' }, keep_dims: { b: false } } });
  g.addNode({ name: 'pool/axes', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: core.Tensor.fromValues('int32', [2], [1, 2]) } } });
  const fw = konst('logits/weights', [cin, 1000], randomFloats(cin * 1000, 0.05));
  g.addNode({ name: 'logits/MatMul', op: 'MatMul', inputs: ['pool', fw], attrs: { ...T, transpose_a: { b: false }, transpose_b: { b: false } } });
  const fb = konst('logits/biases', [1000], randomFloats(1000, 0.1));
  g.addNode({ name: 'logits', op: 'BiasAdd', inputs: ['logits/MatMul', fb], attrs: T });
  return core.encodeGraph(g, 'binary');
}

async function registry() {
  const r = new core.PassRegistry();
  for (const p of ['pass-strip', 'pass-fold-constants', 'pass-fold-bn']) await core.registerPlugin(await import(dist(p)), r);
  return r;
}

const reg = await registry();
const di = container.createChildContainer();
di.register(core.TOKENS.executor, { useValue: createExecutor() });
const opts = { registry: reg, container: di, inputs: ['input'], outputs: ['logits'] };

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timePipeline(bytes, runs) {
  const total = [];
  const pipe = [];
  let last;
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const g = core.readGraph(bytes);
    const t1 = performance.now();
    last = await core.runPipeline(g, SEED, opts);
    const t2 = performance.now();
    const out = core.encodeGraph(g, 'binary');
    const t3 = performance.now();
    if (i === 0) {
      last.graph = g;
      last.outBytes = out.length;
      continue; // warm-up
    }
    total.push(t3 - t0);
    pipe.push(t2 - t1);
  }
  return { total: median(total), pipeline: median(pipe), reports: last };
}

function timeRaw(bytes, runs) {
  const ts = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const def = core.fromBinary(core.GraphDefSchema, bytes);
    core.toBinary(core.GraphDefSchema, def);
    if (i > 0) ts.push(performance.now() - t0);
  }
  return median(ts);
}

const runs = quick ? 1 : 3;
const big = resnet({ width: quick ? 0.5 : 1 });
const bigGraph = core.readGraph(big);
const bnCount = bigGraph.nodes().filter((n) => n.op === 'FusedBatchNorm').length;
const raw = timeRaw(big, runs);
const p = await timePipeline(big, runs);
const after = p.reports;
const ratio = p.total / raw;
console.log(`fold-bn: ResNet-50-style graph ${(big.length / 1e6).toFixed(1)} MB, ${bigGraph.size} nodes, ${bnCount} FusedBatchNorm`);
console.log(`  steps: ${after.map((r) => `${r.name} ${r.nodesBefore}->${r.nodesAfter} ${r.ms.toFixed(0)}ms`).join(', ')}`);
console.log(`  raw protobuf decode+encode ${raw.toFixed(0)} ms; readGraph+pipeline+encodeGraph ${p.total.toFixed(0)} ms (pipeline ${p.pipeline.toFixed(0)} ms); ratio ${ratio.toFixed(2)}x (target <= 2x)`);

const small = resnet({ width: 1 / 16 });
const tenX = resnet({ width: 1 / 16, repeats: [30, 40, 60, 30] });
const n1 = core.readGraph(small).size;
const n10 = core.readGraph(tenX).size;
const s1 = await timePipeline(small, runs + 2);
const s10 = await timePipeline(tenX, runs);
const growth = s10.pipeline / s1.pipeline;
console.log(`  scaling: ${n1} nodes ${s1.pipeline.toFixed(1)} ms vs ${n10} nodes (${(n10 / n1).toFixed(1)}x) ${s10.pipeline.toFixed(1)} ms: ${growth.toFixed(2)}x (target <= 12x)`);
const ok = ratio <= 2 && growth <= 12 && bnCount >= 50 && big.length >= 100e6;
console.log(JSON.stringify({ bench: 'fold-bn', mb: +(big.length / 1e6).toFixed(1), bns: bnCount, rawMs: +raw.toFixed(1), totalMs: +p.total.toFixed(1), ratio: +ratio.toFixed(2), nodes1x: n1, nodes10x: n10, growth: +growth.toFixed(2), ok }));
process.exitCode = ok || quick ? 0 : 1;
