import { describe, expect, it } from 'vitest';
import { Graph, findMatches, matchAt, parsePattern } from '@tfpass/core';

function bnGraph(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder' });
  g.addNode({ name: 'w', op: 'Const' });
  g.addNode({ name: 'conv', op: 'Conv2D', inputs: ['x', 'w'] });
  g.addNode({ name: 'scale', op: 'Const' });
  g.addNode({ name: 'mul', op: 'Mul', inputs: ['conv', 'scale'] });
  g.addNode({ name: 'dw', op: 'DepthwiseConv2dNative', inputs: ['mul', 'w', '^scale'] });
  g.addNode({ name: 'mul2', op: 'Mul', inputs: ['dw', 'scale'] });
  g.addNode({ name: 'mul3', op: 'Mul', inputs: ['x', 'x'] });
  g.addNode({ name: 'dangling', op: 'Mul', inputs: ['ghost', 'scale'] });
  return g;
}

describe('pattern parser', () => {
  it('parses nesting, alternatives, wildcards and labels', () => {
    expect(parsePattern('Mul(Conv2D|DepthwiseConv2dNative(*, Const as w), Const as scale)')).toEqual({
      op: 'Mul',
      inputs: [
        { op: 'Conv2D|DepthwiseConv2dNative', inputs: [{ op: '*' }, { op: 'Const', label: 'w' }] },
        { op: 'Const', label: 'scale' },
      ],
    });
    expect(parsePattern('  Relu  ')).toEqual({ op: 'Relu' });
    expect(parsePattern('NoOp()')).toEqual({ op: 'NoOp', inputs: [] });
    expect(parsePattern('Add(*,*) as sum')).toEqual({ op: 'Add', inputs: [{ op: '*' }, { op: '*' }], label: 'sum' });
  });
  it('rejects malformed patterns with the column', () => {
    expect(() => parsePattern('Mul(Const')).toThrow(/expected ',' or '\)' at column 10/);
    expect(() => parsePattern('Mul(,Const)')).toThrow(/expected an op name at column 5/);
    expect(() => parsePattern('Mul) x')).toThrow(/unexpected '\) x'/);
    expect(() => parsePattern('')).toThrow(/expected an op name at column 1/);
  });
});

describe('pattern matching', () => {
  it('matches a subgraph and hands back the nodes by position and label', () => {
    const g = bnGraph();
    const m = matchAt(g, g.node('mul'), 'Mul(Conv2D(*, Const as w), Const as scale)')!;
    expect(m).toBeDefined();
    expect(m.node.name).toBe('mul');
    expect(m.inputs.map((i) => i.node.name)).toEqual(['conv', 'scale']);
    expect(m.inputs[0]!.inputs.map((i) => i.node.name)).toEqual(['x', 'w']);
    expect(m.labels.w?.name).toBe('w');
    expect(m.labels.scale?.name).toBe('scale');
  });
  it('does not match a wrong op, too few inputs or a missing producer', () => {
    const g = bnGraph();
    expect(matchAt(g, g.node('mul'), 'Mul(Conv2D(*, Placeholder), Const)')).toBeUndefined();
    expect(matchAt(g, g.node('mul'), 'Add(*, *)')).toBeUndefined();
    expect(matchAt(g, g.node('conv'), 'Conv2D(*, *, *)')).toBeUndefined();
    expect(matchAt(g, g.node('dangling'), 'Mul(*, Const)')).toBeUndefined();
    // control inputs are not data inputs: dw has two data inputs
    expect(matchAt(g, g.node('dw'), 'DepthwiseConv2dNative(*, *, Const)')).toBeUndefined();
    // a pattern without parentheses ignores inputs; with () it only needs zero inputs
    expect(matchAt(g, g.node('conv'), 'Conv2D')).toBeDefined();
    expect(matchAt(g, g.node('conv'), 'Conv2D()')).toBeDefined();
  });
  it('findMatches returns every root in graph order, with alternatives', () => {
    const g = bnGraph();
    const ms = findMatches(g, 'Mul(Conv2D|DepthwiseConv2dNative(*, Const), Const)');
    expect(ms.map((m) => m.node.name)).toEqual(['mul', 'mul2']);
    expect(ms[1]!.inputs[0]!.node.op).toBe('DepthwiseConv2dNative');
    expect(findMatches(g, 'Mul(*, *)').map((m) => m.node.name)).toEqual(['mul', 'mul2', 'mul3']);
    expect(findMatches(g, '*').length).toBe(g.size);
    expect(findMatches(g, { op: 'Mul', inputs: [{ op: 'Placeholder' }, { op: 'Placeholder' }] }).map((m) => m.node.name)).toEqual(['mul3']);
  });
});
