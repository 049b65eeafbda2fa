import { Graph } from '../../graph.js';
import { Tensor } from '../../tensor.js';
import type { DType } from '../../dtype.js';
import type { AttrJson } from '../../attrs.js';

/** Small graph builder for op tests. */
export class G {
  readonly g = new Graph();
  ph(name: string, shape: number[] | null, dtype: DType = 'float32'): string {
    this.g.addNode({ name, op: 'Placeholder', attrs: { dtype: { type: dtype }, shape: { shape } } });
    return name;
  }
  c(name: string, values: number[], shape: number[] = [values.length], dtype: DType = 'int32'): string {
    this.g.addNode({ name, op: 'Const', attrs: { dtype: { type: dtype }, value: { tensor: Tensor.fromValues(dtype, shape, values) } } });
    return name;
  }
  op(name: string, op: string, inputs: string[], attrs: Record<string, AttrJson> = {}): string {
    this.g.addNode({ name, op, inputs, attrs });
    return name;
  }
}

export const ints = (i: number[]): AttrJson => ({ list: { i } });
export const str = (s: string): AttrJson => ({ s });
export const int = (i: number): AttrJson => ({ i });
export const bool = (b: boolean): AttrJson => ({ b });
export const type = (t: DType): AttrJson => ({ type: t });
