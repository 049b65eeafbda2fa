import { Graph, Tensor, TfpassError, constValue, parseInput, type Executor, type Node } from '@tfpass/core';
import { nudge, fakeQuantValue } from './fq.js';
import type { Ranges } from './ranges.js';
import { constWeightRange, siteChannels } from './rewrite.js';
import type { Site } from './plan.js';

// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization", §4.2): rounding the
// weights shifts each output channel's mean by E[conv(x, Wq - W)]. With BN folded into the
// weights this shift is large next to the (cancelling) bias, so we measure it on calibration
// data and subtract it from the layer's bias. Only the bias Const changes; the fake quants
// and their ranges are exactly those insert_fake_quant would put there.

export interface BiasCorrectionOptions {
  /** Calibration samples (feeds per run), the same the ranges were recorded on. */
  data: Iterable<Record<string, Tensor>>;
  executor: Executor;
  /** Ranges file (weights without an entry use their own min/max, as the const rewrite does). */
  ranges?: Ranges;
  /** Change the bias Consts (default true); false only measures (for a ranges file). */
  apply?: boolean;
}

export interface BiasCorrection {
  layer: string;
  bias: string;
  /** Subtracted from the bias, per channel. */
  shift: number[];
  /** Largest |shift| of one channel. */
  maxShift: number;
}

const ADDS = new Set(['BiasAdd', 'Add', 'AddV2']);

/** The Const bias added right after a layer (BiasAdd/Add/AddV2, one value per channel). */
function biasOf(g: Graph, layer: Node, channels: number): { add: Node; bias: Node } | undefined {
  const cs = g.tensorConsumers(layer.name).filter((c) => !c.control);
  if (cs.length !== 1 || !ADDS.has(cs[0]!.node.op)) return undefined;
  const add = cs[0]!.node;
  const other = add.dataInputs.find((s) => parseInput(s).node !== layer.name);
  const bias = other === undefined ? undefined : g.producer(other);
  if (!bias || bias.op !== 'Const') return undefined;
  const t = bias.attrs.getTensor('value');
  if (t.dtype !== 'float32' || t.shape.length !== 1 || t.shape[0] !== channels) return undefined;
  // A bias shared with other ops cannot be changed for this layer alone.
  if (g.consumerCount(bias.name) !== 1) return undefined;
  return { add, bias };
}

/** Fake-quantized weight values minus the float ones (per channel along the site's axis). */
function roundingError(g: Graph, site: Site, ranges: Ranges | undefined): Float32Array | undefined {
  const w = constValue(g, site.tensor);
  if (!w) return undefined;
  const { channels } = siteChannels(g, site);
  const r = constWeightRange(g, site, ranges, channels);
  if (!r) return undefined;
  const mins = Array.isArray(r.min) ? r.min : [r.min];
  const maxs = Array.isArray(r.max) ? r.max : [r.max];
  const c = mins.length;
  const q = mins.map((m, k) => nudge(m, maxs[k]!, site.numBits, site.narrowRange));
  const d = new Float32Array(w.length);
  // Depthwise [kh, kw, C, M] flattened row-major: channel c*M+m is index % (C*M), as for the last dim.
  for (let i = 0; i < w.length; i++) d[i] = fakeQuantValue(w[i]!, q[c === 1 ? 0 : i % c]!) - w[i]!;
  return d;
}

/**
 * Shift the bias after every quantized Conv2D / DepthwiseConv2dNative / MatMul with Const
 * weights and a Const bias by the mean output error its weight rounding causes on `data`.
 * Call on the float graph with the sites planned for it, before applySites (the layer must
 * still read its weight Const; the rewrite keeps the changed bias Consts). Returns one entry
 * per corrected layer.
 */
export async function correctBiases(graph: Graph, sites: Site[], opts: BiasCorrectionOptions): Promise<BiasCorrection[]> {
  const jobs: { site: Site; layer: Node; input: string; wIndex: number; delta: Float32Array; bias: Node; channels: number }[] = [];
  for (const site of sites) {
    if (site.kind !== 'weights' || !site.layer) continue;
    const layer = graph.get(site.layer);
    if (!layer || layer.dataInputs.length !== 2) continue;
    const wIndex = layer.dataInputs.findIndex((s) => parseInput(s).node === site.tensor);
    // MatMul(W, x) puts channels first; only the x·W form is handled.
    if (wIndex !== 1) continue;
    const wShape = graph.get(site.tensor)?.op === 'Const' ? graph.get(site.tensor)!.attrs.getTensor('value').shape : undefined;
    if (!wShape) continue;
    const channels = layer.op === 'DepthwiseConv2dNative' ? wShape[2]! * wShape[3]! : layer.op === 'MatMul' && layer.attrs.optBool('transpose_b', false) ? wShape[0]! : wShape[wShape.length - 1]!;
    const b = biasOf(graph, layer, channels);
    const delta = b && roundingError(graph, site, opts.ranges);
    if (!b || !delta) continue;
    jobs.push({ site, layer, input: layer.dataInputs[1 - wIndex]!, wIndex, delta, bias: b.bias, channels });
  }
  if (jobs.length === 0) return [];

  // Mean layer input over the samples (the layer is linear in it, so one run on the mean gives
  // the mean error, padding and strides included).
  const sums = new Map<string, { shape: number[]; sum: Float64Array }>();
  const inputs = [...new Set(jobs.map((j) => j.input))];
  let n = 0;
  for (const feeds of opts.data) {
    const outs = await opts.executor.run(graph, feeds, inputs);
    outs.forEach((t, i) => {
      const v = t.toFloat32();
      let s = sums.get(inputs[i]!);
      if (!s) sums.set(inputs[i]!, (s = { shape: [...t.shape], sum: new Float64Array(v.length) }));
      if (s.sum.length !== v.length) throw new TfpassError('E_USAGE', `bias correction: '${inputs[i]}' changes shape between samples (${s.shape} vs ${t.shape})`);
      for (let k = 0; k < v.length; k++) s.sum[k]! += v[k]!;
    });
    n++;
  }
  if (n === 0) throw new TfpassError('E_USAGE', 'bias correction needs at least one sample');

  const out: BiasCorrection[] = [];
  for (const j of jobs) {
    const s = sums.get(j.input)!;
    const mean = new Tensor('float32', s.shape, Float32Array.from(s.sum, (v) => v / n));
    // One-op graph: the layer applied to the mean input with the weight error as its filter.
    const g = new Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: s.shape } } });
    g.addNode({ name: 'dw', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: new Tensor('float32', graph.get(j.site.tensor)!.attrs.getTensor('value').shape, j.delta) } } });
    const ins = j.wIndex === 1 ? ['x', 'dw'] : ['dw', 'x'];
    g.addNode({ name: 'y', op: j.layer.op, inputs: ins, attrs: Object.fromEntries(j.layer.attrs.keys().filter((k) => !k.startsWith('_')).map((k) => [k, j.layer.attrs.getJson(k)!])) });
    const [y] = await opts.executor.run(g, { x: mean }, ['y']);
    const e = y!.toFloat32();
    const shift = new Float64Array(j.channels);
    for (let k = 0; k < e.length; k++) shift[k % j.channels]! += e[k]!;
    const per = e.length / j.channels;
    const d = Array.from(shift, (v) => v / per);
    out.push({ layer: j.layer.name, bias: j.bias.name, shift: d, maxShift: Math.max(...d.map(Math.abs)) });
  }
  if (opts.apply !== false) applyBiasShifts(graph, Object.fromEntries(out.map((c) => [c.bias, c.shift])));
  return out;
}

/**
 * Subtract stored shifts from float32 bias Consts (by node name). Returns the names changed;
 * throws when a listed node is not a float32 Const with as many values as its shift.
 */
export function applyBiasShifts(graph: Graph, shifts: Record<string, number[]>): string[] {
  const done: string[] = [];
  for (const [name, d] of Object.entries(shifts)) {
    const n = graph.get(name);
    const t = n?.op === 'Const' ? n.attrs.getTensor('value') : undefined;
    if (!n || !t || t.dtype !== 'float32' || t.size !== d.length) {
      throw new TfpassError('E_USAGE', `bias shift for '${name}': expected a float32 Const with ${d.length} values, found ${n ? `${n.op}${t ? ` ${t.dtype}[${t.shape}]` : ''}` : 'no node'}`);
    }
    const b = t.toFloat32();
    n.attrs.setTensor('value', new Tensor('float32', t.shape, Float32Array.from(b, (v, k) => v - d[k]!)));
    done.push(name);
  }
  return done;
}
