/**
 * Inputs over protobuf's 2 GiB limit: length fields claiming more than 2 GiB, and a sparse
 * file bigger than 2 GiB, get a clear GraphFormatError without the memory being allocated.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, createMetaModel, encodeGraph, encodeModel, readModel } from '@tfpass/core';
import { GiB, encodeVarint, lengthFields, setVarint } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tfpass-large-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function small(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  g.addNode({ name: 'w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [4], [1, 2, 3, 4]) } } });
  g.addNode({ name: 'y', op: 'Mul', inputs: ['x', 'w'], attrs: { T: { type: 'float32' } } });
  return g;
}

/** Run `f`, expecting a GraphFormatError; return how much memory it took meanwhile. */
function expectFormatError(f: () => unknown, message: RegExp): { arrayBuffers: number; rss: number } {
  global.gc?.();
  const m0 = process.memoryUsage();
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  const m1 = process.memoryUsage();
  expect(err).toBeInstanceOf(Error);
  expect((err as { code?: string }).code).toBe('E_GRAPH_FORMAT');
  expect((err as Error).message).toMatch(message);
  expect((err as Error).message.split('\n')).toHaveLength(1);
  return { arrayBuffers: m1.arrayBuffers - m0.arrayBuffers, rss: m1.rss - m0.rss };
}

const MiB = 2 ** 20;

describe('length fields claiming more than 2 GiB', () => {
  const graph = encodeGraph(small(), 'binary') as Uint8Array;

  for (const claim of [2 * GiB, 2 * GiB + 5, 4 * GiB - 1, 2 ** 40]) {
    it(`a GraphDef whose first node claims ${claim} bytes`, () => {
      const b = setVarint(graph, lengthFields(graph)[0]!, claim);
      const used = expectFormatError(() => readModel(b, { name: 'huge.pb' }), new RegExp(`huge\\.pb:byte 0: field 1 claims ${claim} bytes but only \\d+ remain`));
      expect(used.arrayBuffers).toBeLessThan(64 * MiB);
    });
  }

  it('a Const tensor_content deep inside a node claiming 3 GiB (every enclosing length consistent)', () => {
    // GraphDef{node: NodeDef{name, op, attr{"value": AttrValue{tensor: TensorProto{dtype, tensor_content}}}}}
    const te = new TextEncoder();
    const field = (n: number, payload: Uint8Array | number[]) => [(n << 3) | 2, ...encodeVarint(payload.length), ...payload];
    const content = [(4 << 3) | 2, ...encodeVarint(3 * GiB), 1, 2, 3, 4, 5, 6, 7, 8];
    const tensor = [(1 << 3) | 0, 1, ...content];
    const attrValue = field(8, tensor);
    const entry = [...field(1, te.encode('value')), ...field(2, attrValue)];
    const node = [...field(1, te.encode('w')), ...field(2, te.encode('Const')), ...field(5, entry)];
    const b = new Uint8Array(field(1, node));
    const used = expectFormatError(() => readModel(b, { name: 'deep.pb' }), /deep\.pb:byte 0: binary protobuf: node #1 \(bytes \d+\.\.\d+\) does not decode/);
    expect(used.arrayBuffers).toBeLessThan(64 * MiB);
  });

  it('a MetaGraphDef whose graph_def claims 2 GiB, and a SavedModel whose meta graph claims 4 GiB', () => {
    const meta = encodeModel(createMetaModel(small(), { tags: ['serve'] }), 'binary') as Uint8Array;
    const gd = lengthFields(meta).find((f) => f.depth === 0 && meta[f.at - 1] === 0x12)!;
    expect(gd).toBeDefined();
    expectFormatError(() => readModel(setVarint(meta, gd, 2 * GiB), { name: 'm.meta', kind: 'meta' }), /m\.meta:byte \d+: field 2 claims 2147483648 bytes/);
    // SavedModel: schema version 1, then meta_graphs (field 2) claiming 4 GiB.
    const sm = new Uint8Array([0x08, 0x01, 0x12, ...encodeVarint(4 * GiB), ...meta.subarray(0, 64)]);
    const used = expectFormatError(() => readModel(sm, { name: 'saved_model.pb' }), /field 2 claims 4294967296 bytes/);
    expect(used.arrayBuffers).toBeLessThan(64 * MiB);
  });
});

describe('files over 2 GiB', () => {
  it('a sparse 2.5 GiB .pb is refused before it is read', () => {
    const p = join(dir, 'sparse.pb');
    const fd = openSync(p, 'w');
    // A plausible start (a node claiming the rest of the file), then a hole.
    const head = new Uint8Array([0x0a, ...encodeVarint(2.5 * GiB - 8)]);
    writeSync(fd, head);
    ftruncateSync(fd, 2.5 * GiB);
    closeSync(fd);
    const used = expectFormatError(() => readModel(p), /sparse\.pb: file is 2684354560 bytes, over protobuf's 2 GiB message limit/);
    expect(used.rss).toBeLessThan(128 * MiB);
    expect(used.arrayBuffers).toBeLessThan(64 * MiB);
  });

  it('a sparse 2.5 GiB SavedModel folder is refused the same way', () => {
    const sm = join(dir, 'sm');
    rmSync(sm, { recursive: true, force: true });
    const fd = openSync(join(dir, 'saved_model.pb'), 'w');
    ftruncateSync(fd, 2.5 * GiB);
    closeSync(fd);
    expectFormatError(() => readModel(join(dir, 'saved_model.pb')), /over protobuf's 2 GiB message limit/);
  });
});
