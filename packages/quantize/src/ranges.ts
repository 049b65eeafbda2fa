import { readFileSync } from 'node:fs';
import { FileError, TfpassError, constValue, removeIfDead, replaceAllUses, writeFileAtomic, type Graph } from '@tfpass/core';
import { FAKE_QUANTS } from './plan.js';

/** A range for one tensor: scalars, or one value per channel (last dimension). */
export interface Range {
  min: number | number[];
  max: number | number[];
  numBits?: number;
  narrowRange?: boolean;
}

/** Ranges by tensor name (`node` or `node:k`). */
export type Ranges = Record<string, Range>;

/** Bias shifts from calibration (correctBiases with apply=false), valid for these weight options. */
export interface BiasShifts {
  perChannel: boolean;
  weightBits: number;
  /** Amount to subtract from each bias Const, by node name. */
  shifts: Record<string, number[]>;
}

export interface RangesFile {
  format: 'tfpass-ranges';
  version: 1;
  method?: string;
  ranges: Ranges;
  biasCorrection?: BiasShifts;
}

export function writeRanges(path: string, ranges: Ranges, method?: string, biasCorrection?: BiasShifts): void {
  const body: RangesFile = { format: 'tfpass-ranges', version: 1, method, ranges, ...(biasCorrection ? { biasCorrection } : {}) };
  writeFileAtomic(path, JSON.stringify(body, null, 1) + '\n');
}

/** Bias shifts stored in a ranges file, if any. */
export function readBiasShifts(path: string): BiasShifts | undefined {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FileError(path, `cannot read ranges: ${(e as Error).message}`, { cause: e });
  }
  const b = j && typeof j === 'object' && 'biasCorrection' in j ? (j as RangesFile).biasCorrection : undefined;
  if (b === undefined) return undefined;
  if (!b || typeof b.perChannel !== 'boolean' || typeof b.weightBits !== 'number' || !b.shifts || typeof b.shifts !== 'object') {
    throw new FileError(path, '"biasCorrection" needs perChannel (bool), weightBits (number) and shifts ({bias node: [numbers]})');
  }
  for (const [k, v] of Object.entries(b.shifts)) {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw new FileError(path, `bias shift of '${k}' must be a list of finite numbers`);
  }
  return b;
}

/** Read a ranges file (ours, or a plain `{tensor: {min, max}}` map). */
export function readRanges(path: string): Ranges {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FileError(path, `cannot read ranges: ${(e as Error).message}`, { cause: e });
  }
  const r = (j && typeof j === 'object' && 'ranges' in j ? (j as RangesFile).ranges : j) as Ranges;
  for (const [k, v] of Object.entries(r ?? {})) {
    if (!v || typeof v !== 'object' || !('min' in v) || !('max' in v)) throw new FileError(path, `range of '${k}' needs "min" and "max"`);
  }
  return r;
}

function scalarOrList(v: number[]): number | number[] {
  return v.length === 1 ? v[0]! : v;
}

/**
 * Read the ranges of every FakeQuant in a frozen graph, keyed by the tensor it quantizes.
 * With `strip`, remove the FakeQuant nodes (consumers read the float tensor again) and
 * their now unused min/max nodes. Returns the ranges and the fake-quant node names.
 */
export function extractRanges(g: Graph, opts: { strip?: boolean } = {}): { ranges: Ranges; fakeQuants: Map<string, string> } {
  const ranges: Ranges = {};
  const fakeQuants = new Map<string, string>();
  for (const n of g.nodes()) {
    if (!FAKE_QUANTS.has(n.op)) continue;
    const x = n.dataInputs[0]!;
    let min: number[] | undefined;
    let max: number[] | undefined;
    if (n.op === 'FakeQuantWithMinMaxArgs') {
      min = [n.attrs.optFloat('min', -6)];
      max = [n.attrs.optFloat('max', 6)];
    } else {
      min = constValue(g, n.dataInputs[1]!);
      max = constValue(g, n.dataInputs[2]!);
    }
    const key = x.endsWith(':0') ? x.slice(0, -2) : x;
    if (min && max) ranges[key] = { min: scalarOrList(min), max: scalarOrList(max), numBits: n.attrs.optInt('num_bits', 8), narrowRange: n.attrs.optBool('narrow_range', false) };
    fakeQuants.set(key, n.name);
    if (opts.strip) {
      replaceAllUses(g, n.name, x);
      const rest = n.dataInputs.slice(1);
      g.removeNode(n.name);
      for (const s of rest) removeIfDead(g, s);
    }
  }
  return { ranges, fakeQuants };
}

export function checkRange(tensor: string, r: Range): void {
  const mins = Array.isArray(r.min) ? r.min : [r.min];
  const maxs = Array.isArray(r.max) ? r.max : [r.max];
  if (mins.length !== maxs.length) throw new TfpassError('E_USAGE', `range of '${tensor}': min has ${mins.length} values, max ${maxs.length}`);
  for (let i = 0; i < mins.length; i++) {
    if (!Number.isFinite(mins[i]) || !Number.isFinite(maxs[i]) || mins[i]! > maxs[i]!) {
      throw new TfpassError('E_USAGE', `range of '${tensor}' is invalid: [${mins[i]}, ${maxs[i]}]`);
    }
  }
}
