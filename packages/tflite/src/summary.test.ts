/** summarizeTflite on tiny_conv.tflite (spec §3.3) and MACs on hand-built conv/depthwise/FC. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelsDir } from '@tfpass/core/testing';
import type { Model } from './model.js';
import { formatTfliteSummary, readTflite, summarizeTflite } from './index.js';

const dir = modelsDir();

describe.skipIf(!dir)('summarizeTflite(tiny_conv.tflite)', () => {
  const s = dir ? summarizeTflite(readTflite(readFileSync(join(dir, 'speech-tiny-conv-qat/tiny_conv.tflite')))) : undefined!;

  it('operators, versions, params and MACs', () => {
    const ops = s.subgraphs[0]!.operators;
    expect(ops.map((o) => [o.builtin, o.version])).toEqual([['DEPTHWISE_CONV_2D', 1], ['FULLY_CONNECTED', 1], ['SOFTMAX', 1]]);
    // DW: weights 1·10·8·8 + bias 8; output 1·49·20·8 elements × 10·8 taps.
    expect([ops[0]!.params, ops[0]!.macs]).toEqual([648, 49 * 20 * 8 * 80]);
    // FC: weights 6·7840 + bias 6; 6 outputs × 7840 inputs.
    expect([ops[1]!.params, ops[1]!.macs]).toEqual([6 * 7840 + 6, 6 * 7840]);
    expect([s.params, s.macs]).toEqual([648 + 47046, 627200 + 47040]);
    expect(ops[0]!.options).toMatchObject({ type: 'DepthwiseConv2DOptions', depthMultiplier: 8, padding: 'SAME' });
  });

  it('inputs/outputs with quantization, buffers, metadata', () => {
    const g = s.subgraphs[0]!;
    expect(g.inputs.map((t) => [t.name, t.type, t.shape, t.quantization?.zeroPoint])).toEqual([['Reshape_2', 'uint8', [1, 98, 40, 1], [0]]]);
    expect(g.outputs[0]!.quantization).toEqual({ scale: [0.00390625], zeroPoint: [0], min: [0], max: [0.99609375] });
    expect(s.minRuntimeVersion).toBe('1.5.0');
    expect(s.buffers).toMatchObject({ count: 10, withData: 5, dataBytes: 24 + 47040 + 640 + 32 + 5 });
    expect(s.operatorCodes.map((c) => c.uses)).toEqual([1, 1, 1]);
    const text = formatTfliteSummary(s, { file: 'tiny_conv.tflite' }).join('\n');
    expect(text).toContain('Op types used: 1 DEPTHWISE_CONV_2D v1, 1 FULLY_CONNECTED v1, 1 SOFTMAX v1');
    expect(text).toMatch(/weights_quant\/FakeQuantWithMinMaxVars +uint8 +\[1,10,8,8\] +buffer 3 \(640 B\) +scale=0\.00071473193 zero_point=132 range=\[-0\.09362264, 0\.087919265\]/);
    // The JSON form is plain data.
    expect(JSON.parse(JSON.stringify(s)).subgraphs[0].tensors).toHaveLength(8);
  });
});

describe('MACs and per-axis quantization on a hand-built model', () => {
  const w = (n: number) => ({ data: new Uint8Array(n) });
  const m: Model = {
    version: 3,
    operatorCodes: [{ builtin: 'CONV_2D', version: 3 }, { builtin: 'DEPTHWISE_CONV_2D', version: 3 }, { builtin: 'FULLY_CONNECTED', version: 4 }],
    buffers: [{}, w(16 * 3 * 3 * 8), w(16 * 4), w(3 * 3 * 32), w(10 * 7 * 7 * 32)],
    subgraphs: [{
      inputs: [0], outputs: [6],
      tensors: [
        { name: 'x', type: 'int8', shape: [1, 16, 16, 8], buffer: 0 },
        { name: 'cw', type: 'int8', shape: [16, 3, 3, 8], buffer: 1, quantization: { scale: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16].map((x) => x / 64), zeroPoint: new Array(16).fill(0), quantizedDimension: 0 } },
        { name: 'cb', type: 'int32', shape: [16], buffer: 2 },
        { name: 'c', type: 'int8', shape: [1, 14, 14, 16], buffer: 0 },
        { name: 'dw', type: 'int8', shape: [1, 3, 3, 32], buffer: 3 },
        { name: 'd', type: 'int8', shape: [1, 7, 7, 32], buffer: 0 },
        { name: 'y', type: 'int8', shape: [1, 10], buffer: 0 },
        { name: 'fw', type: 'int8', shape: [10, 7 * 7 * 32], buffer: 4 },
      ],
      operators: [
        { opcodeIndex: 0, inputs: [0, 1, 2], outputs: [3] },
        { opcodeIndex: 1, inputs: [3, 4, -1], outputs: [5] },
        { opcodeIndex: 2, inputs: [5, 7, -1], outputs: [6] },
      ],
    }],
    metadata: [],
    signatureDefs: [],
  };

  it('conv: out·KH·KW·I; depthwise (multiplier 2): out·KH·KW; FC: out·I; optional inputs (−1) skipped', () => {
    const s = summarizeTflite(m);
    const macs = s.subgraphs[0]!.operators.map((o) => o.macs);
    expect(macs).toEqual([14 * 14 * 16 * 3 * 3 * 8, 7 * 7 * 32 * 3 * 3, 10 * 7 * 7 * 32]);
    expect(s.subgraphs[0]!.operators.map((o) => o.params)).toEqual([16 * 72 + 16, 9 * 32, 10 * 1568]);
    const q = s.subgraphs[0]!.tensors[1]!.quantization!;
    expect(q.axis).toBe(0);
    expect(q.scale).toHaveLength(16);
    const text = formatTfliteSummary(s).join('\n');
    expect(text).toContain('scale=16 values 0.015625..0.25 zero_point=16 values 0..0 axis=0');
  });

  it("min_runtime_version as MLIR writes it (16 bytes, NUL-padded) decodes to the version", () => {
    const v = new Uint8Array(16);
    v.set(new TextEncoder().encode('1.14.0'));
    const s = summarizeTflite({ ...m, buffers: [...m.buffers, { data: v }], metadata: [{ name: 'min_runtime_version', buffer: m.buffers.length }] });
    expect(s.minRuntimeVersion).toBe('1.14.0');
    expect(s.metadata).toEqual([{ name: 'min_runtime_version', buffer: 5, bytes: 16, text: '1.14.0' }]);
  });

  it('out-of-flatbuffer buffers (offset > 1, models over 2 GB) count their size', () => {
    const big: Model = { ...m, buffers: [...m.buffers.slice(0, 4), { offset: 4096n, size: BigInt(10 * 1568) }] };
    const s = summarizeTflite(big);
    expect(s.subgraphs[0]!.tensors[7]!).toMatchObject({ constant: true, bytes: 10 * 1568 });
    expect(s.buffers.dataBytes).toBe(16 * 72 + 64 + 288 + 10 * 1568);
  });
});
