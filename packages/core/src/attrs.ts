import { create } from '@bufbuild/protobuf';
import { AttrValueSchema, AttrValue_ListValueSchema, NameAttrListSchema, type AttrValue, type NameAttrList } from './gen/tensorflow/core/framework/attr_value_pb.js';
import { type DType, dtypeFromEnum, dtypeToEnum } from './dtype.js';
import { TfpassError } from './errors.js';
import { Tensor, shapeFromProto, shapeToProto, tensorFromProto, tensorToProto, type Shape } from './tensor.js';

export type AttrKind =
  | 's' | 'i' | 'f' | 'b' | 'type' | 'shape' | 'tensor' | 'func' | 'placeholder'
  | 'list(s)' | 'list(i)' | 'list(f)' | 'list(b)' | 'list(type)' | 'list(shape)' | 'list(tensor)' | 'list(func)' | 'list';

export interface FuncAttr {
  name: string;
  attrs: Record<string, AttrJson>;
}

/** A plain, JSON-safe description of an attribute value (int64 as number or bigint). */
export type AttrJson =
  | { s: string } | { i: number } | { f: number } | { b: boolean } | { type: DType }
  | { shape: Shape | null } | { tensor: Tensor } | { func: FuncAttr } | { placeholder: string }
  | { list: { s?: string[]; i?: number[]; f?: number[]; b?: boolean[]; type?: DType[]; shape?: (Shape | null)[]; tensor?: Tensor[]; func?: FuncAttr[] } };

const dec = new TextDecoder();
const enc = new TextEncoder();

function wrongKind(name: string, want: string, got: AttrValue | undefined): never {
  throw new TfpassError('E_GRAPH_VALIDATION', `attr '${name}': expected ${want}, found ${got ? attrKind(got) : 'nothing'}`);
}

export function attrKind(v: AttrValue): AttrKind {
  const c = v.value.case;
  if (c === 'list') {
    const l = v.value.value;
    if (l.s.length) return 'list(s)';
    if (l.i.length) return 'list(i)';
    if (l.f.length) return 'list(f)';
    if (l.b.length) return 'list(b)';
    if (l.type.length) return 'list(type)';
    if (l.shape.length) return 'list(shape)';
    if (l.tensor.length) return 'list(tensor)';
    if (l.func.length) return 'list(func)';
    return 'list';
  }
  return (c ?? 'list') as AttrKind;
}

function funcToJson(f: NameAttrList): FuncAttr {
  const attrs: Record<string, AttrJson> = {};
  for (const [k, v] of Object.entries(f.attr)) attrs[k] = attrToJson(v);
  return { name: f.name, attrs };
}

function funcFromJson(f: FuncAttr): NameAttrList {
  const attr: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(f.attrs)) attr[k] = attrFromJson(v);
  return create(NameAttrListSchema, { name: f.name, attr });
}

export function attrToJson(v: AttrValue): AttrJson {
  const val = v.value;
  switch (val.case) {
    case 's': return { s: dec.decode(val.value) };
    case 'i': return { i: Number(val.value) };
    case 'f': return { f: val.value };
    case 'b': return { b: val.value };
    case 'type': return { type: dtypeFromEnum(val.value) };
    case 'shape': return { shape: shapeFromProto(val.value) };
    case 'tensor': return { tensor: tensorFromProto(val.value) };
    case 'func': return { func: funcToJson(val.value) };
    case 'placeholder': return { placeholder: val.value };
    case 'list': {
      const l = val.value;
      const out: Extract<AttrJson, { list: unknown }>['list'] = {};
      if (l.s.length) out.s = l.s.map((x) => dec.decode(x));
      if (l.i.length) out.i = l.i.map(Number);
      if (l.f.length) out.f = [...l.f];
      if (l.b.length) out.b = [...l.b];
      if (l.type.length) out.type = l.type.map(dtypeFromEnum);
      if (l.shape.length) out.shape = l.shape.map(shapeFromProto);
      if (l.tensor.length) out.tensor = l.tensor.map(tensorFromProto);
      if (l.func.length) out.func = l.func.map(funcToJson);
      return { list: out };
    }
    default: return { list: {} };
  }
}

export function attrFromJson(j: AttrJson): AttrValue {
  if ('s' in j) return create(AttrValueSchema, { value: { case: 's', value: enc.encode(j.s) } });
  if ('i' in j) return create(AttrValueSchema, { value: { case: 'i', value: BigInt(j.i) } });
  // float attrs are 32-bit on the wire: round now so what a pass reads back is what gets written.
  if ('f' in j) return create(AttrValueSchema, { value: { case: 'f', value: Math.fround(j.f) } });
  if ('b' in j) return create(AttrValueSchema, { value: { case: 'b', value: j.b } });
  if ('type' in j) return create(AttrValueSchema, { value: { case: 'type', value: dtypeToEnum(j.type) } });
  if ('shape' in j) return create(AttrValueSchema, { value: { case: 'shape', value: shapeToProto(j.shape) } });
  if ('tensor' in j) return create(AttrValueSchema, { value: { case: 'tensor', value: tensorToProto(j.tensor) } });
  if ('func' in j) return create(AttrValueSchema, { value: { case: 'func', value: funcFromJson(j.func) } });
  if ('placeholder' in j) return create(AttrValueSchema, { value: { case: 'placeholder', value: j.placeholder } });
  const l = j.list;
  return create(AttrValueSchema, {
    value: {
      case: 'list',
      value: create(AttrValue_ListValueSchema, {
        s: (l.s ?? []).map((x) => enc.encode(x)),
        i: (l.i ?? []).map((x) => BigInt(x)),
        f: (l.f ?? []).map(Math.fround),
        b: l.b ?? [],
        type: (l.type ?? []).map(dtypeToEnum),
        shape: (l.shape ?? []).map(shapeToProto),
        tensor: (l.tensor ?? []).map((t) => tensorToProto(t)),
        func: (l.func ?? []).map(funcFromJson),
      }),
    },
  });
}

/**
 * Typed view over a node's attribute map. Getters throw a typed error when the attr has
 * another kind; `opt*` getters return a default when absent. Tensor values are decoded on
 * demand, so untouched attributes round-trip byte for byte.
 */
export class Attrs {
  /** @internal */
  constructor(private readonly map: { [k: string]: AttrValue }, private readonly onChange?: () => void, private readonly owner?: () => string) {}

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.map, name);
  }
  keys(): string[] {
    return Object.keys(this.map).sort();
  }
  delete(name: string): boolean {
    if (!this.has(name)) return false;
    delete this.map[name];
    this.onChange?.();
    return true;
  }
  kind(name: string): AttrKind | undefined {
    const v = this.map[name];
    return v ? attrKind(v) : undefined;
  }
  /** Plain copy of one attribute (undefined if absent). */
  getJson(name: string): AttrJson | undefined {
    const v = this.map[name];
    return v ? attrToJson(v) : undefined;
  }
  setJson(name: string, value: AttrJson): this {
    this.map[name] = attrFromJson(value);
    this.onChange?.();
    return this;
  }
  /** Copy one attribute from another view unchanged (keeps bytes and unknown fields). */
  copyFrom(other: Attrs, name: string, as = name): this {
    const v = other.map[name];
    if (v) {
      this.map[as] = v;
      this.onChange?.();
    }
    return this;
  }
  /** @internal raw access for core codecs */
  raw(): { [k: string]: AttrValue } {
    return this.map;
  }

  private get(name: string, c: string): AttrValue['value'] {
    const v = this.map[name];
    if (!v || v.value.case !== c) wrongKind(name, c, v);
    return v.value;
  }

  getString(name: string): string { return dec.decode(this.get(name, 's').value as Uint8Array); }
  getBytes(name: string): Uint8Array { return this.get(name, 's').value as Uint8Array; }
  getInt(name: string): number { return Number(this.get(name, 'i').value as bigint); }
  getFloat(name: string): number { return this.get(name, 'f').value as number; }
  getBool(name: string): boolean { return this.get(name, 'b').value as boolean; }
  getType(name: string): DType { return dtypeFromEnum(this.get(name, 'type').value as number); }
  getShape(name: string): Shape | null { return shapeFromProto(this.get(name, 'shape').value as never); }
  getTensor(name: string): Tensor {
    try {
      return tensorFromProto(this.get(name, 'tensor').value as never);
    } catch (e) {
      // Decoding errors (bad dtype, content size, the size limit) name the node: they cannot.
      if (this.owner && e instanceof TfpassError && e.code !== 'E_INTERNAL') e.message = `node '${this.owner()}', attr '${name}': ${e.message}`;
      throw e;
    }
  }
  /** dtype, shape and element count of a tensor attr, read from the proto (values are not decoded). */
  getTensorInfo(name: string): { dtype: DType; shape: Shape; size: number } {
    const p = this.get(name, 'tensor').value as { dtype: number; tensorShape?: never };
    const shape = shapeFromProto(p.tensorShape) ?? [];
    return { dtype: dtypeFromEnum(p.dtype), shape, size: shape.reduce((a, d) => a * Math.max(0, d), 1) };
  }
  getFunc(name: string): FuncAttr { return funcToJson(this.get(name, 'func').value as NameAttrList); }

  private list(name: string) {
    const v = this.map[name];
    if (!v || v.value.case !== 'list') wrongKind(name, 'list', v);
    return v.value.value;
  }
  getInts(name: string): number[] { return this.list(name).i.map(Number); }
  getFloats(name: string): number[] { return [...this.list(name).f]; }
  getStrings(name: string): string[] { return this.list(name).s.map((x) => dec.decode(x)); }
  getBools(name: string): boolean[] { return [...this.list(name).b]; }
  getTypes(name: string): DType[] { return this.list(name).type.map(dtypeFromEnum); }
  getShapes(name: string): (Shape | null)[] { return this.list(name).shape.map(shapeFromProto); }
  getTensors(name: string): Tensor[] { return this.list(name).tensor.map(tensorFromProto); }
  getFuncs(name: string): FuncAttr[] { return this.list(name).func.map(funcToJson); }
  /** Name of the function attr this attr stands for (function bodies only). */
  getPlaceholder(name: string): string { return this.get(name, 'placeholder').value as string; }

  optString(name: string, d: string): string { return this.has(name) ? this.getString(name) : d; }
  optInt(name: string, d: number): number { return this.has(name) ? this.getInt(name) : d; }
  optFloat(name: string, d: number): number { return this.has(name) ? this.getFloat(name) : d; }
  optBool(name: string, d: boolean): boolean { return this.has(name) ? this.getBool(name) : d; }
  optType(name: string): DType | undefined { return this.has(name) ? this.getType(name) : undefined; }
  optInts(name: string, d: number[]): number[] { return this.has(name) ? this.getInts(name) : d; }
  optShape(name: string): Shape | null | undefined { return this.has(name) ? this.getShape(name) : undefined; }

  setString(name: string, v: string): this { return this.setJson(name, { s: v }); }
  setInt(name: string, v: number): this { return this.setJson(name, { i: v }); }
  setFloat(name: string, v: number): this { return this.setJson(name, { f: v }); }
  setBool(name: string, v: boolean): this { return this.setJson(name, { b: v }); }
  setType(name: string, v: DType): this { return this.setJson(name, { type: v }); }
  setShape(name: string, v: Shape | null): this { return this.setJson(name, { shape: v }); }
  setTensor(name: string, v: Tensor): this { return this.setJson(name, { tensor: v }); }
  setFunc(name: string, v: FuncAttr): this { return this.setJson(name, { func: v }); }
  setInts(name: string, v: number[]): this { return this.setJson(name, { list: { i: v } }); }
  setFloats(name: string, v: number[]): this { return this.setJson(name, { list: { f: v } }); }
  setStrings(name: string, v: string[]): this { return this.setJson(name, { list: { s: v } }); }
  setTypes(name: string, v: DType[]): this { return this.setJson(name, { list: { type: v } }); }
  setShapes(name: string, v: (Shape | null)[]): this { return this.setJson(name, { list: { shape: v } }); }
  setBools(name: string, v: boolean[]): this { return this.setJson(name, { list: { b: v } }); }
  setTensors(name: string, v: Tensor[]): this { return this.setJson(name, { list: { tensor: v } }); }
  setFuncs(name: string, v: FuncAttr[]): this { return this.setJson(name, { list: { func: v } }); }
  setPlaceholder(name: string, v: string): this { return this.setJson(name, { placeholder: v }); }
}
