import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FileError } from '@tfpass/core';
import { crc32c, maskCrc } from '@tfpass/checkpoint';

/**
 * TFRecord framing: uint64 length, uint32 masked crc32c(length bytes), data, uint32 masked
 * crc32c(data). Records are indexed by scanning headers only, so a 10 GB file never sits in
 * memory; a record is read when a batch needs it.
 */

export const maskedCrc = (bytes: Uint8Array): number => maskCrc(crc32c(bytes));

export interface RecordRef {
  file: string;
  /** Record number in the file, from 0 (for messages). */
  index: number;
  /** Byte offset of the record's header. */
  offset: number;
  length: number;
}

/** A record longer than this is a corrupt length field, not data (TF's own limit is similar in spirit). */
const MAX_RECORD = 1 << 30;

export function indexTfrecord(file: string): RecordRef[] {
  const fd = open(file);
  try {
    const size = fstatSync(fd).size;
    const refs: RecordRef[] = [];
    const head = Buffer.alloc(12);
    let offset = 0;
    while (offset < size) {
      const index = refs.length;
      if (size - offset < 12) throw corrupt(file, index, offset, `truncated header (${size - offset} of 12 bytes)`);
      readSync(fd, head, 0, 12, offset);
      const length = head.readBigUInt64LE(0);
      if (maskedCrc(head.subarray(0, 8)) !== head.readUInt32LE(8)) throw corrupt(file, index, offset, 'length checksum mismatch');
      if (length > BigInt(MAX_RECORD)) throw corrupt(file, index, offset, `record length ${length} is implausible`);
      const n = Number(length);
      if (offset + 12 + n + 4 > size) throw corrupt(file, index, offset, `truncated record (needs ${n + 16} bytes, ${size - offset} left)`);
      refs.push({ file, index, offset, length: n });
      offset += 16 + n;
    }
    return refs;
  } finally {
    closeSync(fd);
  }
}

/** Read one record's payload and check its data checksum. */
export function readRecord(ref: RecordRef): Uint8Array {
  const fd = open(ref.file);
  try {
    const buf = Buffer.alloc(ref.length + 4);
    readSync(fd, buf, 0, buf.length, ref.offset + 12);
    const data = buf.subarray(0, ref.length);
    if (maskedCrc(data) !== buf.readUInt32LE(ref.length)) throw corrupt(ref.file, ref.index, ref.offset, 'data checksum mismatch');
    return new Uint8Array(data);
  } finally {
    closeSync(fd);
  }
}

export function encodeTfrecords(records: Uint8Array[]): Uint8Array {
  const total = records.reduce((s, r) => s + r.length + 16, 0);
  const out = Buffer.alloc(total);
  let o = 0;
  for (const r of records) {
    out.writeBigUInt64LE(BigInt(r.length), o);
    out.writeUInt32LE(maskedCrc(out.subarray(o, o + 8)), o + 8);
    out.set(r, o + 12);
    out.writeUInt32LE(maskedCrc(r), o + 12 + r.length);
    o += 16 + r.length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}


function open(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (e) {
    throw new FileError(file, `cannot read: ${(e as Error).message}`, { cause: e });
  }
}

function corrupt(file: string, index: number, offset: number, why: string): FileError {
  return new FileError(file, `record ${index} at byte ${offset}: corrupt TFRecord (${why})`);
}
