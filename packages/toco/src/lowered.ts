import type { Model } from '@tfpass/tflite';

/**
 * The seam between lowering and quantization. `lower.ts` turns a frozen GraphDef into a float
 * TFLite `Model` (layouts converted, fusions done, FakeQuants dropped) and records, per tensor of
 * subgraph 0, what the FakeQuants (or other sources) said about its range; `quantize.ts` turns
 * that into a uint8 (TOCO) or int8 (today's converter) model, or leaves it float / float16.
 */
export interface TensorRange {
  min: number;
  max: number;
  numBits: number;
  narrowRange: boolean;
  /** Per-channel ranges (FakeQuantWithMinMaxVarsPerChannel), along `axis` of the TFLite tensor. */
  perChannel?: { min: number[]; max: number[]; axis: number };
  /** Where the range came from: a FakeQuant node name, 'mean/std', 'default_ranges', 'ranges file', 'derived'. */
  source: string;
}

/** Why lowering kept a tensor as it is, or a warning to show the user (one line each). */
export interface Note {
  level: 'warning' | 'info';
  node?: string;
  message: string;
}

export interface LoweredModel {
  /** Float model: weights float32 in TFLite layouts, biases float32, fused activations set. */
  model: Model;
  /** Keyed by tensor index in subgraph 0. */
  ranges: Map<number, TensorRange>;
  /** Tensor indexes that are weights (quantized narrow/symmetric) vs biases (int32). */
  roles: Map<number, 'weights' | 'bias'>;
  /** The TF node each TFLite operator came from (first node of a fused group), for messages. */
  sourceNode: Map<number, string>;
  notes: Note[];
}
