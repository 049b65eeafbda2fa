import type { AttrJson } from '../attrs.js';
import type { DType } from '../dtype.js';
import type { Node } from '../graph.js';
import type { Shape } from '../tensor.js';

/** Kinds of attribute an op declares (TF's OpDef attr types). */
export type AttrType =
  | 'string' | 'int' | 'float' | 'bool' | 'type' | 'shape' | 'tensor' | 'func'
  | 'list(string)' | 'list(int)' | 'list(float)' | 'list(bool)' | 'list(type)' | 'list(shape)' | 'list(tensor)' | 'list(func)';

export type AttrDefault = string | number | boolean | null | (string | number | boolean | null | Shape)[] | Shape;

export interface AttrDef {
  name: string;
  type: AttrType;
  /** TF's default, in plain form (dtypes by our short name, shapes as number[] or null); absent = required. */
  default?: AttrDefault;
  /** TF release that added the attr (absent: present in TF 1.15). */
  since?: string;
}

/** One input or output argument of an op. Exactly one of type/typeAttr/typeListAttr is set. */
export interface ArgDef {
  name: string;
  /** fixed element type */
  type?: DType;
  /** name of a `type` attr giving the element type */
  typeAttr?: string;
  /** name of an `int` attr: the arg holds that many tensors */
  numberAttr?: string;
  /** name of a `list(type)` attr: one tensor per listed type */
  typeListAttr?: string;
  /** reference (Ref(T)) argument */
  isRef?: boolean;
}

/** What inference knows about one tensor. */
export interface TensorInfo {
  dtype: DType;
  /** -1 for unknown dims; null for unknown rank */
  shape: Shape | null;
  /** Known element values (row-major, NaN = unknown element); only kept for small tensors. */
  value?: number[];
}

/** Result of a shape function for one output; dtype defaults to what the op's arg says. */
export interface OutputInfo {
  shape: Shape | null;
  value?: number[];
  dtype?: DType;
}

export interface ShapeContext {
  readonly node: Node;
  readonly def: OpDef;
  /** data inputs in order (unknown producers give dtype 'invalid', shape null) */
  readonly inputs: readonly TensorInfo[];
  readonly numOutputs: number;
  /** Tensors of a named input arg. */
  args(name: string): TensorInfo[];
  /** First tensor of a named input arg (or an unknown tensor). */
  arg(name: string): TensorInfo;
  /** Known values of a named input arg (undefined when not fully known). */
  value(name: string): number[] | undefined;
  /** Attr value, falling back to the op's TF default. */
  int(name: string): number;
  ints(name: string): number[];
  float(name: string): number;
  bool(name: string): boolean;
  str(name: string): string;
  type(name: string): DType | undefined;
  shapeAttr(name: string): Shape | null;
  /** Info already inferred for any tensor of the graph (`n` / `n:k`), e.g. to follow resource handles. */
  lookup(tensor: string): TensorInfo | undefined;
  /** The graph's producer version (0 when the GraphDef has no `versions`). */
  readonly producerVersion: number;
}

/** Computes output shapes (and small values) of a node; may return fewer entries than outputs. */
export type ShapeFn = (c: ShapeContext) => OutputInfo[];

/**
 * How an op moves values, for code that looks through ops (to the Const behind `…/read`, past
 * pass-throughs when counting cost, past shape-only ops to a fake quant):
 *  - identity: output 0 is input 0, unchanged (Identity, Snapshot, StopGradient, …)
 *  - identityN: output k is input k (IdentityN)
 *  - enter: its input, brought into a while-loop frame (Enter)
 *  - default: its input unless the node is fed (PlaceholderWithDefault)
 *  - reshape: the same values in a new shape (Reshape, Squeeze, ExpandDims)
 *  - fakeQuant: its input rounded to a quantization grid (FakeQuantWithMinMax*)
 *  - variable: holds a variable's value (Variable, VariableV2, VarHandleOp)
 *  - readVariable: reads a resource variable (ReadVariableOp)
 */
export type OpRole = 'identity' | 'identityN' | 'enter' | 'default' | 'reshape' | 'fakeQuant' | 'variable' | 'readVariable';

export interface OpDef {
  name: string;
  inputs: ArgDef[];
  outputs: ArgDef[];
  attrs: AttrDef[];
  isStateful: boolean;
  shape?: ShapeFn;
  /** What the op does to values, when it only forwards, reshapes, fake-quantizes or holds them. */
  role?: OpRole;
}

export type { AttrJson };
