import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as lib from '@tfpass/core';
import { makePasses, register } from '../src/index.js';

const fixture = new URL('../fixtures/scoped.pbtxt', import.meta.url);
const load = () => lib.readGraph(new TextEncoder().encode(readFileSync(fixture, 'utf8')), { name: 'scoped.pbtxt' });

async function registry(): Promise<lib.PassRegistry> {
  const r = new lib.PassRegistry();
  await lib.registerPlugin({ register }, r, { packageName: 'tfpass-pass-example', packageVersion: '1.0.0' });
  return r;
}

describe('rename_prefix', () => {
  it('moves a scope and rewrites data, port and control inputs', async () => {
    const g = load();
    const reports = await lib.runPipeline(g, 'rename_prefix(from=model/, to=net/)', { registry: await registry() });
    expect(g.nodes().map((n) => n.name)).toEqual(['input', 'net/w', 'net/matmul', 'net/relu', 'output']);
    expect(g.node('net/matmul').inputs).toEqual(['input', 'net/w']);
    expect(g.node('net/relu').inputs).toEqual(['net/matmul', '^net/w']);
    expect(g.node('output').inputs).toEqual(['net/relu']);
    expect(reports[0]!.stats.renamed).toBe(3);
    expect(reports[0]!.packageName).toBe('tfpass-pass-example');
  });

  it('keeps nodes listed in keep and can drop a prefix', async () => {
    const g = load();
    await lib.runPipeline(g, 'rename_prefix(from=model/, keep=model/w)', { registry: await registry() });
    expect(g.has('model/w')).toBe(true);
    expect(g.has('matmul')).toBe(true);
    expect(g.node('relu').inputs).toEqual(['matmul', '^model/w']);
  });

  it('refuses a clash and leaves the graph unchanged', async () => {
    const g = load();
    const before = lib.encodeGraph(g, 'text');
    await expect(lib.runPipeline(g, 'rename_prefix(from=model/relu, to=output)', { registry: await registry() })).rejects.toThrow(/clashes with an existing node/);
    expect(lib.encodeGraph(g, 'text')).toEqual(before);
  });

  it('requires from= and rejects unknown parameters', async () => {
    const r = await registry();
    await expect(lib.runPipeline(load(), 'rename_prefix', { registry: r })).rejects.toMatchObject({ code: 'E_PARAM' });
    await expect(lib.runPipeline(load(), 'rename_prefix(form=a/)', { registry: r })).rejects.toThrow(/did you mean 'from'/);
  });

  it('manifest lists exactly the passes register() registers', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const defs = makePasses(lib);
    expect(pkg.tfpass.passes.map((p: { name: string }) => p.name)).toEqual(defs.map((d) => d.name));
    expect(pkg.tfpass.passes.map((p: { summary: string }) => p.summary)).toEqual(defs.map((d) => d.summary));
  });
});

describe('rename_prefix numerically', () => {
  it('computes the same outputs, renamed intermediates included', async () => {
    const { expectSameOutputs } = await import('@tfpass/runtime/testing');
    const before = load();
    const after = before.clone();
    await lib.runPipeline(after, 'rename_prefix(from=model/, to=net/)', { registry: await registry() });
    // input ~ U(-1, 1), seed 1..3; renaming must not change a single bit
    const r = await expectSameOutputs(before, after, {
      inputs: { input: [1, 2] },
      outputs: ['output', 'model/matmul'],
      afterOutputs: ['output', 'net/matmul'],
      atol: 0,
      rtol: 0,
      trials: 3,
    });
    expect(r.outputs.map((o) => o.maxAbsError)).toEqual([0, 0]);
  });
});
