/**
 * Names of a checkpoint's files and the text of its `checkpoint` state file: what both the
 * bundle reader/writer and the Saver-style state bookkeeping need, so neither imports the other.
 */
import { CheckpointError } from '@tfpass/core';

export function dataFileName(prefix: string, shard: number, numShards: number): string {
  const p = (n: number) => String(n).padStart(5, '0');
  return `${prefix}.data-${p(shard)}-of-${p(numShards)}`;
}

export function indexFileName(prefix: string): string {
  return `${prefix}.index`;
}

export interface CheckpointState {
  /** Latest prefix, as written in the file (relative to its folder, or absolute). */
  latest: string;
  /** Every kept prefix, oldest first (the latest included). */
  all: string[];
}

const unquote = (s: string) => s.replace(/\\(.)/g, '$1');

export function parseCheckpointState(text: string, file = 'checkpoint'): CheckpointState {
  const latest = /model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"/.exec(text);
  if (!latest) throw new CheckpointError(file, 'is not a checkpoint state file (no model_checkpoint_path)');
  const all = [...text.matchAll(/all_model_checkpoint_paths:\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => unquote(m[1]!));
  return { latest: unquote(latest[1]!), all };
}
