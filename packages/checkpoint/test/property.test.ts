import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '@tfpass/core';
import { readCheckpoint, writeCheckpoint } from '../src/index.js';
import { TableBuilder, readTable } from '../src/table.js';

const tmp = mkdtempSync(join(tmpdir(), 'tfpass-ckprop-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('properties', () => {
  it('any sorted key/value set survives the table at any block size and restart interval', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 120, selector: (k) => Buffer.from(k).toString('hex') }),
        fc.integer({ min: 16, max: 2048 }),
        fc.integer({ min: 1, max: 20 }),
        fc.boolean(),
        (keys, blockSize, restartInterval, snappy) => {
          const sorted = keys.map((k) => Buffer.from(k)).sort(Buffer.compare);
          const tb = new TableBuilder({ blockSize, restartInterval, compression: snappy ? 'snappy' : 'none' });
          const vals = sorted.map((k, i) => Buffer.concat([k, Buffer.from(String(i).repeat(i % 7))]));
          sorted.forEach((k, i) => tb.add(k, vals[i]!));
          const t = readTable(tb.finish(), 'prop');
          expect(t.entries.map((e) => Buffer.from(e.key).toString('hex'))).toEqual(sorted.map((k) => k.toString('hex')));
          expect(t.entries.map((e) => Buffer.from(e.value).toString('hex'))).toEqual(vals.map((v) => v.toString('hex')));
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });

  it('random tensors with random names round-trip through a bundle', () => {
    const dtypes = ['float32', 'int32', 'int8', 'uint16', 'float64', 'bool', 'string'] as const;
    let run = 0;
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }), { minLength: 1, maxLength: 25 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        (names, shape, seed) => {
          const m = new Map<string, Tensor>();
          names.forEach((n, i) => {
            const dt = dtypes[(seed + i) % dtypes.length]!;
            const count = shape.reduce((a, b) => a * b, 1);
            const vals = Array.from({ length: count }, (_, j) => (dt === 'string' ? 'v'.repeat((j + seed) % 5) : ((j * 37 + seed) % 100) - (dt.startsWith('u') || dt === 'bool' ? 0 : 50)));
            m.set(n, Tensor.fromValues(dt, shape, vals));
          });
          const p = join(tmp, `r${run++}`);
          writeCheckpoint(p, m, { blockSize: 64 });
          const c = readCheckpoint(p);
          expect(c.entries.size).toBe(m.size);
          for (const [n, t] of m) {
            const r = c.read(n);
            expect(r.dtype).toBe(t.dtype);
            expect(r.shape).toEqual(t.shape);
            expect(r.data).toEqual(t.data);
          }
          // Data order is insertion order (zero-byte tensors share offsets, so only the others are ordered).
          const stored = (n: string) => c.entries.get(n)!.size > 0;
          expect(c.dataOrder().filter(stored)).toEqual([...m.keys()].filter(stored));
          c.close();
        },
      ),
      { numRuns: 60, seed: 11 },
    );
  });
});
