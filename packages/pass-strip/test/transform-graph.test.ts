// transform_graph pipelines through core's transformGraph() with every pass package (issue 17).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { transformGraph, type Graph, type Node } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import * as runtime from '@tfpass/runtime';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { graph, lib } from './helpers.js';
import { allPasses } from './pipeline.js';

const tg = async (g: ReturnType<typeof graph>, inputs: string[], outputs: string[], t: string) =>
  transformGraph(g, inputs, outputs, t, { registry: await allPasses(), discover: false });

describe('messages as TF gives them', () => {
  it("fold_constants with an --inputs node that is not a Placeholder says so in TF's words", async () => {
    const g = graph([{ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } }, ['m', 'Relu', ['x']], ['out', 'Relu', ['m']]]);
    const err = await tg(g, ['m'], ['out'], 'fold_constants').catch((e) => e);
    expect(err.code).toBe('E_PASS');
    expect(err.message).toMatch(/Input 'm' was expected to be a Placeholder or PlaceholderWithDefault op, but was Relu/);
    // strip_unused_nodes first makes it one, as in TF's documented order
    const out = await tg(g, ['m'], ['out'], 'strip_unused_nodes fold_constants');
    expect(out.node('m').op).toBe('Placeholder');
  });
});

// ---- The seed's list, verbatim, on every real frozen graph (issue 17, acceptance) -------------

const M = modelsDir();
/** The seed's transform list, word for word (as in core's pass.test.ts). */
const SEED = [
  'strip_unused_nodes',
  'strip_unused_nodes(type=float,shape="1,384,384,3")',
  'remove_nodes(op=Identity,op=CheckNumerics)',
  'fold_constants',
  'fold_batch_norms',
  'fold_old_batch_norms',
];

/** Frozen GraphDefs listed in OP_HISTOGRAMS.tsv. */
function frozenGraphs(dir: string): string[] {
  return readFileSync(join(dir, 'OP_HISTOGRAMS.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'))
    .filter((c) => c[1] === 'GraphDef')
    .map((c) => c[0]!);
}

const sinks = (g: Graph) => g.nodes().filter((n) => n.op !== 'Const' && n.op !== 'NoOp' && g.consumerCount(n.name) === 0).map((n) => n.name);
const placeholders = (g: Graph) => g.nodes().filter((n) => n.op === 'Placeholder' || n.op === 'PlaceholderWithDefault');
/** What a reader of an input sees: op, dtype and shape attr (absent = unknown rank). */
const signature = (n: Node) => [n.op, n.attrs.optType('dtype'), n.attrs.kind('shape') === 'shape' ? n.attrs.getShape('shape') : 'unknown'];

type Feeds = Record<string, { shape: number[]; dtype: string }>;
/** Feeds for the numeric check (all U(-1, 1), seed 1): the model's own shapes, unknown dims small; audio graphs at their Mfcc. */
const FEEDS: Record<string, Feeds> = {
  'armnn-simple-mnist/simple_mnist_tf.pb': { Placeholder: { shape: [2, 784], dtype: 'float32' } },
  'armnn-simple-mnist/simple_mnist_tf.prototxt': { Placeholder: { shape: [2, 784], dtype: 'float32' } },
  'tf2onnx-regression/graphdef/frozen.pb': { X: { shape: [5], dtype: 'float32' } },
  'arm-kws-cnn-s/CNN_S.pb': { Mfcc: { shape: [1, 49, 10], dtype: 'float32' } },
  'arm-kws-ds-cnn-s/DS_CNN_S.pb': { Mfcc: { shape: [1, 49, 10], dtype: 'float32' } },
  'arm-kws-lstm-s/LSTM_S.pb': { Mfcc: { shape: [1, 25, 10], dtype: 'float32' } },
  'speech-tiny-conv-qat/tiny_conv.pb': { AudioMicrofrontend: { shape: [98, 40], dtype: 'float32' } },
  'keras-mobilenet-0.25-128/mnet.pb': { input_1: { shape: [1, 128, 128, 3], dtype: 'float32' } },
  'edgetpu-qat-fashion-mlp/frozen_model.pb': { flatten_input: { shape: [2, 28, 28], dtype: 'float32' } },
  'litert-converter-testgraphs/multi_add.pb': Object.fromEntries(['a', 'b', 'c', 'd'].map((k) => [k, { shape: [1, 8, 8, 3], dtype: 'float32' }])),
  'litert-converter-testgraphs/quant_stats.pbtxt': { input0: { shape: [4], dtype: 'float32' }, input1: { shape: [4], dtype: 'float32' } },
  'litert-converter-testgraphs/fake_quant_per_channel.pbtxt': { input: { shape: [1, 1, 1, 256], dtype: 'float32' } },
  'litert-converter-testgraphs/fake_quant_without_identity.pbtxt': { input: { shape: [1, 1, 1, 256], dtype: 'float32' } },
};
/**
 * Not run numerically: the litert graph is invalid on purpose (TF does not run it either), the
 * 800x600 localisation model takes over a minute on CPU, deepmd needs its custom ops, and the
 * stylize model's quantized kernels are not in the runtime. Their inputs are still checked.
 */
const NOT_RUN = new Set([
  'litert-converter-testgraphs/v1_1.0_224_frozen.wrong_attr.line.part.pbtxt',
  'tf-doc-localisation-mnv2/frozen_model.pb',
  'deepmd-deeppot-pbtxt/deeppot.pbtxt',
  'tf-stylize-quantized/stylize_quantized.pb',
]);

const NO_KERNELS = new Set(['deepmd-deeppot-pbtxt/deeppot.pbtxt', 'tf-stylize-quantized/stylize_quantized.pb']);

describe.runIf(M)("the seed's list on every real frozen graph", () => {
  const files = M ? frozenGraphs(M) : [];
  const checked: string[] = [];

  it.each(files)('%s keeps every input and computes the same', async (file) => {
    const before = lib.readGraph(join(M!, file));
    const inputs = placeholders(before).map((n) => n.name);
    const outputs = sinks(before);
    const after = await transformGraph(before, inputs, outputs, SEED, { registry: await allPasses(), discover: false });
    after.validate();
    for (const i of inputs) expect(signature(after.node(i)), `${file}: ${i}`).toEqual(signature(before.node(i)));
    if (NOT_RUN.has(file)) {
      // the reason given above still holds: the runtime has no kernel for their custom / quantized ops
      if (NO_KERNELS.has(file)) expect(() => runtime.sharedExecutor('cpu').checkSupported(before, inputs, outputs)).toThrow(/is not supported/);
      return;
    }
    const feeds = FEEDS[file];
    expect(feeds, `${file} needs feeds`).toBeDefined();
    // fold_batch_norms rescales weights in float32: a few ULP per layer.
    await expectSameOutputs(before, after, { inputs: feeds as never, outputs, seed: 1, atol: 1e-4, rtol: 1e-4, backend: 'cpu' });
    checked.push(file);
  });

  it('ran the numeric check on every graph the runtime can run', () => {
    expect(checked.sort()).toEqual(files.filter((f) => !NOT_RUN.has(f)).sort());
  });
});
