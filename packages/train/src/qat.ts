/**
 * Quantization-aware training of a frozen float GraphDef on TensorFlow.js, in functional form:
 * the weights are fed as tf.Variables under their Const names, fake-quants sit exactly where
 * `quantize_training` puts them (@tfpass/quantize's plan), their ranges live here in TypeScript
 * (last value for weights, zero-debiased EMA for activations, tracked from step one) and the
 * quantized value is forwarded only from `quantDelay` on, as contrib does.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Graph, Tensor, TfpassError, parseInput, tensorName } from '@tfpass/core';
import { buildGraphModel, fromTf, registerKernel, nudge, toTf, useBackend, type BackendName } from '@tfpass/runtime';
import { planQuantization, reroute, trackedRange, type PlanOptions, type Site } from '@tfpass/quantize';
import { readCheckpoint, writeCheckpoint, resolveCheckpoint } from '@tfpass/checkpoint';
import { registerGradientFixes, registerWasmGradKernels } from './wasm-grad-kernels.js';
import { completeSites } from './coverage.js';

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
  /** Continue from the newest checkpoint in checkpointDir. */
  resume?: boolean;
  /** Restore weights and ranges from this checkpoint, skipping names that match `exclude`. */
  initCheckpoint?: string;
  exclude?: string | RegExp;
  onStep?: (s: StepInfo) => void;
}

export interface StepInfo {
  step: number;
  loss: number;
  quantized: boolean;
  ms: number;
}

export interface RestoreReport {
  restored: string[];
  skipped: string[];
  missing: string[];
  mismatched: string[];
}

export interface QatResult {
  /** The float graph with trained weights (fake-quants not inserted). */
  graph: Graph;
  sites: Site[];
  /** Trained range per site prefix. */
  ranges: Map<string, [number, number]>;
  history: StepInfo[];
  checkpoints: string[];
  restore?: RestoreReport;
  /** Steps run in this call (after a resume, fewer than `steps`). */
  stepsRun: number;
}

/** One fake-quant site of the training graph. */
interface TrainSite {
  site: Site;
  fq: string;
  minFeed: string;
  maxFeed: string;
  ema?: { min: DebiasedEma; max: DebiasedEma };
  range: [number, number];
  /** Const providing the weights (weight sites). */
  weightConst?: string;
}

/**
 * TF's assign_moving_average with zero_debias: the first update returns the first value.
 * `restore` continues from a saved value as if many steps had passed.
 */
export class DebiasedEma {
  private biased = 0;
  private steps = 0;
  value = 0;
  constructor(readonly decay: number) {}
  update(x: number): number {
    this.biased -= (this.biased - x) * (1 - this.decay);
    this.steps++;
    this.value = this.steps === Infinity ? this.biased : this.biased / (1 - this.decay ** this.steps);
    return this.value;
  }
  restore(v: number): void {
    this.biased = v;
    this.steps = Infinity;
    this.value = v;
  }
}

let quantActive = true;
let steKernelInstalled = false;

/**
 * FakeQuantWithMinMaxVars with a straight-through gradient that is zero outside the nudged
 * range (TF's FakeQuantWithMinMaxVarsGradient for the input). The forward pass is TF's float
 * formula; while `quantActive` is false it forwards the float value (quant_delay).
 */
export function installSteKernel(): void {
  if (steKernelInstalled) return;
  steKernelInstalled = true;
  registerKernel('FakeQuantWithMinMaxVars', (ctx) => {
    const [x, mn, mx] = ctx.inputs as [tf.Tensor, tf.Tensor, tf.Tensor];
    if (!quantActive) return tf.clone(x);
    const bits = ctx.attrs.int('num_bits', 8);
    const narrow = ctx.attrs.bool('narrow_range', false);
    // The trainer publishes each node's range, so a step reads no tensors back.
    const known = publishedRanges.get(ctx.node);
    const n = known ? nudge(known[0], known[1], bits, narrow) : nudge(mn.dataSync()[0]!, mx.dataSync()[0]!, bits, narrow);
    const fq = opsFakeQuant(n);
    return fq(x) as tf.Tensor;
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

/** Ranges of fake-quant nodes by node name, set by the trainer before each step. */
const publishedRanges = new Map<string, [number, number]>();

/** Set whether fake-quant nodes forward quantized values (for tests of the delay). */
export function setQuantActive(on: boolean): void {
  quantActive = on;
}

function constOf(g: Graph, tensor: string): string | undefined {
  let n = g.get(parseInput(tensor).node);
  while (n && n.op === 'Identity') n = g.get(parseInput(n.inputs[0]!).node);
  return n && n.op === 'Const' ? n.name : undefined;
}

/** Insert fake-quants at the planned sites with Placeholder min/max, fed each step. */
export function buildTrainingGraph(float: Graph, sites: Site[]): { graph: Graph; train: TrainSite[] } {
  const g = float.clone();
  const train: TrainSite[] = [];
  for (const site of sites) {
    const minFeed = `${site.prefix}/min`;
    const maxFeed = `${site.prefix}/max`;
    const fq = `${site.prefix}/FakeQuantWithMinMaxVars`;
    for (const p of [minFeed, maxFeed]) g.addNode({ name: p, op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [] } } });
    g.addNode({
      name: fq,
      op: 'FakeQuantWithMinMaxVars',
      inputs: [site.tensor, minFeed, maxFeed],
      attrs: { num_bits: { i: site.numBits }, narrow_range: { b: site.narrowRange } },
    });
    reroute(g, site.tensor, fq, site.consumers);
    train.push({ site, fq, minFeed, maxFeed, range: [...site.init] as [number, number], weightConst: site.kind === 'weights' ? constOf(g, site.tensor) : undefined });
  }
  return { graph: g, train };
}

function trainableConsts(g: Graph, train: TrainSite[], biases: boolean): string[] {
  const out = new Set<string>();
  for (const t of train) if (t.weightConst) out.add(t.weightConst);
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

/** Names used in checkpoints: weights under their Const names, ranges as contrib's variables. */
function checkpointTensors(vars: Map<string, tf.Variable>, train: TrainSite[], step: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of vars) out.set(k, fromTf(v));
  for (const t of train) {
    out.set(t.minFeed, Tensor.fromValues('float32', [], [t.range[0]]));
    out.set(t.maxFeed, Tensor.fromValues('float32', [], [t.range[1]]));
  }
  out.set('global_step', Tensor.fromValues('int64', [], [step]));
  return out;
}

/** Run quantization-aware training. */
export async function qat(opts: QatOptions): Promise<QatResult> {
  const backend = opts.backend ?? 'wasm';
  await useBackend(backend);
  if (backend === 'wasm') registerWasmGradKernels();
  installSteKernel();
  registerGradientFixes();
  const float = opts.graph;
  const sites = opts.completeCoverage === false ? planQuantization(float, opts) : completeSites(float, opts).sites;
  if (sites.length === 0) throw new TfpassError('E_PASS', 'qat: the graph has no quantizable layers (Conv2D, DepthwiseConv2dNative, MatMul with constant weights)');
  const { graph: tg, train } = buildTrainingGraph(float, sites);
  const names = trainableConsts(tg, train, opts.trainBiases ?? true);
  const vars = new Map<string, tf.Variable>();
  for (const n of names) vars.set(n, tf.variable(toTf(tg.node(n).attrs.getTensor('value')), true, `qat/${n}`));
  const decay = opts.emaDecay ?? 0.999;
  for (const t of train) if (t.site.tracking === 'moving_average') t.ema = { min: new DebiasedEma(decay), max: new DebiasedEma(decay) };

  // Restore: pretrained weights by pattern, or resume from our own checkpoint.
  let startStep = 0;
  let restore: RestoreReport | undefined;
  const ckptPrefix = opts.checkpointDir ? join(opts.checkpointDir, 'model.ckpt') : undefined;
  const restoreFrom = (prefix: string, exclude?: string | RegExp): RestoreReport => {
    const ck = readCheckpoint(resolveCheckpoint(prefix));
    const rep: RestoreReport = { restored: [], skipped: [], missing: [], mismatched: [] };
    for (const [name, v] of vars) {
      if (matches(name, exclude)) {
        rep.skipped.push(name);
        continue;
      }
      if (!ck.has(name)) {
        rep.missing.push(name);
        continue;
      }
      const t = ck.read(name);
      if (t.shape.join(',') !== v.shape.join(',')) {
        rep.mismatched.push(`${name}: checkpoint [${t.shape}] vs graph [${v.shape}]`);
        continue;
      }
      v.assign(toTf(t) as tf.Tensor);
      rep.restored.push(name);
    }
    for (const t of train) {
      if (matches(t.minFeed, exclude)) {
        rep.skipped.push(t.minFeed, t.maxFeed);
        continue;
      }
      if (ck.has(t.minFeed) && ck.has(t.maxFeed)) {
        t.range = [ck.read(t.minFeed).toNumbers()[0]!, ck.read(t.maxFeed).toNumbers()[0]!];
        // Continue the EMA from the restored value.
        if (t.ema) {
          t.ema.min.restore(t.range[0]);
          t.ema.max.restore(t.range[1]);
        }
        rep.restored.push(t.minFeed, t.maxFeed);
      }
    }
    if (ck.has('global_step') && !exclude) startStep = ck.read('global_step').toNumbers()[0]!;
    return rep;
  };
  if (opts.initCheckpoint) restore = restoreFrom(opts.initCheckpoint, opts.exclude);
  if (opts.resume && ckptPrefix) {
    try {
      restore = restoreFrom(opts.checkpointDir!);
    } catch {
      /* nothing to resume from yet */
    }
  }

  const student = buildGraphModel(tg);
  const teacher = opts.loss ? undefined : buildGraphModel(float);
  const optimizer = tf.train.adam(opts.lr ?? 0.001);
  const varList = [...vars.values()];
  const history: StepInfo[] = [];
  const checkpoints: string[] = [];
  const siteInputs = train.filter((t) => t.ema).map((t) => t.site.tensor);
  const outName = tensorName(parseInput(opts.output).node, parseInput(opts.output).port);
  const delay = opts.quantDelay ?? 0;

  for (let step = startStep + 1; step <= opts.steps; step++) {
    const t0 = performance.now();
    const batch = await opts.data(step);
    // contrib compares the incremented step counter: quantized from step `quant_delay` on.
    quantActive = step >= delay;
    // Weight ranges: last value of the current weights (one read-back for all of them).
    const wsites = train.filter((t) => t.weightConst);
    if (wsites.length) {
      const stats = tf.tidy(() => {
        const parts: tf.Tensor[] = [];
        for (const t of wsites) {
          const w = vars.get(t.weightConst!) ?? toTf(tg.node(t.weightConst!).attrs.getTensor('value'));
          parts.push(tf.min(w), tf.max(w));
        }
        return tf.stack(parts);
      });
      const v = stats.dataSync();
      stats.dispose();
      wsites.forEach((t, i) => {
        t.range = trackedRange(v[2 * i]!, v[2 * i + 1]!, { symmetric: t.site.symmetric, narrowRange: t.site.narrowRange, numBits: t.site.numBits });
      });
    }
    const feeds: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(batch.feeds)) feeds[k] = toTf(v);
    const rangeFeeds: tf.Tensor[] = [];
    for (const t of train) {
      if (!(t.range[1] > t.range[0])) t.range = [t.range[0], t.range[0] + 1e-6];
      publishedRanges.set(t.fq, t.range);
      const a = tf.scalar(t.range[0]);
      const b = tf.scalar(t.range[1]);
      feeds[t.minFeed] = a;
      feeds[t.maxFeed] = b;
      rangeFeeds.push(a, b);
    }
    let target: tf.Tensor;
    if (batch.labels && opts.loss) target = toTf(batch.labels);
    else {
      const tfFeeds: Record<string, tf.Tensor> = {};
      for (const [k, v] of Object.entries(batch.feeds)) tfFeeds[k] = feeds[k]!;
      target = teacher!.execute(tfFeeds, outName) as tf.Tensor;
    }
    let observed: tf.Tensor[] = [];
    const lossT = optimizer.minimize(() => {
      const all: Record<string, tf.Tensor> = { ...feeds };
      for (const [k, v] of vars) all[k] = v;
      const outs = student.execute(all, [outName, ...siteInputs]) as tf.Tensor | tf.Tensor[];
      const list = Array.isArray(outs) ? outs : [outs];
      observed = list.slice(1).map((x) => tf.keep(x));
      return lossOf(opts.loss ?? 'mse', list[0]!, target);
    }, true, varList) as tf.Scalar;
    const loss = lossT.dataSync()[0]!;
    if (!Number.isFinite(loss)) {
      tf.dispose([...observed, lossT, target, ...Object.values(feeds)]);
      quantActive = true;
      throw new TfpassError('E_NUMERIC', `qat: training diverged at step ${step} (loss ${loss}${quantActive && step >= delay ? ', fake-quant active' : ''}); lower --lr or check the inputs`);
    }
    // Activation ranges: zero-debiased EMA of each batch's range (includes 0, as contrib).
    const emaSites = train.filter((t) => t.ema);
    if (emaSites.length) {
      const stats = tf.tidy(() => tf.stack(observed.flatMap((x) => [tf.min(x), tf.max(x)])));
      const v = stats.dataSync();
      stats.dispose();
      emaSites.forEach((t, i) => {
        const [bmin, bmax] = trackedRange(v[2 * i]!, v[2 * i + 1]!, { symmetric: t.site.symmetric, narrowRange: t.site.narrowRange, numBits: t.site.numBits });
        t.range = [t.ema!.min.update(bmin), t.ema!.max.update(bmax)];
      });
    }
    tf.dispose([...observed, lossT, target, ...Object.values(feeds)]);
    void rangeFeeds;
    const info: StepInfo = { step, loss, quantized: quantActive, ms: performance.now() - t0 };
    history.push(info);
    opts.onStep?.(info);
    if (ckptPrefix && opts.checkpointEvery && (step % opts.checkpointEvery === 0 || step === opts.steps)) {
      mkdirSync(opts.checkpointDir!, { recursive: true });
      writeCheckpoint(ckptPrefix, checkpointTensors(vars, train, step));
      writeStateFile(opts.checkpointDir!, 'model.ckpt');
      checkpoints.push(ckptPrefix);
    }
  }
  quantActive = true;
  for (const t of train) publishedRanges.delete(t.fq);

  // The trained float graph: Consts replaced by the variables' values.
  const trained = float.clone();
  for (const [k, v] of vars) trained.node(k).attrs.setTensor('value', fromTf(v));
  student.dispose();
  teacher?.dispose();
  const ranges = new Map(train.map((t) => [t.site.prefix, t.range] as [string, [number, number]]));
  tf.dispose(varList);
  return { graph: trained, sites, ranges, history, checkpoints, restore, stepsRun: history.length };
}

/** TF's `checkpoint` state file, so TF tools and `--resume` find the newest prefix. */
function writeStateFile(dir: string, prefix: string): void {
  writeFileSync(join(dir, 'checkpoint'), `model_checkpoint_path: "${prefix}"\nall_model_checkpoint_paths: "${prefix}"\n`);
}
