import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { TensorProtoSchema, DataType, type TensorProto } from '@tfpass/core/proto';
import {
  Tensor, tensorFromProto, tensorToProto, dtypeToEnum, dtypeFromEnum, dtypeSize, parseDType, dtypeTfName,
  floatToHalf, halfToFloat, floatToBfloat16, bfloat16BitsToFloat32, float32ToHalfBits, halfBitsToFloat32,
  numElements, shapeFromProto, shapeToProto, GraphFormatError, type DType,
} from '@tfpass/core';

const shapeOf = (dims: number[]) => ({ dim: dims.map((d) => ({ size: BigInt(d) })) });
const proto = (dtype: DType, dims: number[], fields: Partial<TensorProto>) =>
  create(TensorProtoSchema, { dtype: dtypeToEnum(dtype), tensorShape: shapeOf(dims), ...fields } as never);
const plain = (t: Tensor) => (Array.isArray(t.data) ? t.data.map((b) => new TextDecoder().decode(b)) : Array.from(t.data as ArrayLike<unknown>));

/** For every dtype TF models use: sample values, the storage they decode to, and their *_val field. */
const CASES: { dtype: DType; values: (number | bigint | boolean | string)[]; stored: unknown[]; field: keyof TensorProto; list: unknown[] }[] = [
  { dtype: 'float32', values: [1.5, -2, 3.25], stored: [1.5, -2, 3.25], field: 'floatVal', list: [1.5, -2, 3.25] },
  { dtype: 'float64', values: [0.1, -1e300, 7], stored: [0.1, -1e300, 7], field: 'doubleVal', list: [0.1, -1e300, 7] },
  { dtype: 'float16', values: [1, -2, 0.5], stored: [0x3c00, 0xc000, 0x3800], field: 'halfVal', list: [0x3c00, 0xc000, 0x3800] },
  { dtype: 'bfloat16', values: [1, -2, 0.5], stored: [0x3f80, 0xc000, 0x3f00], field: 'halfVal', list: [0x3f80, 0xc000, 0x3f00] },
  { dtype: 'int8', values: [-128, 5, 127], stored: [-128, 5, 127], field: 'intVal', list: [-128, 5, 127] },
  { dtype: 'int16', values: [-32768, 5, 32767], stored: [-32768, 5, 32767], field: 'intVal', list: [-32768, 5, 32767] },
  { dtype: 'int32', values: [-2147483648, 5, 2147483647], stored: [-2147483648, 5, 2147483647], field: 'intVal', list: [-2147483648, 5, 2147483647] },
  { dtype: 'int64', values: [-(2n ** 63n), 5n, 2n ** 63n - 1n], stored: [-(2n ** 63n), 5n, 2n ** 63n - 1n], field: 'int64Val', list: [-(2n ** 63n), 5n, 2n ** 63n - 1n] },
  { dtype: 'uint8', values: [0, 5, 255], stored: [0, 5, 255], field: 'intVal', list: [0, 5, 255] },
  { dtype: 'uint16', values: [0, 5, 65535], stored: [0, 5, 65535], field: 'intVal', list: [0, 5, 65535] },
  { dtype: 'uint32', values: [0, 5, 4294967295], stored: [0, 5, 4294967295], field: 'uint32Val', list: [0, 5, 4294967295] },
  { dtype: 'uint64', values: [0n, 5n, 2n ** 64n - 1n], stored: [0n, 5n, 2n ** 64n - 1n], field: 'uint64Val', list: [0n, 5n, 2n ** 64n - 1n] },
  { dtype: 'bool', values: [true, false, true], stored: [1, 0, 1], field: 'boolVal', list: [true, false, true] },
  { dtype: 'qint8', values: [-3, 0, 9], stored: [-3, 0, 9], field: 'intVal', list: [-3, 0, 9] },
  { dtype: 'quint8', values: [3, 0, 250], stored: [3, 0, 250], field: 'intVal', list: [3, 0, 250] },
  { dtype: 'qint16', values: [-3, 0, 9], stored: [-3, 0, 9], field: 'intVal', list: [-3, 0, 9] },
  { dtype: 'quint16', values: [3, 0, 60000], stored: [3, 0, 60000], field: 'intVal', list: [3, 0, 60000] },
  { dtype: 'qint32', values: [-3, 0, 9], stored: [-3, 0, 9], field: 'intVal', list: [-3, 0, 9] },
];

describe('dtypes', () => {
  it('map names, aliases and enums both ways', () => {
    expect(parseDType('float')).toBe('float32');
    expect(parseDType('DT_HALF')).toBe('float16');
    expect(parseDType('half')).toBe('float16');
    expect(parseDType('FLOAT')).toBe('float32');
    expect(parseDType('nope')).toBeUndefined();
    expect(dtypeFromEnum(DataType.DT_FLOAT + 100)).toBe('float32'); // float_ref
    expect(dtypeTfName('bfloat16')).toBe('DT_BFLOAT16');
    expect(dtypeSize('complex64')).toBe(8);
    expect(dtypeSize('string')).toBe(0);
  });
});

describe('tensor codecs, every dtype', () => {
  for (const c of CASES) {
    it(`${c.dtype}: values, tensor_content, typed list, splat`, () => {
      const t = Tensor.fromValues(c.dtype, [3], c.values as never);
      expect(plain(t)).toEqual(c.stored);
      // tensor_content: little-endian bytes of the storage, decoded back
      const p = tensorToProto(t);
      expect(p.dtype).toBe(dtypeToEnum(c.dtype));
      expect(p.tensorContent.length).toBe(3 * dtypeSize(c.dtype));
      expect(plain(tensorFromProto(p))).toEqual(c.stored);
      // content sitting at an odd offset of a larger buffer (as inside a file) still decodes
      const big = new Uint8Array(p.tensorContent.length + 1);
      big.set(p.tensorContent, 1);
      expect(plain(tensorFromProto({ ...p, tensorContent: big.subarray(1) }))).toEqual(c.stored);
      // typed list, written by us and by hand
      const v = tensorToProto(t, { encoding: 'values' });
      expect(v.tensorContent.length).toBe(0);
      expect(Array.from(v[c.field] as unknown[])).toEqual(c.list);
      expect(plain(tensorFromProto(v))).toEqual(c.stored);
      expect(plain(tensorFromProto(proto(c.dtype, [3], { [c.field]: c.list } as never)))).toEqual(c.stored);
      // TF's fill rule: a short list repeats its last value; an empty list means zeros
      expect(plain(tensorFromProto(proto(c.dtype, [5], { [c.field]: c.list.slice(0, 2) } as never)))).toEqual([
        c.stored[0], c.stored[1], c.stored[1], c.stored[1], c.stored[1],
      ]);
      const splat = tensorFromProto(proto(c.dtype, [2, 2], { [c.field]: [c.list[2]] } as never));
      expect(splat.shape).toEqual([2, 2]);
      expect(plain(splat)).toEqual([c.stored[2], c.stored[2], c.stored[2], c.stored[2]]);
      const zero = typeof c.stored[0] === 'bigint' ? 0n : 0;
      expect(plain(tensorFromProto(proto(c.dtype, [2], {})))).toEqual([zero, zero]);
      // more values than elements: the first n are used
      expect(plain(tensorFromProto(proto(c.dtype, [1], { [c.field]: c.list } as never)))).toEqual([c.stored[0]]);
      // compact encoding writes a constant tensor as one value
      const k = Tensor.fromValues(c.dtype, [4], [c.values[2], c.values[2], c.values[2], c.values[2]] as never);
      const kp = tensorToProto(k, { encoding: 'compact' });
      expect((kp[c.field] as unknown[]).length).toBe(1);
      expect(plain(tensorFromProto(kp))).toEqual(plain(k));
    });
  }

  it('tensor_content is little-endian storage', () => {
    const buf = new Uint8Array(8);
    const dv = new DataView(buf.buffer);
    dv.setFloat32(0, 1.5, true);
    dv.setFloat32(4, -3, true);
    expect(Array.from(tensorFromProto(proto('float32', [2], { tensorContent: buf })).data as Float32Array)).toEqual([1.5, -3]);
    const b64 = new Uint8Array(8);
    new DataView(b64.buffer).setBigInt64(0, -5n, true);
    expect(Array.from(tensorFromProto(proto('int64', [1], { tensorContent: b64 })).data as BigInt64Array)).toEqual([-5n]);
  });

  it('string: byte strings, repeat-last and compact', () => {
    const t = Tensor.fromValues('string', [3], ['a', 'bc', new Uint8Array([0, 255])]);
    const p = tensorToProto(t);
    expect(p.stringVal.map((b) => Array.from(b))).toEqual([[97], [98, 99], [0, 255]]);
    expect(plain(tensorFromProto(proto('string', [3], { stringVal: [new TextEncoder().encode('x')] })))).toEqual(['x', 'x', 'x']);
    expect(plain(tensorFromProto(proto('string', [2], {})))).toEqual(['', '']);
    const k = Tensor.fromValues('string', [3], ['z', 'z', 'z']);
    expect(tensorToProto(k, { encoding: 'compact' }).stringVal).toHaveLength(1);
    expect(Tensor.scalar('string', 'hi').shape).toEqual([]);
  });

  it('complex64/complex128: interleaved pairs, repeat-last pair', () => {
    for (const dtype of ['complex64', 'complex128'] as const) {
      const field = dtype === 'complex64' ? 'scomplexVal' : 'dcomplexVal';
      const t = Tensor.fromValues(dtype, [2], [1, 2, 3, 4]);
      expect(t.size).toBe(2);
      expect(plain(t)).toEqual([1, 2, 3, 4]);
      expect(plain(tensorFromProto(tensorToProto(t)))).toEqual([1, 2, 3, 4]);
      expect(tensorToProto(t).tensorContent.length).toBe(dtype === 'complex64' ? 16 : 32);
      const v = tensorToProto(t, { encoding: 'values' });
      expect(v[field]).toEqual([1, 2, 3, 4]);
      expect(plain(tensorFromProto(proto(dtype, [3], { [field]: [1, 2, 3, 4] } as never)))).toEqual([1, 2, 3, 4, 3, 4]);
      expect(plain(tensorFromProto(proto(dtype, [2], {})))).toEqual([0, 0, 0, 0]);
      const k = Tensor.fromValues(dtype, [3], [5, 6, 5, 6, 5, 6]);
      expect(tensorToProto(k, { encoding: 'compact' })[field]).toEqual([5, 6]);
    }
  });

  it('rejects tensor_content of the wrong size and dtypes without a host value', () => {
    expect(() => tensorFromProto(proto('float32', [3], { tensorContent: new Uint8Array(8) }))).toThrow(GraphFormatError);
    expect(() => tensorFromProto(proto('float32', [3], { tensorContent: new Uint8Array(8) }))).toThrow(/8 bytes, expected 12/);
    expect(() => tensorFromProto(proto('resource', [], {}))).toThrow(/no host value/);
  });

  it('empty tensors, unknown dims and shapes', () => {
    expect(numElements([])).toBe(1);
    expect(numElements([2, 0, 3])).toBe(0);
    expect(numElements([-1, 3])).toBe(0);
    const e = tensorFromProto(proto('float32', [0, 4], {}));
    expect(e.data).toHaveLength(0);
    expect(shapeFromProto(undefined)).toEqual([]);
    expect(shapeFromProto(shapeToProto(null))).toBeNull();
    expect(shapeFromProto(shapeToProto([-1, 384, 3]))).toEqual([-1, 384, 3]);
    expect(Tensor.zeros('int32', [2, 3]).data).toEqual(new Int32Array(6));
    expect(Tensor.zeros('string', [2]).data).toHaveLength(2);
  });

  it('toFloat32 / toNumbers decode every numeric storage', () => {
    expect(Array.from(Tensor.fromValues('float16', [2], [0.5, -4]).toFloat32())).toEqual([0.5, -4]);
    expect(Tensor.fromValues('bfloat16', [2], [0.5, -4]).toNumbers()).toEqual([0.5, -4]);
    expect(Tensor.fromValues('int64', [2], [3, -9]).toNumbers()).toEqual([3, -9]);
    expect(Array.from(Tensor.fromValues('uint8', [2], [3, 9]).toFloat32())).toEqual([3, 9]);
    expect(() => Tensor.fromValues('string', [1], ['a']).toFloat32()).toThrow(/cannot convert/);
  });
});

describe('float16', () => {
  const h = (v: number) => floatToHalf(v);
  it('converts exact values, limits and specials', () => {
    expect(h(1)).toBe(0x3c00);
    expect(h(-2)).toBe(0xc000);
    expect(h(65504)).toBe(0x7bff); // max half
    expect(h(2 ** -14)).toBe(0x0400); // min normal
    expect(h(2 ** -24)).toBe(0x0001); // min subnormal
    expect(h(1023 * 2 ** -24)).toBe(0x03ff); // max subnormal
    expect(h(0)).toBe(0x0000);
    expect(h(-0)).toBe(0x8000);
    expect(h(Infinity)).toBe(0x7c00);
    expect(h(-Infinity)).toBe(0xfc00);
    const nan = h(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
    expect(Number.isNaN(halfToFloat(nan))).toBe(true);
  });
  it('rounds to nearest, ties to even (normal, subnormal, overflow)', () => {
    const ulp1 = 2 ** -10;
    expect(h(1 + ulp1 / 2)).toBe(0x3c00); // tie -> even (down)
    expect(h(1 + 1.5 * ulp1)).toBe(0x3c02); // tie -> even (up)
    expect(h(1 + ulp1 / 2 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(h(1 + ulp1 / 2 - 2 ** -20)).toBe(0x3c00); // just below
    expect(h(2 ** -25)).toBe(0x0000); // half of the smallest subnormal: tie -> 0
    expect(h(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(h(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 subnormal units -> 2
    expect(h(5 * 2 ** -25)).toBe(0x0002); // tie between 2 and 3 -> 2
    expect(h(2 ** -26)).toBe(0x0000);
    expect(h(-(2 ** -26))).toBe(0x8000);
    expect(h(2047.5 * 2 ** -24 / 2)).toBe(0x0400); // rounds up out of the subnormals
    expect(h(65519)).toBe(0x7bff); // below the midpoint to 65536
    expect(h(65520)).toBe(0x7c00); // the midpoint ties to even: infinity
    expect(h(1e6)).toBe(0x7c00);
  });
  it('every half pattern decodes and encodes back to itself', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = halfBitsToFloat32(all);
    const back = float32ToHalfBits(f);
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (isNaN) expect(Number.isNaN(f[i])).toBe(true);
      else if (back[i] !== i) throw new Error(`half 0x${i.toString(16)} -> ${f[i]} -> 0x${back[i]!.toString(16)}`);
    }
    expect(halfToFloat(0x3555)).toBeCloseTo(0.33325195, 8);
  });
});

describe('bfloat16', () => {
  const bits = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0]!;
  const b = floatToBfloat16;
  it('converts exact values and specials', () => {
    expect(b(1)).toBe(0x3f80);
    expect(b(-2)).toBe(0xc000);
    expect(b(Infinity)).toBe(0x7f80);
    expect(b(-Infinity)).toBe(0xff80);
    expect(b(-0)).toBe(0x8000);
    const nan = b(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
  });
  it('rounds to nearest even, including subnormals and overflow', () => {
    expect(b(bits(0x3f808000))).toBe(0x3f80); // tie -> even
    expect(b(bits(0x3f818000))).toBe(0x3f82); // tie -> even (up)
    expect(b(bits(0x3f808001))).toBe(0x3f81);
    expect(b(bits(0x3f807fff))).toBe(0x3f80);
    expect(b(bits(0x00018000))).toBe(0x0002); // subnormal tie, odd -> up
    expect(b(bits(0x00008000))).toBe(0x0000); // subnormal tie, even -> down
    expect(b(bits(0x00008001))).toBe(0x0001);
    expect(b(bits(0x7f7fffff))).toBe(0x7f80); // max float rounds to infinity
    expect(b(bits(0x7f7f7fff))).toBe(0x7f7f);
    // a signalling NaN payload stays a NaN
    expect(b(bits(0x7f800001)) & 0x7f).not.toBe(0);
  });
  it('every bfloat16 pattern decodes and encodes back to itself', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = bfloat16BitsToFloat32(all);
    for (let i = 0; i < 65536; i++) {
      if ((i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0) continue;
      if (b(f[i]!) !== i) throw new Error(`bfloat16 0x${i.toString(16)} does not round-trip`);
    }
  });
});
