import type { AttrJson } from '../attrs.js';
import { ALL_DTYPES, type DType } from '../dtype.js';
import { TfpassError } from '../errors.js';
import type { Graph, Node } from '../graph.js';
import { getOpDef } from '../ops/index.js';
import type { AttrType } from '../ops/types.js';
import { Tensor, type Shape } from '../tensor.js';

/** An attribute as a plain value; its AttrValue kind comes from the op table. */
export type PlainAttr =
  | string | number | boolean | null | Tensor | Shape
  | readonly string[] | readonly number[] | readonly boolean[] | readonly (Shape | null)[] | readonly Tensor[]
  /** Escape hatch for attrs the op table does not declare: the AttrValue in JSON form. */
  | { attr: AttrJson };

export type PlainAttrs = Record<string, PlainAttr | undefined>;

export interface NodeOptions {
  /** Wanted name; made unique (`name_1`, …) unless `exact`. Default `<scope>/<op>`. */
  name?: string;
  exact?: boolean;
  /** Default: the builder's device (the rewritten node's). */
  device?: string;
}

const DTYPES = new Set<string>(ALL_DTYPES);

function bad(op: string, name: string, want: string, v: unknown): never {
  throw new TfpassError('E_USAGE', `builder: attr '${name}' of ${op} wants ${want}, got ${JSON.stringify(v)}`);
}

function kindOf(op: string, name: string, type: AttrType, v: PlainAttr): AttrJson {
  const list = (key: 's' | 'i' | 'f' | 'b' | 'type' | 'shape' | 'tensor'): AttrJson => {
    if (!Array.isArray(v)) bad(op, name, type, v);
    return { list: { [key]: v } } as AttrJson;
  };
  switch (type) {
    case 'string': return typeof v === 'string' ? { s: v } : bad(op, name, 'a string', v);
    case 'int': return typeof v === 'number' && Number.isInteger(v) ? { i: v } : bad(op, name, 'an integer', v);
    case 'float': return typeof v === 'number' ? { f: v } : bad(op, name, 'a number', v);
    case 'bool': return typeof v === 'boolean' ? { b: v } : bad(op, name, 'a boolean', v);
    case 'type': return typeof v === 'string' && DTYPES.has(v) ? { type: v as DType } : bad(op, name, 'a dtype name (float32, int32, …)', v);
    case 'shape': return v === null || Array.isArray(v) ? { shape: v as Shape | null } : bad(op, name, 'a shape (number[] or null)', v);
    case 'tensor': return v instanceof Tensor ? { tensor: v } : bad(op, name, 'a Tensor', v);
    case 'list(string)': return list('s');
    case 'list(int)': return list('i');
    case 'list(float)': return list('f');
    case 'list(bool)': return list('b');
    case 'list(type)': return list('type');
    case 'list(shape)': return list('shape');
    case 'list(tensor)': return list('tensor');
    default: return bad(op, name, `an { attr } value (${type})`, v);
  }
}

/** An attr the op table does not declare (`_class`, an unknown op's): kind from the JS value. */
function guessKind(op: string, name: string, v: PlainAttr): AttrJson {
  if (typeof v === 'boolean') return { b: v };
  if (typeof v === 'string') return { s: v };
  if (v instanceof Tensor) return { tensor: v };
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return { list: { s: v as string[] } };
  return bad(op, name, 'an { attr: … } value (the op table does not declare it, so its kind is unknown)', v);
}

/** Plain attribute values to AttrValue JSON, typed by the op's declaration in the op table. */
export function plainAttrs(op: string, attrs: PlainAttrs): Record<string, AttrJson> {
  const def = getOpDef(op);
  const out: Record<string, AttrJson> = {};
  for (const [name, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (v !== null && typeof v === 'object' && 'attr' in v && !Array.isArray(v)) {
      out[name] = v.attr;
      continue;
    }
    const a = def?.attrs.find((x) => x.name === name);
    if (a) out[name] = kindOf(op, name, a.type, v);
    else if (def && !name.startsWith('_')) throw new TfpassError('E_USAGE', `builder: ${op} has no attr '${name}' (it has ${def.attrs.map((x) => x.name).join(', ') || 'none'})`);
    else out[name] = guessKind(op, name, v);
  }
  return out;
}

/**
 * Makes nodes for a rewrite: names under a scope, the rewritten node's device, attributes as
 * plain values. Remembers what it created so the driver can look at the new nodes again.
 */
export class Builder {
  readonly created: Node[] = [];
  constructor(
    readonly graph: Graph,
    /** Default name prefix of new nodes. */
    readonly scope = '',
    readonly device = '',
  ) {}

  /** `b.op('BiasAdd', [x, c], { T: 'float32', data_format: 'NCHW' })`. */
  op(op: string, inputs: readonly string[], attrs: PlainAttrs = {}, opts: NodeOptions = {}): Node {
    const want = opts.name ?? (this.scope ? `${this.scope}/${op}` : op);
    const name = opts.exact ? want : this.graph.uniqueName(want);
    const n = this.graph.addNode({ name, op, inputs: [...inputs], attrs: plainAttrs(op, attrs), device: opts.device ?? this.device });
    this.created.push(n);
    return n;
  }

  /** A `Const` holding `value`. */
  const(value: Tensor, opts: NodeOptions = {}): Node {
    return this.op('Const', [], { dtype: value.dtype, value }, opts);
  }

  /**
   * Turn `node` into another op in place: it keeps its name (so readers and outputs stay
   * valid), its attributes are replaced by `attrs`, its inputs by `inputs`.
   */
  become(node: Node, op: string, inputs: readonly string[], attrs: PlainAttrs = {}): Node {
    node.op = op;
    for (const k of node.attrs.keys()) node.attrs.delete(k);
    for (const [k, v] of Object.entries(plainAttrs(op, attrs))) node.setAttr(k, v);
    node.setInputs(inputs);
    this.created.push(node);
    return node;
  }

  /**
   * `head` takes over `src`'s body: its op and attributes (and device, when asked) with the
   * given inputs, keeping its own name; `src` is removed. How a fold replaces a chain while the
   * chain's last node, which readers and outputs refer to, keeps its name.
   */
  absorb(head: Node, src: Node, inputs: readonly string[], opts: { device?: boolean } = {}): Node {
    head.op = src.op;
    if (opts.device) head.device = src.device;
    for (const k of head.attrs.keys()) head.attrs.delete(k);
    for (const k of src.attrs.keys()) head.attrs.copyFrom(src.attrs, k);
    head.setInputs(inputs);
    this.graph.removeNode(src.name);
    this.created.push(head);
    return head;
  }
}
