import * as tf from '@tensorflow/tfjs-core';
import { TfpassError } from '@tfpass/core';
import type { KernelContext, KernelTable } from './attrs.js';

/** TF's CheckNumerics failure (InvalidArgument in TF). */
export class CheckNumericsError extends TfpassError {
  constructor(readonly node: string, message: string) {
    super('E_NUMERIC', `${message} (node '${node}')`);
  }
}

function checkNumerics(ctx: KernelContext): tf.Tensor {
  const x = ctx.inputs[0]!;
  const data = x.dataSync() as Float32Array;
  let nan = false;
  let inf = false;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v !== v) nan = true;
    else if (v === Infinity || v === -Infinity) inf = true;
    if (nan && inf) break;
  }
  if (nan || inf) {
    const what = nan && inf ? 'Inf and NaN' : inf ? 'Inf' : 'NaN';
    throw new CheckNumericsError(ctx.node, `${ctx.attrs.string('message', '')} : Tensor had ${what} values`);
  }
  return tf.clone(x);
}

export const checkNumericsKernels = (): KernelTable => [['CheckNumerics', checkNumerics]];
