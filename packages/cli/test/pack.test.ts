import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, buildOnce, tfpass, tmp } from './helpers.js';

// The smallest useful install: the CLI (which depends on core only) and one pass package.
const PACKAGES = ['cli', 'core', 'pass-strip'];

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

/** Bytes under `dir` (files only, as `du -sb` counts them). */
function bytesUnder(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  return n;
}

describe('npm pack', () => {
  it('cli + core + pass-strip alone install offline into an empty prefix and run strip_unused_nodes; missing packages get install hints; a plugin installed beside them runs', async () => {
    const out = tmp('tfpass-pack-');
    const tgz = join(out, 'tgz');
    mkdirSync(tgz);
    npm(['pack', '--pack-destination', tgz, '--silent', ...PACKAGES.map((p) => join(ROOT, 'packages', p)), join(ROOT, 'examples/tfpass-pass-example')], ROOT);
    const files = readdirSync(tgz);
    expect(files.sort()).toEqual(['tfpass-cli-0.1.0.tgz', 'tfpass-core-1.0.0.tgz', 'tfpass-pass-example-1.0.0.tgz', 'tfpass-pass-strip-0.1.0.tgz']);

    const prefix = join(out, 'prefix');
    mkdirSync(prefix);
    writeFileSync(join(prefix, 'package.json'), '{"name":"empty-prefix","private":true}\n');
    install(prefix, files.filter((f) => f !== 'tfpass-pass-example-1.0.0.tgz').map((f) => join(tgz, f)));
    // Only what was asked for: no TensorFlow.js, no other tfpass package.
    const scoped = readdirSync(join(prefix, 'node_modules/@tfpass')).sort();
    expect(scoped).toEqual(['cli', 'core', 'pass-strip']);
    expect(existsSync(join(prefix, 'node_modules/@tensorflow'))).toBe(false);
    console.log(`[pack] cli + core + pass-strip: ${(bytesUnder(join(prefix, 'node_modules')) / 2 ** 20).toFixed(1)} MiB installed`);
    const bin = join(prefix, 'node_modules/.bin/tfpass');
    expect(existsSync(bin)).toBe(true);
    // the workspace's own node_modules must play no part
    expect(prefix.startsWith(ROOT)).toBe(false);

    const r = await tfpass(['passes'], { cwd: prefix, bin });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^strip_unused_nodes\s+@tfpass\/pass-strip@/m);
    expect(r.stdout).not.toMatch(/^fold_batch_norms\s/m);
    const g = join(out, 'g.pbtxt');
    writeFileSync(g, 'node { name: "a/x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\nnode { name: "a/y" op: "Identity" input: "a/x" attr { key: "T" value { type: DT_FLOAT } } }\nnode { name: "dead" op: "Identity" input: "a/x" attr { key: "T" value { type: DT_FLOAT } } }\n');
    const s = await tfpass(['transform', `--in_graph=${g}`, `--out_graph=${join(out, 's.pbtxt')}`, '--transforms=strip_unused_nodes', '--outputs=a/y', '--json'], { cwd: prefix, bin });
    expect(s.stderr).toBe('');
    expect(s.status).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ ok: true, nodes_before: 3, nodes_after: 2 });
    // What is not installed is named with the package to install.
    const fold = await tfpass(['transform', `--in_graph=${g}`, `--out_graph=${join(out, 'f.pbtxt')}`, '--transforms=fold_batch_norms', '--outputs=a/y'], { cwd: prefix, bin });
    expect(fold.status).toBe(7);
    expect(fold.stderr).toMatch(/@tfpass\/pass-fold-bn/);
    const run = await tfpass(['run', g, '--outputs', 'a/y'], { cwd: prefix, bin });
    expect(run.status).toBe(10);
    expect(run.stderr).toMatch(/needs @tfpass\/runtime, which is not installed: npm i @tfpass\/runtime/);
    expect(run.stderr).not.toMatch(/\n\s+at /);

    install(prefix, [join(tgz, 'tfpass-pass-example-1.0.0.tgz')]);
    const t = await tfpass(['transform', `--in_graph=${g}`, `--out_graph=${join(out, 'o.pbtxt')}`, '--transforms=rename_prefix(from=a/, to=b/) remove_nodes(op=Identity)', '--outputs=b/y', '--json'], { cwd: prefix, bin });
    expect(t.stderr).toBe('');
    expect(JSON.parse(t.stdout).steps.map((x: { package: string }) => x.package)).toEqual(['tfpass-pass-example', '@tfpass/pass-strip']);
  }, 600_000); // npm pack + two offline installs: slow on a busy machine
});
