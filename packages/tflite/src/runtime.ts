/**
 * Run `.tflite` bytes on LiteRT.js. `loadTfliteRunner(bytes)` compiles once; `run(feeds)` takes
 * and returns plain typed arrays keyed by tensor name.
 *
 * The model is decoded first (our reader gives byte offsets for corrupt files) so the I/O carry
 * their quantization. LiteRT.js's API takes only float32/int32/uint8 tensors (spec §5.1: an int8 model input or output
 * fails with `Element type INT8 is not supported.`). Such a model is run through a copy whose int8
 * I/O tensors are uint8 with zero point + 128 behind a requantizing QUANTIZE op (spec §3.2 "uint8
 * I/O"); the runner shifts values by 128 on the way in and out, so callers still see int8. The
 * scale is unchanged, so that QUANTIZE is exact (its multiplier is 1).
 */
import { TfpassError, UsageError } from '@tfpass/core/errors';
import type { CompiledModel, Tensor as LiteRtTensor } from '@litertjs/core';
import type { Model } from './model.js';
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
  /** Per-tensor quantization of a uint8/int8 tensor: real = scale · (q − zeroPoint). */
  scale?: number;
  zeroPoint?: number;
}

export interface TfliteRunner {
  inputs: TfliteIo[];
  outputs: TfliteIo[];
  /** The decoded model (the IR the runner was built from). */
  model: Model;
  /** True when int8 I/O is carried as uint8 through a rewritten copy of the model. */
  int8Shifted: boolean;
  run(feeds: Record<string, IoArray>): Promise<Record<string, IoArray>>;
  /** Frees the compiled model (wasm memory). */
  close(): void;
}

export interface RunnerOptions {
  /** Named in error messages. */
  file?: string;
  /** The decoded `bytes`, when the caller has it already. */
  model?: Model;
}

const ARRAYS = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array } as const;

/**
 * Decode `bytes` (typed errors with byte offsets come from the reader) and compile them on
 * LiteRT.js (CPU). LiteRT's own refusals name the file and carry its error line.
 */
export async function loadTfliteRunner(bytes: Uint8Array, opts: RunnerOptions = {}): Promise<TfliteRunner> {
  const file = opts.file ?? '<tflite>';
  const model = opts.model ?? readTflite(bytes, { file });
  const sg = model.subgraphs[0];
  if (!sg) throw new TfpassError('E_GRAPH_FORMAT', `${file}: the model has no subgraph`);
  const rewrite = withUint8Io(model);
  const shifted = { inputs: rewrite.inputs, outputs: rewrite.outputs };
  const runBytes = rewrite.model === model ? bytes : writeTflite(rewrite.model);
  const lrt = await liteRt();
  const mark = liteRtLog().length;
  let compiled: CompiledModel;
  try {
    compiled = await quietly(() => lrt.loadAndCompile(runBytes, { accelerator: 'wasm' }));
    // Reading the details also checks the I/O element types.
    compiled.getInputDetails();
    compiled.getOutputDetails();
  } catch (e) {
    const msg = (e as Error)?.message ?? String(e);
    // LiteRT's messages carry source locations and line breaks; keep one line of reasons.
    const reasons = [...msg.split('\n'), ...errorsSince(mark)].map((l) => l.replace(/^[\s└]*(ERROR: )?(\[[^\]]*\])?[\s;]*/, '').trim()).filter(Boolean);
    throw new TfpassError('E_GRAPH_FORMAT', `${file}: LiteRT.js cannot load the model: ${[...new Set(reasons)].join('; ')}`, { cause: e });
  }
  const io = (list: ReturnType<CompiledModel['getInputDetails']>, tensors: number[], int8: Set<number>): TfliteIo[] =>
    list.map((d, i) => {
      // LiteRT names I/O by tensor name; fall back to position for unnamed tensors.
      const pos = tensors.findIndex((t) => sg.tensors[t]?.name === d.name);
      const k = pos >= 0 ? pos : i;
      const t = sg.tensors[tensors[k]!];
      const q = t?.quantization;
      const quant = q?.scale?.length === 1 && t!.type !== 'float32' ? { scale: q.scale[0]!, zeroPoint: q.zeroPoint?.[0] ?? 0 } : {};
      return { name: d.name, index: k, dtype: int8.has(k) ? 'int8' : (d.dtype as IoDtype), shape: [...d.shape], ...quant };
    });
  const inputs = io(compiled.getInputDetails(), sg.inputs, shifted.inputs);
  const outputs = io(compiled.getOutputDetails(), sg.outputs, shifted.outputs);
  const model_ = compiled;
  let closed = false;
  return {
    inputs,
    outputs,
    model,
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
        const outs = await quietly(() => model_.run(made));
        const res: Record<string, IoArray> = {};
        outs.forEach((t, i) => {
          const o = outputs[i]!;
          const raw = t.toTypedArray();
          // Copy out of wasm memory before the tensor is freed.
          res[o.name] = shifted.outputs.has(o.index) ? Int8Array.from(raw as Uint8Array, (q) => q - 128) : (raw.slice() as IoArray);
          t.delete();
        });
        return res;
      } finally {
        for (const t of made) t.delete();
      }
    },
    close() {
      if (!closed) model_.delete();
      closed = true;
    },
  };
}

export { withUint8Io };
