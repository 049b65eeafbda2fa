import type { CommandSpec } from '../args.js';
import { splitList } from '../args.js';
import type { Ctx } from '../ui.js';
import { graphArg, readAnyGraph } from '../feeds.js';
import { loadQuantize, printFindings } from '../quantize-api.js';

export const spec: CommandSpec = {
  usage: 'quant-check GRAPH [--target tflite|FILE.json] [--inputs a,b] [--outputs c]',
  summary:
    "Every tensor the target converter needs a quantization range for and lacks (TOCO's \"lacking min/max data\"), with its producer and consumer; " +
    'degenerate ranges and fake quants the target would refuse. Exits non-zero when any error is found.',
  flags: {
    in_graph: { type: 'string', value: 'FILE', description: 'the graph (or give it as the first argument)' },
    target: { type: 'string', value: 'tflite|FILE.json', default: 'tflite', description: 'converter/NPU profile' },
    inputs: { type: 'string', value: 'a,b', description: 'input arrays (default: every Placeholder)' },
    outputs: { type: 'string', value: 'c,d', description: 'output arrays (default: everything reachable)' },
  },
  maxPositionals: 1,
};

export async function run(ctx: Ctx): Promise<number> {
  const path = graphArg(ctx);
  const core = await import('@tfpass/core');
  const g = await readAnyGraph(core, path, 'quant-check');
  const q = await loadQuantize('quant-check', ['quantCheck', 'loadTarget']);
  const target = q.loadTarget(ctx.str('target') ?? 'tflite');
  const inputs = splitList(ctx.str('inputs'));
  const outputs = splitList(ctx.str('outputs'));
  const findings = q.quantCheck(g, target, { ...(inputs.length ? { inputs } : {}), ...(outputs.length ? { outputs } : {}) });
  const errors = findings.filter((f) => f.severity === 'error').length;
  ctx.emit({ ok: errors === 0, graph: path, target: (target as { name?: string }).name, errors, warnings: findings.length - errors, findings });
  printFindings((s) => ctx.print(s), findings);
  ctx.print(errors ? `${errors} errors, ${findings.length - errors} warnings: not ready for ${(target as { name?: string }).name}` : `ready for ${(target as { name?: string }).name}${findings.length ? ` (${findings.length} warnings)` : ''}`);
  return errors ? 1 : 0;
}
