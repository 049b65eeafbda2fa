/**
 * Numeric test helpers for every tfpass package: run two graphs on identical seeded inputs and
 * compare (`expectSameOutputs`), and generate random valid graphs for property tests.
 */
import { Graph, GraphValidationError, NumericMismatchError, Tensor, parseInput, type DType } from '@tfpass/core';
import type { BackendName } from './backend.js';
import { sharedExecutor } from './executor.js';
import {
  Rng,
  compareOutputs,
  describeSpec,
  formatComparisons,
  randomInputs,
  type InputSpecLike,
  type OutputComparison,
} from './tools.js';

export { Rng, randomInputs, describeSpec, compareOutputs, type InputSpecLike, type OutputComparison };

export interface SameOutputsOptions {
  /** Named inputs: a shape (uniform float32 in [-1, 1]) or a full spec, or a fixed Tensor. */
  inputs: Record<string, InputSpecLike | Tensor>;
  /** Tensors to fetch from both graphs (`n` or `n:k`). */
  outputs: string[];
  seed?: number;
  /** Elementwise tolerance |a-b| <= atol + rtol*|b| (b = `before`). Defaults 1e-5 and 1e-5. */
  atol?: number;
  rtol?: number;
  backend?: BackendName;
  /** Independent input draws (seed, seed+1, ...); default 1. */
  trials?: number;
  /** Fetch names in `after` when they differ from `outputs` (same order). */
  afterOutputs?: string[];
}

export interface SameOutputsReport {
  /** Per-output worst case over all trials. */
  outputs: OutputComparison[];
  /** The input distribution used, e.g. `{ input: 'float32[1,8,8,3] ~ U(-1, 1)' }`. */
  inputs: Record<string, string>;
  atol: number;
  rtol: number;
  trials: number;
  seed: number;
}

function feedsFor(specs: SameOutputsOptions['inputs'], seed: number): Record<string, Tensor> {
  const random: Record<string, InputSpecLike> = {};
  const fixed: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(specs)) {
    if (v instanceof Tensor) fixed[k] = v;
    else random[k] = v;
  }
  return { ...randomInputs(random, seed), ...fixed };
}

function merge(a: OutputComparison | undefined, b: OutputComparison): OutputComparison {
  if (!a) return b;
  return {
    name: a.name,
    shape: a.shape,
    maxAbsError: Math.max(a.maxAbsError, b.maxAbsError),
    maxRelError: Math.max(a.maxRelError, b.maxRelError),
    mismatches: a.mismatches + b.mismatches,
    worst: a.ok ? b.worst ?? a.worst : a.worst,
    ok: a.ok && b.ok,
  };
}

/**
 * Run `before` and `after` on the same seeded inputs and compare every output elementwise.
 * Throws a NumericMismatchError (message lists every output, the tolerances and the input
 * distribution) when any element differs by more than `atol + rtol*|before|`; otherwise
 * returns the per-output maximum absolute and relative errors.
 */
export async function expectSameOutputs(before: Graph, after: Graph, opts: SameOutputsOptions): Promise<SameOutputsReport> {
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-5;
  const seed = opts.seed ?? 1;
  const trials = Math.max(1, opts.trials ?? 1);
  const exec = sharedExecutor(opts.backend ?? 'wasm');
  const afterNames = opts.afterOutputs ?? opts.outputs;
  let acc: (OutputComparison | undefined)[] = [];
  // Each graph gets the inputs it has (a pass may remove one, e.g. freeze_placeholder); a name
  // in neither graph is a typo.
  const missing = Object.keys(opts.inputs).filter((k) => !before.has(parseInput(k).node) && !after.has(parseInput(k).node));
  if (missing.length) throw new GraphValidationError(missing[0], `input '${missing.join("', '")}' is in neither graph`);
  const only = (g: Graph, feeds: Record<string, Tensor>) => Object.fromEntries(Object.entries(feeds).filter(([k]) => g.has(parseInput(k).node)));
  for (let t = 0; t < trials; t++) {
    const feeds = feedsFor(opts.inputs, seed + t);
    const ref = await exec.run(before, only(before, feeds), opts.outputs);
    const got = await exec.run(after, only(after, feeds), afterNames);
    const cmp = compareOutputs(opts.outputs, got, ref, { atol, rtol });
    acc = cmp.map((c, i) => merge(acc[i], c));
  }
  const outputs = acc as OutputComparison[];
  const inputs: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.inputs)) inputs[k] = v instanceof Tensor ? `fixed ${v.dtype}[${v.shape.join(',')}]` : describeSpec(v);
  const report: SameOutputsReport = { outputs, inputs, atol, rtol, trials, seed };
  if (outputs.some((o) => !o.ok)) {
    const ins = Object.entries(inputs).map(([k, v]) => `${k}: ${v}`).join('; ');
    throw new NumericMismatchError(
      `outputs differ beyond |a-b| <= ${atol} + ${rtol}*|b| (b = before; ${trials} trial(s), seed ${seed}; inputs ${ins}):\n${formatComparisons(outputs)}`,
    );
  }
  return report;
}

// ---- random graphs --------------------------------------------------------------------------------

export interface RandomGraphOptions {
  /** Number of layers on the main path (default 6). */
  depth?: number;
  /** Spatial size of the NHWC input (default 8) and its channels (default 3). */
  size?: number;
  channels?: number;
  /** Draw the input's size (4..10) and channels (1..5) from the seed instead of the defaults. */
  randomShapes?: boolean;
  /** Largest channel count a layer produces (default 8). */
  maxChannels?: number;
  /** Probability a layer is a two-branch block joined by ConcatV2 or Add (default 0.3). */
  branchProb?: number;
  /** End with Reshape + MatMul + BiasAdd (default: random). */
  matmulHead?: boolean;
  /** Restrict layer kinds (default all). */
  ops?: RandomOp[];
}

export type RandomOp =
  | 'conv' | 'depthwise' | 'fused_bn' | 'unfused_bn' | 'mul' | 'add' | 'addv2' | 'bias_add' | 'identity' | 'relu' | 'relu6';

const ALL_OPS: RandomOp[] = ['conv', 'depthwise', 'fused_bn', 'unfused_bn', 'mul', 'add', 'addv2', 'bias_add', 'identity', 'relu', 'relu6'];

interface Cur { name: string; h: number; w: number; c: number }

export interface RandomGraph {
  graph: Graph;
  inputs: Record<string, InputSpecLike>;
  outputs: string[];
}

/**
 * A random valid float32 NHWC graph of Conv2D / DepthwiseConv2dNative / batch norms
 * (FusedBatchNorm and unfused Mul+Add) / Mul / Add / AddV2 / BiasAdd / Identity / Relu(6),
 * with branches joined by ConcatV2 or Add and an optional MatMul head. Same seed, same graph.
 */
export function randomGraph(seed: number, opts: RandomGraphOptions = {}): RandomGraph {
  const rng = new Rng(seed * 7919 + 17);
  const g = new Graph();
  const size = opts.size ?? (opts.randomShapes ? rng.int(4, 10) : 8);
  const c0 = opts.channels ?? (opts.randomShapes ? rng.int(1, 5) : 3);
  const maxC = opts.maxChannels ?? 8;
  const depth = opts.depth ?? 6;
  const ops = opts.ops ?? ALL_OPS;
  const branchProb = opts.branchProb ?? 0.3;
  let k = 0;
  const fresh = (base: string): string => g.uniqueName(`${base}_${k++}`);
  const vec = (n: number, lo: number, hi: number): number[] => Array.from({ length: n }, () => rng.uniform(lo, hi));
  const cnst = (base: string, dtype: DType, shape: number[], values: number[]): string => {
    const name = fresh(base);
    g.addNode({ name, op: 'Const', attrs: { dtype: { type: dtype }, value: { tensor: Tensor.fromValues(dtype, shape, values) } } });
    return name;
  };
  const T = { T: { type: 'float32' as DType } };
  g.addNode({ name: 'input', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, size, size, c0] } } });

  const layer = (cur: Cur, kind: RandomOp, keepShape: boolean, outC?: number): Cur => {
    switch (kind) {
      case 'conv': {
        const kz = rng.pick([1, 3]);
        const co = outC ?? rng.int(2, maxC);
        const stride = keepShape || cur.h < 4 ? 1 : rng.pick([1, 2]);
        const padding = keepShape ? 'SAME' : rng.pick(['SAME', 'VALID']);
        if (padding === 'VALID' && cur.h < kz + 1) return layer(cur, 'identity', keepShape, outC);
        const scale = Math.sqrt(2 / (kz * kz * cur.c));
        const w = cnst('conv/weights', 'float32', [kz, kz, cur.c, co], vec(kz * kz * cur.c * co, -scale, scale));
        const name = fresh('conv/Conv2D');
        g.addNode({ name, op: 'Conv2D', inputs: [cur.name, w], attrs: { ...T, strides: { list: { i: [1, stride, stride, 1] } }, padding: { s: padding }, data_format: { s: 'NHWC' }, dilations: { list: { i: [1, 1, 1, 1] } }, use_cudnn_on_gpu: { b: true } } });
        const out = (n: number) => (padding === 'SAME' ? Math.ceil(n / stride) : Math.ceil((n - kz + 1) / stride));
        return { name, h: out(cur.h), w: out(cur.w), c: co };
      }
      case 'depthwise': {
        if (outC !== undefined && outC !== cur.c) return layer(cur, 'conv', keepShape, outC);
        const kz = 3;
        const w = cnst('dw/depthwise_weights', 'float32', [kz, kz, cur.c, 1], vec(kz * kz * cur.c, -0.5, 0.5));
        const name = fresh('dw/depthwise');
        g.addNode({ name, op: 'DepthwiseConv2dNative', inputs: [cur.name, w], attrs: { ...T, strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' }, dilations: { list: { i: [1, 1, 1, 1] } } } });
        return { ...cur, name };
      }
      case 'fused_bn': {
        if (outC !== undefined && outC !== cur.c) return layer(cur, 'conv', keepShape, outC);
        const ins = [
          cnst('bn/gamma', 'float32', [cur.c], vec(cur.c, 0.5, 1.5)),
          cnst('bn/beta', 'float32', [cur.c], vec(cur.c, -0.5, 0.5)),
          cnst('bn/moving_mean', 'float32', [cur.c], vec(cur.c, -0.5, 0.5)),
          cnst('bn/moving_variance', 'float32', [cur.c], vec(cur.c, 0.2, 2)),
        ];
        const name = fresh('bn/FusedBatchNorm');
        g.addNode({ name, op: 'FusedBatchNorm', inputs: [cur.name, ...ins], attrs: { ...T, epsilon: { f: 0.001 }, is_training: { b: false }, data_format: { s: 'NHWC' } } });
        return { ...cur, name };
      }
      case 'unfused_bn': {
        if (outC !== undefined && outC !== cur.c) return layer(cur, 'conv', keepShape, outC);
        const m = cnst('bn/mul_scale', 'float32', [cur.c], vec(cur.c, 0.5, 1.5));
        const mul = fresh('bn/batchnorm/mul_1');
        g.addNode({ name: mul, op: 'Mul', inputs: [cur.name, m], attrs: T });
        const b = cnst('bn/offset', 'float32', [cur.c], vec(cur.c, -0.5, 0.5));
        const add = fresh('bn/batchnorm/add_1');
        g.addNode({ name: add, op: 'Add', inputs: [mul, b], attrs: T });
        return { ...cur, name: add };
      }
      case 'mul': case 'add': case 'addv2': case 'bias_add': {
        if (outC !== undefined && outC !== cur.c) return layer(cur, 'conv', keepShape, outC);
        const op = kind === 'mul' ? 'Mul' : kind === 'add' ? 'Add' : kind === 'addv2' ? 'AddV2' : 'BiasAdd';
        const v = cnst(`${kind}/c`, 'float32', [cur.c], kind === 'mul' ? vec(cur.c, 0.5, 1.5) : vec(cur.c, -0.5, 0.5));
        const name = fresh(`${kind}/${op}`);
        g.addNode({ name, op, inputs: [cur.name, v], attrs: op === 'BiasAdd' ? { ...T, data_format: { s: 'NHWC' } } : T });
        return { ...cur, name };
      }
      case 'identity': case 'relu': case 'relu6': {
        if (outC !== undefined && outC !== cur.c) return layer(cur, 'conv', keepShape, outC);
        const op = kind === 'identity' ? 'Identity' : kind === 'relu' ? 'Relu' : 'Relu6';
        const name = fresh(`${kind}/${op}`);
        g.addNode({ name, op, inputs: [cur.name], attrs: T });
        return { ...cur, name };
      }
    }
  };

  let cur: Cur = { name: 'input', h: size, w: size, c: c0 };
  for (let i = 0; i < depth; i++) {
    if (rng.next() < branchProb) {
      const join = rng.pick(['concat', 'add'] as const);
      const co = join === 'add' ? rng.int(2, maxC) : undefined;
      let a = cur;
      let b = cur;
      const la = rng.int(1, 2);
      const lb = rng.int(1, 2);
      for (let j = 0; j < la; j++) a = layer(a, rng.pick(ops), true, j === la - 1 ? co : undefined);
      for (let j = 0; j < lb; j++) b = layer(b, rng.pick(ops), true, j === lb - 1 ? co : undefined);
      if (join === 'add' && a.c === b.c) {
        const name = fresh('block/add');
        g.addNode({ name, op: 'AddV2', inputs: [a.name, b.name], attrs: T });
        cur = { ...a, name };
      } else {
        const axis = cnst('block/concat/axis', 'int32', [], [3]);
        const name = fresh('block/concat');
        g.addNode({ name, op: 'ConcatV2', inputs: [a.name, b.name, axis], attrs: { ...T, N: { i: 2 }, Tidx: { type: 'int32' } } });
        cur = { ...a, name, c: a.c + b.c };
      }
    } else {
      cur = layer(cur, rng.pick(ops), false);
    }
  }
  const head = opts.matmulHead ?? rng.next() < 0.5;
  if (head) {
    const flat = cur.h * cur.w * cur.c;
    const shape = cnst('head/shape', 'int32', [2], [1, flat]);
    const r = fresh('head/Reshape');
    g.addNode({ name: r, op: 'Reshape', inputs: [cur.name, shape], attrs: { ...T, Tshape: { type: 'int32' } } });
    const n = rng.int(2, 6);
    const w = cnst('head/weights', 'float32', [flat, n], vec(flat * n, -1 / Math.sqrt(flat), 1 / Math.sqrt(flat)));
    const mm = fresh('head/MatMul');
    g.addNode({ name: mm, op: 'MatMul', inputs: [r, w], attrs: { ...T, transpose_a: { b: false }, transpose_b: { b: false } } });
    const b = cnst('head/bias', 'float32', [n], vec(n, -0.1, 0.1));
    const ba = fresh('head/BiasAdd');
    g.addNode({ name: ba, op: 'BiasAdd', inputs: [mm, b], attrs: { ...T, data_format: { s: 'NHWC' } } });
    cur = { name: ba, h: 1, w: 1, c: n };
  }
  const out = 'output';
  g.addNode({ name: out, op: 'Identity', inputs: [cur.name], attrs: T });
  return { graph: g, inputs: { input: { shape: [1, size, size, c0] } }, outputs: [out] };
}
