import * as tf from '@tensorflow/tfjs-core';
import { registerOp, type GraphNode } from '@tensorflow/tfjs-converter';
import { UnsupportedOpError } from '@tfpass/core';
import { KernelAttrs, type KernelContext, type KernelFn, type RawAttr } from './attrs.js';
import { tfjsOps } from './tfjs-ops.js';

const kernels = new Map<string, KernelFn>();
let epoch = 0;

/** Bumped on each registration, so executors rebuild models loaded before it. @internal */
export function kernelEpoch(): number { return epoch; }

interface NodeValueLike extends GraphNode {
  node?: { name?: string; op?: string; rawAttrs?: Record<string, RawAttr> };
}

/**
 * Register (or replace) the kernel for a TF op. Models built after this call use it; the
 * executor rebuilds cached models automatically.
 */
export function registerKernel(op: string, fn: KernelFn): void {
  kernels.set(op, fn);
  epoch++;
  registerOp(op, (nv: GraphNode) => {
    const v = nv as NodeValueLike;
    const name = v.node?.name ?? '?';
    const ctx: KernelContext = { op, node: name, inputs: nv.inputs, attrs: new KernelAttrs(v.node?.rawAttrs ?? {}), tf };
    return fn(ctx);
  });
}

export function hasKernel(op: string): boolean { return kernels.has(op); }
export function registeredKernels(): string[] { return [...kernels.keys()].sort(); }

/** Ops that never need a kernel (handled by the graph executor itself). */
const STRUCTURAL = new Set(['Const', 'Placeholder', 'PlaceholderWithDefault', 'NoOp']);

export function supportsOp(op: string): boolean {
  return STRUCTURAL.has(op) || kernels.has(op) || tfjsOps().has(op);
}

export function unsupportedOp(op: string, node: string): UnsupportedOpError {
  return new UnsupportedOpError(
    op,
    node,
    `TensorFlow.js has no kernel for it; register one with registerKernel('${op}', (ctx) => ...) from '@tfpass/runtime' ` +
      `(see docs/ops.md), or feed the node's consumers directly`,
  );
}
