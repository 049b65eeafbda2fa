import { basename } from 'node:path';
import { UsageError } from '@tfpass/core/errors';
import { refuseOverwrite } from '@tfpass/core/files';
import type { Graph } from '@tfpass/core';

/** Op -> node count. */
export function histogram(g: Graph): Map<string, number> {
  const h = new Map<string, number>();
  for (const n of g.nodes()) h.set(n.op, (h.get(n.op) ?? 0) + 1);
  return h;
}

export interface OpDelta {
  op: string;
  before: number;
  after: number;
}

/** Ops whose count changed, biggest change first. */
export function histogramDiff(before: Map<string, number>, after: Map<string, number>): OpDelta[] {
  const ops = new Set([...before.keys(), ...after.keys()]);
  return [...ops]
    .map((op) => ({ op, before: before.get(op) ?? 0, after: after.get(op) ?? 0 }))
    .filter((d) => d.before !== d.after)
    .sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before) || a.op.localeCompare(b.op));
}

export function formatDiff(d: OpDelta[], max = 12): string[] {
  if (!d.length) return ['op types: unchanged'];
  const shown = d.slice(0, max).map((x) => `${x.op} ${x.before} -> ${x.after}`);
  const more = d.length > max ? [`… and ${d.length - max} more`] : [];
  return [`op types changed: ${[...shown, ...more].join(', ')}`];
}

/**
 * Refuse to write over an input (unless --force) before doing any work: compared by real path
 * and inode, and an input folder (a SavedModel, a checkpoint dir) protects every file in it.
 */
export function checkNotInput(input: string | readonly string[], output: string, force: boolean): void {
  refuseOverwrite(output, typeof input === 'string' ? [input] : input, force);
}

export function requireFlag(v: string | undefined, flag: string, what: string): string {
  if (!v) throw new UsageError(`--${flag} is required (${what})`);
  return v;
}

export function isTfjsModel(path: string): boolean {
  return basename(path).toLowerCase().endsWith('.json');
}
