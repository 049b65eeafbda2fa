/**
 * One call behind `tfpass toco`: GraphDef → TFLite model for TOCO's inference types. FLOAT keeps
 * activation FakeQuants as FAKE_QUANT ops, as TOCO's float mode does (with its warning); the
 * quantized types go through `quantizeLowered` (quantize.ts).
 */
import type { Graph } from '@tfpass/core';
import { UsageError } from '@tfpass/core/errors';
import type { Model } from '@tfpass/tflite';
import type { Note } from './lowered.js';
import { lowerGraph, lowerToOps, type LowerOptions } from './lower.js';
import { emitModel } from './emit.js';
import { quantizeLowered, quantizeWeights, type QuantizeOptions } from './quantize.js';

export interface ConvertOptions extends LowerOptions {
  /** `--inference_type`. */
  inferenceType?: 'FLOAT' | 'QUANTIZED_UINT8' | 'INT8';
  /**
   * `--post_training_quantize` alone: int8 weights as TF 1.15's quantize_weights makes them (per
   * tensor, hybrid CONV_2D/FULLY_CONNECTED, `quantizeWeights`); with `perChannelInt8Weights`
   * instead, one scale per output channel behind DEQUANTIZE ops.
   */
  int8Weights?: boolean;
  /** Options for the quantized types (mean/std, default ranges, I/O types, ranges file). */
  quantize?: Omit<QuantizeOptions, 'inferenceType'>;
}

export function convertGraph(graph: Graph, opts: ConvertOptions): { model: Model; notes: Note[] } {
  const type = opts.inferenceType ?? 'FLOAT';
  if (type === 'FLOAT') {
    const perChannel = !!(opts.int8Weights && opts.perChannelInt8Weights);
    const g = lowerToOps(graph, { ...opts, keepFakeQuant: opts.keepFakeQuant ?? true, perChannelInt8Weights: perChannel });
    const model = emitModel(g).model;
    if (!opts.int8Weights || perChannel) return { model, notes: g.notes };
    const q = quantizeWeights(model);
    return { model: q.model, notes: [...g.notes, ...q.notes] };
  }
  if (opts.float16Weights || opts.int8Weights || opts.perChannelInt8Weights) throw new UsageError(`float16/int8 weights-only storage applies to --inference_type=FLOAT, not ${type}`);
  const lowered = lowerGraph(graph, { ...opts, keepFakeQuant: false });
  const q = quantizeLowered(lowered, { ...opts.quantize, inferenceType: type === 'INT8' ? 'int8' : 'uint8' });
  return { model: q.model, notes: [...lowered.notes, ...q.notes] };
}
