/**
 * Fuzz the checkpoint reader: `.index` (SSTable of BundleEntryProtos) and `.data` shards in a
 * temp folder. Most index mutations would stop at the block checksum, so half of them have
 * their block CRCs recomputed afterwards: those reach the entry decoding and tensor reads.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '@tfpass/core';
import { crc32c, maskCrc, readCheckpoint, writeCheckpoint } from '@tfpass/checkpoint';
import { modelsDir } from '@tfpass/core/testing';
import { GiB, applyMutation, expectClean, fuzzParams, mutationArb, printTally, readVarint as varint } from './helpers.js';

afterAll(printTally);

/** Rewrite each reachable block's trailer CRC so mutations inside blocks get past the checksum. */
function fixCrcs(b: Uint8Array): Uint8Array {
  const out = b.slice();
  if (out.length < 48) return out;
  const fix = (off: number, size: number): boolean => {
    if (off + size + 5 > out.length) return false;
    const crc = maskCrc(crc32c(out.subarray(off, off + size + 1)));
    new DataView(out.buffer, out.byteOffset + off + size + 1, 4).setUint32(0, crc, true);
    return true;
  };
  const fo = out.length - 48;
  const m = varint(out, fo, out.length - 8);
  const ms = m && varint(out, m[1], out.length - 8);
  const i = ms && varint(out, ms[1], out.length - 8);
  const is = i && varint(out, i[1], out.length - 8);
  if (!m || !ms || !i || !is) return out;
  fix(m[0], ms[0]);
  if (!fix(i[0], is[0])) return out;
  // Index block entries: key shared/unshared/value lengths, then a BlockHandle value.
  const blk = out.subarray(i[0], i[0] + is[0]);
  if (blk.length < 4) return out;
  const n = new DataView(blk.buffer, blk.byteOffset, blk.byteLength).getUint32(blk.length - 4, true);
  const limit = blk.length - 4 - 4 * n;
  let pos = 0;
  while (pos < limit) {
    const s = varint(blk, pos, limit);
    const u = s && varint(blk, s[1], limit);
    const v = u && varint(blk, u[1], limit);
    if (!s || !u || !v) break;
    const vs = v[1] + u[0];
    const o = varint(blk, vs, vs + v[0]);
    const sz = o && varint(blk, o[1], vs + v[0]);
    if (o && sz) fix(o[0], sz[0]);
    pos = vs + v[0];
  }
  return out;
}

interface Bundle { name: string; index: Uint8Array; data: Uint8Array[]; prefix: string }

describe('readCheckpoint on mutated bundles', () => {
  let dir: string;
  const bundles: Bundle[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tfpass-fuzz-ckpt-'));
    mkdirSync(join(dir, 'gen'));
    const gen = join(dir, 'gen', 'model');
    const w = writeCheckpoint(gen, {
      'conv/weights': Tensor.fromValues('float32', [2, 2, 1, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
      'global_step': Tensor.fromValues('int64', [], [42]),
      'names': Tensor.fromValues('string', [2], ['a', 'bcd']),
      'sliced': { dtype: 'float32', shape: [4], slices: [{ extents: [{ start: 0, length: 2 }], tensor: Tensor.fromValues('float32', [2], [1, 2]) }, { extents: [{ start: 2, length: 2 }], tensor: Tensor.fromValues('float32', [2], [3, 4]) }] },
    });
    const rd = (p: string) => new Uint8Array(readFileSync(p));
    bundles.push({ name: 'generated', prefix: gen, index: rd(w.indexFile), data: w.dataFiles.map(rd) });
    const md = modelsDir();
    if (md) {
      for (const [name, prefix] of [
        ['tf2onnx', 'tf2onnx-regression/checkpoint/model'],
        ['autoencoder', 'mltf2ed-autoencoder-ckpt/model.ckpt'],
        ['half-plus-two (snappy index)', 'tf-serving-half-plus-two/variables/variables'],
      ] as const) {
        const p = join(md, prefix);
        bundles.push({ name, prefix: p, index: rd(`${p}.index`), data: [rd(`${p}.data-00000-of-00001`)] });
      }
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the seeds read completely', () => {
    for (const b of bundles) {
      const c = readCheckpoint(b.prefix);
      expect(c.readAll().size, b.name).toBeGreaterThan(0);
    }
  });

  it('every mutated index or data file reads or fails with a typed error, without big allocations', () => {
    let k = 0;
    fc.assert(
      fc.property(
        fc.nat(),
        fc.constantFrom('index', 'index+crc', 'index+crc', 'data'),
        fc.array(mutationArb, { minLength: 1, maxLength: 2 }),
        (bi, where, muts) => {
          const b = bundles[bi % bundles.length]!;
          const sub = join(dir, `run${k++ % 16}`);
          rmSync(sub, { recursive: true, force: true });
          mkdirSync(sub, { recursive: true });
          const prefix = join(sub, 'model');
          let index = b.index;
          let data = b.data[0]!;
          if (where === 'data') for (const m of muts) data = applyMutation(data, m);
          else if (where === 'index') for (const m of muts) index = applyMutation(index, m);
          else {
            // Length-preserving edits of the blocks only (footer kept, offsets valid), then
            // fresh CRCs: these reach the entry protos, shapes, offsets and sizes.
            let body: Uint8Array = index.subarray(0, index.length - 48);
            for (const m of muts) body = applyMutation(body, m.kind === 'flip' || m.kind === 'random' ? m : { kind: 'flip', bits: [m.kind === 'truncate' ? m.at : m.kind === 'length' ? m.field * 8 + (m.value % 8) : m.from] });
            const out = new Uint8Array(index.length);
            out.set(body);
            out.set(index.subarray(index.length - 48), body.length);
            index = fixCrcs(out);
          }
          writeFileSync(`${prefix}.index`, index);
          writeFileSync(`${prefix}.data-00000-of-00001`, data);
          const before = process.memoryUsage().arrayBuffers;
          expectClean(`readCheckpoint(${where === 'data' ? 'data' : 'index'})`, where === 'data' ? data : index, () => {
            const c = readCheckpoint(prefix);
            try {
              for (const name of c.entries.keys()) c.read(name);
            } finally {
              c.close();
            }
          });
          const grew = process.memoryUsage().arrayBuffers - before;
          const huge = muts.some((m) => m.kind === 'length' && m.value >= GiB);
          if (grew > 256 * 2 ** 20) throw new Error(`readCheckpoint allocated ${(grew / 2 ** 20).toFixed(0)} MiB on a ${index.length}-byte index${huge ? ' with a huge length' : ''}`);
        },
      ),
      fuzzParams(500, 9101),
    );
  });

  it('a checkpoint state file, a missing shard and a directory are typed errors', () => {
    const sub = join(dir, 'state');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'checkpoint'), 'model_checkpoint_path: "nowhere"\n');
    expectClean('readCheckpoint(paths)', 'state', () => readCheckpoint(sub));
    writeFileSync(join(sub, 'checkpoint'), '\u0000\u00ff garbage');
    expectClean('readCheckpoint(paths)', 'garbage state', () => readCheckpoint(sub));
    const b = bundles[0]!;
    copyFileSync(`${b.prefix}.index`, join(sub, 'only.index'));
    expect(() => readCheckpoint(join(sub, 'only')).readAll()).toThrow(/cannot open checkpoint data file/);
  });
});
