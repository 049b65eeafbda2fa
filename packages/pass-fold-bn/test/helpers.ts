import * as lib from '@tfpass/core';
import type { DType, Graph, StepReport } from '@tfpass/core';

export { lib };

export function konst(g: Graph, name: string, shape: number[], values: ArrayLike<number | boolean>, dtype: DType = 'float32'): string {
  g.addNode({ name, op: 'Const', attrs: { dtype: { type: dtype }, value: { tensor: lib.Tensor.fromValues(dtype, shape, values as ArrayLike<number>) } } });
  return name;
}

export function op(g: Graph, name: string, o: string, inputs: string[], attrs: Record<string, lib.AttrJson> = {}): string {
  g.addNode({ name, op: o, inputs, attrs: { T: { type: 'float32' }, ...attrs } });
  return name;
}

export const CONV_IN = [1, 4, 2, 5, 3, 6, -1, -4, -2, -5, -3, -6];
export const CONV_W = [1, 2, 3, 4, 0.1, 0.2, 0.3, 0.4];

/** The spec's CONV fixture: Const input [1,1,6,2] -> Conv2D VALID with weights [1,2,2,2]. */
export function convFixture(g: Graph, o = 'Conv2D', extra: Record<string, lib.AttrJson> = {}): string {
  konst(g, 'input_op', [1, 1, 6, 2], CONV_IN);
  konst(g, 'weights_op', [1, 2, 2, 2], CONV_W);
  return op(g, 'conv_op', o, ['input_op', 'weights_op'], { strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: 'VALID' }, ...extra });
}

export function bnConsts(g: Graph, ch = 2): string[] {
  const all = { mean: [10, 20, 30, 40], variance: [0.25, 0.5, 0.75, 1], beta: [0.1, 0.6, 1.1, 1.6], gamma: [1, 2, 3, 4] };
  return Object.entries(all).map(([k, v]) => konst(g, `${k}_op`, [ch], v.slice(0, ch)));
}

let registry: lib.PassRegistry | undefined;
export async function passes(): Promise<lib.PassRegistry> {
  if (registry) return registry;
  const r = new lib.PassRegistry();
  await lib.registerPlugin(await import('../src/index.js'), r);
  return (registry = r);
}

export async function run(g: Graph, transforms: string, opts: { inputs?: string[]; outputs?: string[] } = {}): Promise<StepReport[]> {
  return lib.runPipeline(g, transforms, { ...opts, registry: await passes() });
}

export function ops(g: Graph): string[] {
  return g.nodes().map((n) => n.op);
}

export function count(g: Graph, o: string | RegExp): number {
  return g.nodes().filter((n) => (typeof o === 'string' ? n.op === o : o.test(n.op))).length;
}
