import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Graph, Tensor, encodeGraph, type PassDefinition } from '@tfpass/core';
import { feedShapes, runFixture } from '@tfpass/core/testing';

// A pass under development: doubles every float Const.
const double: PassDefinition = {
  name: 'double_consts',
  summary: 'test pass',
  run(g) {
    for (const n of g.nodes()) if (n.op === 'Const') n.attrs.setTensor('value', new Tensor('float32', [2], n.attrs.getTensor('value').toFloat32().map((v) => v * 2)));
  },
};

function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tfpass-fixture-'));
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [2] } } });
  g.addNode({ name: 'c', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: new Tensor('float32', [2], Float32Array.of(1, 2)) } } });
  g.addNode({ name: 'y', op: 'Mul', inputs: ['x', 'c'], attrs: { T: { type: 'float32' } } });
  writeFileSync(join(dir, 'input.pbtxt'), '# outputs: y\n' + encodeGraph(g, 'text'));
  return dir;
}

describe('runFixture', () => {
  it('writes the output in update mode, then compares against it and hands io to the numeric check', async () => {
    const dir = fixture();
    await runFixture(double, 'input.pbtxt', 'output.pbtxt', { dir, update: true });
    expect(readFileSync(join(dir, 'output.pbtxt'), 'utf8')).toMatch(/^# double_consts of input.pbtxt/);
    let seen: unknown;
    const r = await runFixture(double, 'input.pbtxt', 'output.pbtxt', { dir, numeric: (_a, _b, io) => void (seen = io) });
    expect(r.after.node('c').attrs.getTensor('value').toNumbers()).toEqual([2, 4]);
    expect(seen).toEqual({ inputs: [], outputs: ['y'], feeds: { x: [2] } });
  });

  it('fails on a structural difference with the listing diff, and on tensor values beyond the tolerance', async () => {
    const dir = fixture();
    await runFixture(double, 'input.pbtxt', 'output.pbtxt', { dir, update: true });
    const renamed: PassDefinition = { ...double, run: (g, ctx) => void (double.run(g, ctx), g.renameNode('y', 'z')) };
    await expect(runFixture(renamed, 'input.pbtxt', 'output.pbtxt', { dir })).rejects.toThrow(/double_consts on input.pbtxt differs from output.pbtxt/);
    const off: PassDefinition = { ...double, run: (g, ctx) => void (double.run(g, ctx), g.node('c').attrs.setTensor('value', new Tensor('float32', [2], Float32Array.of(2, 4.01)))) };
    await expect(runFixture(off, 'input.pbtxt', 'output.pbtxt', { dir })).rejects.toThrow(/c\.value\[1\]: got 4\.01.*want 4/);
    await expect(runFixture(off, 'input.pbtxt', 'output.pbtxt', { dir, atol: 0.02 })).resolves.toBeDefined();
  });

  it('says how to create a missing output, and refuses a header for another pass', async () => {
    const dir = fixture();
    await expect(runFixture(double, 'input.pbtxt', 'none.pbtxt', { dir, update: false })).rejects.toThrow(/none.pbtxt does not exist: run with TFPASS_UPDATE_FIXTURES=1/);
    writeFileSync(join(dir, 'input.pbtxt'), '# transform: fold_constants\n' + readFileSync(join(dir, 'input.pbtxt'), 'utf8'));
    await expect(runFixture(double, 'input.pbtxt', 'none.pbtxt', { dir })).rejects.toThrow(/is not a double_consts transform/);
  });

  it('feedShapes lists Placeholders with a known shape only', () => {
    const g = new Graph();
    g.addNode({ name: 'a', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 3] } } });
    g.addNode({ name: 'b', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [-1, 3] } } });
    g.addNode({ name: 'c', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
    expect(feedShapes(g)).toEqual({ a: [1, 3] });
  });
});
