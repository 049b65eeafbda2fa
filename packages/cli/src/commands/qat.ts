import { resolve } from 'node:path';
import { UsageError } from '@tfpass/core/errors';
import type { CommandSpec } from '../args.js';
import { DATASET_FLAGS, datasetOpener, inputShapeOf, wantsDataset } from './dataset-flags.js';
import type { Ctx } from '../ui.js';
import { inputSpecs } from '../inputs.js';
import { expandGlob } from '../feeds.js';
import { needModule } from '../optional.js';

export const spec: CommandSpec = {
  usage: "qat --in_graph float.pb --outputs LOGITS --data [NAME=]'dir/*.npy' [--labels 'dir/*.npy' | --distill] --steps N --quant_delay D --checkpoint_dir DIR",
  summary:
    'quantization-aware training on TensorFlow.js: fake-quants placed as quantize_training places them, ranges tracked from step one, ' +
    'quantized values forwarded from quant_delay on; label loss or label-free distillation against the float graph; TF checkpoints with ' +
    'every range; at the end eval graph → freeze → fold pipeline → a deployable frozen fake-quant graph, verified against the float one.',
  flags: {
    in_graph: { type: 'string', value: 'G', alias: ['input_graph'], description: 'float inference graph (.pb/.pbtxt/.meta/SavedModel)' },
    outputs: { type: 'string', value: 'T', description: 'tensor the loss reads (logits); further names are kept in the frozen graph' },
    data: { type: 'list', value: '[NAME=]PATH', description: '.npy training inputs (one example or one batch per file), an image folder (class subfolders, or flat + --labels) or TFRecord files' },
    labels: { type: 'string', value: 'GLOB|FILE', description: '.npy labels aligned with --data (class ids, one-hot or regression targets), or a CSV/JSON labels file for a flat image folder' },
    ...DATASET_FLAGS,
    val_data: { type: 'list', value: 'PATH', description: 'validation data (same kinds as --data); without it --val_split of --data' },
    val_split: { type: 'number', value: 'F', description: 'fraction of folder/TFRecord --data held out (seeded) for validation when no --val_data (default 0.1; 0: none)' },
    eval_every: { type: 'number', value: 'K', description: 'evaluate on the validation data every K steps (default steps/10); the float model at step 0' },
    metric: { type: 'string', value: 'top1|top5|miou', description: 'validation metric (default top1; miou with --masks)' },
    keep_best: { type: 'bool', description: 'keep the best checkpoint by the quantized validation metric in DIR/best' },
    out_tflite: { type: 'string', value: 'M.tflite', description: 'convert the frozen graph with tfpass toco and check it on LiteRT.js against the fake-quant graph (LSB, argmax agreement, SQNR in report.md)' },
    inference_type: { type: 'string', value: 'INT8|QUANTIZED_UINT8', description: 'type of the --out_tflite model (default INT8)' },
    progress_every: { type: 'number', value: 'SEC', description: 'without a terminal, a progress line on stderr every SEC seconds (default 10)' },
    loss: { type: 'string', value: 'KIND', description: 'sparse_softmax_cross_entropy (default with labels), softmax_cross_entropy or mse' },
    distill: { type: 'bool', description: 'train against the float graph\'s own outputs (the default without --labels)' },
    steps: { type: 'number', value: 'N', description: 'training steps (default 300)' },
    quant_delay: { type: 'number', value: 'D', description: 'steps before quantized values are forwarded (default 0)' },
    batch: { type: 'number', value: 'B', description: 'batch size (default 8)' },
    lr: { type: 'number', value: 'LR', description: 'Adam learning rate (default 0.001)' },
    checkpoint_dir: { type: 'string', value: 'DIR', description: 'where checkpoints, eval.meta and the frozen graph go' },
    checkpoint_every: { type: 'number', value: 'K', description: 'save every K steps (default steps/4)' },
    resume: { type: 'bool', description: 'continue from the newest checkpoint in --checkpoint_dir (weights, ranges, EMA state, Adam slots, step)' },
    max_to_keep: { type: 'number', value: 'K', description: "checkpoints kept (Saver's max_to_keep, default 5; 0 keeps all)" },
    init_checkpoint: { type: 'string', value: 'PREFIX', description: 'restore pretrained variables into the unfolded graph (batch norms included) before folding' },
    exclude: { type: 'string', value: 'REGEX', description: "with --init_checkpoint: skip variables matching, e.g. 'quant|Quant|Batch' (skipped graph constants keep their initial values: reported)" },
    strict: { type: 'bool', description: 'fail on warnings (softmax applied twice, skipped variables, tensors quant-check finds without a range)' },
    out_graph: { type: 'string', value: 'OUT', description: 'deployable frozen graph (default DIR/frozen.pb)' },
    weight_bits: { type: 'number', value: '8', description: 'bits for weights' },
    activation_bits: { type: 'number', value: '8', description: 'bits for activations' },
    symmetric: { type: 'bool', description: 'symmetric ranges' },
    batch_norm: { type: 'string', value: 'frozen|batch_stats', description: "batch norms during training: frozen (default: folded with their moving statistics, contrib after freeze_bn_delay) or batch_stats (contrib's fold_batch_norms for training: the batch's statistics with the correction factors, moving statistics updated by EMA)" },
    freeze_bn_delay: { type: 'number', value: 'N', description: "with --batch_norm=batch_stats: from step N on, the moving statistics are used and no longer updated (contrib's freeze_bn_delay; default never)" },
    bn_decay: { type: 'number', value: 'D', description: 'with --batch_norm=batch_stats: moving-average decay (default 0.999, or the graph\'s FusedBatchNormV3 exponential_avg_factor)' },
    per_channel: { type: 'bool', description: 'per-channel weight ranges on Conv2D/depthwise (FakeQuantWithMinMaxVarsPerChannel, symmetric narrow range: int8 NPUs; TOCO wants per-tensor)' },
    backend: { type: 'string', value: 'wasm|cpu', description: 'TensorFlow.js backend (default wasm)' },
    seed: { type: 'number', value: 'S', description: 'shuffling seed (default 1)' },
  },
};


export async function run(ctx: Ctx): Promise<number> {
  const input = ctx.str('in_graph');
  if (!input) throw new UsageError('--in_graph is required');
  const outputs = (ctx.str('outputs') ?? '').split(',').filter(Boolean);
  if (!outputs.length) throw new UsageError('--outputs is required: the tensor the loss reads (e.g. logits)');
  const dir = ctx.str('checkpoint_dir');
  if (!dir) throw new UsageError('--checkpoint_dir is required');
  if (ctx.str('labels') && ctx.bool('distill')) throw new UsageError('--labels and --distill exclude each other');
  const batchNorm = ctx.choice('batch_norm', ['frozen', 'batch_stats']);
  if (batchNorm !== 'batch_stats') for (const f of ['freeze_bn_delay', 'bn_decay']) if (ctx.num(f) !== undefined) throw new UsageError(`--${f} needs --batch_norm=batch_stats (frozen batch norms have no moving statistics to update)`);
  const freezeBnDelay = ctx.num('freeze_bn_delay');
  if (freezeBnDelay !== undefined && !(Number.isInteger(freezeBnDelay) && freezeBnDelay >= 0)) throw new UsageError(`--freeze_bn_delay ${freezeBnDelay}: expected a step count (integer >= 0)`);
  const bnDecay = ctx.num('bn_decay');
  if (bnDecay !== undefined && !(bnDecay > 0 && bnDecay < 1)) throw new UsageError(`--bn_decay ${bnDecay}: expected a decay in (0, 1), e.g. 0.999`);
  const core = await import('@tfpass/core');
  const graph = core.readGraph(ctx.path(input));
  const placeholders = graph.nodes().filter((n) => n.op === 'Placeholder').map((n) => n.name);
  const specs = inputSpecs(ctx).data;
  // Bool and list flags always hold a value (false, []): only the ones given ask for a dataset.
  const given = ['metric', 'eval_every', 'val_split', 'keep_best', 'val_data'].filter((f) => ![undefined, false].includes(ctx.flags[f] as never) && !(Array.isArray(ctx.flags[f]) && !(ctx.flags[f] as unknown[]).length));
  const streamed = wantsDataset(ctx, specs.map((d) => d.glob), given);
  const data: Record<string, string[]> = {};
  let stream: Record<string, unknown> | undefined;
  let metricName: string | undefined;
  if (!streamed) {
    for (const d of specs) {
      const name = d.name ?? (placeholders.length === 1 ? placeholders[0] : undefined);
      if (!name) throw new UsageError(`--data ${d.glob}: the graph has ${placeholders.length} inputs; write --data NAME=GLOB`);
      const files = expandGlob(d.glob, ctx.cwd);
      if (!files.length) throw new UsageError(`--data ${d.glob}: no file matches`);
      data[name] = files;
    }
  } else {
    const names = [...new Set(specs.map((d) => d.name ?? (placeholders.length === 1 ? placeholders[0] : undefined)))];
    if (names.length !== 1 || !names[0]) throw new UsageError(`--data: folders and TFRecords feed one input; the graph has ${placeholders.length} (${placeholders.join(', ')}): write --data NAME=PATH`);
    const input = names[0];
    const { module: dataMod, open } = await datasetOpener(ctx, inputShapeOf(graph, input), 'qat');
    let train = open(specs.map((d) => d.glob));
    metricName = ctx.choice('metric', ['top1', 'top5', 'miou']) ?? (ctx.str('masks') ? 'miou' : 'top1');
    let val;
    if (ctx.list('val_data').length) val = open(ctx.list('val_data'));
    else if (ctx.num('val_split') !== 0 && train.size >= 2) {
      ({ train, val } = train.split(ctx.num('val_split') ?? 0.1, ctx.num('seed') ?? 1));
    }
    const name = metricName as 'top1' | 'top5' | 'miou';
    stream = { input, train, val, metric: val ? () => dataMod.createMetric(name) : undefined, evalEvery: ctx.num('eval_every'), keepBest: ctx.bool('keep_best') };
  }
  const labels = !streamed && ctx.str('labels') ? expandGlob(ctx.str('labels')!, ctx.cwd) : undefined;
  if (labels && !labels.length) throw new UsageError(`--labels ${ctx.str('labels')}: no file matches`);
  const train = await needModule('@tfpass/train', ['runQatJob'], 'qat');
  const steps = ctx.num('steps') ?? 300;
  let last = 0;
  let lastLine = -Infinity; // the first step prints at once
  const every = (ctx.num('progress_every') ?? 10) * 1000;
  let latest = '';
  const t0 = performance.now();
  const r = await train.runQatJob({
    graph, data, stream: stream as never, labels, loss: ctx.choice('loss', ['sparse_softmax_cross_entropy', 'softmax_cross_entropy', 'mse']), output: outputs[0], keep: outputs.slice(1), steps,
    batch: ctx.num('batch'), quantDelay: ctx.num('quant_delay') ?? 0, lr: ctx.num('lr'),
    checkpointDir: resolve(ctx.cwd, dir), checkpointEvery: ctx.num('checkpoint_every'), resume: ctx.bool('resume'), maxToKeep: ctx.num('max_to_keep'), strict: ctx.bool('strict'),
    initCheckpoint: ctx.str('init_checkpoint'), exclude: ctx.str('exclude'), outGraph: ctx.str('out_graph') ? resolve(ctx.cwd, ctx.str('out_graph')!) : undefined,
    weightBits: ctx.num('weight_bits'), activationBits: ctx.num('activation_bits'), symmetric: ctx.bool('symmetric'), perChannel: ctx.bool('per_channel'),
    batchNorm: batchNorm as 'frozen' | 'batch_stats' | undefined, freezeBnDelay, bnDecay,
    backend: ctx.choice('backend', ['wasm', 'cpu', 'node']), seed: ctx.num('seed'),
    outTflite: ctx.str('out_tflite') ? resolve(ctx.cwd, ctx.str('out_tflite')!) : undefined, inferenceType: ctx.choice('inference_type', ['INT8', 'QUANTIZED_UINT8']),
    onEval: (p: { step: number; float?: number; quantized?: number }) => {
      latest = ` ${metricName} float ${p.float?.toFixed(4)}${p.quantized === undefined ? '' : ` quantized ${p.quantized.toFixed(4)}`} (step ${p.step})`;
    },
    onStep: (s: { step: number; loss: number; quantized: boolean; ms: number }) => {
      const now = performance.now();
      if (!ctx.showProgress) {
        // Piped or logged: a plain line every --progress_every seconds, so CI logs show life.
        if (ctx.quiet || (now - lastLine < every && s.step !== steps)) return;
        lastLine = now;
        const rate = s.step / Math.max(1e-3, (now - t0) / 1000);
        ctx.io.err(`qat: step ${s.step}/${steps} loss ${s.loss.toExponential(3)} ${s.quantized ? 'quantized' : 'float'} ${rate.toFixed(2)} steps/s ETA ${Math.round((steps - s.step) / Math.max(rate, 1e-9))} s${latest}\n`);
        return;
      }
      if (now - last < 100 && s.step !== steps) return;
      last = now;
      ctx.bar('qat', s.step, steps, `loss ${s.loss.toExponential(3)} ${s.quantized ? 'quantized' : 'float'}${latest}`);
    },
  });
  const rep = r.restore;
  if (rep) {
    ctx.print(`restore (into the unfolded graph): ${rep.restored.length} restored, ${rep.skipped.length} skipped by --exclude, ${rep.missing.length} missing, ${rep.mismatched.length} shape-mismatched`);
    for (const v of rep.variables) if (v.status !== 'restored') ctx.print(`  ${v.status.padEnd(10)} ${v.name}${v.detail ? `: ${v.detail}` : ''}`);
  }
  for (const w of r.warnings) ctx.warn(w);
  ctx.emit({ ok: true, tflite: r.tflite, files: r.files, steps: r.result.stepsRun, metric: metricName, history: r.result.evals, best: r.result.best, sites: r.result.sites.length, sqnr_db: r.sqnrDb, max_abs_error: r.maxAbsError, missing_ranges: r.missingRanges, restore: rep, warnings: r.warnings });
  const h = r.result.history;
  if (r.result.batchNorms?.length) ctx.print(`batch norms: ${r.result.batchNorms.length} trained on batch statistics${freezeBnDelay !== undefined ? `, frozen from step ${freezeBnDelay}` : ''}; moving statistics updated in the checkpoints`);
  ctx.print(`trained ${r.result.stepsRun} steps at ${r.result.sites.length} fake-quant sites; loss ${h[0]?.loss.toExponential(3)} → ${h[h.length - 1]?.loss.toExponential(3)}`);
  ctx.print(`wrote ${r.files.frozen} (${r.missingRanges ? `NOT deployable as is: ${r.missingRanges} tensor(s) without a range` : 'deployable'}), ${r.files.eval}, checkpoints and loss.svg in ${dir}`);
  for (const p of r.result.evals) ctx.print(`eval step ${p.step}: ${metricName} float ${p.float?.toFixed(4)}${p.quantized === undefined ? '' : `, quantized ${p.quantized.toFixed(4)}`}`);
  if (r.tflite) {
    const t = r.tflite;
    ctx.print(`wrote ${t.file} (${t.inferenceType}); vs the fake-quant graph on ${t.examples} examples: argmax agreement ${(100 * t.agreement).toFixed(1)}%, SQNR ${t.sqnrDb.toFixed(1)} dB${t.lsb ? `, max ${t.lsb.max.toFixed(1)} LSB, mean ${t.lsb.mean.toFixed(2)} LSB, ${(100 * t.lsb.within1).toFixed(0)}% within 1 LSB` : ''}`);
  }
  ctx.print(`plots: ${r.files.plots}; report: ${r.files.report}`);
  if (r.result.best) ctx.print(`best quantized ${metricName} ${r.result.best.value.toFixed(4)} at step ${r.result.best.step}: ${r.result.best.prefix}`);
  ctx.print(`verify: float vs quantized SQNR ${r.sqnrDb.toFixed(1)} dB, max |Δ| ${r.maxAbsError.toExponential(2)}; quant-check: ${r.missingRanges} tensors without a range`);
  return 0;
}

