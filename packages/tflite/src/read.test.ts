/**
 * The reader on TOCO's own tiny_conv.tflite (spec §3.3 is the expected data) and the round trip
 * through our writer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelsDir } from '@tfpass/core/testing';
import { readTflite, writeTflite } from './index.js';
import { Source } from './fb.js';
import { slotOf } from './schema.js';

const dir = modelsDir();
if (!dir) console.log('skipping tiny_conv.tflite tests: TFPASS_MODELS unset and ../shared/models absent');
const file = dir ? join(dir, 'speech-tiny-conv-qat/tiny_conv.tflite') : '';

/** float32 rounding of a decimal from the spec table, compared to 8 significant digits. */
const f32 = (x: number) => Number(Math.fround(x).toPrecision(8));
const p8 = (xs: number[] | undefined) => xs?.map((x) => Number(x.toPrecision(8)));

describe.skipIf(!dir)('tiny_conv.tflite (TOCO 1.15)', () => {
  const bytes = dir ? new Uint8Array(readFileSync(file)) : new Uint8Array();
  const model = dir ? readTflite(bytes, { file }) : undefined!;
  const sg = () => model.subgraphs[0]!;
  const tensor = (name: string) => sg().tensors.find((t) => t.name === name)!;

  it('has the three operators with their versions and options (spec §3.3)', () => {
    expect(model.version).toBe(3);
    expect(model.description).toBe('TOCO Converted.');
    expect(model.operatorCodes).toEqual([
      { builtin: 'DEPTHWISE_CONV_2D', version: 1 },
      { builtin: 'FULLY_CONNECTED', version: 1 },
      { builtin: 'SOFTMAX', version: 1 },
    ]);
    const [dw, fc, sm] = sg().operators;
    expect(dw).toMatchObject({ opcodeIndex: 0, inputs: [3, 6, 0], outputs: [2] });
    expect(dw!.builtinOptions).toEqual({
      type: 'DepthwiseConv2DOptions', padding: 'SAME', strideW: 2, strideH: 2, depthMultiplier: 8,
      fusedActivationFunction: 'NONE', dilationWFactor: 1, dilationHFactor: 1,
    });
    expect(fc).toMatchObject({ opcodeIndex: 1, inputs: [2, 7, 1], outputs: [4] });
    expect(fc!.builtinOptions).toMatchObject({ type: 'FullyConnectedOptions', fusedActivationFunction: 'NONE', weightsFormat: 'DEFAULT', keepNumDims: false });
    expect(sm).toMatchObject({ opcodeIndex: 2, inputs: [4], outputs: [5], builtinOptions: { type: 'SoftmaxOptions', beta: 1 } });
    expect(sg().inputs.map((i) => sg().tensors[i]!.name)).toEqual(['Reshape_2']);
    expect(sg().outputs.map((i) => sg().tensors[i]!.name)).toEqual(['labels_softmax']);
  });

  it("every tensor's type, shape, scale, zero point and stored min/max are the spec table's", () => {
    const table: [string, string, number[], number, number, [number, number] | undefined][] = [
      ['Reshape_2', 'uint8', [1, 98, 40, 1], 0.1019607, 0, [0, 25.999979]],
      ['weights_quant/FakeQuantWithMinMaxVars', 'uint8', [1, 10, 8, 8], 0.00071473193, 132, [-0.09362264, 0.087919265]],
      ['Conv2D_bias', 'int32', [8], 7.2874565e-5, 0, undefined],
      ['Relu', 'uint8', [1, 49, 20, 8], 0.075291947, 0, [0, 19.199446]],
      ['weights_quant_1/FakeQuantWithMinMaxVars/transpose', 'uint8', [6, 7840], 0.00033219965, 136, [-0.044889241, 0.039489467]],
      ['MatMul_bias', 'int32', [6], 2.5011957e-5, 0, undefined],
      ['add_1', 'uint8', [1, 6], 0.21404096, 137, [-29.323612, 25.256834]],
      ['labels_softmax', 'uint8', [1, 6], 0.00390625, 0, [0, 0.99609375]],
    ];
    expect(sg().tensors).toHaveLength(table.length);
    for (const [name, type, shape, scale, zp, range] of table) {
      const t = tensor(name);
      expect(t, name).toBeDefined();
      expect([t.type, t.shape]).toEqual([type, shape]);
      expect(p8(t.quantization?.scale)).toEqual([f32(scale)]);
      expect(t.quantization?.zeroPoint).toEqual([zp]);
      if (range) {
        expect(p8(t.quantization?.min)).toEqual([f32(range[0])]);
        expect(p8(t.quantization?.max)).toEqual([f32(range[1])]);
      } else {
        expect(t.quantization?.min).toBeUndefined();
      }
      expect(t.quantization?.quantizedDimension).toBeUndefined();
    }
  });

  it('constants have data, activations point at data-less buffers; min_runtime_version is 1.5.0', () => {
    for (const t of sg().tensors) {
      const data = model.buffers[t.buffer]!.data;
      const constant = /bias|weights/.test(t.name);
      expect(!!data, t.name).toBe(constant);
      if (data) expect(data.length).toBe(t.shape.reduce((a, d) => a * d, 1) * (t.type === 'int32' ? 4 : 1));
    }
    expect(model.buffers[0]).toEqual({});
    expect(model.metadata).toEqual([{ name: 'min_runtime_version', buffer: 9 }]);
    expect(new TextDecoder().decode(model.buffers[9]!.data)).toBe('1.5.0');
    expect(model.signatureDefs).toEqual([]);
  });

  it('round trip: the decoded model is identical; buffer bytes identical; the bytes are not (TOCO does not 16-align)', () => {
    const out = writeTflite(model);
    const again = readTflite(out);
    expect(again).toEqual(model);
    for (let i = 0; i < model.buffers.length; i++) {
      expect(Buffer.from(again.buffers[i]!.data ?? []).equals(Buffer.from(model.buffers[i]!.data ?? [])), `buffer ${i}`).toBe(true);
    }
    // Byte identity is impossible by design: TOCO leaves data 4-aligned (spec §1.3.7), ours is 16-aligned.
    const misaligned = model.buffers.filter((b) => b.data && (b.data.byteOffset - bytes.byteOffset) % 16 !== 0).length;
    expect(misaligned).toBeGreaterThan(0);
    expect(Buffer.from(out).equals(Buffer.from(bytes))).toBe(false);
    // A second write of our own output is byte-identical: the writer is deterministic.
    expect(Buffer.from(writeTflite(again)).equals(Buffer.from(out))).toBe(true);
  });

  it('OperatorCode: TOCO files carry only deprecated_builtin_code; the reader takes the max of both', () => {
    const src = new Source(bytes, file);
    const root = src.deref(0, 'root');
    const m = src.table(root, 'Model');
    const { start } = src.vector(src.field(m, slotOf('Model', 'operator_codes'), 4), 4, 'codes');
    const oc = src.table(src.deref(start + 4, 'code'), 'OperatorCode');
    expect(src.field(oc, slotOf('OperatorCode', 'builtin_code'), 4)).toBe(0);
    expect(src.scalar('byte', src.field(oc, slotOf('OperatorCode', 'deprecated_builtin_code'), 1))).toBe(9);
  });
});
