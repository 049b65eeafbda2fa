import { Graph, Tensor } from '@tfpass/core';

/** Small graph builder for tests (float32 everywhere). */
export class G {
  g = new Graph();
  private seed = 1;
  rand(): number {
    this.seed = (this.seed * 16807) % 2147483647;
    return this.seed / 2147483647 - 0.5;
  }
  input(name: string, shape: number[]): string {
    this.g.addNode({ name, op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape } } });
    return name;
  }
  konst(name: string, shape: number[], values?: number[]): string {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = values ?? Array.from({ length: n }, () => this.rand());
    this.g.addNode({ name, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', shape, v) } } });
    return name;
  }
  /** A ref variable with `name/read`. */
  variable(name: string, shape: number[]): string {
    this.g.addNode({ name, op: 'VariableV2', attrs: { dtype: { type: 'float32' }, shape: { shape }, container: { s: '' }, shared_name: { s: '' } } });
    this.g.addNode({ name: `${name}/read`, op: 'Identity', inputs: [name], attrs: { T: { type: 'float32' } } });
    return `${name}/read`;
  }
  op(name: string, op: string, inputs: string[], attrs: Record<string, unknown> = {}): string {
    this.g.addNode({ name, op, inputs, attrs: { T: { type: 'float32' }, ...attrs } as never });
    return name;
  }
  conv(name: string, x: string, w: string, op = 'Conv2D'): string {
    return this.op(name, op, [x, w], { strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'SAME' }, data_format: { s: 'NHWC' }, dilations: { list: { i: [1, 1, 1, 1] } } });
  }
  matmul(name: string, x: string, w: string): string {
    return this.op(name, 'MatMul', [x, w], { transpose_a: { b: false }, transpose_b: { b: false } });
  }
  biasAdd(name: string, x: string, bias: string, op = 'BiasAdd'): string {
    return this.op(name, op, [x, bias], op === 'BiasAdd' ? { data_format: { s: 'NHWC' } } : {});
  }
}
