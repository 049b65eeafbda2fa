import type { PassDefinition, PluginApi } from '@tfpass/core';
import { foldPasses } from './fold.js';
import { freezePasses } from './freeze.js';
import { convPasses } from './convs.js';

export { mergeBiases } from './fold.js';
export { quantizeToQuint8 } from './convs.js';

/** Every pass of this package, bound to a core library. */
export function makePasses(lib: PluginApi['lib']): PassDefinition[] {
  return [...foldPasses(lib), ...freezePasses(lib), ...convPasses(lib)];
}

export function register(api: PluginApi): void {
  for (const p of makePasses(api.lib)) api.registerPass(p);
}
