import { Tensor, TfpassError, createMetaModel, decodeVariableDef, metaCollection, type CollectionSpec, type Graph, type Model, type SaverSpec, type VariableInfo } from '@tfpass/core';
import { foldBatchNormsForTraining } from './bnfold.js';
import { planQuantization, type PlanOptions } from './plan.js';
import { applySites, QuantBuilder, type RewriteResult } from './rewrite.js';
import type { Ranges } from './ranges.js';
import { quantizePitfalls, unfoldedBatchNorms, type Pitfall } from './pitfalls.js';

export interface TrainingOptions extends PlanOptions {
  /**
   * Steps before the forwarded tensor switches to the quantized one. Ranges are tracked from
   * step 1 regardless (contrib §1.5), so they are warm when quantization switches on.
   */
  quantDelay?: number;
  /** Step from which folded batch norms use moving statistics and stop updating them. */
  freezeBnDelay?: number;
  emaDecay?: number;
  /** Fold batch norms into conv/matmul weights for training first (default true). */
  foldBatchNorms?: boolean;
}

/** Optimizer ops that mean "too late to rewrite" (contrib _check_for_training_ops). */
const TRAINING_OP = /^(Resource)?(Sparse)?Apply[A-Z]|^ResourceSparseApply/;

export function checkNoTrainingOps(g: Graph): void {
  const found = [...new Set(g.nodes().filter((n) => TRAINING_OP.test(n.op)).map((n) => n.op))];
  if (found.length) {
    throw new TfpassError('E_PASS', `training op found in graph (${found.sort().join(', ')}): quantize the forward graph before adding the optimizer, so quantization is modelled in the backward pass too`);
  }
}

/** Variables already in the graph (ref and resource), as VariableDefs. */
export function graphVariables(g: Graph): VariableInfo[] {
  const out: VariableInfo[] = [];
  for (const n of g.nodes()) {
    if (n.op !== 'VariableV2' && n.op !== 'Variable' && n.op !== 'VarHandleOp') continue;
    const res = n.op === 'VarHandleOp';
    const assign = g.consumersOf(n.name).find((c) => !c.control && (c.node.op === (res ? 'AssignVariableOp' : 'Assign')) && c.index === 0 && !c.node.name.startsWith('save'));
    const read = g.consumersOf(n.name).find((c) => !c.control && (c.node.op === (res ? 'ReadVariableOp' : 'Identity')) && c.node.name.endsWith('/read'));
    out.push({
      variableName: `${n.name}:0`,
      initializerName: assign?.node.name ?? '',
      snapshotName: read ? `${read.node.name}:0` : '',
      initialValueName: assign ? `${assign.node.dataInputs[1]}:0` : undefined,
      isResource: res,
    });
  }
  return out;
}

/**
 * Save/restore ops over the given variables (tf.train.Saver, V2 format, scope `save`),
 * so a Saver over global variables in TF saves every quantization range.
 */
export function buildSaver(g: Graph, vars: VariableInfo[]): SaverSpec {
  let s = 'save';
  for (let k = 1; g.has(`${s}/Const`); k++) s = `save_${k}`;
  const b = new QuantBuilder(g);
  const entries = vars
    .map((v) => ({ v, name: v.variableName.replace(/:0$/, '') }))
    .filter((e) => g.has(e.name))
    .sort((a, b2) => (a.name < b2.name ? -1 : a.name > b2.name ? 1 : 0));
  const str = (vals: string[]) => Tensor.fromValues('string', [vals.length], vals);
  b.constT(`${s}/Const`, Tensor.fromValues('string', [], ['model']));
  b.constT(`${s}/SaveV2/tensor_names`, str(entries.map((e) => e.name)));
  b.constT(`${s}/SaveV2/shape_and_slices`, str(entries.map(() => '')));
  const dtypes = entries.map((e) => g.node(e.name).attrs.getType('dtype'));
  const values = entries.map((e, i) => {
    const n = g.node(e.name);
    if (n.op !== 'VarHandleOp') return e.name;
    const r = `${s}/Read_${i}/ReadVariableOp`;
    b.node(r, 'ReadVariableOp', [e.name], { dtype: dtypes[i]! });
    return r;
  });
  b.node(`${s}/SaveV2`, 'SaveV2', [`${s}/Const`, `${s}/SaveV2/tensor_names`, `${s}/SaveV2/shape_and_slices`, ...values], { dtypes });
  b.node(`${s}/control_dependency`, 'Identity', [`${s}/Const`, `^${s}/SaveV2`], { T: 'string', _class: [`loc:@${s}/Const`] });
  b.constT(`${s}/RestoreV2/tensor_names`, str(entries.map((e) => e.name)));
  b.constT(`${s}/RestoreV2/shape_and_slices`, str(entries.map(() => '')));
  b.node(`${s}/RestoreV2`, 'RestoreV2', [`${s}/Const`, `${s}/RestoreV2/tensor_names`, `${s}/RestoreV2/shape_and_slices`], { dtypes });
  const assigns = entries.map((e, i) => {
    const t = i ? `${s}/RestoreV2:${i}` : `${s}/RestoreV2`;
    const n = g.node(e.name);
    const a = `${s}/Assign${i ? `_${i}` : ''}`;
    if (n.op === 'VarHandleOp') {
      b.node(`${s}/Identity_${i}`, 'Identity', [t], { T: dtypes[i]! });
      b.node(a, 'AssignVariableOp', [e.name, `${s}/Identity_${i}`], { dtype: dtypes[i]! });
    } else {
      b.node(a, 'Assign', [e.name, t], { T: dtypes[i]!, validate_shape: true, use_locking: true, _class: [`loc:@${e.name}`] });
    }
    return a;
  });
  b.node(`${s}/restore_all`, 'NoOp', assigns.map((a) => `^${a}`));
  return { filenameTensorName: `${s}/Const:0`, saveTensorName: `${s}/control_dependency:0`, restoreOpName: `${s}/restore_all`, maxToKeep: 5, keepCheckpointEveryNHours: 10000, version: 2 };
}

function mergeCollection(base: CollectionSpec | undefined, add: CollectionSpec): CollectionSpec {
  if (!base) return add;
  return {
    nodes: base.nodes || add.nodes ? [...new Set([...(base.nodes ?? []), ...(add.nodes ?? [])])] : undefined,
    bytes: base.bytes || add.bytes ? [...(base.bytes ?? []), ...(add.bytes ?? [])] : undefined,
    variables: add.variables,
  };
}

export interface MetaResult extends RewriteResult {
  model: Model;
  /** Batch norms folded for training (layer op names). */
  folded: string[];
  /** The seed's pitfalls this result falls into (unfolded batch norms, no fake quant, frozen weights). */
  pitfalls: Pitfall[];
}

function trainableCount(m: Model): number {
  const c = metaCollection(m, 'trainable_variables');
  return c?.variables?.length ?? c?.bytes?.length ?? 0;
}

/** Wrap a rewritten graph as a MetaGraphDef with variable/update collections and a saver. */
function toMeta(g: Graph, input: Model | undefined, res: RewriteResult, folded: string[]): MetaResult {
  const known = new Set<string>();
  const globals: VariableInfo[] = [];
  const prev = input ? metaCollection(input, 'variables') : undefined;
  for (const b of prev?.bytes ?? []) {
    const v = decodeVariableDef(b);
    known.add(v.variableName);
  }
  for (const v of [...graphVariables(g), ...res.variables]) {
    if (known.has(v.variableName)) continue;
    known.add(v.variableName);
    globals.push(v);
  }
  const ours = new Set(res.variables.map((v) => v.variableName));
  const all = [...known].map((n) => globals.find((v) => v.variableName === n) ?? { variableName: n, initializerName: '', snapshotName: '' });
  const saver = buildSaver(g, all);
  const collections: Record<string, CollectionSpec> = {};
  for (const key of Object.keys(input?.meta?.collectionDef ?? {})) collections[key] = metaCollection(input!, key)!;
  collections.variables = mergeCollection(collections.variables, { variables: globals });
  if (!input?.meta?.collectionDef.trainable_variables) {
    // A plain GraphDef says nothing about trainability: user variables are trainable, ours are not.
    collections.trainable_variables = { variables: globals.filter((v) => !ours.has(v.variableName) && !/(moving_mean|moving_variance|global_step)/.test(v.variableName)).map((v) => ({ ...v, trainable: true })) };
  }
  collections.update_ops = mergeCollection(collections.update_ops, { nodes: res.updateOps });
  const model = createMetaModel(g, { collections, saverDef: saver, tags: input?.meta?.metaInfoDef?.tags ?? [] });
  return { ...res, model, folded, pitfalls: [] };
}

/**
 * `quantize_training`: contrib's create_training_graph / experimental_create_training_graph.
 * Folds batch norms for training, inserts last-value weight and EMA activation quantizers
 * (with quant_delay), and returns a MetaGraphDef ready for `import_meta_graph`.
 */
export function quantizeTraining(input: Graph | Model, opts: TrainingOptions = {}): MetaResult {
  const model = 'graph' in input && 'kind' in input ? input : undefined;
  const g = model ? model.graph : (input as Graph);
  checkNoTrainingOps(g);
  const b = new QuantBuilder(g);
  const unfolded = unfoldedBatchNorms(g);
  const folded = opts.foldBatchNorms === false ? [] : foldBatchNormsForTraining(g, b, { freezeBnDelay: opts.freezeBnDelay, training: true });
  const sites = planQuantization(g, opts);
  const res = applySites(g, sites, { kind: 'training', quantDelay: opts.quantDelay, emaDecay: opts.emaDecay }, b);
  const meta = toMeta(g, model, res, folded);
  meta.pitfalls = quantizePitfalls({ graph: g, unfolded, sites, folded, training: true, trainable: trainableCount(meta.model), scope: opts.scope });
  return meta;
}

export interface EvalOptions extends PlanOptions {
  /** Initial values of the range variables (else contrib's initial ranges). */
  ranges?: Ranges;
  foldBatchNorms?: boolean;
}

/** `quantize_eval`: create_eval_graph. Ranges are variables that are read, never updated. */
export function quantizeEval(input: Graph | Model, opts: EvalOptions = {}): MetaResult {
  const model = 'graph' in input && 'kind' in input ? input : undefined;
  const g = model ? model.graph : (input as Graph);
  const b = new QuantBuilder(g);
  const unfolded = unfoldedBatchNorms(g);
  const folded = opts.foldBatchNorms === false ? [] : foldBatchNormsForTraining(g, b, { training: false });
  const sites = planQuantization(g, opts);
  const res = applySites(g, sites, { kind: 'eval', ranges: opts.ranges }, b);
  const meta = toMeta(g, model, res, folded);
  meta.pitfalls = quantizePitfalls({ graph: g, unfolded, sites, folded, training: false, trainable: trainableCount(meta.model), scope: opts.scope });
  return meta;
}
