/**
 * The `checkpoint` state file a TF Saver keeps next to its bundles (text CheckpointState):
 * `model_checkpoint_path: "<latest>"` then one `all_model_checkpoint_paths: "<p>"` per kept bundle.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { CheckpointError, writeFileAtomic } from '@tfpass/core';
import { dataFileName, indexFileName, readCheckpoint } from './bundle.js';

export interface CheckpointState {
  /** Latest prefix, as written in the file (relative to its folder, or absolute). */
  latest: string;
  /** Every kept prefix, oldest first (the latest included). */
  all: string[];
}

const unquote = (s: string) => s.replace(/\\(.)/g, '$1');
const quote = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

export function parseCheckpointState(text: string, file = 'checkpoint'): CheckpointState {
  const latest = /model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"/.exec(text);
  if (!latest) throw new CheckpointError(file, 'is not a checkpoint state file (no model_checkpoint_path)');
  const all = [...text.matchAll(/all_model_checkpoint_paths:\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => unquote(m[1]!));
  return { latest: unquote(latest[1]!), all };
}

/** Read `DIR/checkpoint` (undefined when there is none). */
export function readCheckpointState(dir: string): CheckpointState | undefined {
  const f = join(dir, 'checkpoint');
  if (!existsSync(f)) return undefined;
  return parseCheckpointState(readFileSync(f, 'utf8'), f);
}

function deleteBundle(prefix: string): void {
  let shards = 1;
  try {
    const c = readCheckpoint(prefix);
    shards = c.header.numShards;
  } catch {
    /* unreadable: remove what we can */
  }
  for (let i = 0; i < shards; i++) if (existsSync(dataFileName(prefix, i, shards))) unlinkSync(dataFileName(prefix, i, shards));
  for (const f of [indexFileName(prefix), `${prefix}.meta`]) if (existsSync(f)) unlinkSync(f);
}

/**
 * Record `prefix` as the latest checkpoint of its folder, as Saver.save does: appended to the
 * kept list; with `maxToKeep`, the oldest bundles beyond it are deleted from disk.
 * Returns the new state (paths relative to the folder).
 */
export function updateCheckpointState(prefix: string, opts: { maxToKeep?: number } = {}): CheckpointState {
  const dir = dirname(prefix);
  const rel = basename(prefix);
  const old = readCheckpointState(dir);
  const all = (old?.all ?? []).filter((p) => p !== rel && p !== prefix);
  all.push(rel);
  const keep = opts.maxToKeep && opts.maxToKeep > 0 ? opts.maxToKeep : Infinity;
  while (all.length > keep) {
    const gone = all.shift()!;
    deleteBundle(isAbsolute(gone) ? gone : join(dir, gone));
  }
  const state = { latest: rel, all };
  const lines = [`model_checkpoint_path: "${quote(rel)}"`, ...all.map((p) => `all_model_checkpoint_paths: "${quote(isAbsolute(p) ? relative(dir, p) : p)}"`)];
  writeFileAtomic(join(dir, 'checkpoint'), lines.join('\n') + '\n');
  return state;
}
