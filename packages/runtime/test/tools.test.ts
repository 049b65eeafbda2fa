import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '@tfpass/core';
import { Rng, compareTensors, decodeNpy, describeSpec, encodeNpy, randomInputs, readNpy, summaryStats, writeNpy } from '../src/index.js';

describe('.npy', () => {
  it('round-trips float32, int64, uint8 and bool tensors through files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-npy-'));
    const ts = [
      Tensor.fromValues('float32', [2, 3], [1.5, -2, 3, 0, 1e-8, 7]),
      Tensor.fromValues('int64', [3], [1, -2, 2 ** 40]),
      Tensor.fromValues('uint8', [2, 2], [0, 1, 254, 255]),
      Tensor.fromValues('bool', [2], [true, false]),
      Tensor.fromValues('float32', [], [42]),
    ];
    ts.forEach((t, i) => {
      const f = join(dir, `t${i}.npy`);
      writeNpy(f, t);
      const r = readNpy(f);
      expect(r.dtype).toBe(t.dtype);
      expect(r.shape).toEqual(t.shape);
      expect(r.toNumbers()).toEqual(t.toNumbers());
    });
    // Header is 64-byte aligned as NumPy writes it.
    const bytes = encodeNpy(ts[0]!);
    const hlen = bytes[8]! | (bytes[9]! << 8);
    expect((10 + hlen) % 64).toBe(0);
  });

  it('reads a NumPy-written v1 file and rejects bad input with the file name', () => {
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
    const body = new Float64Array([0.25, -1, 3]);
    const b = new Uint8Array(10 + padded.length + 24);
    b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length & 255, padded.length >> 8]);
    b.set(new TextEncoder().encode(padded), 10);
    b.set(new Uint8Array(body.buffer), 10 + padded.length);
    const t = decodeNpy(b);
    expect(t.dtype).toBe('float64');
    expect(t.toNumbers()).toEqual([0.25, -1, 3]);
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-npy-bad-'));
    writeFileSync(join(dir, 'bad.npy'), 'hello');
    expect(() => readNpy(join(dir, 'bad.npy'))).toThrow(/bad\.npy: not a \.npy file/);
    expect(() => decodeNpy(b.subarray(0, b.length - 8), 'short.npy')).toThrow(/short\.npy: .npy data has 16 bytes, expected 24/);
  });
});

describe('random inputs and statistics', () => {
  it('are seeded, follow the stated distribution, and summarise NaN/Inf', () => {
    const a = randomInputs({ x: { shape: [20000], dist: 'normal', low: -2, high: 4 }, y: [3], k: { shape: [1000], dtype: 'int32', low: 0, high: 9 } }, 5);
    const b = randomInputs({ y: [3], x: { shape: [20000], dist: 'normal', low: -2, high: 4 }, k: { shape: [1000], dtype: 'int32', low: 0, high: 9 } }, 5);
    expect(a.x!.toNumbers()).toEqual(b.x!.toNumbers());
    const s = summaryStats(a.x!);
    expect(Math.abs(s.mean - 1)).toBeLessThan(0.06);
    expect(Math.abs(s.std - 3)).toBeLessThan(0.06);
    const k = summaryStats(a.k!);
    expect([k.min, k.max, k.dtype]).toEqual([0, 9, 'int32']);
    expect(a.k!.toNumbers().every(Number.isInteger)).toBe(true);
    expect(describeSpec({ shape: [2, 2], dist: 'normal', low: -2, high: 4 })).toBe('float32[2,2] ~ N(1, 3²)');
    const u = summaryStats(randomInputs({ u: [5000] }, 1).u!);
    expect(u.min).toBeGreaterThanOrEqual(-1);
    expect(u.max).toBeLessThan(1);
    const n = summaryStats(Tensor.fromValues('float32', [5], [1, NaN, Infinity, 3, -Infinity]));
    expect(n).toMatchObject({ min: 1, max: 3, mean: 2, std: 1, nan: 1, inf: 2, size: 5 });
    const r1 = new Rng(9);
    const r2 = new Rng(9);
    expect([r1.next(), r1.next()]).toEqual([r2.next(), r2.next()]);
  });

  it('compareTensors applies |a-b| <= atol + rtol*|b| and treats NaN vs number as a mismatch', () => {
    const b = Tensor.fromValues('float32', [4], [1, 100, 0, NaN]);
    const a = Tensor.fromValues('float32', [4], [1.001, 100.05, 0, NaN]);
    const c = compareTensors('o', a, b, 1e-3, 1e-3);
    expect(c.ok).toBe(true);
    expect(c.maxAbsError).toBeCloseTo(0.05, 4);
    const d = compareTensors('o', a, b, 1e-3, 1e-4);
    expect(d.ok).toBe(false);
    expect(d.mismatches).toBe(1);
    expect(d.worst?.index).toBe(1);
    const e = compareTensors('o', Tensor.fromValues('float32', [1], [NaN]), Tensor.fromValues('float32', [1], [1]), 1, 1);
    expect(e.ok).toBe(false);
    expect(compareTensors('o', Tensor.zeros('float32', [2]), Tensor.zeros('float32', [3]), 1, 1).ok).toBe(false);
  });
});
