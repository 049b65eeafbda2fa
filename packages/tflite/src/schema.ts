/**
 * Schema-driven decoding and encoding of any table of the TFLite schema, from the data in
 * `gen/schema-data.ts`. Builtin options and every field the IR does not name (sparsity,
 * external buffers, `builtin_options_2`, …) go through here, so there is one code path for all
 * ~170 tables instead of one function per options type.
 *
 * Values: scalars as numbers (64-bit as number when exactly representable, else bigint), bools,
 * enum values by schema name (a number when the value is newer than the schema), strings,
 * `[ubyte]` as Uint8Array, other vectors as arrays, tables as objects keyed by camelCase field
 * name, unions as `{ type: MemberName, …fields }`.
 */
import { SCALAR_SIZE, type Builder, type ScalarKind, type Source, type TableRef } from './fb.js';
import { schemaData } from './gen/schema-data.js';
import type { Extra, RawUnion } from './model.js';
import type { SchemaField } from './schema-types.js';

const ALIASES: Record<string, ScalarKind> = {
  int8: 'byte', uint8: 'ubyte', int16: 'short', uint16: 'ushort', int32: 'int', uint32: 'uint',
  int64: 'long', uint64: 'ulong', float32: 'float', float64: 'double',
};

export function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

type Kind =
  | { k: 'scalar'; scalar: ScalarKind; enumName?: string }
  | { k: 'string' }
  | { k: 'table'; table: string }
  | { k: 'union'; union: string };

export interface FieldInfo {
  name: string;
  key: string;
  /** vtable slot of the value; a union's type byte sits in `slot − 1`. */
  slot: number;
  vector: boolean;
  kind: Kind;
  default?: number | bigint | boolean;
  deprecated: boolean;
}

export interface TableInfo {
  name: string;
  fields: FieldInfo[];
  byKey: Map<string, FieldInfo>;
  /** Slots the schema knows; any vtable entry at or past this is a newer field. */
  slots: number;
}

const enumValues = new Map<string, Map<number, string>>();
const enumByName = new Map<string, Map<string, number>>();
for (const [name, e] of Object.entries(schemaData.enums)) {
  enumValues.set(name, new Map(e.values.map(([n, v]) => [v, n])));
  enumByName.set(name, new Map(e.values));
}

function kindOf(type: string): Kind {
  if (type in SCALAR_SIZE) return { k: 'scalar', scalar: type as ScalarKind };
  if (type in ALIASES) return { k: 'scalar', scalar: ALIASES[type]! };
  if (type === 'string') return { k: 'string' };
  const e = schemaData.enums[type];
  if (e) return { k: 'scalar', scalar: (ALIASES[e.base] ?? e.base) as ScalarKind, enumName: type };
  if (schemaData.unions[type]) return { k: 'union', union: type };
  if (schemaData.tables[type]) return { k: 'table', table: type };
  throw new Error(`schema: unknown type ${type}`);
}

function defaultOf(f: SchemaField, kind: Kind): number | bigint | boolean | undefined {
  if (kind.k !== 'scalar') return undefined;
  const d = f.default;
  if (kind.scalar === 'bool') return d === 'true';
  let v: number;
  if (d === undefined) v = 0;
  else if (kind.enumName && enumByName.get(kind.enumName)!.has(d)) v = enumByName.get(kind.enumName)!.get(d)!;
  else v = Number(d);
  return kind.scalar === 'long' || kind.scalar === 'ulong' ? BigInt(v) : v;
}

const tableInfos = new Map<string, TableInfo>();
export function tableInfo(name: string): TableInfo {
  let info = tableInfos.get(name);
  if (info) return info;
  const decl = schemaData.tables[name];
  if (!decl) throw new Error(`schema: unknown table ${name}`);
  const fields: FieldInfo[] = [];
  let slot = 0;
  for (const f of decl) {
    const vector = f.type.startsWith('[');
    const kind = kindOf(vector ? f.type.slice(1, -1) : f.type);
    if (kind.k === 'union') slot++; // the implicit `<name>_type` byte comes first
    // `type` and `extra` are taken by the union tag and by newer fields (LSHProjectionOptions.type).
    const key = ['type', 'extra'].includes(camel(f.name)) ? `${camel(f.name)}_` : camel(f.name);
    fields.push({ name: f.name, key, slot, vector, kind, default: defaultOf(f, kind), deprecated: !!f.deprecated });
    slot++;
  }
  info = { name, fields, byKey: new Map(fields.map((f) => [f.key, f])), slots: slot };
  tableInfos.set(name, info);
  return info;
}

export function slotOf(table: string, field: string): number {
  const f = tableInfo(table).fields.find((x) => x.name === field);
  if (!f) throw new Error(`schema: ${table}.${field} does not exist`);
  return f.slot;
}

export function enumName(enumType: string, value: number): string | number {
  return enumValues.get(enumType)?.get(value) ?? value;
}

export function enumValue(enumType: string, name: string | number, what: string): number {
  if (typeof name === 'number') return name;
  const v = enumByName.get(enumType)?.get(name);
  if (v === undefined) throw new RangeError(`${what}: '${name}' is not a ${enumType}`);
  return v;
}

export function unionMembers(union: string): string[] {
  return schemaData.unions[union]!;
}

// --- reading --------------------------------------------------------------------------------

function toNumber(v: number | bigint | boolean): number | bigint | boolean {
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return v;
}

export function readScalarVector(src: Source, p: number, kind: ScalarKind, what: string): Array<number | bigint | boolean> {
  const size = SCALAR_SIZE[kind];
  const { start, n } = src.vector(p, size, what);
  src.spend(n, start);
  const out = new Array<number | bigint | boolean>(n);
  const v = src.view;
  // The common kinds without the per-element switch (bounds were checked for the whole vector).
  if (kind === 'int') {
    for (let i = 0; i < n; i++) out[i] = v.getInt32(start + 4 * i, true);
    return out;
  }
  if (kind === 'float') {
    for (let i = 0; i < n; i++) out[i] = v.getFloat32(start + 4 * i, true);
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = toNumber(src.scalar(kind, start + i * size));
  return out;
}

function readValue(src: Source, t: TableRef, f: FieldInfo, p: number, where: string): unknown {
  const what = `${where}.${f.name}`;
  const kind = f.kind;
  if (f.vector) {
    if (kind.k === 'scalar') {
      if (kind.scalar === 'ubyte' && !kind.enumName) {
        const { start, n } = src.vector(p, 1, what);
        return src.copy(start, n);
      }
      const vals = readScalarVector(src, p, kind.scalar, what);
      return kind.enumName ? vals.map((v) => enumName(kind.enumName!, v as number)) : vals;
    }
    const { start, n } = src.vector(p, 4, what);
    src.spend(n, start);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const q = start + 4 * i;
      if (kind.k === 'string') out.push(src.string(q, `${what}[${i}]`));
      else if (kind.k === 'table') out.push(readTable(src, src.deref(q, `${what}[${i}]`), kind.table, `${what}[${i}]`));
      else src.fail(q, `${what}: vectors of unions are not supported`);
    }
    return out;
  }
  switch (kind.k) {
    case 'scalar': {
      const v = toNumber(src.scalar(kind.scalar, p));
      return kind.enumName ? enumName(kind.enumName, v as number) : v;
    }
    case 'string':
      return src.string(p, what);
    case 'table':
      return readTable(src, src.deref(p, what), kind.table, what);
    case 'union': {
      const tp = src.field(t, f.slot - 1, 1);
      const type = tp ? src.u8(tp) : 0;
      return readUnion(src, kind.union, type, p, what);
    }
  }
}

/** A union value at field position `p` with type tag `type`: decoded when the schema knows the
 *  member, else kept raw so the writer can re-emit it. 0 = NONE → undefined. */
export function readUnion(src: Source, union: string, type: number, p: number, what: string): unknown {
  if (type === 0) return undefined;
  const member = unionMembers(union)[type - 1];
  const target = src.deref(p, what);
  if (!member) return { type, raw: rawRef(src, target) } satisfies RawUnion;
  return { type: member, ...readTable(src, target, member, `${what}<${member}>`) };
}

/** Decode a table generically. `fill`: include every scalar field, defaults where absent. */
export function readTable(src: Source, pos: number, table: string, what: string, fill = false): Record<string, unknown> {
  return readFields(src, src.table(pos, what), table, what, fill);
}

/** The fields of table `t` except `skip` (those the caller decodes itself); newer fields in
 *  `extra`. */
export function readFields(src: Source, t: TableRef, table: string, what: string, fill = false, skip?: ReadonlySet<string>): Record<string, unknown> {
  const info = tableInfo(table);
  const out: Record<string, unknown> = {};
  for (const f of info.fields) {
    if (skip?.has(f.name)) continue;
    const width = f.vector || f.kind.k !== 'scalar' ? 4 : SCALAR_SIZE[f.kind.scalar];
    const p = src.field(t, f.slot, width);
    if (p) {
      const v = readValue(src, t, f, p, what);
      if (v !== undefined) out[f.key] = v;
    } else if (fill && !f.vector && f.kind.k === 'scalar' && !f.deprecated) {
      const d = toNumber(f.default!);
      out[f.key] = f.kind.enumName ? enumName(f.kind.enumName, d as number) : d;
    }
  }
  const unknown = unknownSlots(src, t, info.slots);
  if (unknown) out.extra = { fields: { unknown } satisfies ExtraFields } satisfies Extra;
  return out;
}

/** What `Extra.fields` holds: schema fields the IR does not name (decoded generically) and
 *  vtable slots newer than the schema. */
export interface ExtraFields {
  known?: Record<string, unknown>;
  unknown?: UnknownField[];
}

/** The `extra` of an IR object: every field of `t` but the `modelled` ones, or undefined. */
export function readExtra(src: Source, t: TableRef, table: string, what: string, modelled: ReadonlySet<string>): Extra | undefined {
  const info = tableInfo(table);
  let byTable = restCache.get(modelled);
  if (!byTable) restCache.set(modelled, (byTable = new Map()));
  let rest = byTable.get(table);
  if (!rest) byTable.set(table, (rest = info.fields.filter((f) => !modelled.has(f.name))));
  // Nothing is allocated for the usual table that has no field beyond the IR's.
  let known: Record<string, unknown> | undefined;
  for (const f of rest) {
    const p = src.field(t, f.slot, widthOf(f));
    if (!p) continue;
    const v = readValue(src, t, f, p, what);
    if (v !== undefined) (known ??= {})[f.key] = v;
  }
  const unknown = unknownSlots(src, t, info.slots);
  if (!known && !unknown) return undefined;
  const fields: ExtraFields = {};
  if (known) fields.known = known;
  if (unknown) fields.unknown = unknown;
  return { fields };
}

const restCache = new WeakMap<ReadonlySet<string>, Map<string, FieldInfo[]>>();

function widthOf(f: FieldInfo): number {
  return f.vector || f.kind.k !== 'scalar' ? 4 : SCALAR_SIZE[f.kind.scalar];
}

// --- fields newer than the schema -----------------------------------------------------------

/** A newer field whose type the schema does not tell: its inline bytes, and when those look like
 *  an offset to an object in the file, a reference to the source so the writer can copy it. */
export interface UnknownField {
  slot: number;
  inline: Uint8Array;
  ref?: SourceRef;
}

/** A position in a source file; the writer copies [start, end of file) once per source and
 *  points into the copy, which keeps every relative offset inside it valid. */
export interface SourceRef {
  bytes: Uint8Array;
  start: number;
  target: number;
}

function rawRef(src: Source, target: number): SourceRef {
  let start = target;
  // A table's vtable usually sits just before it; include it in the copy.
  if (target + 4 <= src.length) {
    const vt = target - src.view.getInt32(target, true);
    if (vt >= 0 && vt < start) start = vt;
  }
  return { bytes: src.bytes, start, target };
}

export function unknownSlots(src: Source, t: TableRef, known: number): UnknownField[] | undefined {
  const total = (t.vtSize - 4) / 2;
  if (total <= known) return undefined;
  // Field sizes are not stored: infer each from the gap to the next field (or the table end).
  const offs: number[] = [];
  for (let s = 0; s < total; s++) offs.push(src.u16(t.vt + 4 + 2 * s));
  const sorted = [...new Set(offs.filter((o) => o > 0))].sort((a, b) => a - b);
  const fields: UnknownField[] = [];
  for (let s = known; s < total; s++) {
    const o = offs[s]!;
    if (!o) continue;
    const next = sorted.find((x) => x > o) ?? t.size;
    const gap = Math.min(next - o, 8);
    const size = gap >= 8 && o % 8 === 0 ? 8 : gap >= 4 ? 4 : gap >= 2 ? 2 : 1;
    src.need(t.pos + o, size, `unknown field ${s}`);
    const inline = src.bytes.slice(t.pos + o, t.pos + o + size);
    const field: UnknownField = { slot: s, inline };
    if (size === 4) {
      const p = t.pos + o;
      const target = p + src.view.getUint32(p, true);
      if (target > p && target % 4 === 0 && target + 4 <= src.length && looksLikeObject(src, target)) field.ref = rawRef(src, target);
    }
    fields.push(field);
  }
  return fields.length ? fields : undefined;
}

/** Heuristic for an unknown 4-byte field: does it point at a vector/string or a table? */
function looksLikeObject(src: Source, target: number): boolean {
  const n = src.view.getUint32(target, true);
  if (target + 4 + n <= src.length) return true;
  const vt = target - src.view.getInt32(target, true);
  if (vt < 0 || vt + 4 > src.length) return false;
  const vtSize = src.view.getUint16(vt, true);
  return vtSize >= 4 && vtSize % 2 === 0 && vt + vtSize <= src.length;
}

// --- writing --------------------------------------------------------------------------------

/** Places source copies for `SourceRef`s; one copy per source file, made before anything else. */
export class RefPlacer {
  private placed = new Map<Uint8Array, { start: number; offset: number }>();
  constructor(private readonly b: Builder) {}

  /** Place copies for every ref in `roots` (the `extra`s and raw unions of a model: refs live
   *  nowhere else, so the rest of the model is not walked). */
  prepare(roots: Iterable<unknown>): void {
    const starts = new Map<Uint8Array, number>();
    const walk = (v: unknown, depth: number): void => {
      if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || depth > 64) return;
      if (Array.isArray(v)) {
        for (const x of v) walk(x, depth + 1);
        return;
      }
      const r = v as Partial<SourceRef>;
      if (r.bytes instanceof Uint8Array && typeof r.start === 'number' && typeof r.target === 'number') {
        starts.set(r.bytes, Math.min(starts.get(r.bytes) ?? Infinity, r.start));
        return;
      }
      for (const x of Object.values(v)) walk(x, depth + 1);
    };
    for (const root of roots) walk(root, 0);
    for (const [bytes, start] of starts) {
      const offset = this.b.region(bytes.subarray(start), start);
      this.placed.set(bytes, { start, offset });
    }
  }

  offsetOf(ref: SourceRef): number {
    const p = this.placed.get(ref.bytes);
    if (!p) throw new Error('RefPlacer: ref not prepared');
    return p.offset - (ref.target - p.start);
  }
}

/** Write the children of every field of `obj` the schema knows (and of its `extra`), then
 *  return `emit`, which adds the fields themselves to the table the caller has started. */
export function prepareFields(b: Builder, table: string, obj: Record<string, unknown> | undefined, refs: RefPlacer, what = table): () => void {
  if (!obj) return () => {};
  const info = tableInfo(table);
  const children: [number, number][] = [];
  const unionTypes: [number, number][] = [];
  const scalars: [FieldInfo, number | bigint | boolean][] = [];
  for (const f of info.fields) {
    const v = obj[f.key];
    if (v === undefined || v === null) continue;
    if (f.kind.k === 'union' && !f.vector) {
      const u = writeUnion(b, f.kind.union, v as { type: string | number }, refs, `${what}.${f.name}`);
      unionTypes.push([f.slot - 1, u.type]);
      children.push([f.slot, u.offset]);
    } else if (f.vector || f.kind.k !== 'scalar') {
      children.push([f.slot, writeChild(b, f, v, refs, `${what}.${f.name}`)]);
    } else {
      const x = scalarOf(f, v, `${what}.${f.name}`);
      if (!isDefault(f, x)) scalars.push([f, x]);
    }
  }
  const ef = (obj.extra as Extra | undefined)?.fields as ExtraFields | undefined;
  const emitKnown = ef?.known ? prepareFields(b, table, ef.known, refs, what) : undefined;
  // Largest scalars first keeps the table tightly packed.
  scalars.sort(([x], [y]) => SCALAR_SIZE[(y.kind as { scalar: ScalarKind }).scalar] - SCALAR_SIZE[(x.kind as { scalar: ScalarKind }).scalar]);
  return () => {
    for (const f of ef?.unknown ?? []) {
      if (f.ref) b.offsetField(f.slot, refs.offsetOf(f.ref));
      else b.rawField(f.slot, f.inline);
    }
    emitKnown?.();
    for (const [slot, off] of children) b.offsetField(slot, off);
    for (const [f, x] of scalars) b.scalarField(f.slot, (f.kind as { scalar: ScalarKind }).scalar, x);
    for (const [slot, type] of unionTypes) b.scalarField(slot, 'ubyte', type);
  };
}

function isDefault(f: FieldInfo, v: unknown): boolean {
  if (f.default === undefined) return false;
  if (typeof f.default === 'bigint') return BigInt(v as number | bigint) === f.default;
  return v === f.default;
}

function scalarOf(f: FieldInfo, v: unknown, what: string): number | bigint | boolean {
  const kind = f.kind as Extract<Kind, { k: 'scalar' }>;
  if (kind.enumName && (typeof v === 'string' || typeof v === 'number')) return enumValue(kind.enumName, v, what);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return v;
  throw new TypeError(`${what}: expected a ${kind.enumName ?? kind.scalar}, got ${typeof v}`);
}

/** Children (vectors, strings, sub-tables) of a generic table, written before the table. */
function writeChild(b: Builder, f: FieldInfo, v: unknown, refs: RefPlacer, what: string): number {
  const kind = f.kind;
  if (f.vector) {
    if (kind.k === 'scalar') {
      if (v instanceof Uint8Array) return b.bytes(v, 1);
      const arr = v as unknown[];
      return b.scalarVector(kind.scalar, arr.map((x, i) => scalarOf(f, x, `${what}[${i}]`)));
    }
    const arr = v as unknown[];
    const offs = arr.map((x, i) => (kind.k === 'string' ? b.string(String(x)) : writeTable(b, (kind as { table: string }).table, x as Record<string, unknown>, refs, `${what}[${i}]`)));
    return b.offsetVector(offs);
  }
  if (kind.k === 'string') return b.string(String(v));
  if (kind.k === 'table') return writeTable(b, kind.table, v as Record<string, unknown>, refs, what);
  throw new Error('unreachable');
}

export function writeUnion(b: Builder, union: string, v: { type: string | number; raw?: unknown }, refs: RefPlacer, what: string): { type: number; offset: number } {
  if (typeof v.type === 'number') return { type: v.type, offset: refs.offsetOf(v.raw as SourceRef) };
  const idx = unionMembers(union).indexOf(v.type);
  if (idx < 0) throw new RangeError(`${what}: '${v.type}' is not a member of ${union}`);
  return { type: idx + 1, offset: writeTable(b, v.type, v as Record<string, unknown>, refs, what) };
}

/** Encode a generic table. Scalars equal to their default are not stored (as flatc builders do). */
export function writeTable(b: Builder, table: string, obj: Record<string, unknown>, refs: RefPlacer, what = table): number {
  const emit = prepareFields(b, table, obj, refs, what);
  b.startTable();
  emit();
  return b.endTable();
}
