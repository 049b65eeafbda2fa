import { describe, expect, it } from 'vitest';
import { modelPath } from '../testing.js';
import { readGraph, inferShapes, type ShapeMap } from '../index.js';

// Shape inference on the real graphs of ../shared/models (skipped with a printed reason when absent).
const load = (rel: string) => {
  const p = modelPath(rel);
  return p ? readGraph(p) : undefined;
};

function unknownRank(s: ShapeMap): string[] {
  return [...s].filter(([, v]) => v.shape === null).map(([k]) => k);
}
function partial(s: ShapeMap): string[] {
  return [...s].filter(([, v]) => v.shape?.includes(-1)).map(([k]) => k);
}

describe('real models', () => {
  it('Keras MobileNet 0.25/128: every tensor known, output_0 is the 4x4x256 feature map', () => {
    const g = load('keras-mobilenet-0.25-128/mnet.pb');
    if (!g) return;
    const free = inferShapes(g);
    expect(free.get('output_0')).toEqual({ dtype: 'float32', shape: [-1, 4, 4, 256] });
    const s = inferShapes(g, { input_1: [1, 128, 128, 3] });
    expect(s.size).toBe(g.size);
    expect(unknownRank(s)).toEqual([]);
    expect(partial(s)).toEqual([]);
    expect(s.get('output_0')).toEqual({ dtype: 'float32', shape: [1, 4, 4, 256] });
    expect(s.get('conv1/convolution')!.shape).toEqual([1, 64, 64, 8]);
  });

  it('TF-slim MobileNetV2 keypoints: fully known down to keypoints_pred [1,4,2]', () => {
    const g = load('tf-doc-localisation-mnv2/frozen_model.pb');
    if (!g) return;
    const s = inferShapes(g);
    expect(unknownRank(s)).toEqual([]);
    expect(partial(s)).toEqual([]);
    expect(s.get('MobilenetV2/Conv/Conv2D')!.shape).toEqual([1, 400, 300, 16]);
    expect(s.get('MobilenetV2/expanded_conv_1/depthwise/depthwise')!.shape).toEqual([1, 200, 150, 48]);
    expect(s.get('MobilenetV2/Conv/BatchNorm/FusedBatchNorm:1')!.shape).toEqual([16]);
    expect(s.get('heats_map_regression/range')!.value).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    expect(s.get('keypoints_pred')).toEqual({ dtype: 'float32', shape: [1, 4, 2] });
    // the backbone follows the input size (the head's reshape constants fix 25x19 heat maps)
    const s2 = inferShapes(g, { input: [2, 224, 224, 3] });
    expect(s2.get('MobilenetV2/Conv/Conv2D')!.shape).toEqual([2, 112, 112, 16]);
  });

  it('ARM KWS DS-CNN: audio front end to labels_softmax [1,12]', () => {
    const g = load('arm-kws-ds-cnn-s/DS_CNN_S.pb');
    if (!g) return;
    const s = inferShapes(g);
    // the wav_data scalar string: empty shape in a version-less graph means unknown (TF's rule)
    expect(unknownRank(s)).toEqual(['wav_data']);
    expect(s.get('Mfcc')).toEqual({ dtype: 'float32', shape: [1, 49, 10] });
    expect(s.get('Reshape_1')!.shape).toEqual([1, 49, 10, 1]);
    expect(s.get('MobileNet/avg_pool/AvgPool')!.shape).toEqual([1, 1, 1, 64]);
    expect(s.get('labels_softmax')).toEqual({ dtype: 'float32', shape: [1, 12] });
    // cut at Mfcc with a batch of 4
    const cut = inferShapes(g, { Mfcc: [4, 49, 10] });
    expect(cut.get('Reshape')!.shape).toEqual([4, 490]);
  });

  it('ARM KWS CNN and LSTM (TF1 while loop with TensorArrays)', () => {
    const cnn = load('arm-kws-cnn-s/CNN_S.pb');
    const lstm = load('arm-kws-lstm-s/LSTM_S.pb');
    if (!cnn || !lstm) return;
    const a = inferShapes(cnn);
    expect(a.get('Conv2D')!.shape).toEqual([1, 40, 7, 28]);
    expect(a.get('Reshape_2')!.shape).toEqual([1, 1920]);
    expect(a.get('labels_softmax')!.shape).toEqual([1, 12]);
    const b = inferShapes(lstm);
    expect(unknownRank(b)).toEqual(['wav_data']);
    expect(b.get('LSTM-Layer/lstm/rnn/while/TensorArrayReadV3')!.shape).toEqual([1, 10]);
    expect(b.get('LSTM-Layer/lstm/rnn/while/Merge_2')!.shape).toEqual([1, 144]);
    expect(b.get('LSTM-Layer/lstm/rnn/while/rnn/lstm_cell/MatMul')!.shape).toEqual([1, 576]);
    expect(b.get('labels_softmax')).toEqual({ dtype: 'float32', shape: [1, 12] });
  });

  it('QAT graphs: tiny_conv (AudioMicrofrontend) and the fashion MLP flatten with unknown batch', () => {
    const tiny = load('speech-tiny-conv-qat/tiny_conv.pb');
    const mlp = load('edgetpu-qat-fashion-mlp/frozen_model.pb');
    if (!tiny || !mlp) return;
    const t = inferShapes(tiny);
    expect(t.get('AudioMicrofrontend')).toEqual({ dtype: 'float32', shape: [98, 40] });
    expect(t.get('Conv2D')!.shape).toEqual([1, 49, 20, 8]);
    expect(t.get('labels_softmax')!.shape).toEqual([1, 6]);
    const m = inferShapes(mlp);
    expect(m.get('flatten/Reshape')!.shape).toEqual([-1, 784]);
    expect(m.get('dense_1/Softmax')!.shape).toEqual([-1, 10]);
    expect(inferShapes(mlp, { flatten_input: [3, 28, 28] }).get('dense_1/Softmax')!.shape).toEqual([3, 10]);
  });

  it('eight-bit stylize graph needs the image size; deepmd custom ops stay unknown without throwing', () => {
    const sty = load('tf-stylize-quantized/stylize_quantized.pb');
    const dp = load('deepmd-deeppot-pbtxt/deeppot.pbtxt');
    if (!sty || !dp) return;
    const s = inferShapes(sty, { input: [1, 256, 256, 3] });
    expect(unknownRank(s)).toEqual([]);
    expect(s.get('transformer/contract/conv1/convolution_eightbit_quantized_conv')).toEqual({ dtype: 'qint32', shape: [1, 256, 256, 32] });
    expect(s.get('output')).toEqual({ dtype: 'uint8', shape: [256, 256, 3] });
    const d = inferShapes(dp);
    expect(d.size).toBeGreaterThanOrEqual(dp.size);
    const custom = dp.nodes().filter((n) => n.op.startsWith('Prod') && n.op !== 'Prod');
    expect(custom.length).toBe(3);
    for (const n of custom) expect(d.get(n.name)!.shape).toBeNull();
    expect(d.get('o_energy')).toEqual({ dtype: 'float64', shape: [-1] });
  });

  it('training graphs (.meta, SavedModel) infer without throwing; only restore/gradient tensors stay unknown', () => {
    for (const rel of ['edgetpu-qat-fashion-mlp/checkpoints.meta', 'mltf2ed-autoencoder-ckpt/model.ckpt.meta', 'tf-serving-half-plus-two/saved_model.pb']) {
      const g = load(rel);
      if (!g) return;
      const s = inferShapes(g);
      for (const n of g) if (n.op === 'VarHandleOp') expect(s.get(n.name)).toEqual({ dtype: 'resource', shape: [] });
      const reads = g.nodes().filter((n) => n.op === 'ReadVariableOp');
      for (const n of reads) expect(s.get(n.name)!.shape, n.name).not.toBeNull();
      const unknownOps = new Set(unknownRank(s).map((k) => g.get(k.split(':')[0]!)!.op));
      for (const op of unknownOps) expect(['RestoreV2', 'Sum', 'Identity', 'Neg', 'Placeholder'], `${rel}: ${op}`).toContain(op);
    }
  });
});
