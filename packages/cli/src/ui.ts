import { EXIT_CODES, UsageError, isTfpassError, type ErrorCode } from '@tfpass/core/errors';
import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { isatty } from 'node:tty';
import type { ParsedArgs } from './args.js';
import type { CommandEntry } from './commands/index.js';

export interface Io {
  out(s: string): void;
  err(s: string): void;
  /** Progress is shown only when stderr is a terminal (or TFPASS_PROGRESS=1). */
  tty: boolean;
  cwd: string;
}

/** Write to an fd synchronously (ordered, nothing left buffered at exit); a non-blocking pipe is waited on. */
function writeFd(fd: number, s: string): void {
  const buf = Buffer.from(s);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
}

/** stdout's reader went away (`tfpass … | head`): the command stops and tfpass exits quietly. */
export class BrokenPipe extends Error {
  readonly code = 'EPIPE';
}

/** True when `e` (or one of its causes) is a write to a pipe nobody reads any more. */
export function isBrokenPipe(e: unknown): boolean {
  for (let c = e, depth = 0; c && depth < 8; depth++, c = (c as { cause?: unknown }).cause) {
    if ((c as { code?: unknown }).code === 'EPIPE') return true;
  }
  return false;
}

/** The process's stdout/stderr (fds 1 and 2; works the same in the worker thread). */
export function fdIo(tty: { stderr: boolean } = { stderr: isatty(2) }): Io {
  return {
    out: (s) => {
      try {
        writeFd(1, s);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') throw new BrokenPipe('stdout was closed by its reader');
        throw e;
      }
    },
    err: (s) => {
      try {
        writeFd(2, s);
      } catch {
        /* nowhere left to report to */
      }
    },
    tty: process.env.TFPASS_PROGRESS === '1' || (process.env.TFPASS_PROGRESS !== '0' && tty.stderr),
    cwd: process.cwd(),
  };
}

export const processIo = (): Io => fdIo();

/** What a command gets: its parsed flags plus output helpers that honour --json/--quiet. */
export class Ctx {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  constructor(
    readonly args: ParsedArgs,
    readonly io: Io,
    readonly command: string,
    /** The command table (handed in by main, so `help` need not import it back). */
    readonly commands: ReadonlyMap<string, CommandEntry> = new Map(),
  ) {
    this.json = !!args.flags.json;
    this.quiet = !!args.flags.quiet;
    this.verbose = !!args.flags.verbose;
  }
  get flags(): Record<string, unknown> {
    return this.args.flags;
  }
  str(name: string): string | undefined {
    const v = this.args.flags[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
  }
  list(name: string): string[] {
    return (this.args.flags[name] as string[] | undefined) ?? [];
  }
  /** A string flag that must be one of `values` (typed as that union); undefined when not given. */
  choice<const V extends string>(name: string, values: readonly V[]): V | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (!(values as readonly string[]).includes(v)) throw new UsageError(`--${name} takes ${values.join(', ')}, got '${v}'`);
    return v as V;
  }
  bool(name: string): boolean {
    return !!this.args.flags[name];
  }
  num(name: string): number | undefined {
    const v = this.args.flags[name];
    return typeof v === 'number' ? v : undefined;
  }
  get cwd(): string {
    return this.io.cwd;
  }
  /** An input or output path as given: `-` (stdin/stdout) stays `-`, anything else is resolved against the cwd. */
  path(p: string): string {
    return p === '-' ? p : resolve(this.cwd, p);
  }
  /** True once an output goes to stdout (`-`): result lines and --json then go to stderr. */
  private stdoutIsData = false;
  /** Like path(), for an output: `-` claims stdout for the data (messages move to stderr). */
  outputPath(p: string): string {
    if (p === '-') this.stdoutIsData = true;
    return this.path(p);
  }
  private say(s: string): void {
    if (this.stdoutIsData) this.io.err(s);
    else this.io.out(s);
  }
  /** A result line for humans (suppressed by --json and --quiet). */
  print(line = ''): void {
    if (!this.json && !this.quiet) this.say(line + '\n');
  }
  /** The result for scripts (only with --json). */
  emit(value: unknown): void {
    if (this.json) this.say(JSON.stringify(toJson(value), null, 2) + '\n');
  }
  /** Detail shown with --verbose, on stderr. */
  debug(line: string): void {
    if (this.verbose && !this.json) {
      this.endProgress();
      this.io.err(line + '\n');
    }
  }
  warn(line: string): void {
    this.endProgress();
    if (!this.quiet) this.io.err(`tfpass: warning: ${line}\n`);
  }
  /** Progress is for terminals only: nothing is written when piped, quiet or json. */
  get showProgress(): boolean {
    return this.io.tty && !this.quiet && !this.json;
  }
  private pending = false;
  /** A progress line; `transient` ones are replaced by the next line (terminals only). */
  progress(line: string, transient = false): void {
    if (!this.showProgress) return;
    const clear = this.pending ? '\r\x1b[K' : '';
    this.io.err(clear + line + (transient ? '' : '\n'));
    this.pending = transient;
  }
  private barStart = new Map<string, { t: number; done: number }>();
  /**
   * A progress bar with the rate and the time left, `label [#####.....] 12/40 3.1/s ETA 9 s`
   * (terminals only, like progress()). The rate is measured from the first call for `label`.
   */
  bar(label: string, done: number, total: number, extra = ''): void {
    if (!this.showProgress) return;
    const now = performance.now();
    const start = this.barStart.get(label) ?? { t: now, done };
    this.barStart.set(label, start);
    const rate = (done - start.done) / Math.max(1e-3, (now - start.t) / 1000);
    const w = 24;
    const filled = total > 0 ? Math.min(w, Math.round((w * done) / total)) : 0;
    const eta = rate > 0 && done < total ? ` ETA ${ms(((total - done) / rate) * 1000)}` : '';
    const r = done > start.done ? ` ${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)}/s` : '';
    this.progress(`${label} [${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${done}/${total}${r}${eta}${extra ? ' ' + extra : ''}`, done < total);
  }
  private endProgress(): void {
    if (this.pending) this.io.err('\r\x1b[K');
    this.pending = false;
  }
}

/**
 * Objects whose keys are names from the user's data (inputs, ops, files, tensors, counters…):
 * their keys are printed as they are; every other key is snake_case, like the flags.
 */
const NAME_KEYED = new Set(['inputs', 'ops', 'files', 'ranges', 'stats', 'counters', 'shapes', 'shifts', 'rules', 'histogram', 'by_op']);

const snake = (k: string): string => (/^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$/.test(k) ? k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : k);

/** The value --json prints: bigints as numbers, Maps/Sets/typed arrays as JSON, keys snake_case. */
export function toJson(v: unknown, names = false): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Map) return toJson(Object.fromEntries(v), true);
  if (v instanceof Set) return [...v].map((x) => toJson(x));
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) return v.map((x) => toJson(x));
  if (v && typeof v === 'object' && (v as { toJSON?: unknown }).toJSON === undefined) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const key = names ? k : snake(k);
      out[key] = toJson(x, !names && NAME_KEYED.has(key));
    }
    return out;
  }
  return v;
}

/** Print an error as one readable line (plus the cause chain with --verbose); returns the exit status. */
export function reportError(e: unknown, io: Io, opts: { json?: boolean; verbose?: boolean }): number {
  const typed = isTfpassError(e);
  const code: ErrorCode = typed ? ((e as { code: ErrorCode }).code in EXIT_CODES ? (e as { code: ErrorCode }).code : 'E_INTERNAL') : 'E_INTERNAL';
  const msg = e instanceof Error ? e.message : String(e);
  const status = EXIT_CODES[code];
  const causes: string[] = [];
  let c = e instanceof Error ? (e as Error & { cause?: unknown }).cause : undefined;
  for (let depth = 0; c !== undefined && depth < 8; depth++) {
    causes.push(c instanceof Error ? `${c.name}: ${c.message}` : String(c));
    c = c instanceof Error ? (c as Error & { cause?: unknown }).cause : undefined;
  }
  if (opts.json) {
    io.out(JSON.stringify({ ok: false, error: { code, exit_code: status, message: msg, ...(opts.verbose ? { causes } : {}) } }, null, 2) + '\n');
    return status;
  }
  const text = typed ? msg : `internal error: ${msg}`;
  io.err(`tfpass: error[${code}]: ${text}\n`);
  if (opts.verbose) for (const line of causes) io.err(`  caused by: ${line.split('\n')[0]}\n`);
  else if (causes.length) io.err(`  (run with --verbose for the cause)\n`);
  if (!typed && process.env.TFPASS_DEBUG && e instanceof Error && e.stack) io.err(e.stack + '\n');
  return status;
}

export function humanCount(n: number): string {
  if (n < 1000) return String(n);
  const units = ['k', 'M', 'B', 'T'];
  let v = n / 1000;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(2)}${units[u]}`;
}

export function ms(t: number): string {
  return t < 1000 ? `${t.toFixed(0)} ms` : `${(t / 1000).toFixed(2)} s`;
}
