// tfpass's own TF.js kernels, one module per op family; this module only registers them.
import { batchNormKernels } from './batch-norm.js';
import { checkNumericsKernels } from './check-numerics.js';
import { dequantizeKernels } from './dequantize.js';
import { fakeQuantKernels } from './fake-quant.js';
import { fusedConvKernels } from './fused-conv.js';
import { gradKernels } from './grad-helpers.js';
import { nchwKernels } from './nchw.js';
import { registerKernel } from './registry.js';

export { KernelAttrs, type KernelContext, type KernelFn } from './attrs.js';
export { registerKernel, hasKernel, registeredKernels, supportsOp, unsupportedOp, kernelEpoch } from './registry.js';
export { tfjsOps } from './tfjs-ops.js';
export { nudge, fakeQuantValues, type Nudged } from './fake-quant.js';
export { CheckNumericsError } from './check-numerics.js';
export { dequantizer, dequantizeValues } from './dequantize.js';
export { nchwOp, NCHW_OPS } from './nchw.js';
export { broadcastGradientArgs } from './grad-helpers.js';

let installed = false;

/** Register tfpass's kernels with tfjs-converter (idempotent; runs when the runtime is imported). */
export function installKernels(): void {
  if (installed) return;
  installed = true;
  const families = [fakeQuantKernels, batchNormKernels, checkNumericsKernels, dequantizeKernels, fusedConvKernels, gradKernels, nchwKernels];
  for (const table of families) for (const [op, fn] of table()) registerKernel(op, fn);
}
