import type { CommandSpec } from '../args.js';
import { splitList } from '../args.js';
import type { Ctx } from '../ui.js';
import { graphArg, readAnyGraph } from '../feeds.js';
import { loadQuantize, printFindings } from '../quantize-api.js';

export const spec: CommandSpec = {
  usage: 'lint GRAPH [--target tflite|FILE.json] [--disable RULE]...',
  summary:
    "The quantization debugging checklist as rules: Softmax twice, BN in training mode or left unfolded, Identity/CheckNumerics left, " +
    'dynamic input shapes, ops outside the target, missing ranges. Exits non-zero on errors.',
  flags: {
    in_graph: { type: 'string', value: 'FILE', description: 'the graph (or give it as the first argument)' },
    target: { type: 'string', value: 'tflite|FILE.json', default: 'tflite', description: 'converter/NPU profile' },
    disable: { type: 'list', value: 'RULE', description: 'skip a rule (comma-separated or repeated)' },
    inputs: { type: 'string', value: 'a,b', description: 'input arrays (default: every Placeholder)' },
    outputs: { type: 'string', value: 'c,d', description: 'output arrays' },
    rules: { type: 'bool', description: 'list the rules and exit' },
  },
  maxPositionals: 1,
};

export async function run(ctx: Ctx): Promise<number> {
  if (ctx.bool('rules')) {
    const q = await loadQuantize('lint', ['LINT_RULES']);
    ctx.emit({ rules: q.LINT_RULES });
    for (const [k, v] of Object.entries(q.LINT_RULES)) ctx.print(`${k.padEnd(20)} ${v}`);
    return 0;
  }
  const path = graphArg(ctx);
  const core = await import('@tfpass/core');
  const g = await readAnyGraph(core, path, 'lint');
  const q = await loadQuantize('lint', ['lint', 'loadTarget']);
  const disable = ctx.list('disable').flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const inputs = splitList(ctx.str('inputs'));
  const outputs = splitList(ctx.str('outputs'));
  const findings = q.lint(g, { target: q.loadTarget(ctx.str('target') ?? 'tflite'), disable, ...(inputs.length ? { inputs } : {}), ...(outputs.length ? { outputs } : {}) });
  const errors = findings.filter((f) => f.severity === 'error').length;
  ctx.emit({ ok: errors === 0, graph: path, errors, warnings: findings.length - errors, findings });
  printFindings((s) => ctx.print(s), findings);
  ctx.print(findings.length ? `${errors} errors, ${findings.length - errors} warnings` : 'no findings');
  return errors ? 1 : 0;
}
