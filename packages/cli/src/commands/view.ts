import { writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { UsageError } from '@tfpass/core/errors';
import type { Graph } from '@tfpass/core';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { checkNotInput } from '../graphs.js';
import { needModule } from '../optional.js';
import { isTflitePath, loadTfliteApi, readTfliteBytes, tfliteAsGraph } from '../tflite.js';

export const spec: CommandSpec = {
  usage: 'view GRAPH|MODEL.tflite [AFTER] [--out graph.html] [--open] [--quant [--target tflite|FILE.json]] [--input NAME=1,224,224,3]',
  summary:
    'one self-contained HTML page drawing a graph (op-family colours, Consts folded into their consumer, collapsible name scopes, ' +
    'search, details on click); with two graphs, what changed between them; --quant highlights tensors lacking a quantization range.',
  maxPositionals: 2,
  flags: {
    out: { type: 'string', value: 'FILE', description: 'HTML file to write (default: GRAPH.html)' },
    open: { type: 'bool', description: 'open the page in the default browser' },
    quant: { type: 'bool', description: 'highlight tensors quant-check reports as missing a range' },
    target: { type: 'string', value: 'tflite|FILE', description: 'quant-check target profile (default tflite)' },
    input: { type: 'list', value: 'NAME=D0,D1,...', description: 'input shape for the shapes shown in details' },
    force: { type: 'bool', description: 'allow writing over an input' },
  },
};


export async function run(ctx: Ctx): Promise<number> {
  const [a, b] = ctx.args.positionals;
  if (!a) throw new UsageError('view needs a graph: tfpass view model.pb [after.pb]');
  const core = await import('@tfpass/core');
  const view = await needModule('@tfpass/view', ['graphHtml', 'diffHtml'], 'view');
  const out = ctx.str('out') ?? `${(b ?? a).replace(/\/+$/, '')}.html`;
  checkNotInput(a, out, ctx.bool('force'));
  if (b) checkNotInput(b, out, ctx.bool('force'));
  ctx.outputPath(out);
  // A .tflite is drawn as a graph of its operators; tensor types and quantization show on click.
  const tfliteShapes = new Map<string, string[]>();
  const load = async (p: string): Promise<Graph> => {
    const file = ctx.path(p);
    if (!isTflitePath(file)) return core.readGraph(file);
    const api = await loadTfliteApi('view');
    const { graph, shapes } = tfliteAsGraph(core, api.readTflite(readTfliteBytes(ctx, p), { file: p }));
    for (const [k, v] of shapes) tfliteShapes.set(k, v);
    return graph;
  };
  const ga = await load(a);
  const gb = b ? await load(b) : undefined;
  const shown = gb ?? ga;
  const shapeArgs: Record<string, number[]> = {};
  for (const s of ctx.list('input')) {
    const [name, dims] = s.split('=');
    if (name && dims) shapeArgs[name] = dims.split(',').map(Number);
  }
  let shapes: ((n: { name: string }) => string[] | undefined) | undefined;
  if (tfliteShapes.size) shapes = (n) => tfliteShapes.get(n.name);
  else try {
    const sm = core.inferShapes(shown, shapeArgs);
    shapes = (n) => {
      const outs: string[] = [];
      for (let k = 0; ; k++) {
        const t = sm.get(k ? `${n.name}:${k}` : n.name);
        if (!t) break;
        outs.push(`${t.dtype}${t.shape === null ? '[?]' : `[${t.shape.map((d) => (d < 0 ? '?' : d)).join(',')}]`}`);
      }
      return outs.length ? outs : undefined;
    };
  } catch {
    /* shapes are a bonus */
  }
  let flags: Map<string, string> | undefined;
  if (ctx.bool('quant')) {
    const q = await needModule('@tfpass/quantize', ['quantCheck', 'loadTarget'], 'view --quant');
    flags = new Map();
    for (const f of q.quantCheck(shown, q.loadTarget(ctx.str('target') ?? 'tflite'))) {
      const node = f.node ?? (f.tensor ? core.parseInput(f.tensor).node : undefined);
      if (node) flags.set(node, (flags.get(node) ? flags.get(node) + '; ' : '') + f.message);
    }
  }
  const title = b ? `${a} → ${b}` : a;
  const html = gb ? view.diffHtml(ga, gb, { title, shapes, flags }) : view.graphHtml(ga, { title, shapes, flags });
  core.writeFileAtomic(ctx.path(out), html);
  ctx.emit({ ok: true, out, nodes: shown.size, flagged: flags?.size ?? 0 });
  ctx.print(`wrote ${out} (${shown.size} nodes${flags ? `, ${flags.size} flagged` : ''})`);
  if (ctx.bool('open')) {
    const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    spawn(opener, [resolve(ctx.cwd, out)], { detached: true, stdio: 'ignore' }).on('error', () => ctx.warn(`could not run ${opener}; open ${out} yourself`)).unref();
  }
  return 0;
}
