/**
 * The TFLite model IR: plain objects a converter, a pass or an inspector works on without
 * touching flatbuffer tables. `read.ts` builds it from bytes, `write.ts` serialises it.
 * Index fields (`buffer`, `opcodeIndex`, tensor indexes in `inputs`/`outputs`) are positions in
 * the arrays of the same model/subgraph, exactly as in the schema.
 */

/** schema `TensorType`, by name (lower-case, as tfpass's GraphDef dtypes). */
export type TensorType =
  | 'float32'
  | 'float16'
  | 'int32'
  | 'uint8'
  | 'int64'
  | 'string'
  | 'bool'
  | 'int16'
  | 'complex64'
  | 'int8'
  | 'float64'
  | 'complex128'
  | 'uint64'
  | 'resource'
  | 'variant'
  | 'uint32'
  | 'uint16'
  | 'int4'
  | 'bfloat16';

/** Affine quantization: real = scale · (q − zeroPoint); per-axis when `scale.length > 1`. */
export interface Quantization {
  min?: number[];
  max?: number[];
  scale?: number[];
  /** int64 in the schema; numbers here (zero points are always small). */
  zeroPoint?: number[];
  quantizedDimension?: number;
  /** The `details` union (custom/blockwise quantization), kept as raw bytes of its table. */
  details?: RawUnion;
  extra?: Extra;
}

export interface Tensor {
  name: string;
  type: TensorType;
  shape: number[];
  /** Index into `Model.buffers`; 0 = no data (activations). */
  buffer: number;
  quantization?: Quantization;
  isVariable?: boolean;
  /** −1 for unknown dims; absent when the file has none (TOCO files). */
  shapeSignature?: number[];
  hasRank?: boolean;
  /** Fields this IR does not model (sparsity, variant_tensors, …), preserved for a round trip. */
  extra?: Extra;
}

/** Builtin options as a plain object: `{ type: 'Conv2DOptions', padding: 'SAME', strideW: 2, … }`.
 *  Field names are the schema's in camelCase; enums are their schema names. */
export interface BuiltinOptions {
  type: string;
  [field: string]: unknown;
}

export interface Operator {
  opcodeIndex: number;
  /** Tensor indexes; −1 = an omitted optional input. */
  inputs: number[];
  outputs: number[];
  builtinOptions?: BuiltinOptions;
  customOptions?: Uint8Array;
  customOptionsFormat?: 'FLEXBUFFERS';
  mutatingVariableInputs?: boolean[];
  intermediates?: number[];
  extra?: Extra;
}

export interface OperatorCode {
  /** Builtin operator name from the schema (`'CONV_2D'`), or `'CUSTOM'`. Read as
   *  max(deprecated_builtin_code, builtin_code); the writer sets both fields. */
  builtin: string;
  customCode?: string;
  version: number;
  extra?: Extra;
}

export interface Subgraph {
  tensors: Tensor[];
  inputs: number[];
  outputs: number[];
  /** In execution order (the runtime does not sort). */
  operators: Operator[];
  name?: string;
  extra?: Extra;
}

export interface Buffer {
  /** Absent for activation buffers: the writer then writes no `data` field at all. */
  data?: Uint8Array;
  /** Out-of-flatbuffer data (models > 2 GB); valid when offset > 1. */
  offset?: bigint;
  size?: bigint;
  extra?: Extra;
}

export interface Metadata {
  name: string;
  buffer: number;
  extra?: Extra;
}

export interface TensorMap {
  name: string;
  tensorIndex: number;
  extra?: Extra;
}

export interface SignatureDef {
  inputs: TensorMap[];
  outputs: TensorMap[];
  signatureKey: string;
  subgraphIndex: number;
  extra?: Extra;
}

export interface Model {
  version: number;
  operatorCodes: OperatorCode[];
  subgraphs: Subgraph[];
  description?: string;
  buffers: Buffer[];
  metadataBuffer?: number[];
  metadata: Metadata[];
  signatureDefs: SignatureDef[];
  extra?: Extra;
}

/** A union value this IR does not decode: its type byte and the raw table. */
export interface RawUnion {
  type: number;
  /** Opaque to callers; the writer re-emits it. */
  raw: unknown;
}

/** Fields of a table beyond what this IR models, preserved for a read → write round trip. */
export interface Extra {
  /** Opaque to callers; the writer re-emits it. */
  fields: unknown;
}
