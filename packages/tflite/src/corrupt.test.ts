/**
 * Corrupt files: each case gives a GraphFormatError naming the file and the byte offset of the
 * bad structure, quickly and without allocating more than the file could hold.
 */
import { describe, expect, it } from 'vitest';
import { Builder, Source } from './fb.js';
import type { Model } from './model.js';
import { readTflite, writeTflite } from './index.js';
import { slotOf } from './schema.js';

const good: Model = {
  version: 3,
  operatorCodes: [{ builtin: 'RELU', version: 1 }],
  buffers: [{}],
  subgraphs: [{ inputs: [0], outputs: [1], tensors: [{ name: 'x', type: 'float32', shape: [1, 4], buffer: 0 }, { name: 'y', type: 'float32', shape: [1, 4], buffer: 0 }], operators: [{ opcodeIndex: 0, inputs: [0], outputs: [1] }] }],
  metadata: [],
  signatureDefs: [],
};
const bytes = writeTflite(good);

function fails(b: Uint8Array, offset: number | RegExp, detail: RegExp): void {
  let err: unknown;
  const t0 = performance.now();
  try {
    readTflite(b, { file: 'bad.tflite' });
  } catch (e) {
    err = e;
  }
  expect(performance.now() - t0).toBeLessThan(2000);
  expect(err).toBeInstanceOf(Error);
  const e = err as Error & { code: string };
  expect(e.code).toBe('E_GRAPH_FORMAT');
  expect(e.message.split('\n')).toHaveLength(1);
  const at = /^bad\.tflite:byte (\d+): /.exec(e.message);
  expect(at, e.message).not.toBeNull();
  if (typeof offset === 'number') expect(Number(at![1])).toBe(offset);
  expect(e.message).toMatch(detail);
}

const u32 = (b: Uint8Array, p: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(p, v >>> 0, true);

/** Positions inside the good file, found with the checked reader. */
function locate() {
  const s = new Source(bytes, 'x');
  const root = s.deref(0, 'root');
  const m = s.table(root, 'Model');
  const sgField = s.field(m, slotOf('Model', 'subgraphs'), 4);
  const { start } = s.vector(sgField, 4, 'sgs');
  const sg = s.table(s.deref(start, 'sg'), 'sg');
  const tField = s.field(sg, slotOf('SubGraph', 'tensors'), 4);
  const t0 = s.deref(s.vector(tField, 4, 't').start, 't0');
  const tensor = s.table(t0, 'tensor');
  const shapeField = s.field(tensor, slotOf('Tensor', 'shape'), 4);
  return { root, m, shapeVector: s.deref(shapeField, 'shape'), tensor };
}

describe('corrupt .tflite files', () => {
  const where = locate();

  it('the good file reads (control)', () => {
    expect(readTflite(bytes).subgraphs[0]!.tensors[0]!.shape).toEqual([1, 4]);
  });

  it('shorter than 8 bytes', () => fails(bytes.slice(0, 5), 0, /5 bytes, too short/));

  it('wrong file identifier', () => {
    const b = bytes.slice();
    b.set([0x54, 0x46, 0x4c, 0x32], 4);
    fails(b, 4, /identifier is 'TFL2', not 'TFL3'/);
  });

  it('root offset past the end of the file', () => {
    const b = bytes.slice();
    u32(b, 0, b.length + 100);
    fails(b, 0, /root table offset points to byte \d+, past the end/);
  });

  it('vtable outside the file', () => {
    const b = bytes.slice();
    u32(b, where.root, -0x10000000); // soffset: vtable = root + 2^28
    fails(b, where.root, /Model: its vtable at byte \d+ lies outside the file/);
  });

  it('a vtable entry pointing past its table', () => {
    const b = bytes.slice();
    // version field's vtable entry → far past the Model table's size.
    new DataView(b.buffer).setUint16(where.m.vt + 4 + 2 * slotOf('Model', 'version'), 0xfff0, true);
    fails(b, where.m.vt + 4, /field 0 at table offset 65520 runs past its table/);
  });

  it('a huge vector length', () => {
    const b = bytes.slice();
    u32(b, where.shapeVector, 0x7fffffff);
    fails(b, where.shapeVector, /shape: vector of 2147483647 × 4 bytes runs past the end of the file/);
  });

  it('a "backwards" uoffset (0xfffffffc) cannot loop: uoffsets are unsigned, so it points past the end', () => {
    const b = bytes.slice();
    const s = new Source(bytes, 'x');
    const field = s.field(where.tensor, slotOf('Tensor', 'shape'), 4);
    u32(b, field, 0xfffffffc);
    fails(b, field, /shape offset points to byte \d+, past the end of the file/);
  });

  it('truncated anywhere: every prefix fails with a byte offset of the structure it cannot read', () => {
    for (let n = 8; n < bytes.length; n += 3) {
      const cut = bytes.slice(0, n);
      try {
        readTflite(cut, { file: 'bad.tflite' });
      } catch (e) {
        const m = /^bad\.tflite:byte (\d+): /.exec((e as Error).message);
        expect(m, (e as Error).message).not.toBeNull();
        expect(Number(m![1])).toBeLessThan(bytes.length); // a position in the file's structure
        expect((e as { code: string }).code).toBe('E_GRAPH_FORMAT');
      }
    }
  });

  it('aliased offsets (20,000 tensors sharing one 100,000-int shape vector) stop at the decode budget instead of allocating 2e9 numbers', () => {
    const b = new Builder();
    const shape = b.scalarVector('int', new Array(100_000).fill(1));
    const name = b.string('t');
    b.startTable();
    b.offsetField(slotOf('Tensor', 'shape'), shape);
    b.offsetField(slotOf('Tensor', 'name'), name);
    const t = b.endTable();
    const tensors = b.offsetVector(new Array(20_000).fill(t));
    b.startTable();
    b.offsetField(slotOf('SubGraph', 'tensors'), tensors);
    const sg = b.endTable();
    const sgs = b.offsetVector([sg]);
    b.startTable();
    b.offsetField(slotOf('Model', 'subgraphs'), sgs);
    const file = b.finish(b.endTable(), 'TFL3').slice();
    expect(file.length).toBeLessThan(600_000);
    fails(file, /\d+/, /decodes to far more elements than it could hold/);
  });
});
