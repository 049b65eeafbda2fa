import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { CheckpointError } from '@tfpass/core';
import { indexFileName, parseCheckpointState } from '../names.js';

/**
 * Turn what a user typed into a checkpoint prefix: a prefix as-is; `x.index` / `x.data-…` ->
 * `x`; a directory or a `checkpoint` state file -> its `model_checkpoint_path` (relative paths
 * resolved against the state file's folder); a directory without state file -> its only bundle.
 */
export function resolveCheckpoint(path: string): string {
  const m = /^(.*)\.(index|data-\d{5}-of-\d{5})$/.exec(path);
  if (m && existsSync(path)) return m[1]!;
  if (existsSync(indexFileName(path))) return path;
  if (!existsSync(path)) {
    throw new CheckpointError(path, `no checkpoint here: neither ${basename(path)}.index nor a directory or 'checkpoint' state file exists`);
  }
  const isDir = statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const state = isDir ? join(path, 'checkpoint') : path;
  if (existsSync(state)) {
    const text = readFileSync(state, 'utf8');
    if (/model_checkpoint_path:/.test(text)) {
      const p = parseCheckpointState(text, state).latest;
      const abs = isAbsolute(p) ? p : join(dir, p);
      if (existsSync(indexFileName(abs))) return abs;
      // A checkpoint folder that was moved keeps the absolute paths of its old place.
      const local = join(dir, basename(p));
      if (existsSync(indexFileName(local))) return local;
      throw new CheckpointError(state, `names checkpoint '${p}', but ${indexFileName(abs)} does not exist`);
    }
    if (!isDir) throw new CheckpointError(state, 'is not a checkpoint state file (no model_checkpoint_path)');
  }
  if (isDir) {
    const found = readdirSync(path).filter((f) => f.endsWith('.index')).map((f) => join(path, f.slice(0, -'.index'.length)));
    if (found.length === 1) return found[0]!;
    if (found.length > 1) throw new CheckpointError(path, `holds several checkpoints (${found.map((f) => basename(f)).join(', ')}) and no 'checkpoint' state file: name one`);
    // A SavedModel directory keeps its variables under variables/variables.
    const sm = join(path, 'variables', 'variables');
    if (existsSync(indexFileName(sm))) return sm;
  }
  throw new CheckpointError(path, 'no checkpoint found');
}
