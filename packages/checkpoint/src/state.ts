/**
 * The `checkpoint` state file a TF Saver keeps next to its bundles (text CheckpointState):
 * `model_checkpoint_path: "<latest>"` then one `all_model_checkpoint_paths: "<p>"` per kept bundle.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { writeFileAtomic } from '@tfpass/core';
import { readCheckpoint } from './bundle.js';
import { dataFileName, indexFileName, parseCheckpointState, type CheckpointState } from './names.js';

export { parseCheckpointState, type CheckpointState } from './names.js';

const quote = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

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
