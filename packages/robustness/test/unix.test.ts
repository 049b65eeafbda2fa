/**
 * tfpass as a Unix tool, through the built CLI: a closed pipe ends a command quietly, `-` is
 * stdin/stdout (byte-identical to the file path), non-regular outputs (FIFOs, device nodes,
 * links to them) are written in place and never replaced, a symlinked output keeps its link,
 * temp files of a killed run are swept by the next one, and an input is never overwritten by
 * another spelling of its path or from inside its SavedModel folder.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor, setTempFileListener, writeGraph } from '@tfpass/core';
import { randomGraph } from '@tfpass/runtime/testing';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = join(ROOT, 'packages/cli/dist/bin.js');
const TRANSFORMS = '--transforms=strip_unused_nodes sort_by_execution_order';

let dir: string;
let graph: string;

beforeAll(() => {
  try {
    execFileSync('npx', ['tsc', '-b', 'packages/cli'], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    // Another package's unfinished work may not compile; the CLI's own build is what matters.
    execFileSync('npx', ['tsc', '-p', 'packages/cli'], { cwd: ROOT, stdio: 'pipe' });
  }
  dir = mkdtempSync(join(tmpdir(), 'tfpass-unix-'));
  graph = join(dir, 'g.pb');
  writeGraph(randomGraph(3, { depth: 4, ops: ['conv', 'relu', 'identity', 'bias_add'] }).graph, graph);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], opts: { input?: Buffer; cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? dir, input: opts.input, env: { ...process.env, TFPASS_PROGRESS: '0' }, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Run through a shell pipe into `head -c1` (the reader leaves after one byte); the CLI's own status. */
function intoHead(cmd: string): { status: number; stderr: string } {
  const err = join(dir, 'head.err');
  const s = spawnSync('bash', ['-c', `node ${BIN} ${cmd} 2>${err} | head -c1 >/dev/null; echo "\${PIPESTATUS[0]}"`], { cwd: dir, encoding: 'utf8', env: { ...process.env, TFPASS_PROGRESS: '0' } });
  return { status: Number(s.stdout.trim()), stderr: readFileSync(err, 'utf8') };
}

describe('pipes', () => {
  // Every command that prints more than a pipe buffer's worth, or prints at all.
  const printing = [
    'passes', 'passes --json', 'help strip_unused_nodes', '--help', 'transform --help', 'summarize --in_graph=g.pb', 'summarize --in_graph=g.pb --print_structure',
    'lint g.pb', 'quant-check g.pb', "transform --in_graph=g.pb --out_graph=- --outputs=output --transforms='strip_unused_nodes'",
    'run g.pb', 'verify g.pb g.pb', 'trace g.pb', 'view g.pb --out -',
  ];
  for (const cmd of printing) {
    it(`tfpass ${cmd} | head -c1 exits quietly`, () => {
      const r = intoHead(cmd);
      expect(r.stderr).not.toMatch(/EPIPE|\n\s+at |internal error/);
      // 0, or the command's own verdict (lint/quant-check report findings with 1); never a crash.
      expect([0, 1], r.stderr).toContain(r.status);
    });
  }

  it('a long listing into a reader that closes at once: no stack trace, exit 0', async () => {
    // The reader closes before the first write: every write fails with EPIPE.
    const child = spawn(process.execPath, [BIN, 'passes', '--verbose'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const status = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(status).toBe(0);
  });
});

describe('- is stdin and stdout', () => {
  it('transform --in_graph=- --out_graph=- gives the same bytes as the file paths; messages go to stderr', () => {
    const byFile = join(dir, 'by-file.pb');
    const f = run(['transform', `--in_graph=${graph}`, `--out_graph=${byFile}`, '--outputs=output', TRANSFORMS]);
    expect(f.status, f.stderr).toBe(0);
    const p = run(['transform', '--in_graph=-', '--out_graph=-', '--outputs=output', TRANSFORMS], { input: readFileSync(graph) });
    expect(p.status, p.stderr).toBe(0);
    expect(Buffer.compare(p.stdout, readFileSync(byFile))).toBe(0);
    expect(p.stderr).toMatch(/wrote - /);
    expect(existsSync(join(dir, '-'))).toBe(false);
  });

  it('text output to stdout and --json on stderr when stdout carries the graph', () => {
    const t = run(['transform', '--in_graph=-', '--out_graph=-', '--output_as_text', '--outputs=output', TRANSFORMS, '--json'], { input: readFileSync(graph) });
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout.toString()).toMatch(/^node:? \{/);
    expect(JSON.parse(t.stderr).ok).toBe(true);
  });

  it('summarize and convert read - like a file', () => {
    const a = run(['summarize', `--in_graph=${graph}`]);
    const b = run(['summarize', '--in_graph=-'], { input: readFileSync(graph) });
    expect(b.status, b.stderr).toBe(0);
    // Only the file name differs (summarize repeats it in the benchmark_model command line).
    expect(b.stdout.toString()).toBe(a.stdout.toString().replaceAll(`--graph=${graph}`, '--graph=-'));
    const c = run(['convert', '-', '-', '--output_as_text'], { input: readFileSync(graph) });
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout.toString()).toMatch(/^node:? \{/);
  });

  it('an empty stdin is a typed one-line error', () => {
    const r = run(['summarize', '--in_graph=-'], { input: Buffer.alloc(0) });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^tfpass: error\[E_GRAPH_FORMAT\]: .*empty/);
  });
});

describe('non-regular outputs are written in place, never replaced', () => {
  it('a FIFO receives the graph and stays a FIFO', async () => {
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (d: Buffer) => chunks.push(d));
    const readerDone = new Promise((done) => reader.on('close', done));
    const byFile = join(dir, 'fifo-ref.pb');
    run(['transform', `--in_graph=${graph}`, `--out_graph=${byFile}`, '--outputs=output', TRANSFORMS]);
    const r = await new Promise<number | null>((done) => spawn(process.execPath, [BIN, 'transform', `--in_graph=${graph}`, `--out_graph=${fifo}`, '--outputs=output', TRANSFORMS], { cwd: dir, stdio: 'ignore' }).on('close', done));
    await readerDone;
    expect(r).toBe(0);
    expect(Buffer.compare(Buffer.concat(chunks), readFileSync(byFile))).toBe(0);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a symlink to /dev/null (and, as root, a device node of our own) keeps being what it was', () => {
    const link = join(dir, 'null-link');
    symlinkSync('/dev/null', link);
    const r = run(['transform', `--in_graph=${graph}`, `--out_graph=${link}`, '--outputs=output', TRANSFORMS]);
    expect(r.status, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('/dev/null');
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    // mknod needs root (CI runs as root, which is when the old rename replaced device nodes).
    const node = join(dir, 'null-node');
    const made = spawnSync('mknod', [node, 'c', '1', '3']).status === 0;
    if (made) {
      const n = run(['transform', `--in_graph=${graph}`, `--out_graph=${node}`, '--outputs=output', TRANSFORMS]);
      expect(n.status, n.stderr).toBe(0);
      expect(lstatSync(node).isCharacterDevice()).toBe(true);
    } else console.log('[unix] not root: the device-node case ran only through the /dev/null symlink');
  });

  it('a symlink to a regular file: the file is replaced, the link kept', () => {
    const real = join(dir, 'real-target.pb');
    writeFileSync(real, 'previous');
    const link = join(dir, 'link-to-file.pb');
    symlinkSync(real, link);
    const r = run(['transform', `--in_graph=${graph}`, `--out_graph=${link}`, '--outputs=output', TRANSFORMS]);
    expect(r.status, r.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real).length).toBeGreaterThan(100);
  });

  it('a folder as output is a typed error', () => {
    const r = run(['transform', `--in_graph=${graph}`, `--out_graph=${dir}`, '--outputs=output', TRANSFORMS]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/E_FILE.*directory/);
  });
});

describe('temp files of a killed run', () => {
  it('are removed by the next write into the folder; a live process\'s temp file is left alone', () => {
    const out = join(dir, 'swept');
    mkdirSync(out);
    // A dead pid: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const stale = join(out, `.o.pb.tfpass-${dead}-abc123.tmp`);
    const live = join(out, `.o.pb.tfpass-${process.pid}-abc124.tmp`);
    const foreign = join(out, '.o.pb.something-else.tmp');
    for (const f of [stale, live, foreign]) writeFileSync(f, 'x'.repeat(1000));
    const r = run(['transform', `--in_graph=${graph}`, `--out_graph=${join(out, 'o.pb')}`, '--outputs=output', TRANSFORMS]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
  });

  it('checkpoint writes use the same temp names: announced, and stale ones swept', async () => {
    const { writeCheckpoint } = await import('@tfpass/checkpoint');
    const ck = join(dir, 'ck-sweep');
    mkdirSync(ck);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const stale = join(ck, `.model.ckpt.index.tfpass-${dead}-zz1.tmp`);
    writeFileSync(stale, 'left by a killed run');
    const announced: string[] = [];
    setTempFileListener((p) => announced.push(p));
    try {
      writeCheckpoint(join(ck, 'model.ckpt'), { w: Tensor.fromValues('float32', [2], [1, 2]) });
    } finally {
      setTempFileListener(undefined);
    }
    expect(existsSync(stale)).toBe(false);
    expect(readdirSync(ck).sort()).toEqual(['model.ckpt.data-00000-of-00001', 'model.ckpt.index']);
    expect(announced.map((p) => p.slice(ck.length + 1).replace(/-[0-9a-z]+\.tmp$/, ''))).toEqual([
      `.model.ckpt.data-00000-of-00001.tfpass-${process.pid}`, `.model.ckpt.index.tfpass-${process.pid}`,
    ]);
  });

  it('kill -9 during a write leaves the previous output intact, and the next run leaves no temp file', async () => {
    const out = join(dir, 'kill9');
    mkdirSync(out);
    const big = join(dir, 'big-for-kill.pb');
    const { bigGraph } = await import('./big-graph.js');
    writeGraph(bigGraph(48 * 2 ** 20, 1024).graph, big);
    const target = join(out, 'o.pb');
    writeFileSync(target, 'previous result');
    const child = spawn(process.execPath, [BIN, 'transform', `--in_graph=${big}`, `--out_graph=${target}`, '--outputs=output', '--transforms=remove_nodes(op=Identity)'], { stdio: 'ignore' });
    await new Promise<void>((done) => {
      const poll = setInterval(() => {
        if (readdirSync(out).some((f) => f.endsWith('.tmp'))) {
          clearInterval(poll);
          child.kill('SIGKILL');
          done();
        }
      }, 1);
    });
    await new Promise((done) => child.on('close', done));
    expect(readFileSync(target, 'utf8')).toBe('previous result');
    const r = run(['transform', `--in_graph=${graph}`, `--out_graph=${target}`, '--outputs=output', TRANSFORMS]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(['o.pb']);
  });
});

describe('an input is never overwritten', () => {
  it('not through another spelling of the path or a symlink', () => {
    const sub = join(dir, 'spell');
    mkdirSync(sub);
    const g = join(sub, 'in.pb');
    cpSync(graph, g);
    const before = readFileSync(g);
    symlinkSync(g, join(sub, 'alias.pb'));
    for (const out of ['./in.pb', '../spell/in.pb', 'alias.pb']) {
      const r = run(['transform', '--in_graph=in.pb', `--out_graph=${out}`, '--outputs=output', TRANSFORMS], { cwd: sub });
      expect(r.status, `${out}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(/refusing to overwrite/);
    }
    expect(Buffer.compare(readFileSync(g), before)).toBe(0);
    const forced = run(['transform', '--in_graph=in.pb', '--out_graph=./in.pb', '--outputs=output', TRANSFORMS, '--force'], { cwd: sub });
    expect(forced.status, forced.stderr).toBe(0);
  });

  it('not from inside a SavedModel folder given as input (transform, convert)', () => {
    const sm = join(dir, 'sm');
    mkdirSync(join(sm, 'variables'), { recursive: true });
    // A SavedModel wrapping the graph: convert writes one from a GraphDef via the container kind.
    const wrap = run(['convert', graph, join(dir, 'as-text.pbtxt')]);
    expect(wrap.status, wrap.stderr).toBe(0);
    const text = readFileSync(join(dir, 'as-text.pbtxt'), 'utf8');
    writeFileSync(join(sm, 'saved_model.pbtxt'), `saved_model_schema_version: 1\nmeta_graphs {\n  meta_info_def { tags: "serve" }\n  graph_def {\n${text}\n  }\n}\n`);
    const before = readFileSync(join(sm, 'saved_model.pbtxt'));
    for (const args of [
      ['transform', `--in_graph=${sm}`, `--out_graph=${join(sm, 'saved_model.pbtxt')}`, '--outputs=output', TRANSFORMS],
      ['convert', sm, join(sm, 'saved_model.pbtxt')],
    ]) {
      const r = run(args);
      expect(r.status, `${args[0]}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(/refusing to overwrite/);
    }
    expect(Buffer.compare(readFileSync(join(sm, 'saved_model.pbtxt')), before)).toBe(0);
    // A new file inside the folder destroys nothing: allowed.
    const ok = run(['transform', `--in_graph=${sm}`, `--out_graph=${join(sm, 'optimized.pb')}`, '--outputs=output', TRANSFORMS]);
    expect(ok.status, ok.stderr).toBe(0);
  });
});

describe('the committed bin shim', () => {
  it('runs the built CLI, and says to build when dist/ is missing', () => {
    const ok = spawnSync(process.execPath, [join(ROOT, 'packages/cli/bin/tfpass.js'), '--version'], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^\d+\.\d+\.\d+/);
    // The same shim in a package folder that was never built.
    const pkg = join(dir, 'unbuilt-cli');
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'packages/cli/bin/tfpass.js'), join(pkg, 'bin/tfpass.js'));
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@tfpass/cli', type: 'module' }));
    const r = spawnSync(process.execPath, [join(pkg, 'bin/tfpass.js'), '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not built yet.*npm run build/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
