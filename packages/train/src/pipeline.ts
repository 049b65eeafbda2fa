/** The seed's deployment pipeline, run with the first-party plugins in a private registry. */
import { container } from 'tsyringe';
import { Graph, PassRegistry, TOKENS, registerPlugin, runPipeline, type StepReport } from '@tfpass/core';
import * as strip from '@tfpass/pass-strip';
import * as foldConstants from '@tfpass/pass-fold-constants';
import * as foldBn from '@tfpass/pass-fold-bn';
import * as instanceNorm from '@tfpass/pass-instance-norm';
import { createExecutor, type BackendName } from '@tfpass/runtime';

export const SEED_PIPELINE =
  'strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms';

let registry: PassRegistry | undefined;

async function firstParty(): Promise<PassRegistry> {
  if (registry) return registry;
  const r = new PassRegistry();
  for (const [mod, name] of [[strip, '@tfpass/pass-strip'], [foldConstants, '@tfpass/pass-fold-constants'], [foldBn, '@tfpass/pass-fold-bn'], [instanceNorm, '@tfpass/pass-instance-norm']] as const) {
    await registerPlugin(mod, r, { packageName: name, packageVersion: '0.1.0' });
  }
  return (registry = r);
}

/** Run a transform string on `graph` in place with the first-party passes and a runtime executor. */
export async function runFirstParty(graph: Graph, transforms: string, inputs: string[], outputs: string[], backend: BackendName = 'wasm'): Promise<StepReport[]> {
  const child = container.createChildContainer();
  child.register(TOKENS.executor, { useValue: createExecutor({ backend }) });
  return runPipeline(graph, transforms, { registry: await firstParty(), inputs, outputs, container: child });
}
