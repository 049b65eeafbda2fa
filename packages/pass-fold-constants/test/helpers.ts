import * as lib from '@tfpass/core';
import type { DType, Executor, Graph, Tensor } from '@tfpass/core';
import { rootServices as container } from '@tfpass/core';

export { lib };

export function konst(g: Graph, name: string, shape: number[], values: ArrayLike<number>, dtype: DType = 'float32', inputs: string[] = []): string {
  g.addNode({ name, op: 'Const', inputs, attrs: { dtype: { type: dtype }, value: { tensor: lib.Tensor.fromValues(dtype, shape, values) } } });
  return name;
}

export function op(g: Graph, name: string, o: string, inputs: string[], attrs: Record<string, lib.AttrJson> = {}): string {
  g.addNode({ name, op: o, inputs, attrs: { T: { type: 'float32' }, ...attrs } });
  return name;
}

export function iota(n: number, from = 1): number[] {
  return Array.from({ length: n }, (_, i) => i + from);
}

/** A container with the executor registered, for runPipeline's `container`. */
export function withExecutor(ex: Executor) {
  const c = container.createChildContainer();
  c.register(lib.TOKENS.executor, { useValue: ex });
  return c;
}

/**
 * A tiny elementwise evaluator (same-shape or scalar operands) used for structural tests that
 * must not depend on the runtime; it records how often it was asked to run.
 */
export class MiniExecutor implements Executor {
  runs = 0;
  supportsOp(op: string): boolean {
    return ['Const', 'Add', 'AddV2', 'Mul', 'Sub', 'Rsqrt', 'Identity', 'Cast', 'Unpack'].includes(op);
  }
  async run(g: Graph, feeds: Record<string, Tensor>, fetches: string[]): Promise<Tensor[]> {
    this.runs++;
    const memo = new Map<string, Tensor>();
    const ev = (s: string): Tensor => {
      const r = lib.parseInput(s);
      const key = lib.tensorName(r.node, r.port);
      if (feeds[key]) return feeds[key]!;
      const hit = memo.get(key);
      if (hit) return hit;
      const n = g.node(r.node);
      const ins = n.dataInputs.map(ev);
      const f = (fn: (a: number, b: number) => number) => {
        const [a, b] = ins as [Tensor, Tensor];
        const big = a.size >= b.size ? a : b;
        const av = a.toFloat32(), bv = b.toFloat32();
        return lib.Tensor.fromValues('float32', big.shape, Array.from({ length: big.size }, (_, i) => fn(av[a.size === 1 ? 0 : i]!, bv[b.size === 1 ? 0 : i]!)));
      };
      let out: Tensor;
      switch (n.op) {
        case 'Const': out = n.attrs.getTensor('value'); break;
        case 'Add': case 'AddV2': out = f((x, y) => x + y); break;
        case 'Mul': out = f((x, y) => x * y); break;
        case 'Sub': out = f((x, y) => x - y); break;
        case 'Identity': out = ins[0]!; break;
        case 'Rsqrt': out = lib.Tensor.fromValues('float32', ins[0]!.shape, Array.from(ins[0]!.toFloat32(), (x) => 1 / Math.sqrt(x))); break;
        case 'Cast': out = lib.Tensor.fromValues(n.attrs.getType('DstT'), ins[0]!.shape, ins[0]!.toNumbers()); break;
        case 'Unpack': {
          const t = ins[0]!;
          const v = t.toFloat32();
          const inner = t.size / t.shape[0]!;
          out = lib.Tensor.fromValues('float32', t.shape.slice(1), Array.from(v.subarray(r.port * inner, (r.port + 1) * inner)));
          break;
        }
        default: throw new Error(`MiniExecutor: no kernel for ${n.op} (${n.name})`);
      }
      memo.set(key, out);
      return out;
    };
    return fetches.map(ev);
  }
}

let registry: lib.PassRegistry | undefined;
export async function passes(): Promise<lib.PassRegistry> {
  if (registry) return registry;
  const r = new lib.PassRegistry();
  await lib.registerPlugin(await import('../src/index.js'), r);
  return (registry = r);
}

export async function fold(g: Graph, transforms: string, ex: Executor, opts: { inputs?: string[]; outputs?: string[] } = {}) {
  return lib.runPipeline(g, transforms, { ...opts, registry: await passes(), container: withExecutor(ex) });
}
