import { create } from '@bufbuild/protobuf';
import { afterEach, describe, expect, test } from 'vitest';
import { Graph, Tensor, maxTensorBytes, parseByteSize, setMaxTensorBytes } from '../src/index.js';
import { TensorProtoSchema } from '../src/gen/tensorflow/core/framework/tensor_pb.js';
import { DataType } from '../src/gen/tensorflow/core/framework/types_pb.js';

// --max_tensor_bytes (issue 21): a splat Const declaring billions of elements in a few bytes is
// refused before anything is allocated, naming the node and how to raise the limit.

function splatGraph(dims: bigint[]): Graph {
  const g = new Graph();
  g.addNode({ name: 'huge', op: 'Const', attrs: { dtype: { type: 'float32' } } });
  const p = create(TensorProtoSchema, { dtype: DataType.DT_FLOAT, tensorShape: { dim: dims.map((size) => ({ size })) }, floatVal: [1.5] });
  g.node('huge').attrs.raw()['value'] = { $typeName: 'tensorflow.AttrValue', value: { case: 'tensor', value: p } } as never;
  return g;
}

afterEach(() => setMaxTensorBytes(undefined));

describe('tensor size limit', () => {
  test('a 2^32-element splat Const is refused with E_LIMIT naming the node, without allocating', () => {
    const g = splatGraph([2n ** 32n]);
    const before = process.memoryUsage().arrayBuffers;
    let err: (Error & { code?: string }) | undefined;
    try {
      g.node('huge').attrs.getTensor('value');
    } catch (e) {
      err = e as Error;
    }
    expect(err?.code).toBe('E_LIMIT');
    expect(err!.message).toMatch(/^node 'huge', attr 'value': a tensor of 4294967296 float32 elements \(16\.0 GiB\) exceeds the tensor size limit of 2\.0 GiB; raise it with --max_tensor_bytes/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
    // Its shape and size are still available without decoding.
    expect(g.node('huge').attrs.getTensorInfo('value')).toEqual({ dtype: 'float32', shape: [2 ** 32], size: 2 ** 32 });
  });

  test('the limit is configurable and applies to every allocation path', () => {
    setMaxTensorBytes(1024);
    expect(maxTensorBytes()).toBe(1024);
    expect(() => Tensor.zeros('float32', [257])).toThrow(/1028 bytes\) exceeds the tensor size limit of 1024 bytes/);
    expect(Tensor.zeros('float32', [256]).size).toBe(256);
    expect(() => splatGraph([100n, 100n]).node('huge').attrs.getTensor('value')).toThrow(expect.objectContaining({ code: 'E_LIMIT' }));
    expect(() => setMaxTensorBytes(-1)).toThrow(/max_tensor_bytes/);
  });

  test('a splat within the limit still decodes with TF repeat-last rule', () => {
    const t = splatGraph([3n, 2n]).node('huge').attrs.getTensor('value');
    expect(Array.from(t.toFloat32())).toEqual([1.5, 1.5, 1.5, 1.5, 1.5, 1.5]);
  });

  test('byte sizes parse as numbers or with K/M/G/T suffixes', () => {
    expect(parseByteSize('1073741824')).toBe(2 ** 30);
    expect(parseByteSize('512M')).toBe(512 * 2 ** 20);
    expect(parseByteSize('4GiB')).toBe(4 * 2 ** 30);
    expect(parseByteSize('1.5g')).toBe(1.5 * 2 ** 30);
    expect(parseByteSize('lots')).toBeUndefined();
    expect(parseByteSize('0')).toBeUndefined();
  });
});
