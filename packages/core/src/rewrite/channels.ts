import { parseInput, type Graph, type Node } from '../graph.js';
import { Tensor } from '../tensor.js';
import { removeIfDead } from './edit.js';
import { constTensor } from './query.js';

/** Ops whose second input is a weight matrix with one column per output channel. */
export const LINEAR_OPS = 'Conv2D|DepthwiseConv2dNative|MatMul';

/** A convolution or MatMul whose weights are a float32 constant, with its channel layout. */
export interface LinearInfo {
  node: Node;
  kind: 'conv' | 'depthwise' | 'matmul';
  weights: Tensor;
  /** Output channels. */
  cols: number;
  /** Channel of flat weight index i. */
  channelOf: (i: number) => number;
  /** Channel axis and rank of the op's output. */
  axis: number;
  rank: number;
  nchw: boolean;
}

/** Channel layout of a Conv2D/DepthwiseConv2dNative/MatMul with constant float32 weights; undefined otherwise. */
export function linearInfo(g: Graph, node: Node): LinearInfo | undefined {
  const ins = node.dataInputs;
  if (ins.length !== 2) return undefined;
  const w = constTensor(g, ins[1]!);
  if (!w || w.dtype !== 'float32') return undefined;
  if (node.op === 'MatMul') {
    if (w.rank !== 2) return undefined;
    const [d0, d1] = w.shape as [number, number];
    return node.attrs.optBool('transpose_b', false)
      ? { node, kind: 'matmul', weights: w, cols: d0, channelOf: (i) => Math.floor(i / d1), axis: 1, rank: 2, nchw: false }
      : { node, kind: 'matmul', weights: w, cols: d1, channelOf: (i) => i % d1, axis: 1, rank: 2, nchw: false };
  }
  if (w.rank !== 4) return undefined;
  const df = node.attrs.optString('data_format', 'NHWC');
  // Anything else (e.g. a 3-D format on a Conv2D) is an invalid graph: leave it for the importer to reject.
  if (df !== 'NHWC' && df !== 'NCHW') return undefined;
  const nchw = df === 'NCHW';
  const axis = nchw ? 1 : 3;
  if (node.op === 'Conv2D') {
    const o = w.shape[3]!;
    return { node, kind: 'conv', weights: w, cols: o, channelOf: (i) => i % o, axis, rank: 4, nchw };
  }
  if (node.op === 'DepthwiseConv2dNative') {
    // Output channel of depthwise filter [H,W,In,Mult] element (.., c, m) is c*Mult + m.
    const cm = w.shape[2]! * w.shape[3]!;
    return { node, kind: 'depthwise', weights: w, cols: cm, channelOf: (i) => i % cm, axis, rank: 4, nchw };
  }
  return undefined;
}

/**
 * Values of a float constant that broadcasts along one channel axis of a rank-`rank` tensor
 * (a scalar, `[C]`, `[1,C]`, `[C,1,1]`, …) as a length-`cols` vector; undefined otherwise.
 */
export function channelVector(t: Tensor, cols: number, axis: number, rank: number): Float32Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  const v = t.toFloat32();
  if (t.size === 1) return new Float32Array(cols).fill(v[0]!);
  if (t.size !== cols || t.rank > rank) return undefined;
  for (let j = 0; j < t.rank; j++) if (t.shape[j] !== 1 && rank - t.rank + j !== axis) return undefined;
  return Float32Array.from(v);
}

/** A constant rank-1 float32 input of length `cols` (a batch norm's mean, variance, …). */
export function vectorInput(g: Graph, input: string, cols: number): Float32Array | undefined {
  const t = constTensor(g, input);
  if (!t || t.dtype !== 'float32' || t.rank !== 1 || t.shape[0] !== cols) return undefined;
  return Float32Array.from(t.toFloat32());
}

/** The op's weights with output channel c multiplied by scale[c]. */
export function scaleWeights(info: LinearInfo, scale: Float32Array): Tensor {
  // getTensor decodes into a fresh buffer on every call, so scaling in place is safe and
  // saves a second copy of large weights.
  const out = info.weights.toFloat32();
  const cols = info.cols;
  if (info.kind === 'matmul' && info.channelOf(1) === 0) {
    // transpose_b: channel-major rows
    const inner = out.length / cols;
    for (let c = 0, i = 0; c < cols; c++) for (let j = 0; j < inner; j++, i++) out[i] = out[i]! * scale[c]!;
  } else {
    // One flat loop with a wrapping channel counter: faster in V8 than nested loops for any cols.
    for (let i = 0, c = 0; i < out.length; i++) {
      out[i] = out[i]! * scale[c]!;
      if (++c === cols) c = 0;
    }
  }
  return new Tensor('float32', [...info.weights.shape], out);
}

/**
 * Point the op at new weights: overwrite the weights Const when the op is its only reader,
 * otherwise add a copy (`<weights>_folded`) so other readers keep the original values.
 */
export function setWeights(g: Graph, info: LinearInfo, w: Tensor): void {
  const wIn = info.node.dataInputs[1]!;
  const direct = g.producer(wIn);
  if (direct && direct.op === 'Const' && g.consumerCount(direct.name) === 1 && g.consumersOf(direct.name).length === 1) {
    direct.attrs.setTensor('value', w);
    direct.attrs.setType('dtype', 'float32');
    return;
  }
  const name = g.uniqueName(`${parseInput(wIn).node}_folded`);
  g.addNode({ name, op: 'Const', attrs: { dtype: { type: w.dtype }, value: { tensor: w } }, device: info.node.device });
  info.node.setInput(1, name);
  if (direct) removeIfDead(g, direct.name);
}
