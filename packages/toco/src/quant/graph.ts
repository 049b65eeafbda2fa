import type { Buffer, Model, Operator, Subgraph, Tensor } from '@tfpass/tflite';
import type { LoweredModel, Note, TensorRange } from '../lowered.js';

/**
 * A working copy of subgraph 0 with the indexes every quantization rule needs (producer and
 * consumers per tensor, constness), built once in O(tensors + edges).
 */
export class QuantGraph {
  readonly model: Model;
  readonly sg: Subgraph;
  readonly producer: Int32Array;
  readonly consumers: number[][];
  readonly ranges: Map<number, TensorRange>;
  readonly roles: Map<number, 'weights' | 'bias'>;
  readonly notes: Note[];
  readonly sourceNode: Map<number, string>;

  constructor(lowered: LoweredModel) {
    const src = lowered.model;
    const sg0 = src.subgraphs[0];
    if (!sg0) throw new Error('model has no subgraph');
    // Copy what quantization rewrites (tensors, operators, buffers, opcodes); data arrays are
    // replaced, never mutated, so they can be shared with the input model.
    const sg: Subgraph = {
      ...sg0,
      tensors: sg0.tensors.map((t) => ({ ...t, shape: [...t.shape] })),
      operators: sg0.operators.map((o) => ({ ...o, inputs: [...o.inputs], outputs: [...o.outputs], ...(o.builtinOptions ? { builtinOptions: { ...o.builtinOptions } } : {}) })),
      inputs: [...sg0.inputs],
      outputs: [...sg0.outputs],
    };
    this.model = {
      ...src,
      operatorCodes: src.operatorCodes.map((c) => ({ ...c })),
      buffers: src.buffers.map((b) => ({ ...b })),
      subgraphs: [sg, ...src.subgraphs.slice(1)],
    };
    this.sg = sg;
    this.ranges = new Map(lowered.ranges);
    this.roles = lowered.roles;
    this.sourceNode = lowered.sourceNode;
    this.notes = [...lowered.notes];
    this.producer = new Int32Array(sg.tensors.length).fill(-1);
    this.consumers = sg.tensors.map(() => []);
    this.reindex();
  }

  /** Rebuild producer/consumer indexes after operators were added or removed. */
  reindex(): void {
    const n = this.sg.tensors.length;
    if (this.producer.length !== n) {
      (this as { producer: Int32Array }).producer = new Int32Array(n);
      (this as { consumers: number[][] }).consumers = [];
    }
    this.producer.fill(-1);
    for (let t = 0; t < n; t++) this.consumers[t] = [];
    this.sg.operators.forEach((op, i) => {
      for (const t of op.outputs) if (t >= 0) this.producer[t] = i;
      for (const t of op.inputs) if (t >= 0) this.consumers[t]!.push(i);
    });
  }

  tensor(i: number): Tensor {
    return this.sg.tensors[i]!;
  }

  builtin(op: Operator): string {
    return this.model.operatorCodes[op.opcodeIndex]?.builtin ?? 'UNKNOWN';
  }

  isConst(i: number): boolean {
    const b = this.model.buffers[this.tensor(i).buffer];
    return !!b?.data && b.data.length > 0;
  }

  isFloat(i: number): boolean {
    return this.tensor(i).type === 'float32';
  }

  /** Float activations and constants: the tensors quantization gives params. */
  isQuantizable(i: number): boolean {
    return i >= 0 && this.isFloat(i);
  }

  floatData(i: number): Float32Array {
    const d = this.model.buffers[this.tensor(i).buffer]!.data!;
    // Copy: the buffer's bytes need not be 4-byte aligned.
    return new Float32Array(d.slice().buffer, 0, d.length >> 2);
  }

  setData(i: number, bytes: Uint8Array): void {
    const t = this.tensor(i);
    const buf: Buffer = { data: bytes };
    this.model.buffers[t.buffer] = buf;
  }

  /** Name used in messages: the tensor's name and, when known, the TF node it came from. */
  describe(i: number): string {
    return this.tensor(i).name;
  }

  /** The op that produced tensor `i`, as TOCO names it in messages (its output array). */
  opName(opIndex: number): string {
    const op = this.sg.operators[opIndex]!;
    return this.tensor(op.outputs[0]!).name;
  }

  addTensor(t: Tensor): number {
    this.sg.tensors.push(t);
    return this.sg.tensors.length - 1;
  }

  opcode(builtin: string, version: number): number {
    const codes = this.model.operatorCodes;
    let i = codes.findIndex((c) => c.builtin === builtin && c.version === version && c.customCode === undefined);
    if (i < 0) {
      codes.push({ builtin, version });
      i = codes.length - 1;
    }
    return i;
  }

  /**
   * Give each operator the version it needs, then rebuild the opcode table in first-use order
   * (one entry per builtin/custom code and version), as the converters write it.
   */
  setVersions(version: (op: Operator, builtin: string) => number | undefined): void {
    const old = this.model.operatorCodes;
    const codes: typeof old = [];
    const key = new Map<string, number>();
    for (const op of this.sg.operators) {
      const c = old[op.opcodeIndex]!;
      const v = version(op, c.builtin) ?? c.version;
      const k = `${c.builtin}\u0000${c.customCode ?? ''}\u0000${v}`;
      let idx = key.get(k);
      if (idx === undefined) {
        idx = codes.length;
        codes.push({ ...c, version: v });
        key.set(k, idx);
      }
      op.opcodeIndex = idx;
    }
    // Other subgraphs keep their codes (quantization only touches subgraph 0).
    for (const sg of this.model.subgraphs.slice(1)) {
      for (const op of sg.operators) {
        const c = old[op.opcodeIndex]!;
        const k = `${c.builtin}\u0000${c.customCode ?? ''}\u0000${c.version}`;
        let idx = key.get(k);
        if (idx === undefined) {
          idx = codes.length;
          codes.push({ ...c });
          key.set(k, idx);
        }
        op.opcodeIndex = idx;
      }
    }
    this.model.operatorCodes = codes;
  }
}

export function int32Bytes(v: Int32Array): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setInt32(i * 4, v[i]!, true);
  return out;
}

export function uint8Bytes(v: readonly number[]): Uint8Array {
  return Uint8Array.from(v);
}

export function int8Bytes(v: readonly number[]): Uint8Array {
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! & 0xff;
  return out;
}
