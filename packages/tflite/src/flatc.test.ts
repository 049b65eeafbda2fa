/**
 * Cross-check against an independent decoder: `flatc --json --strict-json --raw-binary` on our
 * schema. Runs only where flatc is installed (not in CI): skipped with a printed reason.
 * flatc prints floats with 6 decimals, so floats compare with |a−b| ≤ 5e-7 + 1e-6·|b|.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { modelsDir } from '@tfpass/core/testing';
import type { Model } from './model.js';
import { readTflite, writeTflite } from './index.js';
import { camel, enumValue } from './schema.js';
import { builtinName } from './read.js';

const schema = fileURLToPath(new URL('../schema/tflite.fbs', import.meta.url));
let flatc = false;
try {
  execFileSync('flatc', ['--version'], { stdio: 'pipe' });
  flatc = true;
} catch {
  console.log('skipping the flatc cross-check: flatc is not installed');
}

type J = Record<string, unknown>;

function flatcJson(bytes: Uint8Array): J {
  const dir = mkdtempSync(join(tmpdir(), 'tfpass-flatc-'));
  try {
    writeFileSync(join(dir, 'm.tflite'), bytes);
    execFileSync('flatc', ['--json', '--strict-json', '--raw-binary', '--defaults-json', '-o', dir, schema, '--', join(dir, 'm.tflite')], { stdio: 'pipe' });
    return JSON.parse(readFileSync(join(dir, 'm.json'), 'utf8')) as J;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const close = (a: number[] | undefined, b: unknown) => {
  const bs = (b as number[] | undefined) ?? [];
  expect((a ?? []).length).toBe(bs.length);
  (a ?? []).forEach((x, i) => expect(Math.abs(x - bs[i]!)).toBeLessThanOrEqual(5e-7 + 1e-6 * Math.abs(bs[i]!)));
};

function compare(m: Model, j: J): void {
  expect(j.version).toBe(m.version);
  expect(j.description).toBe(m.description);
  const codes = j.operator_codes as J[];
  m.operatorCodes.forEach((c, i) => {
    const dep = codes[i]!.deprecated_builtin_code as number;
    const name = codes[i]!.builtin_code as string;
    // Old files have only the byte code (builtin_code then reads as its default, ADD = 0).
    expect(c.builtin).toBe(builtinName(Math.max(dep, enumValue('BuiltinOperator', name, 'flatc'))));
    expect(c.version).toBe(codes[i]!.version);
  });
  const bufs = j.buffers as J[];
  m.buffers.forEach((b, i) => expect(Array.from(b.data ?? [])).toEqual((bufs[i]!.data as number[] | undefined) ?? []));
  m.subgraphs.forEach((sg, si) => {
    const js = (j.subgraphs as J[])[si]!;
    expect(js.inputs).toEqual(sg.inputs);
    expect(js.outputs).toEqual(sg.outputs);
    sg.tensors.forEach((t, ti) => {
      const jt = (js.tensors as J[])[ti]!;
      expect([jt.name, jt.shape, jt.buffer, String(jt.type).toLowerCase()]).toEqual([t.name, t.shape, t.buffer, t.type]);
      const q = (jt.quantization ?? {}) as J;
      close(t.quantization?.scale, q.scale);
      close(t.quantization?.min, q.min);
      close(t.quantization?.max, q.max);
      expect(t.quantization?.zeroPoint ?? []).toEqual((q.zero_point as number[] | undefined) ?? []);
    });
    sg.operators.forEach((op, oi) => {
      const jo = (js.operators as J[])[oi]!;
      expect([jo.opcode_index, jo.inputs, jo.outputs]).toEqual([op.opcodeIndex, op.inputs, op.outputs]);
      expect(jo.builtin_options_type).toBe(op.builtinOptions?.type ?? 'NONE');
      for (const [k, v] of Object.entries((jo.builtin_options ?? {}) as J)) {
        const ours = op.builtinOptions![camel(k)];
        if (typeof v === 'number' && !Number.isInteger(v)) close([ours as number], [v]);
        else expect(ours, k).toEqual(v);
      }
    });
  });
  expect((j.metadata as J[] | undefined) ?? []).toEqual(m.metadata.map((x) => ({ name: x.name, buffer: x.buffer })));
}

describe.skipIf(!flatc)('flatc agrees with readTflite', () => {
  const dir = modelsDir();
  it.skipIf(!dir)("on TOCO's tiny_conv.tflite and on our rewrite of it", () => {
    const bytes = new Uint8Array(readFileSync(join(dir!, 'speech-tiny-conv-qat/tiny_conv.tflite')));
    const m = readTflite(bytes);
    compare(m, flatcJson(bytes));
    compare(m, flatcJson(writeTflite(m)));
  });

  it('on a model written from scratch (codes past 127, per-axis quantization, custom op)', () => {
    const m: Model = {
      version: 3,
      description: 'x',
      operatorCodes: [{ builtin: 'GELU', version: 1 }, { builtin: 'CONV_2D', version: 3 }],
      buffers: [{}, { data: new Uint8Array([1, 2, 3, 4, 5]) }],
      subgraphs: [{
        inputs: [0], outputs: [2],
        tensors: [
          { name: 'a', type: 'int8', shape: [1, 2, 2, 1], buffer: 0, quantization: { scale: [0.5], zeroPoint: [-1] } },
          { name: 'w', type: 'int8', shape: [5, 1, 1, 1], buffer: 1, quantization: { scale: [0.1, 0.2, 0.3, 0.4, 0.5], zeroPoint: [0, 0, 0, 0, 0], quantizedDimension: 0 } },
          { name: 'b', type: 'int8', shape: [1, 2, 2, 5], buffer: 0 },
        ],
        operators: [{ opcodeIndex: 1, inputs: [0, 1, -1], outputs: [2], builtinOptions: { type: 'Conv2DOptions', padding: 'VALID', strideW: 1, strideH: 2, fusedActivationFunction: 'RELU', dilationWFactor: 1, dilationHFactor: 1, quantizedBiasType: 'FLOAT32' } }],
      }],
      metadata: [],
      signatureDefs: [],
    };
    const bytes = writeTflite(m);
    const j = flatcJson(bytes);
    compare(readTflite(bytes), j);
    const codes = j.operator_codes as J[];
    expect(codes[0]).toMatchObject({ deprecated_builtin_code: 127, builtin_code: 'GELU' });
    expect(codes[1]).toMatchObject({ deprecated_builtin_code: 3, builtin_code: 'CONV_2D', version: 3 });
  });
});
