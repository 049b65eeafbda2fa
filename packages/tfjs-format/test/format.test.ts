import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, Tensor } from '@tfpass/core';
import { artifactsToGraph, graphToArtifacts, readTfjsModel, writeTfjsModel } from '../src/index.js';

function small(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [-1, 3] } } });
  g.addNode({ name: 'w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [3, 2], [0.5, -1, 2, 0.25, -3, 1.5]) } } });
  g.addNode({ name: 'shape', op: 'Const', attrs: { dtype: { type: 'int64' }, value: { tensor: Tensor.fromValues('int64', [2], [-1, 2]) } } });
  g.addNode({ name: 'mm', op: 'MatMul', inputs: ['x', 'w'], attrs: { T: { type: 'float32' }, transpose_a: { b: false }, transpose_b: { b: false } } });
  g.addNode({ name: 'out', op: 'Reshape', inputs: ['mm', 'shape'], attrs: { T: { type: 'float32' }, Tshape: { type: 'int64' } } });
  return g;
}

describe('tfjs-format', () => {
  it('round-trips a graph in memory and through files', () => {
    const g = small();
    const a = graphToArtifacts(g);
    expect(a.weightSpecs.map((s) => [s.name, s.dtype])).toEqual([['w', 'float32'], ['shape', 'int32']]);
    const back = artifactsToGraph(a);
    expect(back.node('w').attrs.getTensor('value').toNumbers()).toEqual([0.5, -1, 2, 0.25, -3, 1.5]);
    expect(back.node('shape').attrs.getTensor('value').dtype).toBe('int64');
    expect(back.node('out').inputs).toEqual(['mm', 'shape']);
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-tfjs-'));
    const files = writeTfjsModel(g, dir);
    expect(files[0]).toBe(join(dir, 'model.json'));
    const r = readTfjsModel(dir);
    expect(r.nodes().map((n) => n.name)).toEqual(g.nodes().map((n) => n.name));
    expect(r.node('shape').attrs.getTensor('value').toNumbers()).toEqual([-1, 2]);
  });
});
