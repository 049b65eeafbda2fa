import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { createExecutor } from '@tfpass/runtime';
import { freezeGraph } from '../src/index.js';

const M = modelsDir();

describe.runIf(M)('frozen graphs compute', () => {
  it('tf-serving-half-plus-two frozen computes exactly y = 0.5x + 2', async () => {
    const g = freezeGraph({ inputGraph: join(M!, 'tf-serving-half-plus-two'), outputNodeNames: 'y' });
    // x comes from ParseExample on serialized tf.Examples: replace that front end by a Placeholder.
    const x = g.node('x');
    x.op = 'Placeholder';
    x.setInputs([]);
    for (const k of x.attrs.keys()) x.attrs.delete(k);
    x.attrs.setType('dtype', 'float32');
    g.retain(new Set(['x', 'a', 'a/read', 'b', 'b/read', 'Mul', 'Add', 'y']));
    const xs = Float32Array.from([-1000, -3, -1, 0, 0.5, 1, 2, 3.25, 1e6, 123.456]);
    const [y] = await createExecutor({ backend: 'cpu' }).run(g, { x: new Tensor('float32', [xs.length, 1], xs) }, ['y']);
    const want = xs.map((v) => Math.fround(Math.fround(0.5 * v) + 2));
    expect(Array.from(y!.toFloat32())).toEqual(Array.from(want));
  });
});
