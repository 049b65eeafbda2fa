/**
 * Flatbuffer primitives: a bounds-checked reader over untrusted bytes and a back-to-front
 * builder. The `flatbuffers` npm runtime checks no offset (a corrupt file reads garbage or
 * throws a RangeError deep inside), so every read here validates its position first and fails
 * with a GraphFormatError naming the file and the byte offset.
 */
import { GraphFormatError } from '@tfpass/core/errors';

export type ScalarKind = 'bool' | 'byte' | 'ubyte' | 'short' | 'ushort' | 'int' | 'uint' | 'float' | 'long' | 'ulong' | 'double';

export const SCALAR_SIZE: Record<ScalarKind, number> = {
  bool: 1, byte: 1, ubyte: 1, short: 2, ushort: 2, int: 4, uint: 4, float: 4, long: 8, ulong: 8, double: 8,
};

/** A table's position and the vtable that describes it, both already validated. */
export interface TableRef {
  pos: number;
  vt: number;
  vtSize: number;
  size: number;
}

export class Source {
  readonly view: DataView;
  readonly length: number;
  /** Elements left to decode: a small file whose offsets alias one big vector must not expand
   *  into gigabytes of arrays. A file without aliasing never comes near this. */
  private budget: number;

  constructor(readonly bytes: Uint8Array, readonly file: string | undefined) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.length = bytes.byteLength;
    this.budget = 4 * bytes.byteLength + (1 << 20);
  }

  fail(offset: number, detail: string): never {
    throw new GraphFormatError({ file: this.file, offset }, detail);
  }

  need(pos: number, n: number, what: string): void {
    if (!(pos >= 0 && pos + n <= this.length)) {
      this.fail(pos, `${what} (${n} bytes) lies outside the file (${this.length} bytes)`);
    }
  }

  spend(n: number, at: number): void {
    this.budget -= n;
    if (this.budget < 0) this.fail(at, 'the file decodes to far more elements than it could hold (aliased offsets)');
  }

  u8(p: number): number { this.need(p, 1, 'a byte'); return this.bytes[p]!; }
  u16(p: number): number { this.need(p, 2, 'a uint16'); return this.view.getUint16(p, true); }
  i32(p: number): number { this.need(p, 4, 'an int32'); return this.view.getInt32(p, true); }
  u32(p: number): number { this.need(p, 4, 'a uint32'); return this.view.getUint32(p, true); }

  scalar(kind: ScalarKind, p: number): number | bigint | boolean {
    this.need(p, SCALAR_SIZE[kind], `a ${kind}`);
    const v = this.view;
    switch (kind) {
      case 'bool': return v.getUint8(p) !== 0;
      case 'byte': return v.getInt8(p);
      case 'ubyte': return v.getUint8(p);
      case 'short': return v.getInt16(p, true);
      case 'ushort': return v.getUint16(p, true);
      case 'int': return v.getInt32(p, true);
      case 'uint': return v.getUint32(p, true);
      case 'float': return v.getFloat32(p, true);
      case 'double': return v.getFloat64(p, true);
      case 'long': return v.getBigInt64(p, true);
      case 'ulong': return v.getBigUint64(p, true);
    }
  }

  /** Follow the uoffset stored at `p`. uoffsets are unsigned and point forward, so a chain of
   *  them cannot loop back: corrupt files cannot make the reader cycle. */
  deref(p: number, what: string): number {
    const target = p + this.u32(p);
    if (target >= this.length) this.fail(p, `${what} offset points to byte ${target}, past the end of the file`);
    return target;
  }

  table(pos: number, what: string): TableRef {
    this.need(pos, 4, what);
    const vt = pos - this.i32(pos);
    if (vt < 0 || vt + 4 > this.length) this.fail(pos, `${what}: its vtable at byte ${vt} lies outside the file`);
    const vtSize = this.u16(vt);
    const size = this.u16(vt + 2);
    if (vtSize < 4 || vtSize % 2 !== 0) this.fail(vt, `${what}: vtable size ${vtSize} is invalid`);
    this.need(vt, vtSize, `${what}: vtable`);
    if (size < 4) this.fail(vt, `${what}: table size ${size} is invalid`);
    this.need(pos, size, `${what}: table`);
    this.spend(1, pos);
    return { pos, vt, vtSize, size };
  }

  /** Position of field `slot` in the table, or 0 when absent. Checks the field fits the table. */
  field(t: TableRef, slot: number, width: number): number {
    const vo = 4 + 2 * slot;
    if (vo >= t.vtSize) return 0;
    const o = this.u16(t.vt + vo);
    if (o === 0) return 0;
    if (o < 4 || o + width > t.size) this.fail(t.vt + vo, `field ${slot} at table offset ${o} runs past its table (${t.size} bytes)`);
    return t.pos + o;
  }

  /** A vector referenced from `p`: start of its elements and their count, validated. */
  vector(p: number, elemSize: number, what: string): { start: number; n: number } {
    const v = this.deref(p, what);
    const n = this.u32(v);
    if (v + 4 + n * elemSize > this.length) {
      this.fail(v, `${what}: vector of ${n} × ${elemSize} bytes runs past the end of the file (${this.length} bytes)`);
    }
    return { start: v + 4, n };
  }

  /** Bytes copied out of the file count against the budget too. */
  copy(start: number, n: number): Uint8Array {
    this.spend(n, start);
    return this.bytes.slice(start, start + n);
  }

  string(p: number, what: string): string {
    const { start, n } = this.vector(p, 1, what);
    this.spend(n, start);
    const b = this.bytes;
    if (n < 128) {
      let ascii = true;
      for (let i = start; i < start + n && ascii; i++) ascii = b[i]! < 128;
      if (ascii) return String.fromCharCode.apply(null, b.subarray(start, start + n) as unknown as number[]);
    }
    return decoder.decode(b.subarray(start, start + n));
  }
}

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

/**
 * Back-to-front flatbuffer builder (children before parents, as the format's forward offsets
 * need). Offsets it returns are distances from the END of the buffer, as in flatbuffers' own
 * builder. Vtables are shared between identical tables.
 */
export class Builder {
  private buf: Uint8Array;
  private view: DataView;
  /** Index of the first written byte; bytes [space, buf.length) are the output so far. */
  private space: number;
  private minAlign = 1;
  private fields: number[] = [];
  private tableStart = -1;
  /** Written vtables by (table size, slot count): offsets to compare candidates against. */
  private vtables = new Map<number, number[]>();

  constructor(initialSize = 1024) {
    // A multiple of 16, so the finished file (whose size is a multiple of its alignment) starts
    // 16-aligned in the ArrayBuffer and typed-array views over its data vectors work.
    this.buf = new Uint8Array(Math.max(64, Math.ceil(initialSize / 16) * 16));
    this.view = new DataView(this.buf.buffer);
    this.space = this.buf.length;
  }

  offset(): number {
    return this.buf.length - this.space;
  }

  private grow(need: number): void {
    const used = this.offset();
    let size = this.buf.length;
    while (size - used < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.space), size - used);
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.space = size - used;
  }

  /** Pad so that after `extra` more bytes the offset is a multiple of `align`. */
  prep(align: number, extra: number): void {
    if (align > this.minAlign) this.minAlign = align;
    const pad = (-(this.offset() + extra) % align + align) % align;
    if (this.space < pad + extra + 8) this.grow(pad + extra + 8);
    // Padding needs no zeroing: every byte is written at most once and the buffer starts zeroed.
    this.space -= pad;
  }

  private put(kind: ScalarKind, v: number | bigint | boolean): void {
    const n = SCALAR_SIZE[kind];
    this.prep(n, 0);
    this.space -= n;
    const p = this.space;
    const d = this.view;
    switch (kind) {
      case 'bool': d.setUint8(p, v ? 1 : 0); break;
      case 'byte': d.setInt8(p, Number(v)); break;
      case 'ubyte': d.setUint8(p, Number(v)); break;
      case 'short': d.setInt16(p, Number(v), true); break;
      case 'ushort': d.setUint16(p, Number(v), true); break;
      case 'int': d.setInt32(p, Number(v), true); break;
      case 'uint': d.setUint32(p, Number(v), true); break;
      case 'float': d.setFloat32(p, Number(v), true); break;
      case 'double': d.setFloat64(p, Number(v), true); break;
      case 'long': d.setBigInt64(p, BigInt(v), true); break;
      case 'ulong': d.setBigUint64(p, BigInt(v), true); break;
    }
  }

  private putOffset(off: number): void {
    this.prep(4, 0);
    this.space -= 4;
    this.view.setUint32(this.space, this.offset() - off, true);
  }

  // --- tables ---------------------------------------------------------------------------------
  startTable(): void {
    if (this.tableStart >= 0) throw new Error('Builder: nested table');
    this.tableStart = this.offset();
    this.fields.length = 0;
  }

  scalarField(slot: number, kind: ScalarKind, v: number | bigint | boolean): void {
    this.put(kind, v);
    this.fields[slot] = this.offset();
  }

  offsetField(slot: number, off: number): void {
    this.putOffset(off);
    this.fields[slot] = this.offset();
  }

  /** Raw inline bytes of a field this IR does not understand, re-emitted as they were. */
  rawField(slot: number, bytes: Uint8Array): void {
    this.prep(Math.min(8, bytes.length & -bytes.length || 1), bytes.length);
    this.space -= bytes.length;
    this.buf.set(bytes, this.space);
    this.fields[slot] = this.offset();
  }

  endTable(): number {
    this.put('int', 0);
    const table = this.offset();
    const f = this.fields;
    let n = f.length;
    while (n > 0 && !f[n - 1]) n--;
    const size = table - this.tableStart;
    const key = size * 65536 + n;
    let candidates = this.vtables.get(key);
    if (!candidates) this.vtables.set(key, (candidates = []));
    // Share an identical vtable written before (few distinct ones per size and slot count).
    let vt: number | undefined;
    const end = this.buf.length;
    for (const c of candidates) {
      let same = true;
      for (let i = 0; i < n && same; i++) same = this.view.getUint16(end - c + 4 + 2 * i, true) === (f[i] ? table - f[i]! : 0);
      if (same) {
        vt = c;
        break;
      }
    }
    if (vt === undefined) {
      const vtBytes = 4 + 2 * n;
      if (this.space < vtBytes + 8) this.grow(vtBytes + 8);
      this.space -= vtBytes;
      this.view.setUint16(this.space, vtBytes, true);
      this.view.setUint16(this.space + 2, size, true);
      for (let i = 0; i < n; i++) this.view.setUint16(this.space + 4 + 2 * i, f[i] ? table - f[i]! : 0, true);
      vt = this.offset();
      candidates.push(vt);
    }
    // soffset from the table to its vtable: table position − vtable position.
    this.view.setInt32(this.buf.length - table, vt - table, true);
    this.tableStart = -1;
    this.fields.length = 0;
    return table;
  }

  // --- vectors and strings --------------------------------------------------------------------
  scalarVector(kind: ScalarKind, values: ArrayLike<number | bigint | boolean>): number {
    const size = SCALAR_SIZE[kind];
    this.prep(4, size * values.length);
    this.prep(size, size * values.length);
    const n = values.length;
    this.space -= size * n;
    const p = this.space;
    const d = this.view;
    // Elements are size-aligned from here on: write them without per-element padding checks.
    switch (kind) {
      case 'int': for (let i = 0; i < n; i++) d.setInt32(p + 4 * i, Number(values[i]), true); break;
      case 'float': for (let i = 0; i < n; i++) d.setFloat32(p + 4 * i, Number(values[i]), true); break;
      case 'long':
        for (let i = 0; i < n; i++) {
          const x = values[i];
          if (typeof x === 'number' && Number.isSafeInteger(x)) {
            // Two 32-bit halves: no BigInt per element (zero points are numbers in the IR).
            const hi = Math.floor(x / 4294967296);
            d.setUint32(p + 8 * i, x - hi * 4294967296, true);
            d.setInt32(p + 8 * i + 4, hi, true);
          } else d.setBigInt64(p + 8 * i, BigInt(x as number | bigint), true);
        }
        break;
      default: {
        this.space += size * n;
        for (let i = n - 1; i >= 0; i--) this.put(kind, values[i]!);
      }
    }
    this.put('uint', n);
    return this.offset();
  }

  offsetVector(offs: readonly number[]): number {
    this.prep(4, 4 * offs.length);
    for (let i = offs.length - 1; i >= 0; i--) this.putOffset(offs[i]!);
    this.put('uint', offs.length);
    return this.offset();
  }

  /** A byte vector whose first element is `align`-aligned in the finished file. */
  bytes(data: Uint8Array, align = 1): number {
    this.prep(Math.max(4, align), data.length);
    if (this.space < data.length + 8) this.grow(data.length + 8);
    this.space -= data.length;
    this.buf.set(data, this.space);
    this.put('uint', data.length);
    return this.offset();
  }

  string(s: string): number {
    const n = s.length;
    let ascii = n < 256;
    for (let i = 0; i < n && ascii; i++) ascii = s.charCodeAt(i) < 128;
    if (ascii) {
      // Names are short ASCII: copy the char codes, no TextEncoder round trip.
      this.prep(4, n + 1);
      this.space -= n + 1;
      const p = this.space;
      for (let i = 0; i < n; i++) this.buf[p + i] = s.charCodeAt(i);
      this.buf[p + n] = 0;
      this.put('uint', n);
      return this.offset();
    }
    const utf8 = encoder.encode(s);
    this.prep(4, utf8.length + 1);
    this.space -= 1;
    this.buf[this.space] = 0;
    this.space -= utf8.length;
    this.buf.set(utf8, this.space);
    this.put('uint', utf8.length);
    return this.offset();
  }

  /** Copy `bytes` verbatim so that byte i keeps its position mod 16 relative to the file start
   *  (`origin` = its position in the source file). Returns the offset of byte 0 of the copy. */
  region(bytes: Uint8Array, origin: number): number {
    this.prep(16, 0);
    const pad = (((-origin - (this.offset() + bytes.length)) % 16) + 16) % 16;
    if (this.space < bytes.length + pad + 8) this.grow(bytes.length + pad + 8);
    this.buf.fill(0, this.space - pad, this.space);
    this.space -= pad + bytes.length;
    this.buf.set(bytes, this.space);
    return this.offset();
  }

  finish(root: number, identifier: string): Uint8Array {
    this.prep(Math.max(this.minAlign, 4), 8);
    for (let i = 3; i >= 0; i--) this.put('ubyte', identifier.charCodeAt(i));
    this.putOffset(root);
    return this.buf.subarray(this.space);
  }
}
