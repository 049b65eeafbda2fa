/**
 * Tensor payloads as the data files store them: POD bytes (byte-swapped for big-endian bundles)
 * or TF's string layout (length varints, their masked CRC, then the bytes), with the CRC TF records.
 */
import { CheckpointError, dtypeSize, type DType, type Tensor, type TensorData } from '@tfpass/core';
import { crc32c, maskCrc, unmaskCrc } from '../crc.js';
import { ByteWriter, readVarint } from '../table.js';

/** Element width used when swapping bytes (complex swaps each component). */
export function swapWidth(dtype: DType): number {
  if (dtype === 'complex64') return 4;
  if (dtype === 'complex128') return 8;
  return dtypeSize(dtype);
}

export function byteswap(b: Uint8Array, width: number): Uint8Array {
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

export function decodeStrings(b: Uint8Array, n: number, file: string, name: string): { data: Uint8Array[]; crc: number } {
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
