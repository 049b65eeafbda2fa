import { TfpassError } from '@tfpass/core';

/** A model that cannot be quantized as asked (missing ranges, per-channel for uint8, …). */
export class QuantizationError extends TfpassError {
  constructor(detail: string) {
    super('E_GRAPH_VALIDATION', detail);
  }
}
