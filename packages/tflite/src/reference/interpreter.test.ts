import { describe, expect, it } from 'vitest';
import type { Model, Tensor } from '../model.js';
import { runReference } from './interpreter.js';

/** x[1,4,4,1] int8 → CONV_2D 2×2 VALID (2 filters, per-channel) → y, with knobs to break it. */
function conv(o: { outShape?: number[]; scales?: number[]; op?: string; xShape?: number[] } = {}): Model {
  const q = (scale: number[], zeroPoint: number[]) => ({ scale, zeroPoint });
  const tensors: Tensor[] = [
    { name: 'x', type: 'int8', shape: o.xShape ?? [1, 4, 4, 1], buffer: 0, quantization: q([0.1], [0]) },
    { name: 'w', type: 'int8', shape: [2, 2, 2, 1], buffer: 1, quantization: q(o.scales ?? [0.01, 0.02], [0, 0]) },
    { name: 'y', type: 'int8', shape: o.outShape ?? [1, 3, 3, 2], buffer: 0, quantization: q([0.05], [-3]) },
  ];
  return {
    version: 3,
    operatorCodes: [{ builtin: o.op ?? 'CONV_2D', version: 3 }],
    subgraphs: [{ tensors, inputs: [0], outputs: [2], operators: [{ opcodeIndex: 0, inputs: [0, 1, -1], outputs: [2], builtinOptions: { type: 'Conv2DOptions', padding: 'VALID', strideW: 1, strideH: 1, fusedActivationFunction: 'NONE' } }] }],
    buffers: [{}, { data: new Uint8Array(Int8Array.from([10, 20, -30, 40, 127, -127, 5, 6]).buffer) }],
    metadata: [],
    signatureDefs: [],
  };
}

describe('reference interpreter', () => {
  it('computes a per-channel int8 conv by hand (no bias, VALID)', () => {
    const x = Int8Array.from({ length: 16 }, (_, i) => i - 8);
    const y = runReference(conv(), { x }).outputs.y as Int8Array;
    // Channel 0 at (0,0): taps x[0],x[1],x[4],x[5] = −8,−7,−4,−3 with w 10,20,−30,40 → acc −220;
    // real = −220·0.1·0.01 = −0.22 → q = round(−0.22/0.05) − 3 = round(−4.4) − 3 = −7.
    expect(y[0]).toBe(-7);
    // Channel 1 at (0,0): w 127,−127,5,6 → acc −1016 + 889 − 20 − 18 = −165; ·0.1·0.02/0.05 = −6.6 → −7 − 3 = −10.
    expect(y[1]).toBe(-10);
    expect(y.length).toBe(18);
  });

  it('bad models give one-line E_GRAPH_FORMAT / E_UNSUPPORTED_OP errors naming the operator', () => {
    const x = new Int8Array(16);
    const err = (m: Model, feed: Record<string, Int8Array> = { x }) => {
      try {
        runReference(m, feed);
      } catch (e) {
        return e as { code: string; message: string };
      }
      throw new Error('no error');
    };
    let e = err(conv({ outShape: [1, 4, 4, 2] }));
    expect(e.code).toBe('E_GRAPH_FORMAT');
    expect(e.message).toMatch(/^operator #0 CONV_2D -> 'y': output shape \[1,4,4,2\] differs from \[1,3,3,2\]/);
    e = err(conv({ scales: [0.1, 0.2, 0.3] }));
    expect(e.message).toMatch(/3 weight scales for 2 output channels/);
    e = err(conv({ op: 'GATHER' }));
    expect(e.code).toBe('E_UNSUPPORTED_OP');
    expect(e.message).toMatch(/^node 'operator #0 -> y': op 'GATHER' is not supported — no reference kernel/);
    e = err(conv({ xShape: [1, 4, 4, 3] }), { x: new Int8Array(48) });
    expect(e.message).toMatch(/filter \[2,2,2,1\] \(OHWI\) does not match input \[1,4,4,3\]/);
    e = err(conv({ outShape: [1, 3, 3, 2 ** 30] }));
    expect(e.code).toBe('E_GRAPH_FORMAT');
    e = err(conv(), {});
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toMatch(/input 'x' \(int8\[1,4,4,1\]\) is not fed/);
    for (const m of [e.message]) expect(m).not.toMatch(/\n/);
  });
});
