import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Graph, Tensor, readGraph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { createExecutor, nudge, randomInputs, useBackend } from '../src/index.js';

// Every must-run model of issue 5 executes here, each with a golden check computed
// independently (plain JS or eager tfjs ops on the graph's own constants).

const exec = createExecutor();

function load(rel: string): Graph | undefined {
  const p = modelPath(rel);
  return p ? readGraph(p) : undefined;
}

function constOf(g: Graph, name: string): Tensor {
  return g.node(name).attrs.getTensor('value');
}

function f32(t: Tensor): Float32Array {
  return t.toFloat32();
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function tfOf(t: Tensor): tf.Tensor {
  return tf.tensor(f32(t), t.shape, 'float32');
}

/** Every value of a FakeQuant output lies on the nudged grid, with at most 2^bits levels. */
function expectOnGrid(values: Float32Array, min: number, max: number, bits: number, narrow: boolean): number {
  const r = nudge(min, max, bits, narrow);
  const levels = new Set<number>();
  const top = 2 ** bits - 1 - (narrow ? 1 : 0);
  const bad: number[] = [];
  for (const v of values) {
    levels.add(v);
    const q = Math.round((v - r.min) / r.scale);
    if (q < 0 || q > top || v !== Math.fround(Math.fround(q * r.scale) + r.min)) bad.push(v);
  }
  expect(bad.slice(0, 5)).toEqual([]);
  expect(levels.size).toBeLessThanOrEqual(2 ** bits);
  return levels.size;
}

function softmaxRowsSumToOne(t: Tensor): void {
  const v = f32(t);
  const cols = t.shape[t.shape.length - 1]!;
  for (let r = 0; r < v.length / cols; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += v[r * cols + c]!;
    expect(Math.abs(s - 1)).toBeLessThan(1e-5);
  }
}

describe('must-run models', () => {
  it('keras-mobilenet-0.25-128: first block equals eager tfjs math; output in [0,6]; wasm = cpu', async () => {
    const g = load('keras-mobilenet-0.25-128/mnet.pb');
    if (!g) return;
    const { input_1 } = randomInputs({ input_1: [1, 128, 128, 3] }, 5);
    const [block, out] = await exec.run(g, { input_1: input_1! }, ['conv1_relu/clip_by_value', 'output_0']);
    await useBackend('wasm');
    const ref = tf.tidy(() => {
      const x = tfOf(input_1!) as tf.Tensor4D;
      const k = tfOf(constOf(g, 'conv1/kernel')) as tf.Tensor4D;
      const mul = tf.mul(tf.rsqrt(tf.add(tfOf(constOf(g, 'conv1_bn/moving_variance')), tfOf(constOf(g, 'conv1_bn/batchnorm_1/add/y')))), tfOf(constOf(g, 'conv1_bn/gamma')));
      const conv = tf.conv2d(x, k, [2, 2], 'same');
      const bn = tf.add(tf.mul(conv, mul), tf.sub(tfOf(constOf(g, 'conv1_bn/beta')), tf.mul(tfOf(constOf(g, 'conv1_bn/moving_mean')), mul)));
      return tf.maximum(tf.minimum(tf.relu(bn), 6), 0).dataSync() as Float32Array;
    });
    expect(block!.shape).toEqual([1, 64, 64, 8]);
    expect(maxDiff(f32(block!), ref)).toBe(0);
    expect(out!.shape).toEqual([1, 4, 4, 256]);
    const o = f32(out!);
    expect(Math.min(...o)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...o)).toBeLessThanOrEqual(6);
    expect(Math.max(...o)).toBeGreaterThan(0);
    const [cpuOut] = await createExecutor({ backend: 'cpu' }).run(g, { input_1: input_1! }, ['output_0']);
    expect(maxDiff(f32(cpuOut!), o)).toBeLessThan(1e-4);
  });

  it('tf-doc-localisation-mnv2: FusedBatchNorm output equals TF inference formula on its conv input', async () => {
    const g = load('tf-doc-localisation-mnv2/frozen_model.pb');
    if (!g) return;
    const feeds = randomInputs({ input: { shape: [1, 800, 600, 3], low: 0, high: 255 } }, 2);
    const bn = 'MobilenetV2/Conv/BatchNorm/FusedBatchNorm';
    const [conv, y, kp] = await exec.run(g, feeds, ['MobilenetV2/Conv/Conv2D', bn, 'keypoints_pred']);
    const gamma = f32(constOf(g, 'MobilenetV2/Conv/BatchNorm/gamma'));
    const beta = f32(constOf(g, 'MobilenetV2/Conv/BatchNorm/beta'));
    const mean = f32(constOf(g, 'MobilenetV2/Conv/BatchNorm/moving_mean'));
    const variance = f32(constOf(g, 'MobilenetV2/Conv/BatchNorm/moving_variance'));
    const eps = g.node(bn).attrs.getFloat('epsilon');
    const x = f32(conv!);
    const c = gamma.length;
    const want = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const ch = i % c;
      want[i] = ((x[i]! - mean[ch]!) / Math.sqrt(variance[ch]! + eps)) * gamma[ch]! + beta[ch]!;
    }
    const got = f32(y!);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
    expect(worst).toBeLessThan(1e-5);
    expect(kp!.dtype).toBe('float32');
    expect(f32(kp!).every(Number.isFinite)).toBe(true);
    expect(kp!.size).toBeGreaterThan(0);
  });

  for (const [dir, file, bnNode, bnInput] of [
    ['arm-kws-cnn-s', 'CNN_S.pb', 'bn1/FusedBatchNorm', 'add'],
    ['arm-kws-ds-cnn-s', 'DS_CNN_S.pb', undefined, undefined],
  ] as const) {
    it(`${dir}: cut at Mfcc; batch norm by formula; softmax rows sum to 1`, async () => {
      const g = load(`${dir}/${file}`);
      if (!g) return;
      const feeds = randomInputs({ Mfcc: { shape: [1, 49, 10], dist: 'normal', low: -20, high: 20 } }, 4);
      let bnName: string = bnNode ?? '';
      let bnIn: string = bnInput ?? '';
      if (!bnName) {
        const n = g.nodes().find((x) => x.op === 'FusedBatchNorm')!;
        bnName = n.name;
        bnIn = n.input(0).node;
      }
      const bnNodeObj = g.node(bnName);
      const [inp, y, sm] = await exec.run(g, feeds, [bnIn, bnName, 'labels_softmax']);
      const params = [1, 2, 3, 4].map((i) => {
        let p = g.node(bnNodeObj.input(i).node);
        while (p.op === 'Identity') p = g.node(p.input(0).node);
        return f32(p.attrs.getTensor('value'));
      });
      const [gamma, beta, mean, variance] = params as [Float32Array, Float32Array, Float32Array, Float32Array];
      const eps = bnNodeObj.attrs.getFloat('epsilon');
      const x = f32(inp!);
      const got = f32(y!);
      let worst = 0;
      for (let i = 0; i < x.length; i++) {
        const ch = i % gamma.length;
        const want = ((x[i]! - mean[ch]!) / Math.sqrt(variance[ch]! + eps)) * gamma[ch]! + beta[ch]!;
        worst = Math.max(worst, Math.abs(got[i]! - want) / (1 + Math.abs(want)));
      }
      expect(worst).toBeLessThan(1e-5);
      expect(sm!.shape).toEqual([1, 12]);
      softmaxRowsSumToOne(sm!);
    });
  }

  it('arm-kws-lstm-s: cut at Mfcc; TF1 while loop equals a hand-written peephole+projection LSTM', async () => {
    const g = load('arm-kws-lstm-s/LSTM_S.pb');
    if (!g) return;
    const feeds = randomInputs({ Mfcc: { shape: [1, 25, 10], dist: 'normal', low: -5, high: 5 } }, 8);
    const [sm, logits] = await exec.run(g, feeds, ['labels_softmax', 'Output-Layer/add']);
    const kernel = f32(constOf(g, 'lstm/rnn/lstm_cell/kernel'));
    const bias = f32(constOf(g, 'lstm/rnn/lstm_cell/bias'));
    const wf = f32(constOf(g, 'lstm/rnn/lstm_cell/w_f_diag'));
    const wi = f32(constOf(g, 'lstm/rnn/lstm_cell/w_i_diag'));
    const wo = f32(constOf(g, 'lstm/rnn/lstm_cell/w_o_diag'));
    const proj = f32(constOf(g, 'lstm/rnn/lstm_cell/projection/kernel'));
    const forget = f32(constOf(g, 'LSTM-Layer/lstm/rnn/while/rnn/lstm_cell/add/y'))[0]!;
    const Wout = f32(constOf(g, 'W_o'));
    const bout = f32(constOf(g, 'b_o'));
    const units = 144;
    const nproj = 98;
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const x = f32(feeds.Mfcc!);
    let c = new Float64Array(units);
    let h = new Float64Array(nproj);
    for (let t = 0; t < 25; t++) {
      const inp = [...x.subarray(t * 10, t * 10 + 10), ...h];
      const z = new Float64Array(4 * units);
      for (let j = 0; j < 4 * units; j++) {
        let s = bias[j]!;
        for (let k = 0; k < inp.length; k++) s += inp[k]! * kernel[k * 4 * units + j]!;
        z[j] = s;
      }
      const c2 = new Float64Array(units);
      const m = new Float64Array(units);
      for (let u = 0; u < units; u++) {
        const i = z[u]!, jg = z[units + u]!, fg = z[2 * units + u]!, o = z[3 * units + u]!;
        c2[u] = sig(fg + forget + wf[u]! * c[u]!) * c[u]! + sig(i + wi[u]! * c[u]!) * Math.tanh(jg);
        m[u] = sig(o + wo[u]! * c2[u]!) * Math.tanh(c2[u]!);
      }
      c = c2;
      h = new Float64Array(nproj);
      for (let p = 0; p < nproj; p++) {
        let s = 0;
        for (let u = 0; u < units; u++) s += m[u]! * proj[u * nproj + p]!;
        h[p] = s;
      }
    }
    const want = Array.from({ length: 12 }, (_, k) => {
      let s = bout[k]!;
      for (let p = 0; p < nproj; p++) s += h[p]! * Wout[p * 12 + k]!;
      return s;
    });
    expect(maxDiff(f32(logits!), want)).toBeLessThan(1e-3);
    softmaxRowsSumToOne(sm!);
  });

  for (const file of ['simple_mnist_tf.pb', 'simple_mnist_tf.prototxt']) {
    it(`armnn-simple-mnist ${file}: softmax(x·W + b) computed in JS`, async () => {
      const g = load(`armnn-simple-mnist/${file}`);
      if (!g) return;
      const feeds = randomInputs({ Placeholder: { shape: [2, 784], low: 0, high: 1 } }, 9);
      const [sm] = await exec.run(g, feeds, ['Softmax']);
      const W = f32(constOf(g, 'Variable'));
      const b = f32(constOf(g, 'Variable_1'));
      const x = f32(feeds.Placeholder!);
      const want: number[] = [];
      for (let r = 0; r < 2; r++) {
        const z = Array.from({ length: 10 }, (_, k) => {
          let s = b[k]!;
          for (let i = 0; i < 784; i++) s += x[r * 784 + i]! * W[i * 10 + k]!;
          return s;
        });
        const mx = Math.max(...z);
        const e = z.map((v) => Math.exp(v - mx));
        const sum = e.reduce((p, q) => p + q, 0);
        want.push(...e.map((v) => v / sum));
      }
      expect(sm!.shape).toEqual([2, 10]);
      expect(maxDiff(f32(sm!), want)).toBeLessThan(1e-5);
    });
  }

  it('tf2onnx-regression: exactly X·W + b with its constants', async () => {
    const g = load('tf2onnx-regression/graphdef/frozen.pb');
    if (!g) return;
    const W = f32(constOf(g, 'W'))[0]!;
    const b = f32(constOf(g, 'b'))[0]!;
    expect(W).toBe(Math.fround(0.21396178));
    expect(b).toBe(Math.fround(1.0495254));
    const xs = [0, 1, -2.5, 3.25, 100, 1e-3];
    const [pred] = await exec.run(g, { X: Tensor.fromValues('float32', [2, 3], xs) }, ['pred']);
    expect(pred!.shape).toEqual([2, 3]);
    expect(Array.from(f32(pred!))).toEqual(xs.map((x) => Math.fround(Math.fround(Math.fround(x) * W) + b)));
  });

  it('edgetpu-qat-fashion-mlp: FakeQuant outputs on their nudged grids; first layer by hand; softmax', async () => {
    const g = load('edgetpu-qat-fashion-mlp/frozen_model.pb');
    if (!g) return;
    const feeds = randomInputs({ flatten_input: { shape: [3, 28, 28], low: 0, high: 1 } }, 11);
    const fqs = g.nodes().filter((n) => n.op === 'FakeQuantWithMinMaxVars');
    expect(fqs.length).toBe(6);
    const outs = await exec.run(g, feeds, [...fqs.map((n) => n.name), 'dense/MatMul', 'dense_1/Softmax']);
    const rangeOf = (n: string) => {
      let p = g.node(n);
      while (p.op === 'Identity') p = g.node(p.input(0).node);
      return f32(p.attrs.getTensor('value'))[0]!;
    };
    fqs.forEach((n, i) => {
      const levels = expectOnGrid(f32(outs[i]!), rangeOf(n.input(1).node), rangeOf(n.input(2).node), n.attrs.optInt('num_bits', 8), n.attrs.optBool('narrow_range', false));
      expect(levels).toBeGreaterThan(1);
    });
    // dense/MatMul = flatten(x) · FakeQuant(W), recomputed in float64.
    const wq = f32(outs[0]!);
    const x = f32(feeds.flatten_input!);
    const mm = f32(outs[6]!);
    let worst = 0;
    for (let r = 0; r < 3; r++)
      for (let k = 0; k < 128; k++) {
        let s = 0;
        for (let i = 0; i < 784; i++) s += x[r * 784 + i]! * wq[i * 128 + k]!;
        worst = Math.max(worst, Math.abs(s - mm[r * 128 + k]!));
      }
    expect(worst).toBeLessThan(1e-4);
    softmaxRowsSumToOne(outs[7]!);
  });

  it('speech-tiny-conv-qat: fed after the front end; activations on the 8-bit grid', async () => {
    const g = load('speech-tiny-conv-qat/tiny_conv.pb');
    if (!g) return;
    // AudioMicrofrontend is not supported: feed its scaled output (98 frames x 40 channels).
    const feeds = randomInputs({ Mul_1: { shape: [98, 40], low: 0, high: 26 } }, 12);
    const names = ['weights_quant/FakeQuantWithMinMaxVars', 'act_quant/FakeQuantWithMinMaxVars', 'act_quant_1/FakeQuantWithMinMaxVars', 'labels_softmax'];
    const outs = await exec.run(g, feeds, names);
    const rangeOf = (n: string) => {
      let p = g.node(n);
      while (p.op === 'Identity') p = g.node(p.input(0).node);
      return f32(p.attrs.getTensor('value'))[0]!;
    };
    for (let i = 0; i < 3; i++) {
      const n = g.node(names[i]!);
      expectOnGrid(f32(outs[i]!), rangeOf(n.input(1).node), rangeOf(n.input(2).node), n.attrs.optInt('num_bits', 8), n.attrs.optBool('narrow_range', false));
    }
    expect(outs[3]!.shape[1]).toBeGreaterThan(1);
    softmaxRowsSumToOne(outs[3]!);
  });

  it('litert fake_quant graphs: per-channel weights on per-channel grids', async () => {
    for (const file of ['fake_quant_per_channel.pbtxt', 'fake_quant_without_identity.pbtxt']) {
      const g = load(`litert-converter-testgraphs/${file}`);
      if (!g) return;
      const pc = g.nodes().find((n) => n.op === 'FakeQuantWithMinMaxVarsPerChannel')!;
      const fq = g.nodes().find((n) => n.op === 'FakeQuantWithMinMaxVars')!;
      const out = g.nodes().find((n) => n.name === 'output')?.name ?? g.nodes().filter((n) => n.consumers().length === 0 && n.op !== 'Const')[0]!.name;
      const feeds = randomInputs({ input: [1, 1, 1, 256] }, 13);
      const [w, a, o] = await exec.run(g, feeds, [pc.name, fq.name, out]);
      const valueOf = (n: string) => {
        let p = g.node(n);
        while (p.op === 'Identity') p = g.node(p.input(0).node);
        return f32(p.attrs.getTensor('value'));
      };
      const mins = valueOf(pc.input(1).node);
      const maxs = valueOf(pc.input(2).node);
      const src = valueOf(pc.input(0).node);
      const bits = pc.attrs.optInt('num_bits', 8);
      const narrow = pc.attrs.optBool('narrow_range', false);
      const wv = f32(w!);
      const d = mins.length;
      expect(d).toBe(186);
      for (let c = 0; c < d; c++) {
        const col = wv.filter((_, i) => i % d === c);
        expectOnGrid(col, mins[c]!, maxs[c]!, bits, narrow);
        // Weights are all 1.0: each channel holds 1.0 clamped and rounded on its own grid.
        const r = nudge(mins[c]!, maxs[c]!, bits, narrow);
        const clamped = Math.min(Math.max(src.length === 1 ? src[0]! : src[c]!, r.min), r.max);
        const q = Math.floor(Math.fround(Math.fround(clamped - r.min) / r.scale) + 0.5);
        expect(col[0]).toBe(Math.fround(Math.fround(q * r.scale) + r.min));
      }
      expectOnGrid(f32(a!), valueOf(fq.input(1).node)[0]!, valueOf(fq.input(2).node)[0]!, fq.attrs.optInt('num_bits', 8), fq.attrs.optBool('narrow_range', false));
      expect(o!.size).toBe(186);
    }
  });

  it('litert multi_add and quant_stats: exact float32 sums', async () => {
    const g = load('litert-converter-testgraphs/multi_add.pb');
    const q = load('litert-converter-testgraphs/quant_stats.pbtxt');
    if (!g || !q) return;
    const feeds = randomInputs({ a: [1, 8, 8, 3], b: [1, 8, 8, 3], c: [1, 8, 8, 3], d: [1, 8, 8, 3] }, 14);
    const adds = g.nodes().filter((n) => n.op === 'Add');
    const outs = await exec.run(g, feeds, adds.map((n) => n.name));
    const val = new Map<string, Float32Array>(Object.entries(feeds).map(([k, v]) => [k, f32(v)]));
    for (const n of g.topoOrder()) {
      if (n.op !== 'Add') continue;
      const x = val.get(n.input(0).node)!;
      const y = val.get(n.input(1).node)!;
      val.set(n.name, Float32Array.from(x, (v, i) => Math.fround(v + y[i]!)));
    }
    adds.forEach((n, i) => expect(Array.from(f32(outs[i]!))).toEqual(Array.from(val.get(n.name)!)));
    const qf = randomInputs({ input0: [4, 5], input1: [4, 5] }, 15);
    const add = q.nodes().find((n) => n.op === 'Add')!;
    const [s] = await exec.run(q, qf, [add.name]);
    expect(Array.from(f32(s!))).toEqual(Array.from(f32(qf.input0!), (v, i) => Math.fround(v + f32(qf.input1!)[i]!)));
  });
});

describe('documented as unsupported', () => {
  it('tf-stylize-quantized and deepmd fail with UnsupportedOpError naming node and op', async () => {
    const st = load('tf-stylize-quantized/stylize_quantized.pb');
    const dp = modelPath('deepmd-deeppot-pbtxt/deeppot.pbtxt');
    if (!st || !dp) return;
    const e1 = await exec.run(st, { input: Tensor.zeros('float32', [1, 8, 8, 3]), style_num: Tensor.zeros('float32', [26]) }, ['output']).catch((e: unknown) => e);
    expect((e1 as { code?: string }).code).toBe('E_UNSUPPORTED_OP');
    expect((e1 as Error).message).toMatch(/op '(QuantizeV2|QuantizedConv2D|QuantizedReshape|RequantizationRange|Requantize|QuantizedRelu)' is not supported.*registerKernel/);
    const g = readGraph(dp);
    const feeds = {
      t_coord: Tensor.zeros('float64', [6]), t_type: Tensor.zeros('int32', [2]), t_natoms: Tensor.fromValues('int32', [4], [2, 2, 2, 0]),
      t_box: Tensor.zeros('float64', [9]), t_mesh: Tensor.zeros('int32', [0]),
    };
    const e2 = await exec.run(g, feeds, ['o_energy']).catch((e: unknown) => e);
    expect((e2 as { code?: string }).code).toBe('E_UNSUPPORTED_OP');
    expect((e2 as Error).message).toMatch(/op 'Prod(EnvMatA|ForceSeA|VirialSeA)' is not supported/);
  });

  it("backend 'node' without @tensorflow/tfjs-node installed explains how to get it", async () => {
    const err = await createExecutor({ backend: 'node' }).run(new Graph(), {}, []).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('E_USAGE');
    expect((err as Error).message).toMatch(/optional peer package @tensorflow\/tfjs-node.*--backend wasm/);
  });
});
