import { statSync } from 'node:fs';
import { UsageError } from '@tfpass/core/errors';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { ms } from '../ui.js';
import { RUN_FLAGS, executorFor, fmtNum, graphArg, loadRuntime, readAnyGraph } from '../feeds.js';
import { DATASET_FLAGS, datasetOpener } from './dataset-flags.js';
import { needModule } from '../optional.js';

type TfliteModule = typeof import('@tfpass/tflite');

export const spec: CommandSpec = {
  usage: "eval MODEL --data DIR|'*.tfrecord'|'*.npy' [--metric top1|top5|miou] [--input NAME] [--output NAME] [--mean M] [--std S]",
  summary:
    'Accuracy of a graph (.pb/.pbtxt/.meta/SavedModel) or a .tflite on labelled data: class folders, a flat folder + labels file, TFRecords of tf.train.Example, PNG masks for segmentation. Float, fake-quant and TFLite models compared on the same data with one command.',
  flags: {
    backend: RUN_FLAGS.backend,
    data: { type: 'list', value: 'PATH', description: "an image folder, TFRecord files or .npy files (globs allowed, quote them)" },
    labels: { type: 'string', value: 'FILE', description: 'labels file (CSV file,label or JSON) for a flat image folder' },
    ...DATASET_FLAGS,
    metric: { type: 'string', value: 'NAME', description: 'top1 (default), top5 or miou' },
    input: { type: 'string', value: 'NAME', description: 'the model input to feed (default: its only input)' },
    output: { type: 'string', value: 'NAME', description: 'the logits/probabilities output (default: its only output)' },
    batch: { type: 'number', value: 'N', description: 'batch size for graphs (default 32; .tflite runs one example at a time)' },
    limit: { type: 'number', value: 'N', description: 'evaluate the first N examples only' },
  },
  maxPositionals: 1,
};

interface Model {
  inputShape: number[];
  /** Logits (or probabilities) for a batch, flattened. */
  predict(inputs: Float32Array, batch: number): Promise<Float32Array>;
  describe: string;
}

export async function run(ctx: Ctx): Promise<number> {
  const path = graphArg(ctx);
  const metricName = (ctx.str('metric') ?? 'top1') as 'top1' | 'top5' | 'miou';
  if (!['top1', 'top5', 'miou'].includes(metricName)) throw new UsageError(`--metric takes top1, top5 or miou, got '${metricName}'`);
  const globs = ctx.list('data');
  if (!globs.length) throw new UsageError('eval needs --data (an image folder, TFRecord files or .npy files)');
  const model = isTflite(path) ? await tfliteModel(ctx, path) : await graphModel(ctx, path);
  const { module: data, open } = await datasetOpener(ctx, model.inputShape, 'eval');
  let ds = open(globs);
  const limit = ctx.num('limit');
  if (limit !== undefined) ds = ds.take(limit);
  const metric = data.createMetric(metricName);
  const batchSize = isTflite(path) ? 1 : (ctx.num('batch') ?? 32);
  const t0 = performance.now();
  let seen = 0;
  let classes: number | undefined;
  for (const b of ds.batches(batchSize)) {
    if (!b.labels) throw new UsageError(`${b.where[0]}: no label (give class folders, --labels, --masks or a TFRecord label feature)`);
    const logits = await model.predict(b.inputs, b.size);
    const perExample = logits.length / b.size;
    const labelsPer = b.labels.length / b.size;
    classes ??= perExample / labelsPer;
    if (!Number.isInteger(classes) || classes < 1) throw new UsageError(`output has ${perExample} values per example for ${labelsPer} labels: not a classifier/segmenter output`);
    metric.add(logits, b.labels, classes);
    seen += b.size;
    ctx.progress(`eval: ${seen}/${ds.size} examples, ${metricName} ${fmtNum(metric.value())}`, true);
  }
  const took = performance.now() - t0;
  ctx.emit({ ok: true, model: path, examples: seen, metric: metricName, value: metric.value(), ms: Math.round(took) });
  ctx.print(`${path}: ${metricName} = ${metric.value().toFixed(4)} on ${seen} examples (${model.describe}; ${ms(took)})`);
  return 0;
}

const isTflite = (p: string): boolean => {
  try {
    return statSync(p).isFile() && /\.tflite$/i.test(p);
  } catch {
    return false;
  }
};

async function graphModel(ctx: Ctx, path: string): Promise<Model> {
  const core = await import('@tfpass/core');
  const g = await readAnyGraph(core, path, 'eval');
  const rt = await loadRuntime('eval');
  const placeholders = [...g.nodes()].filter((n) => n.op === 'Placeholder');
  const inputName = ctx.str('input') ?? (placeholders.length === 1 ? placeholders[0]!.name : undefined);
  if (!inputName) throw new UsageError(`the graph has ${placeholders.length} inputs (${placeholders.map((p) => p.name).join(', ')}): name one with --input`);
  const input = g.get(inputName);
  if (!input) throw new UsageError(`--input: no node '${inputName}' in ${path}`);
  const shapeAttr = input.attrs.getJson('shape');
  const inputShape = (shapeAttr && 'shape' in shapeAttr ? shapeAttr.shape : null) ?? [];
  if (!inputShape.length) throw new UsageError(`input '${inputName}' has no static shape; eval needs one to size images`);
  let outputName = ctx.str('output');
  if (!outputName) {
    const { likelyOutputs } = await import('../feeds.js');
    const outs = likelyOutputs(g, core.parseInput);
    if (outs.length !== 1) throw new UsageError(`the graph has ${outs.length} likely outputs (${outs.slice(0, 5).join(', ')}): name one with --output`);
    outputName = outs[0]!;
  }
  const exec = executorFor(rt, ctx);
  const per = inputShape.slice(1).map((d) => (d < 0 ? 1 : d));
  return {
    inputShape,
    describe: `graph on tfpass's runtime, input ${inputName}, output ${outputName}`,
    async predict(inputs, batch) {
      const [out] = await exec.run(g, { [inputName]: new core.Tensor('float32', [batch, ...per], inputs) }, [outputName!]);
      return out!.toFloat32();
    },
  };
}

async function tfliteModel(ctx: Ctx, path: string): Promise<Model> {
  const { readFileSync } = await import('node:fs');
  const tfl = await needModule<Pick<TfliteModule, 'loadTfliteRunner'>>('@tfpass/tflite', ['loadTfliteRunner'], 'eval');
  const runner = await tfl.loadTfliteRunner(readFileSync(path), { file: path });
  const inp = ctx.str('input') ? runner.inputs.find((i) => i.name === ctx.str('input')) : runner.inputs.length === 1 ? runner.inputs[0] : undefined;
  if (!inp) throw new UsageError(`${path}: inputs are ${runner.inputs.map((i) => i.name).join(', ')}: name one with --input`);
  const out = ctx.str('output') ? runner.outputs.find((o) => o.name === ctx.str('output')) : runner.outputs.length === 1 ? runner.outputs[0] : undefined;
  if (!out) throw new UsageError(`${path}: outputs are ${runner.outputs.map((o) => o.name).join(', ')}: name one with --output`);
  return {
    inputShape: inp.shape,
    describe: `.tflite on LiteRT.js, input ${inp.name} (${inp.dtype}), output ${out.name} (${out.dtype})`,
    async predict(inputs) {
      // A quantized input is fed through its own scale/zero point, as the app on the phone would.
      const feed = inp.dtype === 'float32' ? inputs : quantize(inputs, inp.dtype, inp.scale ?? 1, inp.zeroPoint ?? 0);
      const res = await runner.run({ [inp.name]: feed });
      const y = res[out.name]!;
      if (y instanceof Float32Array) return y;
      const s = out.scale ?? 1, z = out.zeroPoint ?? 0;
      return Float32Array.from(y as ArrayLike<number>, (q) => s * (q - z));
    },
  };
}

function quantize(x: Float32Array, dtype: string, scale: number, zp: number): Uint8Array | Int8Array {
  const [lo, hi, Arr] = dtype === 'int8' ? [-128, 127, Int8Array] as const : [0, 255, Uint8Array] as const;
  const q = new Arr(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]! / scale;
    // TFLite rounds half away from zero.
    q[i] = Math.min(hi, Math.max(lo, Math.sign(v) * Math.floor(Math.abs(v) + 0.5) + zp));
  }
  return q;
}
