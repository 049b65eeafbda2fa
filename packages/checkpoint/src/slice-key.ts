/**
 * Keys of tensor slices in a bundle index: an order-preserving encoding of
 * (0, name, rank, start_0, length_0, …) where a full extent is start 0, length -1.
 * Ordinary tensor names never begin with a 0 byte, so slice keys are easy to tell apart.
 */
import { ByteWriter } from './table.js';

/** One extent per dimension; `length` -1 means the whole dimension. */
export interface Extent {
  start: number;
  length: number;
}

function writeNumIncreasing(w: ByteWriter, v: number): void {
  const bytes: number[] = [];
  let x = BigInt(v);
  while (x > 0n) {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
  }
  w.byte(bytes.length);
  for (const b of bytes) w.byte(b);
}

function writeString(w: ByteWriter, s: Uint8Array): void {
  // 0x00 and 0xff are escaped so the terminator 00 01 sorts below any continuation.
  for (const c of s) {
    if (c === 0x00) {
      w.byte(0x00);
      w.byte(0xff);
    } else if (c === 0xff) {
      w.byte(0xff);
      w.byte(0x00);
    } else w.byte(c);
  }
  w.byte(0x00);
  w.byte(0x01);
}

/** Signed numbers: n bytes hold 7n-1 value bits; the top n bits flag the length (and sign). */
function writeSignedNumIncreasing(w: ByteWriter, v: number): void {
  const val = BigInt(v);
  const mag = val < 0n ? ~val : val;
  let n = 1;
  while (n < 10 && mag >= 1n << BigInt(7 * n - 1)) n++;
  const bits = BigInt(8 * n);
  const mod = val & ((1n << bits) - 1n);
  const mask = ((1n << BigInt(n)) - 1n) << (bits - BigInt(n));
  const enc = mod ^ mask;
  for (let i = n - 1; i >= 0; i--) w.byte(Number((enc >> BigInt(8 * i)) & 0xffn));
}

export function encodeSliceKey(name: string, extents: Extent[]): Uint8Array {
  const w = new ByteWriter();
  writeNumIncreasing(w, 0);
  writeString(w, new TextEncoder().encode(name));
  writeNumIncreasing(w, extents.length);
  for (const e of extents) {
    writeSignedNumIncreasing(w, e.start);
    writeSignedNumIncreasing(w, e.length);
  }
  return w.finish();
}

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  byte(): number {
    if (this.pos >= this.b.length) throw new RangeError('slice key truncated');
    return this.b[this.pos++]!;
  }
  num(): number {
    const n = this.byte();
    let x = 0n;
    for (let i = 0; i < n; i++) x = (x << 8n) | BigInt(this.byte());
    return Number(x);
  }
  str(): Uint8Array {
    const out: number[] = [];
    for (;;) {
      const c = this.byte();
      if (c === 0x00) {
        const d = this.byte();
        if (d === 0x01) return Uint8Array.from(out);
        out.push(0x00);
      } else if (c === 0xff) {
        this.byte();
        out.push(0xff);
      } else out.push(c);
    }
  }
  signed(): number {
    const first = this.b[this.pos];
    if (first === undefined) throw new RangeError('slice key truncated');
    const neg = (first & 0x80) === 0;
    // Count the length flag bits (up to 10, spilling into the second byte).
    const two = ((first << 8) | (this.b[this.pos + 1] ?? 0)) ^ (neg ? 0xffff : 0);
    let n = 0;
    while (n < 10 && two & (0x8000 >> n)) n++;
    let enc = 0n;
    for (let i = 0; i < n; i++) enc = (enc << 8n) | BigInt(this.byte());
    const bits = BigInt(8 * n);
    const mask = ((1n << BigInt(n)) - 1n) << (bits - BigInt(n));
    let v = neg ? enc : enc ^ mask;
    if (neg) {
      // Restore the two's-complement sign bits that the length flag replaced.
      v = (enc | mask) - (1n << bits);
    }
    return Number(v);
  }
}

/** Decode a slice key; undefined when `key` is an ordinary tensor name. */
export function decodeSliceKey(key: Uint8Array): { name: string; extents: Extent[] } | undefined {
  if (key.length === 0 || key[0] !== 0) return undefined;
  try {
    const r = new Reader(key);
    r.num();
    const name = new TextDecoder().decode(r.str());
    const rank = r.num();
    const extents: Extent[] = [];
    for (let i = 0; i < rank; i++) extents.push({ start: r.signed(), length: r.signed() });
    return { name, extents };
  } catch {
    return undefined;
  }
}
