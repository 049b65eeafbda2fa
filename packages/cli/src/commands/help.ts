import type { CommandSpec } from '../args.js';
import { formatUsage } from '../args.js';
import type { Ctx } from '../ui.js';
import { loadHost, loadPasses } from '../plugins.js';

export const spec: CommandSpec = {
  usage: 'help [COMMAND|PASS]',
  summary: "Help for a command, or a pass's parameters, defaults and an example (imports only that pass's package).",
  flags: {
    plugin: { type: 'list', value: 'PKG|PATH', description: 'look for the pass in this plugin first' },
  },
  maxPositionals: 1,
};

export async function run(ctx: Ctx): Promise<number> {
  const commands = ctx.commands;
  const what = ctx.args.positionals[0];
  if (!what) {
    const w = Math.max(...[...commands.keys()].map((k) => k.length));
    ctx.print('usage: tfpass <command> [flags]\n\ncommands:');
    for (const [k, c] of commands) ctx.print(`  ${k.padEnd(w)}  ${c.summary}`);
    ctx.print("\n'tfpass help PASS' describes a pass; 'tfpass passes' lists them");
    ctx.emit({ commands: Object.fromEntries([...commands].map(([k, c]) => [k, c.summary])) });
    return 0;
  }
  const cmd = commands.get(what);
  if (cmd) {
    const mod = await cmd.load();
    ctx.print(formatUsage(mod.spec));
    ctx.emit({ command: what, usage: mod.spec.usage, summary: mod.spec.summary, flags: mod.spec.flags });
    return 0;
  }
  const host = loadHost({ cwd: ctx.cwd, plugins: ctx.list('plugin') });
  const core = await import('@tfpass/core');
  const registry = await loadPasses(host, [what], core);
  const { def, origin } = registry.get(what)!;
  const params = Object.entries(def.params ?? {});
  ctx.emit({
    pass: def.name,
    package: origin?.packageName,
    version: origin?.packageVersion,
    summary: def.summary,
    description: def.description,
    params: Object.fromEntries(params.map(([k, p]) => [k, { type: p.type, repeated: !!p.repeated, required: !!p.required, default: p.default, description: p.description }])),
    example: def.example,
    needs: Object.keys(def.inject ?? {}),
  });
  ctx.print(`${def.name} — ${def.summary}`);
  if (origin) ctx.print(`provided by ${origin.packageName}@${origin.packageVersion}`);
  if (def.description) ctx.print(`\n${def.description}`);
  ctx.print('\nparameters:');
  if (!params.length) ctx.print('  (none)');
  const w = Math.max(12, ...params.map(([k]) => k.length));
  for (const [k, p] of params) {
    const type = `${p.type}${p.repeated ? ', repeatable' : ''}`;
    const dflt = p.required ? 'required' : p.default === undefined || (Array.isArray(p.default) && !p.default.length) ? 'no default' : `default ${JSON.stringify(p.default)}`;
    ctx.print(`  ${k.padEnd(w)}  ${type}; ${dflt}. ${p.description}`);
  }
  if (!def.params?.ignore_errors) ctx.print(`  ${'ignore_errors'.padEnd(w)}  bool; default false. continue with the unchanged graph if the pass fails`);
  if (def.inject && Object.keys(def.inject).length) ctx.print(`\nneeds: ${Object.keys(def.inject).join(', ')} (provided by tfpass)`);
  ctx.print(`\nexample:\n  tfpass transform --in_graph=in.pb --out_graph=out.pb --inputs=input --outputs=output \\\n    --transforms='${def.example ?? def.name}'`);
  return 0;
}
