/**
 * Selective restore for fine-tuning (TF1's `Saver(var_list).restore` with variables left out by
 * pattern): what was restored, skipped, missing and shape/dtype-mismatched, in one report.
 */
import type { DType, Graph, Shape, Tensor } from '@tfpass/core';
import { readCheckpoint, type Checkpoint } from './bundle.js';

export interface WantedVariable {
  dtype: DType;
  /** Expected shape; -1 dims match anything. */
  shape: Shape;
  /** Checkpoint key when it differs from the variable name. */
  key?: string;
}

export interface RestoreReport {
  restored: Map<string, Tensor>;
  /** Excluded by pattern. */
  skipped: string[];
  /** Not in the checkpoint. */
  missing: string[];
  mismatched: { name: string; want: string; have: string }[];
  /** Checkpoint tensors no variable asked for (e.g. optimizer slots). */
  unused: string[];
}

const sig = (d: string, s: readonly number[]) => `${d}[${s.join(',')}]`;

export function restoreVariables(
  ckpt: Checkpoint | string,
  wanted: Map<string, WantedVariable> | Record<string, WantedVariable>,
  opts: { exclude?: RegExp | string } = {},
): RestoreReport {
  const c = typeof ckpt === 'string' ? readCheckpoint(ckpt) : ckpt;
  const ex = opts.exclude === undefined ? undefined : typeof opts.exclude === 'string' ? new RegExp(opts.exclude) : opts.exclude;
  const list = wanted instanceof Map ? [...wanted] : Object.entries(wanted);
  const report: RestoreReport = { restored: new Map(), skipped: [], missing: [], mismatched: [], unused: [] };
  const used = new Set<string>();
  for (const [name, w] of list) {
    const key = w.key ?? name;
    if (ex && ex.test(name)) {
      report.skipped.push(name);
      used.add(key);
      continue;
    }
    const e = c.entries.get(key);
    if (!e) {
      report.missing.push(name);
      continue;
    }
    used.add(key);
    const okShape = e.shape.length === w.shape.length && w.shape.every((d, i) => d < 0 || d === e.shape[i]);
    if (e.dtype !== w.dtype || !okShape) {
      report.mismatched.push({ name, want: sig(w.dtype, w.shape), have: sig(e.dtype, e.shape) });
      continue;
    }
    report.restored.set(name, c.read(key));
  }
  report.unused = [...c.entries.keys()].filter((k) => !used.has(k));
  if (c !== ckpt) c.close();
  return report;
}

/** One variable of a graph restore and what happened to it. */
export interface ConstRestore {
  name: string;
  status: 'restored' | 'skipped' | 'missing' | 'mismatched';
  detail?: string;
}

export interface GraphRestoreReport {
  /** Every variable-like constant of the graph, in graph order. */
  variables: ConstRestore[];
  restored: string[];
  /** Excluded by the filter: these constants KEEP THEIR INITIAL VALUES. */
  skipped: string[];
  missing: string[];
  mismatched: { name: string; want: string; have: string }[];
  /** Checkpoint tensors no graph constant asked for (optimizer slots, step counters, EMA state). */
  unused: string[];
}

/** Ops that read a parameter (weights, bias, batch-norm statistics) at these input positions. */
const PARAM_INPUTS: Record<string, number[]> = {
  MatMul: [1], Conv2D: [1], DepthwiseConv2dNative: [1], Conv2DBackpropInput: [1], Conv3D: [1], BiasAdd: [1],
  FusedBatchNorm: [1, 2, 3, 4], FusedBatchNormV2: [1, 2, 3, 4], FusedBatchNormV3: [1, 2, 3, 4],
  BatchNormWithGlobalNormalization: [1, 2, 3, 4],
};

/**
 * The constants of a frozen graph that stand for variables: those the checkpoint names, those
 * read as parameters (weights, biases, batch-norm inputs) and those read through freeze_graph's
 * `X/read` / Keras's `…/ReadVariableOp` Identity.
 */
export function variableConstants(graph: Graph, ckpt?: Checkpoint): string[] {
  const out: string[] = [];
  for (const n of graph.nodes()) {
    if (n.op !== 'Const') continue;
    const t = n.attrs.getTensor('value');
    if (!t || !/^(float|half|bfloat16|double)/.test(t.dtype)) continue;
    if (ckpt?.entries.has(n.name) || (t.shape.length > 0 && readsAsParameter(graph, n.name))) out.push(n.name);
  }
  return out;
}

function readsAsParameter(graph: Graph, name: string, depth = 0): boolean {
  for (const c of graph.consumersOf(name)) {
    if (c.control) continue;
    const op = c.node.op;
    if (PARAM_INPUTS[op]?.includes(c.index)) return true;
    if (op === 'Identity' && depth < 3) {
      if (c.node.name === `${name}/read` || /ReadVariableOp(_\d+)?$/.test(c.node.name)) return true;
      if (readsAsParameter(graph, c.node.name, depth + 1)) return true;
    }
  }
  return false;
}

/**
 * Restore a checkpoint into the constants of a frozen, UNFOLDED graph (Const X <- key X), the
 * way `Saver(var_list).restore` fills variables: call it before folding batch norms, or their
 * gamma/beta/moving statistics are already baked into other constants and cannot be restored.
 */
export function restoreGraphConstants(graph: Graph, ckpt: Checkpoint | string, opts: { exclude?: RegExp | string } = {}): GraphRestoreReport {
  const c = typeof ckpt === 'string' ? readCheckpoint(ckpt) : ckpt;
  try {
    const names = variableConstants(graph, c);
    const wanted = new Map<string, WantedVariable>();
    for (const n of names) {
      const t = graph.node(n).attrs.getTensor('value')!;
      wanted.set(n, { dtype: t.dtype, shape: t.shape });
    }
    const r = restoreVariables(c, wanted, opts);
    for (const [n, t] of r.restored) graph.node(n).attrs.setTensor('value', t);
    const status = new Map<string, ConstRestore>();
    for (const n of r.restored.keys()) status.set(n, { name: n, status: 'restored' });
    for (const n of r.skipped) status.set(n, { name: n, status: 'skipped', detail: 'kept its initial value (excluded by the filter)' });
    for (const n of r.missing) status.set(n, { name: n, status: 'missing', detail: 'not in the checkpoint: kept its initial value' });
    for (const m of r.mismatched) status.set(m.name, { name: m.name, status: 'mismatched', detail: `checkpoint ${m.have} vs graph ${m.want}` });
    return {
      variables: names.map((n) => status.get(n)!),
      restored: [...r.restored.keys()],
      skipped: r.skipped,
      missing: r.missing,
      mismatched: r.mismatched,
      unused: r.unused,
    };
  } finally {
    if (c !== ckpt) c.close();
  }
}
