import type { PassDefinition, PluginApi } from '@tfpass/core';
import { backportPasses } from './backports.js';
import { addDefaultAttributes } from './defaults.js';
import { inlinePartitionedCall } from './inline.js';
import { insertLogging } from './logging.js';
import { sparsifyGather } from './sparsify.js';
import { removeNodes, stripUnusedNodes } from './strip.js';
import { structuralPasses } from './structural.js';

export { executionOrder, base62 } from './structural.js';

/** Every pass of this package, built on the host's core library. */
export function makePasses(lib: PluginApi['lib']): PassDefinition[] {
  return [
    stripUnusedNodes(lib),
    removeNodes(lib),
    ...structuralPasses(lib),
    ...backportPasses(lib),
    sparsifyGather(lib),
    inlinePartitionedCall(lib),
    addDefaultAttributes(lib),
    insertLogging(lib),
  ] as PassDefinition[];
}

export function register(api: PluginApi): void {
  for (const p of makePasses(api.lib)) api.registerPass(p);
}
