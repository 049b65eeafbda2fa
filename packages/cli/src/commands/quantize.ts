import { UsageError } from '@tfpass/core/errors';
import type { Graph, Model } from '@tfpass/core';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { checkNotInput } from '../graphs.js';
import { needModule } from '../optional.js';
import { STRICT_FLAG, checkPitfalls } from './pitfalls.js';

export const spec: CommandSpec = {
  usage: 'quantize --in_graph G --out_graph train.meta [--eval] [--quant_delay N] [--weight_bits 8] [--activation_bits 8] [--symmetric] [--freeze_bn_delay N] [--scope S] [--strict]',
  summary:
    "contrib's create_training_graph (default) or create_eval_graph (--eval): fake-quants with range variables, batch norms folded for " +
    'training, written as a MetaGraphDef (variables, trainable_variables and update_ops collections, saver_def) that TensorFlow can ' +
    'import_meta_graph and train; a Saver over global variables then saves every range.',
  flags: {
    in_graph: { type: 'string', value: 'G', alias: ['input_graph'], description: 'graph (.pb/.pbtxt), MetaGraphDef or SavedModel' },
    out_graph: { type: 'string', value: 'OUT', description: 'MetaGraphDef to write (.meta binary, .pbtxt text)' },
    eval: { type: 'bool', description: 'create_eval_graph: ranges are read, never updated' },
    quant_delay: { type: 'number', value: 'N', description: 'steps before quantized values are forwarded (ranges tracked from step 1)' },
    weight_bits: { type: 'number', value: '8', description: 'bits for weights' },
    activation_bits: { type: 'number', value: '8', description: 'bits for activations' },
    symmetric: { type: 'bool', description: 'symmetric ranges' },
    freeze_bn_delay: { type: 'number', value: 'N', description: 'step from which folded batch norms use moving statistics' },
    scope: { type: 'string', value: 'S', description: 'only rewrite ops under this name scope' },
    force: { type: 'bool', description: 'allow writing over the input' },
    ...STRICT_FLAG,
  },
};


export async function run(ctx: Ctx): Promise<number> {
  const input = ctx.str('in_graph');
  if (!input) throw new UsageError('--in_graph is required');
  const out = ctx.str('out_graph');
  if (!out) throw new UsageError('--out_graph is required (a .meta file)');
  checkNotInput(input, out, ctx.bool('force'));
  ctx.outputPath(out);
  const core = await import('@tfpass/core');
  const q = await needModule('@tfpass/quantize', ['quantizeTraining', 'quantizeEval'], 'quantize');
  const model = core.readModel(ctx.path(input));
  const opts = {
    quantDelay: ctx.num('quant_delay'),
    weightBits: ctx.num('weight_bits'),
    activationBits: ctx.num('activation_bits'),
    symmetric: ctx.bool('symmetric'),
    freezeBnDelay: ctx.num('freeze_bn_delay'),
    scope: ctx.str('scope'),
  };
  const r = ctx.bool('eval') ? q.quantizeEval(model, opts) : q.quantizeTraining(model, opts);
  // Before writing: --strict leaves no output behind.
  const pit = checkPitfalls(ctx, 'quantize', input, r.pitfalls ?? []);
  core.writeModel(r.model, ctx.path(out), { format: core.formatFromPath(out), protect: [input], force: ctx.bool('force') });
  for (const w of [...r.warnings, ...pit.warnings]) ctx.warn(w);
  ctx.emit({ ok: true, out, sites: r.sites.length, variables: r.variables.length, update_ops: r.updateOps.length, folded_batch_norms: r.folded, warnings: pit.warnings, notes: pit.notes });
  ctx.print(`${ctx.bool('eval') ? 'create_eval_graph' : 'create_training_graph'}: ${r.sites.length} fake-quants, ${r.variables.length} range variables, ${r.folded.length} batch norms folded; wrote MetaGraphDef ${out}`);
  for (const n of pit.notes) ctx.print(n);
  return 0;
}
