import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { vi } from 'vitest';
import { modelsDir } from '@tfpass/core/testing';

/**
 * Fuzz budget. CI runs the fixed-seed default; `TFPASS_FUZZ_MINUTES=30` (set by
 * `node bench/robustness.mjs --fuzz --minutes 30`) turns every property into a timed run with
 * a fresh seed per property (printed, so a failure can be replayed with TFPASS_FUZZ_SEED).
 */
const MINUTES = Number(process.env.TFPASS_FUZZ_MINUTES ?? 0);
const SEED = process.env.TFPASS_FUZZ_SEED ? Number(process.env.TFPASS_FUZZ_SEED) : undefined;

/** Number of fuzz properties sharing the timed budget (each gets an equal slice). */
const TIMED_PROPERTIES = 18;
// A timed property runs longer than the configured test timeout.
if (MINUTES > 0) vi.setConfig({ testTimeout: (MINUTES * 60_000) / TIMED_PROPERTIES + 120_000 });

export function fuzzParams(numRuns: number, seed: number): fc.Parameters<unknown> {
  if (MINUTES > 0) {
    const s = SEED ?? Date.now() % 2 ** 31;
    console.log(`[fuzz] seed ${s}`);
    return { numRuns: 1e9, seed: s, interruptAfterTimeLimit: (MINUTES * 60_000) / TIMED_PROPERTIES, markInterruptAsFailure: false, endOnFailure: true };
  }
  return { numRuns, seed: SEED ?? seed, endOnFailure: true };
}

/** Counters printed at the end of each file: inputs tried and outcomes, per parser. */
export const tally = new Map<string, { runs: number; ok: number; errors: Map<string, number>; worstMs: number }>();

/** Error kinds seen (numbers and quoted names blanked), with TFPASS_FUZZ_VERBOSE=1. */
const messages = new Map<string, number>();

export function printTally(): void {
  for (const [k, n] of [...messages].sort((a, b) => b[1] - a[1])) console.log(`[fuzz]   ${n}x ${k}`);
  for (const [k, v] of tally) {
    const errs = [...v.errors].map(([c, n]) => `${c}=${n}`).join(' ');
    console.log(`[fuzz] ${k}: ${v.runs} inputs, ${v.ok} parsed, errors ${errs || 'none'}, slowest ${v.worstMs.toFixed(0)} ms`);
  }
}

export function isTypedError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && (e as unknown as { code: string }).code.startsWith('E_');
}

function describe(input: unknown): string {
  if (input instanceof Uint8Array) {
    const head = Buffer.from(input.subarray(0, 48)).toString('hex');
    return `${input.length} bytes, starting ${head}`;
  }
  const s = typeof input === 'string' ? input : JSON.stringify(input);
  return s.length > 200 ? JSON.stringify(s.slice(0, 200)) + '…' : JSON.stringify(s);
}

/**
 * The contract for every parser: it returns, or throws a typed tfpass error whose message is
 * short (a few lines at most), within `maxMs`. Anything else fails with the input described.
 */
export function expectClean<T>(parser: string, input: unknown, parse: () => T, maxMs = 3000): T | undefined {
  const t = tally.get(parser) ?? { runs: 0, ok: 0, errors: new Map(), worstMs: 0 };
  tally.set(parser, t);
  t.runs++;
  const t0 = performance.now();
  let out: T | undefined;
  try {
    out = parse();
    t.ok++;
  } catch (e) {
    // E_INTERNAL is typed, but it is how tfpass reports its own bugs: not acceptable here.
    if (!isTypedError(e) || e.code === 'E_INTERNAL') {
      const what = e instanceof Error ? `${e.constructor.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 4).join('\n')}` : String(e);
      throw new Error(`${parser} threw an untyped error on input (${describe(input)}): ${what}`);
    }
    const lines = e.message.split('\n');
    if (lines.length > 4 || lines[0]!.length === 0 || e.message.length > 1500) {
      throw new Error(`${parser}: error message is not short (${lines.length} lines, ${e.message.length} chars): ${e.message.slice(0, 300)}`);
    }
    t.errors.set(e.code, (t.errors.get(e.code) ?? 0) + 1);
    if (process.env.TFPASS_FUZZ_VERBOSE) {
      const kind = e.message.replace(/^[^ ]*: /, '').replace(/\d+/g, 'N').replace(/'[^']*'/g, "'…'").slice(0, 70);
      messages.set(`${parser}: ${kind}`, (messages.get(`${parser}: ${kind}`) ?? 0) + 1);
    }
  }
  const ms = performance.now() - t0;
  t.worstMs = Math.max(t.worstMs, ms);
  if (ms > maxMs) throw new Error(`${parser} took ${ms.toFixed(0)} ms (bound ${maxMs} ms) on input (${describe(input)})`);
  return out;
}

// ---- mutations --------------------------------------------------------------------------------

export function encodeVarint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

export function readVarint(b: Uint8Array, pos: number, end: number): [number, number] | undefined {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10 && pos + i < end; i++) {
    const c = b[pos + i]!;
    v += (c & 0x7f) * mul;
    mul *= 128;
    if (!(c & 0x80)) return [v, pos + i + 1];
  }
  return undefined;
}

/** Where a length prefix sits: its varint's byte range. */
export interface LengthField { at: number; end: number; len: number; depth: number }

/**
 * Positions of length prefixes of length-delimited fields, found by walking the bytes as a
 * protobuf message and descending into payloads that themselves walk cleanly (so nested
 * messages, e.g. NodeDef -> AttrValue -> TensorProto, are reached). Capped at `max`.
 */
export function lengthFields(b: Uint8Array, max = 2000): LengthField[] {
  const out: LengthField[] = [];
  const walk = (start: number, end: number, depth: number): boolean => {
    const mine: LengthField[] = [];
    const nested: [number, number][] = [];
    let pos = start;
    while (pos < end) {
      const tag = readVarint(b, pos, end);
      if (!tag || tag[0] < 8) return false;
      pos = tag[1];
      const wire = tag[0] & 7;
      if (wire === 0) {
        const v = readVarint(b, pos, end);
        if (!v) return false;
        pos = v[1];
      } else if (wire === 1 || wire === 5) pos += wire === 1 ? 8 : 4;
      else if (wire === 2) {
        const l = readVarint(b, pos, end);
        if (!l || l[1] + l[0] > end) return false;
        mine.push({ at: pos, end: l[1], len: l[0], depth });
        if (l[0] > 1) nested.push([l[1], l[1] + l[0]]);
        pos = l[1] + l[0];
      } else return false;
    }
    if (pos !== end) return false;
    for (const f of mine) if (out.length < max) out.push(f);
    if (depth < 6) for (const [s, e] of nested) if (out.length < max) walk(s, e, depth + 1);
    return true;
  };
  walk(0, b.length, 0);
  return out;
}

/** Replace the varint at [at, end) with `value`'s encoding. */
export function setVarint(b: Uint8Array, f: { at: number; end: number }, value: number): Uint8Array {
  const v = encodeVarint(value);
  const out = new Uint8Array(b.length - (f.end - f.at) + v.length);
  out.set(b.subarray(0, f.at));
  out.set(v, f.at);
  out.set(b.subarray(f.end), f.at + v.length);
  return out;
}

export const GiB = 2 ** 30;

export type Mutation =
  | { kind: 'flip'; bits: number[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'length'; field: number; value: number }
  | { kind: 'random'; at: number; bytes: Uint8Array }
  | { kind: 'splice'; from: number; to: number; len: number };

/** A mutation, drawn independently of the seed's size (positions are fractions scaled on apply). */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }).map((bits) => ({ kind: 'flip' as const, bits })) },
  { weight: 2, arbitrary: fc.nat().map((at) => ({ kind: 'truncate' as const, at })) },
  {
    weight: 4,
    arbitrary: fc.record({
      field: fc.nat(),
      value: fc.oneof(fc.constantFrom(2 * GiB, 2 * GiB - 1, 4 * GiB, 2 ** 53, 0x7fffffff, 0xffffffff, 0), fc.nat({ max: 1 << 20 })),
    }).map((r) => ({ kind: 'length' as const, ...r })),
  },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }).map((r) => ({ kind: 'random' as const, ...r })) },
  { weight: 1, arbitrary: fc.record({ from: fc.nat(), to: fc.nat(), len: fc.integer({ min: 1, max: 256 }) }).map((r) => ({ kind: 'splice' as const, ...r })) },
);

export function applyMutation(b: Uint8Array, m: Mutation, fields?: LengthField[]): Uint8Array {
  if (b.length === 0) return b;
  switch (m.kind) {
    case 'flip': {
      const out = b.slice();
      for (const bit of m.bits) {
        const i = bit % (out.length * 8);
        out[i >> 3]! ^= 1 << (i & 7);
      }
      return out;
    }
    case 'truncate':
      return b.slice(0, m.at % b.length);
    case 'length': {
      const fs = fields ?? lengthFields(b);
      if (!fs.length) return b.slice(0, Math.max(0, b.length - 1));
      return setVarint(b, fs[m.field % fs.length]!, m.value);
    }
    case 'random': {
      const out = b.slice();
      const at = m.at % out.length;
      out.set(m.bytes.subarray(0, out.length - at), at);
      return out;
    }
    case 'splice': {
      // Copy a chunk of the file over another place: plausible-looking but misplaced fields.
      const from = m.from % b.length;
      const chunk = b.subarray(from, Math.min(b.length, from + m.len));
      const to = m.to % b.length;
      const out = new Uint8Array(b.length - Math.min(chunk.length, b.length - to) + chunk.length);
      out.set(b.subarray(0, to));
      out.set(chunk, to);
      out.set(b.subarray(to + chunk.length), to + chunk.length);
      return out;
    }
  }
}

/** Text mutations for text formats: character edits, truncation, deleted/duplicated spans. */
export type TextMutation = { kind: 'cut'; at: number } | { kind: 'edit'; at: number; text: string } | { kind: 'drop'; at: number; len: number } | { kind: 'dup'; at: number; len: number };

export const textMutationArb: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.nat().map((at) => ({ kind: 'cut' as const, at })),
  fc.record({ at: fc.nat(), text: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('{', '}', '"', '\\', ':', '<', '>', '#', '\n', '\u0000', '-1e999', '99999999999999999999', 'nan', '\\x', '\\777')) }).map((r) => ({ kind: 'edit' as const, ...r })),
  fc.record({ at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }).map((r) => ({ kind: 'drop' as const, ...r })),
  fc.record({ at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }).map((r) => ({ kind: 'dup' as const, ...r })),
);

export function applyTextMutation(s: string, m: TextMutation): string {
  if (!s.length) return s;
  const at = m.at % s.length;
  switch (m.kind) {
    case 'cut': return s.slice(0, at);
    case 'edit': return s.slice(0, at) + m.text + s.slice(at + 1);
    case 'drop': return s.slice(0, at) + s.slice(at + m.len);
    case 'dup': return s.slice(0, at + m.len) + s.slice(at, at + m.len) + s.slice(at + m.len);
  }
}

/** Model files from $TFPASS_MODELS (empty when they are unavailable; see modelsDir). */
export function modelFile(rel: string): Uint8Array | undefined {
  const d = modelsDir();
  if (!d) return undefined;
  const p = join(d, rel);
  if (!existsSync(p)) throw new Error(`model file ${p} is missing`);
  return readFileSync(p);
}
