import { UsageError } from '@tfpass/core/errors';
import type { Ctx } from './ui.js';
import type { FlagSpec } from './args.js';

/** One fed tensor: `--input NAME[=D0,D1,...][:DTYPE]`, `--input_file NAME=x.npy`, `--data [NAME=]GLOB`. */
export interface InputSpec {
  name: string;
  /** Dims; -1 for "take from the graph". Undefined: the graph's own shape. */
  shape?: number[];
  dtype?: string;
  /** A .npy file to feed instead of random values. */
  file?: string;
}

export interface DataSpec {
  /** Input the files feed; undefined when the graph has one input. */
  name?: string;
  glob: string;
}

const DTYPES = new Set([
  'float', 'float16', 'half', 'float32', 'float64', 'double', 'bfloat16', 'int8', 'int16', 'int32', 'int64',
  'uint8', 'uint16', 'uint32', 'uint64', 'bool', 'string', 'qint8', 'quint8', 'qint32', 'complex64',
]);

/** Flags shared by run, verify, trace and calibrate. */
export const INPUT_FLAGS: Record<string, FlagSpec> = {
  input: { type: 'list', value: 'NAME[=D0,D1,...][:DTYPE]', description: 'an input to feed, with its shape and dtype' },
  inputs: { type: 'list', value: 'SPEC[;SPEC...]', description: 'alias of --input taking several specs separated by ;' },
  input_file: { type: 'list', value: 'NAME=x.npy', description: 'feed this input from a .npy file' },
  data: { type: 'list', value: '[NAME=]GLOB', description: 'feed an input from .npy files matching GLOB' },
};

/** Parse one `NAME[=D0,D1,...][:DTYPE]` (NAME may carry a `:port`). */
export function parseInputSpec(s: string): InputSpec {
  const text = s.trim();
  if (!text) throw new UsageError('empty --input');
  const eq = text.indexOf('=');
  let head = eq < 0 ? text : text.slice(0, eq);
  let tail = eq < 0 ? undefined : text.slice(eq + 1);
  let dtype: string | undefined;
  const takeDtype = (v: string): string => {
    const c = v.lastIndexOf(':');
    if (c >= 0 && DTYPES.has(v.slice(c + 1).toLowerCase())) {
      dtype = v.slice(c + 1).toLowerCase();
      return v.slice(0, c);
    }
    return v;
  };
  if (tail !== undefined) tail = takeDtype(tail);
  else head = takeDtype(head);
  if (!head) throw new UsageError(`--input '${s}': missing the input name`);
  const spec: InputSpec = { name: head };
  if (dtype) spec.dtype = normDtype(dtype);
  if (tail !== undefined) {
    const t = tail.replace(/^\[|\]$/g, '').trim();
    spec.shape = t === '' ? [] : t.split(/[,x]/).map((d) => {
      const v = d.trim();
      if (v === '?' || v === '-1' || v === 'None') return -1;
      if (!/^\d+$/.test(v)) throw new UsageError(`--input '${s}': dimension '${v}' is not a non-negative integer`);
      return Number(v);
    });
  }
  return spec;
}

function normDtype(d: string): string {
  return ({ float: 'float32', half: 'float16', double: 'float64' } as Record<string, string>)[d] ?? d;
}

/** Read every input flag of a data-feeding command. */
export function inputSpecs(ctx: Ctx): { inputs: InputSpec[]; data: DataSpec[] } {
  return parseInputSpecs({ input: ctx.list('input'), inputs: ctx.list('inputs'), input_file: ctx.list('input_file'), data: ctx.list('data') });
}

export function parseInputSpecs(f: { input?: string[]; inputs?: string[]; input_file?: string[]; data?: string[] }): { inputs: InputSpec[]; data: DataSpec[] } {
  const all = [...(f.input ?? []), ...(f.inputs ?? []).flatMap((v) => v.split(';').filter((x) => x.trim() !== ''))];
  const inputs: InputSpec[] = [];
  for (const raw of all) {
    const spec = parseInputSpec(raw);
    const prev = inputs.find((i) => i.name === spec.name);
    if (prev) throw new UsageError(`input '${spec.name}' is given twice`);
    inputs.push(spec);
  }
  for (const raw of f.input_file ?? []) {
    const eq = raw.indexOf('=');
    if (eq <= 0 || eq === raw.length - 1) throw new UsageError(`--input_file '${raw}': expected NAME=path.npy`);
    const name = raw.slice(0, eq);
    const file = raw.slice(eq + 1);
    const prev = inputs.find((i) => i.name === name);
    if (prev) prev.file = file;
    else inputs.push({ name, file });
  }
  const data: DataSpec[] = (f.data ?? []).map((raw) => {
    const eq = raw.indexOf('=');
    return eq > 0 && !/[*?[]/.test(raw.slice(0, eq)) ? { name: raw.slice(0, eq), glob: raw.slice(eq + 1) } : { glob: raw };
  });
  return { inputs, data };
}
