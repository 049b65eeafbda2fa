/** run / trace / verify / view on a .tflite (the TOCO 1.15 file tiny_conv.tflite and its .pb). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as core from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { readNpy, writeNpy } from '@tfpass/runtime';
import { loadTfliteRunner, readTflite, writeTflite, seededRandom } from '@tfpass/tflite';
import { buildOnce, tfpass, tmp } from './helpers.js';

const TFL = modelPath('speech-tiny-conv-qat/tiny_conv.tflite');
const PB = modelPath('speech-tiny-conv-qat/tiny_conv.pb');

beforeAll(() => buildOnce());

/** A seeded uint8 spectrogram (uniform over [0, 255]) as a .npy in `dir`. */
function spectrogram(dir: string, seed: number): { file: string; values: Uint8Array } {
  const rnd = seededRandom(seed);
  const values = Uint8Array.from({ length: 98 * 40 }, () => Math.floor(rnd() * 256));
  const file = join(dir, `x${seed}.npy`);
  writeNpy(file, new core.Tensor('uint8', [1, 98, 40, 1], values));
  return { file, values };
}

describe.skipIf(!TFL || !PB).concurrent('.tflite in run, trace, verify, view', () => {
  it('run writes raw outputs byte-identical to LiteRT.js and their dequantized values', async () => {
    const dir = tmp();
    const { file, values } = spectrogram(dir, 3);
    const r = await tfpass(['run', TFL!, '--input_file', `Reshape_2=${file}`, '--out_dir', 'o', '--json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.engine).toBe('litert');
    const raw = readNpy(join(dir, 'o/labels_softmax.npy'));
    const deq = readNpy(join(dir, 'o/labels_softmax.dequant.npy'));
    const runner = await loadTfliteRunner(new Uint8Array(readFileSync(TFL!)));
    const direct = (await runner.run({ Reshape_2: values })).labels_softmax as Uint8Array;
    runner.close();
    expect(raw.dtype).toBe('uint8');
    expect(Array.from(raw.data as Uint8Array)).toEqual(Array.from(direct));
    expect(Array.from(deq.data as Float32Array)).toEqual(Array.from(direct, (q) => q / 256));
    // The reference kernels give the same classes within 1 LSB.
    const ref = await tfpass(['run', TFL!, '--input_file', `Reshape_2=${file}`, '--backend', 'reference', '--out_dir', 'ref'], { cwd: dir });
    expect(ref.status).toBe(0);
    const refRaw = readNpy(join(dir, 'ref/labels_softmax.npy')).data as Uint8Array;
    refRaw.forEach((q, i) => expect(Math.abs(q - direct[i]!)).toBeLessThanOrEqual(1));
  });

  it('trace lists every operator output with its quantization (LiteRT.js and reference agree); --ops filters', async () => {
    const dir = tmp();
    const r = await tfpass(['trace', TFL!, '--json'], { cwd: dir });
    expect(r.status).toBe(0);
    const rows = JSON.parse(r.stdout).tensors as { op: string; name: string; quant: { scale: number; zero_point: number } }[];
    expect(rows.map((t) => `${t.op}:${t.name}`)).toEqual(['DEPTHWISE_CONV_2D:Relu', 'FULLY_CONNECTED:add_1', 'SOFTMAX:labels_softmax']);
    expect(rows[1]!.quant).toEqual({ scale: 0.21404096484184265, zero_point: 137 });
    const only = await tfpass(['trace', TFL!, '--ops', 'SOFTMAX'], { cwd: dir });
    expect(only.stdout.trim().split('\n')).toHaveLength(1);
    expect(only.stdout).toMatch(/^#2 labels_softmax \(SOFTMAX\) uint8\[1,6\]/);
    // LiteRT.js (default, intermediates exposed as outputs) and the reference kernels agree.
    const ref = await tfpass(['trace', TFL!, '--backend', 'reference', '--json'], { cwd: dir });
    const refRows = JSON.parse(ref.stdout).tensors as { name: string; min: number; max: number; mean: number }[];
    expect(JSON.parse(ref.stdout).engine).toBe('reference');
    expect(refRows.map((t) => t.name)).toEqual(rows.map((t) => t.name));
    (rows as unknown as { mean: number }[]).forEach((t, i) => expect(Math.abs(t.mean - refRows[i]!.mean)).toBeLessThanOrEqual(0.05));
    const bad = await tfpass(['trace', TFL!, '--backend', 'gpu'], { cwd: dir });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('verify tiny_conv.pb against tiny_conv.tflite: ≤ 1 LSB, top-1 agreement and SQNR reported', async () => {
    const dir = tmp();
    const r = await tfpass(['verify', PB!, TFL!, '--trials', '5', '--json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout).outputs[0];
    expect(out.name).toBe('labels_softmax');
    expect(out.lsb_scale).toBe(0.00390625);
    expect(out.max_lsb).toBeLessThanOrEqual(1);
    expect(out.max_lsb).toBeCloseTo(out.max_abs_error / 0.00390625, 9);
    expect(out.top1).toBe(1);
    expect(out.sqnr_db).toBeGreaterThan(30);
  });

  it('verify fails with E_NUMERIC on a .tflite whose FC bias was changed', async () => {
    const dir = tmp();
    const m = readTflite(new Uint8Array(readFileSync(TFL!)));
    const sg = m.subgraphs[0]!;
    const bias = sg.tensors.find((t) => t.name === 'MatMul_bias')!;
    const data = new Int32Array(m.buffers[bias.buffer]!.data!.slice().buffer);
    // ±5 on alternate logits (bias scale 2.5e-5): the winning classes change.
    data.forEach((v, i) => (data[i] = v + (i % 2 ? 200000 : -200000)));
    const buffers = m.buffers.map((b, i) => (i === bias.buffer ? { ...b, data: new Uint8Array(data.buffer) } : b));
    writeFileSync(join(dir, 'bad.tflite'), writeTflite({ ...m, buffers }));
    const r = await tfpass(['verify', TFL!, 'bad.tflite', '--trials', '3'], { cwd: dir });
    expect(r.status).toBe(13);
    expect(r.stdout).toMatch(/^FAIL labels_softmax \[1,6\] max \|Δ\| .* LSB/m);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/bad\.tflite differs from .*tiny_conv\.tflite beyond tolerance on labels_softmax/);
  });

  it('view draws the operators with quantization in the details', async () => {
    const dir = tmp();
    const r = await tfpass(['view', TFL!, '--out', 'v.html'], { cwd: dir });
    expect(r.status).toBe(0);
    const html = readFileSync(join(dir, 'v.html'), 'utf8');
    for (const op of ['DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'SOFTMAX']) expect(html).toContain(op);
    expect(html).toContain('scale=0.21404096484184265 zp=137');
    expect(html).toContain('depthMultiplier');
    // Two models: the operator whose bias constant changed is marked changed.
    const m = readTflite(new Uint8Array(readFileSync(TFL!)));
    const bias = m.subgraphs[0]!.tensors.find((t) => t.name === 'MatMul_bias')!;
    const data = m.buffers[bias.buffer]!.data!.slice();
    data[0] ^= 1;
    writeFileSync(join(dir, 'b.tflite'), writeTflite({ ...m, buffers: m.buffers.map((b, i) => (i === bias.buffer ? { ...b, data } : b)) }));
    const d = await tfpass(['view', TFL!, 'b.tflite', '--out', 'd.html'], { cwd: dir });
    expect(d.status).toBe(0);
    expect(readFileSync(join(dir, 'd.html'), 'utf8')).toContain('"counts":{"added":0,"removed":0,"changed":1}');
  });

  it('a truncated .tflite is one typed line naming the file and byte (exit 4); a missing one E_FILE (exit 3)', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'cut.tflite'), readFileSync(TFL!).subarray(0, 600));
    for (const cmd of ['run', 'view']) {
      const r = await tfpass([cmd, 'cut.tflite'], { cwd: dir });
      expect(r.status).toBe(4);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/cut\.tflite.*byte \d+/);
    }
    for (const args of [['trace', 'missing.tflite'], ['verify', TFL!, 'missing.tflite']]) {
      const r = await tfpass(args, { cwd: dir });
      expect(r.status).toBe(3);
      // One error line (plus the CLI's usual '--verbose for the cause' hint, as for a missing .pb).
      expect(r.stderr.split('\n')[0]).toBe('tfpass: error[E_FILE]: missing.tflite: cannot read: no such file or directory');
    }
  });
});

describe.skipIf(!TFL)('without @litertjs/core installed', () => {
  it('running a .tflite says what to install, in one typed line', async () => {
    // A copy of the built package whose node_modules has everything but LiteRT.js.
    const { cpSync, mkdirSync, symlinkSync } = await import('node:fs');
    const { execFileSync } = await import('node:child_process');
    const { ROOT } = await import('./helpers.js');
    const dir = tmp('tfpass-no-litert-');
    const pkg = join(dir, 'node_modules/@tfpass/tflite');
    mkdirSync(pkg, { recursive: true });
    cpSync(join(ROOT, 'packages/tflite/dist'), join(pkg, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'packages/tflite/package.json'), join(pkg, 'package.json'));
    symlinkSync(join(ROOT, 'packages/core'), join(dir, 'node_modules/@tfpass/core'));
    symlinkSync(join(ROOT, 'node_modules/flatbuffers'), join(dir, 'node_modules/flatbuffers'));
    const script = `import('@tfpass/tflite').then((m) => m.loadTfliteRunner(new Uint8Array(require('fs').readFileSync(${JSON.stringify(TFL)})), { file: 'tiny_conv.tflite' })).then(() => console.log('loaded'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' });
    const e = JSON.parse(out);
    expect(e.code).toBe('E_PLUGIN');
    expect(e.message).toBe('running a .tflite needs @litertjs/core (LiteRT.js), which is not installed: npm i @litertjs/core');
  });
});

describe('.tflite with int8 I/O in run', () => {
  it('int8 in and out (carried as uint8 inside LiteRT.js): raw .npy is int8 and equals the reference kernels', async () => {
    const { runReference } = await import('@tfpass/tflite');
    const dir = tmp();
    const q = (scale: number, zeroPoint: number) => ({ scale: [scale], zeroPoint: [zeroPoint] });
    const model = {
      version: 3,
      operatorCodes: [{ builtin: 'FULLY_CONNECTED', version: 4 }],
      subgraphs: [{
        tensors: [
          { name: 'x', type: 'int8' as const, shape: [1, 4], buffer: 0, quantization: q(0.02, -10) },
          { name: 'w', type: 'int8' as const, shape: [2, 4], buffer: 1, quantization: q(0.01, 0) },
          { name: 'y', type: 'int8' as const, shape: [1, 2], buffer: 0, quantization: q(0.2, 3) },
        ],
        inputs: [0], outputs: [2],
        operators: [{ opcodeIndex: 0, inputs: [0, 1, -1], outputs: [2], builtinOptions: { type: 'FullyConnectedOptions', fusedActivationFunction: 'NONE' } }],
      }],
      buffers: [{}, { data: new Uint8Array(Int8Array.from([50, -60, 70, -80, 127, 1, -127, 9]).buffer) }],
      metadata: [],
      signatureDefs: [],
    };
    writeFileSync(join(dir, 'fc8.tflite'), writeTflite(model));
    const x = Int8Array.from([-128, -20, 33, 127]);
    writeNpy(join(dir, 'x.npy'), new core.Tensor('int8', [1, 4], x));
    const r = await tfpass(['run', 'fc8.tflite', '--input_file', 'x=x.npy', '--out_dir', 'o'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const raw = readNpy(join(dir, 'o/y.npy'));
    expect(raw.dtype).toBe('int8');
    const ref = runReference(model, { x }).outputs.y as Int8Array;
    expect(Array.from(raw.data as Int8Array)).toEqual(Array.from(ref));
    expect(new Set(ref).size).toBe(2); // two distinct, unsaturated values
    for (const v of ref) expect(Math.abs(v)).toBeLessThan(127);
    // Float input values are quantized through x's scale/zero point on the way in.
    writeNpy(join(dir, 'xf.npy'), new core.Tensor('float32', [1, 4], Float32Array.from(x, (v) => 0.02 * (v + 10))));
    const f = await tfpass(['run', 'fc8.tflite', '--input_file', 'x=xf.npy', '--out_dir', 'of'], { cwd: dir });
    expect(f.status).toBe(0);
    expect(Array.from(readNpy(join(dir, 'of/y.npy')).data as Int8Array)).toEqual(Array.from(ref));
  });
});
