import { describe, expect, test } from 'vitest';
import { Graph, Tensor } from '@tfpass/core';
import { createExecutor, sharedExecutor } from '../src/index.js';

// Issue 21: one run of an AddN with 20,000 inputs trapped the wasm module and every later run in
// the process failed ("memory access out of bounds"). The trap is reported and the backend reset.

function addN(n: number): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  g.addNode({ name: 's', op: 'AddN', inputs: Array(n).fill('x'), attrs: { T: { type: 'float32' }, N: { i: n } } });
  return g;
}

function neg(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  g.addNode({ name: 'w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [2], [10, 20]) } } });
  g.addNode({ name: 'y', op: 'Sub', inputs: ['w', 'x'], attrs: { T: { type: 'float32' } } });
  return g;
}

describe('wasm backend after a trap', () => {
  test('the trap is a typed error naming the widest node; earlier and later graphs still run right', async () => {
    const ex = sharedExecutor('wasm');
    const feed = { x: Tensor.fromValues('float32', [2], [1, 2]) };
    const before = neg();
    expect((await ex.run(before, feed, ['y']))[0]!.toNumbers()).toEqual([9, 18]);
    let err: (Error & { code?: string }) | undefined;
    try {
      await ex.run(addN(20000), feed, ['s']);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.code).toBe('E_GRAPH_VALIDATION');
    expect(err!.message).toMatch(/wasm backend trapped running this graph \(memory access out of bounds\); node 's' \(AddN\) has 20000 inputs; the backend was reset/);
    // The model cached before the trap is rebuilt on the fresh module; new executors work too.
    expect((await ex.run(before, feed, ['y']))[0]!.toNumbers()).toEqual([9, 18]);
    expect((await createExecutor().run(neg(), feed, ['y']))[0]!.toNumbers()).toEqual([9, 18]);
    // A wide AddN that fits still computes: 3000 * x.
    expect((await ex.run(addN(3000), feed, ['s']))[0]!.toNumbers()).toEqual([3000, 6000]);
  });
});
