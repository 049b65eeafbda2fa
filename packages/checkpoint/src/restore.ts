/**
 * Selective restore for fine-tuning (TF1's `Saver(var_list).restore` with variables left out by
 * pattern): what was restored, skipped, missing and shape/dtype-mismatched, in one report.
 */
import type { DType, Shape, Tensor } from '@tfpass/core';
import { readCheckpoint, type Checkpoint } from './bundle.js';

export interface WantedVariable {
  dtype: DType;
  /** Expected shape; -1 dims match anything. */
  shape: Shape;
  /** Checkpoint key when it differs from the variable name. */
  key?: string;
}

export interface RestoreReport {
  restored: Map<string, Tensor>;
  /** Excluded by pattern. */
  skipped: string[];
  /** Not in the checkpoint. */
  missing: string[];
  mismatched: { name: string; want: string; have: string }[];
  /** Checkpoint tensors no variable asked for (e.g. optimizer slots). */
  unused: string[];
}

const sig = (d: string, s: readonly number[]) => `${d}[${s.join(',')}]`;

export function restoreVariables(
  ckpt: Checkpoint | string,
  wanted: Map<string, WantedVariable> | Record<string, WantedVariable>,
  opts: { exclude?: RegExp | string } = {},
): RestoreReport {
  const c = typeof ckpt === 'string' ? readCheckpoint(ckpt) : ckpt;
  const ex = opts.exclude === undefined ? undefined : typeof opts.exclude === 'string' ? new RegExp(opts.exclude) : opts.exclude;
  const list = wanted instanceof Map ? [...wanted] : Object.entries(wanted);
  const report: RestoreReport = { restored: new Map(), skipped: [], missing: [], mismatched: [], unused: [] };
  const used = new Set<string>();
  for (const [name, w] of list) {
    const key = w.key ?? name;
    if (ex && ex.test(name)) {
      report.skipped.push(name);
      used.add(key);
      continue;
    }
    const e = c.entries.get(key);
    if (!e) {
      report.missing.push(name);
      continue;
    }
    used.add(key);
    const okShape = e.shape.length === w.shape.length && w.shape.every((d, i) => d < 0 || d === e.shape[i]);
    if (e.dtype !== w.dtype || !okShape) {
      report.mismatched.push({ name, want: sig(w.dtype, w.shape), have: sig(e.dtype, e.shape) });
      continue;
    }
    report.restored.set(name, c.read(key));
  }
  report.unused = [...c.entries.keys()].filter((k) => !used.has(k));
  if (c !== ckpt) c.close();
  return report;
}
