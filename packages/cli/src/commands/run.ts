import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { ms } from '../ui.js';
import { INPUT_FLAGS } from '../inputs.js';
import { isTflitePath, runTflite } from '../tflite.js';
import { RUN_FLAGS, buildFeeds, executorFor, fetchList, fmtNum, graphArg, loadRuntime, readAnyGraph } from '../feeds.js';

export const spec: CommandSpec = {
  usage: 'run GRAPH|MODEL.tflite [--input NAME=D0,D1,...[:DTYPE]]... [--input_file NAME=x.npy] [--outputs a,b] [--out_dir DIR]',
  summary: 'Run a graph on .npy inputs or seeded random ones (uniform in [-1, 1]); print shape and statistics of each output, optionally write them as .npy (a .tflite runs on LiteRT.js, or --backend reference; quantized outputs also as NAME.dequant.npy).',
  flags: {
    ...RUN_FLAGS,
    ...INPUT_FLAGS,
    out_dir: { type: 'string', value: 'DIR', description: 'write each output as DIR/<name>.npy' },
  },
  maxPositionals: 1,
};

/**
 * File name for a fetched tensor: node names come from the graph, so separators and control
 * characters become '_' and a long name is cut (with a hash of the full name kept unique).
 */
export const npyName = (t: string): string => {
  let s = t.replace(/[/\\:\u0000-\u001f\u007f]/g, '_');
  if (Buffer.byteLength(s) > 200) {
    let cut = '';
    for (const ch of s) {
      if (Buffer.byteLength(cut + ch) > 150) break;
      cut += ch;
    }
    s = `${cut}_${createHash('sha256').update(t).digest('hex').slice(0, 16)}`;
  }
  return s + '.npy';
};

export async function run(ctx: Ctx): Promise<number> {
  const path = graphArg(ctx);
  if (isTflitePath(ctx.path(path))) return runTflite(ctx, path, await loadRuntime('run'), npyName);
  const core = await import('@tfpass/core');
  const g = await readAnyGraph(core, path, 'run');
  const rt = await loadRuntime('run');
  const fetches = fetchList(ctx, g, core);
  const feeds = buildFeeds(ctx, g, rt, core, { seed: ctx.num('seed') });
  const exec = executorFor(rt, ctx);
  const t0 = performance.now();
  const outs = await exec.run(g, feeds.make(0), fetches);
  const took = performance.now() - t0;
  const outDir = ctx.str('out_dir');
  const files: string[] = [];
  if (outDir) {
    mkdirSync(outDir, { recursive: true });
    outs.forEach((t, i) => {
      const f = join(outDir, npyName(fetches[i]!));
      rt.writeNpy(f, t);
      files.push(f);
    });
  }
  const stats = outs.map((t) => rt.summaryStats(t));
  ctx.emit({ ok: true, graph: path, inputs: feeds.describe, ms: Math.round(took), outputs: fetches.map((n, i) => ({ name: n, ...stats[i], file: files[i] })) });
  for (const [k, v] of Object.entries(feeds.describe)) ctx.print(`input  ${k}: ${v}`);
  fetches.forEach((n, i) => {
    const s = stats[i]!;
    ctx.print(`output ${n}: ${s.dtype}[${s.shape.join(',')}] min=${fmtNum(s.min)} max=${fmtNum(s.max)} mean=${fmtNum(s.mean)} std=${fmtNum(s.std)}${s.nan || s.inf ? ` nan=${s.nan} inf=${s.inf}` : ''}${files[i] ? ` -> ${files[i]}` : ''}`);
  });
  ctx.print(`ran in ${ms(took)}`);
  return 0;
}
