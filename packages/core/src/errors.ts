/**
 * One error hierarchy for every tfpass package. `code` is stable (scripts and the CLI
 * depend on it); `exitCode` is what the CLI exits with.
 */
export type ErrorCode =
  | 'E_GRAPH_FORMAT'
  | 'E_GRAPH_VALIDATION'
  | 'E_PASS'
  | 'E_UNKNOWN_PASS'
  | 'E_PARAM'
  | 'E_TRANSFORM_SYNTAX'
  | 'E_FILE'
  | 'E_UNSUPPORTED_OP'
  | 'E_PLUGIN'
  | 'E_USAGE'
  | 'E_CHECKPOINT'
  | 'E_NUMERIC'
  | 'E_LIMIT'
  | 'E_INTERNAL';

export const EXIT_CODES: Record<ErrorCode, number> = {
  E_USAGE: 2,
  E_FILE: 3,
  E_GRAPH_FORMAT: 4,
  E_GRAPH_VALIDATION: 5,
  E_TRANSFORM_SYNTAX: 6,
  E_UNKNOWN_PASS: 7,
  E_PARAM: 8,
  E_PASS: 9,
  E_PLUGIN: 10,
  E_UNSUPPORTED_OP: 11,
  E_CHECKPOINT: 12,
  E_NUMERIC: 13,
  E_LIMIT: 14,
  E_INTERNAL: 70,
};

export class TfpassError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

export function isTfpassError(e: unknown): e is TfpassError {
  // Duck-typed so errors thrown by another copy of core are recognised too.
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && (e as unknown as { code: string }).code.startsWith('E_');
}

export interface SourcePosition {
  file?: string;
  offset?: number;
  line?: number;
  column?: number;
}

function where(p: SourcePosition): string {
  const parts: string[] = [];
  if (p.file) parts.push(p.file);
  if (p.line !== undefined) parts.push(`${p.line}:${p.column ?? 1}`);
  else if (p.offset !== undefined) parts.push(`byte ${p.offset}`);
  return parts.join(':');
}

export class GraphFormatError extends TfpassError {
  constructor(readonly position: SourcePosition, detail: string, options?: { cause?: unknown }) {
    const w = where(position);
    super('E_GRAPH_FORMAT', `${w ? w + ': ' : ''}${detail}`, options);
  }
}

export class GraphValidationError extends TfpassError {
  constructor(readonly node: string | undefined, detail: string) {
    super('E_GRAPH_VALIDATION', node ? `node '${node}': ${detail}` : detail);
  }
}

export class PassError extends TfpassError {
  constructor(readonly pass: string, detail: string, options?: { cause?: unknown; packageName?: string; packageVersion?: string }) {
    const pkg = options?.packageName ? ` (${options.packageName}${options.packageVersion ? '@' + options.packageVersion : ''})` : '';
    super('E_PASS', `pass '${pass}'${pkg}: ${detail}`, options);
  }
}

export class UnknownPassError extends TfpassError {
  constructor(readonly pass: string, readonly suggestions: string[], hint?: string) {
    const s = suggestions.length ? `; did you mean ${suggestions.map((x) => `'${x}'`).join(', ')}?` : '';
    super('E_UNKNOWN_PASS', `unknown transform '${pass}'${s}${hint ? ' ' + hint : ''}`);
  }
}

export class ParamError extends TfpassError {
  constructor(readonly pass: string, readonly param: string, detail: string) {
    super('E_PARAM', `pass '${pass}', parameter '${param}': ${detail}`);
  }
}

export class TransformSyntaxError extends TfpassError {
  constructor(readonly position: number, readonly source: string, detail: string) {
    // A long string is shown as a window around the error, so the message stays short.
    const long = source.length > 120;
    const from = long ? Math.max(0, position - 60) : 0;
    const to = long ? Math.min(source.length, position + 60) : source.length;
    const pre = from > 0 ? '…' : '';
    const shown = pre + source.slice(from, to) + (to < source.length ? '…' : '');
    super('E_TRANSFORM_SYNTAX', `transform string, column ${position + 1}: ${detail}\n  ${shown}\n  ${' '.repeat(position - from + pre.length)}^`);
  }
}

export class FileError extends TfpassError {
  constructor(readonly file: string, detail: string, options?: { cause?: unknown }) {
    super('E_FILE', `${file}: ${detail}`, options);
  }
}

export class UnsupportedOpError extends TfpassError {
  constructor(readonly op: string, readonly node: string, hint?: string) {
    super('E_UNSUPPORTED_OP', `node '${node}': op '${op}' is not supported${hint ? ' — ' + hint : ''}`);
  }
}

export class PluginError extends TfpassError {
  constructor(readonly plugin: string, detail: string, options?: { cause?: unknown }) {
    super('E_PLUGIN', `plugin ${plugin}: ${detail}`, options);
  }
}

export class UsageError extends TfpassError {
  constructor(detail: string) {
    super('E_USAGE', detail);
  }
}

export class CheckpointError extends TfpassError {
  constructor(readonly file: string, detail: string, options?: { cause?: unknown }) {
    super('E_CHECKPOINT', `${file}: ${detail}`, options);
  }
}

/** A tensor larger than the configured limit (--max_tensor_bytes), refused before allocating it. */
export class TensorLimitError extends TfpassError {
  constructor(detail: string) {
    super('E_LIMIT', detail);
  }
}

export class NumericMismatchError extends TfpassError {
  constructor(detail: string) {
    super('E_NUMERIC', detail);
  }
}

/** Damerau-free Levenshtein distance, used for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = new Array(b.length + 1).fill(0).map((_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function nearest(name: string, candidates: Iterable<string>, max = 3): string[] {
  const scored = [...candidates].map((c) => [c, editDistance(name.toLowerCase(), c.toLowerCase())] as const);
  const limit = Math.max(2, Math.floor(name.length / 3));
  return scored.filter(([, d]) => d <= limit).sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0])).slice(0, max).map(([c]) => c);
}
