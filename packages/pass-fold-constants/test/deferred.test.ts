import { describe, expect, test } from 'vitest';
import { MiniExecutor, fold, iota, konst, lib, op } from './helpers.js';

// iota(4) is 1..4. Issue 20: the host hands fold_constants a deferred executor, so a graph with nothing to fold
// never loads TensorFlow.js; one with something to fold loads it once and folds as before.
function counting() {
  const inner = new MiniExecutor();
  let loads = 0;
  const executor = lib.deferredExecutor(async () => {
    loads++;
    return inner;
  });
  return { executor, inner, loads: () => loads };
}

function graph(withFoldable: boolean) {
  const g = new lib.Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  konst(g, 'w', [4], iota(4));
  if (withFoldable) {
    konst(g, 'b', [4], iota(4));
    op(g, 'wb', 'Add', ['w', 'b']);
    op(g, 'y', 'Mul', ['x', 'wb']);
  } else op(g, 'y', 'Mul', ['x', 'w']);
  return g;
}

describe('fold_constants on a deferred executor', () => {
  test('nothing to fold: the executor is never loaded and the graph is unchanged', async () => {
    const g = graph(false);
    const before = lib.encodeGraph(g);
    const c = counting();
    await fold(g, 'fold_constants(ignore_errors=true)', c.executor, { inputs: ['x'], outputs: ['y'] });
    expect(c.loads()).toBe(0);
    expect(c.executor.loaded).toBe(false);
    expect(lib.encodeGraph(g)).toEqual(before);
  });

  test('something to fold: loaded once, folded to the same values as an eager executor', async () => {
    const g = graph(true);
    const c = counting();
    await fold(g, 'fold_constants', c.executor, { inputs: ['x'], outputs: ['y'] });
    expect(c.loads()).toBe(1);
    expect(g.node('wb').op).toBe('Const');
    expect(Array.from(g.node('wb').attrs.getTensor('value').toFloat32())).toEqual([2, 4, 6, 8]);
    const eager = graph(true);
    await fold(eager, 'fold_constants', new MiniExecutor(), { inputs: ['x'], outputs: ['y'] });
    expect(lib.encodeGraph(g)).toEqual(lib.encodeGraph(eager));
  });

  test('supportsOp before ready() is a clear error, after it the inner answer', async () => {
    const c = counting();
    expect(() => c.executor.supportsOp('Add')).toThrow(/await executor.ready\(\)/);
    await c.executor.ready();
    expect(c.executor.supportsOp('Add')).toBe(c.inner.supportsOp('Add'));
  });
});
