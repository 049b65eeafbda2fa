import type { BuiltinOptions, Model, Tensor } from '@tfpass/tflite';
import type { LoweredModel, TensorRange } from '../lowered.js';

/** A small float model for rule tests: tensors (float activations, float or int32 constants) and ops by builtin name. */
export interface TinySpec {
  tensors: { name: string; shape: number[]; float?: Float32Array; int32?: number[] }[];
  ops: { op: string; inputs: number[]; outputs: number[]; options?: BuiltinOptions }[];
  inputs: number[];
  outputs: number[];
  /** [min, max] per tensor index (as FakeQuants would give). */
  ranges?: Record<number, [number, number] | TensorRange>;
  roles?: Record<number, 'weights' | 'bias'>;
}

export function tinyModel(spec: TinySpec): LoweredModel {
  const buffers: Model['buffers'] = [{}];
  const tensors: Tensor[] = spec.tensors.map((t) => {
    let data: Uint8Array | undefined;
    if (t.float) data = new Uint8Array(t.float.buffer.slice(t.float.byteOffset, t.float.byteOffset + t.float.byteLength));
    if (t.int32) data = new Uint8Array(Int32Array.from(t.int32).buffer);
    buffers.push(data ? { data } : {});
    return { name: t.name, type: t.int32 ? 'int32' : 'float32', shape: t.shape, buffer: buffers.length - 1 };
  });
  const codes: Model['operatorCodes'] = [];
  const code = (b: string) => {
    let i = codes.findIndex((c) => c.builtin === b);
    if (i < 0) i = codes.push({ builtin: b, version: 1 }) - 1;
    return i;
  };
  const operators = spec.ops.map((o) => ({ opcodeIndex: code(o.op), inputs: o.inputs, outputs: o.outputs, ...(o.options ? { builtinOptions: o.options } : {}) }));
  const model: Model = { version: 3, operatorCodes: codes, subgraphs: [{ tensors, inputs: spec.inputs, outputs: spec.outputs, operators }], buffers, metadata: [], signatureDefs: [] };
  const ranges = new Map<number, TensorRange>();
  for (const [k, r] of Object.entries(spec.ranges ?? {})) {
    ranges.set(Number(k), Array.isArray(r) ? { min: r[0], max: r[1], numBits: 8, narrowRange: false, source: `fq_${k}` } : r);
  }
  return { model, ranges, roles: new Map(Object.entries(spec.roles ?? {}).map(([k, v]) => [Number(k), v])), sourceNode: new Map(), notes: [] };
}
