import type { Graph, Node, PluginApi, Tensor, PassContext } from '@tfpass/core';

export type Lib = PluginApi['lib'];

export const CONV_OPS = 'Conv2D|DepthwiseConv2dNative|MatMul';
export const BIAS_OPS = new Set(['BiasAdd', 'Add', 'AddV2']);

/** Follow Identity chains from an input string to a Const node; undefined if not constant. */
export function constProducer(g: Graph, input: string): Node | undefined {
  let n = g.producer(input);
  for (let hops = 0; n && n.op === 'Identity' && hops < 64; hops++) n = g.producer(n.dataInputs[0] ?? '');
  return n && n.op === 'Const' && n.attrs.has('value') ? n : undefined;
}

export function constTensor(g: Graph, input: string): Tensor | undefined {
  return constProducer(g, input)?.attrs.getTensor('value');
}

/** Node names of `--inputs`/`--outputs` (ports stripped). */
export function protectedNames(lib: Lib, ctx: PassContext): Set<string> {
  return new Set([...ctx.inputs, ...ctx.outputs].filter((s) => s.trim()).map((s) => lib.nodeNameOf(s.trim())));
}

/** True when `n` is read by exactly one node (one input of it) and is not a pipeline output. */
export function soleUse(g: Graph, n: Node, keep: Set<string>): boolean {
  if (keep.has(n.name)) return false;
  const cons = g.consumersOf(n.name);
  return cons.length === 1 && !cons[0]!.control && cons[0]!.port === 0;
}

/** A convolution or MatMul whose weights are a float32 constant. */
export interface ConvInfo {
  conv: Node;
  kind: 'conv' | 'depthwise' | 'matmul';
  weights: Tensor;
  /** Output channels. */
  cols: number;
  /** Channel of flat weight index i. */
  channelOf: (i: number) => number;
  /** Channel axis and rank of the conv output. */
  axis: number;
  rank: number;
  nchw: boolean;
}

export function convInfo(g: Graph, conv: Node): ConvInfo | undefined {
  const ins = conv.dataInputs;
  if (ins.length !== 2) return undefined;
  const w = constTensor(g, ins[1]!);
  if (!w || w.dtype !== 'float32') return undefined;
  if (conv.op === 'MatMul') {
    if (w.rank !== 2) return undefined;
    const tb = conv.attrs.optBool('transpose_b', false);
    const [d0, d1] = w.shape as [number, number];
    return tb
      ? { conv, kind: 'matmul', weights: w, cols: d0, channelOf: (i) => Math.floor(i / d1), axis: 1, rank: 2, nchw: false }
      : { conv, kind: 'matmul', weights: w, cols: d1, channelOf: (i) => i % d1, axis: 1, rank: 2, nchw: false };
  }
  if (w.rank !== 4) return undefined;
  const df = conv.attrs.optString('data_format', 'NHWC');
  // Anything else (e.g. a 3-D format on a Conv2D) is an invalid graph: leave it for the importer to reject.
  if (df !== 'NHWC' && df !== 'NCHW') return undefined;
  const nchw = df === 'NCHW';
  const axis = nchw ? 1 : 3;
  if (conv.op === 'Conv2D') {
    const o = w.shape[3]!;
    return { conv, kind: 'conv', weights: w, cols: o, channelOf: (i) => i % o, axis, rank: 4, nchw };
  }
  if (conv.op === 'DepthwiseConv2dNative') {
    // Output channel of depthwise filter [H,W,In,Mult] element (.., c, m) is c*Mult + m.
    const cm = w.shape[2]! * w.shape[3]!;
    return { conv, kind: 'depthwise', weights: w, cols: cm, channelOf: (i) => i % cm, axis, rank: 4, nchw };
  }
  return undefined;
}

/**
 * Values of a constant that broadcasts along one channel axis of a tensor of rank `rank`
 * (a scalar, `[C]`, `[1,C]`, `[C,1,1]`, ...), as a length-`cols` vector; undefined otherwise.
 */
export function channelVector(t: Tensor, cols: number, axis: number, rank: number): Float32Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  const v = t.toFloat32();
  if (t.size === 1) return new Float32Array(cols).fill(v[0]!);
  if (t.size !== cols || t.rank > rank) return undefined;
  for (let j = 0; j < t.rank; j++) {
    const d = t.shape[j]!;
    const outAxis = rank - t.rank + j;
    if (d !== 1 && outAxis !== axis) return undefined;
  }
  return Float32Array.from(v);
}

/** BN-style vector input: rank-1 float of length `cols`. */
export function vectorInput(g: Graph, input: string, cols: number): Float32Array | undefined {
  const t = constTensor(g, input);
  if (!t || t.dtype !== 'float32' || t.rank !== 1 || t.shape[0] !== cols) return undefined;
  return Float32Array.from(t.toFloat32());
}

export function scaleWeights(lib: Lib, info: ConvInfo, scale: Float32Array): Tensor {
  const src = info.weights.toFloat32();
  // attrs.getTensor decodes into a fresh buffer on every call, so scaling it in place is safe
  // and saves allocating (and collecting) a second copy of large weights.
  const out = src;
  const cols = info.cols;
  if (info.kind === 'matmul' && info.channelOf(1) === 0) {
    // transpose_b: channel-major rows
    const inner = src.length / cols;
    for (let c = 0, i = 0; c < cols; c++) for (let j = 0; j < inner; j++, i++) out[i] = src[i]! * scale[c]!;
  } else {
    // One flat loop with a wrapping channel counter: faster in V8 than nested loops for any cols.
    for (let i = 0, c = 0; i < src.length; i++) {
      out[i] = src[i]! * scale[c]!;
      if (++c === cols) c = 0;
    }
  }
  return new lib.Tensor('float32', [...info.weights.shape], out);
}

/** Make a Const node (or overwrite `name` if `reuse`). */
export function addConst(g: Graph, name: string, t: Tensor, device = ''): Node {
  return g.addNode({ name: g.uniqueName(name), op: 'Const', attrs: { dtype: { type: t.dtype }, value: { tensor: t } }, device });
}

/**
 * Point the conv at new weights: overwrite the weights Const when the conv is its only reader,
 * otherwise add a copy so other readers keep the original values.
 */
export function setConvWeights(g: Graph, info: ConvInfo, w: Tensor): void {
  const conv = info.conv;
  const wIn = conv.dataInputs[1]!;
  const direct = g.producer(wIn);
  if (direct && direct.op === 'Const' && g.consumerCount(direct.name) === 1 && g.consumersOf(direct.name).length === 1) {
    direct.attrs.setTensor('value', w);
    direct.attrs.setType('dtype', 'float32');
    return;
  }
  const c = addConst(g, `${nodeName(wIn)}_folded`, w, conv.device);
  conv.setInput(1, c.name);
  if (direct) removeIfDead(g, direct.name);
}

/** Node name of an input string (`^n`, `n:1` -> `n`). */
export function nodeName(s: string): string {
  const base = s.startsWith('^') ? s.slice(1) : s;
  const i = base.lastIndexOf(':');
  return i > 0 && /^\d+$/.test(base.slice(i + 1)) ? base.slice(0, i) : base;
}

/** Remove a node and, transitively, its inputs that nothing else reads (Const/Identity only upstream). */
export function removeIfDead(g: Graph, name: string, keep?: Set<string>): void {
  const stack = [name];
  while (stack.length) {
    const n = g.get(stack.pop()!);
    if (!n || keep?.has(n.name) || g.consumerCount(n.name) > 0) continue;
    const ins = n.inputs.map(nodeName);
    g.removeNode(n.name);
    for (const p of ins) {
      const pn = g.get(p);
      if (pn && (pn.op === 'Const' || pn.op === 'Identity')) stack.push(p);
    }
  }
}

/** Replace every attribute of `dst` by those of `src`. */
export function copyAttrs(dst: Node, src: Node, only?: string[]): void {
  for (const k of dst.attrs.keys()) dst.attrs.delete(k);
  for (const k of only ?? src.attrs.keys()) if (src.attrs.has(k)) dst.attrs.copyFrom(src.attrs, k);
}
