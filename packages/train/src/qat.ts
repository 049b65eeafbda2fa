/**
 * Quantization-aware training of a frozen float GraphDef on TensorFlow.js, in functional form:
 * the weights are fed as tf.Variables under their Const names, fake-quants sit exactly where
 * `quantize_training` puts them (@tfpass/quantize's plan), and each fake-quant kernel updates its
 * own range from the tensor it is quantizing before it quantizes it, as contrib's graph does
 * (`assign` of the weights' range, zero-debiased `assign_moving_average` of the activations'),
 * so step 1 already uses the batch's own ranges. The quantized value is forwarded only from
 * `quantDelay` on; ranges are tracked from the first step either way, as contrib does.
 * Checkpoints hold what contrib's `Saver()` holds, under its names.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
// tfjs-core, not the @tensorflow/tfjs union (~210 MB with layers, data and webgl): core's own
// gradients are registered by @tfpass/runtime's registerGradients (below, before any training).
import * as tf from '@tensorflow/tfjs-core';
import { DebiasedEma, Graph, Tensor, TfpassError, UsageError, parseInput, tensorName, writeModel, type Model } from '@tfpass/core';
import { buildGraphModel, fromTf, registerGradients, registerKernel, nudge, toTf, useBackend, type BackendName } from '@tfpass/runtime';
import { planQuantization, reroute, siteChannels, trackedRange, type PlanOptions, type Site } from '@tfpass/quantize';
import { readCheckpoint, writeCheckpoint, resolveCheckpoint, updateCheckpointState, type Checkpoint } from '@tfpass/checkpoint';
import { registerGradientFixes, registerWasmGradKernels } from './wasm-grad-kernels.js';
import { completeSites, evalMetaGraph } from './coverage.js';
import { FOLD_BN_OP, batchStatsGraph, findFoldedBatchNorms, type BatchNormMode, type FoldedBn } from './batch-norm.js';

await registerGradients();

export type LossKind = 'mse' | 'softmax_cross_entropy' | 'sparse_softmax_cross_entropy';

export interface Batch {
  feeds: Record<string, Tensor>;
  labels?: Tensor;
}

export interface QatOptions extends PlanOptions {
  /** Float inference graph with batch norms already folded (see `prepareForQat`). */
  graph: Graph;
  /** The tensor the loss reads (e.g. logits). */
  output: string;
  /** Batch for a step (deterministic per step for reproducible runs). */
  data: (step: number) => Batch | Promise<Batch>;
  steps: number;
  /** Steps before the quantized value is forwarded (ranges are tracked from step 1). */
  quantDelay?: number;
  lr?: number;
  /** Loss against labels; without labels the float graph's own output is the target (distillation). */
  loss?: LossKind;
  emaDecay?: number;
  backend?: BackendName;
  /** Add EMA sites for tensors contrib's placement leaves without a range (default true). */
  completeCoverage?: boolean;
  /** Train BiasAdd constants too (default true). */
  trainBiases?: boolean;
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Bundles kept in checkpointDir, oldest deleted first (Saver's max_to_keep, default 5; 0 keeps all). */
  maxToKeep?: number;
  /** Continue from the newest checkpoint in checkpointDir: weights, ranges, EMA state, Adam slots, step. */
  resume?: boolean;
  /** Restore weights and ranges from this checkpoint, skipping names that match `exclude`. */
  initCheckpoint?: string;
  exclude?: string | RegExp;
  /**
   * With initCheckpoint: restore the graph's weights too (default true). `runQatJob` restores
   * weights on the unfolded graph before folding and sets this to false, so folded weights are
   * not overwritten by the checkpoint's unfolded ones.
   */
  restoreWeights?: boolean;
  /** Untrained variables written into every checkpoint as they are (e.g. batch-norm statistics). */
  carried?: Map<string, Tensor>;
  onStep?: (s: StepInfo) => void;
  /**
   * Validation every `evalEvery` steps (and the float model at step 0): `infer` runs the
   * current weights in inference mode (ranges frozen, not updated by the validation data),
   * quantized or float. Returns the quantized metric; with `keepBest` a higher one is saved.
   */
  evaluate?: (infer: Infer, step: number) => Promise<EvalPoint> | EvalPoint;
  evalEvery?: number;
  /** Keep the best checkpoint by `evaluate`'s metric in `checkpointDir/best`. */
  keepBest?: boolean;
  /**
   * 'frozen' (default): batch norms arrive folded with their moving statistics and stay so,
   * which is contrib after freeze_bn_delay. 'batch_stats': contrib's fold_batch_norms for
   * training; the graph holds its batch norms in create_eval_graph's folded form
   * (`foldBatchNormsForEval`), each trains on the batch's statistics with the correction
   * factors, and the moving mean/variance follow by EMA.
   */
  batchNorm?: BatchNormMode;
  /** contrib's freeze_bn_delay: from this fake_quantization_step on, moving statistics are used and no longer updated (undefined: never). */
  freezeBnDelay?: number;
  /** Moving-average decay of the batch norms (slim's and contrib's default 0.999). */
  bnDecay?: number;
  /** Per batch norm, by moving_mean constant: a decay the graph states (FusedBatchNormV3's 1 - exponential_avg_factor). */
  bnDecays?: Record<string, number>;
  /** The tensor the loss reads, as each training forward pass computed it (tests, debugging). */
  onForward?: (step: number, output: Float32Array) => void;
  /** Write `model.ckpt-STEP.meta` (the eval MetaGraphDef) next to each bundle, as Saver.save does (default true). */
  writeMeta?: boolean;
}

/** Logits of the model at its current weights for a batch, with fake quants on or off. */
export type Infer = (feeds: Record<string, Tensor>, quantized: boolean) => Float32Array;

export interface EvalPoint {
  step: number;
  /** Metric of the float model (fake quants forwarding float values). */
  float?: number;
  /** Metric with fake quants active at the ranges so far (absent at step 0: no range yet). */
  quantized?: number;
}

export interface StepInfo {
  step: number;
  loss: number;
  quantized: boolean;
  ms: number;
}

export interface RestoreReport {
  restored: string[];
  /** Excluded by the filter: they keep their initial values. */
  skipped: string[];
  /** Not in the checkpoint: they keep their initial values. */
  missing: string[];
  mismatched: string[];
  /** Graph constants (not ranges) left at their initial values because the filter skipped them. */
  keptInitial: string[];
}

export interface QatResult {
  /** The float graph with trained weights (fake-quants not inserted). */
  graph: Graph;
  sites: Site[];
  /** Trained range per site prefix. */
  ranges: Map<string, [number, number]>;
  /** The Consts trained (checkpoint keys of the weights and biases). */
  trained: string[];
  history: StepInfo[];
  /** Checkpoint prefixes written (`DIR/model.ckpt-STEP`), oldest first. */
  checkpoints: string[];
  restore?: RestoreReport;
  /** Steps run in this call (after a resume, fewer than `steps`). */
  stepsRun: number;
  /** Validation history (with `evaluate`). */
  evals: EvalPoint[];
  /** Each site's [min, max] over training (site order of `sites`), sampled at up to ~200 steps. */
  rangeTrack: { step: number; ranges: [number, number][] }[];
  /** Site prefixes in `rangeTrack`'s order. */
  rangeNames: string[];
  /** The best checkpoint by the quantized metric (with `keepBest`). */
  best?: { step: number; value: number; prefix: string };
  /** With batchNorm 'batch_stats': the batch norms trained, and the moving-statistics constants (updated in `graph`). */
  batchNorms: FoldedBn[];
  movingStats: string[];
}

/** contrib's zero-debiased EMA (`biased`, `local_step`) in float32: core's one copy. */
export const ZeroDebiasedEma = DebiasedEma;
export type ZeroDebiasedEma = DebiasedEma;

/** One fake-quant site of the training graph. */
interface TrainSite {
  site: Site;
  fq: string;
  minFeed: string;
  maxFeed: string;
  ema?: { min: ZeroDebiasedEma; max: ZeroDebiasedEma };
  range: [number, number];
  /** Per-channel weight sites: channel count and the last ranges per channel. */
  channels?: number;
  channelRange?: [Float32Array, Float32Array];
  /** Const providing the weights (weight sites). */
  weightConst?: string;
  /** The tensor consumers read instead of `site.tensor`. */
  out: string;
}

let quantActive = true;
let steKernelInstalled = false;

/** Sites being trained, by fake-quant node name: the kernel updates their ranges. */
const liveSites = new Map<string, TrainSite>();

/** contrib's range update for one site from the tensor it quantizes, before it is quantized. */
function observe(t: TrainSite, x: tf.Tensor): [number, number] {
  const mm = tf.tidy(() => tf.stack([tf.min(x), tf.max(x)]));
  const [lo, hi] = mm.dataSync() as Float32Array;
  mm.dispose();
  const s = t.site;
  const [bmin, bmax] = trackedRange(lo!, hi!, { symmetric: s.symmetric, narrowRange: s.narrowRange, numBits: s.numBits });
  t.range = t.ema ? [t.ema.min.update(bmin), t.ema.max.update(bmax)] : [bmin, bmax];
  return t.range;
}

/** Per-channel last-value range (weights): over every axis but the last, symmetric narrow as the int8 spec wants. */
function observeChannels(t: TrainSite, x: tf.Tensor): [Float32Array, Float32Array] {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const mm = tf.tidy(() => tf.stack([tf.min(x, axes), tf.max(x, axes)]));
  const v = mm.dataSync() as Float32Array;
  mm.dispose();
  const c = t.channels!;
  const lo = new Float32Array(c), hi = new Float32Array(c);
  for (let i = 0; i < c; i++) [lo[i], hi[i]] = trackedRange(v[i]!, v[c + i]!, { symmetric: true, narrowRange: true, numBits: t.site.numBits });
  t.channelRange = [lo, hi];
  t.range = [Math.min(...lo), Math.max(...hi)];
  return t.channelRange;
}

/**
 * FakeQuantWithMinMaxVarsPerChannel (last axis) with the per-channel straight-through gradient:
 * each channel's nudged range, TF's float formula with broadcast [C] vectors.
 */
function installPerChannelKernel(): void {
  registerKernel('FakeQuantWithMinMaxVarsPerChannel', (ctx) => {
    const [x, mn, mx] = ctx.inputs as [tf.Tensor, tf.Tensor, tf.Tensor];
    const live = liveSites.get(ctx.node);
    const [lo, hi] = live ? observeChannels(live, x) : [mn.dataSync() as Float32Array, mx.dataSync() as Float32Array];
    if (!quantActive) return tf.clone(x);
    const bits = ctx.attrs.int('num_bits', 8), narrow = ctx.attrs.bool('narrow_range', false);
    const n = Array.from(lo, (l, i) => nudge(l, hi[i]! > l ? hi[i]! : l + 1e-6, bits, narrow));
    const nmin = tf.tensor1d(n.map((r) => r.min)), nmax = tf.tensor1d(n.map((r) => r.max)), scale = tf.tensor1d(n.map((r) => r.scale));
    const out = tf.customGrad(((xx: tf.Tensor, save: (t: tf.Tensor[]) => void) => {
      const clamped = tf.minimum(tf.maximum(xx, nmin), nmax);
      save([xx, clamped]);
      const q = tf.floor(tf.add(tf.div(tf.sub(clamped, nmin), scale), 0.5));
      return { value: tf.add(tf.mul(q, scale), nmin), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.cast(tf.equal(saved[0]!, saved[1]!), 'float32')) };
    }) as never)(x) as tf.Tensor;
    tf.dispose([nmin, nmax, scale]);
    return out;
  });
}

/**
 * FakeQuantWithMinMaxVars with a straight-through gradient that is zero outside the nudged
 * range (TF's FakeQuantWithMinMaxVarsGradient for the input). The forward pass is TF's float
 * formula; while `quantActive` is false it forwards the float value (quant_delay).
 */
export function installSteKernel(): void {
  if (steKernelInstalled) return;
  steKernelInstalled = true;
  installPerChannelKernel();
  registerKernel('FakeQuantWithMinMaxVars', (ctx) => {
    const [x, mn, mx] = ctx.inputs as [tf.Tensor, tf.Tensor, tf.Tensor];
    const live = liveSites.get(ctx.node);
    // A trained site updates its range first (contrib's fake quant reads the assign's result).
    let [lo, hi] = live ? observe(live, x) : [mn.dataSync()[0]!, mx.dataSync()[0]!];
    if (!quantActive) return tf.clone(x);
    if (!(hi > lo)) hi = lo + 1e-6;
    return opsFakeQuant(nudge(lo, hi, ctx.attrs.int('num_bits', 8), ctx.attrs.bool('narrow_range', false)))(x) as tf.Tensor;
  });
}

type NudgedRange = ReturnType<typeof nudge>;

/**
 * TF's float32 formula as backend ops (stays in wasm memory, SIMD; a JS pass over the values
 * measured slower because of the copies out of and back into wasm), with the pass-through mask
 * for the gradient.
 */
function opsFakeQuant(n: NudgedRange) {
  return tf.customGrad(((xx: tf.Tensor, save: (t: tf.Tensor[]) => void) => {
    const clamped = tf.clipByValue(xx, n.min, n.max);
    save([xx, clamped]);
    const q = tf.floor(tf.add(tf.div(tf.sub(clamped, n.min), n.scale), 0.5));
    const value = tf.add(tf.mul(q, n.scale), n.min);
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.cast(tf.equal(saved[0]!, saved[1]!), 'float32')) };
  }) as never);
}

/** A batch norm trained with batch statistics: its moving statistics and the last batch's. */
interface BnState {
  bn: FoldedBn;
  node: string;
  mean: Float32Array;
  variance: Float32Array;
  decay: number;
  /** The batch's mean and Bessel-corrected variance, recorded by the kernel this step. */
  batch?: { mean: Float32Array; variance: Float32Array };
}

/** Correction nodes of the training step in progress; others (inference) use the moving statistics. */
const liveBns = new Map<string, BnState>();
/** After freeze_bn_delay: moving statistics, no update (contrib's use_moving_average). */
let bnFrozen = false;
let bnKernelInstalled = false;

/**
 * contrib's batch-norm corrections as one kernel: outputs (weight multiplier, post-layer
 * multiplier, offset). Before the freeze: gamma/sigma_batch * sigma_batch/sigma_mv on the
 * weights, sigma_mv/sigma_batch after the layer, beta - mean_batch * gamma/sigma_batch; the
 * batch statistics are differentiable, as contrib's gradient for them is. Frozen (and in
 * inference): gamma/sigma_mv, 1, beta - moving_mean * gamma/sigma_mv, which is contrib's
 * frozen form with its correction offset cancelled out.
 */
function installBnKernel(): void {
  if (bnKernelInstalled) return;
  bnKernelInstalled = true;
  registerKernel(FOLD_BN_OP, (ctx) => {
    const [y, gamma, beta, mm, mv] = ctx.inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const eps = ctx.attrs.float('epsilon', 1e-3);
    const live = liveBns.get(ctx.node);
    const rsMv = tf.rsqrt(tf.add(mv, eps));
    if (!live || bnFrozen) {
      const m = tf.mul(gamma, rsMv);
      return [m, tf.onesLike(m), tf.sub(beta, tf.mul(mm, m))];
    }
    const axes = Array.from({ length: y.rank - 1 }, (_, i) => i);
    const { mean, variance } = tf.moments(y, axes);
    const n = y.size / mean.size;
    // FusedBatchNorm's batch variance (what the moving average takes) is Bessel-corrected.
    const v = variance.dataSync() as Float32Array;
    live.batch = { mean: Float32Array.from(mean.dataSync() as Float32Array), variance: Float32Array.from(v, (x) => Math.fround(x * Math.fround(n / (n - 1)))) };
    const rsB = tf.rsqrt(tf.add(variance, eps));
    const corr = tf.div(rsMv, rsB);
    const mB = tf.mul(gamma, rsB);
    return [tf.mul(corr, mB), tf.reciprocal(corr), tf.sub(beta, tf.mul(mean, mB))];
  });
}

/** moving -= (moving - batch) * (1 - decay), in float32 as assign_moving_average (zero_debias=False). */
function emaStep(moving: Float32Array, batch: Float32Array, decay: number): void {
  const f = Math.fround;
  const k = f(1 - decay);
  for (let i = 0; i < moving.length; i++) moving[i] = f(moving[i]! - f(f(moving[i]! - batch[i]!) * k));
}

/** Set whether fake-quant nodes forward quantized values (for tests of the delay). */
export function setQuantActive(on: boolean): void {
  quantActive = on;
}

function constOf(g: Graph, tensor: string): string | undefined {
  let n = g.get(parseInput(tensor).node);
  while (n && n.op === 'Identity') n = g.get(parseInput(n.inputs[0]!).node);
  return n && n.op === 'Const' ? n.name : undefined;
}

/** Insert fake-quants at the planned sites with Placeholder min/max (per-channel: [C], depthwise through a [kh, kw, C*M] view). */
export function buildTrainingGraph(float: Graph, sites: Site[]): { graph: Graph; train: TrainSite[] } {
  const g = float.clone();
  const train: TrainSite[] = [];
  for (const site of sites) {
    const { channels, dwShape } = siteChannels(g, site);
    const op = channels ? 'FakeQuantWithMinMaxVarsPerChannel' : 'FakeQuantWithMinMaxVars';
    const minFeed = `${site.prefix}/min`;
    const maxFeed = `${site.prefix}/max`;
    const fq = `${site.prefix}/${op}`;
    for (const p of [minFeed, maxFeed]) g.addNode({ name: p, op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: channels ? [channels] : [] } } });
    const int32 = (name: string, v: number[]) => g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [v.length], v) } } }).name;
    const reshape = (name: string, x: string, shape: number[]) => g.addNode({ name, op: 'Reshape', inputs: [x, int32(`${name}/shape`, shape)], attrs: { T: { type: 'float32' }, Tshape: { type: 'int32' } } }).name;
    const xin = dwShape ? reshape(`${site.prefix}/flatten_channels`, site.tensor, [dwShape[0]!, dwShape[1]!, channels!]) : site.tensor;
    g.addNode({ name: fq, op, inputs: [xin, minFeed, maxFeed], attrs: { num_bits: { i: site.numBits }, narrow_range: { b: site.narrowRange } } });
    const out = dwShape ? reshape(`${site.prefix}/restore_channels`, fq, dwShape) : fq;
    reroute(g, site.tensor, out, site.consumers);
    train.push({ site, fq, out, minFeed, maxFeed, channels, range: [...site.init] as [number, number], weightConst: site.kind === 'weights' ? constOf(g, site.tensor) : undefined });
  }
  return { graph: g, train };
}

function trainableConsts(g: Graph, train: TrainSite[], biases: boolean, bns: FoldedBn[] = []): string[] {
  const out = new Set<string>();
  for (const t of train) if (t.weightConst) out.add(t.weightConst);
  // Batch norms trained as contrib trains them: the raw weights, gamma and beta.
  for (const bn of bns) for (const t of [bn.weights, bn.gamma, bn.beta]) {
    const c = t && constOf(g, t);
    if (c) out.add(c);
  }
  if (biases) {
    for (const n of g) {
      if (n.op !== 'BiasAdd') continue;
      const c = constOf(g, n.inputs[1]!);
      if (c) out.add(c);
    }
  }
  return [...out];
}

function lossOf(kind: LossKind, out: tf.Tensor, target: tf.Tensor): tf.Scalar {
  switch (kind) {
    case 'mse':
      return tf.losses.meanSquaredError(target, out) as tf.Scalar;
    case 'softmax_cross_entropy':
      return tf.losses.softmaxCrossEntropy(target, out) as tf.Scalar;
    case 'sparse_softmax_cross_entropy': {
      const depth = out.shape[out.shape.length - 1]!;
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(target, 'int32'), depth), out) as tf.Scalar;
    }
  }
}

function matches(name: string, pat: string | RegExp | undefined): boolean {
  if (!pat) return false;
  return typeof pat === 'string' ? new RegExp(pat).test(name) : pat.test(name);
}

/** contrib's names for a site's EMA state: `<prefix>/<prefix>/min/biased`, `…/local_step`. */
const emaKey = (prefix: string, end: 'min' | 'max', what: 'biased' | 'local_step') => `${prefix}/${prefix}/${end}/${what}`;

const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/** Adam's slots under TF1 AdamOptimizer's names: `<var>/Adam` (m), `<var>/Adam_1` (v), `beta1_power`, `beta2_power`. */
async function adamTensors(optimizer: tf.AdamOptimizer, vars: Map<string, tf.Variable>): Promise<Map<string, Tensor>> {
  const out = new Map<string, Tensor>();
  const weights = await optimizer.getWeights();
  const byVar = new Map([...vars].map(([k, v]) => [v.name, k]));
  for (const w of weights.slice(1)) {
    const m = /^(.*)\/(m|v)$/.exec(w.name);
    const name = m && byVar.get(m[1]!);
    if (name) out.set(`${name}/${m![2] === 'm' ? 'Adam' : 'Adam_1'}`, fromTf(w.tensor));
  }
  if (out.size) {
    // TF1 starts the powers at beta and multiplies after each update: beta^(t+1) after t updates.
    const t = optimizer.iterations;
    out.set('beta1_power', Tensor.fromValues('float32', [], [ADAM.beta1 ** (t + 1)]));
    out.set('beta2_power', Tensor.fromValues('float32', [], [ADAM.beta2 ** (t + 1)]));
  }
  return out;
}

/** What contrib's `Saver()` writes, under its names. */
async function checkpointTensors(vars: Map<string, tf.Variable>, train: TrainSite[], step: number, quantStep: number, optimizer: tf.AdamOptimizer, carried?: Map<string, Tensor>, stats?: Map<string, Float32Array>): Promise<Map<string, Tensor>> {
  const out = new Map<string, Tensor>(carried);
  for (const [k, v] of stats ?? []) out.set(k, new Tensor('float32', [v.length], Float32Array.from(v)));
  for (const [k, v] of vars) out.set(k, fromTf(v));
  for (const t of train) {
    const [lo, hi] = t.channels ? t.channelRange ?? [new Float32Array(t.channels).fill(t.range[0]), new Float32Array(t.channels).fill(t.range[1])] : [[t.range[0]], [t.range[1]]];
    out.set(t.minFeed, Tensor.fromValues('float32', t.channels ? [t.channels] : [], lo));
    out.set(t.maxFeed, Tensor.fromValues('float32', t.channels ? [t.channels] : [], hi));
    if (!t.ema) continue;
    for (const [end, e] of [['min', t.ema.min], ['max', t.ema.max]] as const) {
      out.set(emaKey(t.site.prefix, end, 'biased'), Tensor.fromValues('float32', [], [e.biased]));
      out.set(emaKey(t.site.prefix, end, 'local_step'), Tensor.fromValues('float32', [], [e.localStep]));
    }
  }
  for (const [k, v] of await adamTensors(optimizer, vars)) out.set(k, v);
  out.set('fake_quantization_step', Tensor.fromValues('int64', [], [quantStep]));
  out.set('global_step', Tensor.fromValues('int64', [], [step]));
  return out;
}

/** Restore weights (optionally), ranges and EMA state from a checkpoint, reporting every variable. */
function restoreState(ck: Checkpoint, vars: Map<string, tf.Variable>, train: TrainSite[], opts: { exclude?: string | RegExp; weights: boolean }): RestoreReport {
  const rep: RestoreReport = { restored: [], skipped: [], missing: [], mismatched: [], keptInitial: [] };
  if (opts.weights) {
    for (const [name, v] of vars) {
      if (matches(name, opts.exclude)) {
        rep.skipped.push(name);
        rep.keptInitial.push(name);
      } else if (!ck.has(name)) rep.missing.push(name);
      else {
        const t = ck.read(name);
        if (t.shape.join(',') !== v.shape.join(',')) rep.mismatched.push(`${name}: checkpoint [${t.shape}] vs graph [${v.shape}]`);
        else {
          v.assign(toTf(t) as tf.Tensor);
          rep.restored.push(name);
        }
      }
    }
  }
  const scalar = (k: string) => ck.read(k).toNumbers()[0]!;
  for (const t of train) {
    const names = [t.minFeed, t.maxFeed];
    if (names.some((n) => matches(n, opts.exclude))) {
      rep.skipped.push(...names);
      continue;
    }
    if (!names.every((n) => ck.has(n))) {
      rep.missing.push(...names.filter((n) => !ck.has(n)));
      continue;
    }
    const [lo, hi] = [ck.read(t.minFeed).toFloat32(), ck.read(t.maxFeed).toFloat32()];
    if (lo.length !== (t.channels ?? 1) || hi.length !== lo.length) {
      rep.mismatched.push(`${t.minFeed}: checkpoint [${ck.read(t.minFeed).shape}] vs graph [${t.channels ?? ''}]`);
      continue;
    }
    t.range = [Math.min(...lo), Math.max(...hi)];
    if (t.channels) t.channelRange = [Float32Array.from(lo), Float32Array.from(hi)];
    rep.restored.push(...names);
    if (!t.ema) continue;
    // Continue the moving average exactly from contrib's state when it was saved.
    for (const [end, e, v] of [['min', t.ema.min, t.range[0]], ['max', t.ema.max, t.range[1]]] as const) {
      e.value = v;
      const b = emaKey(t.site.prefix, end, 'biased');
      const l = emaKey(t.site.prefix, end, 'local_step');
      if (ck.has(b) && ck.has(l)) {
        e.biased = scalar(b);
        e.localStep = scalar(l);
      } else {
        // Without the state: as after many steps (the debias factor is 1).
        e.biased = v;
        e.localStep = 1e9;
      }
    }
  }
  return rep;
}

/** Put Adam's slots back (TF1 names), so a resumed run continues the same optimisation. */
async function restoreAdam(ck: Checkpoint, optimizer: tf.AdamOptimizer, vars: Map<string, tf.Variable>): Promise<boolean> {
  const names = [...vars.keys()];
  if (!names.every((n) => ck.has(`${n}/Adam`) && ck.has(`${n}/Adam_1`)) || !ck.has('beta2_power')) return false;
  // From beta2_power: beta1_power underflows float32 after ~900 steps.
  const iterations = Math.round(Math.log(ck.read('beta2_power').toNumbers()[0]!) / Math.log(ADAM.beta2)) - 1;
  const list: { name: string; tensor: tf.Tensor }[] = [{ name: 'iter', tensor: tf.scalar(iterations, 'int32') }];
  for (const slot of ['Adam', 'Adam_1'] as const) for (const n of names) list.push({ name: `${vars.get(n)!.name}/${slot === 'Adam' ? 'm' : 'v'}`, tensor: toTf(ck.read(`${n}/${slot}`)) });
  await optimizer.setWeights(list);
  tf.dispose(list.map((w) => w.tensor));
  return true;
}

/** TF op names by the TensorFlow.js kernel that runs them, where the two differ. */
const KERNEL_OPS: Record<string, string[]> = { Concat: ['ConcatV2'], BatchMatMul: ['MatMul', 'BatchMatMul', 'BatchMatMulV2'], Multiply: ['Mul'], RealDiv: ['RealDiv', 'Div'], Select: ['Select', 'SelectV2'], PadV2: ['Pad', 'PadV2'] };

/**
 * tfjs's "gradient function not found for K" as a typed error naming the graph nodes between a
 * trained weight and the loss that run kernel K, before any weight has been updated.
 */
function noGradient(e: unknown, g: Graph, weights: string[], output: string): TfpassError | undefined {
  const m = /gradient function not found for (\w+)/.exec(String((e as Error)?.message ?? e));
  if (!m) return undefined;
  const kernel = m[1]!;
  const ops = new Set(KERNEL_OPS[kernel] ?? [kernel]);
  // Nodes downstream of a weight and upstream of the output.
  const down = new Set<string>(weights);
  for (const n of g.topoOrder()) if (n.dataInputs.some((i) => down.has(parseInput(i).node))) down.add(n.name);
  const up = new Set<string>();
  const stack = [parseInput(output).node];
  while (stack.length) {
    const n = stack.pop()!;
    if (up.has(n) || !g.has(n)) continue;
    up.add(n);
    for (const i of g.node(n).dataInputs) stack.push(parseInput(i).node);
  }
  const nodes = g.nodes().filter((n) => ops.has(n.op) && down.has(n.name) && up.has(n.name)).map((n) => n.name);
  return new TfpassError('E_PASS', `qat: TensorFlow.js has no gradient for ${[...ops].join('/')}${nodes.length ? ` (node${nodes.length > 1 ? 's' : ''} ${nodes.slice(0, 5).join(', ')}${nodes.length > 5 ? ', …' : ''})` : ''}, which lies between the trained weights and ${output}; nothing was trained. Cut the graph before it (--outputs) or ask for the gradient to be added`);
}

/** Run quantization-aware training. */
export async function qat(opts: QatOptions): Promise<QatResult> {
  const backend = opts.backend ?? 'wasm';
  await useBackend(backend);
  if (backend === 'wasm') registerWasmGradKernels();
  installSteKernel();
  installBnKernel();
  registerGradientFixes();
  const float = opts.graph;
  const bns = opts.batchNorm === 'batch_stats' ? findFoldedBatchNorms(float) : [];
  if (opts.batchNorm === 'batch_stats' && !bns.length) throw new UsageError("qat --batch_norm=batch_stats: the graph has no batch norm in create_eval_graph's folded form (a Conv2D/DepthwiseConv2dNative/MatMul read by a batch norm with constant statistics); runQatJob folds them so, or train with --batch_norm=frozen");
  const sites = opts.completeCoverage === false ? planQuantization(float, opts) : completeSites(float, opts).sites;
  if (sites.length === 0) {
    const fqs = float.nodes().filter((n) => n.op.startsWith('FakeQuant'));
    if (fqs.length) throw new TfpassError('E_PASS', `qat: the graph already has ${fqs.length} fake quant(s) (e.g. ${fqs[0]!.name}): it is a quantized graph; train from its float graph (contrib's checkpoint restores into it with --init_checkpoint)`);
    throw new TfpassError('E_PASS', 'qat: the graph has no quantizable layers (Conv2D, DepthwiseConv2dNative, MatMul with constant weights); fold batch norms first (quantize inserted 0 fake quants)');
  }
  const { graph: tg, train } = buildTrainingGraph(float, sites);
  const bnNodes = batchStatsGraph(tg, bns);
  const names = trainableConsts(tg, train, opts.trainBiases ?? true, bns);
  const vec = (n: string) => Float32Array.from(tg.node(n).attrs.getTensor('value').toFloat32());
  const bnState: BnState[] = bns.map((bn, i) => ({ bn, node: bnNodes[i]!, mean: vec(bn.mean), variance: vec(bn.variance), decay: opts.bnDecays?.[bn.mean] ?? opts.bnDecay ?? 0.999 }));
  const movingStats = bns.flatMap((b) => [b.mean, b.variance]);
  const statsNow = () => new Map(bnState.flatMap((s) => [[s.bn.mean, s.mean], [s.bn.variance, s.variance]] as [string, Float32Array][]));
  /** Moving statistics from a checkpoint (they are not variables of the optimizer). */
  const restoreStats = (ck: Checkpoint, exclude: string | RegExp | undefined, rep: RestoreReport) => {
    for (const s of bnState) {
      for (const [name, into] of [[s.bn.mean, s.mean], [s.bn.variance, s.variance]] as const) {
        if (matches(name, exclude)) {
          rep.skipped.push(name);
          rep.keptInitial.push(name);
        } else if (!ck.has(name)) rep.missing.push(name);
        else {
          const v = ck.read(name).toFloat32();
          if (v.length !== into.length) rep.mismatched.push(`${name}: checkpoint [${ck.read(name).shape}] vs graph [${into.length}]`);
          else {
            into.set(v);
            rep.restored.push(name);
          }
        }
      }
    }
  };
  // Saver.save also writes the MetaGraphDef next to each bundle: the eval graph, whose variables
  // (weights, batch-norm statistics, ranges) are exactly what each bundle holds.
  const meta: Model | undefined = opts.checkpointDir && opts.writeMeta !== false ? evalMetaGraph(float, sites, names, movingStats).model : undefined;
  const save = async (prefix: string, step: number) => {
    writeCheckpoint(prefix, await checkpointTensors(vars, train, step, quantStep0 + step, optimizer, opts.carried, statsNow()));
    if (meta) writeModel(meta, `${prefix}.meta`, { format: 'binary' });
  };
  if (names.length === 0) throw new TfpassError('E_PASS', 'qat: no constant weights to train (a graph with variables must be frozen first: tfpass freeze, or give its checkpoint)');
  const vars = new Map<string, tf.Variable>();
  for (const n of names) vars.set(n, tf.variable(toTf(tg.node(n).attrs.getTensor('value')), true, `qat/${n}`));
  const decay = opts.emaDecay ?? 0.999;
  for (const t of train) if (t.site.tracking === 'moving_average') t.ema = { min: new ZeroDebiasedEma(decay, t.range[0]), max: new ZeroDebiasedEma(decay, t.range[1]) };
  const optimizer = tf.train.adam(opts.lr ?? 0.001, ADAM.beta1, ADAM.beta2, ADAM.epsilon);

  // Restore: pretrained weights and ranges by pattern, or resume from our own checkpoint.
  let startStep = 0;
  // contrib's fake_quantization_step (what quant_delay is compared with) continues from a
  // restored checkpoint, as it does in TF when the Saver restores it.
  let quantStep0 = 0;
  let restore: RestoreReport | undefined;
  if (opts.initCheckpoint) {
    const ck = readCheckpoint(resolveCheckpoint(opts.initCheckpoint));
    try {
      restore = restoreState(ck, vars, train, { exclude: opts.exclude, weights: opts.restoreWeights ?? true });
      if (opts.restoreWeights ?? true) restoreStats(ck, opts.exclude, restore);
      if (ck.has('fake_quantization_step') && !matches('fake_quantization_step', opts.exclude)) quantStep0 = ck.read('fake_quantization_step').toNumbers()[0]!;
    } finally {
      ck.close();
    }
  }
  if (opts.resume && opts.checkpointDir) {
    let prefix: string | undefined;
    try {
      prefix = resolveCheckpoint(opts.checkpointDir);
    } catch {
      /* nothing to resume from yet */
    }
    if (prefix) {
      const ck = readCheckpoint(prefix);
      try {
        restore = restoreState(ck, vars, train, { weights: true });
        restoreStats(ck, undefined, restore);
        if (ck.has('global_step')) startStep = ck.read('global_step').toNumbers()[0]!;
        if (ck.has('fake_quantization_step')) quantStep0 = ck.read('fake_quantization_step').toNumbers()[0]! - startStep;
        await restoreAdam(ck, optimizer, vars);
      } finally {
        ck.close();
      }
    }
  }

  const student = buildGraphModel(tg);
  const teacher = opts.loss ? undefined : buildGraphModel(float);
  const varList = [...vars.values()];
  const history: StepInfo[] = [];
  const checkpoints: string[] = [];
  // When the loss reads a quantized tensor (the logits' act_quant), it reads the fake-quant's
  // output, as the deployed graph will: otherwise that range is never observed or trained for.
  const asked = tensorName(parseInput(opts.output).node, parseInput(opts.output).port);
  const outSite = train.find((t) => tensorName(parseInput(t.site.tensor).node, parseInput(t.site.tensor).port) === asked);
  const outName = outSite ? outSite.out : asked;
  const delay = opts.quantDelay ?? 0;
  const evals: EvalPoint[] = [];
  let best: QatResult['best'];
  // Inference: every range is fed as it stands (only live sites update theirs, and the
  // validation data must not move them). Weight ranges too: the checkpoint holds the range of
  // the last step's forward pass, which the frozen graph applies to the updated weights.
  const frozenSites = train;
  const infer: Infer = (batchFeeds, quantized) => {
    const saved = quantActive;
    for (const t of frozenSites) liveSites.delete(t.fq);
    for (const s of bnState) liveBns.delete(s.node);
    quantActive = quantized;
    try {
      const logits = tf.tidy(() => {
        const all: Record<string, tf.Tensor> = {};
        for (const [k, v] of Object.entries(batchFeeds)) all[k] = toTf(v);
        for (const t of train) {
          if (t.channels) {
            const [lo, hi] = t.channelRange ?? [new Float32Array(t.channels).fill(t.range[0]), new Float32Array(t.channels).fill(t.range[1])];
            [all[t.minFeed], all[t.maxFeed]] = [tf.tensor1d(lo), tf.tensor1d(hi)];
          } else [all[t.minFeed], all[t.maxFeed]] = [tf.scalar(t.range[0]), tf.scalar(t.range[1])];
        }
        for (const [k, v] of vars) all[k] = v;
        for (const s of bnState) [all[s.bn.mean], all[s.bn.variance]] = [tf.tensor1d(s.mean), tf.tensor1d(s.variance)];
        // The tensor asked for, as the frozen graph outputs it: freezing on that name prunes a
        // fake quant after it (and quantized logits tie, which top-k would count as hits).
        return student.execute(all, asked) as tf.Tensor;
      });
      const v = logits.dataSync() as Float32Array;
      logits.dispose();
      return v;
    } finally {
      quantActive = saved;
      for (const t of frozenSites) if (liveWhileTraining) liveSites.set(t.fq, t);
      for (const s of bnState) if (liveWhileTraining) liveBns.set(s.node, s);
    }
  };
  const evaluate = async (step: number) => {
    if (!opts.evaluate) return;
    const p = await opts.evaluate(infer, step);
    evals.push(p);
    if (opts.keepBest && opts.checkpointDir && p.quantized !== undefined && !(p.quantized <= (best?.value ?? -Infinity))) {
      const dir = join(opts.checkpointDir, 'best');
      mkdirSync(dir, { recursive: true });
      const prefix = join(dir, `model.ckpt-${step}`);
      await save(prefix, step);
      updateCheckpointState(prefix, { maxToKeep: 1 });
      best = { step, value: p.quantized, prefix };
    }
  };
  const rangeTrack: QatResult['rangeTrack'] = [];
  const trackEvery = Math.max(1, Math.ceil((opts.steps - startStep) / 200));
  let liveWhileTraining = false;
  if (opts.evaluate && startStep === 0) await evaluate(0);
  liveWhileTraining = true;
  for (const t of train) liveSites.set(t.fq, t);
  for (const s of bnState) liveBns.set(s.node, s);
  try {
    for (let step = startStep + 1; step <= opts.steps; step++) {
      const t0 = performance.now();
      const batch = await opts.data(step);
      // contrib compares the incremented fake_quantization_step: quantized from step `quant_delay` on.
      quantActive = quantStep0 + step >= delay;
      // contrib's use_moving_average compares the same incremented step with freeze_bn_delay.
      bnFrozen = opts.freezeBnDelay !== undefined && quantStep0 + step >= opts.freezeBnDelay;
      const feeds: Record<string, tf.Tensor> = {};
      // The forward reads the moving statistics as they were before this step's update.
      for (const s of bnState) [feeds[s.bn.mean], feeds[s.bn.variance]] = [tf.tensor1d(s.mean), tf.tensor1d(s.variance)];
      for (const [k, v] of Object.entries(batch.feeds)) feeds[k] = toTf(v);
      // The range inputs are placeholders the kernels do not read (they track their own ranges).
      for (const t of train) feeds[t.minFeed] = feeds[t.maxFeed] = t.channels ? tf.zeros([t.channels]) : tf.scalar(0);
      let target: tf.Tensor;
      if (batch.labels && opts.loss) target = toTf(batch.labels);
      else {
        const tfFeeds: Record<string, tf.Tensor> = {};
        for (const k of Object.keys(batch.feeds)) tfFeeds[k] = feeds[k]!;
        target = teacher!.execute(tfFeeds, asked) as tf.Tensor;
      }
      let lossT: tf.Scalar;
      let seen: tf.Tensor | undefined;
      try {
        lossT = optimizer.minimize(() => {
          const all: Record<string, tf.Tensor> = { ...feeds };
          for (const [k, v] of vars) all[k] = v;
          const out = student.execute(all, outName) as tf.Tensor;
          if (opts.onForward) seen = tf.keep(tf.clone(out));
          return lossOf(opts.loss ?? 'mse', out, target);
        }, true, varList) as tf.Scalar;
      } catch (e) {
        throw noGradient(e, tg, names, outName) ?? e;
      }
      if (seen) {
        opts.onForward!(step, Float32Array.from(seen.dataSync() as Float32Array));
        seen.dispose();
      }
      for (const s of bnState) {
        if (s.batch && !bnFrozen) {
          emaStep(s.mean, s.batch.mean, s.decay);
          emaStep(s.variance, s.batch.variance, s.decay);
        }
        s.batch = undefined;
      }
      const loss = lossT.dataSync()[0]!;
      tf.dispose([lossT, target, ...new Set(Object.values(feeds))]);
      if (!Number.isFinite(loss)) {
        throw new TfpassError('E_NUMERIC', `qat: training diverged at step ${step} (loss ${loss}${quantActive ? ', fake-quant active' : ''}); lower --lr or check the inputs`);
      }
      const info: StepInfo = { step, loss, quantized: quantActive, ms: performance.now() - t0 };
      history.push(info);
      if (step % trackEvery === 0 || step === opts.steps) rangeTrack.push({ step, ranges: train.map((t) => [t.range[0], t.range[1]]) });
      if (opts.evaluate && opts.evalEvery && (step % opts.evalEvery === 0 || step === opts.steps)) await evaluate(step);
      opts.onStep?.(info);
      if (opts.checkpointDir && opts.checkpointEvery && (step % opts.checkpointEvery === 0 || step === opts.steps)) {
        // Saver.save(sess, 'model.ckpt', global_step=step) with max_to_keep.
        mkdirSync(opts.checkpointDir, { recursive: true });
        const prefix = join(opts.checkpointDir, `model.ckpt-${step}`);
        await save(prefix, step);
        const state = updateCheckpointState(prefix, { maxToKeep: opts.maxToKeep ?? 5 });
        checkpoints.push(prefix);
        for (let i = checkpoints.length - 1; i >= 0; i--) if (!state.all.some((p) => join(opts.checkpointDir!, p) === checkpoints[i])) checkpoints.splice(i, 1);
      }
    }
  } finally {
    quantActive = true;
    bnFrozen = false;
    for (const t of train) liveSites.delete(t.fq);
    for (const s of bnState) liveBns.delete(s.node);
  }

  // The trained float graph: Consts replaced by the variables' values.
  const trained = float.clone();
  for (const [k, v] of vars) trained.node(k).attrs.setTensor('value', fromTf(v));
  for (const [k, v] of statsNow()) trained.node(k).attrs.setTensor('value', new Tensor('float32', [v.length], Float32Array.from(v)));
  student.dispose();
  teacher?.dispose();
  optimizer.dispose();
  const ranges = new Map(train.map((t) => [t.site.prefix, t.range] as [string, [number, number]]));
  tf.dispose(varList);
  return { graph: trained, sites, ranges, trained: names, history, checkpoints, restore, stepsRun: history.length, evals, best, rangeTrack, rangeNames: train.map((t) => t.site.prefix), batchNorms: bns, movingStats };
}
