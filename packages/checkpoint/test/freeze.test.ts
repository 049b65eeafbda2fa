import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, readGraph, readModel } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { FreezeError, restoreVariables, diffCheckpoints, formatDiff, formatListing, freezeGraph, freezeGraphWithReport, listCheckpoint, readCheckpoint, writeCheckpoint } from '../src/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'tfpass-freeze-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const M = modelsDir();

/** Same dtype, shape and bytes (fast for big tensors, unlike a deep equality). */
function sameTensor(a: Tensor | undefined, b: Tensor): boolean {
  if (!a || a.dtype !== b.dtype || a.shape.join(',') !== b.shape.join(',')) return false;
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}

function consts(g: Graph): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const n of g) if (n.op === 'Const') m.set(n.name, n.attrs.getTensor('value'));
  return m;
}

describe.runIf(M)('freeze real models', () => {
  it('tf2onnx-regression: checkpoint + meta graph reproduce frozen.pb', () => {
    const r = freezeGraphWithReport({
      inputGraph: join(M!, 'tf2onnx-regression/checkpoint/model.meta'),
      inputCheckpoint: join(M!, 'tf2onnx-regression/checkpoint'),
      outputNodeNames: 'pred',
    });
    const ref = readGraph(join(M!, 'tf2onnx-regression/graphdef/frozen.pb'));
    expect(r.variables.map((v) => v.node).sort()).toEqual(['W', 'b']);
    expect(r.graph.nodes().map((n) => `${n.name}:${n.op}`).sort()).toEqual(ref.nodes().map((n) => `${n.name}:${n.op}`).sort());
    const a = consts(r.graph);
    const b = consts(ref);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [k, t] of b) {
      expect(a.get(k)!.dtype).toBe(t.dtype);
      expect(a.get(k)!.shape).toEqual(t.shape);
      expect(a.get(k)!.data).toEqual(t.data);
    }
    // Nothing of the training/saver machinery survives.
    expect(r.graph.nodes().some((n) => /Assign|Save|Restore|Apply/.test(n.op))).toBe(false);
  });

  it('tf2onnx-regression: the SavedModel directory freezes with its own variables', () => {
    const g = freezeGraph({ inputGraph: join(M!, 'tf2onnx-regression/saved_model'), outputNodeNames: ['pred'] });
    const ref = consts(readGraph(join(M!, 'tf2onnx-regression/graphdef/frozen.pb')));
    for (const [k, t] of ref) expect(g.node(k).attrs.getTensor('value').data).toEqual(t.data);
  });

  it('edgetpu-qat-fashion-mlp: checkpoint values equal the frozen constants by name', () => {
    const ckpt = readCheckpoint(join(M!, 'edgetpu-qat-fashion-mlp/checkpoints'));
    const frozen = consts(readGraph(join(M!, 'edgetpu-qat-fashion-mlp/frozen_model.pb')));
    let matched = 0;
    for (const [name, t] of frozen) {
      if (!ckpt.has(name)) continue;
      expect(sameTensor(ckpt.read(name), t), name).toBe(true);
      matched++;
    }
    // 2 dense layers x (kernel, bias) + 4 BN params + 6 quantizers x (min, max).
    expect(matched).toBe(20);
  });

  it('edgetpu-qat-fashion-mlp: the training meta graph freezes (resource + ref variables)', () => {
    const r = freezeGraphWithReport({
      inputGraph: join(M!, 'edgetpu-qat-fashion-mlp/checkpoints.meta'),
      inputCheckpoint: join(M!, 'edgetpu-qat-fashion-mlp/checkpoint'),
      outputNodeNames: 'dense_1/Softmax',
    });
    const ops = new Set(r.graph.nodes().map((n) => n.op));
    for (const op of ['VarHandleOp', 'VariableV2', 'ReadVariableOp', 'AssignVariableOp', 'Assign', 'SaveV2', 'RestoreV2']) expect(ops.has(op), op).toBe(false);
    const frozen = consts(readGraph(join(M!, 'edgetpu-qat-fashion-mlp/frozen_model.pb')));
    for (const v of r.variables) {
      const ref = frozen.get(v.node);
      if (ref) expect(sameTensor(r.graph.node(v.node).attrs.getTensor('value'), ref), v.node).toBe(true);
    }
    expect(r.variables.filter((v) => frozen.has(v.node)).length).toBeGreaterThanOrEqual(16);
    r.graph.validate();
    // The quant-delay step counter's AssignAdd is read as data: redirected to the frozen value.
    expect(r.rewired.map((x) => x.update)).toContain('fake_quantization_step/AssignAdd');
  });

  it('tf-serving-half-plus-two: frozen y = 0.5x + 2', () => {
    const g = freezeGraph({ inputGraph: join(M!, 'tf-serving-half-plus-two'), outputNodeNames: 'y' });
    expect(g.node('a').op).toBe('Const');
    expect(g.node('a').attrs.getTensor('value').toNumbers()).toEqual([0.5]);
    expect(g.node('b').attrs.getTensor('value').toNumbers()).toEqual([2]);
    expect(g.has('c')).toBe(false);
    expect(g.has('save/RestoreV2')).toBe(false);
    // y = Identity(Add(Mul(a/read, x), b/read))
    expect(g.node('Mul').inputs).toEqual(['a/read', 'x']);
    expect(g.node('Add').inputs).toEqual(['Mul', 'b/read']);
  });

  it('lists every missing variable at once', () => {
    const partial = join(tmp, 'partial');
    const src = readCheckpoint(join(M!, 'tf-serving-half-plus-two/variables/variables'));
    writeCheckpoint(partial, { a2: src.read('a2') });
    let err: unknown;
    try {
      freezeGraph({ inputGraph: join(M!, 'tf-serving-half-plus-two'), inputCheckpoint: partial, outputNodeNames: 'y,y2,y3' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FreezeError);
    expect((err as FreezeError).missing.sort()).toEqual(['a', 'b', 'c', 'c2']);
    expect((err as FreezeError).message).toMatch(/4 variable\(s\)/);
    expect((err as FreezeError).code).toBe('E_CHECKPOINT');
  });

  it('the seed pitfall: a Saver that skipped the fake-quant ranges is caught, every range named', () => {
    const src = readCheckpoint(join(M!, 'edgetpu-qat-fashion-mlp/checkpoints'));
    const kept = new Map([...src.readAll()].filter(([k]) => !/quant/.test(k)));
    const p = join(tmp, 'noquant');
    writeCheckpoint(p, kept);
    try {
      freezeGraph({ inputGraph: join(M!, 'edgetpu-qat-fashion-mlp/checkpoints.meta'), inputCheckpoint: p, outputNodeNames: 'dense_1/Softmax' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FreezeError);
      const missing = (e as FreezeError).missing;
      // 6 quantizers x (min, max) + the quant-delay step counter.
      expect(missing.filter((n) => /_quant\/(min|max)$/.test(n))).toHaveLength(12);
      expect(missing).toContain('fake_quantization_step');
      expect(missing.every((n) => /quant/.test(n))).toBe(true);
    }
  });

  it('honours whitelist and blacklist', () => {
    const base = { inputGraph: join(M!, 'tf-serving-half-plus-two'), outputNodeNames: 'y' };
    const w = freezeGraph({ ...base, variableNamesWhitelist: 'a' });
    expect(w.node('a').op).toBe('Const');
    expect(w.node('b').op).toBe('VariableV2');
    const b = freezeGraph({ ...base, variableNamesBlacklist: ['a'] });
    expect(b.node('a').op).toBe('VariableV2');
    expect(b.node('b').op).toBe('Const');
  });

  it('lists and diffs checkpoints', () => {
    const rows = listCheckpoint(join(M!, 'mltf2ed-autoencoder-ckpt/model.ckpt'));
    expect(rows).toHaveLength(12);
    expect(rows.find((r) => r.name === 'encode/weights')).toMatchObject({ dtype: 'float32', shape: [4, 1], bytes: 16 });
    const p = join(tmp, 'diffme');
    const c = readCheckpoint(join(M!, 'tf-serving-half-plus-two/variables/variables'));
    writeCheckpoint(p, { a: c.read('a'), b: Tensor.fromValues('float32', [], [2.5]), d: Tensor.scalar('int32', 1), c2: Tensor.fromValues('float32', [2], [1, 2]) });
    const d = diffCheckpoints(c, p);
    expect(d.map((r) => `${r.name}:${r.kind}`)).toEqual(['a2:only_a', 'b:values', 'c:only_a', 'c2:shape', 'd:only_b']);
    expect(d[1]!.maxAbsDiff).toBe(0.5);
    expect(formatDiff(d).split('\n')[1]).toBe('~ b  1/1 values differ, max |a-b| = 0.5');
    expect(formatDiff(diffCheckpoints(c, c))).toBe('identical');
    const text = formatListing(rows).split('\n');
    expect(text).toHaveLength(13);
    expect(text[12]).toBe(`12 tensors, ${rows.reduce((s, r) => s + r.bytes, 0)} bytes`);
    expect(text.find((l) => l.startsWith('encode/weights '))).toMatch(/float32\s+\[4,1\]\s+16$/);
  });
});

describe('freeze synthetic graphs', () => {
  function resourceGraph(): Graph {
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'w', op: 'VarHandleOp', attrs: { dtype: { type: 'float32' }, shape: { shape: [2] }, shared_name: { s: 'w' } } });
    g.addNode({ name: 'w/Read/ReadVariableOp', op: 'ReadVariableOp', inputs: ['w'], attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'emb', op: 'VarHandleOp', attrs: { dtype: { type: 'float32' }, shape: { shape: [3, 2] }, shared_name: { s: 'emb_shared' } } });
    g.addNode({ name: 'ids', op: 'Placeholder', attrs: { dtype: { type: 'int32' } } });
    g.addNode({ name: 'gather', op: 'ResourceGather', inputs: ['emb', 'ids'], attrs: { dtype: { type: 'float32' }, Tindices: { type: 'int32' } } });
    g.addNode({ name: 'upd', op: 'AssignAddVariableOp', inputs: ['w', 'x'], attrs: { dtype: { type: 'float32' } } });
    g.addNode({ name: 'mul', op: 'Mul', inputs: ['x', 'w/Read/ReadVariableOp', '^upd'], attrs: { T: { type: 'float32' } } });
    g.addNode({ name: 'out', op: 'Add', inputs: ['mul', 'gather'], attrs: { T: { type: 'float32' } } });
    return g;
  }
  it('turns resource variables into Consts, reads into Identity, gathers into GatherV2, and drops update control deps', () => {
    const p = join(tmp, 'res');
    writeCheckpoint(p, { w: Tensor.fromValues('float32', [2], [1, 2]), emb_shared: Tensor.fromValues('float32', [3, 2], [1, 2, 3, 4, 5, 6]) });
    const g = freezeGraph({ inputGraph: resourceGraph(), inputCheckpoint: p, outputNodeNames: 'out' });
    expect(g.node('w').op).toBe('Const');
    expect(g.node('w/Read/ReadVariableOp').op).toBe('Identity');
    expect(g.node('w/Read/ReadVariableOp').attrs.getType('T')).toBe('float32');
    expect(g.node('gather').op).toBe('GatherV2');
    expect(g.node('gather').inputs).toEqual(['emb', 'ids', 'gather/axis']);
    expect(g.node('emb').attrs.getTensor('value').shape).toEqual([3, 2]);
    expect(g.has('upd')).toBe(false);
    expect(g.node('mul').inputs).toEqual(['x', 'w/Read/ReadVariableOp']);
    g.validate();
  });
  it('reports dtype and shape mismatches together with missing variables', () => {
    const p = join(tmp, 'bad');
    writeCheckpoint(p, { w: Tensor.fromValues('float32', [3], [1, 2, 3]) });
    try {
      freezeGraph({ inputGraph: resourceGraph(), inputCheckpoint: p, outputNodeNames: 'out' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FreezeError);
      expect((e as FreezeError).problems.map((x) => `${x.node}:${x.problem}`)).toEqual(['w:shape', 'emb:missing']);
      expect((e as Error).message).toMatch(/emb \(checkpoint key 'emb_shared'\)/);
    }
  });
  it('rejects unknown outputs, naming them all', () => {
    expect(() => freezeGraph({ inputGraph: resourceGraph(), outputNodeNames: 'out,nope,nada' })).toThrow(/nope, nada/);
  });
});

describe('partitioned variables', () => {
  it('freezes each part from the sliced checkpoint tensor named by the restore op', () => {
    const full = Tensor.fromValues('float32', [4, 3], Array.from({ length: 12 }, (_, i) => i));
    const p = join(tmp, 'parts');
    writeCheckpoint(p, {
      w: { dtype: 'float32', shape: [4, 3], slices: [
        { extents: [{ start: 0, length: 2 }, { start: 0, length: -1 }], tensor: Tensor.fromValues('float32', [2, 3], [0, 1, 2, 3, 4, 5]) },
        { extents: [{ start: 2, length: 2 }, { start: 0, length: -1 }], tensor: Tensor.fromValues('float32', [2, 3], [6, 7, 8, 9, 10, 11]) },
      ] },
    });
    expect(readCheckpoint(p).read('w').data).toEqual(full.data);
    const g = new Graph();
    const str = (v: string[]) => ({ dtype: { type: 'string' as const }, value: { tensor: Tensor.fromValues('string', [v.length], v) } });
    for (const i of [0, 1]) g.addNode({ name: `w/part_${i}`, op: 'VariableV2', attrs: { dtype: { type: 'float32' }, shape: { shape: [2, 3] } } });
    g.addNode({ name: 'save/Const', op: 'Const', attrs: { dtype: { type: 'string' }, value: { tensor: Tensor.scalar('string', 'model') } } });
    g.addNode({ name: 'save/RestoreV2/tensor_names', op: 'Const', attrs: str(['w', 'w']) });
    g.addNode({ name: 'save/RestoreV2/shape_and_slices', op: 'Const', attrs: str(['4 3 0,2:-', '4 3 2,2:0,3']) });
    g.addNode({ name: 'save/RestoreV2', op: 'RestoreV2', inputs: ['save/Const', 'save/RestoreV2/tensor_names', 'save/RestoreV2/shape_and_slices'], attrs: { dtypes: { list: { type: ['float32', 'float32'] } } } });
    g.addNode({ name: 'save/Assign', op: 'Assign', inputs: ['w/part_0', 'save/RestoreV2'], attrs: { T: { type: 'float32' } } });
    g.addNode({ name: 'save/Assign_1', op: 'Assign', inputs: ['w/part_1', 'save/RestoreV2:1'], attrs: { T: { type: 'float32' } } });
    g.addNode({ name: 'axis', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.scalar('int32', 0) } } });
    g.addNode({ name: 'w/concat', op: 'ConcatV2', inputs: ['w/part_0', 'w/part_1', 'axis'], attrs: { N: { i: 2 }, T: { type: 'float32' }, Tidx: { type: 'int32' } } });
    const r = freezeGraphWithReport({ inputGraph: g, inputCheckpoint: p, outputNodeNames: 'w/concat' });
    expect(r.variables.map((v) => `${v.node}<-${v.key}`)).toEqual(['w/part_0<-w', 'w/part_1<-w']);
    expect(r.graph.node('w/part_0').attrs.getTensor('value').toNumbers()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(r.graph.node('w/part_1').attrs.getTensor('value').toNumbers()).toEqual([6, 7, 8, 9, 10, 11]);
    expect(r.graph.has('save/RestoreV2')).toBe(false);
  });
});

describe.runIf(M)('selective restore', () => {
  it('reports restored, skipped, missing, mismatched and unused tensors', () => {
    const r = restoreVariables(join(M!, 'mltf2ed-autoencoder-ckpt/model.ckpt'), {
      'encode/weights': { dtype: 'float32', shape: [4, 1] },
      'encode/biases': { dtype: 'float32', shape: [-1] },
      'decode/weights': { dtype: 'float32', shape: [2, 4] },
      'decode/biases': { dtype: 'float32', shape: [4] },
      'new/quant/min': { dtype: 'float32', shape: [] },
    }, { exclude: 'quant|Quant|Batch|^decode/biases' });
    expect([...r.restored.keys()]).toEqual(['encode/weights', 'encode/biases']);
    expect(r.skipped).toEqual(['decode/biases', 'new/quant/min']);
    expect(r.missing).toEqual([]);
    expect(r.mismatched).toEqual([{ name: 'decode/weights', want: 'float32[2,4]', have: 'float32[1,4]' }]);
    expect(r.unused.filter((n) => /RMSProp/.test(n))).toHaveLength(8);
  });
});
