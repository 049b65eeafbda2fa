import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph, Tensor } from '@tfpass/core';
import { readTfjsModel, writeTfjsModel } from '../src/index.js';

// Issue 21, data safety of TF.js models: the output is atomic as a set, shards cannot lead out
// of the model folder, odd paths and folders are typed errors.

// RAM disk when there is one: every shard is fsynced, which is slow on a real disk.
const root = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tfpass-tfjs-safety-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let k = 0;
const fresh = () => {
  const d = join(root, `m${k++}`);
  mkdirSync(d);
  return d;
};

function model(fill: number, n = 4096): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  g.addNode({ name: 'w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [n], new Array(n).fill(fill)) } } });
  g.addNode({ name: 'y', op: 'Mul', inputs: ['x', 'w'], attrs: { T: { type: 'float32' } } });
  return g;
}

const weights = (dir: string) => new Set(readTfjsModel(dir).node('w').attrs.getTensor('value').toNumbers());
const errOf = (f: () => unknown): Error & { code?: string } => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('no error');
};

describe('TF.js output as a set', () => {
  it('a rewrite uses new shard names, writes model.json last and removes the old shards', () => {
    const dir = fresh();
    writeTfjsModel(model(1), dir, { shardBytes: 4096 });
    const first = readdirSync(dir).sort();
    expect(first).toEqual(['group1-shard1of4.bin', 'group1-shard2of4.bin', 'group1-shard3of4.bin', 'group1-shard4of4.bin', 'model.json']);
    writeTfjsModel(model(2), dir, { shardBytes: 4096 });
    const second = readdirSync(dir).sort();
    expect(second.filter((f) => first.includes(f))).toEqual(['model.json']);
    expect(second.every((f) => f === 'model.json' || /^group1-shard\dof4-[0-9a-f]{8}\.bin$/.test(f))).toBe(true);
    expect(weights(dir)).toEqual(new Set([2]));
    // The third write may take the plain names again (the current model does not use them).
    writeTfjsModel(model(3), dir, { shardBytes: 4096 });
    expect(readdirSync(dir).sort()).toEqual(first);
    expect(weights(dir)).toEqual(new Set([3]));
  });

  it('kill -9 at random moments of a re-conversion leaves a complete model, old or new, never a mix', async () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const core = fileURLToPath(new URL('../../core/dist/index.js', import.meta.url));
    const dir = fresh();
    writeTfjsModel(model(1, 1 << 18), dir, { shardBytes: 16384 });
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const v = i + 2;
      const script = `const c = await import(${JSON.stringify(core)}); const f = await import(${JSON.stringify(dist)});
        const g = new c.Graph(); g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
        g.addNode({ name: 'w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: c.Tensor.fromValues('float32', [${1 << 18}], new Float32Array(${1 << 18}).fill(${v})) } } });
        g.addNode({ name: 'y', op: 'Mul', inputs: ['x', 'w'], attrs: { T: { type: 'float32' } } });
        process.stdout.write('go\\n'); f.writeTfjsModel(g, ${JSON.stringify(dir)}, { shardBytes: 16384 });`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise<void>((res) => child.stdout.once('data', () => res()));
      // Kill while shards are being written (64 files of 16 KiB) or later.
      await new Promise((r) => setTimeout(r, [0, 10, 30, 80, 200, 1500][i]));
      child.kill('SIGKILL');
      await exited;
      const w = weights(dir);
      expect(w.size, `run ${i}: one model's weights only`).toBe(1);
      seen.add([...w][0]!);
    }
    expect(seen.size).toBeGreaterThan(0);
    if (process.env.TFPASS_VERBOSE_KILL) console.log('[kill] models seen after kills:', [...seen], 'shards:', readdirSync(dir).length);
    // The next complete write leaves no stray shards of killed runs.
    writeTfjsModel(model(9, 1 << 18), dir, { shardBytes: 16384 });
    const files = readdirSync(dir).filter((f) => f !== 'model.json');
    expect(new Set(files)).toEqual(new Set(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).weightsManifest[0].paths));
    expect(files.some((f) => f.startsWith('.'))).toBe(false);
  }, 60_000);
});

describe('TF.js inputs and outputs that are not plain files', () => {
  it('a shard symlink out of the model folder is refused; one inside is followed', () => {
    const dir = fresh();
    writeTfjsModel(model(1), dir);
    const outside = join(root, 'secret.bin');
    writeFileSync(outside, readFileSync(join(dir, 'group1-shard1of1.bin')));
    rmSync(join(dir, 'group1-shard1of1.bin'));
    symlinkSync(outside, join(dir, 'group1-shard1of1.bin'));
    const e = errOf(() => readTfjsModel(dir));
    expect(e.code).toBe('E_GRAPH_FORMAT');
    expect(e.message).toMatch(/weight shard "group1-shard1of1\.bin" is a link to .*secret\.bin, outside the model folder; refused/);
    rmSync(join(dir, 'group1-shard1of1.bin'));
    writeFileSync(join(dir, 'real.bin'), readFileSync(outside));
    symlinkSync('real.bin', join(dir, 'group1-shard1of1.bin'));
    expect(weights(dir)).toEqual(new Set([1]));
  });

  it('manifest paths "" and "." (the folder itself) are format errors, not EISDIR crashes', () => {
    for (const p of ['', '.']) {
      const dir = fresh();
      writeTfjsModel(model(1), dir);
      const mj = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      mj.weightsManifest[0].paths = [p];
      writeFileSync(join(dir, 'model.json'), JSON.stringify(mj));
      const e = errOf(() => readTfjsModel(dir));
      expect(e.code, JSON.stringify(p)).toBe('E_GRAPH_FORMAT');
      expect(e.message).toMatch(/is a folder/);
    }
    expect(errOf(() => readTfjsModel('')).code).toBe('E_FILE');
  });

  it('an output folder that cannot be created is E_FILE naming it; nothing else is touched', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'file'), 'x');
    const e = errOf(() => writeTfjsModel(model(1), join(dir, 'file', 'sub')));
    expect(e.code).toBe('E_FILE');
    expect(e.message).toMatch(/file\/sub: cannot create the TF.js output folder: (ENOTDIR|EEXIST)/);
    if (process.getuid?.() !== 0) {
      chmodSync(dir, 0o500);
      expect(errOf(() => writeTfjsModel(model(1), join(dir, 'ro'))).code).toBe('E_FILE');
      chmodSync(dir, 0o700);
    }
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('a graph with a dangling input or a Const of an unknown dtype is refused before anything is written', () => {
    const g = model(1);
    g.removeNode('w');
    const out = join(root, 'never');
    expect(errOf(() => writeTfjsModel(g, out)).message).toMatch(/input 'w' refers to a node that does not exist; .*never was not written/);
    const g2 = model(1);
    (g2.node('w').attrs.raw()['value'] as unknown as { value: { value: { dtype: number } } }).value.value.dtype = 99;
    const e = errOf(() => writeTfjsModel(g2, out));
    expect(e.code).toBe('E_GRAPH_FORMAT');
    expect(e.message).toMatch(/node 'w', attr 'value': tensor has dtype enum 99/);
    expect(existsSync(out)).toBe(false);
  });
});
