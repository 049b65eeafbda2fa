/**
 * The model IR → `.tflite` bytes, following the rules the TFLite runtime enforces (spec §1.3):
 * - buffer 0 is the empty sentinel (an IR whose buffer 0 has data is refused);
 * - a buffer without data gets NO `data` field (a present empty vector is read as a constant and
 *   makes the interpreter reject the tensor);
 * - non-empty buffer data is 16-byte aligned in the file (`force_align: 16`, which neither TOCO
 *   nor flatc's TS builder honours);
 * - file identifier `TFL3`;
 * - OperatorCode: `deprecated_builtin_code = min(code, 127)` and `builtin_code = code`, both.
 * Scalars equal to their schema default are not stored (as every flatbuffers builder does).
 */
import { TfpassError } from '@tfpass/core/errors';
import { Builder } from './fb.js';
import type { Buffer, Metadata, Model, Operator, OperatorCode, Quantization, RawUnion, SignatureDef, Subgraph, Tensor, TensorMap } from './model.js';
import { FILE_IDENTIFIER, TENSOR_TYPES } from './read.js';
import { enumValue, prepareFields, RefPlacer, slotOf, unionMembers, writeTable, type SourceRef } from './schema.js';

const PLACEHOLDER_FOR_GREATER_OP_CODES = 127;

function slot(table: string) {
  return (field: string) => slotOf(table, field);
}
const M = slot('Model');
const OC = slot('OperatorCode');
const SG = slot('SubGraph');
const T = slot('Tensor');
const Q = slot('QuantizationParameters');
const OP = slot('Operator');
const B = slot('Buffer');
const MD = slot('Metadata');
const SD = slot('SignatureDef');
const TM = slot('TensorMap');

export function writeTflite(model: Model): Uint8Array {
  try {
    return new Writer(model).write();
  } catch (e) {
    if (e instanceof TfpassError) throw e;
    if (e instanceof RangeError || e instanceof TypeError) {
      throw new TfpassError('E_GRAPH_VALIDATION', `cannot write the TFLite model: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

class Writer {
  private readonly b: Builder;
  private readonly refs: RefPlacer;

  constructor(private readonly model: Model) {
    // Size the builder up front: growing doubles the buffer and copies it, which for a model
    // of large weights costs more than the whole write.
    let size = 64 * 1024;
    for (const buf of model.buffers) size += (buf.data?.length ?? 0) + 48;
    for (const sg of model.subgraphs) {
      for (const t of sg.tensors) {
        const q = t.quantization;
        size += 96 + 3 * t.name.length + 4 * (t.shape.length + (t.shapeSignature?.length ?? 0));
        if (q) size += 4 * ((q.min?.length ?? 0) + (q.max?.length ?? 0) + (q.scale?.length ?? 0)) + 8 * (q.zeroPoint?.length ?? 0) + 32;
      }
      for (const op of sg.operators) size += 160 + 4 * (op.inputs.length + op.outputs.length) + (op.customOptions?.length ?? 0);
    }
    this.b = new Builder(size);
    this.refs = new RefPlacer(this.b);
  }

  private ints(v: readonly number[]): number {
    return this.b.scalarVector('int', v);
  }

  write(): Uint8Array {
    const m = this.model;
    const b = this.b;
    if (m.buffers[0]?.data?.length) {
      throw new TfpassError('E_GRAPH_VALIDATION', 'buffer 0 must be empty (it is the sentinel every tensor without data points at)');
    }
    this.refs.prepare(refRoots(m));
    // Buffers first: they end up last in the file, after all the small tables.
    const buffers = b.offsetVector(m.buffers.map((x) => this.buffer(x)));
    const opcodes = b.offsetVector(m.operatorCodes.map((x, i) => this.opcode(x, i)));
    const subgraphs = b.offsetVector(m.subgraphs.map((x, i) => this.subgraph(x, i)));
    const description = m.description !== undefined ? b.string(m.description) : 0;
    const metadataBuffer = m.metadataBuffer ? this.ints(m.metadataBuffer) : 0;
    const metadata = m.metadata.length ? b.offsetVector(m.metadata.map((x) => this.metadata(x))) : 0;
    const sigs = m.signatureDefs.length ? b.offsetVector(m.signatureDefs.map((x) => this.signatureDef(x))) : 0;
    const rest = prepareFields(b, 'Model', m.extra ? { extra: m.extra } : undefined, this.refs);
    b.startTable();
    rest();
    b.scalarField(M('version'), 'uint', m.version);
    b.offsetField(M('operator_codes'), opcodes);
    b.offsetField(M('subgraphs'), subgraphs);
    if (description) b.offsetField(M('description'), description);
    b.offsetField(M('buffers'), buffers);
    if (metadataBuffer) b.offsetField(M('metadata_buffer'), metadataBuffer);
    if (metadata) b.offsetField(M('metadata'), metadata);
    if (sigs) b.offsetField(M('signature_defs'), sigs);
    const out = b.finish(b.endTable(), FILE_IDENTIFIER);
    // The output is a view on the builder's buffer; copy only when that would hide a lot of slack.
    return out.byteLength >= out.buffer.byteLength * 0.75 ? out : out.slice();
  }

  private buffer(x: Buffer): number {
    const b = this.b;
    const data = x.data?.length ? b.bytes(x.data, 16) : 0;
    const rest = prepareFields(b, 'Buffer', x.extra ? { extra: x.extra } : undefined, this.refs);
    b.startTable();
    rest();
    if (data) b.offsetField(B('data'), data);
    if (x.offset !== undefined && x.offset !== 0n) b.scalarField(B('offset'), 'ulong', x.offset);
    if (x.size !== undefined && x.size !== 0n) b.scalarField(B('size'), 'ulong', x.size);
    return b.endTable();
  }

  private opcode(x: OperatorCode, i: number): number {
    const b = this.b;
    // A code newer than the schema reads back as its number ('210'); write it as it was.
    const code = /^\d+$/.test(x.builtin) ? Number(x.builtin) : enumValue('BuiltinOperator', x.builtin, `operator_codes[${i}].builtin`);
    const custom = x.customCode !== undefined ? b.string(x.customCode) : 0;
    const rest = prepareFields(b, 'OperatorCode', x.extra ? { extra: x.extra } : undefined, this.refs);
    b.startTable();
    rest();
    if (custom) b.offsetField(OC('custom_code'), custom);
    if (code) b.scalarField(OC('builtin_code'), 'int', code);
    if (x.version !== 1) b.scalarField(OC('version'), 'int', x.version);
    const dep = Math.min(code, PLACEHOLDER_FOR_GREATER_OP_CODES);
    if (dep) b.scalarField(OC('deprecated_builtin_code'), 'byte', dep);
    return b.endTable();
  }

  private subgraph(x: Subgraph, i: number): number {
    const b = this.b;
    const tensors = b.offsetVector(x.tensors.map((t, j) => this.tensor(t, `subgraphs[${i}].tensors[${j}]`)));
    const inputs = this.ints(x.inputs);
    const outputs = this.ints(x.outputs);
    const ops = b.offsetVector(x.operators.map((o, j) => this.operator(o, `subgraphs[${i}].operators[${j}]`)));
    const name = x.name !== undefined ? b.string(x.name) : 0;
    const rest = prepareFields(b, 'SubGraph', x.extra ? { extra: x.extra } : undefined, this.refs);
    b.startTable();
    rest();
    b.offsetField(SG('tensors'), tensors);
    b.offsetField(SG('inputs'), inputs);
    b.offsetField(SG('outputs'), outputs);
    b.offsetField(SG('operators'), ops);
    if (name) b.offsetField(SG('name'), name);
    return b.endTable();
  }

  private tensor(x: Tensor, what: string): number {
    const b = this.b;
    const type = TENSOR_TYPES.indexOf(x.type);
    if (type < 0) throw new RangeError(`${what}: unknown tensor type '${x.type}'`);
    const shape = this.ints(x.shape);
    const name = b.string(x.name);
    const quant = x.quantization ? this.quantization(x.quantization) : 0;
    const sig = x.shapeSignature ? this.ints(x.shapeSignature) : 0;
    const rest = prepareFields(b, 'Tensor', x.extra ? { extra: x.extra } : undefined, this.refs);
    b.startTable();
    rest();
    b.offsetField(T('shape'), shape);
    if (x.buffer) b.scalarField(T('buffer'), 'uint', x.buffer);
    b.offsetField(T('name'), name);
    if (quant) b.offsetField(T('quantization'), quant);
    if (sig) b.offsetField(T('shape_signature'), sig);
    if (type) b.scalarField(T('type'), 'byte', type);
    if (x.isVariable) b.scalarField(T('is_variable'), 'bool', true);
    if (x.hasRank) b.scalarField(T('has_rank'), 'bool', true);
    return b.endTable();
  }

  private quantization(q: Quantization): number {
    const b = this.b;
    const min = q.min ? b.scalarVector('float', q.min) : 0;
    const max = q.max ? b.scalarVector('float', q.max) : 0;
    const scale = q.scale ? b.scalarVector('float', q.scale) : 0;
    const zp = q.zeroPoint ? b.scalarVector('long', q.zeroPoint) : 0;
    const details = q.details ? this.details(q.details) : undefined;
    const rest = prepareFields(b, 'QuantizationParameters', q.extra ? { extra: q.extra } : undefined, this.refs);
    b.startTable();
    rest();
    if (min) b.offsetField(Q('min'), min);
    if (max) b.offsetField(Q('max'), max);
    if (scale) b.offsetField(Q('scale'), scale);
    if (zp) b.offsetField(Q('zero_point'), zp);
    if (details) b.offsetField(Q('details'), details.offset);
    if (q.quantizedDimension) b.scalarField(Q('quantized_dimension'), 'int', q.quantizedDimension);
    if (details) b.scalarField(Q('details') - 1, 'ubyte', details.type);
    return b.endTable();
  }

  private details(u: RawUnion): { type: number; offset: number } {
    const raw = u.raw as Record<string, unknown> & Partial<SourceRef>;
    if (raw.bytes instanceof Uint8Array) return { type: u.type, offset: this.refs.offsetOf(raw as SourceRef) };
    const member = unionMembers('QuantizationDetails')[u.type - 1];
    if (!member) throw new RangeError(`quantization details: union type ${u.type} has no decoded table`);
    return { type: u.type, offset: writeTable(this.b, member, raw, this.refs) };
  }

  private operator(x: Operator, what: string): number {
    const b = this.b;
    const inputs = this.ints(x.inputs);
    const outputs = this.ints(x.outputs);
    let options: { type: number; offset: number } | undefined;
    if (x.builtinOptions) {
      const type = unionMembers('BuiltinOptions').indexOf(x.builtinOptions.type) + 1;
      if (!type) throw new RangeError(`${what}: '${x.builtinOptions.type}' is not a BuiltinOptions member`);
      options = { type, offset: writeTable(b, x.builtinOptions.type, x.builtinOptions, this.refs, `${what}.builtin_options`) };
    }
    const custom = x.customOptions ? b.bytes(x.customOptions, 1) : 0;
    const mutating = x.mutatingVariableInputs ? b.scalarVector('bool', x.mutatingVariableInputs) : 0;
    const intermediates = x.intermediates ? this.ints(x.intermediates) : 0;
    const rest = prepareFields(b, 'Operator', x.extra ? { extra: x.extra } : undefined, this.refs);
    b.startTable();
    rest();
    if (x.opcodeIndex) b.scalarField(OP('opcode_index'), 'uint', x.opcodeIndex);
    b.offsetField(OP('inputs'), inputs);
    b.offsetField(OP('outputs'), outputs);
    if (options) b.offsetField(OP('builtin_options'), options.offset);
    if (custom) b.offsetField(OP('custom_options'), custom);
    if (mutating) b.offsetField(OP('mutating_variable_inputs'), mutating);
    if (intermediates) b.offsetField(OP('intermediates'), intermediates);
    if (options) b.scalarField(OP('builtin_options') - 1, 'ubyte', options.type);
    return b.endTable();
  }

  private metadata(x: Metadata): number {
    const b = this.b;
    const name = b.string(x.name);
    const rest = prepareFields(b, 'Metadata', x.extra ? { extra: x.extra } : undefined, this.refs);
    b.startTable();
    rest();
    b.offsetField(MD('name'), name);
    if (x.buffer) b.scalarField(MD('buffer'), 'uint', x.buffer);
    return b.endTable();
  }

  private tensorMap(x: TensorMap): number {
    const b = this.b;
    const name = b.string(x.name);
    const rest = prepareFields(b, 'TensorMap', x.extra ? { extra: x.extra } : undefined, this.refs);
    b.startTable();
    rest();
    b.offsetField(TM('name'), name);
    if (x.tensorIndex) b.scalarField(TM('tensor_index'), 'uint', x.tensorIndex);
    return b.endTable();
  }

  private signatureDef(x: SignatureDef): number {
    const b = this.b;
    const inputs = b.offsetVector(x.inputs.map((m) => this.tensorMap(m)));
    const outputs = b.offsetVector(x.outputs.map((m) => this.tensorMap(m)));
    const key = b.string(x.signatureKey);
    const rest = prepareFields(b, 'SignatureDef', x.extra ? { extra: x.extra } : undefined, this.refs);
    b.startTable();
    rest();
    b.offsetField(SD('inputs'), inputs);
    b.offsetField(SD('outputs'), outputs);
    b.offsetField(SD('signature_key'), key);
    if (x.subgraphIndex) b.scalarField(SD('subgraph_index'), 'uint', x.subgraphIndex);
    return b.endTable();
  }
}

/** Where fields newer than the schema (and raw unions) can sit in a model read from a file. */
function* refRoots(m: Model): Generator<unknown> {
  yield m.extra;
  for (const c of m.operatorCodes) yield c.extra;
  for (const b of m.buffers) yield b.extra;
  for (const x of m.metadata) yield x.extra;
  for (const s of m.signatureDefs) {
    yield s.extra;
    for (const t of s.inputs) yield t.extra;
    for (const t of s.outputs) yield t.extra;
  }
  for (const sg of m.subgraphs) {
    yield sg.extra;
    for (const t of sg.tensors) {
      if (t.extra) yield t.extra;
      if (t.quantization?.extra) yield t.quantization.extra;
      if (t.quantization?.details) yield t.quantization.details;
    }
    for (const op of sg.operators) {
      if (op.extra) yield op.extra;
      if (op.builtinOptions?.extra) yield op.builtinOptions.extra;
    }
  }
}
