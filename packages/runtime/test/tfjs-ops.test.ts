import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, UnsupportedOpError } from '@tfpass/core';
import { buildGraphModel, createExecutor, hasKernel, supportsOp, tfjsOps, useBackend } from '../src/index.js';

/** Range-like graph: three int32 scalars (or vectors) feeding one `op` node 'y'. */
function rangeGraph(op: string): Graph {
  const g = new Graph();
  const scalar = (name: string, v: number) =>
    g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', op === 'Range' ? [] : [1], [v]) } } });
  scalar('start', 0);
  scalar('limit', 5);
  scalar('delta', 1);
  g.addNode({ name: 'y', op, inputs: ['start', 'limit', 'delta'], attrs: { Tidx: { type: 'int32' }, T: { type: 'int32' } } });
  return g;
}

describe('tfjsOps(): the ops tfjs-converter maps natively', () => {
  it('holds core, control-flow and graph ops of the converter', () => {
    const ops = tfjsOps();
    for (const op of ['Conv2D', 'DepthwiseConv2dNative', 'AddV2', 'MatMul', 'BiasAdd', 'Relu6', 'FusedBatchNormV3', 'Enter', 'Switch', 'Merge', 'Identity', 'Range']) {
      expect(ops.has(op), op).toBe(true);
    }
    // 19 op lists, each op named once; a few hundred in 4.22.
    expect(ops.size).toBeGreaterThan(200);
  });

  it('leaves out ops the converter has no mapping for, and tfpass-only kernels', () => {
    const ops = tfjsOps();
    for (const op of ['QuantizedConv2D', 'Requantize', 'QuantizeV2', 'Dequantize', 'FakeQuantWithMinMaxArgs', 'CheckNumerics', 'BroadcastGradientArgs']) {
      expect(ops.has(op), op).toBe(false);
    }
    // Shipped as op lists, but tfjs-converter 4.22's OperationMapper does not load them.
    for (const op of ['RaggedRange', 'RaggedGather', 'RaggedTensorToTensor', 'SimpleMLCreateModelResource']) {
      expect(ops.has(op), op).toBe(false);
      expect(supportsOp(op), op).toBe(false);
    }
    // tfpass kernels are supported through the registry, not the converter list.
    expect(hasKernel('Dequantize') && supportsOp('Dequantize')).toBe(true);
  });

  it('agrees with the converter itself: Range runs, RaggedRange does not', async () => {
    await useBackend('cpu');
    const ok = buildGraphModel(rangeGraph('Range'));
    const y = ok.execute({}, 'y') as { dataSync(): ArrayLike<number> };
    expect(Array.from(y.dataSync())).toEqual([0, 1, 2, 3, 4]);
    // Straight through tfjs-converter (no tfpass check in between) the ragged op fails...
    const bad = buildGraphModel(rangeGraph('RaggedRange'));
    expect(() => bad.execute({}, 'y')).toThrow(/RaggedRange/);
    // ...so the executor refuses it up front with the typed error.
    await expect(createExecutor().run(rangeGraph('RaggedRange'), {}, ['y'])).rejects.toBeInstanceOf(UnsupportedOpError);
  });

  it('is not read by scraping tfjs-converter files: no runtime module reads them from disk', () => {
    const dir = join(import.meta.dirname, '..', 'src');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files).toContain(join('kernels', 'tfjs-ops.ts'));
    for (const f of files) {
      const src = readFileSync(join(dir, f), 'utf8');
      const readsFs = /\breadFileSync\b|\breaddirSync\b/.test(src);
      expect(readsFs && src.includes('tfjs-converter'), f).toBe(false);
    }
  });
});
