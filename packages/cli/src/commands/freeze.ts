import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '@tfpass/core/errors';
import type { Graph } from '@tfpass/core';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { checkNotInput, formatDiff, histogram, histogramDiff } from '../graphs.js';
import { needModule } from '../optional.js';

export const spec: CommandSpec = {
  usage: 'freeze --input_graph G --input_checkpoint PREFIX --output_node_names a,b --output_graph OUT',
  summary:
    "freeze_graph: variables (Variable, VariableV2, VarHandleOp + ReadVariableOp) become Consts holding the checkpoint's values; " +
    'everything the outputs do not need is dropped. Same flag names as TensorFlow\'s freeze_graph.',
  flags: {
    input_graph: { type: 'string', value: 'G', alias: ['in_graph', 'input_meta_graph', 'input_saved_model_dir'], description: 'graph (.pb/.pbtxt), MetaGraphDef (.meta) or SavedModel dir' },
    input_checkpoint: { type: 'string', value: 'PREFIX', description: 'checkpoint prefix (default: the SavedModel variables, or the .meta prefix)' },
    output_node_names: { type: 'string', value: 'a,b', description: 'comma-separated output node names' },
    output_graph: { type: 'string', value: 'OUT', alias: ['out_graph'], description: 'frozen graph to write (.pbtxt -> text)' },
    variable_names_whitelist: { type: 'string', value: 'a,b', description: 'only freeze these variables' },
    variable_names_blacklist: { type: 'string', value: 'a,b', description: 'do not freeze these variables' },
    clear_devices: { type: 'bool', default: true, description: 'blank every node\'s device (--clear_devices=false keeps them)' },
    saved_model_tags: { type: 'string', value: 'serve', description: 'SavedModel tag set' },
    input_binary: { type: 'bool', description: 'accepted for compatibility (the format is detected)' },
    checkpoint_version: { type: 'number', value: '2', description: 'accepted for compatibility (V2 checkpoints)' },
    output_as_text: { type: 'bool', description: 'write text format whatever the extension' },
    force: { type: 'bool', description: 'allow writing over the input' },
  },
};


export async function run(ctx: Ctx): Promise<number> {
  const input = ctx.str('input_graph');
  if (!input) throw new UsageError('--input_graph is required (graph, .meta or SavedModel dir)');
  const names = ctx.str('output_node_names');
  if (!names) throw new UsageError('You need to supply the name of a node to --output_node_names.');
  const out = ctx.str('output_graph');
  if (!out) throw new UsageError('--output_graph is required');
  if (ctx.num('checkpoint_version') !== undefined && ctx.num('checkpoint_version') !== 2) throw new UsageError('only V2 checkpoints are supported (--checkpoint_version=2)');
  // The checkpoint's files are inputs too (a SavedModel folder protects its variables/).
  const ckpt = ctx.str('input_checkpoint');
  const inputs = [input, ...(ckpt ? checkpointFiles(ckpt) : [])];
  checkNotInput(inputs, out, ctx.bool('force'));
  ctx.outputPath(out);
  const ck = await needModule('@tfpass/checkpoint', ['freezeGraphWithReport'], 'freeze');
  const core = await import('@tfpass/core');
  const before = (() => {
    try {
      return histogram(core.readGraph(input));
    } catch {
      return undefined;
    }
  })();
  const r = ck.freezeGraphWithReport({
    inputGraph: input,
    inputCheckpoint: ctx.str('input_checkpoint'),
    outputNodeNames: names.replace(/\s+/g, ''),
    variableNamesWhitelist: ctx.str('variable_names_whitelist')?.replace(/\s+/g, ''),
    variableNamesBlacklist: ctx.str('variable_names_blacklist')?.replace(/\s+/g, ''),
    clearDevices: ctx.bool('clear_devices'),
    tags: ctx.str('saved_model_tags')?.split(','),
  });
  const format = ctx.bool('output_as_text') ? 'text' : core.formatFromPath(out);
  core.writeGraph(r.graph, out, { format, protect: inputs, force: ctx.bool('force') });
  ctx.emit({ ok: true, output_graph: out, nodes: r.graph.size, removed: r.removed, variables: r.variables, rewired: r.rewired });
  ctx.print(`Froze ${r.variables.length} variables; wrote ${out} (${format} GraphDef, ${r.graph.size} nodes, ${r.removed} removed)`);
  if (ctx.verbose) for (const v of r.variables) ctx.print(`  ${v.node} <- ${v.key} ${v.dtype}[${v.shape.join(',')}]`);
  if (before) for (const l of formatDiff(histogramDiff(before, histogram(r.graph)))) ctx.print(l);
  return 0;
}

/** The files of a V2 checkpoint prefix: PREFIX.index and PREFIX.data-*. */
function checkpointFiles(prefix: string): string[] {
  const dir = dirname(prefix);
  const base = basename(prefix);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [prefix];
  }
  return [prefix, ...names.filter((n) => n === `${base}.index` || n.startsWith(`${base}.data-`)).map((n) => join(dir, n))];
}
