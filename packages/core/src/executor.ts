import type { Graph } from './graph.js';
import type { Tensor } from './tensor.js';

/**
 * Runs graphs. Core only defines the contract; `@tfpass/runtime` implements it on
 * TensorFlow.js and hosts register it under `TOKENS.executor` for passes that need it.
 */
export interface Executor {
  /**
   * Run `graph`, feeding tensors by name (`x` or `x:0`; any node may be fed, not only
   * Placeholders) and returning the fetched tensors (`n` or `n:k`) in order.
   */
  run(graph: Graph, feeds: Record<string, Tensor>, fetches: string[]): Promise<Tensor[]>;
  /** True when the executor has a kernel for `op`. */
  supportsOp(op: string): boolean;
}
