/**
 * Failure isolation through the built CLI: a third-party pass that throws is reported with
 * its name and package version, the output is not created (or left as it was), the input is
 * untouched; Ctrl-C / SIGTERM stop any work (see the Ctrl-C block).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, readModel, writeGraph } from '@tfpass/core';
import { encodeNpy } from '@tfpass/runtime';
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
  api.registerPass({ name: 'spin', summary: 'never returns', run() { for (;;) {} } });
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
    tfpass: { apiVersion: 1, entry: './index.js', passes: ['explode', 'explode_after_edit', 'break_graph', 'reject_async', 'spin'].map((name) => ({ name, summary: name })) },
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

/**
 * Ctrl-C / SIGTERM. The CLI runs each command in a worker thread and keeps its main thread idle,
 * so a signal is acted on while synchronous work runs: exit 130 (SIGINT) / 143 (SIGTERM), no
 * temp file left, an existing output untouched (an output appears only by renaming a complete
 * temp file). Signals are sent on an observable event where there is one (a temp file appears,
 * a pass starts), plus the fixed 0.3/0.6/1.0 s cases on three kinds of long work.
 */
interface Interrupted extends Run { sentAfterMs?: number; stopMs?: number; note: string }

function interrupt(args: string[], cwd: string, when: { ms?: number; stderr?: RegExp; poll?: () => string | undefined }, signal: NodeJS.Signals = 'SIGINT', env: Record<string, string> = {}): Promise<Interrupted> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, TFPASS_PROGRESS: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sentAt: number | undefined;
    let note = 'not sent: the command ended first';
    let closed = false;
    const send = (why: string) => {
      if (closed || sentAt !== undefined) return;
      sentAt = performance.now();
      note = why;
      child.kill(signal);
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (when.stderr?.test(stderr)) send(`on stderr ${when.stderr}`);
    });
    const timers: NodeJS.Timeout[] = [];
    if (when.ms !== undefined) timers.push(setTimeout(() => send(`at ${when.ms} ms`), when.ms));
    if (when.poll) {
      const poll = when.poll;
      timers.push(setInterval(() => {
        const why = poll();
        if (why) send(why);
      }, 2));
    }
    // Whatever happens, never wait forever: a command that ignores the signal fails the test.
    timers.push(setTimeout(() => { send('after 60 s without the event'); setTimeout(() => child.kill('SIGKILL'), 10_000); }, 60_000));
    child.on('error', fail);
    child.on('close', (status, sig) => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      const end = performance.now();
      done({ status, signal: sig, stdout, stderr, note, sentAfterMs: sentAt === undefined ? undefined : sentAt - t0, stopMs: sentAt === undefined ? undefined : end - sentAt });
    });
  });
}

const temps = (d: string): string[] => readdirSync(d, { recursive: true }).map(String).filter((f) => /\.tmp$|tempstate/.test(f));
const interruptedBy = (r: Run, sig: NodeJS.Signals) => r.status === (sig === 'SIGINT' ? 130 : 143) || r.signal === sig;

describe('Ctrl-C', () => {
  let big: string;
  beforeAll(() => {
    big = join(dir, 'big.pb');
    writeGraph(bigGraph(100 * 2 ** 20, 1024).graph, big);
  }, 120_000);

  it('SIGINT while the output is being written: exit 130, no temp file, the previous output untouched', async () => {
    const inHash = sha(big);
    const outDir = join(dir, 'sigint-write');
    mkdirSync(outDir);
    const out = join(outDir, 'out.pb');
    writeFileSync(out, 'previous result');
    let seen = '';
    const r = await interrupt(['transform', `--in_graph=${big}`, `--out_graph=${out}`, '--outputs=output', '--transforms=remove_nodes(op=Identity)'], dir, {
      // The write has started when our temp file appears.
      poll: () => {
        const tmp = readdirSync(outDir).find((f) => f.endsWith('.tmp'));
        if (tmp) seen = `during the write (${statSync(join(outDir, tmp)).size} bytes of the temp file written)`;
        return tmp ? seen : undefined;
      },
    });
    console.log(`[isolation] SIGINT sent ${r.note}; exit ${r.status} signal ${r.signal}; stopped ${r.stopMs?.toFixed(0)} ms after the signal`);
    expect(r.note).toMatch(/during the write/);
    expect(temps(outDir)).toEqual([]);
    if (r.status === 0) {
      // The rename (the commit point) won the race with the signal: the result is complete.
      expect(readModel(out).graph.has('output')).toBe(true);
    } else {
      expect(r.status, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/interrupted \(SIGINT\)/);
      expect(readFileSync(out, 'utf8')).toBe('previous result');
    }
    expect(sha(big)).toBe(inHash);
  });

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig} during a pass's synchronous infinite loop stops it (${sig === 'SIGINT' ? 130 : 143}), the previous output untouched`, async () => {
      const outDir = join(dir, `spin-${sig}`);
      mkdirSync(outDir);
      const out = join(outDir, 'out.pb');
      writeFileSync(out, 'previous result');
      // TFPASS_PROGRESS=1 prints "… spin" when the pass starts: the signal comes inside the loop.
      const r = await interrupt(['transform', `--in_graph=${input}`, `--out_graph=${out}`, '--outputs=output', '--transforms=strip_unused_nodes spin', '--plugin', plugin], dir, { stderr: /… spin/ }, sig, { TFPASS_PROGRESS: '1' });
      console.log(`[isolation] ${sig} sent ${r.note}; exit ${r.status}; stopped ${r.stopMs?.toFixed(0)} ms after the signal`);
      expect(r.note).toMatch(/on stderr/);
      expect(r.status, r.stderr).toBe(sig === 'SIGINT' ? 130 : 143);
      // Generous for a loaded 2-core machine; typically tens of ms.
      expect(r.stopMs!).toBeLessThan(5000);
      expect(readFileSync(out, 'utf8')).toBe('previous result');
      expect(temps(outDir)).toEqual([]);
    });
  }

  // The fixed delays, on a 100 MB transform, a calibration and a QAT run.
  const workloads: [string, (out: string, work: string) => string[]][] = [
    ['100 MB transform', (out) => ['transform', `--in_graph=${big}`, `--out_graph=${out}`, '--outputs=output', '--transforms=remove_nodes(op=Identity) sort_by_execution_order']],
    ['calibration', (out) => ['calibrate', input, '--batches', '20000', '--out', out]],
    ['QAT run', (out, work) => ['qat', '--in_graph', qatGraph, '--outputs', 'output', '--data', join(qatData, '*.npy'), '--batch', '1', '--steps', '1000000', '--checkpoint_every', '1000000', '--checkpoint_dir', join(work, 'ck'), '--out_graph', out]],
  ];
  let qatGraph: string;
  let qatData: string;
  beforeAll(() => {
    qatGraph = join(dir, 'qat-float.pb');
    writeGraph(randomGraph(7, { depth: 4, ops: ['conv', 'relu', 'bias_add'], matmulHead: false }).graph, qatGraph);
    qatData = join(dir, 'qat-data');
    mkdirSync(qatData);
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(qatData, `${i}.npy`), encodeNpy(new Tensor('float32', [1, 8, 8, 3], Float32Array.from({ length: 192 }, (_, k) => Math.sin(k * 0.37 + i)))));
    }
  });
  for (const [what, args] of workloads) {
    for (const ms of [300, 600, 1000]) {
      it(`SIGINT ${ms / 1000} s into a ${what}: exit 130, no temp file, the previous output untouched`, async () => {
        const work = join(dir, `fixed-${what.replace(/\W+/g, '-')}-${ms}`);
        mkdirSync(work);
        const out = join(work, what === 'calibration' ? 'ranges.json' : 'out.pb');
        writeFileSync(out, 'previous result');
        const r = await interrupt(args(out, work), work, { ms });
        console.log(`[isolation] ${what}: SIGINT ${r.note}; exit ${r.status} signal ${r.signal}; stopped ${r.stopMs?.toFixed(0)} ms after the signal`);
        expect(temps(work)).toEqual([]);
        if (r.status === 0 && what === '100 MB transform') {
          // Finished before the signal on a fast machine: then the result must be complete.
          expect(readModel(out).graph.has('output')).toBe(true);
          return;
        }
        expect(interruptedBy(r, 'SIGINT'), `exit ${r.status} signal ${r.signal}: ${r.stderr}`).toBe(true);
        expect(r.stopMs!).toBeLessThan(5000);
        expect(readFileSync(out, 'utf8')).toBe('previous result');
      });
    }
  }
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
