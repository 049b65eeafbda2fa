/**
 * The reverse of freezing: chosen Consts become TF1 variables (VariableV2 + `/read` snapshot +
 * Assign initializer), with a Saver subgraph and the variable collections, so a frozen model can
 * be imported with `tf.train.import_meta_graph`, restored from the written checkpoint and trained.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  Graph, Tensor, UsageError, createMetaModel, isFloatDType, nodeNameOf, readGraph, writeFileAtomic, writeModel,
  type DType, type Model, type Node, type VariableInfo,
} from '@tfpass/core';
import { writeCheckpoint, type WrittenCheckpoint } from './bundle.js';

/** Which inputs of which ops hold trainable parameters (default selection). */
const PARAM_INPUTS: Record<string, { inputs: number[]; trainable: boolean[] }> = {
  Conv2D: { inputs: [1], trainable: [true] },
  Conv3D: { inputs: [1], trainable: [true] },
  DepthwiseConv2dNative: { inputs: [1], trainable: [true] },
  Conv2DBackpropInput: { inputs: [1], trainable: [true] },
  MatMul: { inputs: [1], trainable: [true] },
  BiasAdd: { inputs: [1], trainable: [true] },
  // gamma, beta trainable; moving mean/variance are state, not trained.
  FusedBatchNorm: { inputs: [1, 2, 3, 4], trainable: [true, true, false, false] },
  FusedBatchNormV2: { inputs: [1, 2, 3, 4], trainable: [true, true, false, false] },
  FusedBatchNormV3: { inputs: [1, 2, 3, 4], trainable: [true, true, false, false] },
  // mean, variance, beta, gamma
  BatchNormWithGlobalNormalization: { inputs: [1, 2, 3, 4], trainable: [false, false, true, true] },
  // Quantization ranges are variables in QAT graphs, updated by moving averages rather than gradients.
  FakeQuantWithMinMaxVars: { inputs: [1, 2], trainable: [false, false] },
  FakeQuantWithMinMaxVarsPerChannel: { inputs: [1, 2], trainable: [false, false] },
};

export interface UnfreezeOptions {
  /** Consts whose names match become variables (instead of the default: conv/matmul weights, biases, BN params, fake-quant ranges). */
  pattern?: string | RegExp;
  /** Whether pattern-chosen variables are trainable (default true). */
  trainable?: boolean;
  /** Checkpoint file name the saver's default filename tensor holds (default "model"). */
  filename?: string;
}

export interface Unfrozen {
  /** MetaGraphDef model (kind 'meta'): graph, saver_def, `variables` / `trainable_variables` collections. */
  model: Model;
  /** Values of the new variables, by checkpoint key (= variable name), sorted by name. */
  tensors: Map<string, Tensor>;
  variables: { name: string; dtype: DType; shape: number[]; trainable: boolean }[];
}

/** Ops a weight passes through unchanged in shape on its way to the op using it. */
const WEIGHT_PASS = new Set(['Identity', 'FakeQuantWithMinMaxVars', 'FakeQuantWithMinMaxVarsPerChannel', 'FakeQuantWithMinMaxArgs']);

/** Follow Identity (`w/read`) and weight fake-quant nodes up to a Const. */
function constBehind(g: Graph, input: string | undefined): Node | undefined {
  let n = input === undefined ? undefined : g.get(nodeNameOf(input));
  for (let i = 0; n && WEIGHT_PASS.has(n.op) && i < 20; i++) n = n.inputNode(0);
  return n && n.op === 'Const' ? n : undefined;
}

/**
 * Batch norm decomposed by Keras/TF1 into Rsqrt(var + eps) * gamma, mean * that, beta - that:
 * returns [const, trainable] pairs for variance, gamma, mean and beta.
 */
function decomposedBatchNorm(g: Graph, rsqrt: Node): [Node, boolean][] {
  const out: [Node, boolean][] = [];
  const add = rsqrt.inputNode(0);
  if (!add || (add.op !== 'Add' && add.op !== 'AddV2')) return out;
  const variance = constBehind(g, add.dataInputs[0]);
  if (!variance) return out;
  out.push([variance, false]);
  let scale = rsqrt;
  for (const c of g.consumersOf(rsqrt.name)) {
    if (c.control || c.node.op !== 'Mul') continue;
    const gamma = constBehind(g, c.node.dataInputs[1 - c.index]);
    if (gamma) {
      out.push([gamma, true]);
      scale = c.node;
    }
  }
  for (const c of g.consumersOf(scale.name)) {
    if (c.control || c.node.op !== 'Mul') continue;
    const mean = constBehind(g, c.node.dataInputs[1 - c.index]);
    if (!mean) continue;
    out.push([mean, false]);
    for (const s of g.consumersOf(c.node.name)) {
      if (s.control || s.node.op !== 'Sub' || s.index !== 1) continue;
      const beta = constBehind(g, s.node.dataInputs[0]);
      if (beta) out.push([beta, true]);
    }
  }
  return out;
}

/** Consts to turn into variables, with their trainability, in graph order. */
export function selectUnfreezeConsts(g: Graph, opts: UnfreezeOptions = {}): Map<string, boolean> {
  const chosen = new Map<string, boolean>();
  const floatConst = (n: Node) => n.op === 'Const' && isFloatDType(n.attrs.optType('dtype') ?? 'invalid');
  if (opts.pattern !== undefined) {
    const re = typeof opts.pattern === 'string' ? new RegExp(opts.pattern) : opts.pattern;
    for (const n of g) if (floatConst(n) && re.test(n.name)) chosen.set(n.name, opts.trainable ?? true);
    return chosen;
  }
  const found = new Map<string, boolean>();
  for (const n of g) {
    if (n.op === 'Rsqrt') for (const [c, t] of decomposedBatchNorm(g, n)) if (floatConst(c)) found.set(c.name, (found.get(c.name) ?? false) || t);
    const spec = PARAM_INPUTS[n.op];
    if (!spec) continue;
    spec.inputs.forEach((i, k) => {
      const c = constBehind(g, n.dataInputs[i]);
      if (c && floatConst(c)) found.set(c.name, (found.get(c.name) ?? false) || spec.trainable[k]!);
    });
  }
  for (const n of g) if (found.has(n.name)) chosen.set(n.name, found.get(n.name)!);
  return chosen;
}

const strT = (v: string[] | string, shape?: number[]) =>
  Array.isArray(v) ? Tensor.fromValues('string', shape ?? [v.length], v) : Tensor.fromValues('string', [], [v]);

/** Turn chosen Consts of a frozen graph into variables with initializers and a saver. */
export function unfreezeGraph(input: Graph | string, opts: UnfreezeOptions = {}): Unfrozen {
  const g = (typeof input === 'string' ? readGraph(input) : input).clone();
  const chosen = selectUnfreezeConsts(g, opts);
  if (chosen.size === 0) {
    throw new UsageError(opts.pattern !== undefined ? `no float Const matches the pattern '${opts.pattern}'` : 'no Const weights of conv/matmul/BN/bias ops found; pass a pattern');
  }
  const tensors = new Map<string, Tensor>();
  const infos: VariableInfo[] = [];
  const variables: Unfrozen['variables'] = [];
  const assigns: string[] = [];
  for (const [name, trainable] of chosen) {
    const n = g.node(name);
    const value = n.attrs.getTensor('value');
    const dtype = n.attrs.getType('dtype');
    tensors.set(name, value);
    // Keep the name: consumers stay wired, and the checkpoint key is the old Const's name.
    for (const k of n.attrs.keys()) n.attrs.delete(k);
    n.op = 'VariableV2';
    n.attrs.setType('dtype', dtype).setShape('shape', value.shape).setString('container', '').setString('shared_name', '');
    const init = g.addNode({ name: g.uniqueName(`${name}/initial_value`), op: 'Const', attrs: { dtype: { type: dtype }, value: { tensor: value } } });
    const assign = g.addNode({
      name: g.uniqueName(`${name}/Assign`), op: 'Assign', inputs: [name, init.name],
      attrs: { T: { type: dtype }, validate_shape: { b: true }, use_locking: { b: true }, _class: { list: { s: [`loc:@${name}`] } } },
    });
    assigns.push(assign.name);
    // Readers go through a snapshot, as tf.Variable builds it; reuse one the frozen graph kept.
    const existing = g.consumersOf(name).find((c) => !c.control && c.node.op === 'Identity' && c.node.name === `${name}/read`)?.node;
    const read = existing ?? g.addNode({ name: g.uniqueName(`${name}/read`), op: 'Identity', inputs: [name], attrs: { T: { type: dtype }, _class: { list: { s: [`loc:@${name}`] } } } });
    g.replaceUses(name, read.name, { except: new Set([read.name, assign.name]) });
    infos.push({ variableName: `${name}:0`, initializerName: assign.name, snapshotName: `${read.name}:0`, initialValueName: `${init.name}:0`, trainable });
    variables.push({ name, dtype, shape: [...value.shape], trainable });
  }
  g.addNode({ name: g.uniqueName('init'), op: 'NoOp', inputs: assigns.map((a) => '^' + a) });
  const saver = addSaver(g, variables, opts.filename ?? 'model');
  const sorted = new Map([...tensors.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const model = createMetaModel(g, {
    collections: { variables: { variables: infos }, trainable_variables: { variables: infos.filter((v) => v.trainable) } },
    saverDef: saver,
  });
  return { model, tensors: sorted, variables };
}

/** TF1 Saver (V2 format, not sharded): SaveV2 / RestoreV2 over the variables sorted by name. */
function addSaver(g: Graph, vars: Unfrozen['variables'], filename: string) {
  const scope = g.uniqueName('save');
  const at = (s: string) => `${scope}/${s}`;
  const list = [...vars].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = list.map((v) => v.name);
  const dtypes = list.map((v) => v.dtype);
  const strAttrs = (t: Tensor) => ({ dtype: { type: 'string' as DType }, value: { tensor: t } });
  g.addNode({ name: at('filename/input'), op: 'Const', attrs: strAttrs(strT(filename)) });
  g.addNode({ name: at('filename'), op: 'PlaceholderWithDefault', inputs: [at('filename/input')], attrs: { dtype: { type: 'string' }, shape: { shape: [] } } });
  g.addNode({ name: at('Const'), op: 'PlaceholderWithDefault', inputs: [at('filename')], attrs: { dtype: { type: 'string' }, shape: { shape: [] } } });
  for (const op of ['SaveV2', 'RestoreV2']) {
    g.addNode({ name: at(`${op}/tensor_names`), op: 'Const', attrs: strAttrs(strT(names)) });
    g.addNode({ name: at(`${op}/shape_and_slices`), op: 'Const', attrs: strAttrs(strT(names.map(() => ''))) });
  }
  g.addNode({
    name: at('SaveV2'), op: 'SaveV2',
    inputs: [at('Const'), at('SaveV2/tensor_names'), at('SaveV2/shape_and_slices'), ...names],
    attrs: { dtypes: { list: { type: dtypes } } },
  });
  g.addNode({ name: at('control_dependency'), op: 'Identity', inputs: [at('Const'), '^' + at('SaveV2')], attrs: { T: { type: 'string' }, _class: { list: { s: [`loc:@${at('Const')}`] } } } });
  g.addNode({
    name: at('RestoreV2'), op: 'RestoreV2',
    inputs: [at('Const'), at('RestoreV2/tensor_names'), at('RestoreV2/shape_and_slices')],
    attrs: { dtypes: { list: { type: dtypes } } },
  });
  const restores = list.map((v, i) =>
    g.addNode({
      name: at(i ? `Assign_${i}` : 'Assign'), op: 'Assign', inputs: [v.name, i ? `${at('RestoreV2')}:${i}` : at('RestoreV2')],
      attrs: { T: { type: v.dtype }, validate_shape: { b: true }, use_locking: { b: true }, _class: { list: { s: [`loc:@${v.name}`] } } },
    }).name,
  );
  g.addNode({ name: at('restore_all'), op: 'NoOp', inputs: restores.map((r) => '^' + r) });
  return { filenameTensorName: `${at('Const')}:0`, saveTensorName: `${at('control_dependency')}:0`, restoreOpName: at('restore_all'), maxToKeep: 5, keepCheckpointEveryNHours: 10000, version: 2 as const };
}

export interface WrittenUnfrozen {
  metaFile: string;
  prefix: string;
  checkpoint: WrittenCheckpoint;
  stateFile: string;
}

/** Write `DIR/<name>.meta`, the checkpoint `DIR/<name>.{index,data-…}` and a `DIR/checkpoint` state file. */
export function writeUnfrozen(u: Unfrozen, dir: string, opts: { name?: string } = {}): WrittenUnfrozen {
  const name = opts.name ?? 'model';
  mkdirSync(dir, { recursive: true });
  const prefix = join(dir, name);
  const checkpoint = writeCheckpoint(prefix, u.tensors);
  const metaFile = `${prefix}.meta`;
  writeModel(u.model, metaFile, { format: 'binary' });
  const stateFile = join(dir, 'checkpoint');
  writeFileAtomic(stateFile, `model_checkpoint_path: "${name}"\nall_model_checkpoint_paths: "${name}"\n`);
  return { metaFile, prefix, checkpoint, stateFile };
}
