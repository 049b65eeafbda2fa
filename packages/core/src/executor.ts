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

/**
 * An executor loaded on first need. Hosts hand this to passes so that a pass with nothing to run
 * (`fold_constants` on a graph with nothing to fold) never loads TensorFlow.js (~0.4 s).
 * `run` loads it by itself; call `await ready()` before `supportsOp`, which must answer
 * synchronously and so cannot load anything.
 */
export interface DeferredExecutor extends Executor {
  ready(): Promise<Executor>;
  readonly loaded: boolean;
}

export function deferredExecutor(load: () => Promise<Executor>): DeferredExecutor {
  let inner: Executor | undefined;
  let pending: Promise<Executor> | undefined;
  const ready = () => (pending ??= load().then((e) => (inner = e)));
  return {
    ready,
    get loaded() {
      return inner !== undefined;
    },
    async run(graph, feeds, fetches) {
      return (await ready()).run(graph, feeds, fetches);
    },
    supportsOp(op) {
      if (!inner) throw new Error(`executor not loaded yet: await executor.ready() before supportsOp('${op}')`);
      return inner.supportsOp(op);
    },
  };
}

/** The loaded executor behind `e`, loading it if it is deferred. */
export async function readyExecutor(e: Executor): Promise<Executor> {
  const d = e as Partial<DeferredExecutor>;
  return typeof d.ready === 'function' ? d.ready() : e;
}
