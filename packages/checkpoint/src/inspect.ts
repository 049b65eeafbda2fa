/** What `tfpass ckpt ls` and `tfpass ckpt diff` print, as data. */
import { statSync } from 'node:fs';
import { CheckpointError, dtypeSize, numElements, type Tensor } from '@tfpass/core';
import { DataType } from '@tfpass/core/proto';
import { dataFileName, readCheckpoint, formatExtents, type Checkpoint, type CheckpointEntry } from './bundle.js';

export interface CheckpointRow {
  name: string;
  /** tfpass dtype name, or TF's enum name for dtypes without host storage. */
  dtype: string;
  shape: number[];
  /** Stored bytes (sum over slices for partitioned tensors). */
  bytes: number;
  shard: number;
  /** e.g. "0,2:-" per slice for partitioned tensors. */
  slices?: string[];
}

function dtypeName(e: CheckpointEntry): string {
  return e.dtype === 'invalid' ? (DataType[e.tfDtype] ?? String(e.tfDtype)) : e.dtype;
}

function open(c: Checkpoint | string): Checkpoint {
  return typeof c === 'string' ? readCheckpoint(c) : c;
}

/**
 * Check that every stored entry lies inside its data file, which exists and is a regular file
 * (index-only problems are refused when the index is read). Throws CheckpointError naming the
 * file and tensor.
 */
export function checkDataFiles(c: Checkpoint): void {
  const sizes = new Map<number, { file: string; size: number }>();
  const shardOf = (id: number) => {
    let s = sizes.get(id);
    if (s) return s;
    const file = dataFileName(c.prefix, id, c.header.numShards);
    let st;
    try {
      st = statSync(file);
    } catch (e) {
      throw new CheckpointError(file, `checkpoint data file is missing (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (!st.isFile()) throw new CheckpointError(file, `checkpoint data file is ${st.isDirectory() ? 'a directory' : 'not a regular file'}`);
    sizes.set(id, (s = { file, size: st.size }));
    return s;
  };
  for (const e of c.entries.values()) {
    if (e.slices.length) continue;
    const s = shardOf(e.shardId);
    if (e.offset + e.size > s.size) throw new CheckpointError(s.file, `tensor '${e.name}' (bytes ${e.offset}..${e.offset + e.size}) runs past the end of the file (${s.size} bytes)`);
  }
}

/** One row per tensor, in name order; a checkpoint whose entries do not fit its files is refused. */
export function listCheckpoint(ckpt: Checkpoint | string): CheckpointRow[] {
  const c = open(ckpt);
  checkDataFiles(c);
  return [...c.entries.values()].map((e) => {
    const row: CheckpointRow = { name: e.name, dtype: dtypeName(e), shape: [...e.shape], bytes: e.size, shard: e.shardId };
    if (e.slices.length) {
      row.slices = e.slices.map(formatExtents);
      const size = dtypeSize(e.dtype);
      row.bytes = size ? numElements(e.shape) * size : 0;
    }
    return row;
  });
}

export type DiffKind = 'only_a' | 'only_b' | 'dtype' | 'shape' | 'values' | 'same';

export interface DiffRow {
  name: string;
  kind: DiffKind;
  a?: { dtype: string; shape: number[] };
  b?: { dtype: string; shape: number[] };
  /** For 'values': largest absolute difference (NaN for non-numeric tensors) and count of differing elements. */
  maxAbsDiff?: number;
  differing?: number;
  elements?: number;
}

export interface DiffOptions {
  /** Values within this absolute tolerance count as equal (default 0: exact). */
  atol?: number;
  /** Include rows for identical tensors. */
  includeSame?: boolean;
}

function compareValues(x: Tensor, y: Tensor, atol: number): { max: number; n: number } {
  if (Array.isArray(x.data) || Array.isArray(y.data)) {
    const xs = x.data as Uint8Array[];
    const ys = y.data as Uint8Array[];
    let n = 0;
    for (let i = 0; i < xs.length; i++) if (Buffer.compare(Buffer.from(xs[i]!), Buffer.from(ys[i]!)) !== 0) n++;
    return { max: n ? NaN : 0, n };
  }
  const a = x.toNumbers();
  const b = y.toNumbers();
  let max = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    const same = a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]));
    if (!same && !(d <= atol)) n++;
    if (!same) max = Math.max(max, Number.isNaN(d) ? Infinity : d);
  }
  return { max, n };
}

/** Compare two checkpoints tensor by tensor (names in sorted order). */
export function diffCheckpoints(ckptA: Checkpoint | string, ckptB: Checkpoint | string, opts: DiffOptions = {}): DiffRow[] {
  const a = open(ckptA);
  const b = open(ckptB);
  const names = [...new Set([...a.entries.keys(), ...b.entries.keys()])].sort();
  const rows: DiffRow[] = [];
  for (const name of names) {
    const ea = a.entries.get(name);
    const eb = b.entries.get(name);
    const sa = ea && { dtype: dtypeName(ea), shape: [...ea.shape] };
    const sb = eb && { dtype: dtypeName(eb), shape: [...eb.shape] };
    if (!ea) { rows.push({ name, kind: 'only_b', b: sb }); continue; }
    if (!eb) { rows.push({ name, kind: 'only_a', a: sa }); continue; }
    if (sa!.dtype !== sb!.dtype) { rows.push({ name, kind: 'dtype', a: sa, b: sb }); continue; }
    if (sa!.shape.join(',') !== sb!.shape.join(',')) { rows.push({ name, kind: 'shape', a: sa, b: sb }); continue; }
    // Same stored bytes (same CRC and size, unsliced) need no decoding.
    if (!ea.slices.length && !eb.slices.length && ea.crc32c === eb.crc32c && ea.size === eb.size && a.header.endianness === b.header.endianness) {
      if (opts.includeSame) rows.push({ name, kind: 'same', a: sa, b: sb, maxAbsDiff: 0, differing: 0, elements: numElements(ea.shape) });
      continue;
    }
    const { max, n } = compareValues(a.read(name), b.read(name), opts.atol ?? 0);
    if (n > 0) rows.push({ name, kind: 'values', a: sa, b: sb, maxAbsDiff: max, differing: n, elements: numElements(ea.shape) });
    else if (opts.includeSame) rows.push({ name, kind: 'same', a: sa, b: sb, maxAbsDiff: max, differing: 0, elements: numElements(ea.shape) });
  }
  if (a !== ckptA) a.close();
  if (b !== ckptB) b.close();
  return rows;
}

const fmtShape = (s: number[]) => `[${s.join(',')}]`;

/** `tfpass ckpt ls` text: one line per tensor (name, dtype, shape, bytes), columns aligned, then a total. */
export function formatListing(rows: CheckpointRow[]): string {
  const w = Math.max(4, ...rows.map((r) => r.name.length));
  const lines = rows.map((r) => `${r.name.padEnd(w)}  ${r.dtype.padEnd(9)} ${fmtShape(r.shape).padEnd(16)} ${String(r.bytes).padStart(10)}${r.slices ? `  slices ${r.slices.join(' ')}` : ''}`);
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  lines.push(`${rows.length} tensors, ${total} bytes`);
  return lines.join('\n');
}

/** `tfpass ckpt diff` text: one line per differing tensor; "identical" when there is none. */
export function formatDiff(rows: DiffRow[]): string {
  if (rows.every((r) => r.kind === 'same')) return 'identical';
  return rows
    .map((r) => {
      switch (r.kind) {
        case 'only_a': return `- ${r.name}  ${r.a!.dtype} ${fmtShape(r.a!.shape)}  (only in A)`;
        case 'only_b': return `+ ${r.name}  ${r.b!.dtype} ${fmtShape(r.b!.shape)}  (only in B)`;
        case 'dtype': return `~ ${r.name}  dtype ${r.a!.dtype} -> ${r.b!.dtype}`;
        case 'shape': return `~ ${r.name}  shape ${fmtShape(r.a!.shape)} -> ${fmtShape(r.b!.shape)}`;
        case 'values': return `~ ${r.name}  ${r.differing}/${r.elements} values differ, max |a-b| = ${r.maxAbsDiff}`;
        default: return `= ${r.name}`;
      }
    })
    .join('\n');
}
