import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FileError, constValue, parseInput, type Graph, type Node } from '@tfpass/core';
import { FAKE_QUANTS } from './plan.js';

/**
 * What a converter/NPU needs from a fake-quant graph. Shipped: `tflite` (TOCO, TF 1.x).
 * A vendor profile is a JSON file with the same fields.
 */
export interface Target {
  name: string;
  description?: string;
  /** TF op types the converter can quantize (Const/Placeholder/Identity/NoOp always pass). */
  ops: string[];
  /** Per-channel fake quants are refused. */
  perTensorOnly?: boolean;
  weights?: { numBits?: number[]; narrowRange?: boolean; symmetric?: boolean };
  activations?: { numBits?: number[]; narrowRange?: boolean };
  /** Graph inputs get their range from mean/std flags. */
  inputsHaveRanges?: boolean;
  /** Ops with a fixed output range. */
  fixedRange?: Record<string, [number, number]>;
  /** Output range copied from input 0. */
  rangeFromInput?: string[];
  /** Range flows either way between input 0 and output. */
  rangeBothWays?: string[];
  /** Input range copied from the output (Relu). */
  rangeFromOutput?: string[];
  /** Output range is the union of the inputs'. */
  union?: string[];
  /** Producers that absorb a following Relu/Relu6 (fused activation). */
  fusedActivationProducers?: string[];
  /**
   * Minimum/Maximum pairs with these constant [lo, hi] bounds (either order; a Relu before a
   * [0, hi] pair included) that the converter turns into one activation (RELU6, RELU_N1_TO_1):
   * the range after the pair covers the tensors inside it and its input.
   */
  clips?: [number, number][];
  /** Layers that absorb a following bias/affine op with a constant operand. */
  affineLayers?: string[];
  affineFusable?: string[];
}

export interface Finding {
  rule: string;
  severity: 'error' | 'warning';
  message: string;
  /** The tensor concerned (`node` or `node:k`). */
  tensor?: string;
  node?: string;
  op?: string;
  /** The op that consumes the tensor (for missing ranges). */
  consumer?: string;
  consumerOp?: string;
}

const TARGET_DIR = fileURLToPath(new URL('../targets/', import.meta.url));

/** `tflite`, or a path to a target JSON file. */
export function loadTarget(nameOrFile: string = 'tflite'): Target {
  const builtin = `${TARGET_DIR}${nameOrFile}.json`;
  const path = /^[A-Za-z0-9_-]+$/.test(nameOrFile) && existsSync(builtin) ? builtin : nameOrFile;
  let j: Target;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as Target;
  } catch (e) {
    const known = existsSync(TARGET_DIR) ? ' (built in: tflite)' : '';
    throw new FileError(path, `cannot read target profile${known}: ${(e as Error).message}`, { cause: e });
  }
  if (!j || typeof j.name !== 'string' || !Array.isArray(j.ops)) throw new FileError(path, 'a target profile needs "name" and "ops" (array of TF op types)');
  return j;
}

const FLOATS = new Set(['float32', 'float16', 'float64', 'bfloat16']);
const ALWAYS_OK = new Set(['Const', 'Placeholder', 'PlaceholderWithDefault', 'Identity', 'NoOp']);
/** Ops that only change state (initializers, updates, the saver): not part of a frozen graph. */
const STATE_SINKS = new Set(['Assign', 'AssignAdd', 'AssignSub', 'AssignVariableOp', 'AssignAddVariableOp', 'AssignSubVariableOp', 'NoOp', 'SaveV2', 'RestoreV2', 'MergeV2Checkpoints']);
const STATEFUL_SOURCES = new Set(['Placeholder', 'PlaceholderWithDefault', 'VariableV2', 'VarHandleOp', 'ReadVariableOp', 'RandomUniform', 'RandomStandardNormal']);

/** Graph facts the checks share. */
export class Analysis {
  private floatMemo = new Map<string, boolean>();
  private constMemo = new Map<string, boolean>();
  constructor(readonly g: Graph) {}

  isFloat(t: string): boolean {
    const hit = this.floatMemo.get(t);
    if (hit !== undefined) return hit;
    this.floatMemo.set(t, true);
    const n = this.g.producer(t);
    let r = true;
    if (n) {
      const a = n.attrs;
      const ty = a.optType('DstT') ?? (['Shape', 'Size', 'Rank', 'ArgMax', 'ArgMin'].includes(n.op) ? a.optType('out_type') ?? 'int32' : undefined) ?? a.optType('dtype') ?? a.optType('T') ?? a.optType('out_type');
      if (ty) r = FLOATS.has(ty);
      else if (n.op === 'DecodeWav' || n.op === 'AudioMicrofrontend') r = true;
      else r = n.dataInputs.some((s) => this.isFloat(s));
    }
    this.floatMemo.set(t, r);
    return r;
  }

  /** Computable from constants alone (the converter folds it). */
  isConstant(t: string): boolean {
    const name = parseInput(t).node;
    const hit = this.constMemo.get(name);
    if (hit !== undefined) return hit;
    this.constMemo.set(name, false);
    const n = this.g.get(name);
    let r = false;
    if (n) {
      if (n.op === 'Const') r = true;
      else if (STATEFUL_SOURCES.has(n.op) || n.dataInputs.length === 0 || FAKE_QUANTS.has(n.op)) r = false;
      else r = n.dataInputs.every((s) => this.isConstant(s));
    }
    this.constMemo.set(name, r);
    return r;
  }

  /**
   * Nodes that matter for `outputs` (all nodes without outputs given). `dataOnly`: what a frozen
   * graph keeps: no variable initializers, saver or range updates (a fake quant's min/max inputs
   * are not followed; freezing makes them constants).
   */
  reachable(outputs?: string[], stop: Set<string> = new Set(), opts: { dataOnly?: boolean } = {}): Set<Node> {
    const out = new Set<Node>();
    const sink = (n: Node) => opts.dataOnly && (STATE_SINKS.has(n.op) || n.attrs.optType('T') === 'string' || n.attrs.optType('dtype') === 'string');
    const roots = outputs?.length ? outputs.map((o) => this.g.node(parseInput(o).node)) : this.g.nodes().filter((n) => this.g.consumerCount(n.name) === 0 && !sink(n));
    const stack = [...roots];
    while (stack.length) {
      const n = stack.pop()!;
      if (out.has(n)) continue;
      out.add(n);
      if (stop.has(n.name)) continue;
      for (const s of opts.dataOnly && FAKE_QUANTS.has(n.op) ? n.inputs.slice(0, 1) : n.inputs) {
        const p = this.g.get(parseInput(s).node);
        if (p) stack.push(p);
      }
    }
    return out;
  }
}

export interface CheckOptions {
  /** Input arrays (they get ranges from mean/std); default: every Placeholder. */
  inputs?: string[];
  outputs?: string[];
}

const key = (node: string, port: number) => (port ? `${node}:${port}` : node);

/**
 * TOCO's CheckIsReadyForQuantization found before conversion: every float, non-constant
 * input of every op needs a range (from a FakeQuant, or derived as HardcodeMinMax does).
 * Also degenerate ranges and fake quants the target would not accept.
 */
export function quantCheck(g: Graph, targetOrName: Target | string = 'tflite', opts: CheckOptions = {}): Finding[] {
  const target = typeof targetOrName === 'string' ? loadTarget(targetOrName) : targetOrName;
  const A = new Analysis(g);
  const stop = new Set((opts.inputs ?? []).map((s) => parseInput(s).node));
  const live = A.reachable(opts.outputs, stop, { dataOnly: true });
  const findings: Finding[] = [];
  const has = new Set<string>();
  const set = (t: string) => {
    const k = t.endsWith(':0') ? t.slice(0, -2) : t;
    if (has.has(k)) return false;
    has.add(k);
    return true;
  };
  const hasRange = (t: string) => has.has(t.endsWith(':0') ? t.slice(0, -2) : t);
  const inList = (l: string[] | undefined, op: string) => !!l && l.includes(op);

  // Seeds: fake quants give their input and output a range; inputs from mean/std.
  const inputs = opts.inputs?.length ? opts.inputs.map((s) => parseInput(s).node) : g.nodes().filter((n) => n.op === 'Placeholder').map((n) => n.name);
  if (target.inputsHaveRanges !== false) for (const i of inputs) set(i);
  for (const n of live) {
    if (FAKE_QUANTS.has(n.op)) {
      set(n.name);
      set(n.dataInputs[0]!);
    }
    const fixed = target.fixedRange?.[n.op];
    if (fixed) set(n.name);
  }
  const inputSet = new Set(inputs);
  const upstreamOfInputs = (n: Node) => inputSet.has(n.name);

  // Fusions: layer -> bias/affine with a constant operand, and producer -> Relu.
  const waived = new Set<string>();
  const order = g.topoOrder().filter((n) => live.has(n));
  const single = (t: string) => {
    const cs = g.tensorConsumers(t);
    return cs.length === 1 ? cs[0]!.node : undefined;
  };
  const absorbsAffine = (n: Node): boolean => inList(target.affineLayers, n.op) || (inList(target.affineFusable, n.op) && waived.has(n.dataInputs.find((s) => !A.isConstant(s)) ?? ''));
  for (const n of order) {
    if (inList(target.affineFusable, n.op) && n.dataInputs.length === 2) {
      const [a, b] = n.dataInputs as [string, string];
      const x = A.isConstant(b) ? a : A.isConstant(a) ? b : undefined;
      const p = x ? g.producer(x) : undefined;
      if (x && p && single(x) === n && absorbsAffine(p)) waived.add(x);
    }
    if (inList(target.rangeFromOutput, n.op)) {
      const x = n.dataInputs[0]!;
      const p = g.producer(x);
      if (p && single(x) === n && inList(target.fusedActivationProducers, p.op)) waived.add(x);
    }
  }

  // Keras' clip_by_value chains: [Relu →] Minimum(·, hi) → Maximum(·, lo), either order.
  const clips: { input: string; inside: string[]; out: string }[] = [];
  const bound = (n: Node): { x: string; c: number } | undefined => {
    if (n.dataInputs.length !== 2) return undefined;
    for (const [a, b] of [[0, 1], [1, 0]] as const) {
      const x = n.dataInputs[a]!;
      const c = n.dataInputs[b]!;
      if (A.isConstant(x) || !A.isConstant(c)) continue;
      const v = constValue(g, c);
      if (v && v.length === 1) return { x, c: v[0]! };
    }
    return undefined;
  };
  for (const n of target.clips?.length ? order : []) {
    if (n.op !== 'Minimum' && n.op !== 'Maximum') continue;
    const outer = bound(n);
    const inner = outer ? g.producer(outer.x) : undefined;
    if (!outer || !inner || inner.op !== (n.op === 'Minimum' ? 'Maximum' : 'Minimum') || single(outer.x) !== n) continue;
    const ib = bound(inner);
    if (!ib) continue;
    const [lo, hi] = n.op === 'Maximum' ? [outer.c, ib.c] : [ib.c, outer.c];
    if (!target.clips!.some(([a, b]) => a === lo && b === hi)) continue;
    const inside = [outer.x];
    let input = ib.x;
    const relu = g.producer(input);
    if (lo === 0 && relu?.op === 'Relu' && single(input) === inner && relu.dataInputs[0]) {
      inside.push(input);
      input = relu.dataInputs[0];
    }
    clips.push({ input, inside, out: n.name });
  }

  // Propagate ranges to a fixed point (HardcodeMinMax rules of the target). Forward rules run in
  // topological order and backward ones in reverse, so a pass or two suffice even on deep chains.
  const reversed = [...order].reverse();
  for (let changed = true, pass = 0; changed; pass++) {
    changed = false;
    for (const c of clips) {
      if (!hasRange(c.out)) continue;
      for (const t of [...c.inside, c.input]) changed = set(t) || changed;
    }
    for (const n of pass % 2 ? reversed : order) {
      const x = n.dataInputs[0];
      if (!x) continue;
      if (inList(target.rangeFromInput, n.op) && hasRange(x)) changed = set(n.name) || changed;
      if (inList(target.rangeBothWays, n.op)) {
        if (hasRange(x)) changed = set(n.name) || changed;
        if (hasRange(n.name)) changed = set(x) || changed;
      }
      if (inList(target.rangeFromOutput, n.op) && hasRange(n.name)) changed = set(x) || changed;
      if (inList(target.union, n.op)) {
        const ins = n.dataInputs.filter((s) => A.isFloat(s) && !A.isConstant(s));
        if (ins.length && ins.every(hasRange)) changed = set(n.name) || changed;
      }
    }
  }

  // Every float, non-constant input of every op the converter keeps.
  const reported = new Map<string, Finding>();
  const missing = new Set<string>();
  // A tensor that would inherit its range from a missing one is the same problem: report the root.
  const derived = (p: Node) => (inList(target.rangeFromInput, p.op) || inList(target.rangeBothWays, p.op)) && !!p.dataInputs[0] && missing.has(p.dataInputs[0].replace(/:0$/, ''));
  for (const n of order) {
    if (ALWAYS_OK.has(n.op) || FAKE_QUANTS.has(n.op) || upstreamOfInputs(n)) continue;
    n.dataInputs.forEach((s, i) => {
      const r = parseInput(s);
      const t = key(r.node, r.port);
      const p = g.get(r.node);
      if (!p || !A.isFloat(t)) return;
      if (inList(target.union, n.op) && i === n.dataInputs.length - 1) return; // axis
      if (A.isConstant(t)) {
        if (i === 1 && inList(target.affineLayers, n.op) && !(n.op === 'MatMul' && !A.isConstant(n.dataInputs[1]!))) {
          findings.push({ rule: 'constant-without-range', severity: 'warning', tensor: t, node: p.name, op: p.op, consumer: n.name, consumerOp: n.op, message: `Constant array ${t} (weights of ${n.op} ${n.name}) has no fake quant: the converter computes its range from the data, which can cost accuracy` });
        }
        return;
      }
      if (hasRange(t) || waived.has(t)) return;
      if (missing.has(t)) return;
      missing.add(t);
      if (derived(p)) return;
      const f: Finding = {
        rule: 'missing-range',
        severity: 'error',
        tensor: t,
        node: p.name,
        op: p.op,
        consumer: n.name,
        consumerOp: n.op,
        message: `Array ${t} (produced by ${p.op} ${p.name}), which is an input to the ${n.op} operator producing the output array ${n.name}, is lacking min/max data`,
      };
      reported.set(t, f);
      findings.push(f);
    });
  }

  // Fake quants: degenerate ranges and what the target accepts.
  for (const n of live) {
    if (!FAKE_QUANTS.has(n.op)) continue;
    const x = n.dataInputs[0]!;
    const weights = A.isConstant(x);
    const numBits = n.attrs.optInt('num_bits', 8);
    const narrow = n.attrs.optBool('narrow_range', false);
    let mins: number[] | undefined;
    let maxs: number[] | undefined;
    if (n.op === 'FakeQuantWithMinMaxArgs') {
      mins = [n.attrs.optFloat('min', -6)];
      maxs = [n.attrs.optFloat('max', 6)];
    } else {
      mins = constValue(g, n.dataInputs[1]!);
      maxs = constValue(g, n.dataInputs[2]!);
    }
    const base = { tensor: x, node: n.name, op: n.op };
    if (mins && maxs) {
      for (let i = 0; i < mins.length; i++) {
        const lo = mins[i]!;
        const hi = maxs[i]!;
        if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo >= hi) {
          findings.push({ ...base, rule: 'degenerate-range', severity: 'error', message: `${n.name}: range [${lo}, ${hi}] of ${x}${mins.length > 1 ? ` (channel ${i})` : ''} is degenerate` });
          break;
        }
        if (lo > 0 || hi < 0) {
          findings.push({ ...base, rule: 'range-excludes-zero', severity: 'warning', message: `${n.name}: range [${lo}, ${hi}] of ${x} does not contain 0; the converter will shift it` });
          break;
        }
      }
    }
    const want = weights ? target.weights : target.activations;
    if (want?.numBits && !want.numBits.includes(numBits)) {
      findings.push({ ...base, rule: 'num-bits', severity: 'error', message: `${n.name}: num_bits=${numBits}, ${target.name} accepts ${want.numBits.join('/')} for ${weights ? 'weights' : 'activations'}` });
    }
    if (want?.narrowRange !== undefined && want.narrowRange !== narrow) {
      findings.push({ ...base, rule: 'narrow-range', severity: 'warning', message: `${n.name}: narrow_range=${narrow}, ${target.name} expects ${want.narrowRange} for ${weights ? 'weights' : 'activations'}` });
    }
    if (target.perTensorOnly && (n.op === 'FakeQuantWithMinMaxVarsPerChannel' || (mins && mins.length > 1))) {
      findings.push({ ...base, rule: 'per-channel', severity: 'error', message: `${n.name}: per-channel range, ${target.name} accepts per-tensor ranges only` });
    }
    if (weights && target.weights?.symmetric && mins && maxs && mins.some((m, i) => Math.abs(m + maxs![i]!) > 1e-6 * Math.max(1, Math.abs(m)))) {
      findings.push({ ...base, rule: 'symmetric-weights', severity: 'error', message: `${n.name}: weight range is not symmetric, ${target.name} needs symmetric weights` });
    }
  }
  return findings;
}
