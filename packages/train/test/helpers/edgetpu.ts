/**
 * The real edgetpu Fashion-MNIST MLP as a float graph: `frozen_model.pb` with its six
 * FakeQuantWithMinMaxVars bypassed (the float network contrib trained), and helpers to
 * re-initialise its variables and measure top-1.
 */
import { Graph, Tensor, tensorName } from '@tfpass/core';
import { Rng, randomTensor, runGraph } from '@tfpass/runtime';
import type { Split } from './real-data.js';

export const MLP_INPUT = 'flatten_input';
export const MLP_LOGITS = 'dense_1/BiasAdd';
export const MLP_OUTPUT = 'dense_1/Softmax';
export const MLP_VARIABLES = ['dense/kernel', 'dense/bias', 'batch_normalization_v1/gamma', 'batch_normalization_v1/beta', 'batch_normalization_v1/moving_mean', 'batch_normalization_v1/moving_variance', 'dense_1/kernel', 'dense_1/bias'];

/** Remove every FakeQuant* node (consumers read its input) and the range constants it read. */
export function stripFakeQuants(g: Graph): Graph {
  const out = g.clone();
  for (const n of out.nodes()) {
    if (!n.op.startsWith('FakeQuant')) continue;
    out.replaceUses(n.name, n.inputs[0]!);
    out.removeNode(n.name);
  }
  for (let again = true; again; ) {
    again = false;
    for (const n of out.nodes()) {
      if ((n.op === 'Const' || n.op === 'Identity') && /_quant\//.test(n.name) && out.consumerCount(n.name) === 0) {
        out.removeNode(n.name);
        again = true;
      }
    }
  }
  return out;
}

/** Seeded fresh values for the MLP's variables (Glorot-uniform kernels, Keras BN/bias defaults). */
export function reinitialise(g: Graph, seed = 7): Graph {
  const out = g.clone();
  const rng = new Rng(seed);
  for (const name of MLP_VARIABLES) {
    const n = out.node(name);
    const shape = n.attrs.getTensor('value').shape;
    let t: Tensor;
    if (name.endsWith('kernel')) {
      const lim = Math.sqrt(6 / (shape[0]! + shape[1]!));
      t = randomTensor({ shape, dist: 'uniform', low: -lim, high: lim }, rng);
    } else {
      const v = /gamma|variance/.test(name) ? 1 : 0;
      t = new Tensor('float32', shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v));
    }
    n.attrs.setTensor('value', t);
  }
  return out;
}

/** Top-1 of `output` (logits or probabilities) over a split, in batches. */
export async function top1(g: Graph, split: Split, output = MLP_OUTPUT, input = MLP_INPUT): Promise<number> {
  const n = split.x.shape[0]!;
  const per = split.x.size / n;
  const x = split.x.toFloat32();
  const y = split.y.toNumbers();
  let ok = 0;
  const B = 500;
  for (let s = 0; s < n; s += B) {
    const m = Math.min(B, n - s);
    const feed = new Tensor('float32', [m, ...split.x.shape.slice(1)], x.slice(s * per, (s + m) * per));
    const [out] = await runGraph(g, { [input]: feed }, [tensorName(output)]);
    const v = out!.toFloat32();
    const k = v.length / m;
    for (let i = 0; i < m; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (v[i * k + j]! > v[i * k + best]!) best = j;
      if (best === y[s + i]) ok++;
    }
  }
  return ok / n;
}
