/** Writing a bundle the way TF's BundleWriter does, each file staged under a temp name and renamed into place. */
import { closeSync, existsSync, openSync, renameSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  CheckpointError, Tensor, dtypeToEnum, shapeToProto, sweepStaleTemps, tempPathFor,
  type DType, type Shape,
} from '@tfpass/core';
import {
  BundleEntryProtoSchema, BundleHeaderProtoSchema, BundleHeaderProto_Endianness,
  create, toBinary, type BundleEntryProto,
} from '@tfpass/core/proto';
import { maskCrc } from '../crc.js';
import { TableBuilder, compareBytes, type Compression } from '../table.js';
import { encodeSliceKey, type Extent } from '../slice-key.js';
import { dataFileName, indexFileName } from '../names.js';
import { encodeTensorBytes } from './tensor-bytes.js';
import { extentsToProto, formatExtents, sliceTensor } from './slices.js';
import type { Checkpoint } from './read.js';

/** A partitioned tensor to write: the full dtype/shape plus the stored pieces. */
export interface SlicedTensor {
  dtype: DType;
  shape: Shape;
  slices: { extents: Extent[]; tensor: Tensor }[];
}

export interface WriteCheckpointOptions {
  /** Number of data files (default 1). */
  numShards?: number;
  /** Data file of each tensor (default: shard 0). */
  shardOf?: (name: string, index: number) => number;
  /** Index block compression (TF writes none). */
  compression?: Compression;
  /** Index data block size (TF: 262144). */
  blockSize?: number;
  /** Pad each tensor's bytes to a multiple of this (TF's default 1: no padding). */
  dataAlignment?: number;
  /** Write a big-endian bundle (for tests of the byte-swapping reader). */
  bigEndian?: boolean;
}

export interface WrittenCheckpoint {
  prefix: string;
  indexFile: string;
  dataFiles: string[];
  /** Bytes written to data files. */
  dataBytes: number;
}

const enc = new TextEncoder();

/** Data file contents as a list of chunks: tensor bytes are written without being copied together. */
class ChunkList {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  writeTo(path: string): void {
    const fd = openSync(path, 'w', 0o644);
    try {
      for (const c of this.chunks) {
        let off = 0;
        while (off < c.length) off += writeSync(fd, c, off, c.length - off);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

function isSliced(v: Tensor | SlicedTensor): v is SlicedTensor {
  return !(v instanceof Tensor) && Array.isArray((v as SlicedTensor).slices);
}

/**
 * Temp names of core's write path: announced before they are created (so Ctrl-C in the CLI
 * removes them) and swept by the next write into the folder after a kill -9.
 */
function tmpName(path: string): string {
  return tempPathFor(path);
}

/**
 * Write a checkpoint the way TF's BundleWriter does: data in insertion order, index entries in
 * key order, the same table layout — so re-writing a TF checkpoint reproduces its files. Every
 * file is written under a temporary name and renamed into place once complete.
 */
export function writeCheckpoint(
  prefix: string,
  tensors: Map<string, Tensor | SlicedTensor> | Record<string, Tensor | SlicedTensor>,
  opts: WriteCheckpointOptions = {},
): WrittenCheckpoint {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const numShards = opts.numShards ?? 1;
  const align = opts.dataAlignment ?? 1;
  const shards = Array.from({ length: numShards }, () => new ChunkList());
  const index = new Map<string, { key: Uint8Array; value: Uint8Array }>();
  const indexFile = indexFileName(prefix);
  const put = (key: Uint8Array, entry: BundleEntryProto, what: string) => {
    const id = Array.from(key, (b) => b.toString(16).padStart(2, '0')).join('');
    if (index.has(id)) throw new CheckpointError(indexFile, `duplicate tensor '${what}'`);
    index.set(id, { key, value: toBinary(BundleEntryProtoSchema, entry) });
  };
  const addData = (t: Tensor, shard: number): BundleEntryProto => {
    if (shard < 0 || shard >= numShards) throw new CheckpointError(indexFile, `shard ${shard} out of range 0..${numShards - 1}`);
    const w = shards[shard]!;
    const { bytes, crc } = encodeTensorBytes(t, opts.bigEndian);
    const offset = w.length;
    w.push(bytes);
    if (align > 1 && w.length % align) w.push(new Uint8Array(align - (w.length % align)));
    return create(BundleEntryProtoSchema, {
      dtype: dtypeToEnum(t.dtype), shape: shapeToProto(t.shape), shardId: shard,
      offset: BigInt(offset), size: BigInt(bytes.length), crc32c: maskCrc(crc),
    });
  };
  list.forEach(([name, v], i) => {
    if (name === '') throw new CheckpointError(indexFile, 'tensor names must not be empty (the empty key holds the header)');
    const shard = opts.shardOf ? opts.shardOf(name, i) : 0;
    if (!isSliced(v)) {
      put(enc.encode(name), addData(v, shard), name);
      return;
    }
    for (const s of v.slices) {
      if (s.tensor.dtype !== v.dtype) throw new CheckpointError(indexFile, `slice of '${name}' has dtype ${s.tensor.dtype}, expected ${v.dtype}`);
      put(encodeSliceKey(name, s.extents), addData(s.tensor, shard), `${name} slice ${formatExtents(s.extents)}`);
    }
    put(enc.encode(name), create(BundleEntryProtoSchema, {
      dtype: dtypeToEnum(v.dtype), shape: shapeToProto(v.shape), slices: v.slices.map((s) => extentsToProto(s.extents)),
    }), name);
  });
  const header = create(BundleHeaderProtoSchema, {
    numShards,
    endianness: opts.bigEndian ? BundleHeaderProto_Endianness.BIG : BundleHeaderProto_Endianness.LITTLE,
    version: { producer: 1 },
  });
  const tb = new TableBuilder({ compression: opts.compression, blockSize: opts.blockSize });
  tb.add(new Uint8Array(), toBinary(BundleHeaderProtoSchema, header));
  for (const e of [...index.values()].sort((a, b) => compareBytes(a.key, b.key))) tb.add(e.key, e.value);
  const indexBytes = tb.finish();

  const dataFiles = shards.map((_, i) => dataFileName(prefix, i, numShards));
  const staged: [string, string][] = [];
  sweepStaleTemps(dirname(indexFile));
  try {
    shards.forEach((w, i) => {
      const tmp = tmpName(dataFiles[i]!);
      staged.push([tmp, dataFiles[i]!]);
      w.writeTo(tmp);
    });
    const tmp = tmpName(indexFile);
    staged.push([tmp, indexFile]);
    // fsynced like the data files: a rename must never publish bytes that are not on disk.
    const ic = new ChunkList();
    ic.push(indexBytes);
    ic.writeTo(tmp);
    // The index goes last, so a reader never sees an index whose data files are not in place.
    for (const [t, f] of staged) renameSync(t, f);
  } catch (e) {
    for (const [t] of staged) if (existsSync(t)) unlinkSync(t);
    throw new CheckpointError(indexFile, `cannot write checkpoint: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  return { prefix, indexFile, dataFiles, dataBytes: shards.reduce((s, w) => s + w.length, 0) };
}

/** Re-write a checkpoint under a new prefix in its original data order (the byte-identity path). */
export function copyCheckpoint(src: Checkpoint, dstPrefix: string, opts: WriteCheckpointOptions = {}): WrittenCheckpoint {
  const tensors = new Map<string, Tensor | SlicedTensor>();
  const shardOf = new Map<string, number>();
  for (const name of src.dataOrder()) {
    const e = src.entries.get(name)!;
    shardOf.set(name, e.shardId);
    if (e.slices.length) {
      const full = src.read(name);
      tensors.set(name, { dtype: e.dtype, shape: e.shape, slices: e.slices.map((ex) => ({ extents: ex, tensor: sliceTensor(full, ex) })) });
    } else tensors.set(name, src.read(name));
  }
  src.close();
  return writeCheckpoint(dstPrefix, tensors, {
    numShards: src.header.numShards,
    shardOf: (n) => shardOf.get(n) ?? 0,
    bigEndian: src.header.endianness === 'big',
    ...opts,
  });
}
