/**
 * Issue 21 through the built CLI (run `npm run build` first, as for isolation.test.ts): huge
 * splat Consts, huge --input shapes, corrupt checkpoints and hung plugin passes end in one typed
 * line and the right exit status, with the process's peak RSS far below the declared sizes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Graph, Tensor, writeGraph } from '@tfpass/core';
import { BundleEntryProtoSchema, DataType, TensorProtoSchema } from '@tfpass/core/proto';
import { TableBuilder, readTable, writeCheckpoint } from '@tfpass/checkpoint';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'packages/cli/dist/bin.js');
const dir = mkdtempSync(join(tmpdir(), 'tfpass-cli-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the CLI; stderr, exit status and the whole process's peak RSS (worker included). */
function cli(...args: string[]): { status: number | null; stderr: string; stdout: string; rssMiB: number } {
  const wrap = join(dir, 'wrap.mjs');
  if (!existsSync(wrap)) {
    writeFileSync(wrap, `import { writeSync } from 'node:fs';\nprocess.on('exit', () => writeSync(2, '\\nMAXRSS_KB ' + process.resourceUsage().maxRSS + '\\n'));\nprocess.argv.splice(1, 1);\nawait import(${JSON.stringify(BIN)});\n`);
  }
  const r = spawnSync(process.execPath, [wrap, BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TFPASS_PROGRESS: '0' } });
  const kb = Number(/MAXRSS_KB (\d+)/.exec(r.stderr)?.[1] ?? NaN);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\n?MAXRSS_KB \d+\n?/, '').trim(), rssMiB: kb / 1024 };
}

let huge: string;
beforeAll(() => {
  // y = x * (huge + 1), where huge declares 2^32 float32 elements (16 GiB) in one splat value.
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [-1] } } });
  g.addNode({ name: 'huge', op: 'Const', attrs: { dtype: { type: 'float32' } } });
  const p = create(TensorProtoSchema, { dtype: DataType.DT_FLOAT, tensorShape: { dim: [{ size: 2n ** 32n }] }, floatVal: [1.5] });
  g.node('huge').attrs.raw()['value'] = { $typeName: 'tensorflow.AttrValue', value: { case: 'tensor', value: p } } as never;
  g.addNode({ name: 'one', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [], [1]) } } });
  g.addNode({ name: 'h1', op: 'Add', inputs: ['huge', 'one'], attrs: { T: { type: 'float32' } } });
  g.addNode({ name: 'y', op: 'Mul', inputs: ['x', 'h1'], attrs: { T: { type: 'float32' } } });
  huge = join(dir, 'huge.pb');
  writeGraph(g, huge);
});

describe('the CLI on oversized and corrupt inputs (needs the build)', () => {
  test('summarize and transform of a 16 GiB splat Const stay small; run and convert refuse it with E_LIMIT', () => {
    const s = cli('summarize', `--in_graph=${huge}`);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/4,294,967,29\d/);
    const t = cli('transform', `--in_graph=${huge}`, `--out_graph=${join(dir, 'out.pb')}`, '--outputs=y', '--transforms=fold_constants');
    expect(t.status, t.stderr).toBe(0);
    for (const args of [['run', huge, '--outputs=y', '--input', 'x=3'], ['convert', huge, join(dir, 'tfjs', 'model.json')]]) {
      const r = cli(...args);
      expect(r.status, r.stderr).toBe(14);
      expect(r.stderr).toMatch(/^tfpass: error\[E_LIMIT\]: node 'huge', attr 'value': a tensor of 4294967296 float32 elements \(16\.0 GiB\) exceeds the tensor size limit of 2\.0 GiB; raise it with --max_tensor_bytes/);
      expect(r.stderr.split('\n')).toHaveLength(1);
    }
    for (const r of [s, t]) expect(r.rssMiB).toBeLessThan(1024);
    expect(existsSync(join(dir, 'tfjs', 'model.json'))).toBe(false);
  });

  test('--input X=100000,100000 is refused before drawing 40 GB; --max_tensor_bytes must be a size', () => {
    const r = cli('run', huge, '--outputs=y', '--input', 'x=100000,100000');
    expect(r.status).toBe(14);
    expect(r.stderr).toMatch(/--input x=100000,100000: a tensor of 10000000000 float32 elements/);
    expect(r.rssMiB).toBeLessThan(1024);
    const bad = cli('run', huge, '--outputs=y', '--input', 'x=3', '--max_tensor_bytes=lots');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--max_tensor_bytes: 'lots' is not a byte size/);
  });

  test('ckpt ls of a checkpoint whose entry is DT_INVALID says so and exits 12', () => {
    const sub = join(dir, 'ck');
    mkdirSync(sub);
    const w = writeCheckpoint(join(sub, 'model'), { w: Tensor.fromValues('float32', [2], [1, 2]) });
    const table = readTable(new Uint8Array(readFileSync(w.indexFile)), w.indexFile);
    const tb = new TableBuilder();
    for (const { key, value } of table.entries) {
      if (key.length === 0) tb.add(key, value);
      else {
        const e = fromBinary(BundleEntryProtoSchema, value);
        e.dtype = 0;
        tb.add(key, toBinary(BundleEntryProtoSchema, e));
      }
    }
    writeFileSync(w.indexFile, tb.finish());
    const r = cli('ckpt', 'ls', join(sub, 'model'));
    expect(r.status).toBe(12);
    expect(r.stderr).toMatch(/model\.index: tensor 'w': dtype is DT_INVALID; the checkpoint is corrupt$/);
  });

  test('a plugin pass that never settles, or runs past --pass_timeout, is named (exit 9), nothing written', () => {
    const plug = join(dir, 'plug');
    mkdirSync(plug);
    writeFileSync(join(plug, 'package.json'), JSON.stringify({ name: 'tfpass-stuck', version: '1.0.0', type: 'module', tfpass: { apiVersion: 1, entry: './index.js', passes: [{ name: 'stuck', summary: 's' }, { name: 'slow', summary: 's' }] } }));
    writeFileSync(join(plug, 'index.js'), `export function register(api) {
      api.registerPass({ name: 'stuck', summary: 's', run: () => new Promise(() => {}) });
      api.registerPass({ name: 'slow', summary: 's', run: () => new Promise(() => setInterval(() => {}, 100)) });
    }`);
    const out = join(dir, 'never.pb');
    const stuck = cli('transform', `--in_graph=${huge}`, `--out_graph=${out}`, '--outputs=y', '--transforms=stuck', '--plugin', plug);
    expect(stuck.status).toBe(9);
    expect(stuck.stderr).toMatch(/pass 'stuck' \(tfpass-stuck@1\.0\.0\): its promise never settled/);
    const slow = cli('transform', `--in_graph=${huge}`, `--out_graph=${out}`, '--outputs=y', '--transforms=slow', '--plugin', plug, '--pass_timeout=0.5');
    expect(slow.status).toBe(9);
    expect(slow.stderr).toMatch(/pass 'slow' \(tfpass-stuck@1\.0\.0\): did not finish within 0\.5 s/);
    expect(existsSync(out)).toBe(false);
  });

  test('a plugin whose entry is a link out of its package is refused (exit 10); the outside code never runs', () => {
    const plug = join(dir, 'linked-plug');
    mkdirSync(plug);
    const marker = join(dir, 'outside-ran');
    writeFileSync(join(dir, 'outside.js'), `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(marker)}, 'x'); export function register() {}`);
    writeFileSync(join(plug, 'package.json'), JSON.stringify({ name: 'tfpass-linked', version: '1.0.0', type: 'module', tfpass: { apiVersion: 1, entry: './index.js', passes: [{ name: 'linked', summary: 's' }] } }));
    symlinkSync(join(dir, 'outside.js'), join(plug, 'index.js'));
    const r = cli('transform', `--in_graph=${huge}`, `--out_graph=${join(dir, 'l.pb')}`, '--outputs=y', '--transforms=linked', '--plugin', plug);
    expect(r.status, r.stderr).toBe(10);
    expect(r.stderr).toMatch(/plugin tfpass-linked@1\.0\.0: entry "\.\/index\.js" resolves to .*outside\.js, outside the package folder/);
    expect(existsSync(marker)).toBe(false);
  });
});
