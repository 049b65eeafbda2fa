import { UsageError } from '@tfpass/core/errors';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { INPUT_FLAGS } from '../inputs.js';
import { isTflitePath, traceTflite } from '../tflite.js';
import { RUN_FLAGS, buildFeeds, executorFor, fmtNum, graphArg, loadRuntime, readAnyGraph } from '../feeds.js';

export const spec: CommandSpec = {
  usage: "trace GRAPH --nodes 'pattern*' [--input NAME=D0,...]...",
  summary:
    "tf.Print without editing the graph: shape, dtype, min/max/mean/std and NaN/Inf count of every tensor whose node name matches, in execution order. A .tflite runs on LiteRT.js with every operator output exposed, or --backend reference (tensor names; --ops CONV_2D,...).",
  flags: {
    ...RUN_FLAGS,
    ...INPUT_FLAGS,
    nodes: { type: 'list', value: "'glob'", description: 'node name patterns (* and ?; comma-separated or repeated); default all' },
    ops: { type: 'string', value: 'Conv2D,Relu', description: 'only nodes of these op types' },
  },
  maxPositionals: 1,
};

const SKIP = new Set(['Const', 'NoOp', 'Assign', 'Placeholder', 'SaveV2', 'RestoreV2']);

export async function run(ctx: Ctx): Promise<number> {
  const path = graphArg(ctx);
  if (isTflitePath(ctx.path(path))) return traceTflite(ctx, path, await loadRuntime('trace'));
  const core = await import('@tfpass/core');
  const g = await readAnyGraph(core, path, 'trace');
  const rt = await loadRuntime('trace');
  const pats = ctx.list('nodes').flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
  const res = pats.map((p) => new RegExp('^' + p.replace(/[.+^${}()|\\[\]]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$'));
  const ops = ctx.str('ops')?.split(',').map((s) => s.trim());
  const feeds = buildFeeds(ctx, g, rt, core, { seed: ctx.num('seed') });
  const fed = new Set(Object.keys(feeds.describe).map((k) => core.parseInput(k).node));
  const nodes = g.topoOrder().filter((n) => !SKIP.has(n.op) && !fed.has(n.name) && (!res.length || res.some((r) => r.test(n.name))) && (!ops || ops.includes(n.op)));
  if (!nodes.length) throw new UsageError(`trace: no node matches ${pats.length ? pats.join(', ') : 'the graph'}${ops ? ` with op ${ops.join('|')}` : ''}`);
  const exec = executorFor(rt, ctx);
  const tensors = await exec.run(g, feeds.make(0), nodes.map((n) => n.name));
  const rows = nodes.map((n, i) => ({ name: n.name, op: n.op, ...rt.summaryStats(tensors[i]!) }));
  ctx.emit({ ok: true, graph: path, inputs: feeds.describe, tensors: rows });
  for (const r of rows) {
    ctx.print(`${r.name} (${r.op}) ${r.dtype}[${r.shape.join(',')}] min=${fmtNum(r.min)} max=${fmtNum(r.max)} mean=${fmtNum(r.mean)} std=${fmtNum(r.std)} nan=${r.nan} inf=${r.inf}`);
  }
  return 0;
}
