import { TfpassError, constValue, type Executor, type Graph, type Tensor } from '@tfpass/core';
import { DebiasedEma, trackedRange } from './fq.js';
import { planQuantization, type PlanOptions } from './plan.js';
import type { Ranges } from './ranges.js';
import { weightRange } from './rewrite.js';

export type CalibrationMethod = 'minmax' | 'ema' | `percentile=${number}` | { percentile: number } | { ema: number };

export interface CalibrateOptions extends PlanOptions {
  /** Input names, fed in this order from `data` (needed only for per-input lists). */
  inputs?: string[];
  /** Samples: one record of feeds per run, or per-input lists of the same length. */
  data?: Iterable<Record<string, Tensor>> | Record<string, Tensor[]>;
  /** Only tensors these outputs depend on are calibrated. */
  outputs?: string[];
  /** Called with the 0-based index of each finished sample of the first pass. */
  onBatch?: (i: number) => void;
  method?: CalibrationMethod;
  executor: Executor;
  /** Tensors to calibrate (default: every tensor planQuantization quantizes). */
  tensors?: string[];
  /** Called after each run (and each run of the percentile second pass). */
  onProgress?: (done: number, total: number) => void;
  /** Tensors fetched per executor run (default 64), to bound memory. */
  fetchBatch?: number;
}

interface Method {
  kind: 'minmax' | 'ema' | 'percentile';
  p: number;
}

function parseMethod(m: CalibrationMethod | undefined): Method {
  if (m === undefined || m === 'minmax') return { kind: 'minmax', p: 0 };
  if (m === 'ema') return { kind: 'ema', p: 0.999 };
  if (typeof m === 'object') return 'percentile' in m ? { kind: 'percentile', p: m.percentile } : { kind: 'ema', p: m.ema };
  const pm = /^percentile=(\d+(?:\.\d+)?)$/.exec(m);
  if (pm && Number(pm[1]) > 50 && Number(pm[1]) <= 100) return { kind: 'percentile', p: Number(pm[1]) };
  throw new TfpassError('E_USAGE', `unknown calibration method '${String(m)}': use minmax, ema or percentile=P (50 < P <= 100)`);
}

function samples(opts: CalibrateOptions): Record<string, Tensor>[] {
  const d = opts.data;
  if (!d) throw new TfpassError('E_USAGE', 'calibrate: no data');
  if (Symbol.iterator in d) return [...(d as Iterable<Record<string, Tensor>>)];
  const lists = d as Record<string, Tensor[]>;
  const inputs = opts.inputs ?? Object.keys(lists);
  const n = Math.min(...inputs.map((i) => lists[i]?.length ?? 0));
  const missing = inputs.filter((i) => !lists[i]);
  if (missing.length) throw new TfpassError('E_USAGE', `no calibration data for input(s) ${missing.join(', ')}`);
  return Array.from({ length: n }, (_, k) => Object.fromEntries(inputs.map((i) => [i, lists[i]![k]!])));
}

function ancestors(g: Graph, outputs: string[]): Set<string> {
  const seen = new Set<string>();
  const stack = outputs.map((o) => o.replace(/^\^/, '').replace(/:\d+$/, ''));
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const s of g.get(n)?.inputs ?? []) stack.push(s.replace(/^\^/, '').replace(/:\d+$/, ''));
  }
  return seen;
}

const BINS = 4096;

/**
 * Run the float graph over sample inputs and record a range for every tensor the
 * rewrite quantizes: minmax (union over samples), ema (debiased EMA of per-sample ranges,
 * as contrib tracks them in training) or percentile=P (two passes: range, then a histogram;
 * clips the (100-P)% tails). Zero is always inside a range.
 */
export async function calibrate(
  graph: Graph,
  dataOrOpts: CalibrateOptions | Iterable<Record<string, Tensor>>,
  more?: Omit<CalibrateOptions, 'data'>,
): Promise<Ranges> {
  // calibrate(graph, opts) or calibrate(graph, samples, opts)
  const opts: CalibrateOptions = Symbol.iterator in Object(dataOrOpts) ? { ...(more as CalibrateOptions), data: dataOrOpts as Iterable<Record<string, Tensor>> } : (dataOrOpts as CalibrateOptions);
  if (!opts.executor) throw new TfpassError('E_USAGE', 'calibrate needs an executor (createExecutor from @tfpass/runtime)');
  const method = parseMethod(opts.method);
  const feeds = samples(opts);
  if (feeds.length === 0) throw new TfpassError('E_USAGE', 'calibration needs at least one sample');
  const ranges: Ranges = {};
  const keep = opts.outputs?.length ? ancestors(graph, opts.outputs) : undefined;
  const sites = planQuantization(graph, opts).filter((s) => !keep || keep.has(s.producer));
  let tensors = opts.tensors;
  if (!tensors) {
    tensors = [];
    for (const s of sites) {
      if (s.kind === 'weights' && constValue(graph, s.tensor)) {
        const r = weightRange(graph, s.tensor, s);
        if (r) ranges[s.tensor] = r;
      } else tensors.push(s.tensor);
    }
  }
  const batch = Math.max(1, opts.fetchBatch ?? 64);
  const groups: string[][] = [];
  for (let i = 0; i < tensors.length; i += batch) groups.push(tensors.slice(i, i + batch));
  const total = feeds.length * groups.length * (method.kind === 'percentile' ? 2 : 1);
  let done = 0;
  const lo = new Map<string, number>();
  const hi = new Map<string, number>();
  const emaLo = new Map<string, DebiasedEma>();
  const emaHi = new Map<string, DebiasedEma>();

  let pass = 0;
  const each = async (fn: (t: string, v: Float32Array) => void) => {
    pass++;
    for (let k = 0; k < feeds.length; k++) {
      for (const grp of groups) {
        const outs = await opts.executor.run(graph, feeds[k]!, grp);
        outs.forEach((o, i) => fn(grp[i]!, o.toFloat32()));
        opts.onProgress?.(++done, total);
      }
      if (pass === 1) opts.onBatch?.(k);
    }
  };

  await each((t, v) => {
    let a = Infinity;
    let b = -Infinity;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (x < a) a = x;
      if (x > b) b = x;
    }
    if (method.kind === 'ema') {
      const [ra, rb] = trackedRange(a, b);
      if (!emaLo.has(t)) {
        emaLo.set(t, new DebiasedEma(method.p, 0, { float32: false }));
        emaHi.set(t, new DebiasedEma(method.p, 0, { float32: false }));
      }
      emaLo.get(t)!.update(ra);
      emaHi.get(t)!.update(rb);
    }
    lo.set(t, Math.min(lo.get(t) ?? Infinity, a));
    hi.set(t, Math.max(hi.get(t) ?? -Infinity, b));
  });

  if (method.kind === 'percentile') {
    const hist = new Map<string, Float64Array>();
    await each((t, v) => {
      const a = lo.get(t)!;
      const w = hi.get(t)! - a || 1;
      let h = hist.get(t);
      if (!h) hist.set(t, (h = new Float64Array(BINS)));
      for (let i = 0; i < v.length; i++) h[Math.min(BINS - 1, Math.floor(((v[i]! - a) / w) * BINS))]! += 1;
    });
    for (const t of tensors) {
      const h = hist.get(t)!;
      const a = lo.get(t)!;
      const w = hi.get(t)! - a || 1;
      const n = h.reduce((x, y) => x + y, 0);
      const tail = (n * (100 - method.p)) / 100;
      let acc = 0;
      let k0 = 0;
      while (k0 < BINS - 1 && acc + h[k0]! <= tail) acc += h[k0++]!;
      acc = 0;
      let k1 = BINS - 1;
      while (k1 > 0 && acc + h[k1]! <= tail) acc += h[k1--]!;
      const [ra, rb] = trackedRange(a + (k0 / BINS) * w, a + ((k1 + 1) / BINS) * w);
      ranges[t] = { min: ra, max: rb };
    }
  } else {
    for (const t of tensors) {
      const [ra, rb] = method.kind === 'ema' ? [emaLo.get(t)!.value, emaHi.get(t)!.value] : trackedRange(lo.get(t)!, hi.get(t)!);
      ranges[t] = { min: ra, max: rb };
    }
  }
  return ranges;
}
