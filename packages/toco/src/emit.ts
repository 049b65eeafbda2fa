/**
 * Lowered ops → the TFLite model IR, numbered as TOCO numbers them: tensors by sorted name
 * (spec §1.3.5), one buffer per tensor after the empty buffer 0, operator codes in ascending
 * builtin code then custom code then version (§1.3.6), `min_runtime_version` metadata (§1.5).
 */
import type { Model, OperatorCode, Tensor as TfliteTensor, Buffer as TfliteBuffer } from '@tfpass/tflite';
import { float32ToHalfBits } from '@tfpass/core';
import type { LGraph, LOp, LTensor, Data } from './ir.js';
import { consumers } from './ir.js';
import { BUILTIN_CODES, VERSIONS, minRuntimeVersion } from './rules.js';

export interface Emitted {
  model: Model;
  /** Index in subgraph 0 of every lowered tensor. */
  index: Map<LTensor, number>;
  /** The lowered op behind each operator, by position. */
  ops: LOp[];
}

function bytesOf(d: Data): Uint8Array {
  // A view: the tensors are the converter's own, and the writer copies into the flatbuffer.
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Distinct names: TOCO arrays are unique by construction; ours can collide when two layers share weights. */
function uniqueNames(tensors: LTensor[]): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    let name = t.name;
    for (let k = 1; seen.has(name); k++) name = `${t.name}_${k}`;
    t.name = name;
    seen.add(name);
  }
}

/**
 * float16 weights (`--post_training_quantize --quantize_to_float16`, spec §3.2): every constant
 * float32 op input becomes FLOAT16 under its own name, and a DEQUANTIZE to `<name>_dequantize`
 * (float32) is inserted before its first consumer.
 */
export function toFloat16Weights(g: LGraph, opts: { biases?: boolean } = {}): void {
  const cons = consumers(g);
  const done = new Map<LTensor, LTensor>();
  const ops: LOp[] = [];
  for (const op of g.ops) {
    for (const t of op.inputs) {
      if (!t?.data || t.type !== 'float32' || done.has(t) || !cons.get(t)?.length || (t.role === 'bias' && !opts.biases)) continue;
      const f32 = { name: t.name, role: t.role };
      t.type = 'float16';
      t.data = float32ToHalfBits(t.data as Float32Array);
      const deq: LTensor = { name: `${f32.name}_dequantize`, type: 'float32', shape: [...t.shape], role: f32.role };
      done.set(t, deq);
      ops.push({ code: 'DEQUANTIZE', inputs: [t], outputs: [deq], node: op.node });
    }
    op.inputs = op.inputs.map((t) => (t && done.has(t) && op.code !== 'DEQUANTIZE' ? done.get(t)! : t));
    ops.push(op);
  }
  g.ops = ops;
}

/** TF's `kWeightsMinNumElementsDefault`: smaller weights are not worth quantizing. */
export const WEIGHTS_MIN_ELEMENTS = 1024;

/** Output-channel axis of a layer's weights in TFLite layout (OHWI, [1,H,W,C·M], [out,in]). */
const CHANNEL_AXIS: Record<string, number> = { CONV_2D: 0, DEPTHWISE_CONV_2D: 3, FULLY_CONNECTED: 0 };

/**
 * Weights-only int8 (`--post_training_quantize` without float16): each weight tensor of at least
 * 1024 elements becomes int8, symmetric (zero point 0, scale max|w|/127), behind a DEQUANTIZE to
 * `<name>_dequantize`. Layer weights get one scale per output channel (DEQUANTIZE v5), other
 * weights one per tensor (v2). TF 1.15 instead quantizes per tensor and feeds the int8 weights to
 * "hybrid" CONV_2D/FULLY_CONNECTED kernels that also quantize activations on the fly; on
 * BN-folded MobileNets per-tensor scales wipe out the small channels (measured: max error 5.6 on
 * an output range of 6), so we keep float arithmetic and per-channel scales.
 */
export function toInt8Weights(g: LGraph): void {
  const done = new Map<LTensor, LTensor>();
  const ops: LOp[] = [];
  for (const op of g.ops) {
    for (const t of op.inputs) {
      if (!t?.data || t.type !== 'float32' || t.role !== 'weights' || done.has(t) || t.data.length < WEIGHTS_MIN_ELEMENTS) continue;
      const w = t.data as Float32Array;
      const axis = CHANNEL_AXIS[op.code];
      const channels = axis === undefined ? 1 : t.shape[axis]!;
      // Row-major: channel of element i is floor(i / inner) % channels.
      const inner = axis === undefined ? w.length : t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const max = new Float64Array(channels);
      for (let i = 0; i < w.length; i++) {
        const c = Math.floor(i / inner) % channels;
        max[c] = Math.max(max[c]!, Math.abs(w[i]!));
      }
      const scale = Array.from(max, (m) => Math.fround(m > 0 ? m / 127 : 1));
      const q = new Int8Array(w.length);
      for (let i = 0; i < w.length; i++) q[i] = Math.round(w[i]! / scale[Math.floor(i / inner) % channels]!);
      const deq: LTensor = { name: `${t.name}_dequantize`, type: 'float32', shape: [...t.shape], role: 'weights' };
      t.type = 'int8';
      t.data = q;
      t.quant = { scale, zeroPoint: scale.map(() => 0), ...(axis !== undefined ? { axis } : {}) };
      done.set(t, deq);
      ops.push({ code: 'DEQUANTIZE', inputs: [t], outputs: [deq], node: op.node });
    }
    if (op.code !== 'DEQUANTIZE') op.inputs = op.inputs.map((t) => (t && done.has(t) ? done.get(t)! : t));
    ops.push(op);
  }
  g.ops = ops;
}

export function emitModel(g: LGraph, opts: { description?: string } = {}): Emitted {
  const set = new Set<LTensor>([...g.inputs, ...g.outputs]);
  for (const op of g.ops) for (const t of [...op.inputs, ...op.outputs]) if (t) set.add(t);
  const tensors = [...set];
  uniqueNames(tensors);
  tensors.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const index = new Map(tensors.map((t, i) => [t, i]));

  const buffers: TfliteBuffer[] = [{}];
  const out: TfliteTensor[] = tensors.map((t) => {
    buffers.push(t.data ? { data: bytesOf(t.data) } : {});
    return { name: t.name, type: t.type, shape: [...t.shape], buffer: buffers.length - 1, quantization: t.quant ? { scale: [...t.quant.scale], zeroPoint: [...t.quant.zeroPoint], ...(t.quant.axis !== undefined ? { quantizedDimension: t.quant.axis } : {}) } : {} };
  });

  const keyOf = (op: LOp, version: number) => `${op.code}\u0000${op.customCode ?? ''}\u0000${version}`;
  const versions = g.ops.map((op) => VERSIONS[op.code]?.(op) ?? 1);
  const codes = new Map<string, OperatorCode>();
  g.ops.forEach((op, i) => {
    const k = keyOf(op, versions[i]!);
    if (!codes.has(k)) codes.set(k, { builtin: op.code, version: versions[i]!, ...(op.customCode ? { customCode: op.customCode } : {}) });
  });
  const code = (c: OperatorCode) => BUILTIN_CODES[c.builtin] ?? 0;
  const operatorCodes = [...codes.values()].sort((a, b) => code(a) - code(b) || (a.customCode ?? '').localeCompare(b.customCode ?? '') || a.version - b.version);
  const codeIndex = new Map(operatorCodes.map((c, i) => [`${c.builtin}\u0000${c.customCode ?? ''}\u0000${c.version}`, i]));

  const operators = g.ops.map((op, i) => ({
    opcodeIndex: codeIndex.get(keyOf(op, versions[i]!))!,
    inputs: op.inputs.map((t) => (t ? index.get(t)! : -1)),
    outputs: op.outputs.map((t) => index.get(t)!),
    ...(op.options ? { builtinOptions: op.options } : {}),
  }));

  const metadata = [];
  const runtime = minRuntimeVersion(operatorCodes);
  if (runtime) {
    buffers.push({ data: new TextEncoder().encode(runtime) });
    metadata.push({ name: 'min_runtime_version', buffer: buffers.length - 1 });
  }
  const model: Model = {
    version: 3,
    operatorCodes,
    subgraphs: [{ tensors: out, inputs: g.inputs.map((t) => index.get(t)!), outputs: g.outputs.map((t) => index.get(t)!), operators }],
    description: opts.description ?? 'TOCO Converted.',
    buffers,
    metadata,
    signatureDefs: [],
  };
  return { model, index, ops: g.ops };
}
