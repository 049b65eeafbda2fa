import { describe, expect, it } from 'vitest';
import { readGraph } from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { applySites, extractRanges, planQuantization, quantizeEval } from '../src/index.js';

const real = [
  'speech-tiny-conv-qat/tiny_conv.pb',
  'edgetpu-qat-fashion-mlp/frozen_model.pb',
];

describe.each(real)('placement matches contrib create_eval_graph on %s', (rel) => {
  const path = modelPath(rel);
  it.runIf(!!path)('same tensors, same names, same attrs', () => {
    const orig = readGraph(path!);
    const g = readGraph(path!);
    const { ranges, fakeQuants } = extractRanges(g, { strip: true });
    expect(g.nodes().some((n) => n.op.startsWith('FakeQuant'))).toBe(false);
    const sites = planQuantization(g);
    const planned = new Map(sites.map((s) => [s.tensor, s]));
    const missing = [...fakeQuants.keys()].filter((t) => !planned.has(t));
    const extra = sites.map((s) => s.tensor).filter((t) => !fakeQuants.has(t));
    expect({ missing, extra }).toEqual({ missing: [], extra: [] });
    for (const s of sites) expect(`${s.prefix}/FakeQuantWithMinMaxVars`).toBe(fakeQuants.get(s.tensor));
    applySites(g, sites, { kind: 'const', ranges, requireRanges: true });
    for (const fq of fakeQuants.values()) {
      const a = orig.node(fq);
      const b = g.node(fq);
      expect(b.attrs.getBool('narrow_range')).toBe(a.attrs.getBool('narrow_range'));
      expect(b.attrs.getInt('num_bits')).toBe(a.attrs.getInt('num_bits'));
      expect(b.dataInputs[0]).toBe(a.dataInputs[0]);
      // Every consumer of the original fake quant reads the new one.
      expect(g.consumersOf(fq).map((c) => c.node.name).sort()).toEqual(orig.consumersOf(fq).map((c) => c.node.name).filter((n) => g.has(n)).sort());
    }
    g.validate();
  });
  it.runIf(!!path)('quantize_eval with the stripped ranges: same sites, min/max variables initialised to them', () => {
    const g = readGraph(path!);
    const { ranges, fakeQuants } = extractRanges(g, { strip: true });
    const r = quantizeEval(g, { ranges });
    expect(r.sites.map((s) => `${s.prefix}/FakeQuantWithMinMaxVars`).sort()).toEqual([...fakeQuants.values()].sort());
    for (const s of r.sites) {
      const v = g.node(`${s.prefix}/max/Initializer/Const`).attrs.getTensor('value').toNumbers()[0]!;
      expect(v).toBeCloseTo(ranges[s.tensor]!.max as number, 6);
      expect(g.node(`${s.prefix}/FakeQuantWithMinMaxVars`).dataInputs[2]).toBe(`${s.prefix}/max/read`);
    }
    expect(r.model.kind).toBe('meta');
    g.validate();
  });
});
