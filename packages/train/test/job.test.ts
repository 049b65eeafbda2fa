import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGraph, Tensor } from '@tfpass/core';
import { writeNpy } from '@tfpass/runtime';
import { readCheckpoint } from '@tfpass/checkpoint';
import { buildDemoModel, demoImages, DEMO_INPUT, DEMO_LOGITS, DEMO_OUTPUT, runQatJob } from '../src/index.js';

describe('runQatJob (tfpass qat)', () => {
  it('trains from .npy files with sparse labels, then freezes a verified deployable graph', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-job-'));
    mkdirSync(join(dir, 'data'));
    const size = 16;
    // 12 examples: generated blob images (values in [0, 1]) and per-pixel class labels from the float model itself.
    const x = demoImages(12, size, 5);
    const per = size * size * 3;
    const files: string[] = [];
    const labels: string[] = [];
    for (let i = 0; i < 12; i++) {
      const f = join(dir, 'data', `x${String(i).padStart(2, '0')}.npy`);
      writeNpy(f, new Tensor('float32', [1, size, size, 3], x.toFloat32().slice(i * per, (i + 1) * per)));
      files.push(f);
      const l = join(dir, 'data', `y${String(i).padStart(2, '0')}.npy`);
      writeNpy(l, Tensor.fromValues('int32', [1, size, size], Array.from({ length: size * size }, (_, k) => (k + i) % 4)));
      labels.push(l);
    }
    const graph = buildDemoModel({ seed: 4, size });
    const r = await runQatJob({
      graph, data: { [DEMO_INPUT]: files }, labels, output: DEMO_LOGITS, keep: [DEMO_OUTPUT], steps: 6, batch: 4, quantDelay: 2, lr: 1e-3,
      checkpointDir: join(dir, 'qat'), checkpointEvery: 3,
    });
    expect(r.result.stepsRun).toBe(6);
    for (const h of r.result.history) expect(Number.isFinite(h.loss)).toBe(true);
    expect(existsSync(r.files.frozen!)).toBe(true);
    const frozen = readGraph(r.files.frozen!);
    expect(frozen.has(DEMO_OUTPUT)).toBe(true);
    expect(frozen.nodes().some((n) => n.op === 'FakeQuantWithMinMaxVars')).toBe(true);
    expect(frozen.nodes().some((n) => /BatchNorm|Variable/.test(n.op))).toBe(false);
    expect(readCheckpoint(join(dir, 'qat')).has('global_step')).toBe(true);
    expect(r.sqnrDb).toBeGreaterThan(10);
    expect(r.missingRanges).toBeLessThanOrEqual(1);
  });
});
