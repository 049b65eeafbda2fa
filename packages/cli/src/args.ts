import { homedir } from 'node:os';
import { UsageError, nearest } from '@tfpass/core/errors';

export type FlagType = 'string' | 'bool' | 'list' | 'number';

export interface FlagSpec {
  type: FlagType;
  description: string;
  /** Other spellings (without dashes), e.g. `input_graph` for `in_graph`. */
  alias?: string[];
  default?: unknown;
  /** Shown in usage, e.g. `FILE`. */
  value?: string;
}

export interface CommandSpec {
  /** One-line usage after `tfpass <name>`. */
  usage: string;
  summary: string;
  flags: Record<string, FlagSpec>;
  /** Most positionals accepted (default 0). */
  maxPositionals?: number;
}

export interface ParsedArgs {
  flags: Record<string, unknown>;
  positionals: string[];
  /** Flags the user actually gave (canonical names). */
  given: Set<string>;
}

/** Flags every command accepts. */
export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'bool', description: 'machine-readable output on stdout' },
  quiet: { type: 'bool', description: 'print nothing but errors' },
  verbose: { type: 'bool', description: 'more detail, and the cause chain of errors' },
  help: { type: 'bool', alias: ['h'], description: 'show this help' },
  max_tensor_bytes: { type: 'string', value: 'BYTES', description: 'refuse tensors larger than this before allocating them (default 2G; also TFPASS_MAX_TENSOR_BYTES; e.g. 8G)' },
  pass_timeout: { type: 'number', value: 'SECONDS', description: 'report a plugin pass still running after this long (default 600; 0 waits forever)' },
};

const norm = (s: string) => s.replace(/-/g, '_');

/**
 * TF-style flags: `--flag=value`, `--flag value`, booleans as `--flag` or `--flag=true|false`,
 * repeated list flags collect every value, repeated single flags keep the last (as TF does).
 * `-` and `_` are interchangeable in names; `--` ends the flags.
 */
export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const all: Record<string, FlagSpec> = { ...GLOBAL_FLAGS, ...spec.flags };
  const byName = new Map<string, string>();
  for (const [k, f] of Object.entries(all)) {
    byName.set(k, k);
    for (const a of f.alias ?? []) byName.set(norm(a), k);
  }
  const flags: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(all)) {
    if (f.type === 'list') flags[k] = [...((f.default as string[]) ?? [])];
    else if (f.type === 'bool') flags[k] = f.default ?? false;
    else if (f.default !== undefined) flags[k] = f.default;
  }
  const positionals: string[] = [];
  const given = new Set<string>();
  let i = 0;
  while (i < argv.length) {
    const a = argv[i++]!;
    if (a === '--') {
      positionals.push(...argv.slice(i).map((v) => expandHome(v)));
      break;
    }
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) {
      positionals.push(expandHome(a));
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const rawName = eq < 0 ? body : body.slice(0, eq);
    let inline = eq < 0 ? undefined : body.slice(eq + 1);
    let name = byName.get(norm(rawName));
    let negated = false;
    if (!name && /^no_?/.test(norm(rawName))) {
      const n = byName.get(norm(rawName).replace(/^no_?/, ''));
      if (n && all[n]!.type === 'bool') {
        name = n;
        negated = true;
      }
    }
    if (!name) {
      const near = nearest(norm(rawName), byName.keys());
      throw new UsageError(`unknown flag --${rawName}${near.length ? ` (did you mean --${near[0]}?)` : ''}; see 'tfpass ${spec.usage.split(' ')[0]} --help'`);
    }
    const f = all[name]!;
    given.add(name);
    if (f.type === 'bool') {
      if (inline === undefined) flags[name] = !negated;
      else if (/^(true|1|yes)$/i.test(inline)) flags[name] = !negated;
      else if (/^(false|0|no)$/i.test(inline)) flags[name] = negated;
      else throw new UsageError(`--${rawName} takes true or false, got '${inline}'`);
      continue;
    }
    if (inline === undefined) {
      if (i >= argv.length) throw new UsageError(`--${rawName} needs a value`);
      inline = argv[i++]!;
    }
    // The shell leaves `~` alone after `=` (--in_graph=~/m.pb) and inside quotes: expand it here.
    if (f.type === 'list') (flags[name] as string[]).push(expandHome(inline, true));
    else if (f.type === 'number') {
      const n = Number(inline);
      if (inline.trim() === '' || Number.isNaN(n)) throw new UsageError(`--${rawName} takes a number, got '${inline}'`);
      flags[name] = n;
    } else flags[name] = expandHome(inline);
  }
  const max = spec.maxPositionals ?? 0;
  if (positionals.length > max) {
    throw new UsageError(`unexpected argument '${positionals[max]}'; usage: tfpass ${spec.usage}`);
  }
  return { flags, positionals, given };
}

/** `~` and `~/x` (and, in list values such as `--data NAME=~/d/*.npy`, `NAME=~/x`) to the home folder. */
export function expandHome(v: string, named = false): string {
  const m = (named ? /^([^=~/]+=)?~(\/|$)/ : /^()~(\/|$)/).exec(v);
  return m ? `${m[1] ?? ''}${homedir()}${v.slice((m[1] ?? '').length + 1)}` : v;
}

/** Help text for a command. */
export function formatUsage(spec: CommandSpec): string {
  const lines = [`usage: tfpass ${spec.usage}`, '', spec.summary, '', 'flags:'];
  const all = { ...spec.flags, ...GLOBAL_FLAGS };
  const rows = Object.entries(all).map(([k, f]) => {
    const v = f.type === 'bool' ? '' : `=${f.value ?? (f.type === 'number' ? 'N' : 'VALUE')}`;
    const names = [`--${k}${v}`, ...(f.alias ?? []).map((a) => (a.length === 1 ? `-${a}` : `--${a}`))].join(', ');
    const rep = f.type === 'list' ? ' (repeatable)' : '';
    const def = f.default !== undefined && f.type !== 'list' && f.type !== 'bool' ? ` (default ${f.default})` : '';
    return [names, f.description + rep + def] as const;
  });
  const w = Math.min(36, Math.max(...rows.map((r) => r[0].length)));
  for (const [n, d] of rows) lines.push(`  ${n.padEnd(w)}  ${d}`);
  return lines.join('\n');
}

/** Split a comma list as TF does for --inputs/--outputs (empty text -> no names). */
export function splitList(v: unknown, sep = ','): string[] {
  if (typeof v !== 'string' || v === '') return [];
  return v.split(sep).map((s) => s.trim()).filter((s) => s !== '');
}
