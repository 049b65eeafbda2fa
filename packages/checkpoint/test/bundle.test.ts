import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError, Tensor } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { copyCheckpoint, readCheckpointState, updateCheckpointState, crc32c, decodeSliceKey, encodeSliceKey, maskCrc, readCheckpoint, resolveCheckpoint, unmaskCrc, writeCheckpoint } from '../src/index.js';
import { readTable } from '../src/table.js';

const tmp = mkdtempSync(join(tmpdir(), 'tfpass-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('crc32c', () => {
  it('matches the standard check value and masks reversibly', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    for (const c of [0, 1, 0xe3069283, 0xffffffff]) expect(unmaskCrc(maskCrc(c))).toBe(c);
  });
});

const M = modelsDir();
const REAL = [
  'edgetpu-qat-fashion-mlp/checkpoints',
  'mltf2ed-autoencoder-ckpt/model.ckpt',
  'tf-serving-half-plus-two/variables/variables',
  'tf2onnx-regression/checkpoint/model',
  'tf2onnx-regression/saved_model/variables/variables',
];

describe.runIf(M)('real checkpoints', () => {
  for (const rel of REAL) {
    it(`re-writes ${rel} byte for byte`, () => {
      const src = readCheckpoint(join(M!, rel));
      const dst = join(tmp, rel.replace(/\//g, '_'));
      const uncompressed = src.indexCompression.every((c) => c === 'none');
      copyCheckpoint(src, dst);
      expect(readFileSync(`${dst}.data-00000-of-00001`).equals(readFileSync(`${join(M!, rel)}.data-00000-of-00001`))).toBe(true);
      const a = readTable(readFileSync(`${join(M!, rel)}.index`), 'a').entries;
      const b = readTable(readFileSync(`${dst}.index`), 'b').entries;
      expect(b).toEqual(a);
      if (uncompressed) expect(readFileSync(`${dst}.index`).equals(readFileSync(`${join(M!, rel)}.index`))).toBe(true);
      else {
        // Same table written with Snappy blocks, as the source was.
        copyCheckpoint(src, dst + '_snappy', { compression: 'snappy' });
        const c = readCheckpoint(dst + '_snappy');
        expect(c.indexCompression).toEqual(src.indexCompression);
      }
    });
  }
});

describe.runIf(M)('real checkpoint contents', () => {
  it('lists the autoencoder: 4 weights and 8 RMSProp slots', () => {
    const c = readCheckpoint(join(M!, 'mltf2ed-autoencoder-ckpt/model.ckpt'));
    const names = [...c.entries.keys()];
    expect(names.filter((n) => /RMSProp/.test(n))).toHaveLength(8);
    expect(names.filter((n) => !/RMSProp/.test(n))).toEqual(['decode/biases', 'decode/weights', 'encode/biases', 'encode/weights']);
    expect(c.entries.get('encode/weights')!.shape).toEqual([4, 1]);
  });
  it('decodes the Snappy-compressed half_plus_two index', () => {
    const c = readCheckpoint(join(M!, 'tf-serving-half-plus-two/variables/variables'));
    expect(c.indexCompression).toContain('snappy');
    expect(c.read('a').toNumbers()).toEqual([0.5]);
    expect(c.read('b').toNumbers()).toEqual([2]);
  });
  it('resolves a checkpoint state file, its directory and a SavedModel directory', () => {
    expect(resolveCheckpoint(join(M!, 'tf2onnx-regression/checkpoint'))).toBe(join(M!, 'tf2onnx-regression/checkpoint/model'));
    expect(resolveCheckpoint(join(M!, 'edgetpu-qat-fashion-mlp/checkpoint'))).toBe(join(M!, 'edgetpu-qat-fashion-mlp/checkpoints'));
    expect(resolveCheckpoint(join(M!, 'tf-serving-half-plus-two'))).toBe(join(M!, 'tf-serving-half-plus-two/variables/variables'));
    expect(resolveCheckpoint(join(M!, 'tf2onnx-regression/checkpoint/model.index'))).toBe(join(M!, 'tf2onnx-regression/checkpoint/model'));
  });
});

describe('writer and reader', () => {
  const all: Record<string, Tensor> = {
    f32: Tensor.fromValues('float32', [2, 3], [1, -2, 3.5, 4, 5, 6]),
    f64: Tensor.fromValues('float64', [2], [1e300, -0.25]),
    f16: Tensor.fromValues('float16', [3], [1, 0.5, -2]),
    bf16: Tensor.fromValues('bfloat16', [2], [1.5, -3]),
    i8: Tensor.fromValues('int8', [2], [-128, 127]),
    i16: Tensor.fromValues('int16', [2], [-30000, 5]),
    i32: Tensor.fromValues('int32', [], [-7]),
    i64: Tensor.fromValues('int64', [2], [-(2n ** 62n), 5n]),
    u8: Tensor.fromValues('uint8', [2], [0, 255]),
    u16: Tensor.fromValues('uint16', [1], [65535]),
    u32: Tensor.fromValues('uint32', [1], [4294967295]),
    u64: Tensor.fromValues('uint64', [1], [2n ** 64n - 1n]),
    b: Tensor.fromValues('bool', [3], [true, false, true]),
    c64: new Tensor('complex64', [2], Float32Array.of(1, 2, 3, 4)),
    c128: new Tensor('complex128', [1], Float64Array.of(-1, 0.5)),
    s: Tensor.fromValues('string', [3], ['', 'hello', 'x'.repeat(300)]),
    empty_s: Tensor.fromValues('string', [0], []),
    'global_step': Tensor.scalar('int64', 42),
  };
  it('round-trips every dtype, including strings', () => {
    const p = join(tmp, 'all');
    writeCheckpoint(p, all);
    const c = readCheckpoint(p);
    for (const [k, t] of Object.entries(all)) {
      const r = c.read(k);
      expect(r.dtype, k).toBe(t.dtype);
      expect(r.shape, k).toEqual(t.shape);
      expect(r.data, k).toEqual(t.data);
    }
    expect([...c.entries.keys()]).toEqual(Object.keys(all).sort());
  });
  it('reads big-endian bundles by swapping bytes after the CRC check', () => {
    const p = join(tmp, 'be');
    writeCheckpoint(p, all, { bigEndian: true });
    const c = readCheckpoint(p);
    expect(c.header.endianness).toBe('big');
    expect(c.read('f32').data).toEqual(all.f32!.data);
    expect(c.read('i64').data).toEqual(all.i64!.data);
    expect(c.read('c128').data).toEqual(all.c128!.data);
    // The bytes on disk really are big-endian.
    const raw = readFileSync(`${p}.data-00000-of-00001`);
    const e = c.entries.get('i32')!;
    expect(raw.readInt32BE(e.offset)).toBe(-7);
  });
  it('assembles partitioned tensors from slices across shards', () => {
    const full = Tensor.fromValues('float32', [4, 3], Array.from({ length: 12 }, (_, i) => i));
    const p = join(tmp, 'sliced');
    writeCheckpoint(p, {
      w: {
        dtype: 'float32', shape: [4, 3],
        slices: [
          { extents: [{ start: 0, length: 1 }, { start: 0, length: -1 }], tensor: Tensor.fromValues('float32', [1, 3], [0, 1, 2]) },
          { extents: [{ start: 1, length: 3 }, { start: 0, length: -1 }], tensor: Tensor.fromValues('float32', [3, 3], [3, 4, 5, 6, 7, 8, 9, 10, 11]) },
        ],
      },
      s: { dtype: 'string', shape: [2], slices: [
        { extents: [{ start: 1, length: 1 }], tensor: Tensor.fromValues('string', [1], ['b']) },
        { extents: [{ start: 0, length: 1 }], tensor: Tensor.fromValues('string', [1], ['a']) },
      ] },
      v: Tensor.fromValues('int32', [2], [7, 8]),
    }, { numShards: 2, shardOf: (_n, i) => i % 2 });
    expect(readdirSync(tmp).filter((f) => f.startsWith('sliced.data'))).toEqual(['sliced.data-00000-of-00002', 'sliced.data-00001-of-00002']);
    const c = readCheckpoint(p);
    expect([...c.entries.keys()]).toEqual(['s', 'v', 'w']);
    expect(c.entries.get('w')!.slices).toHaveLength(2);
    expect(c.read('w').data).toEqual(full.data);
    expect(c.read('s').data).toEqual(Tensor.fromValues('string', [2], ['a', 'b']).data);
    expect(c.read('v').toNumbers()).toEqual([7, 8]);
  });
  it('encodes signed extents like TF\'s OrderedCode', () => {
    // Key = 00 (number 0), escaped name + 00 01, rank, then (start, length) pairs.
    const hex = (n: number) => Buffer.from(encodeSliceKey('w', [{ start: n, length: -1 }])).toString('hex');
    expect(hex(0)).toBe('00' + '770001' + '0101' + '80' + '7f');
    expect(hex(63)).toBe('00770001' + '0101' + 'bf' + '7f');
    expect(hex(64)).toBe('00770001' + '0101' + 'c040' + '7f');
    expect(hex(-64)).toBe('00770001' + '0101' + '40' + '7f');
    expect(hex(-65)).toBe('00770001' + '0101' + '3fbf' + '7f');
  });

  it('encodes slice keys in increasing order and decodes them back', () => {
    const nums = [-300000, -8193, -65, -64, -1, 0, 1, 63, 64, 8191, 8192, 2 ** 40];
    const keys = nums.map((n) => encodeSliceKey('a\u0000b', [{ start: n, length: -1 }]));
    for (let i = 1; i < keys.length; i++) expect(Buffer.compare(Buffer.from(keys[i - 1]!), Buffer.from(keys[i]!))).toBe(-1);
    keys.forEach((k, i) => expect(decodeSliceKey(k)).toEqual({ name: 'a\u0000b', extents: [{ start: nums[i], length: -1 }] }));
  });
  it('splits a large index into several blocks with separators', () => {
    const p = join(tmp, 'many');
    const m = new Map<string, Tensor>();
    for (let i = 0; i < 300; i++) m.set(`layer_${String(i).padStart(3, '0')}/kernel`, Tensor.scalar('float32', i));
    writeCheckpoint(p, m, { blockSize: 512 });
    const c = readCheckpoint(p);
    expect(c.entries.size).toBe(300);
    expect(c.indexCompression.length).toBeGreaterThan(5);
    expect(c.read('layer_299/kernel').toNumbers()).toEqual([299]);
    // Order of the data file follows insertion order.
    expect(c.dataOrder()[0]).toBe('layer_000/kernel');
  });
  it('names the file and block offset of a corrupt index block', () => {
    const p = join(tmp, 'bad');
    writeCheckpoint(p, { a: Tensor.scalar('float32', 1) });
    const b = readFileSync(`${p}.index`);
    b[3] ^= 0x40;
    writeFileSync(`${p}.index`, b);
    expect(() => readCheckpoint(p)).toThrow(CheckpointError);
    expect(() => readCheckpoint(p)).toThrow(/bad\.index: checksum mismatch in the data block at byte 0/);
  });
  it('detects corrupt tensor bytes', () => {
    const p = join(tmp, 'baddata');
    writeCheckpoint(p, { a: Tensor.fromValues('float32', [2], [1, 2]) });
    const f = `${p}.data-00000-of-00001`;
    const b = readFileSync(f);
    b[1] ^= 1;
    writeFileSync(f, b);
    expect(() => readCheckpoint(p).read('a')).toThrow(/checksum mismatch for tensor 'a'/);
  });
  it('rejects non-index files and missing prefixes with typed errors', () => {
    const d = join(tmp, 'junk');
    mkdirSync(d);
    writeFileSync(join(d, 'x.index'), 'not a table at all, definitely not, no sir, not even close to 48 bytes');
    expect(() => readCheckpoint(join(d, 'x'))).toThrow(/bad table magic/);
    expect(() => readCheckpoint(join(d, 'nope'))).toThrow(CheckpointError);
  });
});

describe('checkpoint state file', () => {
  it('tracks the latest prefix and deletes bundles beyond max_to_keep', () => {
    const d = join(tmp, 'train');
    mkdirSync(d);
    for (const step of [1, 2, 3]) {
      writeCheckpoint(join(d, `model.ckpt-${step}`), { w: Tensor.scalar('float32', step) });
      updateCheckpointState(join(d, `model.ckpt-${step}`), { maxToKeep: 2 });
    }
    expect(readCheckpointState(d)).toEqual({ latest: 'model.ckpt-3', all: ['model.ckpt-2', 'model.ckpt-3'] });
    expect(readFileSync(join(d, 'checkpoint'), 'utf8')).toBe('model_checkpoint_path: "model.ckpt-3"\nall_model_checkpoint_paths: "model.ckpt-2"\nall_model_checkpoint_paths: "model.ckpt-3"\n');
    expect(readdirSync(d).filter((f) => f.startsWith('model.ckpt-1'))).toEqual([]);
    expect(readCheckpoint(d).read('w').toNumbers()).toEqual([3]);
  });
  it('refuses a directory with several bundles and no state file', () => {
    const d = join(tmp, 'two');
    mkdirSync(d);
    writeCheckpoint(join(d, 'a'), { w: Tensor.scalar('float32', 1) });
    writeCheckpoint(join(d, 'b'), { w: Tensor.scalar('float32', 1) });
    expect(() => resolveCheckpoint(d)).toThrow(/several checkpoints \(a, b\)/);
  });
});
