import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { discoverPlugins, incompatibility, type DiscoveredPlugin } from '@tfpass/core/discovery';
import { PluginError, UnknownPassError, isTfpassError, nearest } from '@tfpass/core/errors';
import type { PassRegistry } from '@tfpass/core';
import { FIRST_PARTY, catalogueLookup } from './catalogue.js';

/** Installed plugins, known from their manifests only (no plugin code imported). */
export interface Host {
  /** Explicit --plugin packages first (in the order given), then discovered ones by name. */
  plugins: DiscoveredPlugin[];
  explicit: Set<string>;
  /** Pass name -> packages claiming it (explicit ones only, when any claims it). */
  claims: Map<string, DiscoveredPlugin[]>;
}

/**
 * Package names a short plugin name may stand for, ESLint style:
 * `example` -> `tfpass-pass-example`, `@tfpass/pass-example`; `@acme` -> `@acme/tfpass-pass`;
 * `@acme/x` -> `@acme/tfpass-pass-x`, `@acme/pass-x`. A full name is tried as given first.
 */
export function resolvePluginName(spec: string): string[] {
  const out: string[] = [];
  if (spec.startsWith('@')) {
    const [scope, rest] = spec.split('/', 2) as [string, string | undefined];
    if (!rest) return [`${scope}/tfpass-pass`];
    if (rest.startsWith('tfpass-pass') || rest.startsWith('pass-')) out.push(spec);
    out.push(`${scope}/tfpass-pass-${rest}`, `${scope}/pass-${rest}`, spec);
  } else {
    if (spec.startsWith('tfpass-pass-')) out.push(spec);
    out.push(`tfpass-pass-${spec}`, `@tfpass/pass-${spec}`, spec);
  }
  return [...new Set(out)];
}

function readManifestAt(dir: string): DiscoveredPlugin | undefined {
  let pj: { name?: string; version?: string; tfpass?: unknown; peerDependencies?: Record<string, string> };
  try {
    pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
  if (!pj || typeof pj.tfpass !== 'object' || pj.tfpass === null) return undefined;
  return { name: pj.name ?? dir, version: pj.version ?? '0.0.0', dir, manifest: pj.tfpass as DiscoveredPlugin['manifest'], peerCore: pj.peerDependencies?.['@tfpass/core'] };
}

/** Folders whose node_modules are searched: cwd and parents, then the CLI's own install. */
function searchRoots(cwd: string): string[] {
  return [resolve(cwd), dirname(fileURLToPath(import.meta.url))];
}

function findPackageDir(name: string, cwd: string): string | undefined {
  for (const start of searchRoots(cwd)) {
    for (let dir = start; ; dir = dirname(dir)) {
      const d = join(dir, 'node_modules', name);
      if (existsSync(join(d, 'package.json'))) return d;
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}

function looksLikePath(spec: string, cwd: string): boolean {
  if (isAbsolute(spec) || spec.startsWith('.') || spec.includes('\\')) return true;
  if (spec.includes('/') && !spec.startsWith('@')) return true;
  try {
    return statSync(resolve(cwd, spec)).isDirectory() && existsSync(join(resolve(cwd, spec), 'package.json'));
  } catch {
    return false;
  }
}

/** Resolve one `--plugin PKG|PATH` to its manifest. */
export function resolvePluginSpec(spec: string, cwd: string, discovered: DiscoveredPlugin[]): DiscoveredPlugin {
  if (looksLikePath(spec, cwd)) {
    const dir = resolve(cwd, spec);
    if (!existsSync(join(dir, 'package.json'))) throw new PluginError(spec, `no package.json in ${dir}`);
    const p = readManifestAt(dir);
    if (!p) throw new PluginError(spec, `${join(dir, 'package.json')} has no "tfpass" manifest`);
    return p;
  }
  const names = resolvePluginName(spec);
  for (const n of names) {
    const hit = discovered.find((p) => p.name === n);
    if (hit) return hit;
  }
  for (const n of names) {
    const dir = findPackageDir(n, cwd);
    if (!dir) continue;
    const p = readManifestAt(dir);
    if (!p) throw new PluginError(n, 'is installed but its package.json has no "tfpass" manifest');
    return p;
  }
  throw new PluginError(spec, `not installed (looked for ${names.join(', ')}): npm i ${names[0]}`);
}

/** Discover plugins (manifests only) and apply explicit --plugin choices. */
export function loadHost(opts: { cwd: string; plugins?: string[] }): Host {
  const discovered = discoverPlugins({ cwd: opts.cwd });
  const explicitList: DiscoveredPlugin[] = [];
  for (const spec of opts.plugins ?? []) {
    const p = resolvePluginSpec(spec, opts.cwd, discovered);
    const why = incompatibility(p);
    if (why) throw new PluginError(`${p.name}@${p.version}`, why);
    if (!explicitList.some((q) => q.name === p.name)) explicitList.push(p);
  }
  const explicit = new Set(explicitList.map((p) => p.name));
  const plugins = [...explicitList, ...discovered.filter((p) => !explicit.has(p.name))];
  const claims = new Map<string, DiscoveredPlugin[]>();
  for (const p of plugins) {
    for (const pass of Array.isArray(p.manifest.passes) ? p.manifest.passes : []) {
      const list = claims.get(pass.name) ?? [];
      const mine = explicit.has(p.name);
      // An explicit --plugin wins over anything discovered.
      if (list.length && explicit.has(list[0]!.name) && !mine) continue;
      if (list.length && !explicit.has(list[0]!.name) && mine) list.length = 0;
      if (!list.some((q) => q.name === p.name)) list.push(p);
      claims.set(pass.name, list);
    }
  }
  return { plugins, explicit, claims };
}

/** The package providing `pass`; throws on conflicts and for unknown passes (with hints). */
export function ownerOf(host: Host, pass: string): DiscoveredPlugin {
  const list = host.claims.get(pass);
  if (!list?.length) {
    const installed = [...host.claims.keys()];
    const known = Object.values(FIRST_PARTY).flat();
    const near = nearest(pass, new Set([...installed, ...known].filter((n) => n !== pass)));
    throw new UnknownPassError(pass, near, installHint(pass) ?? (near[0] && !host.claims.has(near[0]) ? installHint(near[0]) : undefined));
  }
  if (list.length > 1) {
    throw new PluginError(
      list.map((p) => `${p.name}@${p.version}`).join(' and '),
      `both provide pass '${pass}'; uninstall one or choose with --plugin ${list[0]!.name}`,
    );
  }
  return list[0]!;
}

export function installHint(pass: string): string | undefined {
  const pkg = catalogueLookup(pass);
  return pkg ? `('${pass}' is provided by ${pkg}, which is not installed: npm i ${pkg})` : undefined;
}

type Core = typeof import('@tfpass/core');

/**
 * Import the packages providing `passes` (and only those) into a fresh registry.
 * A plugin whose import or register() throws is refused with its name and version.
 */
export async function loadPasses(host: Host, passes: readonly string[], core: Core): Promise<PassRegistry> {
  const registry = new core.PassRegistry();
  const byPkg = new Map<DiscoveredPlugin, Set<string>>();
  for (const name of passes) {
    const owner = ownerOf(host, name);
    if (!byPkg.has(owner)) byPkg.set(owner, new Set());
    byPkg.get(owner)!.add(name);
  }
  for (const [p, wanted] of byPkg) {
    await importPlugin(p, registry, core, (name) => host.claims.get(name)?.[0]?.name === p.name || !host.claims.has(name));
    for (const w of wanted) {
      if (!registry.has(w)) throw new PluginError(`${p.name}@${p.version}`, `its manifest lists pass '${w}' but register() did not register it`);
    }
  }
  return registry;
}

/** Import one plugin package and register its passes (those `keep` accepts). */
export async function importPlugin(p: DiscoveredPlugin, registry: PassRegistry, core: Core, keep: (pass: string) => boolean = () => true): Promise<void> {
  const id = `${p.name}@${p.version}`;
  const why = incompatibility(p);
  if (why) throw new PluginError(id, why);
  // Inside the package after symlinks (core refuses an entry that leads elsewhere).
  const entry = core.pluginEntry(p);
  let mod: { register?: unknown };
  try {
    mod = (await import(pathToFileURL(entry).href)) as { register?: unknown };
  } catch (e) {
    throw new PluginError(id, `failed to load: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  if (typeof mod.register !== 'function') throw new PluginError(id, 'does not export register(api)');
  const origin = { packageName: p.name, packageVersion: p.version };
  const api = core.createPluginApi(registry, origin);
  const add = api.registerPass;
  api.registerPass = (def) => {
    if (keep(def.name)) add(def);
  };
  try {
    await (mod.register as (a: typeof api) => unknown)(api);
  } catch (e) {
    if (isTfpassError(e) && e.code === 'E_PLUGIN') throw e;
    throw new PluginError(id, `register() threw: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}
