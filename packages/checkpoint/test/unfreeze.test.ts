import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, UsageError, decodeVariableDef, metaCollection, metaSaver, readGraph, readModel } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { freezeGraphWithReport, listCheckpoint, readCheckpoint, selectUnfreezeConsts, unfreezeGraph, writeUnfrozen } from '../src/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'tfpass-unfreeze-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const M = modelsDir();

function bytesOf(t: Tensor): Buffer {
  const d = t.data as Float32Array;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

/** unfreeze -> write -> read back -> freeze; every original Const must come back with identical bytes. */
function roundTrip(src: Graph, outputs: string[], dir: string, pattern?: string) {
  const u = unfreezeGraph(src, { pattern });
  const w = writeUnfrozen(u, dir);
  const r = freezeGraphWithReport({ inputGraph: w.metaFile, inputCheckpoint: dir, outputNodeNames: outputs });
  for (const n of src) {
    if (n.op !== 'Const') continue;
    const got = r.graph.get(n.name);
    expect(got?.op, n.name).toBe('Const');
    const a = got!.attrs.getTensor('value');
    const b = n.attrs.getTensor('value');
    expect(a.dtype, n.name).toBe(b.dtype);
    expect(a.shape, n.name).toEqual(b.shape);
    if (b.dtype !== 'string') expect(bytesOf(a).equals(bytesOf(b)), n.name).toBe(true);
  }
  return { u, w, r };
}

describe.runIf(M)('unfreeze real frozen graphs', () => {
  it('edgetpu-qat-fashion-mlp: MatMul/BiasAdd weights and fake-quant ranges become variables and freeze back', async () => {
    const src = readGraph(join(M!, 'edgetpu-qat-fashion-mlp/frozen_model.pb'));
    const { u, w, r } = roundTrip(src, ['dense_1/Softmax'], join(tmp, 'mlp'));
    const names = u.variables.map((v) => v.name);
    expect(names).toContain('dense/kernel');
    expect(names).toContain('dense_1/bias');
    expect(names).toContain('dense/weights_quant/min');
    expect(u.variables.find((v) => v.name === 'dense/weights_quant/min')!.trainable).toBe(false);
    expect(u.variables.find((v) => v.name === 'dense/kernel')!.trainable).toBe(true);
    expect(r.variables).toHaveLength(u.variables.length);
    // The written MetaGraphDef carries a saver and the variable collections.
    const meta = readModel(w.metaFile);
    expect(meta.kind).toBe('meta');
    expect(metaSaver(meta)).toMatchObject({ filenameTensorName: 'save/Const:0', restoreOpName: 'save/restore_all', version: 2 });
    const vars = metaCollection(meta, 'variables')!.bytes!.map(decodeVariableDef);
    expect(vars.map((v) => v.variableName)).toContain('dense/kernel:0');
    expect(vars.find((v) => v.variableName === 'dense/kernel:0')).toMatchObject({ initializerName: 'dense/kernel/Assign', trainable: true });
    expect(metaCollection(meta, 'trainable_variables')!.bytes!.length).toBe(u.variables.filter((v) => v.trainable).length);
    expect(readFileSync(w.stateFile, 'utf8')).toMatch(/model_checkpoint_path: "model"/);
    expect(listCheckpoint(w.prefix).map((x) => x.name)).toEqual([...names].sort());
    // The refrozen graph computes what the original computed.
    await expectSameOutputs(src, r.graph, { inputs: { flatten_input: { shape: [4, 28, 28], low: 0, high: 1 } }, outputs: ['dense_1/Softmax'], atol: 0, rtol: 0 });
  });

  it('keras mobilenet: conv, depthwise and batch-norm parameters round-trip', () => {
    const src = readGraph(join(M!, 'keras-mobilenet-0.25-128/mnet.pb'));
    const outs = src.nodes().filter((n) => src.consumerCount(n.name) === 0 && n.op !== 'NoOp' && n.op !== 'Const').map((n) => n.name);
    const chosen = selectUnfreezeConsts(src);
    // 27 conv/depthwise kernels + 27 decomposed batch norms x (gamma, beta, mean, variance).
    expect(chosen.size).toBe(27 * 5);
    expect(chosen.get('conv_dw_1/depthwise_kernel')).toBe(true);
    expect(chosen.get('conv1_bn/gamma')).toBe(true);
    expect(chosen.get('conv1_bn/beta')).toBe(true);
    expect(chosen.get('conv1_bn/moving_mean')).toBe(false);
    expect(chosen.get('conv1_bn/moving_variance')).toBe(false);
    const { u, r } = roundTrip(src, outs, join(tmp, 'mnet'));
    expect(u.variables).toHaveLength(135);
    expect(r.variables).toHaveLength(135);
  });

  it('tf2onnx-regression: a pattern picks Consts the default would not', () => {
    const src = readGraph(join(M!, 'tf2onnx-regression/graphdef/frozen.pb'));
    expect(() => unfreezeGraph(src)).toThrow(UsageError);
    const { u, r } = roundTrip(src, ['pred'], join(tmp, 'reg'), '^(W|b)$');
    expect(u.variables.map((v) => v.name)).toEqual(['W', 'b']);
    // The frozen graph already had W/read: it is reused, not duplicated.
    expect(u.model.graph.has('W/read_1')).toBe(false);
    expect(r.graph.node('Mul').inputs).toEqual(['X', 'W/read']);
    expect(readCheckpoint(join(tmp, 'reg')).read('W').toNumbers()).toEqual(src.node('W').attrs.getTensor('value').toNumbers());
  });
});
