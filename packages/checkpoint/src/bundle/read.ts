/** Reading a bundle: the whole index checked eagerly, tensor bytes read on demand and verified. */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import {
  CheckpointError, Tensor, allocate, dtypeFromEnum, dtypeSize, numElements, shapeFromProto,
  type DType, type Shape,
} from '@tfpass/core';
import {
  BundleEntryProtoSchema, BundleHeaderProtoSchema, BundleHeaderProto_Endianness, DataType,
  fromBinary, type BundleEntryProto,
} from '@tfpass/core/proto';
import { crc32c, unmaskCrc } from '../crc.js';
import { readTable, type Compression } from '../table.js';
import { decodeSliceKey, type Extent } from '../slice-key.js';
import { dataFileName, indexFileName } from '../names.js';
import { byteswap, decodeStrings, swapWidth } from './tensor-bytes.js';
import { copySlice, extentsFromProto, formatExtents, sliceKeyId } from './slices.js';
import { resolveCheckpoint } from './resolve.js';

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

const dec = new TextDecoder();

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
