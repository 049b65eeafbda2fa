/**
 * The writer's layout rules (spec §1.3), each checked on the bytes it writes, and newer fields
 * (vtable slots past the schema, an unknown union member) surviving read → write.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelsDir } from '@tfpass/core/testing';
import { Builder, Source, type TableRef } from './fb.js';
import type { Model } from './model.js';
import { readTflite, writeTflite } from './index.js';
import { slotOf } from './schema.js';

/** Navigate a written file with the bounds-checked reader. */
class Nav {
  readonly src: Source;
  constructor(bytes: Uint8Array) {
    this.src = new Source(bytes, 'test');
  }
  root(): TableRef {
    return this.src.table(this.src.deref(0, 'root'), 'Model');
  }
  /** Position of field `slot`, 0 when absent. */
  at(t: TableRef, slot: number, width = 4): number {
    return this.src.field(t, slot, width);
  }
  child(t: TableRef, slot: number): TableRef {
    return this.src.table(this.src.deref(this.at(t, slot), 'child'), 'child');
  }
  /** Element i of a vector of tables at field `slot`. */
  item(t: TableRef, slot: number, i: number): TableRef {
    const { start } = this.src.vector(this.at(t, slot), 4, 'vec');
    return this.src.table(this.src.deref(start + 4 * i, 'item'), 'item');
  }
  ints(t: TableRef, slot: number): number[] {
    const { start, n } = this.src.vector(this.at(t, slot), 4, 'ints');
    return Array.from({ length: n }, (_, i) => this.src.i32(start + 4 * i));
  }
}

function model(): Model {
  return {
    version: 3,
    description: 'writer rules',
    operatorCodes: [
      { builtin: 'ADD', version: 1 },
      { builtin: 'CONV_2D', version: 3 },
      { builtin: 'GELU', version: 1 },
      { builtin: 'CUSTOM', customCode: 'Mine', version: 2 },
    ],
    buffers: [{}, { data: new Uint8Array([1, 2, 3]) }, { data: new Uint8Array(0) }, { data: new Uint8Array(37).fill(7) }, {}, { data: new Uint8Array([9]) }],
    subgraphs: [
      {
        inputs: [0],
        outputs: [2],
        tensors: [
          { name: 'x', type: 'float32', shape: [1, 3], buffer: 2 },
          { name: 'w', type: 'int8', shape: [3], buffer: 1, quantization: { scale: [0.125, 0.25, 0.5], zeroPoint: [0, 0, 0], quantizedDimension: 0 } },
          { name: 'y', type: 'float32', shape: [1, 3], buffer: 4, shapeSignature: [-1, 3] },
          { name: 'c', type: 'uint8', shape: [37], buffer: 3 },
          { name: 'd', type: 'uint8', shape: [1], buffer: 5 },
        ],
        operators: [
          { opcodeIndex: 0, inputs: [0, 1], outputs: [2], builtinOptions: { type: 'AddOptions', fusedActivationFunction: 'RELU', potScaleInt16: true } },
          { opcodeIndex: 3, inputs: [2], outputs: [2], customOptions: new Uint8Array([5, 6]) },
        ],
      },
    ],
    metadata: [],
    signatureDefs: [{ signatureKey: 'k', subgraphIndex: 0, inputs: [{ name: 'in', tensorIndex: 0 }], outputs: [{ name: 'out', tensorIndex: 2 }] }],
  };
}

describe('writer rules, on the bytes', () => {
  const bytes = writeTflite(model());
  const nav = new Nav(bytes);
  const root = nav.root();
  const S = (table: string, field: string) => slotOf(table, field);

  it('file identifier TFL3 at bytes 4–7', () => {
    expect(String.fromCharCode(...bytes.subarray(4, 8))).toBe('TFL3');
  });

  it('the returned bytes start 16-aligned in their ArrayBuffer (typed-array views over data vectors work)', () => {
    expect(bytes.byteOffset % 16).toBe(0);
    const big = writeTflite({ ...model(), buffers: [{}, { data: new Uint8Array(100_000) }, ...model().buffers.slice(2)] });
    expect(big.byteOffset % 16).toBe(0);
    const data = readTflite(big).buffers[1]!.data!;
    expect(new Int32Array(data.buffer, data.byteOffset, data.length / 4)).toHaveLength(25_000);
  });

  it('buffer 0 and every data-less buffer have no data field at all (an empty vector counts as data to the runtime)', () => {
    const dataSlot = S('Buffer', 'data');
    const has = [0, 1, 2, 3, 4, 5].map((i) => nav.at(nav.item(root, S('Model', 'buffers'), i), dataSlot) !== 0);
    // buffer 2 is an empty Uint8Array in the IR: written without a data field, like buffer 0 and 4.
    expect(has).toEqual([false, true, false, true, false, true]);
    const withData = { ...model(), buffers: [{ data: new Uint8Array([1]) }, ...model().buffers.slice(1)] };
    expect(() => writeTflite(withData)).toThrow(/buffer 0 must be empty/);
  });

  it('non-empty buffer data starts 16-byte aligned in the file', () => {
    for (const i of [1, 3, 5]) {
      const buf = nav.item(root, S('Model', 'buffers'), i);
      const { start, n } = nav.src.vector(nav.at(buf, S('Buffer', 'data')), 1, 'data');
      expect(start % 16, `buffer ${i}`).toBe(0);
      expect(n).toBe(model().buffers[i]!.data!.length);
    }
  });

  it('OperatorCode: deprecated_builtin_code = min(code, 127) and builtin_code = code, both written', () => {
    const codes = [0, 1, 2, 3].map((i) => nav.item(root, S('Model', 'operator_codes'), i));
    const dep = (t: TableRef) => {
      const p = nav.at(t, S('OperatorCode', 'deprecated_builtin_code'), 1);
      return p ? nav.src.scalar('byte', p) : 0; // absent = the default 0
    };
    const code = (t: TableRef) => {
      const p = nav.at(t, S('OperatorCode', 'builtin_code'));
      return p ? nav.src.i32(p) : 0;
    };
    expect(codes.map(dep)).toEqual([0, 3, 127, 32]);
    expect(codes.map(code)).toEqual([0, 3, 150, 32]);
    // Stored, not left to defaults, wherever the code is not 0.
    expect(nav.at(codes[1]!, S('OperatorCode', 'builtin_code'))).not.toBe(0);
    expect(nav.at(codes[2]!, S('OperatorCode', 'deprecated_builtin_code'), 1)).not.toBe(0);
    expect(readTflite(bytes).operatorCodes.map((c) => c.builtin)).toEqual(['ADD', 'CONV_2D', 'GELU', 'CUSTOM']);
  });

  it('Model.version 3; scalar options equal to their default are not stored', () => {
    expect(nav.src.u32(nav.at(root, S('Model', 'version')))).toBe(3);
    const op = nav.item(nav.item(root, S('Model', 'subgraphs'), 0), S('SubGraph', 'operators'), 0);
    const opts = nav.child(op, S('Operator', 'builtin_options'));
    expect(nav.at(opts, S('AddOptions', 'pot_scale_int16'), 1)).toBe(0); // default true: not stored
    expect(nav.src.u8(nav.at(opts, S('AddOptions', 'fused_activation_function'), 1))).toBe(1); // RELU
  });

  it('reads back to the same model (empty data becomes absent data; quantizedDimension 0 is the default, not stored)', () => {
    const expected = model();
    delete expected.buffers[2]!.data;
    delete expected.subgraphs[0]!.tensors[1]!.quantization!.quantizedDimension;
    const back = readTflite(bytes);
    expect(back.subgraphs[0]!.operators[0]!.builtinOptions).toEqual({ type: 'AddOptions', fusedActivationFunction: 'RELU', potScaleInt16: true });
    back.subgraphs[0]!.operators[0]!.builtinOptions = expected.subgraphs[0]!.operators[0]!.builtinOptions;
    expect(back).toEqual(expected);
  });

  it('non-ASCII names and 64-bit zero points (negative, beyond 32 bits) round-trip', () => {
    const m = model();
    m.subgraphs[0]!.tensors[3]!.name = 'conv/权重/é';
    m.subgraphs[0]!.tensors[3]!.quantization = { scale: [1, 2, 3], zeroPoint: [-128, 2 ** 40 + 3, -(2 ** 33) - 1] };
    const t = readTflite(writeTflite(m)).subgraphs[0]!.tensors[3]!;
    expect(t.name).toBe('conv/权重/é');
    expect(t.quantization!.zeroPoint).toEqual([-128, 2 ** 40 + 3, -(2 ** 33) - 1]);
  });

  it('an IR the schema cannot hold gives a typed error, not a crash', () => {
    const bad = model();
    bad.operatorCodes[0]!.builtin = 'NO_SUCH_OP';
    expect(() => writeTflite(bad)).toThrow(expect.objectContaining({ code: 'E_GRAPH_VALIDATION' }));
    const bad2 = model();
    bad2.subgraphs[0]!.operators[0]!.builtinOptions = { type: 'AddOptions', fusedActivationFunction: 'SIGMOID' };
    expect(() => writeTflite(bad2)).toThrow(/fused_activation_function: 'SIGMOID' is not a ActivationFunctionType/);
  });
});

describe('fields newer than the schema survive read → write', () => {
  // A hand-made file: a tensor with two vtable slots past the schema's 11 (an int and a vector),
  // an operator whose builtin_options union has a type code (250) no schema member has, an
  // OperatorCode with an extra short and the Model with an extra string.
  const T = (f: string) => slotOf('Tensor', f);
  const tensorSlots = 11;
  const modelSlots = 10;
  function handMade(): Uint8Array {
    const b = new Builder();
    const data = b.bytes(new Uint8Array([1, 2, 3, 4]), 16);
    b.startTable();
    const buf0 = b.endTable();
    b.startTable();
    b.offsetField(slotOf('Buffer', 'data'), data);
    const buf1 = b.endTable();
    const extraVec = b.scalarVector('int', [7, 8, 9]);
    const shape = b.scalarVector('int', [4]);
    const name = b.string('w');
    b.startTable();
    b.offsetField(T('shape'), shape);
    b.scalarField(T('buffer'), 'uint', 1);
    b.offsetField(T('name'), name);
    b.scalarField(T('type'), 'byte', 3);
    b.scalarField(tensorSlots, 'int', 12345);
    b.offsetField(tensorSlots + 1, extraVec);
    const tensor = b.endTable();
    b.startTable();
    b.scalarField(0, 'int', 42);
    const opts = b.endTable();
    const ins = b.scalarVector('int', [0]);
    const outs = b.scalarVector('int', [0]);
    b.startTable();
    b.offsetField(slotOf('Operator', 'inputs'), ins);
    b.offsetField(slotOf('Operator', 'outputs'), outs);
    b.offsetField(slotOf('Operator', 'builtin_options'), opts);
    b.scalarField(slotOf('Operator', 'builtin_options') - 1, 'ubyte', 250);
    const op = b.endTable();
    const tensors = b.offsetVector([tensor]);
    const sgIns = b.scalarVector('int', [0]);
    const sgOuts = b.scalarVector('int', [0]);
    const ops = b.offsetVector([op]);
    b.startTable();
    b.offsetField(slotOf('SubGraph', 'tensors'), tensors);
    b.offsetField(slotOf('SubGraph', 'inputs'), sgIns);
    b.offsetField(slotOf('SubGraph', 'outputs'), sgOuts);
    b.offsetField(slotOf('SubGraph', 'operators'), ops);
    const sg = b.endTable();
    b.startTable();
    b.scalarField(slotOf('OperatorCode', 'builtin_code'), 'int', 3);
    b.scalarField(slotOf('OperatorCode', 'deprecated_builtin_code'), 'byte', 3);
    b.scalarField(9, 'short', 777);
    const oc = b.endTable();
    const future = b.string('future');
    const codes = b.offsetVector([oc]);
    const sgs = b.offsetVector([sg]);
    const bufs = b.offsetVector([buf0, buf1]);
    b.startTable();
    b.scalarField(slotOf('Model', 'version'), 'uint', 3);
    b.offsetField(slotOf('Model', 'operator_codes'), codes);
    b.offsetField(slotOf('Model', 'subgraphs'), sgs);
    b.offsetField(slotOf('Model', 'buffers'), bufs);
    b.offsetField(modelSlots, future);
    return b.finish(b.endTable(), 'TFL3').slice();
  }

  function check(bytes: Uint8Array): void {
    const nav = new Nav(bytes);
    const root = nav.root();
    const s = nav.src;
    expect(s.string(nav.at(root, modelSlots), 'future')).toBe('future');
    const oc = nav.item(root, slotOf('Model', 'operator_codes'), 0);
    expect(s.scalar('short', nav.at(oc, 9, 2))).toBe(777);
    const sg = nav.item(root, slotOf('Model', 'subgraphs'), 0);
    const t = nav.item(sg, slotOf('SubGraph', 'tensors'), 0);
    expect(s.i32(nav.at(t, tensorSlots))).toBe(12345);
    expect(nav.ints(t, tensorSlots + 1)).toEqual([7, 8, 9]);
    const op = nav.item(sg, slotOf('SubGraph', 'operators'), 0);
    expect(s.u8(nav.at(op, slotOf('Operator', 'builtin_options') - 1, 1))).toBe(250);
    const opts = nav.child(op, slotOf('Operator', 'builtin_options'));
    expect(s.i32(nav.at(opts, 0))).toBe(42);
  }

  it('the hand-made file has them (sanity of the fixture)', () => check(handMade()));

  it('they are kept in `extra` and re-emitted by the writer, twice over', () => {
    const m = readTflite(handMade());
    expect(m.subgraphs[0]!.tensors[0]!.extra).toBeDefined();
    expect(m.subgraphs[0]!.operators[0]!.builtinOptions).toBeUndefined();
    expect(m.subgraphs[0]!.operators[0]!.extra).toBeDefined();
    expect(m.subgraphs[0]!.tensors[0]).toMatchObject({ name: 'w', type: 'uint8', shape: [4], buffer: 1 });
    const once = writeTflite(m);
    check(once);
    const twice = writeTflite(readTflite(once));
    check(twice);
    expect(Array.from(readTflite(twice).buffers[1]!.data!)).toEqual([1, 2, 3, 4]);
  });
});

const dir = modelsDir();
describe.skipIf(!dir)('LiteRT.js runs what the writer wrote', () => {
  it('tiny_conv.tflite rewritten by writeTflite gives byte-identical outputs to the original (seeded uint8 input, uniform 0..255)', async () => {
    const { loadTfliteRunner } = await import('./runtime.js');
    const original = new Uint8Array(readFileSync(join(dir!, 'speech-tiny-conv-qat/tiny_conv.tflite')));
    const rewritten = writeTflite(readTflite(original));
    const a = await loadTfliteRunner(original);
    const b = await loadTfliteRunner(rewritten);
    try {
      let seed = 1234;
      const x = new Uint8Array(98 * 40).map(() => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
      const feeds = { [a.inputs[0]!.name]: x };
      const ya = await a.run(feeds);
      const yb = await b.run(feeds);
      const name = a.outputs[0]!.name;
      expect(Array.from(yb[name]!)).toEqual(Array.from(ya[name]!));
      expect(ya[name]!.length).toBe(6);
    } finally {
      a.close();
      b.close();
    }
  });
});
