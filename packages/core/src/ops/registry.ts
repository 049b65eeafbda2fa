import type { AttrJson } from '../attrs.js';
import { type DType, parseDType } from '../dtype.js';
import { TfpassError, UnsupportedOpError, nearest } from '../errors.js';
import type { Node } from '../graph.js';
import type { ArgDef, AttrDef, AttrDefault, AttrType, OpDef, OpRole, ShapeFn } from './types.js';

// ---- compact notation -------------------------------------------------------------------
//
// The table is written in a terse notation so ~200 ops stay readable:
//   args:  'input:T, filter:T'   'values:N*T'   'shape:int32'   'ref:&T'   'outs:Tlist'
//   attrs: 'T:type; strides:list(int); padding:string; data_format:string="NHWC"; x:float=0.5@2.2'
// An attr default is JSON (dtypes as bare names); `@ver` marks an attr added after TF 1.15.

const ATTR_TYPES = new Set<AttrType>([
  'string', 'int', 'float', 'bool', 'type', 'shape', 'tensor', 'func',
  'list(string)', 'list(int)', 'list(float)', 'list(bool)', 'list(type)', 'list(shape)', 'list(tensor)', 'list(func)',
]);

function specError(op: string, detail: string): never {
  throw new TfpassError('E_INTERNAL', `op table entry '${op}': ${detail}`);
}

export function parseAttrs(op: string, src: string): AttrDef[] {
  if (!src.trim()) return [];
  return src.split(';').map((part) => {
    const s = part.trim();
    const m = /^(\w+):([\w()]+)(?:=(.*?))?(?:@([\d.]+))?$/.exec(s);
    if (!m) specError(op, `bad attr '${s}'`);
    const [, name, type, def, since] = m;
    if (!ATTR_TYPES.has(type as AttrType)) specError(op, `attr '${name}' has unknown type '${type}'`);
    const a: AttrDef = { name: name!, type: type as AttrType };
    if (def !== undefined) {
      if (type === 'type') {
        const d = parseDType(def);
        if (!d) specError(op, `attr '${name}' default '${def}' is not a dtype`);
        a.default = d;
      } else if (type === 'list(type)') {
        a.default = (JSON.parse(def) as string[]).map((x) => parseDType(x) ?? specError(op, `bad dtype ${x}`));
      } else {
        a.default = JSON.parse(def) as AttrDefault;
      }
    }
    if (since) a.since = since;
    return a;
  });
}

export function parseArgs(op: string, src: string, attrs: AttrDef[]): ArgDef[] {
  if (!src.trim()) return [];
  const kinds = new Map(attrs.map((a) => [a.name, a.type]));
  return src.split(',').map((part) => {
    const s = part.trim();
    const m = /^(\w+):(&?)(?:(\w+)\*)?(\w+)$/.exec(s);
    if (!m) specError(op, `bad arg '${s}'`);
    const [, name, ref, num, ty] = m;
    const arg: ArgDef = { name: name! };
    if (ref) arg.isRef = true;
    if (num) {
      if (kinds.get(num) !== 'int') specError(op, `arg '${name}': '${num}' is not an int attr`);
      arg.numberAttr = num;
    }
    const k = kinds.get(ty!);
    if (k === 'type') arg.typeAttr = ty!;
    else if (k === 'list(type)') {
      if (num) specError(op, `arg '${name}': a type list cannot have a count`);
      arg.typeListAttr = ty!;
    } else {
      const d = parseDType(ty!);
      if (!d) specError(op, `arg '${name}': '${ty}' is neither a type attr nor a dtype`);
      arg.type = d;
    }
    return arg;
  });
}

export interface OpSpec {
  /** 'in1:T, in2:T -> out:T' */
  sig: string;
  attrs?: string;
  shape?: ShapeFn;
  stateful?: boolean;
  role?: OpRole;
}

export function defineOp(name: string, spec: OpSpec): OpDef {
  const attrs = parseAttrs(name, spec.attrs ?? '');
  const [ins, outs] = spec.sig.split('->');
  if (outs === undefined) specError(name, `signature '${spec.sig}' has no '->'`);
  return {
    name,
    inputs: parseArgs(name, ins!, attrs),
    outputs: parseArgs(name, outs, attrs),
    attrs,
    isStateful: spec.stateful ?? false,
    ...(spec.shape ? { shape: spec.shape } : {}),
    ...(spec.role ? { role: spec.role } : {}),
  };
}

// ---- registry ---------------------------------------------------------------------------

const table = new Map<string, OpDef>();

/** Add (or replace) op definitions, e.g. a plugin's custom ops. */
export function registerOpDefs(defs: Iterable<OpDef>): void {
  for (const d of defs) table.set(d.name, d);
}

/** The op's definition, or undefined for ops the table does not know. */
export function getOpDef(op: string): OpDef | undefined {
  return table.get(op);
}

/** Every op name in the table, sorted. */
export function opNames(): string[] {
  return [...table.keys()].sort();
}

// ---- roles: what an op does to values (see OpRole) ---------------------------------------
// Read from the live registry, so a plugin op registered with a role is seen too.

/** The op's role, or undefined for ordinary ops and ops outside the table. */
export function opRole(op: string): OpRole | undefined {
  return table.get(op)?.role;
}

/** Output 0 is input 0 unchanged: Identity, Snapshot, StopGradient, PreventGradient, CheckNumerics. */
export function isIdentityLike(op: string): boolean {
  return table.get(op)?.role === 'identity';
}

/** A variable: Variable, VariableV2, VarHandleOp (not ReadVariableOp, which reads one). */
export function isVariableOp(op: string): boolean {
  return table.get(op)?.role === 'variable';
}

/** Ops with any of these roles, as a set; a snapshot of the table at the time of the call. */
export function opsWith(...roles: OpRole[]): ReadonlySet<string> {
  const want = new Set(roles);
  const out = new Set<string>();
  for (const d of table.values()) if (d.role && want.has(d.role)) out.add(d.name);
  return out;
}

/** TF version order: '1.15' < '2.2' < '2.11'. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** Default TF version the table's defaults target (the toolchain tfpass replaces). */
export const DEFAULT_TF_VERSION = '1.15';

/** An attr default as an AttrJson value (ready for `node.attrs.setJson`). */
export function attrDefaultJson(a: AttrDef): AttrJson | undefined {
  const v = a.default;
  if (v === undefined) return undefined;
  switch (a.type) {
    case 'string': return { s: v as string };
    case 'int': return { i: v as number };
    case 'float': return { f: v as number };
    case 'bool': return { b: v as boolean };
    case 'type': return { type: v as DType };
    case 'shape': return { shape: v as number[] | null };
    case 'list(string)': return { list: { s: v as string[] } };
    case 'list(int)': return { list: { i: v as number[] } };
    case 'list(float)': return { list: { f: v as number[] } };
    case 'list(bool)': return { list: { b: v as boolean[] } };
    case 'list(type)': return { list: { type: v as DType[] } };
    case 'list(shape)': return { list: { shape: v as (number[] | null)[] } };
    default: return { list: {} };
  }
}

/**
 * Attrs with a TF default, as AttrJson. By default only attrs TF 1.15 knows are returned (a TF 1.15
 * runtime rejects NodeDefs with attrs its OpDef lacks); pass `tfVersion: '2.15'` for newer ones.
 * Ops missing from the table give undefined, or with `strict` an UnsupportedOpError naming
 * `node` (TF's add_default_attributes fails there).
 */
export function defaultAttrs(op: string, opts?: { tfVersion?: string; node?: string; strict?: false }): Record<string, AttrJson> | undefined;
export function defaultAttrs(op: string, opts: { tfVersion?: string; node?: string; strict: true }): Record<string, AttrJson>;
export function defaultAttrs(op: string, opts: { tfVersion?: string; node?: string; strict?: boolean } = {}): Record<string, AttrJson> | undefined {
  const def = table.get(op);
  if (!def) {
    if (opts.strict) throw new UnsupportedOpError(op, opts.node ?? '?', `not in the op table${hint(op)}`);
    return undefined;
  }
  const ver = opts.tfVersion ?? DEFAULT_TF_VERSION;
  const out: Record<string, AttrJson> = {};
  for (const a of def.attrs) {
    if (a.since && compareVersions(a.since, ver) > 0) continue;
    const j = attrDefaultJson(a);
    if (j) out[a.name] = j;
  }
  return out;
}

function hint(op: string): string {
  const near = nearest(op, table.keys());
  return near.length ? `; did you mean ${near.map((x) => `'${x}'`).join(', ')}?` : '';
}

/** Number of tensors an arg holds on a node (variadic args read their attr; 1 otherwise). */
export function argLength(def: OpDef, arg: ArgDef, node?: Node): number | undefined {
  if (arg.numberAttr) {
    if (node?.attrs.has(arg.numberAttr)) return node.attrs.getInt(arg.numberAttr);
    const d = def.attrs.find((a) => a.name === arg.numberAttr)?.default;
    return typeof d === 'number' ? d : undefined;
  }
  if (arg.typeListAttr) {
    if (node?.attrs.has(arg.typeListAttr)) return node.attrs.getTypes(arg.typeListAttr).length;
    const d = def.attrs.find((a) => a.name === arg.typeListAttr)?.default;
    return Array.isArray(d) ? d.length : undefined;
  }
  return 1;
}

/**
 * Position range [start, end) of each arg in a node's data inputs (or outputs). When one variadic
 * length is unknown (attr missing), it is solved from the node's actual input count.
 */
export function argRanges(def: OpDef, node: Node | undefined, which: 'inputs' | 'outputs' = 'inputs'): Map<string, { start: number; end: number }> {
  const args = def[which];
  const lens = args.map((a) => argLength(def, a, node));
  const unknown = lens.filter((l) => l === undefined).length;
  if (unknown === 1 && node && which === 'inputs') {
    const known = lens.reduce<number>((s, l) => s + (l ?? 0), 0);
    lens[lens.indexOf(undefined)] = Math.max(0, node.dataInputs.length - known);
  }
  const out = new Map<string, { start: number; end: number }>();
  let pos = 0;
  for (let i = 0; i < args.length; i++) {
    const len = lens[i] ?? 0;
    out.set(args[i]!.name, { start: pos, end: pos + len });
    pos += len;
  }
  return out;
}

/** Range [start, end) of a named input arg on a node. */
export function inputRange(op: string, argName: string, node?: Node): { start: number; end: number } {
  const def = table.get(op);
  if (!def) throw new UnsupportedOpError(op, node?.name ?? '?', `not in the op table${hint(op)}`);
  const r = argRanges(def, node).get(argName);
  if (!r) {
    const names = def.inputs.map((a) => a.name);
    throw new TfpassError('E_INTERNAL', `op '${op}' has no input '${argName}' (inputs: ${names.join(', ')})`);
  }
  return r;
}

/** Index of a named input arg among a node's data inputs (first tensor of a variadic arg). */
export function inputIndex(op: string, argName: string, node?: Node): number {
  return inputRange(op, argName, node).start;
}

/** The input string feeding a named arg of a node, e.g. `inputOf(conv, 'filter')`. */
export function inputOf(node: Node, argName: string, k = 0): string | undefined {
  const r = inputRange(node.op, argName, node);
  return r.start + k < r.end ? node.dataInputs[r.start + k] : undefined;
}

/** Number of outputs of a node according to the table (undefined for unknown ops). */
export function numOutputs(node: Node): number | undefined {
  const def = table.get(node.op);
  if (!def) return undefined;
  let n = 0;
  for (const a of def.outputs) {
    const l = argLength(def, a, node);
    if (l === undefined) return undefined;
    n += l;
  }
  return n;
}
