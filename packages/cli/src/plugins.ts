// The CLI's view of core's plugin host: which plugins are installed (manifests only, so
// `tfpass passes` starts without the IR), plus the CLI's own catalogue for install hints.
import { ownerOf as coreOwnerOf, planInstalled, type DiscoveredPlugin, type HostOptions, type PluginPlan } from '@tfpass/core/discovery';
import type { PassRegistry } from '@tfpass/core';
import { FIRST_PARTY, catalogueLookup } from './catalogue.js';

export { resolvePluginName, resolvePluginSpec } from '@tfpass/core/discovery';

/** Installed plugins, known from their manifests only (no plugin code imported). */
export type Host = PluginPlan;

/** Hints for unknown passes: first-party names are suggested even when not installed. */
const HINTS: HostOptions = { known: Object.values(FIRST_PARTY).flat(), hint: installHint };

/** Discover plugins (manifests only) and apply explicit --plugin choices. */
export function loadHost(opts: { cwd: string; plugins?: string[] }): Host {
  return planInstalled(opts);
}

/** The package providing `pass`; throws on conflicts and for unknown passes (with hints). */
export function ownerOf(host: Host, pass: string): DiscoveredPlugin {
  return coreOwnerOf(host, pass, HINTS);
}

export function installHint(pass: string): string | undefined {
  const pkg = catalogueLookup(pass);
  return pkg ? `('${pass}' is provided by ${pkg}, which is not installed: npm i ${pkg})` : undefined;
}

type Core = typeof import('@tfpass/core');

/** A registry with `passes` (and only their packages imported), through core's plugin host. */
export async function loadPasses(host: Host, passes: readonly string[], core: Core): Promise<PassRegistry> {
  return core.PluginHost.fromPlan(host, HINTS).registry(passes);
}
