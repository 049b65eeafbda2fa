/**
 * The sorted string table TF uses for `.index` files (its copy of LevelDB's format, without
 * filter blocks): data blocks of prefix-compressed entries with restart points, an empty
 * metaindex block, an index block of separator keys, and a 48-byte footer with a magic number.
 */
import { compress, uncompress } from 'snappyjs';
import { CheckpointError } from '@tfpass/core';
import { crc32c, maskCrc, unmaskCrc } from './crc.js';

export const TABLE_MAGIC_LO = 0x8b80fb57;
export const TABLE_MAGIC_HI = 0xdb477524;
export const FOOTER_SIZE = 48;
const TRAILER_SIZE = 5;

export type Compression = 'none' | 'snappy';

export interface TableOptions {
  /** Target uncompressed data block size (TF: 256 KiB). */
  blockSize?: number;
  /** Entries between restart points in data blocks (TF: 16). */
  restartInterval?: number;
  /** Block compression (TF's bundle writer uses none). */
  compression?: Compression;
}

// ---- byte helpers ----------------------------------------------------------------------------

export class ByteWriter {
  private buf = new Uint8Array(256);
  length = 0;

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }
  byte(v: number): void {
    this.grow(1);
    this.buf[this.length++] = v;
  }
  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  fixed32(v: number): void {
    this.grow(4);
    new DataView(this.buf.buffer).setUint32(this.length, v >>> 0, true);
    this.length += 4;
  }
  varint(v: number | bigint): void {
    let x = BigInt(v);
    if (x < 0n) throw new RangeError('varint of a negative number');
    if (x < 0x80n) return this.byte(Number(x));
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }
  clear(): void {
    this.length = 0;
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Read a varint (up to 64 bits) at `pos`; returns [value, next position] or undefined if truncated. */
export function readVarint(b: Uint8Array, pos: number, end = b.length): [number, number] | undefined {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= end) return undefined;
    const c = b[pos + i]!;
    v += (c & 0x7f) * mul;
    mul *= 128;
    if (!(c & 0x80)) return [v, pos + i + 1];
  }
  return undefined;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function sharedPrefix(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** A short key k with start <= k < limit (LevelDB's bytewise FindShortestSeparator). */
export function shortestSeparator(start: Uint8Array, limit: Uint8Array): Uint8Array {
  const i = sharedPrefix(start, limit);
  if (i >= Math.min(start.length, limit.length)) return start;
  const c = start[i]!;
  if (c < 0xff && c + 1 < limit[i]!) {
    // Copy explicitly: Buffer#slice would alias the caller's key.
    const out = new Uint8Array(start.subarray(0, i + 1));
    out[i] = c + 1;
    return out;
  }
  return start;
}

/** A short key >= `key` (LevelDB's FindShortSuccessor). */
export function shortSuccessor(key: Uint8Array): Uint8Array {
  for (let i = 0; i < key.length; i++) {
    if (key[i] !== 0xff) {
      const out = new Uint8Array(key.subarray(0, i + 1));
      out[i] = key[i]! + 1;
      return out;
    }
  }
  return key;
}

// ---- writing ---------------------------------------------------------------------------------

class BlockBuilder {
  private readonly out = new ByteWriter();
  private readonly restarts: number[] = [0];
  private counter = 0;
  private last: Uint8Array = new Uint8Array();
  count = 0;

  constructor(private readonly restartInterval: number) {}

  add(key: Uint8Array, value: Uint8Array): void {
    let shared = 0;
    if (this.counter < this.restartInterval) {
      shared = sharedPrefix(this.last, key);
    } else {
      this.restarts.push(this.out.length);
      this.counter = 0;
    }
    this.out.varint(shared);
    this.out.varint(key.length - shared);
    this.out.varint(value.length);
    this.out.bytes(key.subarray(shared));
    this.out.bytes(value);
    this.last = key;
    this.counter++;
    this.count++;
  }
  sizeEstimate(): number {
    return this.out.length + this.restarts.length * 4 + 4;
  }
  finish(): Uint8Array {
    for (const r of this.restarts) this.out.fixed32(r);
    this.out.fixed32(this.restarts.length);
    return this.out.finish();
  }
}

interface Handle {
  offset: number;
  size: number;
}

function encodeHandle(h: Handle, w: ByteWriter): void {
  w.varint(h.offset);
  w.varint(h.size);
}

/** Builds a table in memory; keys must be added in strictly increasing bytewise order. */
export class TableBuilder {
  private readonly out = new ByteWriter();
  private readonly blockSize: number;
  private readonly restartInterval: number;
  private readonly compression: Compression;
  private data: BlockBuilder;
  private readonly index = new BlockBuilder(1);
  private last: Uint8Array | undefined;
  private pending: Handle | undefined;

  constructor(opts: TableOptions = {}) {
    this.blockSize = opts.blockSize ?? 262144;
    this.restartInterval = opts.restartInterval ?? 16;
    this.compression = opts.compression ?? 'none';
    this.data = new BlockBuilder(this.restartInterval);
  }

  add(key: Uint8Array, value: Uint8Array): void {
    if (this.last && compareBytes(key, this.last) <= 0) {
      throw new RangeError(`table keys must be strictly increasing`);
    }
    if (this.data.count > 0 && key.length + value.length >= 2 * this.blockSize) this.flush();
    if (this.pending) {
      this.addIndexEntry(shortestSeparator(this.last!, key));
    }
    this.data.add(key, value);
    this.last = key;
    if (this.data.sizeEstimate() >= this.blockSize) this.flush();
  }

  private addIndexEntry(key: Uint8Array): void {
    const w = new ByteWriter();
    encodeHandle(this.pending!, w);
    this.index.add(key, w.finish());
    this.pending = undefined;
  }

  private flush(): void {
    if (this.data.count === 0) return;
    this.pending = this.writeBlock(this.data.finish());
    this.data = new BlockBuilder(this.restartInterval);
  }

  private writeBlock(raw: Uint8Array): Handle {
    let contents = raw;
    let type = 0;
    if (this.compression === 'snappy') {
      const c = compress(raw);
      // Keep the compressed form only when it saves at least 1/8 (LevelDB's rule).
      if (c.length < raw.length - Math.floor(raw.length / 8)) {
        contents = c;
        type = 1;
      }
    }
    const h = { offset: this.out.length, size: contents.length };
    this.out.bytes(contents);
    const crc = crc32c(Uint8Array.of(type), crc32c(contents));
    this.out.byte(type);
    this.out.fixed32(maskCrc(crc));
    return h;
  }

  finish(): Uint8Array {
    this.flush();
    const meta = this.writeBlock(new BlockBuilder(this.restartInterval).finish());
    if (this.pending) this.addIndexEntry(shortSuccessor(this.last!));
    const index = this.writeBlock(this.index.finish());
    const f = new ByteWriter();
    encodeHandle(meta, f);
    encodeHandle(index, f);
    while (f.length < FOOTER_SIZE - 8) f.byte(0);
    f.fixed32(TABLE_MAGIC_LO);
    f.fixed32(TABLE_MAGIC_HI);
    this.out.bytes(f.view());
    return this.out.finish();
  }
}

// ---- reading ---------------------------------------------------------------------------------

export interface TableEntry {
  key: Uint8Array;
  value: Uint8Array;
}

export interface TableInfo {
  /** Compression type of each data block, in file order. */
  blockCompression: Compression[];
  entries: TableEntry[];
}

/** Read every entry of a table, verifying the footer, each block's checksum and key order. */
export function readTable(bytes: Uint8Array, file: string): TableInfo {
  if (bytes.length < FOOTER_SIZE) throw new CheckpointError(file, `file is ${bytes.length} bytes, shorter than the ${FOOTER_SIZE}-byte table footer`);
  const fo = bytes.length - FOOTER_SIZE;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(bytes.length - 8, true) !== TABLE_MAGIC_LO || dv.getUint32(bytes.length - 4, true) !== TABLE_MAGIC_HI) {
    throw new CheckpointError(file, `bad table magic number at byte ${bytes.length - 8}: not a checkpoint index`);
  }
  const handle = (pos: number, what: string): [Handle, number] => {
    const o = readVarint(bytes, pos, bytes.length - 8);
    const s = o && readVarint(bytes, o[1], bytes.length - 8);
    if (!o || !s) throw new CheckpointError(file, `corrupt ${what} block handle at byte ${pos}`);
    return [{ offset: o[0], size: s[0] }, s[1]];
  };
  const [meta, p1] = handle(fo, 'metaindex');
  const [index] = handle(p1, 'index');
  readBlock(bytes, meta, file, 'metaindex');
  const indexBlock = readBlock(bytes, index, file, 'index');
  const out: TableInfo = { blockCompression: [], entries: [] };
  for (const ie of blockEntries(indexBlock.contents, file, index.offset)) {
    const [h] = decodeHandleValue(ie.value, file, index.offset);
    const b = readBlock(bytes, h, file, 'data');
    out.blockCompression.push(b.compression);
    for (const e of blockEntries(b.contents, file, h.offset)) {
      const prev = out.entries[out.entries.length - 1];
      if (prev && compareBytes(prev.key, e.key) >= 0) throw new CheckpointError(file, `keys out of order in the data block at byte ${h.offset}`);
      out.entries.push(e);
    }
  }
  return out;
}

function decodeHandleValue(v: Uint8Array, file: string, at: number): [Handle, number] {
  const o = readVarint(v, 0);
  const s = o && readVarint(v, o[1]);
  if (!o || !s) throw new CheckpointError(file, `corrupt block handle in the index block at byte ${at}`);
  return [{ offset: o[0], size: s[0] }, s[1]];
}

function readBlock(bytes: Uint8Array, h: Handle, file: string, what: string): { contents: Uint8Array; compression: Compression } {
  if (h.offset + h.size + TRAILER_SIZE > bytes.length) {
    throw new CheckpointError(file, `${what} block at byte ${h.offset} (${h.size} bytes) runs past the end of the file (truncated?)`);
  }
  const raw = bytes.subarray(h.offset, h.offset + h.size);
  const type = bytes[h.offset + h.size]!;
  const stored = new DataView(bytes.buffer, bytes.byteOffset + h.offset + h.size + 1, 4).getUint32(0, true);
  const actual = crc32c(bytes.subarray(h.offset, h.offset + h.size + 1));
  if (unmaskCrc(stored) !== actual) {
    throw new CheckpointError(file, `checksum mismatch in the ${what} block at byte ${h.offset} (stored ${stored.toString(16)}, computed ${maskCrc(actual).toString(16)})`);
  }
  if (type === 0) return { contents: raw, compression: 'none' };
  if (type === 1) {
    try {
      return { contents: uncompress(raw), compression: 'snappy' };
    } catch (e) {
      throw new CheckpointError(file, `cannot decompress the Snappy ${what} block at byte ${h.offset}: ${(e as Error).message}`, { cause: e });
    }
  }
  throw new CheckpointError(file, `${what} block at byte ${h.offset} has unknown compression type ${type}`);
}

/** Decode the entries of one block (prefix-compressed keys; restart array at the end). */
function blockEntries(b: Uint8Array, file: string, at: number): TableEntry[] {
  const bad = (d: string): never => {
    throw new CheckpointError(file, `corrupt block at byte ${at}: ${d}`);
  };
  if (b.length < 4) bad('shorter than its restart count');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const nRestarts = dv.getUint32(b.length - 4, true);
  const limit = b.length - 4 - 4 * nRestarts;
  if (limit < 0) bad(`restart array of ${nRestarts} entries does not fit`);
  const out: TableEntry[] = [];
  let pos = 0;
  let last = new Uint8Array();
  while (pos < limit) {
    const s = readVarint(b, pos, limit) ?? bad(`truncated entry header at ${pos}`);
    const u = readVarint(b, s[1], limit) ?? bad(`truncated entry header at ${pos}`);
    const v = readVarint(b, u[1], limit) ?? bad(`truncated entry header at ${pos}`);
    const shared = s[0];
    const ks = v[1];
    const vs = ks + u[0];
    const ve = vs + v[0];
    if (shared > last.length || ve > limit) bad(`entry at ${pos} overruns the block`);
    const key = new Uint8Array(shared + u[0]);
    key.set(last.subarray(0, shared));
    key.set(b.subarray(ks, vs), shared);
    out.push({ key, value: b.subarray(vs, ve) });
    last = key;
    pos = ve;
  }
  return out;
}
