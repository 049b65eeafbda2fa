/**
 * Failure isolation through the built CLI: a third-party pass that throws is reported with
 * its name and package version, the output is not created (or left as it was), the input is
 * untouched; Ctrl-C during the write of a big output leaves no partial file.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, readModel, writeGraph } from '@tfpass/core';
import { randomGraph } from '@tfpass/runtime/testing';
import { bigGraph } from './big-graph.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = join(ROOT, 'packages/cli/dist/bin.js');

interface Run { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function cli(args: string[], cwd: string, onSpawn?: (pid: number) => void): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, TFPASS_PROGRESS: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (status, signal) => done({ status, signal, stdout, stderr }));
    onSpawn?.(child.pid!);
  });
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

let dir: string;
let plugin: string;
let input: string;

const PLUGIN_CODE = `
export function register(api) {
  const { GraphValidationError } = api.lib;
  api.registerPass({ name: 'explode', summary: 'throws a plain Error', run() { throw new TypeError('kaboom'); } });
  api.registerPass({
    name: 'explode_after_edit', summary: 'edits the graph, then throws a typed error',
    run(g) {
      for (const n of g.nodes()) if (n.op === 'Relu') n.op = 'Relu6';
      throw new GraphValidationError('output', 'made up validation failure');
    },
  });
  api.registerPass({ name: 'break_graph', summary: 'leaves a dangling input', run(g) { g.node('output').setInputs(['nowhere']); } });
  api.registerPass({ name: 'reject_async', summary: 'rejects', async run() { await new Promise((r) => setTimeout(r, 5)); throw 'a string, not an Error'; } });
}
`;

beforeAll(() => {
  try {
    execFileSync('npx', ['tsc', '-b', 'packages/cli'], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    // Someone else's unfinished package may not compile: the CLI's own build is what matters.
    process.stderr.write(`tsc -b packages/cli reported errors; building the CLI project alone\n${(e as { stdout?: Buffer }).stdout?.toString().slice(0, 1500)}\n`);
    execFileSync('npx', ['tsc', '-p', 'packages/cli'], { cwd: ROOT, stdio: 'pipe' });
  }
  expect(existsSync(BIN)).toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'tfpass-isolation-'));
  plugin = join(dir, 'node_modules', 'tfpass-pass-boom');
  mkdirSync(plugin, { recursive: true });
  writeFileSync(join(plugin, 'package.json'), JSON.stringify({
    name: 'tfpass-pass-boom',
    version: '3.1.4',
    type: 'module',
    tfpass: { apiVersion: 1, entry: './index.js', passes: ['explode', 'explode_after_edit', 'break_graph', 'reject_async'].map((name) => ({ name, summary: name })) },
  }));
  writeFileSync(join(plugin, 'index.js'), PLUGIN_CODE);
  input = join(dir, 'in.pb');
  writeGraph(randomGraph(7, { depth: 4, ops: ['conv', 'relu', 'identity', 'fused_bn'] }).graph, input);
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a third-party pass that fails', () => {
  for (const [pass, detail] of [
    ['explode', /kaboom/],
    ['explode_after_edit', /made up validation failure/],
    ['break_graph', /nowhere/],
    ['reject_async', /a string, not an Error/],
  ] as const) {
    it(`${pass}: reported with pass and package@version, output not written, input untouched`, async () => {
      const out = join(dir, `${pass}.pb`);
      // One case runs over an existing output: it must be left byte-identical.
      const existing = pass === 'explode_after_edit';
      if (existing) writeFileSync(out, 'previous result');
      const before = sha(input);
      const r = await cli(['transform', `--in_graph=${input}`, `--out_graph=${out}`, '--outputs=output', `--transforms=strip_unused_nodes ${pass} sort_by_execution_order`, '--plugin', plugin], dir);
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stderr).toContain(pass);
      expect(r.stderr).toContain('tfpass-pass-boom@3.1.4');
      expect(r.stderr).toMatch(detail);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      if (existing) expect(readFileSync(out, 'utf8')).toBe('previous result');
      else expect(existsSync(out)).toBe(false);
      expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
      expect(sha(input)).toBe(before);
    });
  }

  it('a plugin whose register() throws is named with its version and nothing runs', async () => {
    const bad = join(dir, 'node_modules', 'tfpass-pass-badreg');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'package.json'), JSON.stringify({ name: 'tfpass-pass-badreg', version: '0.0.7', type: 'module', tfpass: { apiVersion: 1, entry: './index.js', passes: [{ name: 'never', summary: 'x' }] } }));
    writeFileSync(join(bad, 'index.js'), 'export function register() { throw new Error("cannot start"); }');
    const out = join(dir, 'badreg.pb');
    const r = await cli(['transform', `--in_graph=${input}`, `--out_graph=${out}`, '--transforms=never', '--plugin', bad], dir);
    expect(r.status).toBe(10);
    expect(r.stderr).toMatch(/tfpass-pass-badreg@0\.0\.7.*cannot start/);
    expect(existsSync(out)).toBe(false);
  });

  it('the same pipeline without the failing pass succeeds (the failure was the pass, not the setup)', async () => {
    const out = join(dir, 'ok.pb');
    const r = await cli(['transform', `--in_graph=${input}`, `--out_graph=${out}`, '--outputs=output', '--transforms=strip_unused_nodes sort_by_execution_order', '--plugin', plugin], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(readModel(out).graph.size).toBeGreaterThan(3);
  });
});

describe('Ctrl-C', () => {
  it('SIGINT while the output is being written leaves no partial or temp file', async () => {
    const big = join(dir, 'big.pb');
    writeGraph(bigGraph(64 * 2 ** 20, 1024).graph, big);
    const inHash = sha(big);
    const outDir = join(dir, 'sigint');
    mkdirSync(outDir);
    const out = join(outDir, 'out.pb');
    let sentAt = '';
    const r = await cli(['transform', `--in_graph=${big}`, `--out_graph=${out}`, '--outputs=output', '--transforms=remove_nodes(op=Identity)'], dir, (pid) => {
      // Wait until the temp file appears (the write has started), then interrupt.
      const t0 = Date.now();
      const poll = setInterval(() => {
        const tmp = readdirSync(outDir).find((f) => f.endsWith('.tmp'));
        if (tmp || Date.now() - t0 > 60_000) {
          clearInterval(poll);
          sentAt = tmp ? `during the write (${statSync(join(outDir, tmp)).size} bytes of the temp file written)` : 'after 60 s';
          process.kill(pid, 'SIGINT');
        }
      }, 2);
    });
    console.log(`[isolation] SIGINT sent ${sentAt}; exit status ${r.status} signal ${r.signal}`);
    expect(sentAt).toMatch(/during the write/);
    expect(r.status === 0 || r.status === 130 || r.signal === 'SIGINT').toBe(true);
    const left = readdirSync(outDir);
    expect(left.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // Either nothing, or the complete result.
    if (left.includes('out.pb')) expect(readModel(out).graph.has('output')).toBe(true);
    expect(sha(big)).toBe(inHash);
  });

  it('SIGINT while passes run exits 130 without writing', async () => {
    const big = join(dir, 'big.pb');
    const outDir = join(dir, 'sigint2');
    mkdirSync(outDir);
    const out = join(outDir, 'out.pb');
    const r = await cli(['transform', `--in_graph=${big}`, `--out_graph=${out}`, '--outputs=output', '--transforms=remove_nodes(op=Identity)'], dir, (pid) => {
      setTimeout(() => process.kill(pid, 'SIGINT'), 300);
    });
    expect(r.status === 130 || r.signal === 'SIGINT', `status ${r.status} signal ${r.signal}`).toBe(true);
    expect(readdirSync(outDir)).toEqual([]);
  });
});

// ---- names from the graph never become paths ------------------------------------------------

/**
 * `tfpass run --out_dir` writes one `.npy` per output named after the node: hostile node names
 * (separators, `..`, control characters, very long names) must stay single, harmless file names.
 */
const HOSTILE = ['a/../../../escaped', '..', 'back\\slash', 'tab\there', 'new\nline', 'bell\u0007', 'x'.repeat(400), '/abs'];

describe('tfpass run --out_dir with hostile node names', () => {
  it('writes every output inside the folder under a safe single-component name', () => {
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [2] } } });
    g.addNode({ name: 'c', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [2], [1, 2]) } } });
    const names: string[] = [];
    for (const n of HOSTILE) {
      try {
        g.addNode({ name: n, op: 'Add', inputs: ['x', 'c'], attrs: { T: { type: 'float32' } } });
        names.push(n);
      } catch (e) {
        // The IR may refuse some names outright, which is also safe.
        expect((e as { code?: string }).code).toMatch(/^E_/);
      }
    }
    const base = join(dir, 'paths');
    mkdirSync(base);
    const graphFile = join(base, 'hostile.pb');
    writeGraph(g, graphFile);
    const work = join(base, 'work', 'deeper');
    mkdirSync(work, { recursive: true });
    const outDir = join(work, 'outs');
    const r = spawnSync(process.execPath, [BIN, 'run', graphFile, '--input', 'x=2', '--outputs', names.join(','), '--out_dir', outDir], { cwd: work, encoding: 'utf8', env: { ...process.env, TFPASS_PROGRESS: '0' } });
    // The IR accepts these names, so the run must succeed and write safe names.
    expect(r.status, r.stderr).toBe(0);
    const files = readdirSync(outDir);
    expect(files.length).toBe(names.length);
    for (const f of files) {
      expect(f).toMatch(/\.npy$/);
      expect(f).not.toMatch(/[\\/\u0000-\u001f\u007f]/);
      expect(Buffer.byteLength(f)).toBeLessThanOrEqual(255);
    }
    // Nothing escaped the folder.
    expect(readdirSync(work).sort()).toEqual(['outs']);
    expect(readdirSync(join(base, 'work')).sort()).toEqual(['deeper']);
    expect(readdirSync(base).sort()).toEqual(['hostile.pb', 'work']);
  });
});

// ---- plugins come only from manifests ---------------------------------------------------------

describe('plugin loading', () => {
  it('a package without a tfpass manifest is never imported, even when its name looks like a plugin', async () => {
    const proj = join(dir, 'manifestless');
    const marker = join(proj, 'imported.txt');
    for (const [name, manifest] of [['tfpass-pass-sneaky', false], ['tfpass-pass-lazy', true]] as const) {
      const pkg = join(proj, 'node_modules', name);
      mkdirSync(pkg, { recursive: true });
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({
        name, version: '1.0.0', type: 'module', main: './index.js',
        ...(manifest ? { tfpass: { apiVersion: 1, entry: './index.js', passes: [{ name: 'lazy_pass', summary: 'x' }] } } : {}),
      }));
      // Importing the package leaves a trace: the test fails if either is ever loaded.
      writeFileSync(join(pkg, 'index.js'), `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(marker)}, '${name}\\n');\nexport function register(api) { api.registerPass({ name: '${name === 'tfpass-pass-sneaky' ? 'sneaky' : 'lazy_pass'}', summary: 'x', run() {} }); }\n`);
    }
    // Asking for the manifest-less package's pass: unknown pass, nothing imported.
    const r = await cli(['transform', `--in_graph=${input}`, `--out_graph=${join(proj, 'o.pb')}`, '--transforms=sneaky'], proj);
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(/E_UNKNOWN_PASS/);
    // Listing passes reads manifests only: the manifest's pass is listed, its code not imported.
    const l = await cli(['passes'], proj);
    expect(l.status, l.stderr).toBe(0);
    expect(l.stdout).toContain('lazy_pass');
    expect(l.stdout).not.toContain('sneaky');
    expect(existsSync(marker)).toBe(false);
    // Control: using the manifest's pass imports exactly that package.
    const u = await cli(['transform', `--in_graph=${input}`, `--out_graph=${join(proj, 'o.pb')}`, '--transforms=lazy_pass'], proj);
    expect(u.status, u.stderr).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('tfpass-pass-lazy\n');
  });
});
