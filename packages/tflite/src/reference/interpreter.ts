/**
 * Runs a TFLite `Model` (the IR of ../model.ts) on the reference integer kernels: the bit-exact
 * oracle for quantized models (spec §4). Float32 enters and leaves only through QUANTIZE and
 * DEQUANTIZE; every other op runs on uint8/int8 tensors with int32 biases. Ops outside that set
 * give `E_UNSUPPORTED_OP` naming the operator and its output tensor.
 */
import { TfpassError, UnsupportedOpError, UsageError } from '@tfpass/core/errors';
import type { BuiltinOptions, Model, Operator, Subgraph, Tensor } from '../model.js';
import * as k from './kernels.js';
import { quantizeMultiplier } from './fixedpoint.js';

export type RefArray = Float32Array | Int32Array | Uint8Array | Int8Array | Int16Array | BigInt64Array;

const RANGES: Record<string, [number, number]> = { uint8: [0, 255], int8: [-128, 127], int16: [-32768, 32767] };
const ARRAY: Record<string, new (n: number) => RefArray> = {
  float32: Float32Array,
  int32: Int32Array,
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  int64: BigInt64Array,
};

export interface ReferenceResult {
  /** Output tensors of the subgraph, by name. */
  outputs: Record<string, RefArray>;
  /** Every tensor computed or fed (by index), when `keepAll` was asked for. */
  tensors?: (RefArray | undefined)[];
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Typed view of a constant buffer, copied so the element alignment is right. */
function constant(model: Model, t: Tensor): RefArray | undefined {
  const data = model.buffers[t.buffer]?.data;
  if (!t.buffer || !data || !data.length) return undefined;
  const Ctor = ARRAY[t.type];
  if (!Ctor) return undefined;
  const copy = data.slice();
  const bpe = (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  return new (Ctor as unknown as new (b: ArrayBuffer, o: number, n: number) => RefArray)(copy.buffer, 0, Math.floor(copy.length / bpe));
}

function sz(t: Tensor, what: string, op: string): k.ScaleZp {
  const q = t.quantization;
  const scale = q?.scale?.[0];
  if (scale === undefined) throw new TfpassError('E_GRAPH_FORMAT', `${op}: ${what} '${t.name}' (${t.type}) has no quantization parameters`);
  return { scale, zeroPoint: q?.zeroPoint?.[0] ?? 0 };
}

/** Run subgraph 0 of `model` on `feeds` (by input tensor name). */
export function runReference(model: Model, feeds: Record<string, RefArray>, opts: { keepAll?: boolean } = {}): ReferenceResult {
  const sg = model.subgraphs[0];
  if (!sg) throw new TfpassError('E_GRAPH_FORMAT', 'the model has no subgraph');
  const vals: (RefArray | undefined)[] = sg.tensors.map((t) => constant(model, t));
  for (const i of sg.inputs) {
    const t = sg.tensors[i]!;
    const v = feeds[t.name];
    if (!v) throw new UsageError(`input '${t.name}' (${t.type}[${t.shape.join(',')}]) is not fed`);
    if (v.length !== size(t.shape)) throw new UsageError(`input '${t.name}' has ${size(t.shape)} elements ([${t.shape.join(',')}]), got ${v.length}`);
    if (!(v instanceof ARRAY[t.type]!)) throw new UsageError(`input '${t.name}' is ${t.type}, got ${v.constructor.name}`);
    vals[i] = v;
  }
  sg.operators.forEach((op, n) => runOp(model, sg, op, n, vals));
  const outputs: Record<string, RefArray> = {};
  for (const i of sg.outputs) outputs[sg.tensors[i]!.name] = vals[i]!;
  return opts.keepAll ? { outputs, tensors: vals } : { outputs };
}

function runOp(model: Model, sg: Subgraph, op: Operator, n: number, vals: (RefArray | undefined)[]): void {
  const code = model.operatorCodes[op.opcodeIndex];
  const name = code?.builtin === 'CUSTOM' ? `CUSTOM(${code.customCode ?? ''})` : code?.builtin ?? `#${op.opcodeIndex}`;
  const outT = sg.tensors[op.outputs[0]!]!;
  const where = `operator #${n} ${name} -> '${outT.name}'`;
  const tin = (i: number) => (op.inputs[i] === undefined || op.inputs[i]! < 0 ? undefined : sg.tensors[op.inputs[i]!]);
  const vin = (i: number): RefArray => {
    const v = op.inputs[i]! >= 0 ? vals[op.inputs[i]!] : undefined;
    if (!v) throw new TfpassError('E_GRAPH_FORMAT', `${where}: input ${i} ('${tin(i)?.name}') has no value (not computed yet, not fed, no data)`);
    return v;
  };
  const opts = (op.builtinOptions ?? { type: 'NONE' }) as BuiltinOptions & Record<string, unknown>;
  const unsupported = (why: string): never => {
    throw new UnsupportedOpError(name, `operator #${n} -> ${outT.name}`, `${why} (reference kernels: ${SUPPORTED.join(', ')}, on uint8/int8)`);
  };
  const qr = RANGES[outT.type];
  const alloc = () => {
    // Shapes come from the file: refuse what would not fit rather than run out of memory.
    const n = size(outT.shape);
    if (!Number.isInteger(n) || n < 0 || n > MAX_ELEMENTS || outT.shape.some((d) => d < 0)) throw new TfpassError('E_GRAPH_FORMAT', `${where}: output shape [${outT.shape.join(',')}] is not a static shape the reference kernels can allocate`);
    return new ARRAY[outT.type]!(n);
  };
  const bad = (detail: string): never => {
    throw new TfpassError('E_GRAPH_FORMAT', `${where}: ${detail}`);
  };
  /** Conv/depthwise/pool output size must be what TFLite computes from the options. */
  const checkSpatial = (inShape: number[], kh: number, kw: number, g: k.ConvGeometry, outC: number) => {
    if (inShape.length !== 4 || outT.shape.length !== 4) bad(`needs 4-D NHWC input and output, got [${inShape.join(',')}] → [${outT.shape.join(',')}]`);
    const oh = k.convOut(inShape[1]!, kh, g.strideH, g.dilationH, g.padding).out;
    const ow = k.convOut(inShape[2]!, kw, g.strideW, g.dilationW, g.padding).out;
    const want = [inShape[0]!, oh, ow, outC];
    if (want.some((d, i) => d !== outT.shape[i])) bad(`output shape [${outT.shape.join(',')}] differs from [${want.join(',')}] (from input [${inShape.join(',')}], ${kh}×${kw} window, ${g.padding}, stride ${g.strideH}×${g.strideW})`);
  };
  const out = (v: RefArray) => (vals[op.outputs[0]!] = v);
  const ints = (v: RefArray) => v as k.Ints;
  const geometry = (): k.ConvGeometry => ({
    padding: (opts.padding as k.Padding) ?? 'SAME',
    strideH: (opts.strideH as number) ?? 1,
    strideW: (opts.strideW as number) ?? 1,
    dilationH: (opts.dilationHFactor as number) ?? 1,
    dilationW: (opts.dilationWFactor as number) ?? 1,
  });
  const affine = () => {
    const x = tin(0)!;
    const w = tin(1)!;
    const b = tin(2);
    if (!qr || !RANGES[x.type] || !RANGES[w.type]) unsupported(`${x.type} input, ${w.type} weights, ${outT.type} output`);
    const xq = sz(x, 'input', where);
    const oq = sz(outT, 'output', where);
    const ws = w.quantization?.scale ?? [];
    if (!ws.length) throw new TfpassError('E_GRAPH_FORMAT', `${where}: weights '${w.name}' have no scale`);
    const wzp = w.quantization?.zeroPoint?.[0] ?? 0;
    const requant: k.Requant = { multiplier: [], shift: [] };
    for (const s of ws) {
      // Kernels compute the multiplier in double from the float32 scales (PopulateConvolutionQuantizationParams).
      const m = quantizeMultiplier((xq.scale * s) / oq.scale);
      requant.multiplier.push(m.multiplier);
      requant.shift.push(m.shift);
    }
    const [actMin, actMax] = k.activationRange(opts.fusedActivationFunction as string | undefined, oq, qr![0], qr![1]);
    return {
      input: ints(vin(0)),
      inputShape: x.shape,
      inputOffset: -xq.zeroPoint,
      filter: ints(vin(1)),
      filterShape: w.shape,
      filterOffset: -wzp,
      bias: b ? (vin(2) as Int32Array) : undefined,
      outputOffset: oq.zeroPoint,
      requant,
      actMin,
      actMax,
    };
  };
  switch (name) {
    case 'CONV_2D': {
      const a = affine();
      const [oc, kh, kw, ic] = a.filterShape;
      if (a.filterShape.length !== 4 || ic !== a.inputShape[3]) bad(`filter [${a.filterShape.join(',')}] (OHWI) does not match input [${a.inputShape.join(',')}]`);
      if (a.bias && a.bias.length !== oc) bad(`bias has ${a.bias.length} values for ${oc} output channels`);
      if (a.requant.multiplier.length !== 1 && a.requant.multiplier.length !== oc) bad(`${a.requant.multiplier.length} weight scales for ${oc} output channels`);
      checkSpatial(a.inputShape, kh!, kw!, geometry(), oc!);
      const o = alloc();
      k.conv2d({ ...a, ...geometry() }, ints(o), outT.shape);
      return void out(o);
    }
    case 'DEPTHWISE_CONV_2D': {
      const a = affine();
      const [one, kh, kw, oc] = a.filterShape;
      if (a.filterShape.length !== 4 || one !== 1 || oc! % a.inputShape[3]! !== 0) bad(`filter [${a.filterShape.join(',')}] (1HWO) does not match input [${a.inputShape.join(',')}]`);
      if (a.bias && a.bias.length !== oc) bad(`bias has ${a.bias.length} values for ${oc} output channels`);
      if (a.requant.multiplier.length !== 1 && a.requant.multiplier.length !== oc) bad(`${a.requant.multiplier.length} weight scales for ${oc} output channels`);
      checkSpatial(a.inputShape, kh!, kw!, geometry(), oc!);
      const o = alloc();
      k.depthwiseConv2d({ ...a, ...geometry(), depthMultiplier: (opts.depthMultiplier as number) ?? 1 }, ints(o), outT.shape);
      return void out(o);
    }
    case 'FULLY_CONNECTED': {
      const a = affine();
      const [oc, depth] = a.filterShape;
      if (a.filterShape.length !== 2 || a.input.length % depth! !== 0) bad(`weights [${a.filterShape.join(',')}] do not divide input [${a.inputShape.join(',')}]`);
      if (a.bias && a.bias.length !== oc) bad(`bias has ${a.bias.length} values for ${oc} outputs`);
      if (size(outT.shape) !== (a.input.length / depth!) * oc!) bad(`output [${outT.shape.join(',')}] should hold ${(a.input.length / depth!) * oc!} values`);
      if (a.requant.multiplier.length !== 1 && a.requant.multiplier.length !== oc) bad(`${a.requant.multiplier.length} weight scales for ${oc} output channels`);
      const o = alloc();
      k.fullyConnected(a, ints(o));
      return void out(o);
    }
    case 'ADD':
    case 'SUB':
    case 'MUL': {
      const a = tin(0)!;
      const b = tin(1)!;
      if (!qr || a.type !== outT.type || b.type !== outT.type) unsupported(`${a.type} × ${b.type} → ${outT.type}`);
      const oq = sz(outT, 'output', where);
      const [lo, hi] = k.activationRange(opts.fusedActivationFunction as string | undefined, oq, qr![0], qr![1]);
      const o = alloc();
      const index = k.broadcastIndex(a.shape, b.shape, outT.shape);
      if (name === 'MUL') k.mul(ints(vin(0)), sz(a, 'input', where), ints(vin(1)), sz(b, 'input', where), oq, index, ints(o), lo, hi);
      else k.addSub(name === 'SUB', ints(vin(0)), sz(a, 'input', where), ints(vin(1)), sz(b, 'input', where), oq, index, ints(o), lo, hi);
      return void out(o);
    }
    case 'AVERAGE_POOL_2D':
    case 'MAX_POOL_2D': {
      const x = tin(0)!;
      if (!qr || x.type !== outT.type) unsupported(`${x.type} → ${outT.type}`);
      const [lo, hi] = k.activationRange(opts.fusedActivationFunction as string | undefined, sz(outT, 'output', where), qr![0], qr![1]);
      const o = alloc();
      const p: k.PoolParams = {
        padding: (opts.padding as k.Padding) ?? 'SAME',
        strideH: (opts.strideH as number) ?? 1,
        strideW: (opts.strideW as number) ?? 1,
        filterH: (opts.filterHeight as number) ?? 1,
        filterW: (opts.filterWidth as number) ?? 1,
        actMin: lo,
        actMax: hi,
      };
      checkSpatial(x.shape, p.filterH, p.filterW, { padding: p.padding, strideH: p.strideH, strideW: p.strideW, dilationH: 1, dilationW: 1 }, x.shape[3]!);
      k.pool(name === 'MAX_POOL_2D' ? 'max' : 'avg', ints(vin(0)), x.shape, p, ints(o), outT.shape);
      return void out(o);
    }
    case 'SOFTMAX': {
      const x = tin(0)!;
      if (!qr || !RANGES[x.type] || x.type !== outT.type || outT.type === 'int16') unsupported(`${x.type} → ${outT.type}`);
      const o = alloc();
      const depth = x.shape[x.shape.length - 1]!;
      k.softmax(ints(vin(0)), depth, sz(x, 'input', where).scale, (opts.beta as number) ?? 1, ints(o), qr![0], qr![1]);
      return void out(o);
    }
    case 'LOGISTIC': {
      const x = tin(0)!;
      if (!qr || x.type !== outT.type || outT.type === 'int16') unsupported(`${x.type} → ${outT.type}`);
      const o = alloc();
      k.logistic(ints(vin(0)), sz(x, 'input', where), ints(o), qr![0], qr![1]);
      return void out(o);
    }
    case 'TANH': {
      const x = tin(0)!;
      if (!qr || x.type !== outT.type || outT.type === 'int16') unsupported(`${x.type} → ${outT.type}`);
      const o = alloc();
      k.tanh(ints(vin(0)), sz(x, 'input', where), ints(o), outT.type === 'uint8' ? 128 : 0, qr![0], qr![1]);
      return void out(o);
    }
    case 'MEAN': {
      const x = tin(0)!;
      if (!qr || x.type !== outT.type) unsupported(`${x.type} → ${outT.type}`);
      const axes = Array.from(vin(1) as Int32Array, Number);
      const o = alloc();
      k.mean(ints(vin(0)), x.shape, axes, sz(x, 'input', where), sz(outT, 'output', where), ints(o), qr![0], qr![1]);
      return void out(o);
    }
    case 'QUANTIZE': {
      const x = tin(0)!;
      if (!qr) unsupported(`${x.type} → ${outT.type}`);
      const o = alloc();
      const oq = sz(outT, 'output', where);
      if (x.type === 'float32') k.quantize(vin(0) as Float32Array, oq, ints(o), qr![0], qr![1]);
      else if (RANGES[x.type]) k.requantize(ints(vin(0)), sz(x, 'input', where), oq, ints(o), qr![0], qr![1]);
      else unsupported(`${x.type} → ${outT.type}`);
      return void out(o);
    }
    case 'DEQUANTIZE': {
      const x = tin(0)!;
      if (!RANGES[x.type] || outT.type !== 'float32') unsupported(`${x.type} → ${outT.type}`);
      const o = new Float32Array(size(outT.shape));
      k.dequantize(ints(vin(0)), sz(x, 'input', where), o);
      return void out(o);
    }
    case 'RESHAPE':
    case 'SQUEEZE':
    case 'EXPAND_DIMS': {
      // Same bytes, new shape; quantized outputs share the input's params (spec §3.1/§3.2).
      const v = vin(0);
      if (v.length !== size(outT.shape)) throw new TfpassError('E_GRAPH_FORMAT', `${where}: ${v.length} elements cannot take shape [${outT.shape.join(',')}]`);
      return void out(v);
    }
    case 'CONCATENATION': {
      if (!qr) unsupported(`${outT.type} output`);
      const oq = sz(outT, 'output', where);
      const rank = outT.shape.length;
      const axis = (((opts.axis as number) ?? 0) + rank) % rank;
      const parts = op.inputs.map((_, i) => {
        const t = tin(i)!;
        if (t.type !== outT.type) unsupported(`${t.type} input, ${outT.type} output`);
        return { data: ints(vin(i)), shape: t.shape, q: sz(t, 'input', where) };
      });
      const o = alloc();
      k.concatenation(parts, axis, oq, ints(o), qr![0], qr![1]);
      const [lo, hi] = k.activationRange(opts.fusedActivationFunction as string | undefined, oq, qr![0], qr![1]);
      for (let i = 0; i < o.length; i++) o[i] = Math.min(hi, Math.max(lo, o[i] as number));
      return void out(o);
    }
    case 'MAXIMUM':
    case 'MINIMUM': {
      const a = tin(0)!;
      const b = tin(1)!;
      if (!qr || a.type !== outT.type || b.type !== outT.type) unsupported(`${a.type} × ${b.type} → ${outT.type}`);
      const o = alloc();
      k.maxMin(name === 'MAXIMUM' ? 'max' : 'min', ints(vin(0)), ints(vin(1)), k.broadcastIndex(a.shape, b.shape, outT.shape), ints(o));
      return void out(o);
    }
    case 'RELU':
    case 'RELU6':
    case 'RELU_N1_TO_1': {
      const x = tin(0)!;
      if (!qr || x.type !== outT.type) unsupported(`${x.type} → ${outT.type}`);
      const oq = sz(outT, 'output', where);
      const [lo, hi] = k.activationRange(name, oq, qr![0], qr![1]);
      const o = alloc();
      k.reluX(ints(vin(0)), sz(x, 'input', where), oq, lo, hi, ints(o));
      return void out(o);
    }
    case 'PAD':
    case 'PADV2': {
      const x = tin(0)!;
      if (!qr || x.type !== outT.type) unsupported(`${x.type} → ${outT.type}`);
      // Quantized PAD fills with the output zero point (real 0); PADV2 with its constant value.
      const value = name === 'PADV2' && tin(2) ? Number((vin(2) as ArrayLike<number>)[0]) : sz(outT, 'output', where).zeroPoint;
      const o = alloc();
      k.pad(ints(vin(0)), x.shape, vin(1) as Int32Array, value, ints(o), outT.shape);
      return void out(o);
    }
    default:
      unsupported('no reference kernel');
  }
}

/** 2^28 elements: far above any real activation, far below what would exhaust memory. */
const MAX_ELEMENTS = 2 ** 28;

const SUPPORTED = ['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'ADD', 'SUB', 'MUL', 'AVERAGE_POOL_2D', 'MAX_POOL_2D', 'SOFTMAX', 'LOGISTIC', 'TANH', 'MEAN', 'CONCATENATION', 'MAXIMUM', 'MINIMUM', 'RELU', 'RELU6', 'RELU_N1_TO_1', 'PAD', 'PADV2', 'QUANTIZE', 'DEQUANTIZE', 'RESHAPE', 'SQUEEZE', 'EXPAND_DIMS'];
