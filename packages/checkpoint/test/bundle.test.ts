import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError, Tensor } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { copyCheckpoint, crc32c, decodeSliceKey, encodeSliceKey, maskCrc, readCheckpoint, resolveCheckpoint, unmaskCrc, writeCheckpoint } from '../src/index.js';
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
        console.log('snappy identical:', readFileSync(`${dst}_snappy.index`).equals(readFileSync(`${join(M!, rel)}.index`)));
      }
    });
  }
});
