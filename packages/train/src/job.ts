/**
 * The whole `tfpass qat` job on a user's graph: prepare (fold BN for inference), train,
 * eval graph + checkpoint, freeze, the seed pipeline, verify and quant-check.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Graph, Tensor, TfpassError, UsageError, opsWith, parseInput, writeGraph, writeModel } from '@tfpass/core';
import { runGraph, readNpy, type BackendName } from '@tfpass/runtime';
import { LINT_RULES, lint, quantCheck, loadTarget, type PlanOptions } from '@tfpass/quantize';
import { clipInterior, evalMetaGraph } from './coverage.js';
import { VARIABLE_OPS, freezeGraph, resolveCheckpoint, restoreGraphConstants, variableConstants, type ConstRestore } from '@tfpass/checkpoint';
import type { Dataset, Metric } from '@tfpass/data';
import { qat, type EvalPoint, type Infer, type LossKind, type QatResult, type RestoreReport, type StepInfo } from './qat.js';
import { runFirstParty, SEED_PIPELINE } from './pipeline.js';
import { lossCurveSvg, trainingReportHtml } from './report.js';
import { convertAndCheck, type TfliteCheck, type TfliteType } from './tflite.js';
import { foldBatchNormsForEval, hideConstants, type BatchNormMode, type FoldedBn } from './batch-norm.js';

/**
 * Training data read example by example as training goes (image folders, TFRecords, .npy
 * through @tfpass/data): never the whole set in memory.
 */
export interface StreamData {
  /** The placeholder fed. */
  input: string;
  train: Dataset;
  /** Validation set (evaluated every `evalEvery` steps; the float model at step 0 too). */
  val?: Dataset;
  metric?: () => Metric;
  evalEvery?: number;
  /** Examples per validation batch (default 32). */
  evalBatch?: number;
  keepBest?: boolean;
}

export interface QatJobOptions extends PlanOptions {
  graph: Graph;
  /** Input name -> .npy files (one example or one batch each). Ignored with `stream`. */
  data: Record<string, string[]>;
  stream?: StreamData;
  /** Label .npy files, aligned with the data files (omit for distillation). */
  labels?: string[];
  loss?: LossKind;
  /** The tensor trained on (logits); also the frozen graph's output. */
  output: string;
  /** More outputs to keep in the frozen graph. */
  keep?: string[];
  steps: number;
  batch?: number;
  quantDelay?: number;
  lr?: number;
  checkpointDir: string;
  checkpointEvery?: number;
  resume?: boolean;
  /** Saver's max_to_keep (default 5). */
  maxToKeep?: number;
  /** Restored into the UNFOLDED graph (batch norms included), then folded. */
  initCheckpoint?: string;
  exclude?: string;
  /** Fail on a warning (softmax twice, untrustworthy result) instead of reporting it. */
  strict?: boolean;
  backend?: BackendName;
  outGraph?: string;
  seed?: number;
  onStep?: (s: StepInfo) => void;
  /** Convert the frozen graph to this .tflite with @tfpass/toco and check it on LiteRT.js. */
  outTflite?: string;
  /** Default INT8. */
  inferenceType?: TfliteType;
  /** Examples the .tflite is checked on (default 32, from the validation data when given). */
  tfliteExamples?: number;
  /** Each validation result as it comes (progress displays). */
  onEval?: (p: EvalPoint) => void;
  /** 'frozen' (default, contrib after freeze_bn_delay) or 'batch_stats' (contrib's training fold): see QatOptions. */
  batchNorm?: BatchNormMode;
  freezeBnDelay?: number;
  bnDecay?: number;
}

export interface JobRestoreReport extends RestoreReport {
  /** Every variable of the graph and what the restore did with it, in graph order (ranges last). */
  variables: ConstRestore[];
  /** Checkpoint tensors nothing asked for (optimizer slots, step counters, EMA state). */
  unused: string[];
}

export interface QatJobResult {
  result: QatResult;
  restore?: JobRestoreReport;
  /** Things a contrib user would want to know before trusting the result. */
  warnings: string[];
  /** Whether the checkpoints can be frozen with an unfolded eval graph (false when batch norms were folded into weights). */
  checkpointMatchesUnfolded: boolean;
  files: Record<string, string>;
  sqnrDb: number;
  maxAbsError: number;
  missingRanges: number;
  tflite?: TfliteCheck;
}

/**
 * Stack `.npy` files into one [N, ...] tensor. A file of `[n, ...per]` holds n examples (a
 * file of `per` alone holds one), where `per` is the placeholder's shape without its batch
 * dimension; without a known placeholder shape every file is read as `[n, ...]`.
 */
export function loadExamples(files: string[], what: string, per?: readonly number[]): { tensor: Tensor; counts: number[] } {
  const ts = files.map((f) => readNpy(f));
  const fits = (s: readonly number[], p: readonly number[]) => s.length === p.length && p.every((d, i) => d < 0 || d === s[i]);
  let shape: number[] | undefined;
  const counts: number[] = [];
  for (const [i, t] of ts.entries()) {
    let n: number;
    let rest: number[];
    if (per && fits(t.shape, per)) [n, rest] = [1, [...t.shape]];
    else if (per ? t.shape.length === per.length + 1 && fits(t.shape.slice(1), per) : t.shape.length >= 1) [n, rest] = [t.shape[0]!, t.shape.slice(1)];
    else throw new TfpassError('E_FILE', `${files[i]}: ${what} has shape [${t.shape}], expected [N,${per}] (N examples) or [${per}] (one)`);
    if (shape && rest.join(',') !== shape.join(',')) throw new TfpassError('E_FILE', `${files[i]}: ${what} examples are [${rest}], ${files[0]} has [${shape}]`);
    shape = rest;
    counts.push(n);
  }
  return { tensor: concatRows(ts, shape!, counts), counts };
}

/** Labels aligned file by file with the data: file i holds counts[i] labels ([n, ...] or, for n = 1, [...]). */
export function loadLabels(files: string[], counts: number[]): Tensor {
  if (files.length !== counts.length) throw new UsageError(`--labels: ${files.length} label files for ${counts.length} data files`);
  const ts = files.map((f) => readNpy(f));
  let shape: number[] | undefined;
  for (const [i, t] of ts.entries()) {
    const n = counts[i]!;
    const rest = t.shape.length && t.shape[0] === n ? t.shape.slice(1) : n === 1 ? [...t.shape] : undefined;
    if (!rest) throw new TfpassError('E_FILE', `${files[i]}: labels have shape [${t.shape}] for ${n} examples in the matching data file`);
    if (shape && rest.join(',') !== shape.join(',')) throw new TfpassError('E_FILE', `${files[i]}: labels are [${rest}] per example, ${files[0]} has [${shape}]`);
    shape = rest;
  }
  return concatRows(ts, shape!, counts);
}

function concatRows(ts: Tensor[], per: number[], counts: number[]): Tensor {
  const size = per.reduce((a, b) => a * b, 1);
  const n = counts.reduce((a, b) => a + b, 0);
  const data = new Float32Array(n * size);
  let off = 0;
  for (const t of ts) {
    const v = t.toFloat32();
    data.set(v, off);
    off += v.length;
  }
  return new Tensor('float32', [n, ...per], data);
}

/** Ops that keep values on the way to the loss (op-table roles). */
const PASS_THROUGH = opsWith('identity', 'reshape', 'fakeQuant');

/**
 * The Softmax the loss would read through (the softmax loss applies its own): lint's
 * softmax-twice rule, run on the graph with the loss's Softmax added on `output`.
 */
function softmaxBeforeLoss(g: Graph, output: string): string | undefined {
  const probe = g.clone();
  const loss = probe.uniqueName('qat_loss/Softmax');
  probe.addNode({ name: loss, op: 'Softmax', inputs: [output], attrs: { T: { type: 'float32' } } });
  const hit = lint(probe, { disable: Object.keys(LINT_RULES).filter((r) => r !== 'softmax-twice') }).find((f) => f.rule === 'softmax-twice' && f.node === loss);
  if (!hit) return undefined;
  // Only a Softmax reached through ops that keep values (not one far upstream, e.g. attention).
  let n = g.producer(output);
  while (n && PASS_THROUGH.has(n.op)) n = g.producer(n.dataInputs[0]!);
  return n?.op === 'Softmax' ? n.name : undefined;
}

function isWeight(g: Graph, name: string): boolean {
  return g.consumersOf(name).some((c) => !c.control && c.index === 1 && /^(MatMul|Conv2D|DepthwiseConv2dNative|Conv3D|BiasAdd)$/.test(c.node.op));
}

/** Whether Const `name` has the same value in both graphs. */
function sameConst(a: Graph, b: Graph, name: string): boolean {
  const x = a.get(name), y = b.get(name);
  if (!x || !y || x.op !== 'Const' || y.op !== 'Const') return false;
  const u = x.attrs.getTensor('value').toFloat32(), v = y.attrs.getTensor('value').toFloat32();
  return u.length === v.length && u.every((e, i) => Object.is(e, v[i]));
}

/** A placeholder's shape without its batch dimension (undefined when unknown). */
function exampleShape(g: Graph, input: string): number[] | undefined {
  const n = g.get(input);
  const s = n?.attrs.optShape('shape');
  return s && s.length >= 1 ? s.slice(1) : undefined;
}

interface Source {
  names: string[];
  count: number;
  labelled: boolean;
  rows(rows: number[]): { feeds: Record<string, Tensor>; labels?: Tensor };
}

/** Today's .npy inputs: stacked in memory (they are batches the user made). */
function npySource(o: QatJobOptions): Source {
  const names = Object.keys(o.data);
  if (!names.length) throw new UsageError('qat needs training data: --data [NAME=]GLOB');
  const loaded = Object.fromEntries(names.map((k) => [k, loadExamples(o.data[k]!, `input ${k}`, exampleShape(o.graph, k))]));
  const stacks = Object.fromEntries(names.map((k) => [k, loaded[k]!.tensor]));
  const count = stacks[names[0]!]!.shape[0]!;
  for (const k of names) if (stacks[k]!.shape[0] !== count) throw new UsageError(`--data: input ${k} has ${stacks[k]!.shape[0]} examples, ${names[0]} has ${count}`);
  const labels = o.labels ? loadLabels(o.labels, loaded[names[0]!]!.counts) : undefined;
  return {
    names,
    count,
    labelled: !!labels,
    rows: (rows) => ({ feeds: Object.fromEntries(names.map((k) => [k, sliceRows(stacks[k]!, rows)])), labels: labels ? sliceRows(labels, rows) : undefined }),
  };
}

/** Rows of a Dataset, decoded when asked for. */
function datasetRows(ds: Dataset, rows: number[]): { input: Tensor; labels?: Tensor } {
  const per = ds.layout.exampleShape;
  const size = ds.layout.exampleSize;
  const data = new Float32Array(rows.length * size);
  let labels: Float32Array | undefined;
  let labelShape: number[] = [];
  rows.forEach((r, i) => {
    const ex = ds.example(r);
    data.set(ex.input, i * size);
    if (ex.label === undefined) return;
    const l = typeof ex.label === 'number' ? [ex.label] : ex.label;
    if (!labels) {
      labels = new Float32Array(rows.length * l.length);
      // A label map is H x W class ids (segmentation); a class id is a scalar.
      labelShape = typeof ex.label === 'number' ? [] : [ds.layout.height, ds.layout.width];
    }
    labels.set(l, i * l.length);
  });
  return { input: new Tensor('float32', [rows.length, ...per], data), labels: labels && new Tensor('float32', [rows.length, ...labelShape], labels) };
}

function streamSource(s: StreamData): Source {
  if (!s.train.size) throw new UsageError('--data: no training examples');
  const labelled = s.train.example(0).label !== undefined;
  return {
    names: [s.input],
    count: s.train.size,
    labelled,
    rows: (rows) => {
      const { input, labels } = datasetRows(s.train, rows);
      return { feeds: { [s.input]: input }, labels };
    },
  };
}

/** The validation metric over the whole validation set, float and (after step 0) quantized. */
function validator(s: StreamData): (infer: Infer, step: number) => EvalPoint {
  const val = s.val!;
  const bs = s.evalBatch ?? 32;
  const measure = (infer: Infer, quantized: boolean) => {
    const m = s.metric!();
    for (let start = 0; start < val.size; start += bs) {
      const rows = Array.from({ length: Math.min(bs, val.size - start) }, (_, i) => start + i);
      const { input, labels } = datasetRows(val, rows);
      if (!labels) throw new UsageError(`${val.example(rows[0]!).where}: validation example without a label (give class folders, --labels, --masks or a TFRecord label feature)`);
      const logits = infer({ [s.input]: input }, quantized);
      const ids = Int32Array.from(labels.toFloat32());
      m.add(logits, ids, logits.length / ids.length);
    }
    return m.value();
  };
  return (infer, step) => ({ step, float: measure(infer, false), quantized: step === 0 ? undefined : measure(infer, true) });
}

function withReport(f: (infer: Infer, step: number) => EvalPoint, report?: (p: EvalPoint) => void) {
  return (infer: Infer, step: number) => {
    const p = f(infer, step);
    report?.(p);
    return p;
  };
}

function sliceRows(t: Tensor, rows: number[]): Tensor {
  const per = t.size / t.shape[0]!;
  const src = t.toFloat32();
  const out = new Float32Array(rows.length * per);
  rows.forEach((r, i) => out.set(src.subarray(r * per, (r + 1) * per), i * per));
  return new Tensor('float32', [rows.length, ...t.shape.slice(1)], out);
}

/**
 * The float graph `qat` trains: instance norms fused, Identity/CheckNumerics removed, constants
 * folded. Batch norms are folded with their moving statistics ('frozen'), or, for
 * 'batch_stats', put in create_eval_graph's folded form with their constants kept (hidden from
 * fold_constants, which would fold gamma/sigma into the weights); the ones that cannot be are
 * folded frozen and listed in `left`.
 */
export async function prepareForQat(graph: Graph, o: { inputs: string[]; outputs: string[]; batchNorm?: BatchNormMode; backend?: BackendName }): Promise<{ graph: Graph; folded: FoldedBn[]; decays: Record<string, number>; left: string[] }> {
  const g = graph.clone();
  const fold = 'fold_constants fold_batch_norms fold_old_batch_norms';
  if (o.batchNorm !== 'batch_stats') {
    await runFirstParty(g, `fuse_instance_norm remove_nodes(op=Identity, op=CheckNumerics) ${fold}`, o.inputs, o.outputs, o.backend);
    return { graph: g, folded: [], decays: {}, left: [] };
  }
  await runFirstParty(g, 'fuse_instance_norm remove_nodes(op=Identity, op=CheckNumerics)', o.inputs, o.outputs, o.backend);
  const r = foldBatchNormsForEval(g, new Set(o.outputs.map((t) => parseInput(t).node)));
  const show = hideConstants(g, r.folded.flatMap((b) => [b.gamma, b.beta, b.mean, b.variance].filter((n): n is string => !!n)));
  try {
    await runFirstParty(g, fold, o.inputs, o.outputs, o.backend);
  } finally {
    show();
  }
  return { graph: g, ...r };
}

export async function runQatJob(o: QatJobOptions): Promise<QatJobResult> {
  const src = o.stream ? streamSource(o.stream) : npySource(o);
  const { names, count } = src;
  const batch = Math.min(o.batch ?? 8, count);
  // A fixed permutation per epoch, from the seed: reproducible runs.
  let seed = (o.seed ?? 1) >>> 0;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
  const perms: number[][] = [];
  const rowsFor = (step: number) => {
    const start = (step - 1) * batch;
    const rows: number[] = [];
    for (let i = 0; i < batch; i++) {
      const e = Math.floor((start + i) / count);
      while (perms.length <= e) {
        const p = Array.from({ length: count }, (_, j) => j);
        for (let j = p.length - 1; j > 0; j--) {
          const r = Math.floor(rand() * (j + 1));
          [p[j], p[r]] = [p[r]!, p[j]!];
        }
        perms.push(p);
        // Only the current epoch's order is needed: earlier ones are done.
        if (perms.length > 2) perms[perms.length - 3] = [];
      }
      rows.push(perms[e]![(start + i) % count]!);
    }
    return rows;
  };
  const labelled = src.labelled;

  const dir = resolve(o.checkpointDir);
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  const outputs = [o.output, ...(o.keep ?? [])];
  const warnings: string[] = [];
  const warn = (w: string) => {
    if (o.strict) throw new TfpassError('E_PASS', `qat --strict: ${w}`);
    warnings.push(w);
  };
  const softmax = softmaxBeforeLoss(o.graph, o.output);
  if (softmax && o.loss !== 'mse') warn(`the loss reads ${o.output}, ${softmax === parseInput(o.output).node ? 'a Softmax output' : `which comes from Softmax ${softmax}`}, and applies its own softmax: softmax is applied twice; train on the logits (the Softmax's input)`);

  // Restore BEFORE folding (as Saver.restore fills the variables of the graph it was built with):
  // once batch norms are folded, gamma/beta/moving statistics have no constant of their own.
  let unfolded = o.graph.clone();
  const variables = unfolded.nodes().filter((n) => VARIABLE_OPS.has(n.op));
  if (variables.length) {
    // A graph with variables (a .meta, unfreeze's output): its values are in a checkpoint.
    // Freeze it with that checkpoint first, then train those weights as constants.
    if (!o.initCheckpoint) throw new UsageError(`the graph has ${variables.length} variable(s) (e.g. ${variables[0]!.name}) and no values: give --init_checkpoint (the checkpoint saved with it)`);
    if (o.exclude) throw new UsageError(`--exclude needs the variables' initial values, which a graph with variables does not hold: freeze it first (tfpass freeze), then qat --init_checkpoint … --exclude …`);
    unfolded = freezeGraph({ inputGraph: unfolded, inputCheckpoint: resolveCheckpoint(o.initCheckpoint), outputNodeNames: outputs });
  }
  let graphRestore: ReturnType<typeof restoreGraphConstants> | undefined;
  if (o.initCheckpoint) graphRestore = restoreGraphConstants(unfolded, resolveCheckpoint(o.initCheckpoint), { exclude: o.exclude });
  const prep = await prepareForQat(unfolded, { inputs: names, outputs, batchNorm: o.batchNorm, backend: o.backend });
  const prepared = prep.graph;
  const bnFold = o.batchNorm === 'batch_stats' && prep.folded.length ? prep : undefined;
  if (o.batchNorm === 'batch_stats') {
    if (!prep.folded.length) warn('--batch_norm=batch_stats: no batch norm directly after a Conv2D/DepthwiseConv2dNative/MatMul with constant weights was found; batch norms stay frozen');
    if (prep.left.length) warn(`--batch_norm=batch_stats: ${prep.left.length} batch norm(s) not after a foldable layer stay frozen (folded with their moving statistics): ${prep.left.slice(0, 5).join(', ')}${prep.left.length > 5 ? ', …' : ''}`);
  }
  writeGraph(prepared, (files.prepared = join(dir, 'prepared.pb')));

  // Untrained variables (batch-norm statistics and parameters) go into every checkpoint with
  // their values, so the checkpoint restores a graph like the input, as contrib's Saver() does.
  // When folding changed a weight (batch norm folded into a convolution) the checkpoint's
  // weights are folded ones: carrying the batch norm too would apply it twice.
  const unfoldedVars = variableConstants(unfolded);
  const foldedIntoWeights = prepared.nodes().some((n) => n.op === 'Const' && isWeight(prepared, n.name) && !sameConst(unfolded, prepared, n.name));
  const carried = new Map<string, Tensor>();
  for (const n of unfoldedVars) if (!foldedIntoWeights || prepared.has(n)) carried.set(n, unfolded.node(n).attrs.getTensor('value'));
  if (foldedIntoWeights) warnings.push('batch norms were folded into the weights before training: the checkpoints hold folded weights and no batch-norm variables; freeze them with DIR/eval.meta, not with an unfolded eval graph');

  const result = await qat({
    ...o,
    graph: prepared,
    data: (step) => src.rows(rowsFor(step)),
    loss: labelled ? (o.loss ?? 'sparse_softmax_cross_entropy') : undefined,
    evaluate: o.stream?.val && o.stream.metric ? withReport(validator(o.stream), o.onEval) : undefined,
    evalEvery: o.stream?.evalEvery ?? (o.stream?.val ? Math.max(1, Math.floor(o.steps / 10)) : undefined),
    keepBest: o.stream?.keepBest,
    exclude: o.exclude,
    restoreWeights: false,
    carried,
    checkpointDir: dir,
    checkpointEvery: o.checkpointEvery ?? Math.max(1, Math.floor(o.steps / 4)),
    batchNorm: bnFold ? 'batch_stats' : 'frozen',
    bnDecays: bnFold?.decays,
  });
  writeFileSync((files.loss = join(dir, 'loss.svg')), lossCurveSvg(result.history, { quantDelay: o.quantDelay, title: 'QAT loss' }));

  const ev = evalMetaGraph(result.graph, result.sites, result.trained, result.movingStats);
  writeModel(ev.model, (files.eval = join(dir, 'eval.meta')), { format: 'binary' });
  const frozen = freezeGraph({ inputGraph: ev.model, inputCheckpoint: dir, outputNodeNames: outputs });
  await runFirstParty(frozen, SEED_PIPELINE, names, outputs, o.backend);
  files.frozen = resolve(o.outGraph ?? join(dir, 'frozen.pb'));
  writeGraph(frozen, files.frozen);

  // Verify on up to 4 batches: the trained float graph vs the deployable quantized one (with
  // labels the weights moved, so the original graph is no reference for quantization error).
  let s = 0, nse = 0, maxAbs = 0;
  for (let k = 0; k < Math.min(4, Math.ceil(count / batch)); k++) {
    const rows = Array.from({ length: Math.min(batch, count - k * batch) }, (_, i) => k * batch + i);
    const { feeds } = src.rows(rows);
    const [f] = await runGraph(result.graph, feeds, [o.output], { backend: o.backend });
    const [q] = await runGraph(frozen, feeds, [o.output], { backend: o.backend });
    const a = f!.toFloat32(), b = q!.toFloat32();
    for (let i = 0; i < a.length; i++) {
      s += a[i]! ** 2;
      nse += (a[i]! - b[i]!) ** 2;
      maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
    }
  }
  // Tensors inside a fused activation clip (Relu -> Minimum -> Maximum) do not exist after TOCO.
  const interior = clipInterior(frozen);
  const missingRanges = quantCheck(frozen, loadTarget('tflite')).filter((f) => f.rule === 'missing-range' && !(f.tensor && interior.has(parseInput(f.tensor).node))).length;
  if (missingRanges) warn(`quant-check: ${missingRanges} tensor(s) of ${files.frozen} have no quantization range: TFLite conversion will fail or fall back to float there (not deployable as is)`);
  let restore: JobRestoreReport | undefined;
  if (graphRestore) {
    const ranges = result.restore ?? { restored: [], skipped: [], missing: [], mismatched: [], keptInitial: [] };
    restore = {
      variables: [
        ...graphRestore.variables,
        ...ranges.restored.map((name) => ({ name, status: 'restored' as const })),
        ...ranges.skipped.map((name) => ({ name, status: 'skipped' as const, detail: 'excluded by the filter: tracked from the data instead' })),
        ...ranges.missing.map((name) => ({ name, status: 'missing' as const, detail: 'not in the checkpoint: tracked from the data instead' })),
      ],
      restored: [...graphRestore.restored, ...ranges.restored],
      skipped: [...graphRestore.skipped, ...ranges.skipped],
      missing: [...graphRestore.missing, ...ranges.missing],
      mismatched: [...graphRestore.mismatched.map((m) => `${m.name}: checkpoint ${m.have} vs graph ${m.want}`), ...ranges.mismatched],
      keptInitial: graphRestore.skipped,
      unused: graphRestore.unused.filter((k) => !ranges.restored.includes(k) && !ranges.skipped.includes(k)),
    };
    if (restore.keptInitial.length) {
      const bn = restore.keptInitial.filter((n) => /batch_?norm|BatchNorm|\/(gamma|beta|moving_mean|moving_variance)$/.test(n));
      warnings.unshift(
        `--exclude '${o.exclude}' skipped ${restore.keptInitial.length} graph constant(s) that KEEP THEIR INITIAL VALUES: ${restore.keptInitial.join(', ')}` +
          (bn.length ? ` (${bn.length} of them batch norm: the seed's 'quant|Quant|Batch' filter skips batch norm on purpose; take the part that matches them out of --exclude to restore it)` : ''),
      );
    }
    if (restore.missing.length) warnings.push(`--init_checkpoint lacks ${restore.missing.length} variable(s), left at their initial values: ${restore.missing.join(', ')}`);
  }
  let tflite: TfliteCheck | undefined;
  if (o.outTflite) {
    if (names.length !== 1) throw new UsageError(`--out_tflite: the graph has ${names.length} inputs; the .tflite check feeds one`);
    const n = Math.min(o.tfliteExamples ?? 32, o.stream?.val?.size ?? count);
    const one = (i: number) => {
      const t = o.stream?.val ? datasetRows(o.stream.val, [i]).input : src.rows([i]).feeds[names[0]!]!;
      return t;
    };
    tflite = await convertAndCheck(frozen, { input: names[0]!, output: o.output, out: resolve(o.outTflite), inferenceType: o.inferenceType ?? 'INT8', examples: Array.from({ length: n }, (_, i) => one(i)), inputRange: pixelRange(o.stream), backend: o.backend });
    files.tflite = tflite.file;
  }
  writeFileSync((files.plots = join(dir, 'report.html')), trainingReportHtml(result, { title: `tfpass qat: ${o.output}`, metric: o.stream?.metric?.().name, quantDelay: o.quantDelay }));
  writeFileSync((files.report = join(dir, 'report.md')), jobReport(o, result, files, tflite) + '\n');
  return { tflite, result, restore, warnings, checkpointMatchesUnfolded: !foldedIntoWeights, files, sqnrDb: 10 * Math.log10(s / Math.max(nse, 1e-30)), maxAbsError: maxAbs, missingRanges };
}

function jobReport(o: QatJobOptions, r: QatResult, files: Record<string, string>, t?: TfliteCheck): string {
  const metric = o.stream?.metric?.().name ?? 'metric';
  const h = r.history;
  const lines = [
    '# tfpass qat',
    '',
    `${r.stepsRun} steps at ${r.sites.length} fake-quant sites, quant_delay ${o.quantDelay ?? 0}; loss ${h[0]?.loss.toExponential(3)} → ${h[h.length - 1]?.loss.toExponential(3)}.`,
    '',
    `Plots (loss with moving average, validation ${metric}, every site's range): [report.html](report.html)`,
  ];
  if (r.batchNorms.length) lines.splice(3, 0, '', `Batch norm: ${r.batchNorms.length} trained on batch statistics (contrib's fold_batch_norms)${o.freezeBnDelay !== undefined ? `, moving statistics from step ${o.freezeBnDelay} on` : ''}; moving mean/variance updated by EMA in every checkpoint.`);
  else lines.splice(3, 0, '', 'Batch norm: frozen (folded with the moving statistics before training).');
  if (r.evals.length) {
    lines.push('', `| step | ${metric} float | ${metric} quantized |`, '|---|---|---|');
    for (const p of r.evals) lines.push(`| ${p.step} | ${p.float?.toFixed(4) ?? ''} | ${p.quantized?.toFixed(4) ?? ''} |`);
    if (r.best) lines.push('', `Best quantized ${metric}: ${r.best.value.toFixed(4)} at step ${r.best.step} (\`${r.best.prefix}\`).`);
  }
  if (t) {
    lines.push('', `## ${t.file}`, '', `${t.inferenceType}, checked on LiteRT.js against the frozen fake-quant graph on ${t.examples} examples (the fake-quant graph fed the .tflite's quantized input, dequantized):`, '');
    if (t.lsb) lines.push(`- output difference: max ${t.lsb.max.toFixed(2)} LSB, mean ${t.lsb.mean.toFixed(3)} LSB, ${(100 * t.lsb.within1).toFixed(1)}% within 1 LSB`);
    lines.push(`- argmax agreement: ${(100 * t.agreement).toFixed(2)}%`, `- SQNR: ${t.sqnrDb.toFixed(1)} dB`);
    for (const n of t.notes) lines.push(`- converter: ${n}`);
  }
  lines.push('', 'Files: ' + Object.entries(files).map(([k, v]) => `${k}: \`${v}\``).join(', '));
  return lines.join('\n');
}

/** What pixels 0–255 become through the image layout's mean/std (undefined for non-image data). */
function pixelRange(s?: StreamData): [number, number] | undefined {
  const e = s?.train.entries[0];
  if (!s || !e || e.kind !== 'image') return undefined;
  const { mean = [0], std = [1] } = s.train.layout;
  const ends = mean.flatMap((m, k) => [0, 255].map((p) => (p - m) / std[k % std.length]!));
  return [Math.min(...ends), Math.max(...ends)];
}
