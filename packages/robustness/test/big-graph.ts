import { Graph, Tensor } from '@tfpass/core';

/**
 * A MatMul chain whose weights total about `bytes`: input -> [Identity(W) -> MatMul -> Mul(scale)]*
 * -> output, so `remove_nodes(op=Identity) fold_batch_norms` has work on every layer.
 * Weights are cheap patterned values (filling 1 GiB with a PRNG would dominate the run).
 */
export function bigGraph(bytes: number, width = 2048): { graph: Graph; layers: number } {
  const g = new Graph();
  const f = { T: { type: 'float32' as const } };
  g.addNode({ name: 'input', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, width] } } });
  const layers = Math.max(1, Math.round(bytes / (width * width * 4)));
  let cur = 'input';
  for (let i = 0; i < layers; i++) {
    const w = new Float32Array(width * width);
    for (let k = 0; k < w.length; k++) w[k] = ((k * 7919 + i) % 1000) / 1e6 - 5e-4;
    g.addNode({ name: `l${i}/w`, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: new Tensor('float32', [width, width], w) } } });
    g.addNode({ name: `l${i}/w/read`, op: 'Identity', inputs: [`l${i}/w`], attrs: f });
    g.addNode({ name: `l${i}/MatMul`, op: 'MatMul', inputs: [cur, `l${i}/w/read`], attrs: { ...f, transpose_a: { b: false }, transpose_b: { b: false } } });
    const s = new Float32Array(width).map((_, k) => 1 + (k % 7) / 10);
    g.addNode({ name: `l${i}/scale`, op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: new Tensor('float32', [width], s) } } });
    g.addNode({ name: `l${i}/mul`, op: 'Mul', inputs: [`l${i}/MatMul`, `l${i}/scale`], attrs: f });
    cur = `l${i}/mul`;
  }
  g.addNode({ name: 'output', op: 'Identity', inputs: [cur], attrs: f });
  return { graph: g, layers };
}
