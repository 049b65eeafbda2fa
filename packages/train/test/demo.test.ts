import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGraph } from '@tfpass/core';
import { readCheckpoint } from '@tfpass/checkpoint';
import { runDemo } from '../src/index.js';

describe('demo', () => {
  it('runs the seed flow end to end and writes every artifact', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tfpass-demo-'));
    const lines: string[] = [];
    const r = await runDemo({ out, steps: 24, quantDelay: 8, size: 16, batch: 2, log: (l) => lines.push(l) });
    for (const f of Object.values(r.files)) expect(existsSync(f), f).toBe(true);
    const deploy = readGraph(r.files.deploy!);
    const ops = deploy.nodes().map((n) => n.op);
    // Deployable: fake-quants with constant ranges, no training or BN ops left.
    expect(ops.filter((o) => o === 'FakeQuantWithMinMaxVars').length).toBeGreaterThan(5);
    for (const o of ops) expect(o).not.toMatch(/BatchNorm|Variable|Assign|Identity|CheckNumerics|Save|Restore/);
    // The checkpoint carries every range the eval graph reads.
    const ck = readCheckpoint(r.files.checkpoint!);
    const meta = readFileSync(r.files.eval!);
    expect(meta.length).toBeGreaterThan(0);
    expect([...ck.entries.keys()].filter((k) => /_quant\/(min|max)$/.test(k)).length).toBeGreaterThan(10);
    // Held-out images: 8-bit graph close to float.
    expect(r.sqnrDb).toBeGreaterThan(15);
    expect(r.agreement).toBeGreaterThan(0.9);
    expect(r.after.params).toBeLessThanOrEqual(r.before.params);
    // Coverage completed beyond contrib: only the instance norm's var + eps (before Rsqrt) is left to the converter.
    const missing = r.findings.filter((f) => f.rule === 'missing-range');
    expect(missing.map((f) => f.consumerOp)).toEqual(['Rsqrt']);
    expect(r.findings.filter((f) => f.rule !== 'missing-range')).toEqual([]);
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['model', 'prepare', 'qat', 'eval', 'freeze', 'pipeline', 'verify', 'quant-check', 'tflite', 'summary']);
    // It ends in an int8 .tflite checked on LiteRT.js against deploy.pb (the instance norm's
    // inner arrays take calibrated ranges; fake-quant ranges are kept).
    console.log(lines.find((l) => l.startsWith('tflite')));
    const t = r.tflite!;
    expect(existsSync(t.file)).toBe(true);
    expect(t.inferenceType).toBe('INT8');
    expect(r.tfliteTried.map((x) => x.type)).toEqual(['INT8']);
    expect(t.agreement).toBeGreaterThan(0.98);
    expect(t.sqnrDb).toBeGreaterThan(20);
    expect(t.lsb!.within1).toBeGreaterThan(0.5);
    expect(readFileSync(r.files.plots!, 'utf8')).toContain('fake-quant ranges over training');
    expect(readFileSync(r.files.loss!, 'utf8')).toContain('<svg');
    expect(readFileSync(r.files.report!, 'utf8')).toContain('| qat |');
  });
});
