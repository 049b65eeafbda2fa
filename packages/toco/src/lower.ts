/**
 * Frozen GraphDef → float TFLite model + per-tensor ranges (the `LoweredModel` seam), in TOCO's
 * order (spec §2.1): resolve the input/output arrays and shapes (−1 batch → 1), drop
 * Identity-like nodes and control edges, fold constant subgraphs (FakeQuants on weights resolved
 * with TF's float32 nudging, their range kept), lower each remaining node through the op table
 * (rules.ts), then TOCO's fusions (fuse.ts), then FakeQuants on activations become ranges.
 */
import type { Graph, Node, Tensor as CoreTensor, TensorInfo, DType } from '@tfpass/core';
import { Tensor, inferNode, inferShapes, opsWith, parseInput, tensorName } from '@tfpass/core';
import { GraphValidationError, UnsupportedOpError, UsageError, nearest } from '@tfpass/core/errors';
import type { TensorType } from '@tfpass/tflite';
import type { LoweredModel, Note, TensorRange } from './lowered.js';
import type { LGraph, LOp, LTensor, Data } from './ir.js';
import { KERNELS, fromInferred } from './const-eval.js';
import { ruleFor, type LowerCtx } from './rules.js';
import { fuseActivations, fuseBinaryIntoAffine, foldReshapeIntoFc, identifyClips, identifyDilatedConv, leftoverBatchNorms, removeDeadOps, substitute } from './fuse.js';
import { emitModel, toFloat16Weights, toInt8Weights } from './emit.js';
import { fakeQuantValues, nudgeFakeQuant } from './quantize-params.js';

export interface LowerOptions {
  /** `--input_arrays`; default: the Placeholders the outputs depend on. */
  inputArrays?: string[];
  /** `--output_arrays` (required). */
  outputArrays: string[];
  /** `--input_shapes`, one per input array. */
  inputShapes?: number[][];
  /** `--allow_custom_ops`: ops with no builtin become CUSTOM ops named after the TF op. */
  allowCustomOps?: boolean;
  /** Keep activation FakeQuants as FAKE_QUANT ops (TOCO's float mode) instead of turning them into ranges only. */
  keepFakeQuant?: boolean;
  /** float16 weights behind DEQUANTIZE ops (spec §3.2). */
  float16Weights?: boolean;
  /** Weights-only int8 with one scale per output channel behind DEQUANTIZE ops (tfpass's `--per_channel_weights`). */
  perChannelInt8Weights?: boolean;
  /** `--reorder_across_fake_quant`: FakeQuants become ranges before the fusions, so they no longer block them. */
  reorderAcrossFakeQuant?: boolean;
}

/** Pass-through nodes TOCO's importer turns into Identity and RemoveTensorFlowIdentity drops. */
const IDENTITY = opsWith('identity', 'identityN', 'default');
const FAKE_QUANT = opsWith('fakeQuant');
/** Never folded even with constant inputs (stateful or random). */
const NO_FOLD = new Set(['Placeholder', 'PlaceholderV2', 'VariableV2', 'VarHandleOp', 'RandomUniform', 'RandomStandardNormal', 'TruncatedNormal', 'NoOp']);

const key = (s: string) => {
  const r = parseInput(s);
  return tensorName(r.node, r.port);
};

function tfliteType(d: DType | undefined): TensorType {
  switch (d) {
    case 'float32': case 'float16': case 'int32': case 'uint8': case 'int64': case 'bool': case 'int8': case 'int16': case 'string':
      return d;
    default:
      return 'float32';
  }
}

function dataOf(t: CoreTensor): { type: TensorType; data: Data } {
  switch (t.dtype) {
    case 'float32': return { type: 'float32', data: (t.data as Float32Array).slice() };
    case 'float16': case 'bfloat16': case 'float64': return { type: 'float32', data: t.toFloat32().slice() };
    // TOCO keeps index arrays (shapes, axes, perms) as int32.
    case 'int64': case 'int32': case 'int16': case 'uint16': return { type: 'int32', data: Int32Array.from(t.toNumbers()) };
    case 'uint8': return { type: 'uint8', data: (t.data as Uint8Array).slice() };
    case 'int8': return { type: 'int8', data: Int8Array.from(t.data as Int8Array) };
    case 'bool': return { type: 'bool', data: Uint8Array.from(t.data as Uint8Array) };
    default: throw new UnsupportedOpError('Const', '', `constants of type ${t.dtype} have no TFLite form`);
  }
}

const UNKNOWN: TensorInfo = { dtype: 'invalid', shape: null };

/**
 * What shape inference needs about a Const: dtype, shape and the values of index-like tensors
 * (shapes, axes, paddings, perms: integer, ≤ 1024 elements) and of small float ones. BN vectors
 * and weights carry no values: listing them as numbers cost more than the rest of inference.
 */
function constInfo(t: CoreTensor): TensorInfo {
  const integer = t.dtype.startsWith('int') || t.dtype.startsWith('uint') || t.dtype === 'bool';
  const small = (integer && t.size <= 1024) || (t.size <= 16 && t.dtype !== 'string' && !t.dtype.startsWith('complex'));
  return { dtype: t.dtype, shape: [...t.shape], ...(small ? { value: t.toNumbers() } : {}) };
}

function notInGraph(graph: Graph, name: string, kind: 'input' | 'output'): never {
  const near = nearest(name, graph.nodes().map((n) => n.name));
  throw new GraphValidationError(name, `specified ${kind} array is not produced by any op in this graph. Is it a typo?${near.length ? ` Did you mean ${near.map((x) => `'${x}'`).join(', ')}?` : ''}`);
}

function forceZeroIn(range: TensorRange, node: string, notes: Note[]): TensorRange {
  if (range.min <= 0 && range.max >= 0) return range;
  notes.push({ level: 'warning', node, message: `for ${node} the MinMax range [${range.min}, ${range.max}] does not contain 0. Proceeding by tweaking it to contain 0, which will result in poor accuracy.` });
  return { ...range, min: Math.min(range.min, 0), max: Math.max(range.max, 0) };
}

/** The lowered op list, before numbering: what `lowerGraph` and the float exports share. */
export function lowerToOps(graph: Graph, opts: LowerOptions): LGraph {
  const notes: Note[] = [];
  if (!opts.outputArrays.length) throw new UsageError('--output_arrays is required');
  const outputs = opts.outputArrays.map((s) => {
    const r = parseInput(s.trim());
    if (!graph.has(r.node)) notInGraph(graph, r.node, 'output');
    return key(s.trim());
  });

  // Inputs: the given arrays, or the Placeholders the outputs reach.
  const inputs = (opts.inputArrays ?? []).map((s) => {
    const r = parseInput(s.trim());
    if (!graph.has(r.node)) notInGraph(graph, r.node, 'input');
    if (r.port !== 0) throw new UsageError(`input array '${s}': only output 0 of a node can be a model input`);
    return r.node;
  });
  const inputSet = new Set(inputs);

  // Needed nodes: back from the outputs, stopping at the inputs; control edges ignored (TOCO drops them).
  const needed = new Set<string>();
  const stack = outputs.map((o) => parseInput(o).node);
  while (stack.length) {
    const n = stack.pop()!;
    if (needed.has(n)) continue;
    needed.add(n);
    if (inputSet.has(n)) continue;
    const node = graph.get(n);
    if (!node) continue;
    if (node.op === 'Placeholder' && !opts.inputArrays?.length) {
      inputs.push(n);
      inputSet.add(n);
      continue;
    }
    for (const s of node.dataInputs) stack.push(parseInput(s).node);
  }
  if (!inputs.length) throw new UsageError('the outputs depend on no input: pass --input_arrays');
  if (opts.inputShapes && opts.inputShapes.length !== inputs.length) {
    throw new UsageError(`--input_shapes gives ${opts.inputShapes.length} shape(s) for ${inputs.length} input array(s) (${inputs.join(', ')}); separate them with ':'`);
  }

  // Input shapes: the flag, else the Placeholder's shape; an unknown batch becomes 1 as tflite_convert does.
  const pinned: Record<string, number[]> = {};
  let pre: ReturnType<typeof inferShapes> | undefined;
  inputs.forEach((name, i) => {
    const node = graph.node(name);
    let shape = opts.inputShapes?.[i];
    if (!shape) {
      const attr = node.attrs.has('shape') ? node.attrs.getShape('shape') : undefined;
      // Shape inference over the whole graph only when an input carries no shape of its own.
      shape = attr ?? (pre ??= inferShapes(graph)).get(name)?.shape ?? undefined;
      if (!shape) throw new UsageError(`input array '${name}' has no known shape: pass --input_shapes`);
    }
    if (shape[0] === -1) shape = [1, ...shape.slice(1)];
    const bad = shape.findIndex((d) => !(d >= 0));
    if (bad >= 0) throw new UsageError(`input array '${name}' has shape [${shape.join(',')}]: None is only supported in the 1st dimension; pass --input_shapes`);
    pinned[name] = shape;
  });
  // Shapes and constants in one topological walk over the needed nodes only. Const nodes and
  // Identities of constants take their info from the decoded tensor, so shape inference runs on
  // the ops that are left (a third of a frozen graph's nodes).
  const order = graph.topoOrder().filter((n) => needed.has(n.name));
  const shapes = new Map<string, TensorInfo>();
  const lookup = (t: string) => shapes.get(key(t));
  const consts = new Map<string, CoreTensor>();
  /** Name a constant carries into the model: its source's, looking through Identity. */
  const constNames = new Map<string, string>();
  const constRanges = new Map<string, TensorRange>();
  for (const n of order) {
    const k0 = tensorName(n.name, 0);
    if (n.op === 'Const' && !inputSet.has(n.name)) {
      if (n.attrs.has('value')) {
        const t = n.attrs.getTensor('value');
        consts.set(k0, t);
        shapes.set(k0, constInfo(t));
      }
      continue;
    }
    const ins = n.dataInputs.map(key);
    if (IDENTITY.has(n.op) && n.op !== 'IdentityN' && !inputSet.has(n.name) && ins[0] !== undefined && consts.has(ins[0])) {
      shapes.set(k0, shapes.get(ins[0])!);
    } else {
      const outs = inferNode(graph, n, ins.map((i) => shapes.get(i) ?? UNKNOWN), {}, lookup);
      outs.forEach((o, k) => shapes.set(tensorName(n.name, k), o));
      if (inputSet.has(n.name)) {
        const dtype = outs[0] && outs[0].dtype !== 'invalid' ? outs[0].dtype : (n.attrs.optType('dtype') ?? 'float32');
        shapes.set(k0, { dtype, shape: [...pinned[n.name]!] });
      }
    }
    if (inputSet.has(n.name) || NO_FOLD.has(n.op)) continue;
    if (n.op === 'Shape' || n.op === 'Size' || n.op === 'Rank') {
      const v = fromInferred(shapes.get(k0));
      if (v) consts.set(k0, v);
      continue;
    }
    if (!ins.length || !ins.every((s) => consts.has(s))) continue;
    const vals = ins.map((s) => consts.get(s)!);
    if (IDENTITY.has(n.op)) {
      consts.set(k0, vals[0]!);
      constNames.set(k0, constNames.get(ins[0]!) ?? parseInput(ins[0]!).node);
      if (constRanges.has(ins[0]!)) constRanges.set(k0, constRanges.get(ins[0]!)!);
      continue;
    }
    if (FAKE_QUANT.has(n.op)) {
      const r = resolveConstantFakeQuant(n, vals, notes);
      consts.set(k0, r.value);
      constRanges.set(k0, r.range);
      continue;
    }
    const out = shapes.get(k0) ?? { dtype: 'invalid', shape: null };
    let v: CoreTensor | undefined;
    try {
      v = KERNELS[n.op]?.(n, vals, out as TensorInfo);
    } catch {
      v = undefined;
    }
    v ??= fromInferred(out);
    if (v) consts.set(k0, v);
    // A reshape of fake-quantized weights keeps their range (depthwise per-channel FakeQuants sit
    // on a [kh,kw,1,C·M] view and are reshaped back to [kh,kw,C,M]); per-channel only while the
    // channels stay the innermost elements (trailing dims multiply to the channel count).
    const r = constRanges.get(ins[0]!);
    const trailing = (shape: readonly number[], n: number) => {
      for (let i = shape.length - 1, p = 1; i >= 0; i--) if ((p *= shape[i]!) === n) return true;
      return false;
    };
    if (v && r && n.op === 'Reshape' && (!r.perChannel || trailing(v.shape, r.perChannel.min.length))) {
      constRanges.set(k0, r.perChannel ? { ...r, perChannel: { ...r.perChannel, axis: v.shape.length - 1 } } : r);
    }
  }

  // Uses of each constant by lowered (non-constant) nodes, for TOCO's "used once" conditions.
  const resolveAlias = (s: string): string => {
    let k = key(s);
    for (let i = 0; i < 64; i++) {
      const node = graph.get(parseInput(k).node);
      if (!node || !IDENTITY.has(node.op) || inputSet.has(node.name) || consts.has(k) || !node.dataInputs.length) break;
      // IdentityN passes input k to output k; the others have one output.
      const port = node.op === 'IdentityN' ? parseInput(k).port : 0;
      if (port >= node.dataInputs.length) break;
      k = key(node.dataInputs[port]!);
    }
    return k;
  };
  const constUses = new Map<string, number>();
  for (const n of order) {
    if (consts.has(tensorName(n.name, 0)) || IDENTITY.has(n.op) || inputSet.has(n.name)) continue;
    for (const s of n.dataInputs) {
      const k = resolveAlias(s);
      if (consts.has(k)) constUses.set(k, (constUses.get(k) ?? 0) + 1);
    }
  }

  const tensorOf = new Map<string, LTensor>();
  const ops: LOp[] = [];
  const modelInputs: LTensor[] = inputs.map((name) => {
    const info = shapes.get(name);
    const node = graph.node(name);
    const dtype = info?.dtype && info.dtype !== 'invalid' ? info.dtype : node.attrs.optType('dtype');
    const t: LTensor = { name, type: tfliteType(dtype), shape: [...pinned[name]!] };
    tensorOf.set(tensorName(name, 0), t);
    return t;
  });

  const constTensor = (k: string): LTensor => {
    const have = tensorOf.get(k);
    if (have) return have;
    const { type, data } = dataOf(consts.get(k)!);
    const t: LTensor = { name: constNames.get(k) ?? parseInput(k).node, type, shape: [...consts.get(k)!.shape], data };
    const r = constRanges.get(k);
    if (r) t.range = r;
    tensorOf.set(k, t);
    return t;
  };
  const unsupported: Node[] = [];

  for (const n of order) {
    const k0 = tensorName(n.name, 0);
    if (inputSet.has(n.name) || consts.has(k0) || n.op === 'Const' || n.op === 'NoOp') continue;
    if (IDENTITY.has(n.op)) {
      const src = tensorOf.get(resolveAlias(n.dataInputs[0]!)) ?? (consts.has(resolveAlias(n.dataInputs[0]!)) ? constTensor(resolveAlias(n.dataInputs[0]!)) : undefined);
      if (src) tensorOf.set(k0, src);
      continue;
    }
    const rule = ruleFor(n);
    const output = (k = 0): LTensor => {
      const tk = tensorName(n.name, k);
      const have = tensorOf.get(tk);
      if (have) return have;
      const info = shapes.get(tk);
      const t: LTensor = { name: tk, type: tfliteType(info?.dtype), shape: info?.shape ? [...info.shape] : [] };
      if (!info?.shape) notes.push({ level: 'warning', node: n.name, message: `shape of ${tk} is unknown` });
      tensorOf.set(tk, t);
      return t;
    };
    const inputKey = (i: number) => resolveAlias(n.dataInputs[i]!);
    const input = (i: number): LTensor => {
      const k = inputKey(i);
      if (consts.has(k)) return constTensor(k);
      const t = tensorOf.get(k);
      if (!t) throw new GraphValidationError(n.name, `input ${i} ('${n.dataInputs[i]}') was not lowered`);
      return t;
    };
    if (!rule) {
      unsupported.push(n);
      // Outputs are made either way, so the lowering goes on and every unsupported op is listed at once.
      let count = 1;
      while (shapes.has(tensorName(n.name, count))) count++;
      const outs = Array.from({ length: count }, (_, k) => output(k));
      if (opts.allowCustomOps) ops.push({ code: 'CUSTOM', customCode: n.op, inputs: n.dataInputs.map((_, i) => input(i)), outputs: outs, node: n.name });
      continue;
    }
    const used = new Set<string>();
    const ctx: LowerCtx = {
      node: n,
      dataInputs: n.dataInputs.length,
      input,
      constant: (i) => consts.get(inputKey(i)),
      constName: (i) => constNames.get(inputKey(i)) ?? parseInput(inputKey(i)).node,
      constUses: (i) => constUses.get(inputKey(i)) ?? 0,
      output,
      constTensor(name, type, shape, data, role, from, channelAxis = 0) {
        let unique = name;
        for (let j = 1; used.has(unique); j++) unique = `${name}_${j}`;
        used.add(unique);
        const t: LTensor = { name: unique, type, shape, data, role };
        const r = from !== undefined ? constRanges.get(inputKey(from)) : undefined;
        if (r) t.range = r.perChannel ? { ...r, perChannel: { ...r.perChannel, axis: channelAxis } } : r;
        return t;
      },
      emit(op) {
        const full: LOp = { ...op, node: n.name };
        ops.push(full);
        return full;
      },
    };
    rule.lower(ctx);
  }
  if (unsupported.length && !opts.allowCustomOps) {
    const list = [...new Set(unsupported.map((u) => u.op))].sort();
    const first = unsupported[0]!;
    throw new UnsupportedOpError(first.op, first.name, `Some of the operators in the model are not supported by the standard TensorFlow Lite runtime. If you have a custom implementation for them you can disable this error with --allow_custom_ops. Here is a list of operators for which you will need custom implementations: ${list.join(', ')} (nodes: ${unsupported.slice(0, 5).map((u) => u.name).join(', ')}${unsupported.length > 5 ? ', …' : ''})`);
  }
  if (unsupported.length) notes.push({ level: 'warning', message: `custom ops written (need your own kernels): ${[...new Set(unsupported.map((u) => u.op))].sort().join(', ')}` });

  const modelOutputs = outputs.map((o) => {
    const k = resolveAlias(o);
    const t = tensorOf.get(k) ?? (consts.has(k) ? constTensor(k) : undefined);
    if (!t) throw new GraphValidationError(parseInput(o).node, 'output array was not lowered');
    // An Identity given as output keeps its name (TOCO renames the producer's array).
    if (t.name !== o && !modelInputs.includes(t) && !t.data) t.name = o;
    return t;
  });
  const g: LGraph = { ops, inputs: modelInputs, outputs: modelOutputs, notes };

  if (opts.reorderAcrossFakeQuant) resolveFakeQuants(g, false);
  identifyClips(g);
  foldReshapeIntoFc(g);
  identifyDilatedConv(g);
  fuseBinaryIntoAffine(g);
  fuseActivations(g);
  resolveFakeQuants(g, !!opts.keepFakeQuant);
  removeDeadOps(g);
  for (const bn of leftoverBatchNorms(g)) {
    notes.push({ level: 'warning', node: bn, message: `batch norm '${bn}' could not be folded into the preceding layer and stays as MUL/ADD; quantized, its constant operands get ranges from their own data, which costs accuracy` });
  }
  if (opts.float16Weights && opts.perChannelInt8Weights) throw new UsageError('float16 and int8 weights exclude each other');
  if (opts.float16Weights) toFloat16Weights(g);
  if (opts.perChannelInt8Weights) toInt8Weights(g);
  return g;
}

/** ResolveConstantFakeQuant: weights take their fake-quantized values; the range stays for the quantizer. */
function resolveConstantFakeQuant(n: Node, vals: CoreTensor[], notes: Note[]): { value: CoreTensor; range: TensorRange } {
  const a = n.attrs;
  const numBits = a.optInt('num_bits', 8);
  const narrowRange = a.optBool('narrow_range', false);
  const x = vals[0]!;
  const mins = n.op === 'FakeQuantWithMinMaxArgs' ? [a.optFloat('min', -6)] : vals[1]!.toNumbers();
  const maxs = n.op === 'FakeQuantWithMinMaxArgs' ? [a.optFloat('max', 6)] : vals[2]!.toNumbers();
  const src = x.toFloat32();
  const out = new Float32Array(src.length);
  if (mins.length === 1) out.set(fakeQuantValues(src, nudgeFakeQuant(mins[0]!, maxs[0]!, numBits, narrowRange)));
  else {
    const d = mins.length;
    const nudged = mins.map((m, c) => nudgeFakeQuant(m, maxs[c]!, numBits, narrowRange));
    const one = new Float32Array(1);
    for (let i = 0; i < src.length; i++) {
      one[0] = src[i]!;
      out[i] = fakeQuantValues(one, nudged[i % d]!)[0]!;
    }
  }
  const value = new Tensor('float32', [...x.shape], out);
  let range: TensorRange = { min: Math.min(...mins), max: Math.max(...maxs), numBits, narrowRange, source: n.name };
  if (mins.length > 1) range.perChannel = { min: mins, max: maxs, axis: x.shape.length - 1 };
  else range = forceZeroIn(range, n.name, notes);
  return { value, range };
}

/**
 * ReadArrayMinmaxAndNarrowRangeFromFakeQuant + DropFakeQuant: each activation FakeQuant gives its
 * range to its input and output arrays (only where none is set yet). It is then removed as TOCO
 * removes a pass-through op: the output array goes, unless it is a model output, in which case
 * the input array takes the output's name. With `keep` (float mode) it stays as FAKE_QUANT.
 */
function resolveFakeQuants(g: LGraph, keep: boolean): void {
  const subst = new Map<LTensor, LTensor>();
  let kept = 0;
  for (const op of g.ops) {
    if (op.code !== 'FAKE_QUANT') continue;
    const o = op.options!;
    const pc = op.perChannel;
    let range: TensorRange = { min: o.min as number, max: o.max as number, numBits: o.numBits as number, narrowRange: o.narrowRange as boolean, source: op.node };
    if (pc) range.perChannel = { ...pc, axis: op.inputs[0]!.shape.length - 1 };
    else range = forceZeroIn(range, op.node, g.notes);
    const x = op.inputs[0]!;
    const y = op.outputs[0]!;
    x.range ??= range;
    y.range ??= range;
    if (keep && !pc) {
      kept++;
      continue;
    }
    if (!g.outputs.includes(y)) {
      subst.set(y, x);
      op.dead = true;
    } else if (!g.inputs.includes(x) && !x.data && !g.outputs.includes(x)) {
      x.name = y.name;
      g.outputs = g.outputs.map((t) => (t === y ? x : t));
      op.dead = true;
    }
  }
  g.ops = g.ops.filter((op) => !op.dead);
  substitute(g, subst);
  if (kept) {
    g.notes.push({ level: 'warning', message: `${kept} FAKE_QUANT operation(s) were not converted. If running quantized make sure you are passing --inference_type=QUANTIZED_UINT8 and values for --std_values and --mean_values.` });
  }
}

/** GraphDef → LoweredModel (float TFLite model, ranges and roles by tensor index). */
export function lowerGraph(graph: Graph, opts: LowerOptions): LoweredModel {
  const g = lowerToOps(graph, opts);
  const { model, index, ops } = emitModel(g);
  const ranges = new Map<number, TensorRange>();
  const roles = new Map<number, 'weights' | 'bias'>();
  for (const [t, i] of index) {
    if (t.range) ranges.set(i, t.range);
    if (t.role) roles.set(i, t.role);
  }
  const sourceNode = new Map(ops.map((op, i) => [i, op.node]));
  return { model, ranges, roles, sourceNode, notes: g.notes };
}

