/**
 * `.tflite` bytes → the model IR. Every offset is checked before use (fb.ts), so a truncated
 * or corrupt file fails with one GraphFormatError naming the file and the byte offset.
 * Buffer data is a view into `bytes`, not a copy: keep `bytes` unchanged while the model lives.
 */
import { GraphFormatError } from '@tfpass/core/errors';
import { Source, type TableRef } from './fb.js';
import type {
  Buffer, Extra, Metadata, Model, Operator, OperatorCode, Quantization, RawUnion, SignatureDef, Subgraph, Tensor, TensorMap, TensorType,
} from './model.js';
import { enumName, readExtra, readFields, readScalarVector, readUnion, slotOf, unionMembers } from './schema.js';

export interface ReadOptions {
  /** Named in error messages. */
  file?: string;
}

export const FILE_IDENTIFIER = 'TFL3';

/** TFLite `TensorType` value → IR name; the index is the schema value. */
export const TENSOR_TYPES: readonly TensorType[] = [
  'float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64', 'int8',
  'float64', 'complex128', 'uint64', 'resource', 'variant', 'uint32', 'uint16', 'int4', 'bfloat16',
];

/** True when `bytes` carry the TFLite file identifier (bytes 4–7 = `TFL3`). */
export function isTflite(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[4] === 0x54 && bytes[5] === 0x46 && bytes[6] === 0x4c && bytes[7] === 0x33;
}

/** Field slots, looked up once from the schema data by name. */
const S = {
  model: slots('Model', ['version', 'operator_codes', 'subgraphs', 'description', 'buffers', 'metadata_buffer', 'metadata', 'signature_defs']),
  opcode: slots('OperatorCode', ['deprecated_builtin_code', 'custom_code', 'version', 'builtin_code']),
  subgraph: slots('SubGraph', ['tensors', 'inputs', 'outputs', 'operators', 'name']),
  tensor: slots('Tensor', ['shape', 'type', 'buffer', 'name', 'quantization', 'is_variable', 'shape_signature', 'has_rank']),
  quant: slots('QuantizationParameters', ['min', 'max', 'scale', 'zero_point', 'details', 'quantized_dimension']),
  op: slots('Operator', ['opcode_index', 'inputs', 'outputs', 'builtin_options', 'custom_options', 'custom_options_format', 'mutating_variable_inputs', 'intermediates']),
  opUnknownOptions: new Set(['opcode_index', 'inputs', 'outputs', 'custom_options', 'custom_options_format', 'mutating_variable_inputs', 'intermediates']),
  buffer: slots('Buffer', ['data', 'offset', 'size']),
  metadata: slots('Metadata', ['name', 'buffer']),
  sig: slots('SignatureDef', ['inputs', 'outputs', 'signature_key', 'subgraph_index']),
  tmap: slots('TensorMap', ['name', 'tensor_index']),
};

function slots<K extends string>(table: string, names: K[]): Record<K, number> & { modelled: ReadonlySet<string> } {
  const out = Object.fromEntries(names.map((n) => [n, slotOf(table, n)])) as Record<K, number>;
  return Object.assign(out, { modelled: new Set<string>(names) });
}

export function builtinName(code: number): string {
  return String(enumName('BuiltinOperator', code));
}

export function readTflite(bytes: Uint8Array, opts: ReadOptions = {}): Model {
  const src = new Source(bytes, opts.file);
  if (bytes.length < 8) src.fail(0, `file is ${bytes.length} bytes, too short for a TFLite flatbuffer (needs at least 8)`);
  if (!isTflite(bytes)) {
    const id = Array.from(bytes.subarray(4, 8), (c) => (c >= 32 && c < 127 ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`)).join('');
    src.fail(4, `file identifier is '${id}', not '${FILE_IDENTIFIER}': not a TFLite flatbuffer`);
  }
  const root = src.deref(0, 'root table');
  return new Reader(src).model(root);
}

class Reader {
  constructor(private readonly src: Source) {}

  private ints(t: TableRef, slot: number, what: string): number[] | undefined {
    const p = this.src.field(t, slot, 4);
    return p ? (readScalarVector(this.src, p, 'int', what) as number[]) : undefined;
  }

  private floats(t: TableRef, slot: number, what: string): number[] | undefined {
    const p = this.src.field(t, slot, 4);
    return p ? (readScalarVector(this.src, p, 'float', what) as number[]) : undefined;
  }

  private str(t: TableRef, slot: number, what: string): string | undefined {
    const p = this.src.field(t, slot, 4);
    return p ? this.src.string(p, what) : undefined;
  }

  private u32(t: TableRef, slot: number, def = 0): number {
    const p = this.src.field(t, slot, 4);
    return p ? this.src.u32(p) : def;
  }

  private i32(t: TableRef, slot: number, def = 0): number {
    const p = this.src.field(t, slot, 4);
    return p ? this.src.i32(p) : def;
  }

  private i8(t: TableRef, slot: number): number {
    const p = this.src.field(t, slot, 1);
    return p ? (this.src.scalar('byte', p) as number) : 0;
  }

  private bool(t: TableRef, slot: number): boolean | undefined {
    const p = this.src.field(t, slot, 1);
    return p ? this.src.u8(p) !== 0 : undefined;
  }

  private tables<T>(t: TableRef, slot: number, what: string, each: (pos: number, what: string) => T): T[] {
    const p = this.src.field(t, slot, 4);
    if (!p) return [];
    const { start, n } = this.src.vector(p, 4, what);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = each(this.src.deref(start + 4 * i, `${what}[${i}]`), `${what}[${i}]`);
    return out;
  }

  private extra(t: TableRef, table: string, what: string, modelled: ReadonlySet<string>): { extra?: Extra } {
    const extra = readExtra(this.src, t, table, what, modelled);
    return extra ? { extra } : {};
  }

  model(pos: number): Model {
    const t = this.src.table(pos, 'Model');
    const s = S.model;
    const metadataBuffer = this.ints(t, s.metadata_buffer, 'Model.metadata_buffer');
    const description = this.str(t, s.description, 'Model.description');
    const model: Model = {
      version: this.u32(t, s.version),
      operatorCodes: this.tables(t, s.operator_codes, 'operator_codes', (p, w) => this.opcode(p, w)),
      subgraphs: this.tables(t, s.subgraphs, 'subgraphs', (p, w) => this.subgraph(p, w)),
      ...(description !== undefined ? { description } : {}),
      buffers: this.tables(t, s.buffers, 'buffers', (p, w) => this.buffer(p, w)),
      ...(metadataBuffer ? { metadataBuffer } : {}),
      metadata: this.tables(t, s.metadata, 'metadata', (p, w) => this.metadata(p, w)),
      signatureDefs: this.tables(t, s.signature_defs, 'signature_defs', (p, w) => this.signatureDef(p, w)),
      ...this.extra(t, 'Model', 'Model', s.modelled),
    };
    return model;
  }

  private opcode(pos: number, what: string): OperatorCode {
    const t = this.src.table(pos, what);
    const s = S.opcode;
    // Files from before schema 3a have only the byte field; newer ones both (reader rule: max).
    const code = Math.max(this.i8(t, s.deprecated_builtin_code), this.i32(t, s.builtin_code));
    const customCode = this.str(t, s.custom_code, `${what}.custom_code`);
    return {
      builtin: builtinName(code),
      ...(customCode !== undefined ? { customCode } : {}),
      version: this.i32(t, s.version, 1),
      ...this.extra(t, 'OperatorCode', what, s.modelled),
    };
  }

  private subgraph(pos: number, what: string): Subgraph {
    const t = this.src.table(pos, what);
    const s = S.subgraph;
    const name = this.str(t, s.name, `${what}.name`);
    return {
      tensors: this.tables(t, s.tensors, `${what}.tensors`, (p, w) => this.tensor(p, w)),
      inputs: this.ints(t, s.inputs, `${what}.inputs`) ?? [],
      outputs: this.ints(t, s.outputs, `${what}.outputs`) ?? [],
      operators: this.tables(t, s.operators, `${what}.operators`, (p, w) => this.operator(p, w)),
      ...(name !== undefined ? { name } : {}),
      ...this.extra(t, 'SubGraph', what, s.modelled),
    };
  }

  private tensor(pos: number, what: string): Tensor {
    const t = this.src.table(pos, what);
    const s = S.tensor;
    const typeCode = this.i8(t, s.type);
    const type = TENSOR_TYPES[typeCode];
    if (!type) this.src.fail(this.src.field(t, s.type, 1), `${what}: tensor type ${typeCode} is not one tfpass knows`);
    const qp = this.src.field(t, s.quantization, 4);
    const out: Tensor = {
      name: this.str(t, s.name, `${what}.name`) ?? '',
      type,
      shape: this.ints(t, s.shape, `${what}.shape`) ?? [],
      buffer: this.u32(t, s.buffer),
    };
    if (qp) out.quantization = this.quantization(this.src.deref(qp, `${what}.quantization`), `${what}.quantization`);
    const isVariable = this.bool(t, s.is_variable);
    if (isVariable !== undefined) out.isVariable = isVariable;
    const shapeSignature = this.ints(t, s.shape_signature, `${what}.shape_signature`);
    if (shapeSignature) out.shapeSignature = shapeSignature;
    const hasRank = this.bool(t, s.has_rank);
    if (hasRank !== undefined) out.hasRank = hasRank;
    const extra = readExtra(this.src, t, 'Tensor', what, s.modelled);
    if (extra) out.extra = extra;
    return out;
  }

  private quantization(pos: number, what: string): Quantization {
    const t = this.src.table(pos, what);
    const s = S.quant;
    const q: Quantization = {};
    const min = this.floats(t, s.min, `${what}.min`);
    const max = this.floats(t, s.max, `${what}.max`);
    const scale = this.floats(t, s.scale, `${what}.scale`);
    const zp = this.src.field(t, s.zero_point, 4);
    if (min) q.min = min;
    if (max) q.max = max;
    if (scale) q.scale = scale;
    if (zp) q.zeroPoint = readScalarVector(this.src, zp, 'long', `${what}.zero_point`).map(Number);
    const dp = this.src.field(t, s.details, 4);
    if (dp) {
      const tp = this.src.field(t, s.details - 1, 1);
      const details = readUnion(this.src, 'QuantizationDetails', tp ? this.src.u8(tp) : 0, dp, `${what}.details`);
      if (details) q.details = toRawUnion(details);
    }
    const qd = this.src.field(t, s.quantized_dimension, 4);
    if (qd) q.quantizedDimension = this.src.i32(qd);
    const extra = readExtra(this.src, t, 'QuantizationParameters', what, s.modelled);
    if (extra) q.extra = extra;
    return q;
  }

  private operator(pos: number, what: string): Operator {
    const t = this.src.table(pos, what);
    const s = S.op;
    const op: Operator = {
      opcodeIndex: this.u32(t, s.opcode_index),
      inputs: this.ints(t, s.inputs, `${what}.inputs`) ?? [],
      outputs: this.ints(t, s.outputs, `${what}.outputs`) ?? [],
    };
    let modelled = s.modelled;
    const bp = this.src.field(t, s.builtin_options, 4);
    if (bp) {
      const tp = this.src.field(t, s.builtin_options - 1, 1);
      const type = tp ? this.src.u8(tp) : 0;
      const member = unionMembers('BuiltinOptions')[type - 1];
      const w = `${what}.builtin_options`;
      // A member newer than the schema stays in `extra` as a raw union the writer copies.
      if (member) op.builtinOptions = { type: member, ...readFields(this.src, this.src.table(this.src.deref(bp, w), w), member, `${w}<${member}>`, true) };
      else if (type) modelled = S.opUnknownOptions;
    }
    const cp = this.src.field(t, s.custom_options, 4);
    if (cp) {
      const { start, n } = this.src.vector(cp, 1, `${what}.custom_options`);
      op.customOptions = this.src.copy(start, n);
    }
    const cf = this.src.field(t, s.custom_options_format, 1);
    if (cf) op.customOptionsFormat = 'FLEXBUFFERS';
    const mp = this.src.field(t, s.mutating_variable_inputs, 4);
    if (mp) op.mutatingVariableInputs = readScalarVector(this.src, mp, 'bool', `${what}.mutating_variable_inputs`) as boolean[];
    const intermediates = this.ints(t, s.intermediates, `${what}.intermediates`);
    if (intermediates) op.intermediates = intermediates;
    Object.assign(op, this.extra(t, 'Operator', what, modelled));
    return op;
  }

  private buffer(pos: number, what: string): Buffer {
    const t = this.src.table(pos, what);
    const s = S.buffer;
    const b: Buffer = {};
    const dp = this.src.field(t, s.data, 4);
    if (dp) {
      const { start, n } = this.src.vector(dp, 1, `${what}.data`);
      b.data = this.src.bytes.subarray(start, start + n);
    }
    const op = this.src.field(t, s.offset, 8);
    if (op) b.offset = this.src.scalar('ulong', op) as bigint;
    const sp = this.src.field(t, s.size, 8);
    if (sp) b.size = this.src.scalar('ulong', sp) as bigint;
    Object.assign(b, this.extra(t, 'Buffer', what, s.modelled));
    return b;
  }

  private metadata(pos: number, what: string): Metadata {
    const t = this.src.table(pos, what);
    return { name: this.str(t, S.metadata.name, `${what}.name`) ?? '', buffer: this.u32(t, S.metadata.buffer), ...this.extra(t, 'Metadata', what, S.metadata.modelled) };
  }

  private tensorMap(pos: number, what: string): TensorMap {
    const t = this.src.table(pos, what);
    return { name: this.str(t, S.tmap.name, `${what}.name`) ?? '', tensorIndex: this.u32(t, S.tmap.tensor_index), ...this.extra(t, 'TensorMap', what, S.tmap.modelled) };
  }

  private signatureDef(pos: number, what: string): SignatureDef {
    const t = this.src.table(pos, what);
    const s = S.sig;
    return {
      inputs: this.tables(t, s.inputs, `${what}.inputs`, (p, w) => this.tensorMap(p, w)),
      outputs: this.tables(t, s.outputs, `${what}.outputs`, (p, w) => this.tensorMap(p, w)),
      signatureKey: this.str(t, s.signature_key, `${what}.signature_key`) ?? '',
      subgraphIndex: this.u32(t, s.subgraph_index),
      ...this.extra(t, 'SignatureDef', what, s.modelled),
    };
  }
}

function toRawUnion(v: unknown): RawUnion {
  const u = v as { type: string | number; raw?: unknown };
  if (typeof u.type === 'number') return u as RawUnion;
  // A member the schema knows: its code and the decoded table.
  return { type: unionMembers('QuantizationDetails').indexOf(u.type) + 1, raw: u };
}
