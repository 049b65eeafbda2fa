import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginError, TfpassError } from './errors.js';
import { CORE_VERSION, PLUGIN_API_VERSION, discoverPlugins, incompatibility, type DiscoveredPlugin } from './discovery.js';
import { defaultRegistry, type PassDefinition, type PassRegistry } from './pass.js';
import * as lib from './lib.js';

export * from './discovery.js';

/** Everything a plugin gets from its host: registration plus core's runtime helpers. */
export interface PluginApi {
  apiVersion: number;
  coreVersion: string;
  registerPass(def: PassDefinition): void;
  /** Core's runtime library (Graph, Tensor, patterns, errors, TOKENS, …) of the host. */
  lib: typeof lib;
}

export interface PluginModule {
  register(api: PluginApi): void | Promise<void>;
}

export function createPluginApi(registry: PassRegistry, origin?: { packageName: string; packageVersion: string }): PluginApi {
  return {
    apiVersion: PLUGIN_API_VERSION,
    coreVersion: CORE_VERSION,
    registerPass: (def) => registry.register(def, origin),
    lib,
  };
}

/** Register a plugin module's passes (from an import or a test). */
export async function registerPlugin(mod: PluginModule, registry: PassRegistry = defaultRegistry(), origin?: { packageName: string; packageVersion: string }): Promise<void> {
  if (typeof mod.register !== 'function') throw new PluginError(origin?.packageName ?? 'module', 'does not export register(api)');
  await mod.register(createPluginApi(registry, origin));
}

/** Import a discovered plugin and register its passes. */
export async function loadPlugin(p: DiscoveredPlugin, registry: PassRegistry = defaultRegistry()): Promise<void> {
  const why = incompatibility(p);
  if (why) throw new PluginError(`${p.name}@${p.version}`, why);
  const entry = join(realpathSync(p.dir), p.manifest.entry);
  let mod: PluginModule;
  try {
    mod = (await import(pathToFileURL(entry).href)) as PluginModule;
  } catch (e) {
    throw new PluginError(`${p.name}@${p.version}`, `failed to load: ${(e as Error).message}`, { cause: e });
  }
  try {
    await registerPlugin(mod, registry, { packageName: p.name, packageVersion: p.version });
  } catch (e) {
    if (e instanceof TfpassError) throw e;
    throw new PluginError(`${p.name}@${p.version}`, `register() threw: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Announce every discovered plugin's passes to the registry; each package is imported only
 * when one of its passes is first used. Conflicting claims throw, naming both packages.
 */
export function announcePlugins(plugins: DiscoveredPlugin[], registry: PassRegistry = defaultRegistry()): void {
  for (const p of plugins) {
    let loading: Promise<void> | undefined;
    const load = () => (loading ??= loadPlugin(p, registry));
    for (const pass of p.manifest.passes ?? []) registry.announce(pass.name, p.name, load);
  }
}

const DISCOVERED = new WeakSet<PassRegistry>();

/** Discover installed plugins once per registry. */
export async function ensurePluginsDiscovered(registry: PassRegistry = defaultRegistry(), opts: { cwd?: string } = {}): Promise<void> {
  if (DISCOVERED.has(registry)) return;
  DISCOVERED.add(registry);
  const found = discoverPlugins(opts);
  // A plugin that is already registered (e.g. imported directly) is not announced twice.
  announcePlugins(found.filter((p) => !p.manifest.passes?.every((x) => registry.get(x.name)?.origin?.packageName === p.name)), registry);
  void existsSync;
}
