import { Builder, GraphValidationError, Tensor, TfpassError, constValue, parseInput, replaceUsesIn, type Graph, type Node, type PlainAttrs, type VariableInfo } from '@tfpass/core';
import { planQuantization, type PlanOptions, type Site } from './plan.js';
import { checkRange, type Range, type Ranges } from './ranges.js';
import { trackedRange } from './fq.js';

/** How inserted quantizers get their ranges. */
export type RewriteMode =
  /** Frozen float graph: Const min/max (from `ranges`, else the site's initial range). */
  | { kind: 'const'; ranges?: Ranges; requireRanges?: boolean }
  /** create_eval_graph: min/max variables, read only. */
  | { kind: 'eval'; ranges?: Ranges }
  /** create_training_graph: variables updated every step (last value / EMA). */
  | { kind: 'training'; quantDelay?: number; emaDecay?: number };

export interface RewriteResult {
  sites: Site[];
  /** Variables created (for the `variables` collection and the saver). */
  variables: VariableInfo[];
  /** Ops updating ranges each step (for the `update_ops` collection). */
  updateOps: string[];
  /** Fake-quant output tensor per quantized tensor. */
  outputs: Record<string, string>;
  warnings: string[];
}

function f32(shape: number[], values: number[]): Tensor {
  return Tensor.fromValues('float32', shape, values);
}

/** Builds the ops of quantizers under a name prefix, recording variables and updates. */
export class QuantBuilder {
  readonly variables: VariableInfo[] = [];
  readonly updateOps: string[] = [];
  private step?: string;

  private readonly b: Builder;
  constructor(readonly g: Graph) {
    this.b = new Builder(g);
  }

  /** A node named exactly `name` (contrib's names are part of the contract), attrs as plain values. */
  node(name: string, op: string, inputs: string[], attrs: PlainAttrs = {}): Node {
    return this.b.op(op, inputs, attrs, { name, exact: true });
  }

  constF(name: string, v: number | number[], shape?: number[]): string {
    const vals = Array.isArray(v) ? v : [v];
    return this.constT(name, f32(shape ?? (Array.isArray(v) ? [vals.length] : []), vals));
  }

  constT(name: string, t: Tensor): string {
    return this.b.const(t, { name, exact: true }).name;
  }

  /** A ref variable `name` with `name/Initializer/Const`, `name/Assign`, `name/read`. */
  variable(name: string, init: Tensor, opts: { trainable?: boolean } = {}): { variable: string; read: string } {
    const dtype = init.dtype;
    const loc = [`loc:@${name}`];
    this.node(name, 'VariableV2', [], { shape: init.shape, dtype: dtype, container: '', shared_name: '' });
    const initName = this.constT(`${name}/Initializer/Const`, init);
    this.node(`${name}/Assign`, 'Assign', [name, initName], { T: dtype, validate_shape: true, use_locking: true, _class: loc });
    this.node(`${name}/read`, 'Identity', [name], { T: dtype, _class: loc });
    this.variables.push({ variableName: `${name}:0`, initializerName: `${name}/Assign`, snapshotName: `${name}/read:0`, initialValueName: `${initName}:0`, trainable: !!opts.trainable });
    return { variable: name, read: `${name}/read` };
  }

  /**
   * contrib's quantization step: int64 `fake_quantization_step`, incremented once per run;
   * returns `fake_quantization_step/Identity` (the incremented value).
   */
  quantStep(): string {
    if (this.step) return this.step;
    const v = 'fake_quantization_step';
    if (this.g.has(`${v}/Identity`)) return (this.step = `${v}/Identity`);
    this.variable(v, Tensor.fromValues('int64', [], [0]));
    this.constT(`${v}/AssignAdd/value`, Tensor.fromValues('int64', [], [1]));
    this.node(`${v}/AssignAdd`, 'AssignAdd', [v, `${v}/AssignAdd/value`], { T: 'int64', use_locking: false });
    this.node(`${v}/Identity`, 'Identity', [`${v}/AssignAdd`], { T: 'int64' });
    this.updateOps.push(`${v}/AssignAdd`);
    return (this.step = `${v}/Identity`);
  }

  /** TF1 cond that forwards `whenTrue` once `pred` holds, else `whenFalse`: returns the Merge. */
  cond(p: string, pred: string, whenTrue: string, whenFalse: string): string {
    const T = { T: 'float32' };
    this.node(`${p}/Switch`, 'Switch', [pred, pred], { T: 'bool' });
    this.node(`${p}/switch_t`, 'Identity', [`${p}/Switch:1`], { T: 'bool' });
    this.node(`${p}/switch_f`, 'Identity', [`${p}/Switch`], { T: 'bool' });
    this.node(`${p}/pred_id`, 'Identity', [pred], { T: 'bool' });
    this.node(`${p}/Switch_1`, 'Switch', [whenTrue, `${p}/pred_id`], T);
    this.node(`${p}/Switch_2`, 'Switch', [whenFalse, `${p}/pred_id`], T);
    this.node(`${p}/Merge`, 'Merge', [`${p}/Switch_2`, `${p}/Switch_1:1`], { ...T, N: 2 });
    return `${p}/Merge`;
  }

  /** reduce over all axes (or all but the last for per-channel) of x. */
  private reduce(p: string, op: 'Min' | 'Max', x: string, axes: number[] | undefined): string {
    const name = `${p}/Batch${op}`;
    let idx: string;
    if (axes) idx = this.constT(`${name}/reduction_indices`, Tensor.fromValues('int32', [axes.length], axes));
    else {
      this.node(`${name}/Rank`, 'Rank', [x], { T: 'float32' });
      this.constT(`${name}/range/start`, Tensor.fromValues('int32', [], [0]));
      this.constT(`${name}/range/delta`, Tensor.fromValues('int32', [], [1]));
      this.node(`${name}/range`, 'Range', [`${name}/range/start`, `${name}/Rank`, `${name}/range/delta`], { Tidx: 'int32' });
      idx = `${name}/range`;
    }
    this.node(name, op, [x, idx], { T: 'float32', Tidx: 'int32', keep_dims: false });
    return name;
  }

  /** Per-step range of a batch (contrib quant_ops): 0 included, symmetric if asked. */
  batchRange(p: string, x: string, site: Pick<Site, 'symmetric' | 'narrowRange' | 'numBits'>, axes?: number[]): [string, string] {
    const T = { T: 'float32' };
    const bmin = this.reduce(p, 'Min', x, axes);
    const bmax = this.reduce(p, 'Max', x, axes);
    if (!site.symmetric) {
      this.node(`${p}/Minimum`, 'Minimum', [bmin, this.constF(`${p}/Minimum/y`, 0)], T);
      this.node(`${p}/Maximum`, 'Maximum', [bmax, this.constF(`${p}/Maximum/y`, 0)], T);
      return [`${p}/Minimum`, `${p}/Maximum`];
    }
    const r = site.narrowRange ? -1 : -(2 ** site.numBits - 2) / 2 ** site.numBits;
    this.node(`${p}/truediv`, 'RealDiv', [bmax, this.constF(`${p}/truediv/y`, r)], T);
    this.node(`${p}/Minimum`, 'Minimum', [bmin, `${p}/truediv`], T);
    this.node(`${p}/mul`, 'Mul', [bmin, this.constF(`${p}/mul/y`, r)], T);
    this.node(`${p}/Maximum`, 'Maximum', [bmax, `${p}/mul`], T);
    return [`${p}/Minimum`, `${p}/Maximum`];
  }

  /**
   * `var <- EMA(value)` with zero debiasing, as assign_moving_average(zero_debias=True):
   * hidden `biased` and `local_step` variables; returns the op whose output is the new value.
   */
  emaAssign(name: string, varName: string, varShape: number[], value: string, decay: number): string {
    const T = { T: 'float32' };
    const s = `${name}/${varName}`;
    const zeros = f32(varShape, new Array(varShape.reduce((a, b) => a * b, 1)).fill(0));
    this.variable(`${s}/biased`, zeros);
    this.variable(`${s}/local_step`, f32([], [0]));
    this.node(`${s}/sub`, 'Sub', [`${s}/biased/read`, value], T);
    this.node(`${s}/mul`, 'Mul', [`${s}/sub`, this.constF(`${s}/mul/y`, 1 - decay)], T);
    this.node(`${s}/AssignSub`, 'AssignSub', [`${s}/biased`, `${s}/mul`], { ...T, use_locking: false });
    this.node(`${s}/AssignAdd`, 'AssignAdd', [`${s}/local_step`, this.constF(`${s}/AssignAdd/value`, 1)], { ...T, use_locking: false });
    this.node(`${s}/Pow`, 'Pow', [this.constF(`${s}/Pow/x`, decay), `${s}/AssignAdd`], T);
    this.node(`${s}/sub_1`, 'Sub', [this.constF(`${s}/sub_1/x`, 1), `${s}/Pow`], T);
    this.node(`${s}/truediv`, 'RealDiv', [`${s}/AssignSub`, `${s}/sub_1`], T);
    this.node(`${s}/sub_2`, 'Sub', [`${varName}/read`, `${s}/truediv`], T);
    this.node(name, 'AssignSub', [varName, `${s}/sub_2`], { ...T, use_locking: false });
    this.updateOps.push(name);
    return name;
  }
}

function shapeOf(g: Graph, tensor: string): number[] | undefined {
  const n = g.producer(tensor);
  if (!n) return undefined;
  if (n.op === 'Const') return n.attrs.getTensor('value').shape;
  if ((n.op === 'Identity' || n.op === 'ReadVariableOp') && n.dataInputs[0]) return shapeOf(g, n.dataInputs[0]);
  if (n.op === 'VariableV2' || n.op === 'VarHandleOp') return n.attrs.getShape('shape') ?? undefined;
  if (n.op === 'Mul' || n.op === 'Add' || n.op === 'AddV2' || n.op === 'Sub') {
    // Folded weights (mul_fold = W * multiplier): the larger operand's shape.
    const shapes = n.dataInputs.map((i) => shapeOf(g, i)).filter((x): x is number[] => !!x);
    return shapes.sort((a, b) => b.length - a.length)[0];
  }
  const os = n.attrs.has('_output_shapes') ? n.attrs.getShapes('_output_shapes')[parseInput(tensor).port] : undefined;
  return os ?? undefined;
}

function rangeArrays(r: Range, channels?: number): [number[], number[]] {
  const mins = Array.isArray(r.min) ? r.min : [r.min];
  const maxs = Array.isArray(r.max) ? r.max : [r.max];
  if (channels && mins.length === 1) return [new Array(channels).fill(mins[0]), new Array(channels).fill(maxs[0])];
  return [mins, maxs];
}

/** Last-value range of constant weights (what LastValueQuantize would record). */
export function weightRange(g: Graph, x: string, site: Pick<Site, 'symmetric' | 'narrowRange' | 'numBits'>, channels?: number): Range | undefined {
  const v = constValue(g, x);
  if (!v || v.length === 0) return undefined;
  const c = channels ?? 1;
  const lo = new Array<number>(c).fill(Infinity);
  const hi = new Array<number>(c).fill(-Infinity);
  for (let i = 0; i < v.length; i++) {
    const k = i % c;
    if (v[i]! < lo[k]!) lo[k] = v[i]!;
    if (v[i]! > hi[k]!) hi[k] = v[i]!;
  }
  const ranges = lo.map((l, k) => trackedRange(l, hi[k]!, site));
  return channels ? { min: ranges.map((r) => r[0]), max: ranges.map((r) => r[1]) } : { min: ranges[0]![0], max: ranges[0]![1] };
}

/**
 * Channels of a per-channel site: the last dimension, except for depthwise filters
 * [kh, kw, C, M] whose output channels are C*M (TFLite's per-channel axis); those are
 * quantized through a [kh, kw, C*M] view (`dwShape` set).
 */
export function siteChannels(g: Graph, site: Pick<Site, 'tensor' | 'perChannel' | 'layer'>): { channels?: number; dwShape?: number[] } {
  if (!site.perChannel) return {};
  const x = site.tensor;
  const sh = shapeOf(g, x);
  if (!sh || sh.length === 0 || sh[sh.length - 1]! < 1) throw new TfpassError('E_PASS', `per-channel quantization of '${x}' needs a known last dimension`);
  if (site.layer && g.get(site.layer)?.op === 'DepthwiseConv2dNative' && sh.length === 4) return { channels: sh[2]! * sh[3]!, dwShape: sh };
  return { channels: sh[sh.length - 1]! };
}

/**
 * The range a const-mode weight site gets: the ranges file's entry, except that a per-tensor
 * entry for a per-channel site (or no entry) is replaced by the weights' own per-channel range.
 */
export function constWeightRange(g: Graph, site: Site, ranges: Ranges | undefined, channels = siteChannels(g, site).channels): Range | undefined {
  const r = ranges?.[site.tensor] ?? ranges?.[`${site.tensor}:0`];
  if (!r || (channels && !Array.isArray(r.min))) return weightRange(g, site.tensor, site, channels) ?? r;
  return r;
}

/** Point the listed consumers' inputs that read `tensor` at `to`; each must read it (contrib's check). */
export function reroute(g: Graph, tensor: string, to: string, consumers: readonly string[]): number {
  const changed = replaceUsesIn(g, tensor, to, consumers);
  if (consumers.length && changed < consumers.length) {
    throw new GraphValidationError(tensor, `no inputs quantized for ops: [${consumers.join(', ')}]`);
  }
  return changed;
}

/** Insert one quantizer for a site in the given mode; returns the tensor consumers now read. */
export function insertSite(b: QuantBuilder, site: Site, mode: RewriteMode): string {
  const g = b.g;
  const p = site.prefix;
  const x = site.tensor;
  const fqAttrs = { num_bits: site.numBits, narrow_range: site.narrowRange };
  const { channels, dwShape } = siteChannels(g, site);
  const fqOp = channels ? 'FakeQuantWithMinMaxVarsPerChannel' : 'FakeQuantWithMinMaxVars';
  const vshape = channels ? [channels] : [];
  let r: Range | undefined = mode.kind !== 'training' ? mode.ranges?.[x] ?? mode.ranges?.[`${x}:0`] : undefined;
  if (mode.kind === 'const' && site.kind === 'weights') r = constWeightRange(g, site, mode.ranges, channels) ?? r;
  // Eval graph over frozen weights: a per-tensor file range would give every channel the same init.
  if (mode.kind === 'eval' && site.kind === 'weights' && channels && r && !Array.isArray(r.min)) r = weightRange(g, x, site, channels) ?? r;
  if (mode.kind === 'const' && mode.requireRanges && !r) throw new TfpassError('E_USAGE', `no range for '${x}' (site ${p}) in the ranges file`);
  if (r) checkRange(x, r);
  const [imin, imax] = rangeArrays(r ?? { min: site.init[0], max: site.init[1] }, channels);
  const initT = (v: number[]) => f32(vshape, channels ? v : [v[0]!]);
  let out: string;
  let xin = x;
  if (dwShape) {
    xin = b.node(`${p}/flatten_channels`, 'Reshape', [x, b.constT(`${p}/flatten_channels/shape`, Tensor.fromValues('int32', [3], [dwShape[0]!, dwShape[1]!, channels!]))], { T: 'float32', Tshape: 'int32' }).name;
  }
  const unflatten = (o: string): string =>
    dwShape ? b.node(`${p}/restore_channels`, 'Reshape', [o, b.constT(`${p}/restore_channels/shape`, Tensor.fromValues('int32', [4], dwShape))], { T: 'float32', Tshape: 'int32' }).name : o;
  if (mode.kind === 'const') {
    const mn = b.constT(`${p}/min`, initT(imin));
    const mx = b.constT(`${p}/max`, initT(imax));
    b.node(`${p}/${fqOp}`, fqOp, [xin, mn, mx], fqAttrs);
    out = unflatten(`${p}/${fqOp}`);
  } else if (mode.kind === 'eval') {
    const mn = b.variable(`${p}/min`, initT(imin));
    const mx = b.variable(`${p}/max`, initT(imax));
    b.node(`${p}/${fqOp}`, fqOp, [xin, mn.read, mx.read], fqAttrs);
    out = unflatten(`${p}/${fqOp}`);
  } else {
    b.variable(`${p}/min`, initT(imin));
    b.variable(`${p}/max`, initT(imax));
    const rank = channels ? (dwShape ? 3 : shapeOf(g, x)!.length) : undefined;
    const axes = rank ? Array.from({ length: rank - 1 }, (_, i) => i) : undefined;
    const [lo, hi] = b.batchRange(p, xin, site, axes);
    let amin: string;
    let amax: string;
    if (site.tracking === 'last_value') {
      const T = { T: 'float32', validate_shape: true, use_locking: false };
      b.node(`${p}/AssignMinLast`, 'Assign', [`${p}/min`, lo], T);
      b.node(`${p}/AssignMaxLast`, 'Assign', [`${p}/max`, hi], T);
      b.updateOps.push(`${p}/AssignMinLast`, `${p}/AssignMaxLast`);
      amin = `${p}/AssignMinLast`;
      amax = `${p}/AssignMaxLast`;
    } else {
      const decay = mode.emaDecay ?? 0.999;
      amin = b.emaAssign(`${p}/AssignMinEma`, `${p}/min`, vshape, lo, decay);
      amax = b.emaAssign(`${p}/AssignMaxEma`, `${p}/max`, vshape, hi, decay);
    }
    b.node(`${p}/${fqOp}`, fqOp, [xin, amin, amax], fqAttrs);
    out = unflatten(`${p}/${fqOp}`);
    const delay = mode.quantDelay ?? 0;
    if (delay > 0) {
      // Both branches exist outside the cond: ranges update from step 1, only the
      // forwarded tensor switches to the quantized one at step `delay` (contrib §1.5).
      const step = b.quantStep();
      const y = b.constT(`${p}/activate_quant/y`, Tensor.fromValues('int64', [], [delay]));
      b.node(`${p}/activate_quant`, 'GreaterEqual', [step, y], { T: 'int64' });
      out = b.cond(`${p}/delayed_quant`, `${p}/activate_quant`, out, x);
    }
  }
  reroute(g, x, out, site.consumers);
  return out;
}

/** Insert quantizers for every site (sites planned on the same graph beforehand). */
export function applySites(g: Graph, sites: Site[], mode: RewriteMode, b = new QuantBuilder(g)): RewriteResult {
  const outputs: Record<string, string> = {};
  const warnings: string[] = [];
  for (const s of sites) {
    outputs[s.tensor] = insertSite(b, s, mode);
    if (s.perChannel) warnings.push(`${s.prefix}: per-channel ranges; TOCO (TF 1.x) accepts only per-tensor FakeQuant ranges`);
  }
  return { sites, variables: b.variables, updateOps: b.updateOps, outputs, warnings };
}

/** Plan and insert in one go. */
export function quantizeGraph(g: Graph, mode: RewriteMode, opts: PlanOptions = {}): RewriteResult {
  return applySites(g, planQuantization(g, opts), mode);
}

export interface ManualOptions {
  /** Name prefix of the inserted ops (default `<producer>/quant`). */
  name?: string;
  numBits?: number;
  narrowRange?: boolean;
  symmetric?: boolean;
  /** Consumers to reroute (default: every consumer of the tensor). */
  consumers?: string[];
  /** For moving averages: quant_delay in steps. */
  quantDelay?: number;
}

/**
 * Put a fake quant on one tensor by hand (the seed's `MovingAvgQuantize` by hand):
 * `{min, max}` gives Const ranges; `{movingAverage: {decay}}` EMA-tracked variables.
 * Returns the tensor that consumers now read and the variables created.
 */
export function insertFakeQuant(
  g: Graph,
  tensor: string,
  spec: { min: number | number[]; max: number | number[] } | { movingAverage: { decay?: number } } | { lastValue: true },
  opts: ManualOptions = {},
): { output: string; variables: VariableInfo[]; updateOps: string[]; site: Site } {
  const t = parseInput(tensor);
  const key = t.port ? `${t.node}:${t.port}` : t.node;
  const producer = g.node(t.node);
  const consumers = opts.consumers ?? [...new Set(g.tensorConsumers(key).map((c) => c.node.name))];
  let prefix = opts.name ?? `${t.node}/quant`;
  for (let k = 1; g.has(`${prefix}/min`) || g.has(`${prefix}/FakeQuantWithMinMaxVars`); k++) prefix = `${opts.name ?? `${t.node}/quant`}_${k}`;
  const perChannel = 'min' in spec && Array.isArray(spec.min) && spec.min.length > 1;
  const site: Site = {
    name: 'act_quant',
    prefix,
    tensor: key,
    producer: producer.name,
    producerOp: producer.op,
    consumers,
    kind: 'lastValue' in spec ? 'weights' : 'activation',
    tracking: 'lastValue' in spec ? 'last_value' : 'moving_average',
    numBits: opts.numBits ?? 8,
    narrowRange: opts.narrowRange ?? false,
    symmetric: opts.symmetric ?? false,
    perChannel,
    init: 'min' in spec ? [Array.isArray(spec.min) ? spec.min[0]! : spec.min, Array.isArray(spec.max) ? spec.max[0]! : spec.max] : [-6, 6],
  };
  const b = new QuantBuilder(g);
  const mode: RewriteMode = 'min' in spec
    ? { kind: 'const', ranges: { [key]: { min: spec.min, max: spec.max } } }
    : { kind: 'training', emaDecay: 'movingAverage' in spec ? spec.movingAverage.decay ?? 0.999 : undefined, quantDelay: opts.quantDelay };
  if (perChannel && 'min' in spec) {
    const n = (spec.min as number[]).length;
    const sh = shapeOf(g, key);
    if (sh && sh[sh.length - 1] !== n) throw new TfpassError('E_USAGE', `'${key}' has ${sh[sh.length - 1]} channels, range has ${n}`);
    if (!sh) {
      // Unknown shape: trust the range length.
      const mn = b.constT(`${prefix}/min`, f32([n], spec.min as number[]));
      const mx = b.constT(`${prefix}/max`, f32([n], spec.max as number[]));
      b.node(`${prefix}/FakeQuantWithMinMaxVarsPerChannel`, 'FakeQuantWithMinMaxVarsPerChannel', [key, mn, mx], { num_bits: site.numBits, narrow_range: site.narrowRange });
      reroute(g, key, `${prefix}/FakeQuantWithMinMaxVarsPerChannel`, consumers);
      return { output: `${prefix}/FakeQuantWithMinMaxVarsPerChannel`, variables: [], updateOps: [], site };
    }
  }
  const output = insertSite(b, site, mode);
  return { output, variables: b.variables, updateOps: b.updateOps, site };
}
