/**
 * The `.tflite` paths of `run`, `trace`, `verify` and `view`. @tfpass/tflite (and LiteRT.js
 * under it) load only when a `.tflite` is given, so GraphDef users never pay for them.
 *
 * Feeding follows the GraphDef commands: `--input NAME=dims` (seeded random), `--input_file
 * NAME=x.npy`. A quantized input takes float values through its own scale and zero point
 * (clamp(round(x/s) + zp), TFLite's QUANTIZE), or raw integers from a .npy of its own dtype.
 * Random float values for a quantized input are uniform over its representable range.
 */
import { readFileSync, statSync, openSync, readSync, closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileError, UsageError } from '@tfpass/core/errors';
import type { Graph, Tensor } from '@tfpass/core';
import type { Model, TfliteIo, TfliteRunner, IoArray } from '@tfpass/tflite';
import type { Ctx } from './ui.js';
import type { Runtime } from './feeds.js';
import { inputSpecs } from './inputs.js';
import { needModule } from './optional.js';

type TfliteApi = typeof import('@tfpass/tflite');
type Core = typeof import('@tfpass/core');

/** A .tflite by extension, or by its file identifier (bytes 4–7 `TFL3`). */
export function isTflitePath(path: string): boolean {
  if (/\.tflite$/i.test(path)) return true;
  try {
    if (!statSync(path).isFile()) return false;
    const fd = openSync(path, 'r');
    const head = Buffer.alloc(8);
    try {
      readSync(fd, head, 0, 8, 0);
    } finally {
      closeSync(fd);
    }
    return head.toString('latin1', 4, 8) === 'TFL3';
  } catch {
    return false;
  }
}

export function loadTfliteApi(command: string): Promise<TfliteApi> {
  return needModule<TfliteApi>('@tfpass/tflite', ['readTflite', 'writeTflite', 'loadTfliteRunner', 'runReference'], command);
}

/** One side of a run: the model's I/O and a `run` on LiteRT.js or the reference kernels. */
export interface TfliteSide {
  file: string;
  model: Model;
  inputs: TfliteIo[];
  outputs: TfliteIo[];
  engine: 'litert' | 'reference';
  run(feeds: Record<string, IoArray>): Promise<Record<string, IoArray>>;
  close(): void;
}

/** `--backend litert` (default) or `reference` (our integer reference kernels). */
export function tfliteEngine(ctx: Ctx): 'litert' | 'reference' {
  const b = ctx.str('backend');
  if (b === undefined || b === 'litert') return 'litert';
  if (b === 'reference') return 'reference';
  throw new UsageError(`--backend for a .tflite takes litert or reference, got '${b}'`);
}

/** The bytes of a .tflite, or a one-line E_FILE naming it. */
export function readTfliteBytes(ctx: Ctx, path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(ctx.path(path)));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileError(path, `cannot read: ${code === 'ENOENT' ? 'no such file or directory' : code ?? (e as Error).message}`, { cause: e });
  }
}

export async function openTflite(ctx: Ctx, path: string, engine: 'litert' | 'reference'): Promise<TfliteSide> {
  const api = await loadTfliteApi(ctx.command);
  const bytes = readTfliteBytes(ctx, path);
  const model = api.readTflite(bytes, { file: path });
  if (engine === 'litert') {
    const r: TfliteRunner = await api.loadTfliteRunner(bytes, { file: path, model });
    return { file: path, model, inputs: r.inputs, outputs: r.outputs, engine, run: (f) => r.run(f), close: () => r.close() };
  }
  const sg = model.subgraphs[0]!;
  const io = (list: number[]): TfliteIo[] =>
    list.map((t, index) => {
      const x = sg.tensors[t]!;
      const q = x.quantization;
      const quant = q?.scale?.length === 1 && x.type !== 'float32' ? { scale: q.scale[0]!, zeroPoint: q.zeroPoint?.[0] ?? 0 } : {};
      return { name: x.name, index, dtype: x.type as TfliteIo['dtype'], shape: [...x.shape], ...quant };
    });
  return {
    file: path,
    model,
    inputs: io(sg.inputs),
    outputs: io(sg.outputs),
    engine,
    run: async (f) => api.runReference(model, f).outputs as Record<string, IoArray>,
    close: () => {},
  };
}

const RANGE: Record<string, [number, number]> = { uint8: [0, 255], int8: [-128, 127] };
const ARRAY = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array } as const;

export const isQuantized = (io: TfliteIo): boolean => !!RANGE[io.dtype] && io.scale !== undefined;

/** Float values → the tensor's storage: TFLite's QUANTIZE (float32 division, half away from zero). */
export function toStorage(io: TfliteIo, x: ArrayLike<number>): IoArray {
  const Ctor = ARRAY[io.dtype];
  if (!Ctor) throw new UsageError(`input '${io.name}' is ${io.dtype}, which tfpass cannot feed`);
  if (!isQuantized(io)) return Ctor.from(x as ArrayLike<number>);
  const [lo, hi] = RANGE[io.dtype]!;
  const s = Math.fround(io.scale!);
  const out = new Ctor(x.length);
  for (let i = 0; i < x.length; i++) {
    const r = Math.fround(x[i]! / s);
    const q = (r < 0 ? -Math.floor(-r + 0.5) : Math.floor(r + 0.5)) + io.zeroPoint!;
    out[i] = q < lo ? lo : q > hi ? hi : q;
  }
  return out;
}

/** Storage → real values (s·(q − zp)); float tensors as they are. */
export function toReal(io: TfliteIo, a: IoArray): Float32Array {
  if (!isQuantized(io)) return a instanceof Float32Array ? a : Float32Array.from(a as ArrayLike<number>);
  return Float32Array.from(a as ArrayLike<number>, (q) => io.scale! * (q - io.zeroPoint!));
}

/** The real interval a quantized tensor can represent. */
export function representable(io: TfliteIo): [number, number] {
  const [lo, hi] = RANGE[io.dtype]!;
  return [io.scale! * (lo - io.zeroPoint!), io.scale! * (hi - io.zeroPoint!)];
}

export interface TfliteFeeds {
  describe: Record<string, string>;
  /** Feeds of trial k, in each input's storage type, plus the real values they stand for. */
  make(k: number): { storage: Record<string, IoArray>; real: Record<string, Float32Array> };
}

/** Resolve the input flags against a .tflite's inputs (see the header comment for the rules). */
export function tfliteFeeds(ctx: Ctx, side: TfliteSide, rt: Runtime, seed: number): TfliteFeeds {
  const { inputs, data } = inputSpecs(ctx);
  if (data.length) throw new UsageError(`--data is not supported for a .tflite in '${ctx.command}'; use --input_file NAME=x.npy`);
  const byName = new Map(side.inputs.map((i) => [i.name, i]));
  for (const s of inputs) if (!byName.has(s.name)) throw new UsageError(`--input ${s.name}: ${side.file} has no input '${s.name}' (inputs: ${side.inputs.map((i) => i.name).join(', ')})`);
  const describe: Record<string, string> = {};
  const fixed: Record<string, { storage: IoArray; real: Float32Array }> = {};
  const random: Record<string, { shape: number[]; dtype: string; low: number; high: number }> = {};
  for (const io of side.inputs) {
    const s = inputs.find((i) => i.name === io.name);
    const size = io.shape.reduce((a, b) => a * b, 1);
    if (s?.shape && (s.shape.length !== io.shape.length || s.shape.some((d, k) => d >= 0 && d !== io.shape[k]))) {
      throw new UsageError(`--input ${io.name}=${s.shape.join(',')}: ${side.file} takes [${io.shape.join(',')}] (a .tflite has fixed shapes)`);
    }
    if (s?.file) {
      const t = rt.readNpy(ctx.path(s.file));
      if (t.size !== size) throw new UsageError(`--input_file ${io.name}=${s.file}: ${t.size} values (${t.dtype}[${t.shape.join(',')}]), ${side.file} takes ${io.dtype}[${io.shape.join(',')}]`);
      let storage: IoArray;
      if (t.dtype === io.dtype) storage = t.data as IoArray;
      else if (t.dtype === 'float32' || t.dtype === 'float64') storage = toStorage(io, t.toFloat32());
      else throw new UsageError(`--input_file ${io.name}=${s.file}: ${t.dtype} values for a ${io.dtype} input; give ${io.dtype} (raw) or float (quantized on the way in)`);
      fixed[io.name] = { storage, real: toReal(io, storage) };
      describe[io.name] = `${s.file} (${t.dtype}[${t.shape.join(',')}])${t.dtype !== io.dtype ? ` → ${io.dtype}` : ''}`;
      continue;
    }
    const [low, high] = isQuantized(io) ? representable(io) : [-1, 1];
    random[io.name] = { shape: io.shape, dtype: io.dtype === 'float32' || isQuantized(io) ? 'float32' : io.dtype, low, high };
    describe[io.name] = `${io.dtype}[${io.shape.join(',')}] from float U(${+low.toPrecision(6)}, ${+high.toPrecision(6)}), seed ${seed}${isQuantized(io) ? `, quantized with scale ${io.scale} zp ${io.zeroPoint}` : ''}`;
  }
  return {
    describe,
    make(k) {
      const storage: Record<string, IoArray> = {};
      const real: Record<string, Float32Array> = {};
      const drawn = rt.randomInputs(random, seed + k);
      for (const io of side.inputs) {
        const f = fixed[io.name];
        if (f) {
          storage[io.name] = f.storage;
          real[io.name] = f.real;
          continue;
        }
        const t = drawn[io.name]!;
        storage[io.name] = t.dtype === 'float32' ? toStorage(io, t.data as Float32Array) : (t.data as IoArray);
        real[io.name] = toReal(io, storage[io.name]!);
      }
      return { storage, real };
    },
  };
}

function coreTensor(core: Core, io: TfliteIo, a: IoArray): Tensor {
  return new core.Tensor(io.dtype, [...io.shape], a);
}

// ---- run -------------------------------------------------------------------------------------

export async function runTflite(ctx: Ctx, path: string, rt: Runtime, npyName: (n: string) => string): Promise<number> {
  const core = await import('@tfpass/core');
  const side = await openTflite(ctx, path, tfliteEngine(ctx));
  try {
    const want = [...(ctx.str('outputs')?.split(',') ?? []), ...ctx.list('output')].map((s) => s.trim()).filter(Boolean);
    for (const w of want) if (!side.outputs.some((o) => o.name === w)) throw new UsageError(`--outputs: ${path} has no output '${w}' (outputs: ${side.outputs.map((o) => o.name).join(', ')})`);
    const outs = want.length ? side.outputs.filter((o) => want.includes(o.name)) : side.outputs;
    const feeds = tfliteFeeds(ctx, side, rt, ctx.num('seed') ?? 1);
    const t0 = performance.now();
    const res = await side.run(feeds.make(0).storage);
    const took = performance.now() - t0;
    const outDir = ctx.str('out_dir');
    if (outDir) mkdirSync(ctx.path(outDir), { recursive: true });
    const rows = outs.map((o) => {
      const raw = coreTensor(core, o, res[o.name]!);
      const real = isQuantized(o) ? new core.Tensor('float32', [...o.shape], toReal(o, res[o.name]!)) : undefined;
      const files: string[] = [];
      if (outDir) {
        files.push(join(outDir, npyName(o.name)));
        rt.writeNpy(ctx.path(files[0]!), raw);
        if (real) {
          files.push(join(outDir, npyName(o.name).replace(/\.npy$/, '.dequant.npy')));
          rt.writeNpy(ctx.path(files[1]!), real);
        }
      }
      return { name: o.name, quant: isQuantized(o) ? { scale: o.scale!, zeroPoint: o.zeroPoint! } : undefined, raw: rt.summaryStats(raw), real: real ? rt.summaryStats(real) : undefined, files };
    });
    ctx.emit({ ok: true, model: path, engine: side.engine, inputs: feeds.describe, ms: Math.round(took), outputs: rows });
    for (const [k, v] of Object.entries(feeds.describe)) ctx.print(`input  ${k}: ${v}`);
    for (const r of rows) {
      const s = r.raw;
      ctx.print(`output ${r.name}: ${s.dtype}[${s.shape.join(',')}] min=${fmt(s.min)} max=${fmt(s.max)} mean=${fmt(s.mean)}${r.files[0] ? ` -> ${r.files[0]}` : ''}`);
      if (r.real) ctx.print(`       dequantized (scale ${r.quant!.scale}, zp ${r.quant!.zeroPoint}): min=${fmt(r.real.min)} max=${fmt(r.real.max)} mean=${fmt(r.real.mean)} std=${fmt(r.real.std)}${r.files[1] ? ` -> ${r.files[1]}` : ''}`);
    }
    ctx.print(`ran on ${side.engine === 'litert' ? 'LiteRT.js' : 'the reference kernels'} in ${took < 1000 ? `${Math.round(took)} ms` : `${(took / 1000).toFixed(2)} s`}`);
    return 0;
  } finally {
    side.close();
  }
}

const fmt = (x: number) => (Number.isNaN(x) ? 'nan' : Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(4) : x.toFixed(5).replace(/\.?0+$/, '') || '0');

// ---- trace -----------------------------------------------------------------------------------

/**
 * Every operator output (matching --nodes/--ops). On LiteRT.js (default) the model is run as a
 * copy whose outputs are all operator outputs it can return (float32/int32/uint8/int8), since
 * LiteRT exposes only outputs; `--backend reference` runs the reference kernels instead.
 */
export async function traceTflite(ctx: Ctx, path: string, rt: Runtime): Promise<number> {
  const core = await import('@tfpass/core');
  const api = await loadTfliteApi('trace');
  const engine = tfliteEngine(ctx);
  const side = await openTflite(ctx, path, 'reference');
  const pats = ctx.list('nodes').flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
  const res = pats.map((p) => new RegExp('^' + p.replace(/[.+^${}()|\\[\]]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$'));
  const ops = ctx.str('ops')?.split(',').map((s) => s.trim());
  const sg = side.model.subgraphs[0]!;
  const feeds = tfliteFeeds(ctx, side, rt, ctx.num('seed') ?? 1);
  let tensors: (ArrayLike<number> | undefined)[];
  if (engine === 'reference') tensors = api.runReference(side.model, feeds.make(0).storage, { keepAll: true }).tensors as ArrayLike<number>[];
  else {
    const returnable = new Set(['float32', 'int32', 'uint8', 'int8']);
    const names = new Map<string, number>();
    for (const op of sg.operators) for (const t of op.outputs) if (t >= 0 && returnable.has(sg.tensors[t]!.type) && !names.has(sg.tensors[t]!.name)) names.set(sg.tensors[t]!.name, t);
    const outputs = [...new Set([...sg.outputs, ...names.values()])];
    const exposed = { ...side.model, subgraphs: [{ ...sg, outputs }, ...side.model.subgraphs.slice(1)], signatureDefs: [] };
    const runner = await api.loadTfliteRunner(api.writeTflite(exposed), { file: path, model: exposed });
    try {
      const got = await runner.run(feeds.make(0).storage);
      tensors = sg.tensors.map((x, t) => (names.get(x.name) === t || sg.outputs.includes(t) ? (got[x.name] as ArrayLike<number> | undefined) : undefined));
    } finally {
      runner.close();
    }
  }
  const rows: Record<string, unknown>[] = [];
  sg.operators.forEach((op, n) => {
    const opName = side.model.operatorCodes[op.opcodeIndex]?.builtin ?? '?';
    if (ops && !ops.includes(opName)) return;
    for (const t of op.outputs) {
      const x = sg.tensors[t]!;
      if (res.length && !res.some((r) => r.test(x.name))) continue;
      const q = x.quantization;
      const io: TfliteIo = { name: x.name, index: t, dtype: x.type as TfliteIo['dtype'], shape: x.shape, ...(q?.scale?.length === 1 && x.type !== 'float32' ? { scale: q.scale[0]!, zeroPoint: q.zeroPoint?.[0] ?? 0 } : {}) };
      const v = tensors[t];
      if (!v) continue;
      const raw = rt.summaryStats(coreTensor(core, io, v as IoArray));
      const real = isQuantized(io) ? rt.summaryStats(new core.Tensor('float32', [...x.shape], toReal(io, v as IoArray))) : undefined;
      rows.push({ operator: n, op: opName, name: x.name, ...raw, quant: io.scale !== undefined ? { scale: io.scale, zeroPoint: io.zeroPoint } : undefined, real });
    }
  });
  if (!rows.length) throw new UsageError(`trace: no operator output matches ${pats.length ? pats.join(', ') : 'the model'}${ops ? ` with op ${ops.join('|')}` : ''}`);
  ctx.emit({ ok: true, model: path, engine, inputs: feeds.describe, tensors: rows });
  for (const r of rows as { operator: number; op: string; name: string; dtype: string; shape: number[]; min: number; max: number; mean: number; quant?: { scale: number; zeroPoint: number }; real?: { min: number; max: number; mean: number; std: number } }[]) {
    const q = r.quant && r.real ? ` = [${fmt(r.real.min)}, ${fmt(r.real.max)}] mean=${fmt(r.real.mean)} std=${fmt(r.real.std)} (scale ${r.quant.scale}, zp ${r.quant.zeroPoint})` : ` mean=${fmt(r.mean)}`;
    ctx.print(`#${r.operator} ${r.name} (${r.op}) ${r.dtype}[${r.shape.join(',')}] min=${fmt(r.min)} max=${fmt(r.max)}${q}`);
  }
  return 0;
}

// ---- verify ----------------------------------------------------------------------------------

/** A GraphDef or .tflite side of `verify`, running on real values. */
interface VerifySide {
  path: string;
  tflite?: TfliteSide;
  outputs: string[];
  /** Quantization of each output (tflite only). */
  io(name: string): TfliteIo | undefined;
  run(real: Record<string, Float32Array>, storage: Record<string, IoArray>): Promise<Record<string, Float32Array>>;
  close(): void;
}

export interface VerifyRow {
  name: string;
  shape: number[];
  maxAbsError: number;
  /** max |Δ| in LSB of the quantized side's output scale (B's when both are). */
  maxLsb?: number;
  lsbScale?: number;
  /** Fraction of rows whose argmax agrees, for [N, classes] outputs. */
  top1?: number;
  sqnrDb: number;
  ok: boolean;
}

/** `verify A B` with a .tflite on either side: same real inputs, outputs compared in real units and in LSB. */
export async function verifyWithTflite(ctx: Ctx, pa: string, pb: string, rt: Runtime, graphs: { read(p: string): Promise<Graph>; executor(): { run(g: Graph, feeds: Record<string, Tensor>, fetches: string[]): Promise<Tensor[]> } }): Promise<number> {
  const core = await import('@tfpass/core');
  const engine = tfliteEngine(ctx);
  const given = [...(ctx.str('outputs')?.split(',') ?? []), ...ctx.list('output')].map((s) => s.trim()).filter(Boolean);
  const open = async (p: string): Promise<VerifySide> => {
    if (isTflitePath(p)) {
      const t = await openTflite(ctx, p, engine);
      return {
        path: p,
        tflite: t,
        outputs: t.outputs.map((o) => o.name),
        io: (n) => t.outputs.find((o) => o.name === n),
        run: async (_real, storage) => {
          // The feeds were quantized for `lite`; another .tflite quantizes the same real values itself.
          const r = await t.run(Object.fromEntries(t.inputs.map((i) => [i.name, t === lite && storage[i.name] ? storage[i.name]! : toStorage(i, _real[i.name]!)])));
          return Object.fromEntries(t.outputs.map((o) => [o.name, toReal(o, r[o.name]!)]));
        },
        close: () => t.close(),
      };
    }
    const g = await graphs.read(p);
    const exec = graphs.executor();
    return {
      path: p,
      outputs: [],
      io: () => undefined,
      run: async (real) => {
        const names = Object.keys(real);
        for (const n of names) if (!g.has(core.parseInput(n).node)) throw new UsageError(`verify: ${p} has no node '${core.parseInput(n).node}' to feed (the .tflite's input)`);
        const feeds = Object.fromEntries(names.map((n) => [n, new core.Tensor('float32', shapes.get(n)!, real[n]!)]));
        const outs = await exec.run(g, feeds, fetchNames(p));
        return Object.fromEntries(fetchNames(p).map((n, i) => [n, outs[i]!.toFloat32()]));
      },
      close: () => {},
    };
  };
  const shapes = new Map<string, number[]>();
  let lite: TfliteSide;
  const a = await open(pa);
  const b = await open(pb);
  lite = (b.tflite ?? a.tflite)!;
  // Outputs: the given ones, else the .tflite's; a graph side fetches the same names.
  const outputs = given.length ? given : lite.outputs.map((o) => o.name);
  for (const side of [a, b]) if (side.tflite) for (const o of outputs) if (!side.outputs.includes(o)) throw new UsageError(`--outputs: ${side.path} has no output '${o}' (outputs: ${side.outputs.join(', ')})`);
  const fetchNames = (_p: string) => outputs;
  for (const i of lite.inputs) shapes.set(i.name, i.shape);
  // Feeds come from the B side when it is a .tflite (the model under test), else from A.
  const feeds = tfliteFeeds(ctx, lite, rt, ctx.num('seed') ?? 1);
  const trials = Math.max(1, ctx.num('trials') ?? 1);
  const atol = ctx.num('atol') ?? 1e-5;
  const rtol = ctx.num('rtol') ?? 1e-5;
  const maxLsb = ctx.num('max_lsb') ?? 1;
  const acc = new Map<string, { maxAbs: number; sig: number; noise: number; rows: number; agree: number; beyond: number; shape: number[] }>();
  try {
    for (let k = 0; k < trials; k++) {
      const f = feeds.make(k);
      const ra = await a.run(f.real, f.storage);
      const rb = await b.run(f.real, f.storage);
      for (const n of outputs) {
        const x = ra[n]!;
        const y = rb[n]!;
        if (x.length !== y.length) throw new UsageError(`verify: output '${n}' has ${x.length} values in ${pa} and ${y.length} in ${pb}`);
        const io = b.io(n) ?? a.io(n)!;
        const s = acc.get(n) ?? { maxAbs: 0, sig: 0, noise: 0, rows: 0, agree: 0, beyond: 0, shape: io?.shape ?? [x.length] };
        for (let i = 0; i < x.length; i++) {
          const d = Math.abs(x[i]! - y[i]!);
          if (!(d <= s.maxAbs)) s.maxAbs = Number.isNaN(d) ? Infinity : Math.max(s.maxAbs, d);
          if (!(d <= atol + rtol * Math.abs(x[i]!))) s.beyond++;
          s.sig += x[i]! * x[i]!;
          s.noise += d * d;
        }
        const classes = s.shape[s.shape.length - 1] ?? 1;
        if (s.shape.length <= 2 && classes > 1) {
          for (let r = 0; r < x.length / classes; r++) {
            s.rows++;
            if (argmax(x, r * classes, classes) === argmax(y, r * classes, classes)) s.agree++;
          }
        }
        acc.set(n, s);
      }
      ctx.progress(`trial ${k + 1}/${trials}`, k + 1 < trials);
    }
  } finally {
    a.close();
    b.close();
  }
  const results: VerifyRow[] = outputs.map((n) => {
    const s = acc.get(n)!;
    const qio = [b.io(n), a.io(n)].find((io) => io && isQuantized(io));
    const lsb = qio ? s.maxAbs / qio.scale! : undefined;
    const ok = lsb !== undefined ? lsb <= maxLsb + 1e-6 : s.beyond === 0;
    return { name: n, shape: s.shape, maxAbsError: s.maxAbs, maxLsb: lsb, lsbScale: qio?.scale, top1: s.rows ? s.agree / s.rows : undefined, sqnrDb: s.noise === 0 ? Infinity : 10 * Math.log10(s.sig / s.noise), ok };
  });
  const ok = results.every((r) => r.ok);
  ctx.emit({ ok, a: pa, b: pb, engine, atol, rtol, max_lsb: maxLsb, trials, inputs: feeds.describe, outputs: results });
  for (const r of results) {
    const lsb = r.maxLsb !== undefined ? ` = ${fmt(r.maxLsb)} LSB (scale ${r.lsbScale})` : '';
    const top1 = r.top1 !== undefined ? `, top-1 agreement ${(100 * r.top1).toFixed(1)}%` : '';
    ctx.print(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} [${r.shape.join(',')}] max |Δ| ${fmt(r.maxAbsError)}${lsb}${top1}, SQNR ${Number.isFinite(r.sqnrDb) ? `${r.sqnrDb.toFixed(1)} dB` : 'inf'}`);
  }
  const anyQ = results.some((r) => r.maxLsb !== undefined);
  const anyF = results.some((r) => r.maxLsb === undefined);
  const tol = [anyQ ? `${maxLsb} LSB for quantized outputs` : '', anyF ? `atol ${atol} + rtol ${rtol}${anyQ ? ' for float outputs' : ''}` : ''].filter(Boolean).join(', ');
  ctx.print(`${ok ? 'same outputs' : 'outputs differ'} over ${trials} trial${trials > 1 ? 's' : ''} (tolerance: ${tol}; inputs: ${Object.entries(feeds.describe).map(([k, v]) => `${k} ${v}`).join('; ')})`);
  if (!ok) {
    if (ctx.json) return 13;
    const { NumericMismatchError } = await import('@tfpass/core/errors');
    throw new NumericMismatchError(`${pb} differs from ${pa} beyond tolerance on ${results.filter((r) => !r.ok).map((r) => r.name).join(', ')}`);
  }
  return 0;
}

function argmax(v: Float32Array, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[from + i]! > v[from + best]!) best = i;
  return best;
}

// ---- view ------------------------------------------------------------------------------------

/**
 * A TFLite model as a core Graph for the viewer: graph inputs as Placeholders, constant tensors
 * as Consts (with their values), one node per operator named after its first output, the
 * builtin options and every input/output tensor's type, shape and quantization as attributes.
 */
export function tfliteAsGraph(core: Core, model: Model): { graph: Graph; shapes: Map<string, string[]> } {
  const sg = model.subgraphs[0]!;
  const g = new core.Graph();
  const shapes = new Map<string, string[]>();
  const producer = new Map<number, string>();
  const describe = (t: number): string => {
    const x = sg.tensors[t]!;
    const q = x.quantization;
    let s = `${x.type}[${x.shape.join(',')}] '${x.name}'`;
    if (q?.scale?.length) {
      const per = q.scale.length > 1 ? ` per-axis ${q.scale.length} on dim ${q.quantizedDimension ?? 0}` : '';
      s += ` scale=${q.scale.length > 4 ? `${q.scale.slice(0, 4).join(',')}…` : q.scale.join(',')} zp=${(q.zeroPoint ?? []).slice(0, 4).join(',')}${per}`;
    }
    if (q?.min?.length) s += ` min=${q.min[0]} max=${q.max?.[0]}`;
    return s;
  };
  const typeText = (t: number) => `${sg.tensors[t]!.type}[${sg.tensors[t]!.shape.join(',')}]`;
  const TYPES: Record<string, string> = { float32: 'float32', int32: 'int32', uint8: 'uint8', int8: 'int8', int16: 'int16', int64: 'int64', float16: 'float16', bool: 'bool' };
  const named = (base: string) => (g.has(base) ? g.uniqueName(base) : base);
  for (const t of sg.inputs) {
    const name = named(sg.tensors[t]!.name || `input_${t}`);
    g.addNode({ name, op: 'Placeholder', attrs: { tensor: { s: describe(t) } } });
    producer.set(t, name);
    shapes.set(name, [typeText(t)]);
  }
  sg.tensors.forEach((x, t) => {
    const data = model.buffers[x.buffer]?.data;
    if (producer.has(t) || !x.buffer || !data?.length) return;
    const name = named(x.name || `const_${t}`);
    const attrs: Record<string, unknown> = { tensor: { s: describe(t) } };
    const dtype = TYPES[x.type];
    if (dtype && dtype !== 'float16') {
      const Ctor = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array, int16: Int16Array, int64: BigInt64Array, bool: Uint8Array }[dtype]!;
      const copy = data.slice();
      const n = copy.length / Ctor.BYTES_PER_ELEMENT;
      if (Number.isInteger(n)) attrs.value = { tensor: new core.Tensor(dtype as 'float32', [...x.shape], new Ctor(copy.buffer, 0, n) as Float32Array) };
    }
    g.addNode({ name, op: 'Const', attrs: attrs as never });
    producer.set(t, name);
    shapes.set(name, [typeText(t)]);
  });
  sg.operators.forEach((op, n) => {
    const code = model.operatorCodes[op.opcodeIndex];
    const opName = code?.builtin === 'CUSTOM' ? `CUSTOM:${code.customCode ?? ''}` : code?.builtin ?? `#${op.opcodeIndex}`;
    const first = op.outputs[0];
    const name = named(first !== undefined ? sg.tensors[first]!.name || `op_${n}` : `op_${n}`);
    const attrs: Record<string, { s: string }> = { version: { s: String(code?.version ?? 1) }, index: { s: `operator #${n}` } };
    for (const [k, v] of Object.entries(op.builtinOptions ?? {})) if (k !== 'type') attrs[k] = { s: typeof v === 'object' ? JSON.stringify(v) : String(v) };
    op.inputs.forEach((t, i) => t >= 0 && (attrs[`in${i}`] = { s: describe(t) }));
    op.outputs.forEach((t, i) => (attrs[`out${i}`] = { s: describe(t) }));
    const inputs = op.inputs.filter((t) => t >= 0 && producer.has(t)).map((t) => producer.get(t)!);
    g.addNode({ name, op: opName, inputs, attrs });
    op.outputs.forEach((t, i) => producer.set(t, i ? `${name}:${i}` : name));
    shapes.set(name, op.outputs.map(typeText));
  });
  return { graph: g, shapes };
}
