import { basename } from 'node:path';
import { UsageError } from '@tfpass/core/errors';
import type { Executor, StepReport } from '@tfpass/core';
import type { CommandSpec } from '../args.js';
import { splitList } from '../args.js';
import type { Ctx } from '../ui.js';
import { ms } from '../ui.js';
import { loadHost, loadPasses } from '../plugins.js';
import { checkNotInput, formatDiff, histogram, histogramDiff, requireFlag } from '../graphs.js';
import { needModule } from '../optional.js';

export const spec: CommandSpec = {
  usage: 'transform --in_graph=IN --out_graph=OUT --inputs=a,b --outputs=c --transforms=\'…\'',
  summary: "Run TensorFlow transform_graph's pipeline (same flags, same transform string) with the installed passes.",
  flags: {
    in_graph: { type: 'string', value: 'FILE', description: 'input graph: .pb, .pbtxt, .meta, or a SavedModel' },
    out_graph: { type: 'string', value: 'FILE', description: 'output file (.pbtxt -> text; .meta / saved_model.pb keep the container)' },
    inputs: { type: 'string', value: 'a,b', description: 'comma-separated input names, handed to every pass' },
    outputs: { type: 'string', value: 'c,d', description: 'comma-separated output names, handed to every pass' },
    transforms: { type: 'string', value: "'p1 p2(k=v)'", description: 'the transform string (TF grammar)' },
    output_as_text: { type: 'bool', description: 'write text format whatever the extension' },
    plugin: { type: 'list', value: 'PKG|PATH', description: 'use this plugin (wins over discovered ones)' },
    force: { type: 'bool', description: 'allow writing over the input file' },
    report: { type: 'bool', description: "print every pass's notes, warnings and counters" },
    strict: { type: 'bool', description: 'refuse pass parameters a pass does not read (TensorFlow ignores them; by default they are warned about)' },
    report_html: { type: 'string', value: 'FILE', description: 'write an HTML page showing what the pipeline changed (tfpass view BEFORE AFTER, with per-pass rows)' },
  },
};

/** Executors are built only when a chosen pass asks for one (this loads TensorFlow.js). */
async function makeExecutor(): Promise<Executor> {
  const rt = await needModule('@tfpass/runtime', ['createExecutor'], 'transform');
  return await rt.createExecutor();
}

export async function run(ctx: Ctx): Promise<number> {
  const inPath = requireFlag(ctx.str('in_graph'), 'in_graph', 'the graph to transform');
  const outPath = requireFlag(ctx.str('out_graph'), 'out_graph', 'where to write the result');
  const text = requireFlag(ctx.str('transforms'), 'transforms', 'the passes to run');
  const core = await import('@tfpass/core');
  const steps = core.parseTransforms(text);
  if (!steps.length) throw new UsageError('--transforms: you must specify at least one transform');
  const host = loadHost({ cwd: ctx.cwd, plugins: ctx.list('plugin') });
  const registry = await loadPasses(host, [...new Set(steps.map((s) => s.name))], core);
  checkNotInput(inPath, outPath, ctx.bool('force'));
  ctx.outputPath(outPath); // `-`: the graph goes to stdout, messages to stderr

  const model = core.readModel(inPath);
  const before = histogram(model.graph);
  const nodesBefore = model.graph.size;
  const htmlOut = ctx.str('report_html');
  if (htmlOut) checkNotInput(inPath, htmlOut, ctx.bool('force'));
  const original = htmlOut ? model.graph.clone() : undefined;

  const services = new core.ServiceContainer();
  const logger = {
    info: (m: string) => ctx.debug(`  ${m}`),
    warn: (m: string) => ctx.warn(m),
    debug: (m: string) => ctx.debug(`  ${m}`),
  };
  services.register(core.TOKENS.logger, { useValue: logger });
  const defs = steps.map((s) => registry.get(s.name)!.def);
  let executor: Executor | undefined;
  if (defs.some((d) => Object.values(d.inject ?? {}).includes(core.TOKENS.executor))) {
    // Deferred: fold_constants with nothing to fold never loads TensorFlow.js.
    executor = core.deferredExecutor(makeExecutor);
    services.register(core.TOKENS.executor, { useValue: executor });
  }

  const t0 = performance.now();
  const reports: StepReport[] = await core.runPipeline(model.graph, steps, {
    registry,
    container: services,
    logger,
    strict: ctx.bool('strict'),
    inputs: splitList(ctx.flags.inputs),
    outputs: splitList(ctx.flags.outputs),
    onStep: (phase, r) => {
      if (phase === 'start') ctx.progress(`… ${r.name}`, true);
      else ctx.progress(`✓ ${r.name.padEnd(28)} ${ms(r.ms).padStart(9)}  nodes ${r.nodesBefore} -> ${r.nodesAfter}${r.ignoredError ? '  (error ignored)' : ''}`);
    },
  });
  const total = performance.now() - t0;

  // A MetaGraphDef / SavedModel keeps its container when the output names one.
  const keep =
    (model.kind === 'meta' && /\.meta$/i.test(outPath)) ||
    (model.kind === 'saved_model' && /^saved_model\.pb(txt)?$/i.test(basename(outPath)));
  const format = ctx.bool('output_as_text') ? 'text' : model.kind === 'meta' && keep ? model.format : core.formatFromPath(outPath);
  if (keep) core.writeModel(model, outPath, { format, protect: [inPath], force: ctx.bool('force') });
  else core.writeGraph(model.graph, outPath, { format, protect: [inPath], force: ctx.bool('force') });

  if (htmlOut && original) {
    const view = await needModule('@tfpass/view', ['diffHtml'], 'transform --report_html');
    const passes = reports.map((r) => ({ name: r.name, ms: r.ms, before: r.nodesBefore, after: r.nodesAfter, notes: [...r.messages, ...r.warnings] }));
    core.writeFileAtomic(htmlOut, view.diffHtml(original, model.graph, { title: `${basename(inPath)} → ${basename(outPath)}`, passes }));
    ctx.print(`wrote ${htmlOut}`);
  }
  const diff = histogramDiff(before, histogram(model.graph));
  const container = keep ? (model.kind === 'meta' ? 'MetaGraphDef' : 'SavedModel') : 'GraphDef';
  ctx.emit({
    ok: true,
    in_graph: inPath,
    out_graph: outPath,
    container,
    format,
    nodesBefore,
    nodesAfter: model.graph.size,
    ms: Math.round(total),
    steps: reports.map((r) => ({ name: r.name, package: r.packageName, ms: Math.round(r.ms), nodesBefore: r.nodesBefore, nodesAfter: r.nodesAfter, stats: r.stats, messages: r.messages, warnings: r.warnings, ignoredError: r.ignoredError })),
    ops: diff,
  });
  if (ctx.bool('report')) {
    for (const r of reports) {
      const stats = Object.entries(r.stats).map(([k, v]) => `${k}=${v}`).join(' ');
      ctx.print(`${r.name}${r.packageName ? ` (${r.packageName})` : ''}: ${r.nodesBefore} -> ${r.nodesAfter} nodes, ${ms(r.ms)}${stats ? ', ' + stats : ''}`);
      for (const m of r.messages) ctx.print(`  ${m}`);
      for (const w of r.warnings) ctx.print(`  warning: ${w}`);
    }
  }
  ctx.print(`wrote ${outPath} (${format} ${container}): ${nodesBefore} -> ${model.graph.size} nodes in ${ms(total)}`);
  for (const line of formatDiff(diff)) ctx.print(line);
  return 0;
}
