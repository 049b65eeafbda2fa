import { incompatibility } from '@tfpass/core/discovery';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { loadHost } from '../plugins.js';

export const spec: CommandSpec = {
  usage: 'passes [--plugin PKG|PATH]...',
  summary: 'List every installed pass with its package, version and summary (reads manifests only).',
  flags: {
    plugin: { type: 'list', value: 'PKG|PATH', description: 'also list this plugin (wins over discovered ones)' },
  },
};

export async function run(ctx: Ctx): Promise<number> {
  const host = loadHost({ cwd: ctx.cwd, plugins: ctx.list('plugin') });
  const rows: { pass: string; package: string; version: string; summary: string; problem?: string }[] = [];
  for (const p of host.plugins) {
    const bad = incompatibility(p);
    for (const pass of Array.isArray(p.manifest.passes) ? p.manifest.passes : []) {
      const owners = host.claims.get(pass.name) ?? [];
      if (!owners.some((o) => o.name === p.name)) continue; // shadowed by an explicit --plugin
      const problem = bad ?? (owners.length > 1 ? `also provided by ${owners.filter((o) => o.name !== p.name).map((o) => o.name).join(', ')}` : undefined);
      rows.push({ pass: pass.name, package: p.name, version: p.version, summary: pass.summary ?? '', ...(problem ? { problem } : {}) });
    }
  }
  rows.sort((a, b) => a.pass.localeCompare(b.pass) || a.package.localeCompare(b.package));
  ctx.emit({ passes: rows, plugins: host.plugins.map((p) => ({ name: p.name, version: p.version, dir: p.dir, explicit: host.explicit.has(p.name), problem: incompatibility(p) })) });
  if (!rows.length) {
    ctx.print('no passes installed (npm i @tfpass/pass-strip, or a tfpass-pass-* package)');
    return 0;
  }
  const w1 = Math.max(...rows.map((r) => r.pass.length));
  const w2 = Math.max(...rows.map((r) => `${r.package}@${r.version}`.length));
  for (const r of rows) {
    ctx.print(`${r.pass.padEnd(w1)}  ${`${r.package}@${r.version}`.padEnd(w2)}  ${r.summary}${r.problem ? `  [${r.problem}]` : ''}`);
  }
  return 0;
}
