/**
 * Run `.tflite` bytes on LiteRT.js. `loadTfliteRunner(bytes)` compiles once; `run(feeds)` takes
 * and returns plain typed arrays keyed by tensor name.
 *
 * LiteRT.js's API takes only float32/int32/uint8 tensors (spec §5.1: an int8 model input or output
 * fails with `Element type INT8 is not supported.`). Such a model is run through a copy whose int8
 * I/O tensors are uint8 with zero point + 128 behind a requantizing QUANTIZE op (spec §3.2 "uint8
 * I/O"); the runner shifts values by 128 on the way in and out, so callers still see int8. The
 * scale is unchanged, so that QUANTIZE is exact (its multiplier is 1).
 */
import { TfpassError, UsageError } from '@tfpass/core/errors';
import type { CompiledModel, Tensor as LiteRtTensor } from '@litertjs/core';
import { liteRt, quietly, liteRtLog, errorsSince } from './runtime-litert.js';
import { withUint8Io } from './runtime-io.js';
import { readTflite } from './read.js';
import { writeTflite } from './write.js';

export { liteRt, liteRtLog } from './runtime-litert.js';

export type IoDtype = 'float32' | 'int32' | 'uint8' | 'int8';
export type IoArray = Float32Array | Int32Array | Uint8Array | Int8Array;

export interface TfliteIo {
  name: string;
  /** Position in the subgraph's inputs/outputs. */
  index: number;
  dtype: IoDtype;
  shape: number[];
}

export interface TfliteRunner {
  inputs: TfliteIo[];
  outputs: TfliteIo[];
  /** True when int8 I/O is carried as uint8 through a rewritten copy of the model. */
  int8Shifted: boolean;
  run(feeds: Record<string, IoArray>): Promise<Record<string, IoArray>>;
  /** Frees the compiled model (wasm memory). */
  close(): void;
}

export interface RunnerOptions {
  /** Named in error messages. */
  file?: string;
  /** Rewrites a model with int8 I/O to uint8 I/O (default: read, `withUint8Io`, write). */
  toUint8Io?: (bytes: Uint8Array, file: string) => { bytes: Uint8Array; inputs: Set<number>; outputs: Set<number> };
}

const ARRAYS = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array } as const;

/** Compile `bytes` on LiteRT.js (CPU). Errors name the file and carry LiteRT's own error line. */
export async function loadTfliteRunner(bytes: Uint8Array, opts: RunnerOptions = {}): Promise<TfliteRunner> {
  const lrt = await liteRt();
  const file = opts.file ?? '<tflite>';
  const compile = async (b: Uint8Array): Promise<CompiledModel> => {
    const mark = liteRtLog().length;
    try {
      const m = await quietly(() => lrt.loadAndCompile(b, { accelerator: 'wasm' }));
      // Reading the details also checks the I/O element types (int8 fails here or in compile).
      m.getInputDetails();
      m.getOutputDetails();
      return m;
    } catch (e) {
      const why = errorsSince(mark);
      const msg = (e as Error)?.message ?? String(e);
      throw Object.assign(new TfpassError('E_GRAPH_FORMAT', `${file}: LiteRT.js cannot load the model: ${[msg, ...why].filter(Boolean).join('; ')}`, { cause: e }), { liteRtMessage: msg });
    }
  };
  let model: CompiledModel;
  let shifted = { inputs: new Set<number>(), outputs: new Set<number>() };
  try {
    model = await compile(bytes);
  } catch (e) {
    const msg = (e as { liteRtMessage?: string }).liteRtMessage ?? '';
    if (!/Element type INT8 is not supported/.test(msg)) throw e;
    const re = (opts.toUint8Io ?? defaultToUint8Io)(bytes, file);
    shifted = { inputs: re.inputs, outputs: re.outputs };
    model = await compile(re.bytes);
  }
  const io = (list: ReturnType<CompiledModel['getInputDetails']>, int8: Set<number>): TfliteIo[] =>
    list.map((d, i) => ({ name: d.name, index: i, dtype: int8.has(i) ? 'int8' : (d.dtype as IoDtype), shape: [...d.shape] }));
  const inputs = io(model.getInputDetails(), shifted.inputs);
  const outputs = io(model.getOutputDetails(), shifted.outputs);
  let closed = false;
  return {
    inputs,
    outputs,
    int8Shifted: shifted.inputs.size + shifted.outputs.size > 0,
    async run(feeds) {
      if (closed) throw new UsageError(`${file}: the runner was closed`);
      for (const k of Object.keys(feeds)) if (!inputs.some((i) => i.name === k)) throw new UsageError(`${file}: no input '${k}' (inputs: ${inputs.map((i) => i.name).join(', ')})`);
      const made: LiteRtTensor[] = [];
      try {
        for (const inp of inputs) {
          const data = feeds[inp.name];
          if (!data) throw new UsageError(`${file}: input '${inp.name}' (${inp.dtype}[${inp.shape.join(',')}]) is not fed`);
          const want = inp.shape.reduce((a, b) => a * b, 1);
          if (!(data instanceof ARRAYS[inp.dtype])) throw new UsageError(`${file}: input '${inp.name}' is ${inp.dtype}, got ${data.constructor.name}`);
          if (data.length !== want) throw new UsageError(`${file}: input '${inp.name}' has ${want} elements ([${inp.shape.join(',')}]), got ${data.length}`);
          // int8 travels as uint8 with zero point + 128: q + 128 is q's bit pattern with the sign bit flipped.
          const fed = shifted.inputs.has(inp.index) ? Uint8Array.from(data as Int8Array, (q) => q + 128) : data;
          made.push(new lrt.Tensor(fed as Float32Array, inp.shape));
        }
        const outs = await quietly(() => model.run(made));
        const res: Record<string, IoArray> = {};
        outs.forEach((t, i) => {
          const o = outputs[i]!;
          const raw = t.toTypedArray();
          // Copy out of wasm memory before the tensor is freed.
          res[o.name] = shifted.outputs.has(i) ? Int8Array.from(raw as Uint8Array, (q) => q - 128) : (raw.slice() as IoArray);
          t.delete();
        });
        return res;
      } finally {
        for (const t of made) t.delete();
      }
    },
    close() {
      if (!closed) model.delete();
      closed = true;
    },
  };
}

function defaultToUint8Io(bytes: Uint8Array, file: string): { bytes: Uint8Array; inputs: Set<number>; outputs: Set<number> } {
  const re = withUint8Io(readTflite(bytes, { file }));
  return { bytes: writeTflite(re.model), inputs: re.inputs, outputs: re.outputs };
}

export { withUint8Io };
