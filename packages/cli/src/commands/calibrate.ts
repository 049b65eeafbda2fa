import type { Executor, Graph, Tensor } from '@tfpass/core';
import type { CalibrationMethod } from '@tfpass/quantize';
import type { CommandSpec } from '../args.js';
import { splitList } from '../args.js';
import type { Ctx } from '../ui.js';
import { INPUT_FLAGS } from '../inputs.js';
import { RUN_FLAGS, buildFeeds, executorFor, graphArg, loadRuntime, readAnyGraph } from '../feeds.js';
import { needModule } from '../optional.js';
import { inputSpecs } from '../inputs.js';
import { DATASET_FLAGS, datasetOpener, inputShapeOf, wantsDataset } from './dataset-flags.js';
import { UsageError } from '@tfpass/core/errors';
import { STRICT_FLAG, checkPitfalls } from './pitfalls.js';

export const spec: CommandSpec = {
  usage: "calibrate GRAPH --input NAME=... --data [NAME=]'dir/*.npy' [--method minmax|ema|percentile=99.99] --out ranges.json [--strict]",
  summary: 'Run the graph over sample inputs and record a range for every tensor the quantize rewrite quantizes; writes a ranges JSON file for insert_fake_quant.',
  flags: {
    ...RUN_FLAGS,
    ...INPUT_FLAGS,
    ...DATASET_FLAGS,
    labels: { type: 'string', value: 'FILE', description: 'CSV/JSON labels of a flat image folder (labels are not used for ranges; accepted so the same --data works as for qat/eval)' },
    batch: { type: 'number', value: 'B', description: 'with an image folder or TFRecords: examples per run (default 8)' },
    method: { type: 'string', value: 'minmax|ema|percentile=P', default: 'minmax', description: 'how ranges are taken from the batches' },
    out: { type: 'string', value: 'ranges.json', description: 'where to write the ranges' },
    batches: { type: 'number', value: 'N', description: 'most batches to run (default: every --data file, or 8 random draws)' },
    bias_correction: { type: 'bool', description: 'also measure the per-channel bias shift that weight rounding causes (applied by insert_fake_quant(bias_correction=true))' },
    per_channel: { type: 'bool', description: 'with --bias_correction: per-channel weight ranges (as insert_fake_quant(per_channel=true))' },
    weight_bits: { type: 'number', value: '8', description: 'with --bias_correction: weight bits (as insert_fake_quant(weight_bits=N))' },
    ...STRICT_FLAG,
  },
  maxPositionals: 1,
};


export async function run(ctx: Ctx): Promise<number> {
  const path = graphArg(ctx);
  const out = ctx.str('out');
  if (!out) throw new UsageError('--out ranges.json is required');
  ctx.outputPath(out); // `-`: the ranges go to stdout, messages to stderr
  const q = await needModule('@tfpass/quantize', ['calibrate', 'writeRanges', 'planQuantization', 'correctBiases', 'calibrationPitfalls'], 'calibrate');
  const core = await import('@tfpass/core');
  const g = await readAnyGraph(core, ctx.path(path), 'calibrate');
  // Static, so --strict fails before any batch runs.
  const pit = checkPitfalls(ctx, 'calibrate', path, q.calibrationPitfalls(g, q.planQuantization(g).length));
  const rt = await loadRuntime('calibrate');
  const specs = inputSpecs(ctx).data;
  let n: number;
  let batches: () => Generator<Record<string, Tensor>>;
  let describe: unknown;
  if (specs.length && wantsDataset(ctx, specs.map((d) => d.glob))) {
    // Image folders / TFRecords / .npy through @tfpass/data, decoded a batch at a time.
    const placeholders = g.nodes().filter((p) => p.op === 'Placeholder').map((p) => p.name);
    const names = [...new Set(specs.map((d) => d.name ?? (placeholders.length === 1 ? placeholders[0] : undefined)))];
    if (names.length !== 1 || !names[0]) throw new UsageError(`--data: folders and TFRecords feed one input; the graph has ${placeholders.length} (${placeholders.join(', ')}): write --data NAME=PATH`);
    const input = names[0];
    const ds = (await datasetOpener(ctx, inputShapeOf(g, input), 'calibrate')).open(specs.map((d) => d.glob)).shuffled(ctx.num('seed') ?? 1);
    const size = ctx.num('batch') ?? 8;
    // @tfpass/quantize's calibrate holds every sample it is given: at most 32 runs by default.
    n = Math.min(ctx.num('batches') ?? 32, Math.ceil(ds.size / size));
    const shape = [size, ...ds.layout.exampleShape];
    batches = function* () {
      let k = 0;
      for (const b of ds.batches(size)) {
        if (k++ >= n) return;
        yield { [input]: new core.Tensor('float32', [b.size, ...shape.slice(1)], b.inputs) };
      }
    };
    describe = { [input]: `${ds.size} examples from ${specs.map((d) => d.glob).join(', ')}` };
  } else {
    const feeds = buildFeeds(ctx, g, rt, core, { seed: ctx.num('seed') });
    n = ctx.num('batches') ?? (feeds.dataSets ? Math.max(...Object.values(feeds.dataSets).map((l) => l.length)) : 8);
    batches = function* () {
      for (let k = 0; k < n; k++) yield feeds.make(k);
    };
    describe = feeds.describe;
  }
  const method = ctx.str('method') ?? 'minmax';
  if (!/^(minmax|ema|percentile=\d+(\.\d+)?)$/.test(method)) throw new UsageError(`--method takes minmax, ema or percentile=P (e.g. percentile=99.99), got '${method}'`);
  const outputs = splitList(ctx.str('outputs'));
  const ranges = await q.calibrate(g, batches(), {
    executor: executorFor(rt, ctx),
    method: method as CalibrationMethod,
    ...(outputs.length ? { outputs } : {}),
    onProgress: (done, total) => ctx.bar('calibrating', done, total),
  });
  let bias: { perChannel: boolean; weightBits: number; shifts: Record<string, number[]> } | undefined;
  if (ctx.bool('bias_correction')) {
    const perChannel = ctx.bool('per_channel');
    const weightBits = ctx.num('weight_bits') ?? 8;
    const sites = q.planQuantization(g, { perChannel, weightBits });
    const corr = await q.correctBiases(g.clone(), sites, { data: [...batches()], executor: executorFor(rt, ctx), ranges, apply: false });
    bias = { perChannel, weightBits, shifts: Object.fromEntries(corr.map((c) => [c.bias, c.shift])) };
    const worst = corr.reduce((m, c) => Math.max(m, c.maxShift), 0);
    ctx.print(`bias correction: ${corr.length} layers, largest shift ${worst.toPrecision(3)}`);
  }
  q.writeRanges(ctx.path(out), ranges, method, bias);
  const count = Object.keys(ranges).length;
  ctx.emit({ ok: true, out, method, batches: n, tensors: count, inputs: describe, warnings: pit.warnings, notes: pit.notes });
  ctx.print(`${count} ranges from ${n} batches (${method}) -> ${out}`);
  for (const l of pit.notes) ctx.print(l);
  for (const w of pit.warnings) ctx.warn(w);
  if (!count && !pit.warnings.length && !pit.notes.length) ctx.warn(`no tensor to calibrate: no layer the quantize planner quantizes feeds --outputs ${outputs.join(',')}`);
  return 0;
}
