import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassRegistry, readGraph, registerPlugin, runPipeline } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { freezeRequantizationRanges, parseRequantLog } from '../src/index.js';
import { G } from './helpers.js';

describe('freeze_requantization_ranges', () => {
  it('parses log lines as GTT does, skipping malformed ones', () => {
    const log = [
      'Something irrelevant',
      '[SomePrefix] ;requantization_range_op__print__;__requant_min_max:[-2.4313571][10.584145]',
      '[SomeOtherPrefix] ;other_requantization_range_op__print__;__requant_min_max:[-1.0][2.0]',
      '[Bad] ;bad_op__print__;__requant_min_max:[-1.bad][2.0]',
      'Something else irrelevant',
    ].join('\n');
    expect(parseRequantLog(log)).toEqual([
      { name: 'requantization_range_op', min: -2.4313571, max: 10.584145 },
      { name: 'other_requantization_range_op', min: -1, max: 2 },
    ]);
  });

  it('replaces a RequantizationRange with percentile Consts and rewires its outputs', () => {
    const b = new G();
    b.op('q', 'Placeholder', [], { dtype: { type: 'qint32' } });
    b.op('rr', 'RequantizationRange', ['q', 'q:1', 'q:2'], { Tinput: { type: 'qint32' } });
    b.op('req', 'Requantize', ['q', 'q:1', 'q:2', 'rr', 'rr:1'], { Tinput: { type: 'qint32' }, out_type: { type: 'quint8' } });
    const recs = Array.from({ length: 20 }, (_, i) => ({ name: 'rr', min: -i, max: i }));
    expect(freezeRequantizationRanges(b.g, recs)).toBe(1);
    expect(b.g.has('rr')).toBe(false);
    expect(b.g.node('req').dataInputs.slice(3)).toEqual(['rr/frozen_min', 'rr/frozen_max']);
    // 20 runs, 5%: min index round(1) = 1 of ascending mins (-19..0) -> -18; max index round(19) = 19 -> 19.
    expect(b.g.node('rr/frozen_min').attrs.getTensor('value').toNumbers()).toEqual([-18]);
    expect(b.g.node('rr/frozen_max').attrs.getTensor('value').toNumbers()).toEqual([19]);
    expect(() => freezeRequantizationRanges(b.g, [{ name: 'nope', min: 0, max: 1 }])).toThrow(/aren't present/);
    expect(() => freezeRequantizationRanges(b.g, [])).toThrow(/No min\/max/);
  });

  const path = modelPath('tf-stylize-quantized/stylize_quantized.pb');
  it.runIf(!!path)('freezes all 18 requantization ranges of tf-stylize from a log file', async () => {
    const g = readGraph(path!);
    const rr = g.nodes().filter((n) => n.op === 'RequantizationRange').map((n) => n.name);
    expect(rr.length).toBe(18);
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-frr-'));
    const file = join(dir, 'log.txt');
    writeFileSync(file, rr.flatMap((n) => [1, 2, 3].map((k) => `I0108 21:45:42.261883 1972 logging_ops.cc:79] ;${n}__print__;__requant_min_max:[${-k}][${k * 2}]`)).join('\n'));
    const reg = new PassRegistry();
    await registerPlugin(await import('../src/index.js'), reg);
    const rep = await runPipeline(g, `freeze_requantization_ranges(min_max_log_file="${file}")`, { registry: reg });
    expect(rep[0]!.stats.frozen).toBe(18);
    expect(g.nodes().some((n) => n.op === 'RequantizationRange')).toBe(false);
    await expect(runPipeline(g, 'freeze_requantization_ranges', { registry: reg })).rejects.toThrow(/min_max_log_file/);
  });
});
