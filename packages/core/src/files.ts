/**
 * The write path every output goes through, and `-` for stdin/stdout.
 *
 * - A regular file (or a path that does not exist yet) is written to a temp file in the same
 *   folder, fsynced, then renamed: readers see the old or the new file, never a part.
 * - Anything else that exists (a device such as /dev/null, a FIFO, /dev/stdout) is written in
 *   place: renaming over it would replace the device node or the link with a regular file.
 * - A symlink to a regular file keeps the link: the rename happens next to its target.
 * - Temp files are announced to a listener before they are created (the CLI's main thread uses
 *   it to remove them after it stops the worker on Ctrl-C), and temp files left by a process
 *   that was killed (kill -9) are removed by the next write into the same folder.
 */
import {
  closeSync, fsyncSync, lstatSync, openSync, readSync, readdirSync, realpathSync, renameSync, statSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { FileError, TfpassError } from './errors.js';

/** The path that means stdin (for inputs) or stdout (for outputs). */
export const STDIO_PATH = '-';

// On globalThis under a registered symbol, so two copies of core in one process share it.
const LISTENER = Symbol.for('tfpass.tempFileListener');
type Listener = (path: string) => void;

/** Be told the name of every temp file before it is created (one listener per process/thread). */
export function setTempFileListener(fn: Listener | undefined): void {
  (globalThis as Record<symbol, unknown>)[LISTENER] = fn;
}

/** Our temp names: `.<name>.tfpass-<pid>-<id>.tmp`; the pid tells a stale one from a live one. */
const TEMP_NAME = /^\..*\.tfpass-(\d+)-[0-9a-z]+\.tmp$/;
let serial = 0;

/** A fresh temp file name next to `target`, announced to the listener. */
export function tempPathFor(target: string): string {
  // Keep the name well under 255 bytes however long the target's name is.
  const stem = Buffer.from(basename(target)).subarray(0, 150).toString().replace(/\uFFFD+$/, '');
  const id = `${Date.now().toString(36)}${(serial++).toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  const tmp = join(dirname(target), `.${stem}.tfpass-${process.pid}-${id}.tmp`);
  ((globalThis as Record<symbol, unknown>)[LISTENER] as Listener | undefined)?.(tmp);
  return tmp;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove temp files of our naming in `dir` whose process is gone (killed before it could clean
 * up). Files of live processes are left alone. Returns the names removed.
 */
export function sweepStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      /* raced with another sweeper, or not ours to remove */
    }
  }
  return removed;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Bytes per write call: a terminated worker thread stops between calls, not inside one. */
const CHUNK = 8 << 20;

/** Write all of `buf` to `fd`; a non-blocking fd (a pipe set so by another process) is waited on. */
export function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, Math.min(buf.length - off, CHUNK));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      sleepMs(2);
    }
  }
}

function bytesOf(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data) : data;
}

function writeError(path: string, e: unknown): TfpassError {
  if (e instanceof TfpassError) return e;
  return new FileError(path, `cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
}

function statOrUndefined(path: string, follow = true): Stats | undefined {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Write an output file safely (see the top of this file). `-` is stdout. The call returns
 * only when the data is on disk (regular files) or handed to the device/pipe.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  if (path === STDIO_PATH) {
    try {
      writeAll(1, bytesOf(data));
    } catch (e) {
      throw writeError('-', e);
    }
    return;
  }
  const st = statOrUndefined(path);
  if (st?.isDirectory()) throw new FileError(path, 'cannot write: is a directory');
  if (st && !st.isFile()) {
    // A device, FIFO or socket: write to it; never rename over it.
    let fd: number | undefined;
    try {
      fd = openSync(path, 'w');
      writeAll(fd, bytesOf(data));
    } catch (e) {
      throw writeError(path, e);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return;
  }
  // A symlink to a regular file: replace the file it points to, keep the link.
  const target = st && statOrUndefined(path, false)?.isSymbolicLink() ? realpathSync(path) : path;
  sweepStaleTemps(dirname(resolve(target)));
  const tmp = tempPathFor(target);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', st ? st.mode & 0o777 : 0o644);
    writeAll(fd, bytesOf(data));
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw writeError(path, e);
  }
}

/**
 * Read all of stdin (for the `-` input), refusing more than `maxBytes` (never unbounded memory).
 * A non-blocking stdin is polled rather than failing with EAGAIN.
 */
export function readStdin(maxBytes: number, what = 'stdin'): Uint8Array {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let n: number;
    try {
      n = readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        sleepMs(2);
        continue;
      }
      throw new FileError(what, `cannot read stdin: ${code ?? (e as Error).message}`, { cause: e });
    }
    if (n === 0) break;
    total += n;
    if (total > maxBytes) throw new FileError(what, `stdin holds more than ${maxBytes} bytes, the most this input can be`);
    chunks.push(chunk.subarray(0, n));
  }
  return Buffer.concat(chunks, total);
}

/** The real path a write to `path` would replace (its folder resolved when it does not exist yet). */
function realOutput(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return undefined;
    }
  }
}

/**
 * Would writing `output` overwrite one of `inputs`? Compared by resolved real path (so `./a`,
 * `b/../a` and symlinks match) and by inode (hard links); an input that is a folder (a
 * SavedModel, a checkpoint dir) protects every file already inside it.
 */
export function overwritesInput(output: string, inputs: readonly string[]): string | undefined {
  if (output === STDIO_PATH) return undefined;
  const out = realOutput(output);
  const outStat = statOrUndefined(output);
  // Writing to a device or FIFO never destroys an input file.
  if (outStat && !outStat.isFile()) return undefined;
  for (const input of inputs) {
    if (!input || input === STDIO_PATH) continue;
    const inStat = statOrUndefined(input);
    if (!inStat) continue;
    let real: string;
    try {
      real = realpathSync(input);
    } catch {
      continue;
    }
    if (out === real) return input;
    if (outStat && outStat.ino === inStat.ino && outStat.dev === inStat.dev) return input;
    if (inStat.isDirectory() && outStat && out?.startsWith(real.endsWith(sep) ? real : real + sep)) return input;
  }
  return undefined;
}

/** Throw unless `force`, when writing `output` would overwrite one of `inputs`. */
export function refuseOverwrite(output: string, inputs: readonly string[], force = false): void {
  if (force) return;
  const hit = overwritesInput(output, inputs);
  if (hit === undefined) return;
  const how = resolve(hit) === resolve(output) ? 'the input file' : `a file of the input ${hit}`;
  throw new FileError(output, `refusing to overwrite ${how} (use --force)`);
}
