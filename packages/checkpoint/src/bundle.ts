/**
 * TensorFlow V2 checkpoints ("tensor bundles"): `<prefix>.index` (a table of BundleEntryProto
 * keyed by tensor name, BundleHeaderProto under the empty key) and `<prefix>.data-NNNNN-of-MMMMM`
 * (raw tensor bytes, appended in the order tensors were added).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, fsyncSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import {
  CheckpointError, Tensor, allocate, dtypeFromEnum, dtypeSize, dtypeToEnum, numElements, shapeFromProto, shapeToProto, sweepStaleTemps, tempPathFor,
  type DType, type Shape, type TensorData,
} from '@tfpass/core';
import {
  BundleEntryProtoSchema, BundleHeaderProtoSchema, BundleHeaderProto_Endianness, DataType, TensorSliceProtoSchema,
  create, fromBinary, toBinary, type BundleEntryProto, type TensorSliceProto,
} from '@tfpass/core/proto';
import { crc32c, maskCrc, unmaskCrc } from './crc.js';
import { ByteWriter, TableBuilder, readTable, readVarint, compareBytes, type Compression } from './table.js';
import { decodeSliceKey, encodeSliceKey, type Extent } from './slice-key.js';
import { dataFileName, indexFileName, parseCheckpointState } from './names.js';

export { dataFileName, indexFileName } from './names.js';

export type { Extent } from './slice-key.js';

export interface CheckpointHeader {
  numShards: number;
  endianness: 'little' | 'big';
  version: { producer: number; minConsumer: number; badConsumers: number[] };
}

export interface CheckpointEntry {
  name: string;
  dtype: DType;
  /** TF's DataType enum value (kept for dtypes tfpass has no host storage for). */
  tfDtype: number;
  shape: Shape;
  shardId: number;
  offset: number;
  size: number;
  /** Masked CRC32C of the stored bytes, as in the index. */
  crc32c: number;
  /** For partitioned tensors: the extents of each stored slice (fields above then describe no bytes). */
  slices: Extent[][];
}

export interface Checkpoint {
  prefix: string;
  header: CheckpointHeader;
  /** Full tensors by name, in key order. */
  entries: Map<string, CheckpointEntry>;
  /** Compression of each index data block ('snappy' for some exported models). */
  indexCompression: Compression[];
  has(name: string): boolean;
  /** Decode one tensor (slices assembled, CRC verified, byte-swapped when the bundle is big-endian). */
  read(name: string): Tensor;
  /** All tensors, in the order their bytes appear in the data files. */
  readAll(): Map<string, Tensor>;
  /** Names ordered by (shard, offset): the order a writer must add them in to reproduce the data files. */
  dataOrder(): string[];
  /** Close data files opened by read() (later reads reopen them). */
  close(): void;
}

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
const dec = new TextDecoder();

// ---- tensor bytes ----------------------------------------------------------------------------

/** Element width used when swapping bytes (complex swaps each component). */
function swapWidth(dtype: DType): number {
  if (dtype === 'complex64') return 4;
  if (dtype === 'complex128') return 8;
  return dtypeSize(dtype);
}

function byteswap(b: Uint8Array, width: number): Uint8Array {
  if (width <= 1) return b;
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i += width) for (let j = 0; j < width; j++) out[i + j] = b[i + width - 1 - j]!;
  return out;
}

function podBytes(t: Tensor): Uint8Array {
  const d = t.data as Exclude<TensorData, Uint8Array[]>;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** Lengths enter the CRC as 4-byte little-endian numbers, or 8 bytes when they do not fit. */
function lengthCrcBytes(len: number): Uint8Array {
  if (len <= 0xffffffff) return u32le(len);
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(len), true);
  return b;
}

/** Serialize a tensor's data region; returns bytes and the (unmasked) CRC TF records for them. */
export function encodeTensorBytes(t: Tensor, bigEndian = false): { bytes: Uint8Array; crc: number } {
  if (t.dtype === 'string') {
    const strs = t.data as Uint8Array[];
    const w = new ByteWriter();
    let crc = 0;
    let first = true;
    const ext = (b: Uint8Array) => {
      crc = first ? crc32c(b) : crc32c(b, crc);
      first = false;
    };
    for (const s of strs) {
      w.varint(s.length);
      ext(lengthCrcBytes(s.length));
    }
    if (first) ext(new Uint8Array());
    const lenCrc = u32le(maskCrc(crc));
    w.bytes(lenCrc);
    ext(lenCrc);
    for (const s of strs) {
      w.bytes(s);
      ext(s);
    }
    return { bytes: w.finish(), crc };
  }
  if (dtypeSize(t.dtype) === 0) throw new CheckpointError('(writer)', `cannot store tensors of dtype ${t.dtype}`);
  const raw = podBytes(t);
  const bytes = bigEndian ? byteswap(raw, swapWidth(t.dtype)) : raw;
  return { bytes, crc: crc32c(bytes) };
}

function decodeStrings(b: Uint8Array, n: number, file: string, name: string): { data: Uint8Array[]; crc: number } {
  const bad = (d: string): never => {
    throw new CheckpointError(file, `string tensor '${name}': ${d}`);
  };
  let pos = 0;
  const lens: number[] = [];
  let crc = 0;
  let first = true;
  const ext = (x: Uint8Array) => {
    crc = first ? crc32c(x) : crc32c(x, crc);
    first = false;
  };
  for (let i = 0; i < n; i++) {
    const v = readVarint(b, pos) ?? bad(`truncated length of element ${i}`);
    lens.push(v[0]);
    ext(lengthCrcBytes(v[0]));
    pos = v[1];
  }
  if (first) ext(new Uint8Array());
  if (pos + 4 > b.length) bad('truncated length checksum');
  const lenCrc = b.subarray(pos, pos + 4);
  const stored = new DataView(b.buffer, b.byteOffset + pos, 4).getUint32(0, true);
  if (unmaskCrc(stored) !== crc) bad('checksum of the element lengths does not match');
  ext(lenCrc);
  pos += 4;
  const data: Uint8Array[] = [];
  for (const l of lens) {
    if (pos + l > b.length) bad('element bytes run past the stored size');
    const s = b.slice(pos, pos + l);
    ext(s);
    data.push(s);
    pos += l;
  }
  return { data, crc };
}

// ---- reading ---------------------------------------------------------------------------------

function extentsFromProto(p: TensorSliceProto, rank: number): Extent[] {
  const out: Extent[] = [];
  for (let i = 0; i < rank; i++) {
    const e = p.extent[i];
    if (!e || e.hasLength.case !== 'length') out.push({ start: 0, length: -1 });
    else out.push({ start: Number(e.start), length: Number(e.hasLength.value) });
  }
  return out;
}

function sliceKeyId(name: string, extents: Extent[]): string {
  return `${name}\u0000${extents.map((e) => `${e.start},${e.length}`).join(':')}`;
}

/**
 * Open a checkpoint by prefix (also accepts a directory or a `checkpoint` state file, resolved
 * to the latest prefix, and a path ending in `.index`). Reads and checks the whole index eagerly;
 * tensor bytes are read on demand.
 */
export function readCheckpoint(prefixOrPath: string): Checkpoint {
  const prefix = resolveCheckpoint(prefixOrPath);
  const indexFile = indexFileName(prefix);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(indexFile);
  } catch (e) {
    throw new CheckpointError(indexFile, `cannot read the checkpoint index: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  const table = readTable(bytes, indexFile);
  const first = table.entries[0];
  if (!first || first.key.length !== 0) throw new CheckpointError(indexFile, 'no header entry (empty key): not a tensor bundle index');
  let hp;
  try {
    hp = fromBinary(BundleHeaderProtoSchema, first.value);
  } catch (e) {
    throw new CheckpointError(indexFile, `corrupt BundleHeaderProto: ${(e as Error).message}`, { cause: e });
  }
  const header: CheckpointHeader = {
    numShards: hp.numShards,
    endianness: hp.endianness === BundleHeaderProto_Endianness.BIG ? 'big' : 'little',
    version: { producer: hp.version?.producer ?? 0, minConsumer: hp.version?.minConsumer ?? 0, badConsumers: [...(hp.version?.badConsumers ?? [])] },
  };
  if (header.version.minConsumer > 1 || header.version.badConsumers.includes(1)) {
    throw new CheckpointError(indexFile, `bundle version ${header.version.producer} needs a reader of version >= ${header.version.minConsumer}; tfpass reads version 1`);
  }
  const entries = new Map<string, CheckpointEntry>();
  const sliceEntries = new Map<string, CheckpointEntry>();
  for (let i = 1; i < table.entries.length; i++) {
    const { key, value } = table.entries[i]!;
    let p: BundleEntryProto;
    try {
      p = fromBinary(BundleEntryProtoSchema, value);
    } catch (e) {
      throw new CheckpointError(indexFile, `corrupt BundleEntryProto for key '${dec.decode(key)}': ${(e as Error).message}`, { cause: e });
    }
    const sk = decodeSliceKey(key);
    const label = sk ? `${sk.name} (slice ${formatExtents(sk.extents)})` : dec.decode(key);
    const bad = entryProblem(p, header.numShards);
    if (bad) throw new CheckpointError(indexFile, `tensor '${label}': ${bad}; the checkpoint is corrupt`);
    const shape = shapeFromProto(p.shape) ?? [];
    const entry: CheckpointEntry = {
      name: sk ? sk.name : dec.decode(key),
      dtype: dtypeFromEnum(p.dtype),
      tfDtype: p.dtype,
      shape,
      shardId: p.shardId,
      offset: Number(p.offset),
      size: Number(p.size),
      crc32c: p.crc32c >>> 0,
      slices: p.slices.map((s) => extentsFromProto(s, shape.length)),
    };
    if (sk) sliceEntries.set(sliceKeyId(sk.name, sk.extents), entry);
    else entries.set(entry.name, entry);
  }
  return new BundleReader(prefix, header, entries, sliceEntries, table.blockCompression);
}

/**
 * What is wrong with an index entry on its own (no data file read): dtype DT_INVALID or unknown,
 * unknown rank or negative dims, element counts or byte sizes beyond what any file can hold,
 * negative offsets, a shard outside the header's range, a POD size that does not match the shape.
 */
function entryProblem(p: BundleEntryProto, numShards: number): string | undefined {
  const dtype = dtypeFromEnum(p.dtype);
  if (p.dtype === 0) return 'dtype is DT_INVALID';
  if (dtype === 'invalid') return `dtype enum ${p.dtype} is not a TensorFlow DataType`;
  if (p.shape?.unknownRank) return 'shape has unknown rank';
  const dims = (p.shape?.dim ?? []).map((d) => d.size);
  if (dims.some((d) => d < 0n)) return `shape [${dims.join(',')}] has a negative dimension`;
  const n = dims.reduce((a, b) => a * b, 1n);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return `shape [${dims.join(',')}] declares ${n} elements, more than any file can hold`;
  if (p.offset < 0n) return `negative data offset ${p.offset}`;
  if (p.size < 0n) return `negative byte size ${p.size}`;
  if (p.offset + p.size > BigInt(Number.MAX_SAFE_INTEGER)) return `bytes ${p.offset}..${p.offset + p.size} lie beyond any file`;
  if (p.shardId < 0 || p.shardId >= Math.max(1, numShards)) return `shard ${p.shardId} is outside 0..${Math.max(1, numShards) - 1}`;
  const pod = BigInt(dtypeSize(dtype));
  // A partitioned tensor's full entry lists slices and stores nothing itself.
  if (p.slices.length === 0 && pod > 0n && p.size !== n * pod) return `${p.size} bytes stored, expected ${n * pod} for shape [${dims.join(',')}] ${dtype}`;
  // Each stored string needs at least one byte (its length varint).
  if (p.slices.length === 0 && dtype === 'string' && n > p.size) return `${n} strings declared in ${p.size} bytes`;
  return undefined;
}

class BundleReader implements Checkpoint {
  private readonly fds = new Map<number, { fd: number; size: number; file: string }>();

  constructor(
    readonly prefix: string,
    readonly header: CheckpointHeader,
    readonly entries: Map<string, CheckpointEntry>,
    private readonly sliceEntries: Map<string, CheckpointEntry>,
    readonly indexCompression: Compression[],
  ) {}

  has(name: string): boolean {
    return this.entries.has(name);
  }

  dataOrder(): string[] {
    return [...this.entries.values()]
      .filter((e) => e.slices.length === 0)
      .sort((a, b) => a.shardId - b.shardId || a.offset - b.offset)
      .map((e) => e.name)
      .concat([...this.entries.values()].filter((e) => e.slices.length > 0).map((e) => e.name));
  }

  readAll(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    try {
      for (const n of this.dataOrder()) out.set(n, this.read(n));
    } finally {
      this.close();
    }
    return out;
  }

  read(name: string): Tensor {
    const e = this.entries.get(name);
    if (!e) throw new CheckpointError(indexFileName(this.prefix), `no tensor named '${name}' in the checkpoint`);
    if (e.slices.length === 0) return this.readEntry(e);
    const where = indexFileName(this.prefix);
    if (e.dtype !== 'string' && dtypeSize(e.dtype) === 0) {
      throw new CheckpointError(where, `tensor '${name}' has dtype ${DataType[e.tfDtype] ?? e.tfDtype}, which tfpass cannot decode`);
    }
    // Slices are read (and checked against the data files) before the full tensor is
    // allocated, so a corrupt index cannot make us allocate a huge tensor from tiny files.
    const parts: [Extent[], Tensor][] = [];
    let covered = 0;
    for (const extents of e.slices) {
      const se = this.sliceEntries.get(sliceKeyId(name, extents));
      if (!se) throw new CheckpointError(where, `tensor '${name}': slice ${formatExtents(extents)} is listed but has no entry`);
      const lens = extents.map((x, d) => (x.length < 0 ? e.shape[d]! : x.length));
      if (extents.length !== e.shape.length || extents.some((x, d) => x.length >= 0 && (x.start < 0 || x.start + x.length > e.shape[d]!))) {
        throw new CheckpointError(where, `tensor '${name}': slice ${formatExtents(extents)} does not fit its shape [${e.shape.join(',')}]`);
      }
      const part = this.readEntry(se);
      if (part.dtype !== e.dtype || part.size !== numElements(lens)) {
        throw new CheckpointError(where, `tensor '${name}': slice ${formatExtents(extents)} stores ${part.dtype}[${part.shape.join(',')}], expected ${e.dtype} with ${numElements(lens)} elements`);
      }
      covered += part.size;
      parts.push([extents, part]);
    }
    if (covered < numElements(e.shape)) throw new CheckpointError(where, `tensor '${name}': its slices cover ${covered} of ${numElements(e.shape)} elements`);
    const full = e.dtype === 'string' ? Tensor.zeros('string', e.shape) : new Tensor(e.dtype, [...e.shape], allocate(e.dtype, numElements(e.shape)));
    for (const [extents, part] of parts) copySlice(full, extents, part);
    return full;
  }

  private shard(id: number): { fd: number; size: number; file: string } {
    let s = this.fds.get(id);
    if (!s) {
      const file = dataFileName(this.prefix, id, this.header.numShards);
      let fd: number | undefined;
      try {
        fd = openSync(file, 'r');
        const st = fstatSync(fd);
        if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: st.isDirectory() ? 'EISDIR: is a directory, not a data file' : 'not a regular file' });
        s = { fd, size: st.size, file };
      } catch (e) {
        if (fd !== undefined) closeSync(fd);
        throw new CheckpointError(file, `cannot open checkpoint data file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
      }
      this.fds.set(id, s);
    }
    return s;
  }

  /** Close data files opened by read(); later reads reopen them. */
  close(): void {
    for (const s of this.fds.values()) closeSync(s.fd);
    this.fds.clear();
  }

  private readEntry(e: CheckpointEntry): Tensor {
    const where = indexFileName(this.prefix);
    if (e.shardId < 0 || e.shardId >= this.header.numShards) throw new CheckpointError(where, `tensor '${e.name}' is in shard ${e.shardId} of ${this.header.numShards}`);
    const n = numElements(e.shape);
    const pod = dtypeSize(e.dtype);
    if (e.dtype !== 'string' && pod === 0) {
      throw new CheckpointError(where, `tensor '${e.name}' has dtype ${DataType[e.tfDtype] ?? e.tfDtype}, which tfpass cannot decode`);
    }
    if (pod && e.size !== n * pod) {
      throw new CheckpointError(where, `tensor '${e.name}': ${e.size} bytes stored, expected ${n * pod} for shape [${e.shape.join(',')}] ${e.dtype}`);
    }
    const s = this.shard(e.shardId);
    if (e.offset + e.size > s.size) throw new CheckpointError(s.file, `tensor '${e.name}' (bytes ${e.offset}..${e.offset + e.size}) runs past the end of the file (${s.size} bytes)`);
    // POD bytes land directly in the tensor's storage (no intermediate copy).
    const store = e.dtype === 'string' ? undefined : allocate(e.dtype, n);
    const buf = store ? new Uint8Array(store.buffer, store.byteOffset, store.byteLength) : new Uint8Array(e.size);
    let got = 0;
    while (got < e.size) {
      let r: number;
      try {
        r = readSync(s.fd, buf, got, e.size - got, e.offset + got);
      } catch (err) {
        throw new CheckpointError(s.file, `cannot read tensor '${e.name}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
      if (r <= 0) break;
      got += r;
    }
    if (got < e.size) throw new CheckpointError(s.file, `tensor '${e.name}': only ${got} of ${e.size} bytes could be read`);
    if (e.dtype === 'string') {
      const { data, crc } = decodeStrings(buf, n, s.file, e.name);
      if (crc !== unmaskCrc(e.crc32c)) throw new CheckpointError(s.file, `checksum mismatch for tensor '${e.name}' at byte ${e.offset}`);
      return new Tensor('string', [...e.shape], data);
    }
    if (crc32c(buf) !== unmaskCrc(e.crc32c)) throw new CheckpointError(s.file, `checksum mismatch for tensor '${e.name}' at byte ${e.offset}`);
    if (this.header.endianness === 'big') buf.set(byteswap(buf, swapWidth(e.dtype)));
    return new Tensor(e.dtype, [...e.shape], store!);
  }
}

export function formatExtents(ex: Extent[]): string {
  return ex.map((e) => (e.length < 0 ? '-' : `${e.start},${e.length}`)).join(':');
}

/**
 * Walk the region of `shape` that `extents` select, in row-major order: `visit(k, off, width)`
 * gets the region-local element index and the element's offset in the full tensor.
 */
function walkSlice(shape: number[], extents: Extent[], width: number, visit: (k: number, off: number) => void): number[] {
  const rank = shape.length;
  const starts = extents.map((e) => (e.length < 0 ? 0 : e.start));
  const lens = extents.map((e, i) => (e.length < 0 ? shape[i]! : e.length));
  const strides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  const total = numElements(lens);
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < total; k++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += (starts[d]! + idx[d]!) * strides[d]!;
    for (let c = 0; c < width; c++) visit(k * width + c, off * width + c);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < lens[d]!) break;
      idx[d] = 0;
    }
  }
  return lens;
}

function complexWidth(t: Tensor): number {
  return t.dtype === 'complex64' || t.dtype === 'complex128' ? 2 : 1;
}

/** Copy `part` into `full` at the given extents (generic N-d strided copy). */
function copySlice(full: Tensor, extents: Extent[], part: Tensor): void {
  const src = part.data as unknown as { [i: number]: unknown };
  const dst = full.data as unknown as { [i: number]: unknown };
  walkSlice(full.shape, extents, complexWidth(full), (k, off) => {
    dst[off] = src[k];
  });
}

/** Cut the extents' region out of a full tensor (used to write partitioned tensors). */
export function sliceTensor(full: Tensor, extents: Extent[]): Tensor {
  const lens = extents.map((e, i) => (e.length < 0 ? full.shape[i]! : e.length));
  const total = numElements(lens);
  const out = full.dtype === 'string' ? Tensor.zeros('string', lens) : new Tensor(full.dtype, lens, allocate(full.dtype, total));
  const src = full.data as unknown as { [i: number]: unknown };
  const dst = out.data as unknown as { [i: number]: unknown };
  walkSlice(full.shape, extents, complexWidth(full), (k, off) => {
    dst[k] = src[off];
  });
  return out;
}

// ---- writing ---------------------------------------------------------------------------------

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

function extentsToProto(ex: Extent[]): TensorSliceProto {
  return create(TensorSliceProtoSchema, {
    extent: ex.map((e) => (e.length < 0 ? {} : { start: BigInt(e.start), hasLength: { case: 'length' as const, value: BigInt(e.length) } })),
  });
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

// ---- resolving prefixes ----------------------------------------------------------------------

/**
 * Turn what a user typed into a checkpoint prefix: a prefix as-is; `x.index` / `x.data-…` ->
 * `x`; a directory or a `checkpoint` state file -> its `model_checkpoint_path` (relative paths
 * resolved against the state file's folder); a directory without state file -> its only bundle.
 */
export function resolveCheckpoint(path: string): string {
  const m = /^(.*)\.(index|data-\d{5}-of-\d{5})$/.exec(path);
  if (m && existsSync(path)) return m[1]!;
  if (existsSync(indexFileName(path))) return path;
  if (!existsSync(path)) {
    throw new CheckpointError(path, `no checkpoint here: neither ${basename(path)}.index nor a directory or 'checkpoint' state file exists`);
  }
  const isDir = statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const state = isDir ? join(path, 'checkpoint') : path;
  if (existsSync(state)) {
    const text = readFileSync(state, 'utf8');
    if (/model_checkpoint_path:/.test(text)) {
      const p = parseCheckpointState(text, state).latest;
      const abs = isAbsolute(p) ? p : join(dir, p);
      if (existsSync(indexFileName(abs))) return abs;
      // A checkpoint folder that was moved keeps the absolute paths of its old place.
      const local = join(dir, basename(p));
      if (existsSync(indexFileName(local))) return local;
      throw new CheckpointError(state, `names checkpoint '${p}', but ${indexFileName(abs)} does not exist`);
    }
    if (!isDir) throw new CheckpointError(state, 'is not a checkpoint state file (no model_checkpoint_path)');
  }
  if (isDir) {
    const found = readdirSync(path).filter((f) => f.endsWith('.index')).map((f) => join(path, f.slice(0, -'.index'.length)));
    if (found.length === 1) return found[0]!;
    if (found.length > 1) throw new CheckpointError(path, `holds several checkpoints (${found.map((f) => basename(f)).join(', ')}) and no 'checkpoint' state file: name one`);
    // A SavedModel directory keeps its variables under variables/variables.
    const sm = join(path, 'variables', 'variables');
    if (existsSync(indexFileName(sm))) return sm;
  }
  throw new CheckpointError(path, 'no checkpoint found');
}
