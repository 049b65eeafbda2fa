import { describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassRegistry, registerPlugin, runPipeline } from '@tfpass/core';
import { writeRanges } from '../src/index.js';
import { G } from './helpers.js';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).tfpass;

describe('plugin registration', () => {
  it('registers exactly the passes of the manifest, usable from a transform string', async () => {
    const reg = new PassRegistry();
    await registerPlugin(await import('../src/index.js'), reg);
    expect(reg.names()).toEqual(manifest.passes.map((p: { name: string }) => p.name).sort());
    const b = new G();
    b.input('x', [1, 8]);
    b.matmul('fc/MatMul', 'x', b.konst('fc/w', [8, 4]));
    b.op('fc/Relu', 'Relu', ['fc/MatMul']);
    b.op('out', 'Softmax', ['fc/Relu']);
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-q-'));
    const file = join(dir, 'r.json');
    writeRanges(file, { 'fc/Relu': { min: 0, max: 3 } }, 'minmax');
    const rep = await runPipeline(b.g, `insert_fake_quant(ranges="${file}")`, { registry: reg });
    expect(rep[0]!.stats.sites).toBe(2);
    expect(b.g.node('fc/act_quant/max').attrs.getTensor('value').toNumbers()).toEqual([3]);
    const w = b.g.node('fc/weights_quant/min').attrs.getTensor('value').toNumbers()[0]!;
    expect(w).toBeLessThan(0);
    await expect(runPipeline(b.g, 'quantize_eval(weight_bits=1)', { registry: reg })).rejects.toThrow(/between 2 and 16/);
    const c = new G();
    c.input('x', [1, 8]);
    c.matmul('fc/MatMul', 'x', c.variable('fc/w', [8, 4]));
    c.op('fc/Relu', 'Relu', ['fc/MatMul']);
    const rep2 = await runPipeline(c.g, 'create_eval_graph', { registry: reg });
    expect(rep2[0]!.stats.sites).toBe(2);
    expect(c.g.node('fc/act_quant/FakeQuantWithMinMaxVars').dataInputs[1]).toBe('fc/act_quant/min/read');
  });

  it('insert_fake_quant fails naming the tensors without a range', async () => {
    const reg = new PassRegistry();
    await registerPlugin(await import('../src/index.js'), reg);
    const b = new G();
    b.input('x', [1, 8]);
    b.matmul('fc/MatMul', 'x', b.konst('fc/w', [8, 4]));
    b.op('fc/Relu', 'Relu', ['fc/MatMul']);
    await expect(runPipeline(b.g, 'insert_fake_quant', { registry: reg })).rejects.toThrow(/fc\/Relu/);
  });
});
