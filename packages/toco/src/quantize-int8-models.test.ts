/**
 * int8 end to end on real graphs: the seed pipeline (strip Identity, fold constants, fold batch
 * norms), `calibrate` (min/max), `insert_fake_quant(per_channel=true)` as constant FakeQuants, then
 * lowering + int8 quantization, run in LiteRT.js against the fake-quant graph on TF.js.
 */
import { describe, expect, it } from 'vitest';
import { rootServices as container } from '@tfpass/core';
import { PassRegistry, TOKENS, Tensor, readGraph, registerPlugin, runPipeline, type Graph } from '@tfpass/core';
import { sharedExecutor } from '@tfpass/runtime';
import { applySites, calibrate, planQuantization } from '@tfpass/quantize';
import { writeTflite, type Model } from '@tfpass/tflite';
import { modelPath } from '../../core/src/testing.js';
import { loadTfliteRunner } from '../../tflite/src/runtime.js';
import { runReference } from '../../tflite/src/reference/interpreter.js';
import { lowerGraph } from './lower.js';
import { quantizeLowered, type QuantizeOptions } from './quantize.js';
import { mirrorInt8Params } from './quant/mirror.js';

const exec = sharedExecutor();

/** Seeded smooth "images" in [−1, 1]: three random low-frequency waves per channel through tanh. */
function wavyImage(seed: number, h: number, w: number, c: number): Tensor {
  let s = (seed * 7919 + 17) % 2147483647;
  const r = () => (s = (s * 48271) % 2147483647) / 2147483647;
  const out = new Float32Array(h * w * c);
  for (let ch = 0; ch < c; ch++) {
    const waves = Array.from({ length: 3 }, () => [r() * 5, r() * 5, r() * 6.28, r()] as const);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = 0;
        for (const [fx, fy, ph, a] of waves) v += a * Math.sin(6.28 * ((fx * x) / w + (fy * y) / h) + ph);
        out[(y * w + x) * c + ch] = Math.tanh(v);
      }
    }
  }
  return new Tensor('float32', [1, h, w, c], out);
}

/** The seed pipeline; an Identity output (Keras' `output_0`) is fetched through its input, which remove_nodes keeps. */
async function seedPipeline(path: string, input: string, output: string): Promise<{ g: Graph; output: string }> {
  const g = readGraph(path);
  const o = g.node(output);
  if (o.op === 'Identity') output = o.dataInputs[0]!;
  const reg = new PassRegistry();
  for (const p of ['@tfpass/pass-strip', '@tfpass/pass-fold-constants', '@tfpass/pass-fold-bn']) await registerPlugin(await import(p), reg);
  const child = container.createChildContainer();
  child.register(TOKENS.executor, { useValue: exec });
  await runPipeline(g, 'remove_nodes(op=Identity) fold_constants fold_batch_norms', { registry: reg, inputs: [input], outputs: [output], container: child });
  return { g, output };
}

interface Agreement {
  /** Share of output values within 1 LSB of the int8 output scale of the fake-quant graph's. */
  within1: number;
  maxLsb: number;
  sqnrInt8: number;
  sqnrFakeQuant: number;
}

const sqnr = (ref: Float32Array[], got: Float32Array[]) => {
  let s = 0;
  let n = 0;
  ref.forEach((r, k) => r.forEach((v, i) => ((s += v * v), (n += (got[k]![i]! - v) ** 2))));
  return 10 * Math.log10(s / n);
};

async function agreement(model: Model, float: Graph, fq: Graph, input: string, output: string, feeds: Tensor[], floatOutput = output): Promise<Agreement> {
  const sg = model.subgraphs[0]!;
  const deq = sg.operators.find((o) => sg.outputs.includes(o.outputs[0]!))!;
  const scale = sg.tensors[deq.inputs[0]!]!.quantization!.scale![0]!;
  const runner = await loadTfliteRunner(writeTflite(model), { file: `${output}.tflite` });
  const fl: Float32Array[] = [];
  const fqs: Float32Array[] = [];
  const i8: Float32Array[] = [];
  let within = 0;
  let total = 0;
  let maxLsb = 0;
  // The fake-quant graphs have no FakeQuant on the model input, the int8 model quantizes it:
  // the fake-quant graph is fed the same quantized input (its QUANTIZE's params, half away from 0).
  const quant = sg.operators.find((o) => sg.inputs.includes(o.inputs[0]!))!;
  const qin = sg.tensors[quant.outputs[0]!]!.quantization!;
  const [s0, z0] = [qin.scale![0]!, qin.zeroPoint![0]!];
  const onGrid = (x: Tensor) => new Tensor('float32', x.shape, x.toFloat32().map((v) => (Math.min(127, Math.max(-128, Math.sign(v / s0) * Math.floor(Math.abs(v / s0) + 0.5) + z0)) - z0) * s0));
  for (const x of feeds) {
    fl.push((await exec.run(float, { [input]: x }, [floatOutput]))[0]!.toFloat32());
    const a = (await exec.run(fq, { [input]: onGrid(x) }, [output]))[0]!.toFloat32();
    const y = Object.values(await runner.run({ [sg.tensors[sg.inputs[0]!]!.name]: x.toFloat32() }))[0] as Float32Array;
    fqs.push(a);
    i8.push(y);
    a.forEach((v, i) => {
      const lsb = Math.abs(y[i]! - v) / scale;
      maxLsb = Math.max(maxLsb, lsb);
      if (lsb <= 1 + 1e-4) within++;
      total++;
    });
  }
  runner.close();
  return { within1: within / total, maxLsb, sqnrInt8: sqnr(fl, i8), sqnrFakeQuant: sqnr(fl, fqs) };
}


interface Layerwise {
  layers: number;
  /** Fed the int8 model's own inputs: the worst layer's share within 1 LSB, its max, the largest |mean signed difference| (LSB). */
  worstWithin1: number;
  worstLsb: number;
  worstBias: number;
  worstBiasAt: string;
  /** Layers whose mean signed difference exceeds what unbiased flips explain (0.02 + 1/√n LSB for n values). */
  biased: string[];
  /** Mean over layers of the share of values 1 LSB off when fed (the rounding flips a layer adds). */
  meanFlips: number;
  /** End to end (one input, errors compounding): share within 1 LSB at each FakeQuant, in order. */
  endToEnd: number[];
  /** Controls at the model output, in % within 1 LSB: LiteRT.js vs the reference kernels (two
   * implementations of the same file), and the fake-quant graph vs itself with `flipShare` of its
   * input values moved by one input LSB (seeded). */
  liteVsReference: number;
  fakeQuantVsPerturbed: number;
  flipShare: number;
}

/**
 * Why the output differs more than each layer: the int8 model runs on TFLite's reference kernels
 * (bit-exact); each activation FakeQuant of the fake-quant graph is computed on TF.js (a) from the
 * int8 model's own (dequantized) values at every earlier FakeQuant, so each layer is compared
 * given the same inputs, and (b) end to end from the same quantized input. A systematic cause
 * (another grid, a missing requantize, a different clamp) shows as a layer off by more than
 * 1 LSB or with a non-zero mean when fed; compounding of unbiased 1-LSB flips shows as layers
 * exact when fed and a gap that grows with depth end to end, as large as the controls'.
 */
async function layerwise(model: Model, fq: Graph, input: string, x: Tensor, fqOut: string): Promise<Layerwise> {
  const sg = model.subgraphs[0]!;
  const inputName = sg.tensors[sg.inputs[0]!]!.name;
  const ref = runReference(model, { [inputName]: x.toFloat32() }, { keepAll: true });
  const idx = new Map(sg.tensors.map((t, i) => [t.name, i]));
  const dequantized = (i: number) => {
    const t = sg.tensors[i]!;
    const q = t.quantization!;
    return new Tensor('float32', t.shape, Float32Array.from(ref.tensors![i]! as Int8Array, (v) => (v - q.zeroPoint![0]!) * q.scale![0]!));
  };
  const feeds: Record<string, Tensor> = {};
  const quant = sg.operators.find((o) => sg.inputs.includes(o.inputs[0]!))!;
  feeds[input] = dequantized(quant.outputs[0]!);
  // Activations the fake-quant graph leaves unquantized (e.g. an input `sub` of the mean) are fed
  // too; tensors named after a FakeQuant's input are not (they hold that FakeQuant's output).
  const fakeQuants = fq.topoOrder().filter((f) => f.op === 'FakeQuantWithMinMaxVars');
  const fqInputs = new Set(fakeQuants.map((n) => n.dataInputs[0]!));
  sg.tensors.forEach((t, i) => {
    if (t.type === 'int8' && ref.tensors![i] && !model.buffers[t.buffer]?.data?.length && !fqInputs.has(t.name) && fq.get(t.name) && !(t.name in feeds)) feeds[t.name] = dequantized(i);
  });
  const e2e = await exec.run(fq, { ...feeds }, fakeQuants.map((f) => f.name));
  const r: Layerwise = { layers: 0, worstWithin1: 1, worstLsb: 0, worstBias: 0, worstBiasAt: '', biased: [], meanFlips: 0, endToEnd: [], liteVsReference: 0, fakeQuantVsPerturbed: 0, flipShare: 0.005 };
  for (const [k, f] of fakeQuants.entries()) {
    // the int8 tensor carries the FakeQuant's input name, or `<output>_int8` at a float model output
    const i = [f.dataInputs[0]!, `${f.name}_int8`].map((n) => idx.get(n)).find((j) => j !== undefined && sg.tensors[j]!.type === 'int8');
    if (i === undefined || !ref.tensors![i]) continue;
    const want = (await exec.run(fq, feeds, [f.name]))[0]!.toFloat32();
    const g = dequantized(i).toFloat32();
    const s = sg.tensors[i]!.quantization!.scale![0]!;
    let within = 0;
    let flips = 0;
    let sum = 0;
    want.forEach((v, j) => {
      const d = (g[j]! - v) / s;
      sum += d;
      if (Math.abs(d) <= 1 + 1e-4) within++;
      if (Math.abs(d) > 0.5) flips++;
      r.worstLsb = Math.max(r.worstLsb, Math.abs(d));
    });
    r.worstWithin1 = Math.min(r.worstWithin1, within / want.length);
    if (Math.abs(sum / want.length) > 0.02 + 1 / Math.sqrt(want.length)) r.biased.push(sg.tensors[i]!.name);
    if (Math.abs(sum / want.length) > r.worstBias) [r.worstBias, r.worstBiasAt] = [Math.abs(sum / want.length), `${sg.tensors[i]!.name} (${want.length} values)`];
    r.meanFlips += flips / want.length;
    const end = e2e[k]!.toFloat32();
    r.endToEnd.push(end.filter((v, j) => Math.abs(g[j]! - v) / s <= 1 + 1e-4).length / end.length);
    r.layers++;
    feeds[f.name] = dequantized(i);
  }
  r.meanFlips /= r.layers;
  // Controls at the output, in the output's LSB.
  const deq = sg.operators.find((o) => sg.outputs.includes(o.outputs[0]!))!;
  const s = sg.tensors[deq.inputs[0]!]!.quantization!.scale![0]!;
  const share = (a: Float32Array, b: Float32Array) => a.filter((v, j) => Math.abs(v - b[j]!) / s <= 1 + 1e-4).length / a.length;
  const runner = await loadTfliteRunner(writeTflite(model), { file: 'layerwise.tflite' });
  const lite = Object.values(await runner.run({ [inputName]: x.toFloat32() }))[0] as Float32Array;
  runner.close();
  r.liteVsReference = share(lite, ref.tensors![sg.outputs[0]!]! as Float32Array);
  let seed = 12345;
  const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const start = unfed(feeds, fakeQuants);
  const moved = Object.fromEntries(
    Object.entries(start).map(([name, t]) => {
      const step = name === input ? sg.tensors[quant.outputs[0]!]!.quantization!.scale![0]! : sg.tensors[idx.get(name)!]!.quantization!.scale![0]!;
      return [name, new Tensor('float32', t.shape, t.toFloat32().map((v) => (rnd() < r.flipShare ? v + (rnd() < 0.5 ? -step : step) : v)))];
    }),
  );
  const base = (await exec.run(fq, start, [fqOut]))[0]!.toFloat32();
  const perturbed = (await exec.run(fq, moved, [fqOut]))[0]!.toFloat32();
  r.fakeQuantVsPerturbed = share(perturbed, base);
  return r;
}

/** The feeds that are not FakeQuant outputs (inputs and arrays the fake-quant graph leaves float), so a run goes end to end. */
function unfed(feeds: Record<string, Tensor>, fakeQuants: { name: string }[]): Record<string, Tensor> {
  const skip = new Set(fakeQuants.map((f) => f.name));
  return Object.fromEntries(Object.entries(feeds).filter(([k]) => !skip.has(k)));
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const profile = (lw: Layerwise) => [0.25, 0.5, 0.75, 1].map((f) => pct(lw.endToEnd[Math.max(0, Math.ceil(f * lw.endToEnd.length) - 1)]!)).join(' → ');
const describeLw = (lw: Layerwise) =>
  `${lw.layers} layers fed the int8 model's own inputs: worst ${pct(lw.worstWithin1)} within 1 LSB (max ${lw.worstLsb.toFixed(2)}), largest |mean diff| ${lw.worstBias.toFixed(3)} LSB (${lw.worstBiasAt}), ${pct(lw.meanFlips)} of values 1 LSB off on average; end to end within 1 LSB at 1/4, 1/2, 3/4, all of the depth: ${profile(lw)}; controls at the output: LiteRT.js vs reference kernels ${pct(lw.liteVsReference)}, fake-quant graph vs itself with ${pct(lw.flipShare)} of input values ±1 LSB ${pct(lw.fakeQuantVsPerturbed)}`;

/**
 * Compounding, not a systematic cause: every layer within 1 LSB and unbiased when fed, and the
 * end-to-end agreement of the order of the controls' (10 points of slack: one input, a chaotic measure).
 */
function expectCompoundingOnly(lw: Layerwise, endToEndWithin1: number): void {
  expect(lw.worstWithin1).toBeGreaterThanOrEqual(0.99);
  expect(lw.biased).toEqual([]);
  expect(endToEndWithin1).toBeGreaterThanOrEqual(Math.min(lw.liteVsReference, lw.fakeQuantVsPerturbed) - 0.1);
}

const mnet = modelPath('keras-mobilenet-0.25-128/mnet.pb');

describe.skipIf(!mnet)('int8 on keras-mobilenet-0.25-128 (calibrated, per-channel fake quant)', () => {
  // Calibration: 8 seeded wavy images (seeds 100..107); evaluation: 4 others (1000..1003), all in
  // [−1, 1], MobileNet's preprocessed input range. Input params from mean −0.5 / std 127.5
  // (int8: min = (−128 − mean)/std = −1, max = 1).
  const io = { mean: [-0.5], std: [127.5] };
  let float: Graph;
  let out = 'output_0';
  let ranges: Awaited<ReturnType<typeof calibrate>>;
  const fqGraph = async (symmetric: boolean): Promise<Graph> => {
    if (!float) ({ g: float, output: out } = await seedPipeline(mnet!, 'input_1', 'output_0'));
    const calib = Array.from({ length: 8 }, (_, i) => ({ input_1: wavyImage(100 + i, 128, 128, 3) }));
    ranges ??= await calibrate(float, { inputs: ['input_1'], data: calib, method: 'minmax', executor: exec });
    const fq = float.clone();
    applySites(fq, planQuantization(fq, { perChannel: true, symmetric }), { kind: 'const', ranges, requireRanges: true });
    return fq;
  };
  const convert = (fq: Graph, output: string, extra: Partial<QuantizeOptions> = {}) =>
    quantizeLowered(lowerGraph(fq, { inputArrays: ['input_1'], outputArrays: [output], inputShapes: [[1, 128, 128, 3]] }), { inferenceType: 'int8', meanValues: io.mean, stdValues: io.std, ...extra });
  const evalFeeds = () => Array.from({ length: 4 }, (_, i) => wavyImage(1000 + i, 128, 128, 3));

  it('symmetric per-channel weights: int8 matches the fake-quant graph (1 LSB after the first layer, same SQNR at the output)', async () => {
    const fq = await fqGraph(true);
    const first = convert(fq, 'conv1_bn/batchnorm_1/act_quant/FakeQuantWithMinMaxVars');
    const a1 = await agreement(first.model, float, fq, 'input_1', 'conv1_bn/batchnorm_1/act_quant/FakeQuantWithMinMaxVars', evalFeeds(), 'conv1_relu/clip_by_value');
    const fqOut = fq.nodes().find((n) => n.op === 'FakeQuantWithMinMaxVars' && n.dataInputs[0] === out)!.name;
    const { model, notes } = convert(fq, fqOut);
    // 14 conv + 13 depthwise, all per-channel with zero points 0
    const sg = model.subgraphs[0]!;
    const weights = sg.operators.filter((o) => ['CONV_2D', 'DEPTHWISE_CONV_2D'].includes(model.operatorCodes[o.opcodeIndex]!.builtin)).map((o) => sg.tensors[o.inputs[1]!]!);
    expect(weights.length).toBe(27);
    for (const w of weights) {
      expect(w.type).toBe('int8');
      expect(w.quantization!.scale!.length).toBe(w.shape[w.quantization!.quantizedDimension ?? 0]);
      expect(w.quantization!.zeroPoint!.every((z) => z === 0)).toBe(true);
    }
    // symmetric ranges: nothing to re-derive
    expect(notes.filter((n) => /re-derived as symmetric/.test(n.message))).toEqual([]);
    const a = await agreement(model, float, fq, 'input_1', fqOut, evalFeeds(), out);
    console.log(
      `[toco] keras-mobilenet-0.25-128 int8 (symmetric per-channel): first layer ${(100 * a1.within1).toFixed(2)}% within 1 LSB; output ${(100 * a.within1).toFixed(1)}% within 1 LSB (max ${a.maxLsb.toFixed(0)} LSB) of the fake-quant graph; SQNR vs float: int8 ${a.sqnrInt8.toFixed(1)} dB, fake-quant graph ${a.sqnrFakeQuant.toFixed(1)} dB`,
    );
    const lw = await layerwise(model, fq, 'input_1', evalFeeds()[0]!, fqOut);
    console.log(`[toco] keras-mobilenet-0.25-128 int8, why the output gap (input 1000, reference kernels): ${describeLw(lw)}`);
    expectCompoundingOnly(lw, lw.endToEnd[lw.endToEnd.length - 1]!);
    expect(lw.layers).toBe(27);
    expect(lw.worstWithin1).toBeGreaterThanOrEqual(0.99);
    expect(a1.within1).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(a.sqnrInt8 - a.sqnrFakeQuant)).toBeLessThanOrEqual(1);
    expect(a.within1).toBeGreaterThanOrEqual(0.8);
  });

  it('--ranges: the float graph (no FakeQuants) with calibrate\'s ranges gives an int8 model as good as the fake-quant one', async () => {
    const fq = await fqGraph(true);
    const fqOut = fq.nodes().find((n) => n.op === 'FakeQuantWithMinMaxVars' && n.dataInputs[0] === out)!.name;
    const fromFq = convert(fq, fqOut).model;
    const lowered = lowerGraph(float, { inputArrays: ['input_1'], outputArrays: [out], inputShapes: [[1, 128, 128, 3]] });
    const { model } = quantizeLowered(lowered, { inferenceType: 'int8', meanValues: io.mean, stdValues: io.std, rangesFromFile: ranges });
    // every activation found its range by name; weights are per-channel from their data
    const sg = model.subgraphs[0]!;
    const acts = sg.tensors.filter((t) => t.type === 'int8' && !model.buffers[t.buffer]?.data?.length);
    expect(acts.length).toBeGreaterThanOrEqual(28);
    const a = await agreement(model, float, float, 'input_1', out, evalFeeds());
    const b = await agreement(fromFq, float, fq, 'input_1', fqOut, evalFeeds(), out);
    console.log(`[toco] keras-mobilenet-0.25-128 int8 from the float graph + ranges file: SQNR vs float ${a.sqnrInt8.toFixed(1)} dB (from the fake-quant graph: ${b.sqnrInt8.toFixed(1)} dB)`);
    expect(Math.abs(a.sqnrInt8 - b.sqnrInt8)).toBeLessThanOrEqual(1.5);
  });

  it('asymmetric per-channel QAT ranges are re-derived as symmetric, with one note per layer', async () => {
    const fq = await fqGraph(false);
    const fqOut = fq.nodes().find((n) => n.op === 'FakeQuantWithMinMaxVars' && n.dataInputs[0] === out)!.name;
    const { model, notes } = convert(fq, fqOut);
    const re = notes.filter((n) => /re-derived as symmetric/.test(n.message));
    expect(re.length).toBe(27);
    const a = await agreement(model, float, fq, 'input_1', fqOut, evalFeeds(), out);
    console.log(`[toco] keras-mobilenet-0.25-128 int8 from asymmetric per-channel fake quant: SQNR vs float int8 ${a.sqnrInt8.toFixed(1)} dB, fake-quant graph ${a.sqnrFakeQuant.toFixed(1)} dB (symmetric re-derivation cost)`);
    // still a working model, but the re-derivation costs accuracy
    expect(a.sqnrInt8).toBeGreaterThan(3);
    expect(a.sqnrInt8).toBeLessThan(a.sqnrFakeQuant);
  });
});

/** Seeded MFCC-like features [1,49,10]: per-coefficient level (decaying with the index) plus slow drift and noise. */
function mfccLike(seed: number): Tensor {
  let s = (seed * 104729 + 7) % 2147483647;
  const r = () => (s = (s * 48271) % 2147483647) / 2147483647;
  const out = new Float32Array(49 * 10);
  for (let c = 0; c < 10; c++) {
    const level = (r() * 2 - 1) * (40 / (c + 1));
    const drift = (r() * 2 - 1) * (20 / (c + 1));
    const ph = r() * 6.28;
    for (let t = 0; t < 49; t++) out[t * 10 + c] = level + drift * Math.sin(ph + t / 6) + (r() * 2 - 1) * 3;
  }
  return new Tensor('float32', [1, 49, 10], out);
}

const dscnn = modelPath('arm-kws-ds-cnn-s/DS_CNN_S.pb');

describe.skipIf(!dscnn)('int8 on the KWS DS-CNN (arm-kws-ds-cnn-s, cut at Mfcc)', () => {
  it('symmetric per-channel: int8 agrees with the fake-quant graph, same SQNR vs float', async () => {
    // Cut at Mfcc: the audio front end (DecodeWav/AudioSpectrogram/Mfcc) has no TFLite builtin;
    // Mfcc becomes a [1,49,10] Placeholder. Calibration: 16 seeded MFCC-like inputs (seeds 1..16,
    // values roughly in [−60, 60]); evaluation: 8 others (seeds 500..507).
    const g = readGraph(dscnn!);
    g.removeNode('Mfcc');
    g.addNode({ name: 'Mfcc', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 49, 10] } } });
    const reg = new PassRegistry();
    for (const p of ['@tfpass/pass-strip', '@tfpass/pass-fold-constants', '@tfpass/pass-fold-bn']) await registerPlugin(await import(p), reg);
    const child = container.createChildContainer();
    child.register(TOKENS.executor, { useValue: exec });
    await runPipeline(g, 'strip_unused_nodes remove_nodes(op=Identity) fold_constants fold_batch_norms fold_old_batch_norms', { registry: reg, inputs: ['Mfcc'], outputs: ['labels_softmax'], container: child });
    const calib = Array.from({ length: 16 }, (_, i) => ({ Mfcc: mfccLike(1 + i) }));
    const ranges = await calibrate(g, { inputs: ['Mfcc'], data: calib, method: 'minmax', executor: exec });
    const fq = g.clone();
    applySites(fq, planQuantization(fq, { perChannel: true, symmetric: true }), { kind: 'const', ranges, requireRanges: true });
    // input params: [−64, 64] on int8 (std 255/128, mean −128 + 64·std)
    const std = 255 / 128;
    const lowered = lowerGraph(fq, { inputArrays: ['Mfcc'], outputArrays: ['labels_softmax'], inputShapes: [[1, 49, 10]] });
    const { model } = quantizeLowered(lowered, { inferenceType: 'int8', meanValues: [-128 + 64 * std], stdValues: [std] });
    const ops = new Set(model.subgraphs[0]!.operators.map((o) => model.operatorCodes[o.opcodeIndex]!.builtin));
    expect([...ops].sort()).toEqual(['AVERAGE_POOL_2D', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'DEQUANTIZE', 'FULLY_CONNECTED', 'QUANTIZE', 'RESHAPE', 'SOFTMAX'].filter((o) => ops.has(o) || o !== 'RESHAPE'));
    const feeds = Array.from({ length: 8 }, (_, i) => mfccLike(500 + i));
    const a = await agreement(model, g, fq, 'Mfcc', 'labels_softmax', feeds);
    // the logits: the FakeQuant after fc1, converted on its own
    const logitsFq = fq.nodes().find((n) => n.op === 'FakeQuantWithMinMaxVars' && n.dataInputs[0] === 'MobileNet/fc1/BiasAdd')!.name;
    const logits = quantizeLowered(lowerGraph(fq, { inputArrays: ['Mfcc'], outputArrays: [logitsFq], inputShapes: [[1, 49, 10]] }), { inferenceType: 'int8', meanValues: [-128 + 64 * std], stdValues: [std] });
    const b = await agreement(logits.model, g, fq, 'Mfcc', logitsFq, feeds, 'MobileNet/fc1/BiasAdd');
    console.log(
      `[toco] arm-kws-ds-cnn-s int8 (symmetric per-channel), 8 inputs: logits ${(100 * b.within1).toFixed(1)}% within 1 LSB (max ${b.maxLsb.toFixed(1)} LSB), softmax ${(100 * a.within1).toFixed(1)}% within 1 LSB (max ${a.maxLsb.toFixed(1)}) of the fake-quant graph; SQNR vs float: logits int8 ${b.sqnrInt8.toFixed(1)} dB / fake-quant ${b.sqnrFakeQuant.toFixed(1)} dB, softmax int8 ${a.sqnrInt8.toFixed(1)} dB / fake-quant ${a.sqnrFakeQuant.toFixed(1)} dB`,
    );
    const lw = await layerwise(model, fq, 'Mfcc', feeds[0]!, 'labels_softmax');
    console.log(`[toco] arm-kws-ds-cnn-s int8, why the output gap (input 500, reference kernels): ${describeLw(lw)}`);
    expectCompoundingOnly(lw, lw.endToEnd[lw.endToEnd.length - 1]!);
    // The softmax gap is LiteRT.js's int8 SOFTMAX kernel: against the exact softmax of the int8
    // logits (the reference kernels' own), the fixed-point reference kernel is within 1 LSB, LiteRT.js is not.
    const sm = model.subgraphs[0]!.operators.find((o) => model.operatorCodes[o.opcodeIndex]!.builtin === 'SOFTMAX')!;
    const msg = model.subgraphs[0]!;
    const [ls, lz] = [msg.tensors[sm.inputs[0]!]!.quantization!.scale![0]!, msg.tensors[sm.inputs[0]!]!.quantization!.zeroPoint![0]!];
    const softRunner = await loadTfliteRunner(writeTflite(model), { file: 'kws-softmax.tflite' });
    let refMax = 0;
    let liteMax = 0;
    for (const x of feeds) {
      const feed = { [msg.tensors[msg.inputs[0]!]!.name]: x.toFloat32() };
      const ref = runReference(model, feed, { keepAll: true });
      const logits = Array.from(ref.tensors![sm.inputs[0]!]! as Int8Array, (v) => (v - lz) * ls);
      const top = Math.max(...logits);
      const e = logits.map((v) => Math.exp(v - top));
      const sum = e.reduce((u, v) => u + v);
      const lite = Object.values(await softRunner.run(feed))[0] as Float32Array;
      const mine = ref.tensors![sm.outputs[0]!]! as Int8Array;
      e.forEach((v, i) => {
        refMax = Math.max(refMax, Math.abs((mine[i]! + 128) / 256 - v / sum) * 256);
        liteMax = Math.max(liteMax, Math.abs(lite[i]! - v / sum) * 256);
      });
    }
    softRunner.close();
    console.log(`[toco] arm-kws-ds-cnn-s int8 SOFTMAX vs the exact softmax of its int8 logits, 8 inputs: reference kernel max ${refMax.toFixed(2)} LSB, LiteRT.js max ${liteMax.toFixed(2)} LSB`);
    expect(refMax).toBeLessThanOrEqual(1 + 1e-3);
    expect(lw.layers).toBeGreaterThanOrEqual(10);
    expect(lw.worstWithin1).toBeGreaterThanOrEqual(0.99);
    expect(b.within1).toBeGreaterThanOrEqual(0.97);
    expect(a.sqnrInt8).toBeGreaterThan(a.sqnrFakeQuant - 3);
    expect(b.sqnrInt8).toBeGreaterThan(b.sqnrFakeQuant - 3);
  });
});

const mnv2 = modelPath('tf-doc-localisation-mnv2/frozen_model.pb');

describe.skipIf(!mnv2)('int8 on tf-doc-localisation-mnv2 (backbone + heat-map conv, residual ADDs)', () => {
  it('every layer within 1 LSB of its fake-quant layer; output SQNR as the fake-quant graph', async () => {
    // The keypoint post-processing (softmax over the heat map by Exp/Sum/RealDiv, Range/Tile
    // coordinate grids) is cut off: output = the heat-map conv. Input pinned to 1x96x96x3 (the net
    // is fully convolutional; the file says 800x600) to keep the test fast. Pixels in [0, 255]:
    // seeded wavy images scaled, calibration seeds 200..207, evaluation 2000..2001.
    const g = readGraph(mnv2!);
    g.removeNode('input');
    g.addNode({ name: 'input', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 96, 96, 3] } } });
    const out = 'heats_map_regression/pred_keypoints/BiasAdd';
    const reg = new PassRegistry();
    for (const p of ['@tfpass/pass-strip', '@tfpass/pass-fold-constants', '@tfpass/pass-fold-bn']) await registerPlugin(await import(p), reg);
    const child = container.createChildContainer();
    child.register(TOKENS.executor, { useValue: exec });
    await runPipeline(g, 'strip_unused_nodes remove_nodes(op=Identity) fold_constants fold_batch_norms fold_old_batch_norms', { registry: reg, inputs: ['input'], outputs: [out], container: child });
    const pixels = (seed: number) => {
      const t = wavyImage(seed, 96, 96, 3);
      return new Tensor('float32', t.shape, t.toFloat32().map((v) => 127.5 + 127.5 * v));
    };
    const calib = Array.from({ length: 8 }, (_, i) => ({ input: pixels(200 + i) }));
    const ranges = await calibrate(g, { inputs: ['input'], data: calib, method: 'minmax', executor: exec });
    const fq = g.clone();
    applySites(fq, planQuantization(fq, { perChannel: true, symmetric: true }), { kind: 'const', ranges, requireRanges: true });
    const fqOut = fq.nodes().find((n) => n.op === 'FakeQuantWithMinMaxVars' && n.dataInputs[0] === out)!.name;
    // uint8-style pixels on int8: real = (q + 128)·1 → mean −128, std 1
    const lowered = lowerGraph(fq, { inputArrays: ['input'], outputArrays: [fqOut], inputShapes: [[1, 96, 96, 3]] });
    // `sub` (pixels − per-channel mean) has no FakeQuant: its range from the data bounds, as a ranges file gives it
    const { model } = quantizeLowered(lowered, { inferenceType: 'int8', meanValues: [-128], stdValues: [1], rangesFromFile: { sub: { min: 0 - 123.15, max: 255 - 103.06 } } });
    const ops = model.subgraphs[0]!.operators.map((o) => model.operatorCodes[o.opcodeIndex]!.builtin);
    expect(ops.filter((o) => o === 'ADD').length).toBeGreaterThanOrEqual(10); // the residual connections
    const feeds = [pixels(2000), pixels(2001)];
    const lw = await layerwise(model, fq, 'input', feeds[0]!, fqOut);
    // The int8 model quantizes `sub` (no FakeQuant in the graph): the comparison graph rounds there too.
    const mirror = mirrorInt8Params(fq, model);
    expect(mirror.added).toContain('sub');
    const a = await agreement(model, g, mirror.graph, 'input', fqOut, feeds, out);
    console.log(
      `[toco] tf-doc-localisation-mnv2 int8 (symmetric per-channel, 96x96): output ${(100 * a.within1).toFixed(1)}% within 1 LSB of the fake-quant graph; SQNR vs float: int8 ${a.sqnrInt8.toFixed(1)} dB, fake-quant graph ${a.sqnrFakeQuant.toFixed(1)} dB; why the output gap (input 2000, reference kernels): ${describeLw(lw)}`,
    );
    expectCompoundingOnly(lw, lw.endToEnd[lw.endToEnd.length - 1]!);
    expect(a.sqnrInt8).toBeGreaterThan(a.sqnrFakeQuant - 3);
  });
});

const perChannelGraph = modelPath('litert-converter-testgraphs/fake_quant_per_channel.pbtxt');

describe.skipIf(!perChannelGraph)("int8 against the MLIR converter's own test (fake_quant_per_channel.pbtxt, CHECK lines)", () => {
  it('reproduces its scales, zero points, weight and bias values and op versions', async () => {
    // The test's command: -tf-input-arrays=input -tf-input-shapes=1,1,1,256 -tf-inference-type=DT_QINT8
    // -tf-input-min-values=-33.614346 -tf-input-max-values=21.54917 -tf-output-arrays=output (int8 I/O).
    const g = readGraph(perChannelGraph!);
    const lowered = lowerGraph(g, { inputArrays: ['input'], outputArrays: ['output'], inputShapes: [[1, 1, 1, 256]] });
    const { model } = quantizeLowered(lowered, { inferenceType: 'int8', inferenceInputType: 'int8', inferenceOutputType: 'int8', rangesFromFile: { input: { min: -33.614346, max: 21.54917 } } });
    const p6 = (v: number) => Number(v.toFixed(6)); // flatbuffer_to_string prints 6 decimals
    expect(model.operatorCodes.map((c) => [c.builtin, c.version])).toEqual([['CONV_2D', 3], ['RESHAPE', 1]]);
    const sg = model.subgraphs[0]!;
    const input = sg.tensors[sg.inputs[0]!]!;
    expect([input.type, p6(input.quantization!.scale![0]!), input.quantization!.zeroPoint![0]]).toEqual(['int8', 0.216328, 27]);
    const conv = sg.operators[0]!;
    const w = sg.tensors[conv.inputs[1]!]!;
    const b = sg.tensors[conv.inputs[2]!]!;
    const y = sg.tensors[conv.outputs[0]!]!;
    const out = sg.tensors[sg.outputs[0]!]!;
    expect(w.shape).toEqual([186, 1, 1, 256]);
    expect(w.quantization!.scale!.slice(0, 5).map(p6)).toEqual([0.12581, 0.001755, 0.001908, 0.001967, 0.007431]);
    expect(w.quantization!.zeroPoint!.every((z) => z === 0)).toBe(true);
    expect([...model.buffers[w.buffer]!.data!.slice(0, 12)]).toEqual(new Array(12).fill(8));
    expect(b.quantization!.scale!.slice(0, 5).map(p6)).toEqual([0.027216, 0.00038, 0.000413, 0.000426, 0.001607]);
    const bias = new Int32Array(model.buffers[b.buffer]!.data!.slice().buffer);
    expect([...bias.slice(0, 3)]).toEqual([-11, -326, -299]);
    for (const t of [y, out]) expect([p6(t.quantization!.scale![0]!), t.quantization!.zeroPoint![0]]).toEqual([0.093635, 22]);
    expect(out.shape).toEqual([1, 6, 31]);
    // LiteRT.js takes no int8 I/O: the same conversion with float I/O loads
    const withFloatIo = quantizeLowered(lowerGraph(g, { inputArrays: ['input'], outputArrays: ['output'], inputShapes: [[1, 1, 1, 256]] }), { inferenceType: 'int8', rangesFromFile: { input: { min: -33.614346, max: 21.54917 } } });
    const r = await loadTfliteRunner(writeTflite(withFloatIo.model), { file: 'fake_quant_per_channel.tflite' });
    expect(r.outputs[0]!.shape).toEqual([1, 6, 31]);
    r.close();
  });
});
