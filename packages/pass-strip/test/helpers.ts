import * as lib from '@tfpass/core';
import { Graph, PassRegistry, registerPlugin, runPipeline, type NodeSpec, type StepReport } from '@tfpass/core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export { lib };

let registry: PassRegistry | undefined;
export async function passes(): Promise<PassRegistry> {
  if (!registry) {
    registry = new PassRegistry();
    await registerPlugin(await import('../src/index.js'), registry, { packageName: '@tfpass/pass-strip', packageVersion: '0.1.0' });
  }
  return registry;
}

/** Run a transform string on `g` (mutated) and return the step reports. */
export async function run(g: Graph, transforms: string, io: { inputs?: string[]; outputs?: string[] } = {}): Promise<StepReport[]> {
  return runPipeline(g, transforms, { registry: await passes(), ...io });
}

/** Build a graph from `name = Op(in1, in2)`-like specs. */
export function graph(specs: (NodeSpec | [string, string, string[]?])[]): Graph {
  const g = new Graph();
  for (const s of specs) g.addNode(Array.isArray(s) ? { name: s[0], op: s[1], inputs: s[2] ?? [] } : s);
  return g;
}

export function fixture(name: string): Graph {
  const p = fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
  return lib.readGraph(new TextEncoder().encode(readFileSync(p, 'utf8')), { name });
}

export const names = (g: Graph) => g.nodes().map((n) => n.name);
export const ins = (g: Graph, n: string) => [...g.node(n).inputs];

export function floatConst(name: string, values: number[], shape = [values.length]): NodeSpec {
  return { name, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: lib.Tensor.fromValues('float32', shape, values) } } };
}
export const iota = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);
