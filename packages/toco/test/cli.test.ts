/** `tfpass toco` and `tfpass convert G.pb M.tflite`, in process (the CLI's sources). */
import { describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type Io } from '@tfpass/cli';
import { modelsDir } from '@tfpass/core/testing';
import { readTflite } from '@tfpass/tflite';
import { runTflite } from './litert.js';
import { writeRanges } from '@tfpass/quantize';

const dir = modelsDir();

/** Every .tflite a test writes must load and run in LiteRT.js (tiny_conv's input: [1,98,40,1] float). */
async function runsInLiteRt(file: string): Promise<void> {
  const [y] = await runTflite(readFileSync(file), [{ data: new Float32Array(98 * 40).fill(0.5), shape: [1, 98, 40, 1] }]);
  expect(y!.length).toBe(6);
}

async function tfpass(args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => void (out += s), err: (s) => void (err += s) } as Io;
  const status = await main(args, io);
  return { status, out, err };
}

describe.skipIf(!dir)('tfpass toco', () => {
  const pb = () => join(dir!, 'speech-tiny-conv-qat/tiny_conv.pb');
  const tmp = () => mkdtempSync(join(tmpdir(), 'tfpass-toco-'));

  test('TOCO flags, float output loads and runs in LiteRT.js; convert G.pb M.tflite does the same', async () => {
    const t = tmp();
    const flags = ['--input_arrays=Reshape_2', '--output_arrays=labels_softmax', '--input_shapes=1,98,40,1', '--inference_type=FLOAT'];
    const r = await tfpass(['toco', `--graph_def_file=${pb()}`, `--output_file=${join(t, 'a.tflite')}`, ...flags]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/wrote .*a\.tflite: FLOAT, 5 operators \(DEPTHWISE_CONV_2D FAKE_QUANT×2 FULLY_CONNECTED SOFTMAX\)/);
    expect(r.err).toMatch(/FAKE_QUANT operation\(s\) were not converted/);
    const c = await tfpass(['convert', pb(), join(t, 'b.tflite'), ...flags]);
    expect(c.status).toBe(0);
    const a = readFileSync(join(t, 'a.tflite'));
    expect(Buffer.compare(a, readFileSync(join(t, 'b.tflite')))).toBe(0);
    const [y] = await runTflite(a, [{ data: new Float32Array(98 * 40).fill(1), shape: [1, 98, 40, 1] }]);
    expect(y!.length).toBe(6);
    expect(Math.abs(Array.from(y as Float32Array).reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-5);
  });

  test('--in_graph alias, float16 weights, int8 weights-only', async () => {
    const t = tmp();
    const r = await tfpass(['toco', `--in_graph=${pb()}`, `--output_file=${join(t, 'h.tflite')}`, '--input_arrays=Reshape_2', '--output_arrays=labels_softmax', '--input_shapes=1,98,40,1', '--post_training_quantize', '--quantize_to_float16']);
    expect(r.status).toBe(0);
    const m = readTflite(readFileSync(join(t, 'h.tflite')));
    const types = new Map(m.subgraphs[0]!.tensors.map((x) => [x.name, x.type]));
    expect(types.get('weights_quant/FakeQuantWithMinMaxVars')).toBe('float16');
    expect(types.get('weights_quant/FakeQuantWithMinMaxVars_dequantize')).toBe('float32');
    expect(types.get('Conv2D_bias')).toBe('float32');
    await runsInLiteRt(join(t, 'h.tflite'));
    const q = await tfpass(['toco', `--in_graph=${pb()}`, `--output_file=${join(t, 'q.tflite')}`, '--input_arrays=Reshape_2', '--output_arrays=labels_softmax', '--input_shapes=1,98,40,1', '--post_training_quantize']);
    expect(q.status).toBe(0);
    const qm = readTflite(readFileSync(join(t, 'q.tflite')));
    const fc = qm.subgraphs[0]!.tensors.find((x) => x.name === 'weights_quant_1/FakeQuantWithMinMaxVars/transpose')!;
    expect(fc.type).toBe('int8');
    // TF 1.15's quantize_weights: one scale per tensor, the FC reads int8 weights directly (hybrid, v3).
    expect(fc.quantization!.scale).toHaveLength(1);
    expect(qm.operatorCodes.find((c) => c.builtin === 'FULLY_CONNECTED')!.version).toBe(3);
    const pc = await tfpass(['toco', `--in_graph=${pb()}`, `--output_file=${join(t, 'p.tflite')}`, '--input_arrays=Reshape_2', '--output_arrays=labels_softmax', '--input_shapes=1,98,40,1', '--post_training_quantize', '--per_channel_weights']);
    expect(pc.status).toBe(0);
    const pm = readTflite(readFileSync(join(t, 'p.tflite')));
    expect(pm.subgraphs[0]!.tensors.find((x) => x.name === 'weights_quant_1/FakeQuantWithMinMaxVars/transpose')!.quantization!.scale).toHaveLength(6);
    expect(pm.subgraphs[0]!.tensors.some((x) => x.name === 'weights_quant_1/FakeQuantWithMinMaxVars/transpose_dequantize')).toBe(true);
    await runsInLiteRt(join(t, 'p.tflite'));
    // 640 elements: under TF's 1024-element threshold, so it stays float32.
    expect(qm.subgraphs[0]!.tensors.find((x) => x.name === 'weights_quant/FakeQuantWithMinMaxVars')!.type).toBe('float32');
    await runsInLiteRt(join(t, 'q.tflite'));
    const ignored = await tfpass(['toco', `--in_graph=${pb()}`, `--output_file=${join(t, 'i.tflite')}`, '--input_arrays=Reshape_2', '--output_arrays=labels_softmax', '--input_shapes=1,98,40,1', '--quantize_to_float16']);
    expect(ignored.status).toBe(0);
    expect(ignored.err).toMatch(/--quantize_to_float16 is ignored without --post_training_quantize/);
    await runsInLiteRt(join(t, 'i.tflite'));
  });

  test('--ranges FILE (a tfpass calibrate file) gives the quantizer the ranges FakeQuants do not', async () => {
    const t = tmp();
    const flags = [`--graph_def_file=${pb()}`, '--input_arrays=Reshape_2', '--output_arrays=labels_softmax', '--input_shapes=1,98,40,1', '--inference_type=INT8'];
    const lacking = await tfpass(['toco', ...flags, `--output_file=${join(t, 'a.tflite')}`]);
    expect(lacking.status).not.toBe(0);
    expect(lacking.err).toMatch(/Array Reshape_2, which is an input to the DEPTHWISE_CONV_2D operator producing the output array Relu, is lacking min\/max data/);
    const ranges = join(t, 'ranges.json');
    writeRanges(ranges, { Reshape_2: { min: 0, max: 26 } }, 'minmax');
    const ok = await tfpass(['toco', ...flags, `--output_file=${join(t, 'b.tflite')}`, `--ranges=${ranges}`]);
    expect(ok.status, ok.err).toBe(0);
    const m = readTflite(readFileSync(join(t, 'b.tflite')));
    // Float I/O by default: the QUANTIZE after the float input carries the file's range [0, 26].
    const sg = m.subgraphs[0]!;
    const quantize = sg.operators.find((o) => m.operatorCodes[o.opcodeIndex]!.builtin === 'QUANTIZE')!;
    expect(sg.tensors[quantize.inputs[0]!]!.name).toBe('Reshape_2');
    expect(sg.tensors[quantize.outputs[0]!]!.quantization!.scale![0]).toBeCloseTo(26 / 255, 6);
    await runsInLiteRt(join(t, 'b.tflite'));
    const usage = await tfpass(['toco', `--graph_def_file=${pb()}`, '--output_arrays=labels_softmax', '--input_arrays=Reshape_2', `--output_file=${join(t, 'c.tflite')}`, `--ranges=${ranges}`]);
    expect(usage.status).toBe(2);
  });

  test('errors are one typed line with a non-zero exit, and nothing is written', async () => {
    const t = tmp();
    const out = join(t, 'x.tflite');
    const missing = await tfpass(['toco', `--graph_def_file=${pb()}`, `--output_file=${out}`, '--input_arrays=Reshape_9', '--output_arrays=labels_softmax']);
    expect(missing.status).toBe(5);
    expect(missing.err).toMatch(/^tfpass: error\[E_GRAPH_VALIDATION\]: node 'Reshape_9': specified input array is not produced by any op in this graph/);
    const unsupported = await tfpass(['toco', `--graph_def_file=${pb()}`, `--output_file=${out}`, '--output_arrays=labels_softmax']);
    expect(unsupported.status).toBe(11);
    expect(unsupported.err.trim().split('\n')).toHaveLength(1);
    const usage = await tfpass(['toco', `--graph_def_file=${pb()}`, `--output_file=${out}`, '--output_arrays=labels_softmax', '--inference_type=INT4']);
    expect(usage.status).toBe(2);
    const self = await tfpass(['toco', `--graph_def_file=${pb()}`, `--output_file=${pb()}`, '--output_arrays=labels_softmax']);
    expect(self.status).toBe(3);
    expect(existsSync(out)).toBe(false);
  });
});
