import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { Graph, Tensor, readGraph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { readTfjsModel, writeTfjsModel, type ModelJson } from '@tfpass/tfjs-format';
import { createExecutor, randomInputs, useBackend } from '../src/index.js';
import { expectSameOutputs, randomGraph } from '../src/testing.js';

/** Load a model.json folder with tfjs-converter itself (a file IOHandler: Node has no fetch of file://). */
async function tfjsLoad(dir: string): Promise<GraphModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
  const shards = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p))));
  const data = Buffer.concat(shards);
  return loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology as never,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as never,
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      format: json.format,
    }),
  });
}

function mlp(): Graph {
  const g = new Graph();
  const vals = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * k) * 2 - 0.3);
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [-1, 6] } } });
  g.addNode({ name: 'w1', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [6, 5], vals(30, 0.7)) } } });
  g.addNode({ name: 'b1', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [5], vals(5, 1.3)) } } });
  g.addNode({ name: 'w2', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [5, 3], vals(15, 0.37).map((v) => v + 1)) } } });
  g.addNode({ name: 'mm1', op: 'MatMul', inputs: ['x', 'w1'], attrs: { T: { type: 'float32' } } });
  g.addNode({ name: 'h', op: 'BiasAdd', inputs: ['mm1', 'b1'], attrs: { T: { type: 'float32' } } });
  g.addNode({ name: 'r', op: 'Relu', inputs: ['h'], attrs: { T: { type: 'float32' } } });
  g.addNode({ name: 'y', op: 'MatMul', inputs: ['r', 'w2'], attrs: { T: { type: 'float32' } } });
  return g;
}

describe('tfjs-format against tfjs-converter', () => {
  for (const quantize of ['uint8', 'uint16', 'float16'] as const) {
    it(`${quantize}-quantized weights become Consts equal to tfjs-converter's own dequantized weights, and back`, async () => {
      await useBackend('wasm');
      const dir = mkdtempSync(join(tmpdir(), `tfpass-q-${quantize}-`));
      writeTfjsModel(mlp(), dir, { quantize });
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
      expect(json.weightsManifest[0]!.weights.every((w) => w.quantization?.dtype === quantize)).toBe(true);
      const model = await tfjsLoad(dir);
      const g = readTfjsModel(dir);
      for (const name of ['w1', 'b1', 'w2']) {
        const ours = g.node(name).attrs.getTensor('value');
        const theirs = model.weights[name]![0]!;
        expect(ours.dtype).toBe('float32');
        expect(ours.shape).toEqual(theirs.shape);
        expect(Array.from(ours.data as Float32Array)).toEqual(Array.from(theirs.dataSync()));
      }
      // Quantization really happened (values moved) but stayed close.
      const w1 = mlp().node('w1').attrs.getTensor('value').data as Float32Array;
      const q1 = g.node('w1').attrs.getTensor('value').data as Float32Array;
      const err = Math.max(...Array.from(w1, (v, i) => Math.abs(v - q1[i]!)));
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(quantize === 'uint8' ? 0.02 : 1e-3);
      // The converted graph computes what tfjs computes with the quantized model.
      const x = randomInputs({ x: [4, 6] }, 3).x!;
      const [y] = await createExecutor().run(g, { x }, ['y']);
      const ref = model.execute({ x: tf.tensor(x.data as Float32Array, [4, 6]) }, 'y') as tf.Tensor;
      expect(Array.from(y!.data as Float32Array)).toEqual(Array.from(ref.dataSync()));
      // And back: unquantized write of the dequantized graph loads to the same weights.
      const dir2 = mkdtempSync(join(tmpdir(), 'tfpass-q-back-'));
      writeTfjsModel(g, dir2);
      const model2 = await tfjsLoad(dir2);
      for (const name of ['w1', 'b1', 'w2']) expect(Array.from(model2.weights[name]![0]!.dataSync())).toEqual(Array.from(model.weights[name]![0]!.dataSync()));
    });
  }

  it('hand-written quantized int32 weights dequantize with rounding as TF.js does', async () => {
    await useBackend('wasm');
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-qi-'));
    writeTfjsModel(mlp(), dir);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
    const topo = json.modelTopology as { node: { name: string; op: string; attr?: Record<string, unknown> }[] };
    topo.node.push({ name: 'k', op: 'Const', attr: { dtype: { type: 'DT_INT32' }, value: { tensor: { dtype: 'DT_INT32', tensorShape: { dim: [{ size: '4' }] } } } } });
    json.weightsManifest[0]!.weights.push({ name: 'k', shape: [4], dtype: 'int32', quantization: { dtype: 'uint8', scale: 0.7, min: -3.2 } });
    const bin = join(dir, json.weightsManifest[0]!.paths[0]!);
    writeFileSync(bin, Buffer.concat([readFileSync(bin), Buffer.from([0, 1, 9, 255])]));
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    const model = await tfjsLoad(dir);
    const g = readTfjsModel(dir);
    const ours = g.node('k').attrs.getTensor('value');
    expect(ours.dtype).toBe('int32');
    expect(Array.from(ours.data as Int32Array)).toEqual(Array.from(model.weights['k']![0]!.dataSync()));
    expect(Array.from(ours.data as Int32Array)).toEqual([-3, -2, 3, 175]); // Math.round(-2.5) = -2, as in TF.js
  });

  it('round-trips real models and random graphs through model.json with identical outputs', async () => {
    const p = modelPath('keras-mobilenet-0.25-128/mnet.pb');
    if (p) {
      const g = readGraph(p);
      const dir = mkdtempSync(join(tmpdir(), 'tfpass-rt-'));
      writeTfjsModel(g, dir, { shardBytes: 256 * 1024 });
      const back = readTfjsModel(dir);
      expect(back.size).toBe(g.size);
      for (const n of g) expect(back.node(n.name).inputs).toEqual(n.inputs.filter((s) => !s.startsWith('^')));
      const rep = await expectSameOutputs(g, back, { inputs: { input_1: [1, 128, 128, 3] }, outputs: ['output_0'], atol: 0, rtol: 0 });
      expect(rep.outputs[0]!.maxAbsError).toBe(0);
    }
    for (let s = 1; s <= 3; s++) {
      const { graph, inputs, outputs } = randomGraph(100 + s);
      const dir = mkdtempSync(join(tmpdir(), 'tfpass-rg-'));
      writeTfjsModel(graph, dir);
      await expectSameOutputs(graph, readTfjsModel(dir), { inputs, outputs, atol: 0, rtol: 0 });
    }
  });
});
