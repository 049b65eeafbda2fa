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
    return { name: t.name, type: t.type, shape: [...t.shape], buffer: buffers.length - 1, quantization: {} };
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
