import { DataType } from './gen/tensorflow/core/framework/types_pb.js';

/** Element types by short name; the TF enum stays inside core. */
export type DType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'int8' | 'int16' | 'int32' | 'int64'
  | 'uint8' | 'uint16' | 'uint32' | 'uint64'
  | 'bool' | 'string' | 'complex64' | 'complex128'
  | 'qint8' | 'quint8' | 'qint16' | 'quint16' | 'qint32'
  | 'resource' | 'variant' | 'invalid';

const TABLE: [DType, DataType, number, string[]][] = [
  // [name, enum, byte size (0 = not POD), aliases accepted from users / TF text]
  ['invalid', DataType.DT_INVALID, 0, []],
  ['float32', DataType.DT_FLOAT, 4, ['float', 'DT_FLOAT', 'f32']],
  ['float64', DataType.DT_DOUBLE, 8, ['double', 'DT_DOUBLE', 'f64']],
  ['float16', DataType.DT_HALF, 2, ['half', 'DT_HALF', 'f16']],
  ['bfloat16', DataType.DT_BFLOAT16, 2, ['DT_BFLOAT16', 'bf16']],
  ['int8', DataType.DT_INT8, 1, ['DT_INT8']],
  ['int16', DataType.DT_INT16, 2, ['DT_INT16']],
  ['int32', DataType.DT_INT32, 4, ['DT_INT32', 'int']],
  ['int64', DataType.DT_INT64, 8, ['DT_INT64', 'long']],
  ['uint8', DataType.DT_UINT8, 1, ['DT_UINT8']],
  ['uint16', DataType.DT_UINT16, 2, ['DT_UINT16']],
  ['uint32', DataType.DT_UINT32, 4, ['DT_UINT32']],
  ['uint64', DataType.DT_UINT64, 8, ['DT_UINT64']],
  ['bool', DataType.DT_BOOL, 1, ['DT_BOOL']],
  ['string', DataType.DT_STRING, 0, ['DT_STRING']],
  ['complex64', DataType.DT_COMPLEX64, 8, ['DT_COMPLEX64']],
  ['complex128', DataType.DT_COMPLEX128, 16, ['DT_COMPLEX128']],
  ['qint8', DataType.DT_QINT8, 1, ['DT_QINT8']],
  ['quint8', DataType.DT_QUINT8, 1, ['DT_QUINT8']],
  ['qint16', DataType.DT_QINT16, 2, ['DT_QINT16']],
  ['quint16', DataType.DT_QUINT16, 2, ['DT_QUINT16']],
  ['qint32', DataType.DT_QINT32, 4, ['DT_QINT32']],
  ['resource', DataType.DT_RESOURCE, 0, ['DT_RESOURCE']],
  ['variant', DataType.DT_VARIANT, 0, ['DT_VARIANT']],
];

const byName = new Map<string, DType>();
const toEnum = new Map<DType, DataType>();
const fromEnumMap = new Map<number, DType>();
const sizes = new Map<DType, number>();
for (const [n, e, size, aliases] of TABLE) {
  byName.set(n, n);
  for (const a of aliases) byName.set(a, n);
  toEnum.set(n, e);
  fromEnumMap.set(e, n);
  sizes.set(n, size);
}

/** Parse a user- or TF-spelled dtype (`float`, `DT_FLOAT`, `float32`); undefined if unknown. */
export function parseDType(s: string): DType | undefined {
  return byName.get(s) ?? byName.get(s.toLowerCase());
}

/** Map a TF enum value to a DType; reference types (value+100) map to their base type. */
export function dtypeFromEnum(e: number): DType {
  const base = e > 100 ? e - 100 : e;
  const d = fromEnumMap.get(base);
  if (!d) return 'invalid';
  return d;
}

export function dtypeToEnum(d: DType): DataType {
  return toEnum.get(d) ?? DataType.DT_INVALID;
}

/** Bytes per element for plain-old-data types, 0 for string/resource/variant. */
export function dtypeSize(d: DType): number {
  return sizes.get(d) ?? 0;
}

export function isFloatDType(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

/** TF's spelling, e.g. DT_FLOAT. */
export function dtypeTfName(d: DType): string {
  return DataType[dtypeToEnum(d)] ?? 'DT_INVALID';
}

export const ALL_DTYPES: readonly DType[] = TABLE.map((r) => r[0]);
