// Real models: remove_nodes(op=Identity) on every frozen graph, and the Mfcc cut of the
// keyword-spotting graphs. Numeric checks run both graphs on the same seeded inputs.
import { modelsDir } from '@tfpass/core/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import { lib, run } from './helpers.js';

const M = modelsDir();

/** Frozen GraphDefs listed in OP_HISTOGRAMS.tsv. */
function frozenGraphs(dir: string): string[] {
  return readFileSync(join(dir, 'OP_HISTOGRAMS.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'))
    .filter((c) => c[1] === 'GraphDef')
    .map((c) => c[0]!);
}

/** Graph outputs: non-Const nodes nobody reads. */
function sinks(g: lib.Graph): string[] {
  return g.nodes().filter((n) => n.op !== 'Const' && n.op !== 'NoOp' && g.consumerCount(n.name) === 0).map((n) => n.name);
}

const AUDIO = new Set(['DecodeWav', 'AudioSpectrogram', 'Mfcc', 'AudioMicrofrontend']);

type Feeds = Record<string, { shape: number[]; dtype: string }>;
/** Inputs whose shape attr does not say it (old graphs), or kept small to keep the suite fast. */
const FEEDS: Record<string, Feeds> = {
  'armnn-simple-mnist/simple_mnist_tf.pb': { Placeholder: { shape: [2, 784], dtype: 'float32' } },
  'armnn-simple-mnist/simple_mnist_tf.prototxt': { Placeholder: { shape: [2, 784], dtype: 'float32' } },
  'tf2onnx-regression/graphdef/frozen.pb': { X: { shape: [5], dtype: 'float32' } },
  'arm-kws-lstm-s/LSTM_S.pb': { Mfcc: { shape: [1, 25, 10], dtype: 'float32' } },
};
/**
 * Not run numerically: the first does not run in TensorFlow either (invalid on purpose); the
 * second needs its full 800x600 input (a Reshape hard-codes 25x19) and takes over a minute on CPU.
 */
const BROKEN = new Set(['litert-converter-testgraphs/v1_1.0_224_frozen.wrong_attr.line.part.pbtxt', 'tf-doc-localisation-mnv2/frozen_model.pb']);

/** Feeds for a numeric run: Placeholders (unknown dims = 1), or the audio front end's output. */
function feedsFor(file: string, g: lib.Graph): Feeds | undefined {
  if (BROKEN.has(file)) return undefined;
  if (FEEDS[file]) return FEEDS[file];
  const out: Feeds = {};
  const mfcc = g.nodes().find((n) => n.op === 'Mfcc' || n.op === 'AudioMicrofrontend');
  if (mfcc) return mfcc.op === 'Mfcc' ? { [mfcc.name]: { shape: [1, 49, 10], dtype: 'float32' } } : undefined;
  for (const n of g) {
    if (n.op !== 'Placeholder') continue;
    const shape = n.attrs.kind('shape') === 'shape' ? n.attrs.getShape('shape') : null;
    const dtype = n.attrs.getType('dtype');
    if (!shape || dtype === 'string') return undefined;
    out[n.name] = { shape: shape.map((d) => (d < 0 ? 1 : d)), dtype };
  }
  return out;
}

describe.runIf(M)('real models', () => {
  const files = M ? frozenGraphs(M) : [];
  const checked: string[] = [];

  it('finds the frozen graphs', () => {
    expect(files.length).toBeGreaterThanOrEqual(14);
  });

  it.each(files)('remove_nodes(op=Identity): %s', async (file) => {
    const before = lib.readGraph(join(M!, file));
    const feeds = feedsFor(file, before);
    // Smaller inputs than the model's own keep the suite fast; both graphs get the same shape.
    for (const [k, v] of Object.entries(feeds ?? {})) if (before.get(k)?.op === 'Placeholder') before.node(k).attrs.setShape('shape', v.shape);
    const outputs = sinks(before);
    const after = before.clone();
    const [rep] = await run(after, 'remove_nodes(op=Identity)', { outputs });
    after.validate();
    const left = after.nodes().filter((n) => n.op === 'Identity').map((n) => n.name);
    expect(left.filter((n) => !outputs.includes(n))).toEqual([]);
    expect(rep!.stats.removed ?? 0).toBe(before.nodes().filter((n) => n.op === 'Identity').length - left.length);
    for (const o of outputs) expect(after.has(o)).toBe(true);
    const exec = (await import('@tfpass/runtime')).sharedExecutor('cpu');
    let runnable = !!feeds;
    try {
      if (feeds) exec.checkSupported(before, Object.keys(feeds), outputs);
    } catch {
      runnable = false;
    }
    if (!runnable) return;
    const r = await expectSameOutputs(before, after, { inputs: feeds as never, outputs, atol: 0, rtol: 0, backend: 'cpu' });
    expect(r.outputs.every((o) => o.maxAbsError === 0)).toBe(true);
    checked.push(file);
  });

  it('checked outputs numerically on the graphs the runtime can run', () => {
    console.log(`[pass-strip] identical outputs after remove_nodes(op=Identity): ${checked.join(', ')}`);
    for (const f of ['arm-kws-cnn-s/CNN_S.pb', 'arm-kws-ds-cnn-s/DS_CNN_S.pb', 'arm-kws-lstm-s/LSTM_S.pb', 'keras-mobilenet-0.25-128/mnet.pb', 'tf2onnx-regression/graphdef/frozen.pb', 'armnn-simple-mnist/simple_mnist_tf.pb', 'edgetpu-qat-fashion-mlp/frozen_model.pb']) {
      expect(checked).toContain(f);
    }
  });

  it.each(['arm-kws-cnn-s/CNN_S.pb', 'arm-kws-ds-cnn-s/DS_CNN_S.pb', 'arm-kws-lstm-s/LSTM_S.pb'])('strip_unused_nodes cut at Mfcc: %s', async (file) => {
    const before = lib.readGraph(join(M!, file));
    const mfcc = before.nodes().find((n) => n.op === 'Mfcc')!;
    const after = before.clone();
    const frames = file.includes('lstm') ? 25 : 49;
    const [rep] = await run(after, `strip_unused_nodes(type=float, shape="1,${frames},10")`, { inputs: [mfcc.name], outputs: ['labels_softmax'] });
    after.validate();
    const ph = after.nodes().filter((n) => n.op === 'Placeholder');
    expect(ph.map((n) => n.name)).toEqual([mfcc.name]);
    expect(ph[0]!.attrs.getType('dtype')).toBe('float32');
    expect(ph[0]!.attrs.getShape('shape')).toEqual([1, frames, 10]);
    expect(after.nodes().filter((n) => AUDIO.has(n.op))).toEqual([]);
    expect(rep!.messages.join('\n')).toContain(`(Mfcc) is now a Placeholder float32 [1,${frames},10]`);
    await expectSameOutputs(before, after, { inputs: { [mfcc.name]: [1, frames, 10] }, outputs: ['labels_softmax'], atol: 0, rtol: 0, backend: 'cpu' });
  });

  it.each([
    ['arm-kws-lstm-s/LSTM_S.pb', { Mfcc: [1, 25, 10] }],
    ['arm-kws-ds-cnn-s/DS_CNN_S.pb', { Mfcc: [1, 49, 10] }],
    ['keras-mobilenet-0.25-128/mnet.pb', { input_1: [1, 128, 128, 3] }],
    ['edgetpu-qat-fashion-mlp/frozen_model.pb', { flatten_input: [2, 28, 28] }],
  ] as [string, Record<string, number[]>][])('structural pipeline keeps outputs: %s', async (file, inputs) => {
    const before = lib.readGraph(join(M!, file));
    const outputs = sinks(before).filter((n) => !before.node(n).op.startsWith('Audio') && before.node(n).op !== 'DecodeWav');
    const after = before.clone();
    const reports = await run(
      after,
      'merge_duplicate_nodes add_default_attributes backport_concatv2 backport_addv2 sort_by_execution_order remove_device obfuscate_names',
      { inputs: Object.keys(inputs), outputs },
    );
    after.validate();
    expect(after.size).toBeLessThanOrEqual(before.size);
    expect(reports.find((r) => r.name === 'obfuscate_names')!.stats.renamed).toBeGreaterThan(after.size / 2);
    if (file.includes('lstm')) expect(after.nodes().some((n) => n.op === 'Concat')).toBe(true);
    await expectSameOutputs(before, after, { inputs, outputs, atol: 0, rtol: 0, backend: 'cpu' });
  });
});
