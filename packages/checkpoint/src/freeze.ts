/**
 * freeze_graph: variables the outputs need become Consts holding their checkpoint values; the
 * rest of the graph (initializers, savers, training ops) is cut away. Every problem with the
 * checkpoint is collected and reported in one error before anything is produced.
 */
import { existsSync, statSync } from 'node:fs';
import {
  CheckpointError, Graph, GraphValidationError, Tensor, UsageError, nodeNameOf, parseInput, readModel,
  type DType, type Model, type Node,
} from '@tfpass/core';
import { readCheckpoint, resolveCheckpoint, sliceTensor, type Checkpoint, type Extent } from './bundle.js';

export const VARIABLE_OPS = new Set(['Variable', 'VariableV2', 'VarHandleOp']);

/** Ops that change a variable's value: never kept alive by a control edge once it is frozen. */
const UPDATE_OPS = /^(Assign|AssignAdd|AssignSub|AssignVariableOp|AssignAddVariableOp|AssignSubVariableOp|Scatter\w+|ResourceScatter\w+|Apply\w+|ResourceApply\w+|SparseApply\w+|ResourceSparseApply\w+|CountUpTo|ResourceCountUpTo)$/;

export interface FreezeOptions {
  /** A graph file (.pb/.pbtxt), a MetaGraphDef (.meta), a SavedModel dir, or an already-read Model/Graph. */
  inputGraph: string | Model | Graph;
  /** Checkpoint prefix, directory or state file (default: the SavedModel's variables, or the prefix of a `.meta`). */
  inputCheckpoint?: string | Checkpoint;
  /** Output node names (a comma-separated string or a list; `:N` ports allowed). */
  outputNodeNames: string | string[];
  /** Only these variables are converted (node names). */
  variableNamesWhitelist?: string | string[];
  /** These variables are not converted (node names). */
  variableNamesBlacklist?: string | string[];
  /** Blank every node's device (TF's default: true). */
  clearDevices?: boolean;
  /** SavedModel tag set (default: serve). */
  tags?: string[];
}

export interface FrozenVariable {
  node: string;
  op: string;
  /** Checkpoint key the value came from. */
  key: string;
  dtype: DType;
  shape: number[];
}

export interface FreezeResult {
  graph: Graph;
  variables: FrozenVariable[];
  /** Nodes dropped because the outputs do not need them. */
  removed: number;
  /** Reads of variable updates (e.g. AssignAdd of a step counter) redirected to the frozen value. */
  rewired: { node: string; update: string; variable: string }[];
}

export interface FreezeProblem {
  node: string;
  key: string;
  problem: 'missing' | 'dtype' | 'shape';
  detail?: string;
}

/** The checkpoint cannot supply every variable the outputs need; `problems` lists all of them. */
export class FreezeError extends CheckpointError {
  constructor(file: string, readonly problems: FreezeProblem[]) {
    const missing = problems.filter((p) => p.problem === 'missing');
    const other = problems.filter((p) => p.problem !== 'missing');
    const lines: string[] = [];
    if (missing.length) {
      lines.push(`${missing.length} variable(s) the outputs need are not in the checkpoint:`);
      for (const p of missing) lines.push(`  ${p.node}${p.key !== p.node ? ` (checkpoint key '${p.key}')` : ''}`);
    }
    if (other.length) {
      lines.push(`${other.length} variable(s) do not match the checkpoint:`);
      for (const p of other) lines.push(`  ${p.node}: ${p.detail}`);
    }
    lines.push('Nothing was written. Save every variable (e.g. a Saver over tf.global_variables(), fake-quant min/max included) and freeze again.');
    super(file, lines.join('\n'));
  }
  get missing(): string[] {
    return this.problems.filter((p) => p.problem === 'missing').map((p) => p.node);
  }
}

export function splitNames(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : v.split(',');
  return list.map((s) => s.replace(/\s+/g, '')).filter((s) => s.length > 0);
}

interface Source {
  key: string;
  /** Shape-and-slice spec from the restore op (partitioned variables). */
  slice?: { full: number[]; extents: Extent[] };
}

/** Parse TF's shape-and-slice string, e.g. `4 3 0,2:-`. */
export function parseShapeAndSlice(s: string): { full: number[]; extents: Extent[] } | undefined {
  const parts = s.trim().split(/\s+/);
  if (parts.length < 2) return undefined;
  const spec = parts.pop()!;
  const full = parts.map(Number);
  const extents = spec.split(':').map((e): Extent => {
    if (e === '-') return { start: 0, length: -1 };
    const [a, b] = e.split(',').map(Number);
    return { start: a!, length: b! };
  });
  if (extents.length !== full.length || full.some((d) => !Number.isFinite(d))) return undefined;
  return { full, extents };
}

function constStrings(g: Graph, input: string | undefined): string[] | undefined {
  if (!input) return undefined;
  const n = g.get(nodeNameOf(input));
  if (!n || n.op !== 'Const') return undefined;
  const t = n.attrs.getTensor('value');
  if (t.dtype !== 'string') return undefined;
  return (t.data as Uint8Array[]).map((b) => new TextDecoder().decode(b));
}

/** Follow Identity-like nodes upwards to the producing node. */
function throughIdentity(g: Graph, s: string): Node | undefined {
  let n = g.get(nodeNameOf(s));
  for (let i = 0; n && (n.op === 'Identity' || n.op === 'RefIdentity') && i < 100; i++) n = n.inputNode(0);
  return n;
}

/** Variable node -> checkpoint key, learned from the graph's restore ops (Assign(var, RestoreV2:i)). */
export function restoreKeys(g: Graph): Map<string, Source> {
  const out = new Map<string, Source>();
  for (const r of g) {
    if (r.op !== 'RestoreV2' && r.op !== 'Restore' && r.op !== 'RestoreSlice') continue;
    const names = constStrings(g, r.dataInputs[1]);
    if (!names) continue;
    const specs = r.op === 'RestoreV2' ? constStrings(g, r.dataInputs[2]) : r.op === 'RestoreSlice' ? constStrings(g, r.dataInputs[2]) : undefined;
    // Walk consumers of each output through Identity chains to the assigning op.
    const visit = (tensorNode: string, port: number, i: number, depth: number): void => {
      for (const c of g.consumersOf(tensorNode)) {
        if (c.control || c.port !== port) continue;
        const n = c.node;
        if ((n.op === 'Identity' || n.op === 'RefIdentity') && depth < 20) visit(n.name, 0, i, depth + 1);
        else if (/^Assign(VariableOp)?$/.test(n.op) && c.index === 1) {
          const v = throughIdentity(g, n.dataInputs[0]!);
          if (v && VARIABLE_OPS.has(v.op) && !out.has(v.name)) {
            const spec = specs?.[i] ? parseShapeAndSlice(specs[i]!) : undefined;
            out.set(v.name, { key: names[i]!, slice: spec });
          }
        }
      }
    };
    for (let i = 0; i < names.length; i++) visit(r.name, i, i, 0);
  }
  return out;
}

function sourceFor(v: Node, restored: Map<string, Source>, ckpt: Checkpoint): Source {
  const r = restored.get(v.name);
  if (r && ckpt.has(r.key)) return r;
  const shared = v.op === 'VarHandleOp' ? v.attrs.optString('shared_name', '') : '';
  for (const k of [shared, v.name]) if (k && ckpt.has(k)) return { key: k };
  return r ?? { key: shared || v.name };
}

function loadInput(opts: FreezeOptions): { model: Model | undefined; graph: Graph; defaultCkpt?: string } {
  const src = opts.inputGraph;
  if (src instanceof Graph) return { model: undefined, graph: src };
  if (typeof src !== 'string') return { model: src, graph: src.graph };
  const model = readModel(src, { tags: opts.tags });
  let defaultCkpt: string | undefined;
  if (model.kind === 'saved_model') {
    const dir = existsSync(src) && statSync(src).isDirectory() ? src : src.replace(/\/[^/]*$/, '');
    defaultCkpt = `${dir}/variables/variables`;
  } else if (/\.meta$/.test(src)) defaultCkpt = src.slice(0, -'.meta'.length);
  return { model, graph: model.graph, defaultCkpt };
}

interface Rewire {
  node: string;
  index: number;
  update: string;
  variable: string;
}

/**
 * Nodes the outputs need, following data and control inputs. Updates of frozen variables are
 * cut: control edges to them are dropped, and a data read of one (e.g. a quant-delay step
 * counter's AssignAdd) is rewired to the frozen value itself, since nothing changes it any more.
 */
function reachable(g: Graph, outputs: string[], frozen: (n: Node) => boolean): { keep: Set<string>; rewires: Rewire[] } {
  const keep = new Set<string>();
  const rewires: Rewire[] = [];
  const stack = [...outputs];
  while (stack.length) {
    const name = stack.pop()!;
    if (keep.has(name)) continue;
    const n = g.get(name);
    if (!n) continue;
    keep.add(name);
    n.inputs.forEach((s, index) => {
      const r = parseInput(s);
      const p = g.get(r.node);
      if (!p) return;
      if (UPDATE_OPS.test(p.op) && p.dataInputs.length > 0) {
        const v = throughIdentity(g, p.dataInputs[0]!);
        if (v && VARIABLE_OPS.has(v.op) && frozen(v)) {
          if (!r.control) {
            rewires.push({ node: n.name, index, update: p.name, variable: v.name });
            stack.push(v.name);
          }
          return;
        }
      }
      stack.push(r.node);
    });
  }
  return { keep, rewires };
}

/** Freeze and describe what was done. Throws FreezeError (all problems at once) before building anything. */
export function freezeGraphWithReport(opts: FreezeOptions): FreezeResult {
  const outputs = splitNames(opts.outputNodeNames).map(nodeNameOf);
  if (outputs.length === 0) throw new UsageError('You need to supply the name of a node to --output_node_names.');
  const { graph: input, defaultCkpt } = loadInput(opts);
  const unknown = outputs.filter((o) => !input.has(o));
  if (unknown.length) throw new GraphValidationError(unknown[0], `output node(s) not in the graph: ${unknown.join(', ')}`);
  const white = opts.variableNamesWhitelist !== undefined ? new Set(splitNames(opts.variableNamesWhitelist)) : undefined;
  const black = new Set(splitNames(opts.variableNamesBlacklist));
  const convert = (n: Node) => VARIABLE_OPS.has(n.op) && (!white || white.has(n.name)) && !black.has(n.name);

  const { keep, rewires } = reachable(input, outputs, convert);
  const vars = input.nodes().filter((n) => keep.has(n.name) && convert(n));

  let ckpt: Checkpoint | undefined;
  if (vars.length) {
    const c = opts.inputCheckpoint ?? defaultCkpt;
    if (c === undefined) throw new UsageError('the graph has variables: pass --input_checkpoint');
    ckpt = typeof c === 'string' ? readCheckpoint(resolveCheckpoint(c)) : c;
  }
  const where = ckpt ? `${ckpt.prefix}.index` : '(checkpoint)';
  const restored = restoreKeys(input);
  const values = new Map<string, { tensor: Tensor; key: string }>();
  const problems: FreezeProblem[] = [];
  for (const v of vars) {
    const src = sourceFor(v, restored, ckpt!);
    if (!ckpt!.has(src.key)) {
      problems.push({ node: v.name, key: src.key, problem: 'missing' });
      continue;
    }
    const e = ckpt!.entries.get(src.key)!;
    const want = v.attrs.optType('dtype');
    if (want && want !== e.dtype) {
      problems.push({ node: v.name, key: src.key, problem: 'dtype', detail: `variable is ${want}, checkpoint '${src.key}' holds ${e.dtype}` });
      continue;
    }
    let t = ckpt!.read(src.key);
    if (src.slice) {
      if (src.slice.full.join(',') !== t.shape.join(',')) {
        problems.push({ node: v.name, key: src.key, problem: 'shape', detail: `restore expects full shape [${src.slice.full}], checkpoint holds [${t.shape}]` });
        continue;
      }
      t = sliceTensor(t, src.slice.extents);
    }
    const shape = v.attrs.has('shape') ? v.attrs.getShape('shape') : null;
    if (shape && (shape.length !== t.shape.length || shape.some((d, i) => d >= 0 && d !== t.shape[i]))) {
      problems.push({ node: v.name, key: src.key, problem: 'shape', detail: `variable has shape [${shape}], checkpoint '${src.key}' holds [${t.shape}]` });
      continue;
    }
    values.set(v.name, { tensor: t, key: src.key });
  }
  // Close only what this call opened.
  if (ckpt && ckpt !== opts.inputCheckpoint) ckpt.close();
  if (problems.length) throw new FreezeError(where, problems);

  const g = input.clone();
  g.retain(keep);
  for (const r of rewires) g.node(r.node).setInput(r.index, r.variable);
  // Control edges into dropped nodes (initializers, updates) go with them.
  for (const n of g) for (const c of n.controlInputs) if (!g.has(c)) n.removeControlInput(c);
  const frozen: FrozenVariable[] = [];
  for (const v of vars) {
    const { tensor, key } = values.get(v.name)!;
    const n = g.node(v.name);
    const dtype = n.attrs.optType('dtype') ?? tensor.dtype;
    for (const k of n.attrs.keys()) n.attrs.delete(k);
    n.op = 'Const';
    n.attrs.setType('dtype', dtype);
    n.attrs.setTensor('value', tensor);
    frozen.push({ node: v.name, op: v.op, key, dtype, shape: [...tensor.shape] });
  }
  retypeResourceReaders(g, new Set(vars.filter((v) => v.op === 'VarHandleOp').map((v) => v.name)));
  if (opts.clearDevices ?? true) for (const n of g) n.device = '';
  return { graph: g, variables: frozen, removed: input.size - g.size, rewired: rewires.map(({ node, update, variable }) => ({ node, update, variable })) };
}

/** freeze_graph: returns the frozen graph (see freezeGraphWithReport). */
export function freezeGraph(opts: FreezeOptions): Graph {
  return freezeGraphWithReport(opts).graph;
}

/**
 * Readers of frozen resource handles: ReadVariableOp -> Identity, resource-typed pass-through
 * nodes retyped to the value dtype, ResourceGather -> GatherV2, ResourceGatherNd -> GatherNd.
 */
function retypeResourceReaders(g: Graph, handles: Set<string>): void {
  const dtypeOf = new Map<string, DType>();
  for (const h of handles) dtypeOf.set(h, g.node(h).attrs.getType('dtype'));
  const PASS = new Set(['Identity', 'Switch', 'Merge', 'Enter', 'Exit', 'NextIteration', 'RefIdentity']);
  // Pass-through nodes fed (transitively) by a frozen handle carry its dtype.
  for (const n of g.topoOrder()) {
    if (!PASS.has(n.op) || n.dataInputs.length === 0) continue;
    const src = nodeNameOf(n.dataInputs[0]!);
    const d = dtypeOf.get(src);
    if (d && n.attrs.optType('T') === 'resource') {
      n.attrs.setType('T', d);
      dtypeOf.set(n.name, d);
    }
  }
  for (const n of g.nodes()) {
    if (n.dataInputs.length === 0) continue;
    const d = dtypeOf.get(nodeNameOf(n.dataInputs[0]!));
    if (!d) continue;
    if (n.op === 'ReadVariableOp') {
      const t = n.attrs.optType('dtype') ?? d;
      const cls = n.attrs.has('_class') ? n.attrs.getJson('_class') : undefined;
      for (const k of n.attrs.keys()) n.attrs.delete(k);
      n.op = 'Identity';
      n.attrs.setType('T', t);
      if (cls) n.attrs.setJson('_class', cls);
    } else if (n.op === 'ResourceGather') {
      const batchDims = n.attrs.optInt('batch_dims', 0);
      if (batchDims !== 0) throw new GraphValidationError(n.name, 'batch_dims != 0 is not supported by freeze_graph');
      const tIdx = n.attrs.optType('Tindices') ?? 'int32';
      const tVal = n.attrs.optType('dtype') ?? d;
      const axis = g.addNode({ name: g.uniqueName(`${n.name}/axis`), op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.scalar('int32', 0) } } });
      for (const k of n.attrs.keys()) n.attrs.delete(k);
      n.op = 'GatherV2';
      n.addInput(axis.name);
      n.attrs.setType('Tparams', tVal).setType('Tindices', tIdx).setType('Taxis', 'int32').setInt('batch_dims', 0);
    } else if (n.op === 'ResourceGatherNd') {
      const tIdx = n.attrs.optType('Tindices') ?? 'int32';
      const tVal = n.attrs.optType('dtype') ?? d;
      for (const k of n.attrs.keys()) n.attrs.delete(k);
      n.op = 'GatherNd';
      n.attrs.setType('Tparams', tVal).setType('Tindices', tIdx);
    }
  }
}
