import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '@tfpass/core/errors';
import type { Graph } from '@tfpass/core';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { checkNotInput } from '../graphs.js';
import { needModule } from '../optional.js';
import { TOCO_FLAGS, convertToTflite, tocoOptions } from './toco.js';
import { convertTfliteFile, isTfliteFile } from './tflite-files.js';

export const spec: CommandSpec = {
  usage: 'convert IN OUT [--output_as_text] [--quantize uint8|uint16|float16] [--force] | convert G.pb M.tflite --output_arrays y [tfpass toco flags] | convert X.tflite Y.tflite',
  summary:
    'Convert a graph: .pb <-> .pbtxt, MetaGraphDef (.meta) or SavedModel -> GraphDef, TF.js graph model (model.json + shards) <-> GraphDef. ' +
    'OUT ending in model.json, or an existing folder, is written as a TF.js model; OUT ending in .tflite is converted as `tfpass toco` does, with its flags.',
  flags: {
    ...TOCO_FLAGS,
    output_as_text: { type: 'bool', description: 'write a text GraphDef whatever the extension' },
    quantize: { type: 'string', value: 'uint8|uint16|float16', description: 'TF.js output: store float weights quantized, as the TF.js converter does' },
    tags: { type: 'string', value: 'serve', description: 'SavedModel input: tag set to pick (comma-separated)' },
    force: { type: 'bool', description: 'allow writing over the input' },
  },
  maxPositionals: 2,
};


const isTfjs = (p: string) => /\.json$/i.test(p) || (existsSync(p) && statSync(p).isDirectory() && existsSync(join(p, 'model.json')));

export async function run(ctx: Ctx): Promise<number> {
  const [src, dst] = ctx.args.positionals;
  if (!src || !dst) throw new UsageError('usage: tfpass convert IN OUT');
  if (isTfliteFile(src) && /\.tflite$/i.test(dst)) return convertTfliteFile(ctx, src, dst);
  if (/\.tflite$/i.test(dst)) return convertToTflite(ctx, src, dst, tocoOptions(ctx));
  const quant = ctx.str('quantize');
  if (quant && !['uint8', 'uint16', 'float16'].includes(quant)) throw new UsageError(`--quantize takes uint8, uint16 or float16, got '${quant}'`);
  const core = await import('@tfpass/core');
  const toTfjs = /\.json$/i.test(dst) || (existsSync(dst) && statSync(dst).isDirectory()) || dst.endsWith('/');
  if (toTfjs && /\.json$/i.test(dst) && basename(dst) !== 'model.json') throw new UsageError(`TF.js output must be a folder or a path ending in model.json, got '${dst}'`);
  if (quant && !toTfjs) throw new UsageError('--quantize applies to TF.js output only');
  const fmt = isTfjs(src) || toTfjs ? await needModule('@tfpass/tfjs-format', ['readTfjsModel', 'writeTfjsModel'], 'convert') : undefined;

  let graph: Graph;
  let from: string;
  if (isTfjs(src)) {
    graph = fmt!.readTfjsModel(src);
    from = 'TF.js graph model';
  } else {
    const tags = ctx.str('tags')?.split(',').map((s) => s.trim());
    const m = core.readModel(src, tags ? { tags } : {});
    graph = m.graph;
    from = `${m.format} ${m.kind === 'graph' ? 'GraphDef' : m.kind === 'meta' ? 'MetaGraphDef' : 'SavedModel'}`;
  }

  let to: string;
  let written: string[];
  if (toTfjs) {
    const dir = /\.json$/i.test(dst) ? dirname(dst) : dst;
    checkNotInput(isTfjs(src) && !/\.json$/i.test(src) ? join(src, 'model.json') : src, join(dir, 'model.json'), ctx.bool('force'));
    written = fmt!.writeTfjsModel(graph, dir, quant ? { quantize: quant as 'uint8' } : {});
    to = `TF.js graph model${quant ? ` (${quant} weights)` : ''}`;
  } else {
    checkNotInput(src, dst, ctx.bool('force'));
    ctx.outputPath(dst);
    const format = ctx.bool('output_as_text') ? 'text' : core.formatFromPath(dst);
    core.writeGraph(graph, dst, { format, protect: [src], force: ctx.bool('force') });
    written = [dst];
    to = `${format} GraphDef`;
  }
  ctx.emit({ ok: true, in: src, out: dst, from, to, nodes: graph.size, files: written });
  ctx.print(`converted ${src} (${from}) -> ${dst} (${to}), ${graph.size} nodes${written.length > 1 ? `, ${written.length} files` : ''}`);
  return 0;
}
