import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, Tensor } from '@tfpass/core';
import { artifactsToGraph, decodeWeight, graphToArtifacts, quantizeFloat32, readTfjsModel, writeTfjsModel } from '../src/index.js';

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

describe('tfjs-format details', () => {
  it('stores strings, bools, float16 and int64 constants and restores the declared dtypes', () => {
    const g = new Graph();
    g.addNode({ name: 's', op: 'Const', attrs: { dtype: { type: 'string' }, value: { tensor: Tensor.fromValues('string', [2], ['ab', 'héllo']) } } });
    g.addNode({ name: 'b', op: 'Const', attrs: { dtype: { type: 'bool' }, value: { tensor: Tensor.fromValues('bool', [3], [true, false, true]) } } });
    g.addNode({ name: 'h', op: 'Const', attrs: { dtype: { type: 'float16' }, value: { tensor: Tensor.fromValues('float16', [2], [0.5, -2.25]) } } });
    g.addNode({ name: 'i', op: 'Const', attrs: { dtype: { type: 'int64' }, value: { tensor: Tensor.fromValues('int64', [2], [7, -9]) } } });
    const a = graphToArtifacts(g);
    expect(a.weightSpecs.map((w) => w.dtype)).toEqual(['string', 'bool', 'float32', 'int32']);
    const back = artifactsToGraph(a);
    const s = back.node('s').attrs.getTensor('value');
    expect((s.data as Uint8Array[]).map((x) => new TextDecoder().decode(x))).toEqual(['ab', 'héllo']);
    expect(back.node('b').attrs.getTensor('value').toNumbers()).toEqual([1, 0, 1]);
    const h = back.node('h').attrs.getTensor('value');
    expect(h.dtype).toBe('float16');
    expect(h.toNumbers()).toEqual([0.5, -2.25]);
    const i = back.node('i').attrs.getTensor('value');
    expect(i.dtype).toBe('int64');
    expect(i.toNumbers()).toEqual([7, -9]);
    // The topology keeps dtype and shape of each Const but no values.
    const topo = a.modelTopology as { node: { name: string; attr: { value: { tensor: Record<string, unknown> } } }[] };
    const w = topo.node.find((n) => n.name === 'i')!.attr.value.tensor;
    expect(w['dtype']).toBe('DT_INT64');
    expect(w['tensorContent']).toBeUndefined();
  });

  it('quantizes like TF.js: 0 stays exact, error within half a step, constant tensors exact', () => {
    const vals = Float32Array.from({ length: 101 }, (_, i) => -1 + i * 0.025);
    for (const mode of ['uint8', 'uint16'] as const) {
      const { bytes, quantization } = quantizeFloat32(vals, mode);
      const back = decodeWeight({ name: 'w', shape: [101], dtype: 'float32', quantization }, bytes) as Float32Array;
      const step = quantization.scale!;
      expect(Math.max(...Array.from(vals, (v, i) => Math.abs(v - back[i]!)))).toBeLessThanOrEqual(step / 2 + 1e-6);
      expect(back[40]).toBe(0);
    }
    const c = quantizeFloat32(Float32Array.from([0.3, 0.3]), 'uint8');
    expect(Array.from(decodeWeight({ name: 'c', shape: [2], dtype: 'float32', quantization: c.quantization }, c.bytes) as Float32Array)).toEqual([Math.fround(0.3), Math.fround(0.3)]);
  });

  it('reports missing shards, bad JSON and short weight data with the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-tfjs-bad-'));
    writeTfjsModel(small(), dir);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    json.weightsManifest[0]!.paths = ['nope.bin'];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    expect(() => readTfjsModel(dir)).toThrow(/nope\.bin.*missing/);
    writeFileSync(join(dir, 'model.json'), '{oops');
    expect(() => readTfjsModel(join(dir, 'model.json'))).toThrow(/model\.json.*not JSON/);
    const a = graphToArtifacts(small());
    expect(() => artifactsToGraph({ ...a, weightData: a.weightData.slice(0, 8) })).toThrow(/weight 'w' needs bytes/);
  });
});

describe('Buffer inputs', () => {
  it('decodes weights given as a Node Buffer view', () => {
    const a = graphToArtifacts(small());
    const pool = Buffer.alloc(8192, 7);
    const view = pool.subarray(100, 100 + a.weightData.byteLength);
    view.set(new Uint8Array(a.weightData));
    const g = artifactsToGraph({ ...a, weightData: view });
    expect(g.node('w').attrs.getTensor('value').toNumbers()).toEqual([0.5, -1, 2, 0.25, -3, 1.5]);
  });
});
