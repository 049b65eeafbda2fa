import type * as tf from '@tensorflow/tfjs-core';
import { TfpassError, parseDType, type DType } from '@tfpass/core';

/** One attribute as tfjs-converter keeps it in `rawAttrs` (the JSON form of AttrValue). */
export type RawAttr = Record<string, unknown>;

const b64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/** TF attributes of the node being executed, decoded from the topology (string case kept). */
export class KernelAttrs {
  constructor(private readonly raw: Record<string, RawAttr>) {}
  has(name: string): boolean { return name in this.raw; }
  int(name: string, def?: number): number {
    const a = this.raw[name];
    if (a && 'i' in a) return Number(a.i);
    return this.missing(name, def);
  }
  float(name: string, def?: number): number {
    const a = this.raw[name];
    if (a && 'f' in a) return Number(a.f);
    return this.missing(name, def);
  }
  bool(name: string, def?: boolean): boolean {
    const a = this.raw[name];
    if (a && 'b' in a) return Boolean(a.b);
    return this.missing(name, def);
  }
  string(name: string, def?: string): string {
    const a = this.raw[name];
    if (a && 's' in a) return b64(String(a.s));
    return this.missing(name, def);
  }
  type(name: string, def?: DType): DType {
    const a = this.raw[name];
    if (a && 'type' in a) return parseDType(String(a.type)) ?? 'invalid';
    return this.missing(name, def);
  }
  ints(name: string, def?: number[]): number[] {
    const a = this.raw[name] as { list?: { i?: unknown[] } } | undefined;
    if (a?.list) return (a.list.i ?? []).map(Number);
    return this.missing(name, def);
  }
  floats(name: string, def?: number[]): number[] {
    const a = this.raw[name] as { list?: { f?: unknown[] } } | undefined;
    if (a?.list) return (a.list.f ?? []).map(Number);
    return this.missing(name, def);
  }
  private missing<T>(name: string, def: T | undefined): T {
    if (def === undefined) throw new TfpassError('E_GRAPH_VALIDATION', `missing attr '${name}'`);
    return def;
  }
}

export interface KernelContext {
  /** TF op name and node name being executed. */
  op: string;
  node: string;
  /** Data inputs in order (control inputs are never passed). */
  inputs: tf.Tensor[];
  attrs: KernelAttrs;
  /** The tfjs-core module, for kernels written with tfjs ops. */
  tf: typeof tf;
}

/** A kernel: returns the node's outputs (one tensor, or one per output port). */
export type KernelFn = (ctx: KernelContext) => tf.Tensor | tf.Tensor[];

/** A family's kernels, registered by installKernels. */
export type KernelTable = [op: string, fn: KernelFn][];
