import type { PluginApi } from '@tfpass/core';
import { foldConstantsPass } from './fold.js';

export { foldConstants, foldConstantsPass, type FoldParams } from './fold.js';

export function register(api: PluginApi): void {
  api.registerPass(foldConstantsPass(api.lib));
}
