// Benchmark: every @tfpass/pass-strip pass on a generated graph, against one read + write of
// the same graph (readGraph from bytes + encodeGraph to bytes), at N and 10N nodes.
// Targets: pass(10N) <= 1 x read+write(10N), and pass(10N) / pass(N) <= 12 (linear).
// In-process CPU time (process.cpuUsage, user+system: steadier than wall time on a shared
// machine); min over repeats; each pass runs on a freshly read graph after a full GC.
// Usage: node bench/strip.mjs [--nodes 250000] [--quick]   (needs dist: `npm run build`)
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

// A full GC before each timed run, so one run's garbage is not billed to the next.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const here = fileURLToPath(new URL('.', import.meta.url));
const core = await import(join(here, '..', 'packages', 'core', 'dist', 'index.js'));
const strip = await import(join(here, '..', 'packages', 'pass-strip', 'dist', 'index.js'));

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const big = Number(argv[argv.indexOf('--nodes') + 1]) || (quick ? 50_000 : 250_000);
const small = Math.round(big / 10);

/**
 * A feed-forward graph in blocks of 12 nodes: weight Const + its `/read` Identity, MatMul, bias,
 * AddV2, CheckNumerics, Relu, a ConcatV2 of this block and the previous one, and a per-block
 * copy of one shared Const (for merge_duplicate_nodes). Some nodes carry devices, `_class`
 * and control inputs; one TensorArrayV3 and one Gather on an [N,1] weight sit at the front.
 */
function generate(n) {
  const g = new core.Graph();
  const T = { T: { type: 'float32' } };
  const f32 = (name, values, shape) => g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: core.Tensor.fromValues('float32', shape, values) } } });
  g.addNode({ name: 'input', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 4] } } });
  g.addNode({ name: 'init', op: 'NoOp' });
  f32('emb', [0.5, 0, 0, 2], [4, 1]);
  g.addNode({ name: 'emb/read', op: 'Identity', inputs: ['emb'], attrs: T });
  g.addNode({ name: 'ids', op: 'Const', attrs: { dtype: { type: 'int64' }, value: { tensor: core.Tensor.fromValues('int64', [2], [0, 3]) } } });
  g.addNode({ name: 'lookup', op: 'Gather', inputs: ['emb/read', 'ids'], attrs: { Tparams: { type: 'float32' }, Tindices: { type: 'int64' } } });
  g.addNode({ name: 'ta', op: 'TensorArrayV3', inputs: ['ids'], attrs: { dtype: { type: 'float32' }, identical_element_shapes: { b: true } } });
  g.addNode({ name: 'ta/flow', op: 'Identity', inputs: ['ta:1'], attrs: T });
  let prev = 'input';
  let prevCat = 'input';
  for (let b = 0; g.size + 12 <= n; b++) {
    const p = `block${b}/`;
    const dev = b % 2 ? '/device:CPU:0' : '';
    f32(p + 'w', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, b], [4, 4]);
    g.addNode({ name: p + 'w/read', op: 'Identity', inputs: [p + 'w'], attrs: { ...T, _class: { list: { s: [`loc:@${p}w`] } } } });
    g.addNode({ name: p + 'MatMul', op: 'MatMul', inputs: [prev, p + 'w/read'], device: dev, attrs: T });
    f32(p + 'bias', [0.1, 0.2, 0.3, b], [4]);
    g.addNode({ name: p + 'add', op: 'AddV2', inputs: [p + 'MatMul', p + 'bias'], device: dev, attrs: T });
    g.addNode({ name: p + 'check', op: 'CheckNumerics', inputs: [p + 'add', ...(b % 8 === 0 ? ['^init'] : [])], attrs: { ...T, message: { s: 'bad' } } });
    g.addNode({ name: p + 'relu', op: 'Relu', inputs: [p + 'check'], device: dev, attrs: T });
    f32(p + 'shared', [1, 1, 1, 1], [4]);
    g.addNode({ name: p + 'scale', op: 'Mul', inputs: [p + 'relu', p + 'shared'], attrs: T });
    g.addNode({ name: p + 'axis', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: core.Tensor.scalar('int32', 0) } } });
    g.addNode({ name: p + 'concat', op: 'ConcatV2', inputs: [p + 'scale', prevCat, p + 'axis'], attrs: { ...T, N: { i: 2 }, Tidx: { type: 'int32' } } });
    g.addNode({ name: p + 'out', op: 'Identity', inputs: [p + 'concat'], attrs: T });
    prev = p + 'out';
    prevCat = p + 'scale';
  }
  return { bytes: core.encodeGraph(g), output: prev, cut: 'block1/relu' };
}

const PIPES = [
  ['strip_unused_nodes', 'strip_unused_nodes(type=float, shape="1,4")', (c) => ({ inputs: [c.cut], outputs: [c.output] })],
  ['remove_nodes', 'remove_nodes(op=Identity, op=CheckNumerics)', (c) => ({ outputs: [c.output] })],
  ['sort_by_execution_order', 'sort_by_execution_order'],
  ['remove_device', 'remove_device'],
  ['set_device', 'set_device(device="/device:CPU:0")'],
  ['remove_attribute', 'remove_attribute(attribute_name=_class)'],
  ['rename_attribute', 'rename_attribute(old_attribute_name=_class, new_attribute_name=_colocate)'],
  ['rename_op', 'rename_op(old_op_name=Relu, new_op_name=Relu6)'],
  ['rename_node', 'rename_node(old_node_name=block7/relu, new_node_name=renamed)'],
  ['remove_control_dependencies', 'remove_control_dependencies'],
  ['merge_duplicate_nodes', 'merge_duplicate_nodes', (c) => ({ outputs: [c.output] })],
  ['obfuscate_names', 'obfuscate_names', (c) => ({ inputs: ['input'], outputs: [c.output] })],
  ['backport_concatv2', 'backport_concatv2'],
  ['backport_tensor_array_v3', 'backport_tensor_array_v3'],
  ['backport_addv2', 'backport_addv2'],
  ['sparsify_gather', 'sparsify_gather', (c) => ({ outputs: [c.output] })],
  ['inline_partitionedcall', 'inline_partitionedcall'],
  ['add_default_attributes', 'add_default_attributes'],
  ['insert_logging', 'insert_logging(op=Relu)'],
];

const registry = new core.PassRegistry();
await core.registerPlugin(strip, registry, { packageName: '@tfpass/pass-strip', packageVersion: '0' });

// Full GC, then a pause so V8's concurrent sweeper threads (counted in process CPU time) finish.
async function settle() {
  gc();
  await new Promise((r) => setTimeout(r, 60));
}

async function readWrite(bytes) {
  await settle();
  const t0 = process.cpuUsage();
  const g = core.readGraph(bytes);
  core.encodeGraph(g);
  return cpuMs(t0);
}

async function timePass(bytes, gen, [, transforms, io]) {
  const g = core.readGraph(bytes);
  await settle();
  const t0 = process.cpuUsage();
  // validate=false: the pipeline's own graph check between passes is not the pass's cost.
  await core.runPipeline(g, transforms, { registry, validate: false, ...(io ? io(gen) : {}) });
  return cpuMs(t0);
}

const cpuMs = (t0) => {
  const c = process.cpuUsage(t0);
  return (c.user + c.system) / 1000;
};

const min = async (k, f) => {
  let best = Infinity;
  for (let i = 0; i < k; i++) best = Math.min(best, await f());
  return best;
};

const S = generate(small);
const B = generate(big);
const nodesOf = (bytes) => core.readGraph(bytes).size;
// Warm-up: JIT-compile every code path on the small graph first.
for (const p of PIPES) await timePass(S.bytes, S, p);
await readWrite(S.bytes);
const REPS = quick ? 3 : 4;
const rwS = await min(REPS, () => readWrite(S.bytes));
const rwB = await min(REPS, () => readWrite(B.bytes));
console.log(`pass-strip bench: ${nodesOf(S.bytes)} and ${nodesOf(B.bytes)} nodes (${(B.bytes.length / 1e6).toFixed(1)} MB); read+write ${rwS.toFixed(0)} / ${rwB.toFixed(0)} ms CPU`);
console.log('pass'.padEnd(30) + 'small ms'.padStart(10) + 'big ms'.padStart(10) + '  big/rw'.padStart(9) + '  big/small'.padStart(11) + '  ok');
let fails = 0;
const rows = [];
for (const p of PIPES) {
  // Interleaved, same number of runs at both sizes, so load changes hit both alike.
  let s = Infinity;
  let b = Infinity;
  for (let r = 0; r < REPS; r++) {
    s = Math.min(s, await timePass(S.bytes, S, p));
    b = Math.min(b, await timePass(B.bytes, B, p));
  }
  const vsRw = b / rwB;
  const scale = b / Math.max(s, 0.05);
  // Passes under 20 ms CPU at the big size are timer noise for the growth ratio (plain scans).
  const ok = vsRw <= 1 && (scale <= 12 || b < 20);
  if (!ok) fails++;
  rows.push({ pass: p[0], smallMs: s, bigMs: b, vsReadWrite: vsRw, scale, ok });
  console.log(p[0].padEnd(30) + s.toFixed(1).padStart(10) + b.toFixed(1).padStart(10) + vsRw.toFixed(2).padStart(9) + scale.toFixed(1).padStart(11) + (ok ? '  ok' : '  FAIL'));
}
console.log(JSON.stringify({ bench: 'strip', nodes: [nodesOf(S.bytes), nodesOf(B.bytes)], readWriteMs: [rwS, rwB], rows }));
if (fails) {
  console.error(`${fails} pass(es) missed a target`);
  process.exitCode = 1;
}
