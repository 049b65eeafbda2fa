import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = join(ROOT, 'packages/cli/dist/bin.js');
export const EXAMPLE = join(ROOT, 'examples/tfpass-pass-example');

let built = false;
/** Build the CLI (and what it references) plus the example plugin, once per test file. */
export function buildOnce(): void {
  if (built) return;
  built = true;
  try {
    execFileSync('npx', ['tsc', '-b', 'packages/cli', 'examples/tfpass-pass-example'], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    // Another package's work in progress may not compile; the CLI's own build is what we need.
    process.stderr.write(`tsc -b reported errors (continuing with the existing dist):\n${(e as { stdout?: Buffer }).stdout?.toString().slice(0, 2000)}\n`);
    execFileSync('npx', ['tsc', '-p', 'packages/cli'], { cwd: ROOT, stdio: 'pipe' });
    execFileSync('npx', ['tsc', '-p', 'examples/tfpass-pass-example'], { cwd: ROOT, stdio: 'pipe' });
  }
  if (!existsSync(BIN)) throw new Error(`build did not produce ${BIN}`);
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function tfpass(args: string[], opts: { cwd?: string; env?: Record<string, string>; bin?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], {
      cwd: opts.cwd ?? tmp(),
      env: { ...process.env, TFPASS_PROGRESS: '0', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ status: code ?? -1, stdout, stderr }));
  });
}

export function tmp(prefix = 'tfpass-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fake plugin package in `<dir>/node_modules/<name>` with the given manifest and entry code. */
export function fakePlugin(dir: string, name: string, opts: { version?: string; passes: string[]; code?: string; apiVersion?: number; peer?: string }): string {
  const pkgDir = join(dir, 'node_modules', name);
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(
    join(pkgDir, 'package.json'),
    JSON.stringify({
      name,
      version: opts.version ?? '1.2.3',
      type: 'module',
      ...(opts.peer ? { peerDependencies: { '@tfpass/core': opts.peer } } : {}),
      tfpass: { apiVersion: opts.apiVersion ?? 1, entry: './index.js', passes: opts.passes.map((p) => ({ name: p, summary: `${p} from ${name}` })) },
    }),
  );
  const code =
    opts.code ??
    `export function register(api) {\n` +
      opts.passes.map((p) => `  api.registerPass({ name: ${JSON.stringify(p)}, summary: 'test', run(g, ctx) { ctx.note(${JSON.stringify(name)}); } });\n`).join('') +
      `}\n`;
  writeFileSync(join(pkgDir, 'index.js'), code);
  return pkgDir;
}

/** Install a built package (package.json + dist) as a copy under `<dir>/node_modules`. */
export function copyPackage(src: string, dir: string, name: string): string {
  const dest = join(dir, 'node_modules', name);
  mkdirSync(dest, { recursive: true });
  cpSync(join(src, 'package.json'), join(dest, 'package.json'));
  cpSync(join(src, 'dist'), join(dest, 'dist'), { recursive: true });
  return dest;
}
