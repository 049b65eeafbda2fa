import { describe, expect, it } from 'vitest';
import { Graph, Tensor, attrKind, attrFromJson, attrToJson, encodeGraph, readGraph, type AttrJson } from '@tfpass/core';

function node() {
  const g = new Graph();
  return { g, n: g.addNode({ name: 'n', op: 'Op' }) };
}

describe('attrs: every AttrValue kind through the node view', () => {
  it('scalars: s, i, f, b, type, shape, tensor, func, placeholder', () => {
    const { g, n } = node();
    const a = n.attrs;
    a.setString('s', 'SAME').setInt('i', -7).setFloat('f', 0.1).setBool('b', true).setType('t', 'bfloat16');
    a.setShape('shape', [1, -1, 3]).setShape('unk', null).setTensor('value', Tensor.fromValues('int32', [2], [4, 5]));
    a.setFunc('fn', { name: 'body', attrs: { T: { type: 'float32' } } }).setPlaceholder('ph', 'T');
    // read back after a binary round trip, so the getters see what the file holds
    const b = readGraph(encodeGraph(g) as Uint8Array).node('n').attrs;
    expect(b.getString('s')).toBe('SAME');
    expect(b.getBytes('s')).toEqual(new TextEncoder().encode('SAME'));
    expect(b.getInt('i')).toBe(-7);
    expect(b.getFloat('f')).toBe(Math.fround(0.1));
    expect(a.getFloat('f')).toBe(Math.fround(0.1)); // rounded on set, not only on write
    expect(b.getBool('b')).toBe(true);
    expect(b.getType('t')).toBe('bfloat16');
    expect(b.getShape('shape')).toEqual([1, -1, 3]);
    expect(b.getShape('unk')).toBeNull();
    expect(Array.from(b.getTensor('value').data as Int32Array)).toEqual([4, 5]);
    expect(b.getFunc('fn')).toEqual({ name: 'body', attrs: { T: { type: 'float32' } } });
    expect(b.getPlaceholder('ph')).toBe('T');
    expect(b.keys()).toEqual(['b', 'f', 'fn', 'i', 'ph', 's', 'shape', 't', 'unk', 'value']);
    expect(b.kind('i')).toBe('i');
    expect(b.kind('shape')).toBe('shape');
    expect(b.kind('fn')).toBe('func');
    expect(b.kind('missing')).toBeUndefined();
  });

  it('lists of every kind', () => {
    const { g, n } = node();
    const a = n.attrs;
    a.setInts('strides', [1, 2, 2, 1]).setFloats('fs', [0.5, 0.1]).setStrings('ss', ['a', 'b']).setBools('bs', [true, false]);
    a.setTypes('Tout', ['float32', 'int64']).setShapes('_output_shapes', [[1, 2], null]);
    a.setTensors('ts', [Tensor.scalar('float32', 2), Tensor.fromValues('bool', [2], [true, false])]);
    a.setFuncs('branches', [{ name: 'then', attrs: {} }, { name: 'else', attrs: { n: { i: 2 } } }]);
    a.setJson('empty', { list: {} });
    const b = readGraph(encodeGraph(g) as Uint8Array).node('n').attrs;
    expect(b.getInts('strides')).toEqual([1, 2, 2, 1]);
    expect(b.getFloats('fs')).toEqual([0.5, Math.fround(0.1)]);
    expect(b.getStrings('ss')).toEqual(['a', 'b']);
    expect(b.getBools('bs')).toEqual([true, false]);
    expect(b.getTypes('Tout')).toEqual(['float32', 'int64']);
    expect(b.getShapes('_output_shapes')).toEqual([[1, 2], null]);
    expect(b.getTensors('ts').map((t) => t.toNumbers())).toEqual([[2], [1, 0]]);
    expect(b.getFuncs('branches').map((f) => f.name)).toEqual(['then', 'else']);
    expect(b.getFuncs('branches')[1]!.attrs).toEqual({ n: { i: 2 } });
    expect(b.kind('strides')).toBe('list(i)');
    expect(b.kind('Tout')).toBe('list(type)');
    expect(b.kind('ts')).toBe('list(tensor)');
    expect(b.kind('branches')).toBe('list(func)');
    expect(b.kind('empty')).toBe('list');
    expect(b.getInts('empty')).toEqual([]);
  });

  it('typed errors on the wrong kind or a missing attr; opt* defaults', () => {
    const { n } = node();
    n.attrs.setInt('i', 3);
    expect(() => n.attrs.getString('i')).toThrow(/attr 'i': expected s, found i/);
    expect(() => n.attrs.getInt('nope')).toThrow(/attr 'nope': expected i, found nothing/);
    expect(() => n.attrs.getInts('i')).toThrow(/expected list/);
    try {
      n.attrs.getFloat('i');
    } catch (e) {
      expect((e as { code: string }).code).toBe('E_GRAPH_VALIDATION');
    }
    expect(n.attrs.optInt('i', 9)).toBe(3);
    expect(n.attrs.optInt('j', 9)).toBe(9);
    expect(n.attrs.optString('s', 'VALID')).toBe('VALID');
    expect(n.attrs.optFloat('f', 1e-3)).toBe(1e-3);
    expect(n.attrs.optBool('b', false)).toBe(false);
    expect(n.attrs.optType('t')).toBeUndefined();
    expect(n.attrs.optInts('k', [1])).toEqual([1]);
    expect(n.attrs.optShape('sh')).toBeUndefined();
  });

  it('delete, copyFrom keeps the message (and its unknown fields), setAttr chains', () => {
    const g = new Graph();
    const a = g.addNode({ name: 'a', op: 'Op', attrs: { T: { type: 'float32' }, value: { tensor: Tensor.scalar('float32', 1) } } });
    const b = g.addNode({ name: 'b', op: 'Op' }).setAttr('k', { i: 1 });
    b.attrs.copyFrom(a.attrs, 'value', 'v');
    expect(b.attrs.getTensor('v').toNumbers()).toEqual([1]);
    expect(b.attrs.raw()['v']).toBe(a.attrs.raw()['value']);
    expect(b.attrs.delete('k')).toBe(true);
    expect(b.attrs.delete('k')).toBe(false);
    expect(b.attrs.keys()).toEqual(['v']);
  });

  it('attrToJson / attrFromJson are inverses for every kind', () => {
    const samples: AttrJson[] = [
      { s: 'x' }, { i: 42 }, { f: 0.5 }, { b: false }, { type: 'int8' }, { shape: [2, 3] }, { shape: null },
      { func: { name: 'f', attrs: { a: { s: 'y' } } } }, { placeholder: 'dtype' },
      { list: { i: [1, 2] } }, { list: { s: ['p'] } }, { list: { type: ['bool'] } }, { list: { shape: [[1], null] } },
    ];
    for (const j of samples) expect(attrToJson(attrFromJson(j))).toEqual(j);
    expect(attrKind(attrFromJson({ list: { b: [true] } }))).toBe('list(b)');
    const t = attrToJson(attrFromJson({ tensor: Tensor.fromValues('float16', [1], [0.5]) }));
    expect('tensor' in t && t.tensor.toNumbers()).toEqual([0.5]);
  });
});
