/** The seed's deployment pipeline, run with the first-party plugins this package pins. */
import { Graph, PluginHost, ServiceContainer, TOKENS, type StepReport } from '@tfpass/core';
import { createExecutor, type BackendName } from '@tfpass/runtime';

export const SEED_PIPELINE =
  'strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms';

/** The packages train's pipelines use: its own dependencies, whatever else is installed. */
export const FIRST_PARTY_PASSES = ['@tfpass/pass-strip', '@tfpass/pass-fold-constants', '@tfpass/pass-fold-bn', '@tfpass/pass-instance-norm'] as const;

let host: PluginHost | undefined;

/** Train's plugin host: the pinned packages, loaded like any installed plugin (real versions). */
export function firstPartyHost(): PluginHost {
  return (host ??= PluginHost.packages(FIRST_PARTY_PASSES, import.meta.url));
}

/** Run a transform string on `graph` in place with the first-party passes and a runtime executor. */
export async function runFirstParty(graph: Graph, transforms: string, inputs: string[], outputs: string[], backend: BackendName = 'wasm'): Promise<StepReport[]> {
  const services = new ServiceContainer().set(TOKENS.executor, createExecutor({ backend }));
  return firstPartyHost().run(graph, transforms, { inputs, outputs, container: services });
}
