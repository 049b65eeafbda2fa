import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, buildOnce, tfpass, tmp } from './helpers.js';

// What `npm i -g @tfpass/cli` installs: the CLI and, transitively, every @tfpass package it depends on.
function tfpassDeps(): string[] {
  const out = new Set<string>();
  const visit = (dir: string) => {
    if (out.has(dir)) return;
    out.add(dir);
    const pj = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8'));
    for (const d of Object.keys({ ...pj.dependencies, ...pj.peerDependencies })) if (d.startsWith('@tfpass/')) visit(d.slice('@tfpass/'.length));
  };
  visit('cli');
  return [...out].sort();
}
const PACKAGES = tfpassDeps();

beforeAll(() => {
  buildOnce();
  // every packed package needs its dist
  try {
    execFileSync('npx', ['tsc', '-b', ...PACKAGES.map((p) => `packages/${p}`)], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    process.stderr.write(`tsc -b reported errors (packing the existing dist):\n${(e as { stdout?: Buffer }).stdout?.toString().slice(0, 2000)}\n`);
  }
}, 600_000);

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
}

/** Offline install from tarballs; third-party deps come from the npm cache filled by the workspace install. */
function install(prefix: string, tarballs: string[]): void {
  const base = ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--ignore-scripts'];
  try {
    npm([...base, '--offline', ...tarballs], prefix);
  } catch {
    npm([...base, '--prefer-offline', ...tarballs], prefix);
  }
}

describe('npm pack', () => {
  it('packed CLI and dependencies installed into an empty prefix list the example plugin installed beside them', async () => {
    const out = tmp('tfpass-pack-');
    const tgz = join(out, 'tgz');
    mkdirSync(tgz);
    npm(['pack', '--pack-destination', tgz, '--silent', ...PACKAGES.map((p) => join(ROOT, 'packages', p)), join(ROOT, 'examples/tfpass-pass-example')], ROOT);
    const files = readdirSync(tgz);
    expect(files).toContain('tfpass-pass-example-1.0.0.tgz');
    expect(files.filter((f) => f.startsWith('tfpass-'))).toHaveLength(PACKAGES.length + 1);

    const prefix = join(out, 'prefix');
    mkdirSync(prefix);
    writeFileSync(join(prefix, 'package.json'), '{"name":"empty-prefix","private":true}\n');
    install(prefix, files.filter((f) => f !== 'tfpass-pass-example-1.0.0.tgz').map((f) => join(tgz, f)));
    install(prefix, [join(tgz, 'tfpass-pass-example-1.0.0.tgz')]);
    const bin = join(prefix, 'node_modules/@tfpass/cli/dist/bin.js');
    expect(existsSync(bin)).toBe(true);
    // the workspace's own node_modules must play no part
    expect(prefix.startsWith(ROOT)).toBe(false);

    const r = await tfpass(['passes'], { cwd: prefix, bin });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^rename_prefix\s+tfpass-pass-example@1\.0\.0\s/m);
    expect(r.stdout).toMatch(/^strip_unused_nodes\s+@tfpass\/pass-strip@/m);
    expect(r.stdout).toMatch(/^fold_batch_norms\s+@tfpass\/pass-fold-bn@/m);
    // and the installed plugin runs
    const g = join(out, 'g.pbtxt');
    writeFileSync(g, 'node { name: "a/x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\nnode { name: "a/y" op: "Identity" input: "a/x" attr { key: "T" value { type: DT_FLOAT } } }\n');
    const t = await tfpass(['transform', `--in_graph=${g}`, `--out_graph=${join(out, 'o.pbtxt')}`, '--transforms=rename_prefix(from=a/, to=b/) remove_nodes(op=Identity)', '--outputs=b/y', '--json'], { cwd: prefix, bin });
    expect(t.stderr).toBe('');
    expect(JSON.parse(t.stdout).steps.map((s: { package: string }) => s.package)).toEqual(['tfpass-pass-example', '@tfpass/pass-strip']);
  }, 600_000); // npm pack + two offline installs: slow on a busy machine
});
