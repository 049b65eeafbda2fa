/**
 * Quantization of a lowered float model (the `LoweredModel` seam): `inferenceType: 'uint8'` is
 * TOCO 1.15's QUANTIZED_UINT8 (quantize-uint8.ts), 'int8' today's full-integer converter
 * (quantize-int8.ts); `quantizeWeights` is `--post_training_quantize` (quantize-weights.ts).
 * Where TF is unsafe we differ, each in one line:
 * - every array lacking a range is reported at once (TOCO aborts on the first, with a core dump);
 * - a range without 0, NaN or min > max is a typed error or TOCO's warning, never a CHECK abort;
 * - int8: asymmetric QAT weight ranges become symmetric with a note (the MLIR converter would
 *   give them a non-zero zero point, which the int8 conv kernels reject at load time);
 * - int8: a bias that would saturate int32 (near-dead BN-folded channel) widens that channel's
 *   weight scale with a note (a saturated bias silently shifts the channel's output).
 */
import type { Model } from '@tfpass/tflite';
import { QuantizationError } from './quant/errors.js';

export { QuantizationError };
import type { LoweredModel, Note } from './lowered.js';
import { quantizeUint8 } from './quantize-uint8.js';
import { quantizeInt8 } from './quantize-int8.js';

/** A `tfpass calibrate` range (see @tfpass/quantize `Range`): scalars, or one value per channel. */
export interface FileRange {
  min: number | number[];
  max: number | number[];
  numBits?: number;
  narrowRange?: boolean;
}

export interface QuantizeOptions {
  /** `--inference_type`: QUANTIZED_UINT8 → 'uint8' (TOCO 1.15 exactly), INT8 → 'int8' (today's converter). */
  inferenceType: 'uint8' | 'int8';
  /** `--inference_input_type` (default: float32 for int8, uint8 for uint8, as the converters do). */
  inferenceInputType?: 'float32' | 'uint8' | 'int8';
  /** `--inference_output_type` (same defaults). */
  inferenceOutputType?: 'float32' | 'uint8' | 'int8';
  /** `--mean_values`/`--std_dev_values`, one per model input in subgraph input order: real = (q − mean)/std. */
  meanValues?: number[];
  stdValues?: number[];
  /** `--default_ranges_min/max`: the range of every activation still without one. */
  defaultRanges?: { min: number; max: number };
  /** `--change_concat_input_ranges`: concat inputs take the output's (union) range. */
  changeConcatInputRanges?: boolean;
  /** `--allow_nudging_weights_to_use_fast_gemm_kernel`. */
  allowNudgingWeights?: boolean;
  /**
   * `--ranges FILE` (already read, e.g. with @tfpass/quantize `readRanges`): ranges keyed by TF
   * tensor name (`node` or `node:k`), matched to TFLite tensors by name. Used where the lowered
   * model has no FakeQuant range; FakeQuant ranges win.
   */
  rangesFromFile?: Record<string, FileRange>;
}


/** Quantize a lowered float model: uint8 exactly as TOCO 1.15, or int8 as today's converter. */
export function quantizeLowered(lowered: LoweredModel, options: QuantizeOptions): { model: Model; notes: Note[] } {
  if (options.inferenceType === 'uint8') return quantizeUint8(lowered, options);
  if (options.inferenceType === 'int8') return quantizeInt8(lowered, options);
  throw new QuantizationError(`unknown inference type '${String(options.inferenceType)}' (uint8 or int8)`);
}

export { quantizeWeights, symmetricQuantizeFloats, type QuantizeWeightsOptions } from './quantize-weights.js';
