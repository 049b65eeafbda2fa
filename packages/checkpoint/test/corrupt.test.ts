import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Tensor } from '@tfpass/core';
import { BundleEntryProtoSchema, TensorShapeProto_DimSchema, type BundleEntryProto } from '@tfpass/core/proto';
import { TableBuilder, listCheckpoint, readCheckpoint, readTable, writeCheckpoint } from '../src/index.js';

// Corrupt index entries with valid block checksums (issue 21): `ckpt ls` and reads must say what
// is wrong, naming the file and tensor, instead of listing nonsense or crashing.

const dir = mkdtempSync(join(tmpdir(), 'tfpass-ckpt-corrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dim = (size: bigint) => create(TensorShapeProto_DimSchema, { size });
let k = 0;
/** A fresh two-tensor checkpoint whose entry for `w` is edited by `edit` (index rewritten, CRCs valid). */
function corrupt(edit: (e: BundleEntryProto) => void): string {
  const sub = join(dir, `c${k++}`);
  mkdirSync(sub);
  const prefix = join(sub, 'model');
  const w = writeCheckpoint(prefix, { step: Tensor.fromValues('int64', [], [7]), w: Tensor.fromValues('float32', [2, 3], [1, 2, 3, 4, 5, 6]) });
  const table = readTable(new Uint8Array(readFileSync(w.indexFile)), w.indexFile);
  const tb = new TableBuilder();
  for (const { key, value } of table.entries) {
    if (new TextDecoder().decode(key) !== 'w') {
      tb.add(key, value);
      continue;
    }
    const e = fromBinary(BundleEntryProtoSchema, value);
    edit(e);
    tb.add(key, toBinary(BundleEntryProtoSchema, create(BundleEntryProtoSchema, e)));
  }
  writeFileSync(w.indexFile, tb.finish());
  return prefix;
}

describe('corrupt checkpoint entries', () => {
  const cases: [string, (e: BundleEntryProto) => void, RegExp][] = [
    ['DT_INVALID', (e) => void (e.dtype = 0), /tensor 'w': dtype is DT_INVALID/],
    ['an unknown dtype enum', (e) => void (e.dtype = 77), /dtype enum 77 is not/],
    ['shape [-5,2]', (e) => void (e.shape!.dim = [dim(-5n), dim(2n)]), /shape \[-5,2\] has a negative dimension/],
    ['a 9.2-exabyte tensor', (e) => void (e.shape!.dim = [dim(2n ** 62n), dim(2n)]), /declares 9223372036854775808 elements/],
    ['a negative offset', (e) => void (e.offset = -8n), /negative data offset -8/],
    ['a size that does not match the shape', (e) => void (e.size = 4n), /4 bytes stored, expected 24/],
    ['a shard out of range', (e) => void (e.shardId = 3), /shard 3 is outside 0..0/],
    ['bytes past the end of the data file', (e) => void (e.offset = 1000n), /runs past the end of the file/],
  ];
  for (const [what, edit, msg] of cases) {
    test(`${what}: ckpt ls fails with E_CHECKPOINT naming the tensor`, () => {
      const prefix = corrupt(edit);
      let err: (Error & { code?: string }) | undefined;
      try {
        listCheckpoint(prefix);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.code).toBe('E_CHECKPOINT');
      expect(err!.message).toMatch(msg);
      expect(err!.message.split('\n')).toHaveLength(1);
    });
  }

  test('the unedited checkpoint lists and reads (the cases above fail for their edit only)', () => {
    const prefix = corrupt(() => {});
    expect(listCheckpoint(prefix).map((r) => `${r.name}:${r.dtype}:${r.shape}`)).toEqual(['step:int64:', 'w:float32:2,3']);
    expect(Array.from(readCheckpoint(prefix).read('w').toFloat32())).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('a data shard that is a directory is a typed error on ls and read', () => {
    const prefix = corrupt(() => {});
    const data = `${prefix}.data-00000-of-00001`;
    rmSync(data);
    mkdirSync(data);
    expect(() => listCheckpoint(prefix)).toThrow(/data-00000-of-00001: checkpoint data file is a directory/);
    expect(() => readCheckpoint(prefix).read('w')).toThrow(expect.objectContaining({ code: 'E_CHECKPOINT', message: expect.stringMatching(/EISDIR/) }));
  });
});
