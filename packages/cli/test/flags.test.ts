/**
 * Flags every command shares, run in-process through main(): -h everywhere, `~` expansion,
 * `**` in --data globs, snake_case --json, and verify's default tolerance scaled to the output.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as core from '@tfpass/core';
import { main } from '../src/main.js';
import { commands } from '../src/commands/index.js';
import { expandHome, parseArgs } from '../src/args.js';
import { expandGlob } from '../src/feeds.js';
import { toJson, type Io } from '../src/ui.js';
import { tmp } from './helpers.js';

function capture(cwd: string, tty = false): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', tty, cwd, out: (s: string) => void (io.stdout += s), err: (s: string) => void (io.stderr += s) };
  return io;
}

describe('-h', () => {
  it('prints the usage of every command, exit 0', async () => {
    expect(commands.size).toBeGreaterThan(15);
    for (const name of commands.keys()) {
      const io = capture(tmp());
      const status = await main([name, '-h'], io);
      expect(status, `${name}: ${io.stderr}`).toBe(0);
      expect(io.stdout, name).toMatch(/^usage: tfpass /);
      expect(io.stdout, name).toMatch(/--help, -h/);
    }
  });
});

describe('~ in paths', () => {
  it('is the home folder at the start of a value, after NAME= in list flags, and nowhere else', () => {
    expect(expandHome('~')).toBe(homedir());
    expect(expandHome('~/m.pb')).toBe(join(homedir(), 'm.pb'));
    expect(expandHome('a/~/b')).toBe('a/~/b');
    expect(expandHome('~user/x')).toBe('~user/x');
    expect(expandHome('x=~/d/*.npy', true)).toBe(`x=${homedir()}/d/*.npy`);
    const a = parseArgs(['~/in.pb', '--in_graph=~/g.pb', '--data', 'x=~/d/*.npy'], {
      usage: 't', summary: 't', maxPositionals: 1,
      flags: { in_graph: { type: 'string', description: '' }, data: { type: 'list', description: '' } },
    });
    expect(a.positionals).toEqual([join(homedir(), 'in.pb')]);
    expect(a.flags.in_graph).toBe(join(homedir(), 'g.pb'));
    expect(a.flags.data).toEqual([`x=${homedir()}/d/*.npy`]);
  });
});

describe('--data globs', () => {
  it('** matches files at every depth, this folder included, each once, in name order', () => {
    const d = tmp();
    for (const f of ['a.npy', 'sub/b.npy', 'sub/deeper/c.npy', 'sub/deeper/skip.txt', 'z/d.npy']) {
      mkdirSync(join(d, f, '..'), { recursive: true });
      writeFileSync(join(d, f), 'x');
    }
    const rel = (fs: string[]) => fs.map((f) => f.slice(d.length + 1));
    expect(rel(expandGlob('**/*.npy', d))).toEqual(['a.npy', 'sub/b.npy', 'sub/deeper/c.npy', 'z/d.npy']);
    expect(rel(expandGlob('sub/**/*.npy', d))).toEqual(['sub/b.npy', 'sub/deeper/c.npy']);
    expect(rel(expandGlob('**/deeper/**/*.npy', d))).toEqual(['sub/deeper/c.npy']);
    expect(rel(expandGlob('*.npy', d))).toEqual(['a.npy']);
  });
});

describe('--json', () => {
  it('keys are snake_case; keys that are names from the data are kept', () => {
    const v = toJson({ ok: true, nodesBefore: 3, steps: [{ packageName: 'p', ignoredError: false }], inputs: { myInput: 'x' }, ops: new Map([['Conv2D', 1]]), big: 5n });
    expect(v).toEqual({ ok: true, nodes_before: 3, steps: [{ package_name: 'p', ignored_error: false }], inputs: { myInput: 'x' }, ops: { Conv2D: 1 }, big: 5 });
  });

  it('transform --json has only snake_case keys', async () => {
    const d = tmp();
    const g = new core.Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 4] } } });
    g.addNode({ name: 'id', op: 'Identity', inputs: ['x'], attrs: { T: { type: 'float32' } } });
    g.addNode({ name: 'out', op: 'Relu', inputs: ['id'], attrs: { T: { type: 'float32' } } });
    core.writeGraph(g, join(d, 'g.pb'));
    const io = capture(d);
    const status = await main(['transform', `--in_graph=${join(d, 'g.pb')}`, `--out_graph=${join(d, 'o.pb')}`, '--outputs=out', '--transforms=remove_nodes(op=Identity)', '--json'], io);
    expect(status, io.stderr).toBe(0);
    const j = JSON.parse(io.stdout);
    expect(j.nodes_before).toBe(3);
    expect(j.nodes_after).toBe(2);
    const keys: string[] = [];
    const walk = (v: unknown, names: boolean) => {
      if (Array.isArray(v)) return v.forEach((x) => walk(x, false));
      if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) {
        if (!names) keys.push(k);
        walk(x, ['ops', 'stats'].includes(k));
      }
    };
    walk(j, false);
    expect(keys.filter((k) => /[A-Z]/.test(k))).toEqual([]);
  });
});

describe('verify tolerance', () => {
  /** out = x * k, x[1,64] */
  function scaled(dir: string, file: string, k: number): string {
    const g = new core.Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 64] } } });
    g.addNode({ name: 'k', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: core.Tensor.fromValues('float32', [], [k]) } } });
    g.addNode({ name: 'out', op: 'Mul', inputs: ['x', 'k'], attrs: { T: { type: 'float32' } } });
    core.writeGraph(g, join(dir, file));
    return join(dir, file);
  }

  it('by default is 1e-4 x the output scale and printed; --atol replaces it', async () => {
    // Inputs U(-1, 1) (seed 1), outputs up to ~1000: B differs by <= 0.05 (5e-5 of the scale), C by up to 1 (1e-3).
    const d = tmp();
    const [a, b, c] = [scaled(d, 'a.pb', 1000), scaled(d, 'b.pb', 1000.05), scaled(d, 'c.pb', 1001)];
    const run = async (...args: string[]) => {
      const io = capture(d);
      const status = await main(['verify', ...args], io);
      return { status, ...io };
    };
    const ok = await run(a, b);
    expect(ok.status, ok.stderr).toBe(0);
    const atol = Number(/atol (\S+) \(scaled\)/.exec(ok.stdout)?.[1]);
    // 1e-4 x max|A|: max|A| is just under 1000 for 64 draws of U(-1, 1).
    expect(atol).toBeGreaterThan(0.09);
    expect(atol).toBeLessThanOrEqual(0.1);
    const fixed = await run(a, b, '--atol', '1e-5');
    expect(fixed.status).toBe(13);
    expect(fixed.stdout).toMatch(/atol 1\.0000e-5, \d+ elements beyond/);
    const off = await run(a, c);
    expect(off.status).toBe(13);
    const j = await run(a, b, '--json');
    const body = JSON.parse(j.stdout);
    expect(body.atol_per_scale).toBe(1e-4);
    expect(body.outputs[0].atol).toBeCloseTo(atol, 4);
    expect(body.outputs[0].max_abs_error).toBeGreaterThan(0);
  });
});

describe('progress bars', () => {
  it('show the count, the rate and the time left on a terminal, and nothing when piped', async () => {
    const { Ctx } = await import('../src/ui.js');
    const args = parseArgs([], { usage: 't', summary: 't', flags: {} });
    const tty = capture(tmp(), true);
    const ctx = new Ctx(args, tty, 't');
    ctx.bar('work', 0, 4);
    await new Promise((r) => setTimeout(r, 30));
    ctx.bar('work', 2, 4);
    expect(tty.stderr).toMatch(/work \[############\.{12}\] 2\/4 [\d.]+\/s ETA \d+ ms$/);
    ctx.bar('work', 4, 4);
    expect(tty.stderr).toMatch(/4\/4 [\d.]+\/s\n$/);
    const piped = capture(tmp());
    new Ctx(args, piped, 't').bar('work', 1, 4);
    expect(piped.stderr).toBe('');
  });
});
