/**
 * The converter's working form between the GraphDef and the flatbuffer IR: TFLite operators on
 * tensor objects. Ops hold tensor objects, not names, so a fusion that hands an op the name of
 * the op it swallowed (TOCO's rule: the fused op takes the last op's output name) is one field
 * write, and `emit.ts` numbers the tensors at the end.
 */
import type { BuiltinOptions, TensorType } from '@tfpass/tflite';
import type { Note, TensorRange } from './lowered.js';

export type Data = Float32Array | Int32Array | Uint8Array | Int8Array | Uint16Array | BigInt64Array;

export interface LTensor {
  name: string;
  type: TensorType;
  shape: number[];
  /** Constant contents (row-major); absent for activations. */
  data?: Data;
  range?: TensorRange;
  role?: 'weights' | 'bias';
  /** Affine params of a quantized constant (weights-only int8 storage). */
  quant?: { scale: number[]; zeroPoint: number[]; axis?: number };
}

export interface LOp {
  /** TFLite builtin name (`CONV_2D`) or `CUSTOM`. */
  code: string;
  customCode?: string;
  /** null = an omitted optional input. */
  inputs: (LTensor | null)[];
  outputs: LTensor[];
  options?: BuiltinOptions;
  /** The TF node it came from (first of a fused group), for messages. */
  node: string;
  /** Lowered from a FusedBatchNorm (its MUL/ADD left over when it could not be folded). */
  fromBatchNorm?: boolean;
  /** FAKE_QUANT from a per-channel FakeQuant (its options hold only the overall min/max). */
  perChannel?: { min: number[]; max: number[] };
  dead?: boolean;
}

export interface LGraph {
  ops: LOp[];
  inputs: LTensor[];
  outputs: LTensor[];
  notes: Note[];
}

/** Consumers of every tensor, for one fusion sweep (ops are only marked dead during a sweep). */
export function consumers(g: LGraph): Map<LTensor, LOp[]> {
  const m = new Map<LTensor, LOp[]>();
  for (const op of g.ops) {
    if (op.dead) continue;
    for (const t of op.inputs) {
      if (!t) continue;
      const l = m.get(t);
      if (l) l.push(op);
      else m.set(t, [op]);
    }
  }
  return m;
}

export function producers(g: LGraph): Map<LTensor, LOp> {
  const m = new Map<LTensor, LOp>();
  for (const op of g.ops) if (!op.dead) for (const t of op.outputs) m.set(t, op);
  return m;
}

export function sweep(g: LGraph): void {
  g.ops = g.ops.filter((o) => !o.dead);
}

export function replaceInput(op: LOp, from: LTensor, to: LTensor): void {
  op.inputs = op.inputs.map((t) => (t === from ? to : t));
}
