import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginError, UnknownPassError, nearest } from './errors.js';

// Manifest-only plugin discovery. Kept free of the IR and protobuf imports so that a
// host listing plugins (`tfpass passes`) starts fast; plugin.ts re-exports all of it.

/** Version of the plugin API this core offers; manifests must ask for it. */
export const PLUGIN_API_VERSION = 1;

/** The folder of the core package this host runs (after symlinks). */
export const CORE_DIR: string = (() => {
  try {
    return realpathSync(join(dirname(fileURLToPath(import.meta.url)), '..'));
  } catch {
    return join(dirname(fileURLToPath(import.meta.url)), '..');
  }
})();

export const CORE_VERSION: string = (() => {
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    return JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
})();

export interface PluginManifest {
  apiVersion: number;
  entry: string;
  passes: { name: string; summary: string }[];
  /**
   * The package imports core's values itself (it is also a library, like @tfpass/quantize),
   * instead of taking them from `api.lib`: the host then requires that it resolves the host's own
   * copy of @tfpass/core, or two copies would meet in one graph.
   */
  importsCore?: boolean;
}

export interface DiscoveredPlugin {
  name: string;
  version: string;
  dir: string;
  manifest: PluginManifest;
  peerCore?: string;
}

/** Minimal semver range check for `^x.y.z`, `~x.y.z`, `>=x.y.z`, `x.y.z` and `*`. */
export function satisfies(version: string, range: string): boolean {
  const v = version.split('-')[0]!.split('.').map(Number);
  return range.split('||').some((alt) =>
    alt.trim().split(/\s+/).every((part) => {
      if (part === '*' || part === '' || part === 'x') return true;
      const m = /^(\^|~|>=|<=|>|<|=)?(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?/.exec(part);
      if (!m) return false;
      const r = [Number(m[2]), m[3] === undefined || m[3] === 'x' ? 0 : Number(m[3]), m[4] === undefined || m[4] === 'x' ? 0 : Number(m[4])];
      const cmp = (v[0]! - r[0]!) || (v[1]! - r[1]!) || (v[2]! - r[2]!);
      switch (m[1]) {
        case '^': return cmp >= 0 && (r[0]! > 0 ? v[0] === r[0] : r[1]! > 0 ? v[0] === 0 && v[1] === r[1] : v[0] === 0 && v[1] === 0 && v[2] === r[2]);
        case '~': return cmp >= 0 && v[0] === r[0] && v[1] === r[1];
        case '>=': return cmp >= 0;
        case '<=': return cmp <= 0;
        case '>': return cmp > 0;
        case '<': return cmp < 0;
        default: return m[3] === undefined ? v[0] === r[0] : m[4] === undefined ? v[0] === r[0] && v[1] === r[1] : cmp === 0;
      }
    }),
  );
}

/**
 * The plugin manifest of the package in `dir`. Discovery (the default) skips quietly what is not
 * an installable plugin; an explicit choice (`--plugin PATH`) keeps malformed fields, so that
 * `incompatibility` can say what is wrong instead of the plugin just not being found.
 */
function readManifest(dir: string, explicit = false): DiscoveredPlugin | undefined {
  let pj: any;
  try {
    const text = readFileSync(join(dir, 'package.json'), 'utf8');
    // Most packages are not plugins: skip parsing those (discovery runs on every CLI start).
    if (!explicit && !text.includes('"tfpass"')) return undefined;
    pj = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!pj || typeof pj.tfpass !== 'object' || pj.tfpass === null) return undefined;
  const m = pj.tfpass;
  const peer = pj.peerDependencies?.['@tfpass/core'];
  if (explicit) return { name: pj.name ?? dir, version: pj.version ?? '0.0.0', dir, manifest: m as PluginManifest, peerCore: peer };
  // A package without a string name is not installable; malformed fields must not crash discovery.
  if (typeof pj.name !== 'string') return undefined;
  const passes = Array.isArray(m.passes) ? m.passes.filter((x: any) => x && typeof x.name === 'string') : [];
  return { name: pj.name, version: typeof pj.version === 'string' ? pj.version : '0.0.0', dir, manifest: { ...m, passes }, peerCore: typeof peer === 'string' ? peer : undefined };
}

function scanNodeModules(nm: string, out: Map<string, DiscoveredPlugin>): void {
  let entries: string[];
  try {
    entries = readdirSync(nm).sort();
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.startsWith('.')) continue;
    const dirs = e.startsWith('@') ? safeList(join(nm, e)).map((s) => join(nm, e, s)) : [join(nm, e)];
    for (const d of dirs) {
      const p = readManifest(d);
      // Nearer node_modules win, as in Node's resolution.
      if (p && !out.has(p.name)) out.set(p.name, p);
    }
  }
}

function safeList(d: string): string[] {
  try {
    return readdirSync(d).sort();
  } catch {
    return [];
  }
}

/**
 * Find installed plugins by reading package.json manifests only (no code is imported):
 * `node_modules` of `cwd` and each parent, then those around core's own install.
 */
export function discoverPlugins(opts: { cwd?: string; extraDirs?: string[] } = {}): DiscoveredPlugin[] {
  const out = new Map<string, DiscoveredPlugin>();
  for (const d of opts.extraDirs ?? []) {
    const p = readManifest(resolve(d));
    if (!p) throw new PluginError(d, 'has no package.json with a "tfpass" manifest');
    out.set(p.name, p);
  }
  const starts = [resolve(opts.cwd ?? process.cwd()), dirname(fileURLToPath(import.meta.url))];
  const scanned = new Set<string>();
  for (const start of starts) {
    let dir = start;
    while (true) {
      const nm = join(dir, 'node_modules');
      // Both walks usually meet in the same folders: scan each once.
      if (!scanned.has(nm)) scanNodeModules(nm, out);
      scanned.add(nm);
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Check a plugin's manifest fits this core; returns a reason when it does not. */
export function incompatibility(p: DiscoveredPlugin): string | undefined {
  if (p.manifest.apiVersion !== PLUGIN_API_VERSION) return `asks for plugin API ${JSON.stringify(p.manifest.apiVersion)}, this core offers ${PLUGIN_API_VERSION}`;
  // Manifests read by other hosts (e.g. the CLI's --plugin PATH) may not be cleaned up yet.
  if (typeof p.name !== 'string' || typeof p.version !== 'string') return 'package.json needs a string "name" and "version"';
  if (p.peerCore !== undefined && typeof p.peerCore !== 'string') return 'peerDependencies["@tfpass/core"] is not a version range';
  if (!Array.isArray(p.manifest.passes) || !p.manifest.passes.every((x) => x && typeof x === 'object' && typeof x.name === 'string')) {
    return 'manifest "passes" must be a list of { name, summary }';
  }
  if (p.peerCore && !satisfies(CORE_VERSION, p.peerCore)) return `needs @tfpass/core ${p.peerCore}, this is ${CORE_VERSION}`;
  if (typeof p.manifest.entry !== 'string') return 'manifest has no entry';
  if (p.manifest.importsCore && p.dir) {
    const own = coreSeenFrom(p.dir);
    if (own && own !== CORE_DIR) return `imports @tfpass/core itself ("importsCore") and resolves the copy in ${own}, not the host's in ${CORE_DIR}; install it beside the host's core (npm dedupes a peer dependency), or run it with that core`;
  }
  // A relative path inside the package (plugin.ts also checks where symlinks lead).
  const e = p.manifest.entry.replace(/\\/g, '/');
  if (e.startsWith('/') || /^[a-zA-Z]:/.test(e) || e.split('/').includes('..')) return `manifest entry ${JSON.stringify(p.manifest.entry)} points outside the package; it must be a path inside it`;
  return undefined;
}

// ---- which plugin provides which pass (manifests only) ------------------------------------------

export interface HostOptions {
  /** Pass names worth suggesting for a misspelt one, though not installed (the CLI's catalogue). */
  known?: readonly string[];
  /** Extra text for an unknown pass, e.g. which package to install. */
  hint?: (pass: string) => string | undefined;
}

/** The plugins a host may load and which one provides each pass. No plugin code is imported. */
export interface PluginPlan {
  /** Explicit plugins first (in the order given), then discovered ones by name. */
  plugins: DiscoveredPlugin[];
  explicit: Set<string>;
  /** Pass name -> packages claiming it (only explicit ones, when any explicit one claims it). */
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

/** The manifest of the package in `dir`, without discovery's filters (for an explicit choice). */
export function readManifestAt(dir: string): DiscoveredPlugin | undefined {
  return readManifest(dir, true);
}

function findPackageDir(name: string, cwd: string): string | undefined {
  for (const start of [resolve(cwd), dirname(fileURLToPath(import.meta.url))]) {
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

/** Resolve one plugin choice (`--plugin PKG|PATH`, short names allowed) to its manifest. */
export function resolvePluginSpec(spec: string, cwd: string, discovered: DiscoveredPlugin[] = []): DiscoveredPlugin {
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

/**
 * A package by name as `from` (a file URL or path) resolves it, for hosts that pin their plugins
 * (the version is the installed package's own, not a copy of it).
 */
export function pluginPackage(name: string, from: string): DiscoveredPlugin {
  let pj: string;
  try {
    pj = createRequire(from).resolve(`${name}/package.json`);
  } catch (e) {
    throw new PluginError(name, `not installed where ${from.startsWith('file:') ? fileURLToPath(from) : from} can import it: npm i ${name}`, { cause: e });
  }
  const p = readManifestAt(dirname(pj));
  if (!p) throw new PluginError(name, 'is installed but its package.json has no "tfpass" manifest');
  return p;
}

/**
 * Which plugin provides each pass. `explicit` ones (in order) win over `discovered` ones; two
 * explicit (or two discovered) claims of one pass stay a conflict for `ownerOf` to report.
 */
export function planPlugins(explicitList: DiscoveredPlugin[], discovered: DiscoveredPlugin[] = []): PluginPlan {
  for (const p of explicitList) {
    const why = incompatibility(p);
    if (why) throw new PluginError(`${p.name}@${p.version}`, why);
  }
  const dedup = explicitList.filter((p, i) => explicitList.findIndex((q) => q.name === p.name) === i);
  const explicit = new Set(dedup.map((p) => p.name));
  const plugins = [...dedup, ...discovered.filter((p) => !explicit.has(p.name))];
  const claims = new Map<string, DiscoveredPlugin[]>();
  for (const p of plugins) {
    for (const pass of Array.isArray(p.manifest.passes) ? p.manifest.passes : []) {
      const list = claims.get(pass.name) ?? [];
      const mine = explicit.has(p.name);
      if (list.length && explicit.has(list[0]!.name) && !mine) continue;
      if (list.length && !explicit.has(list[0]!.name) && mine) list.length = 0;
      if (!list.some((q) => q.name === p.name)) list.push(p);
      claims.set(pass.name, list);
    }
  }
  return { plugins, explicit, claims };
}

/** Installed plugins (discovered from `cwd`), with `plugins` choices (`--plugin`) winning. */
export function planInstalled(opts: { cwd?: string; plugins?: readonly string[] } = {}): PluginPlan {
  const cwd = opts.cwd ?? process.cwd();
  const discovered = discoverPlugins({ cwd });
  return planPlugins((opts.plugins ?? []).map((s) => resolvePluginSpec(s, cwd, discovered)), discovered);
}

/**
 * The package providing `pass`; throws on conflicts, and for an unknown pass with the nearest
 * names (`known` adds names worth suggesting) and `hint(name)` (e.g. which package to install).
 */
export function ownerOf(plan: PluginPlan, pass: string, opts: HostOptions = {}): DiscoveredPlugin {
  const list = plan.claims.get(pass);
  if (!list?.length) {
    const near = nearest(pass, new Set([...plan.claims.keys(), ...(opts.known ?? [])].filter((n) => n !== pass)));
    throw new UnknownPassError(pass, near, opts.hint?.(pass) ?? (near[0] && !plan.claims.has(near[0]) ? opts.hint?.(near[0]) : undefined));
  }
  if (list.length > 1) {
    throw new PluginError(list.map((p) => `${p.name}@${p.version}`).join(' and '), `both provide pass '${pass}'; uninstall one or choose with --plugin ${list[0]!.name}`);
  }
  return list[0]!;
}

/** The core package folder that code in `dir` would import (after symlinks), if any. */
function coreSeenFrom(dir: string): string | undefined {
  try {
    return realpathSync(dirname(createRequire(join(dir, 'package.json')).resolve('@tfpass/core/package.json')));
  } catch {
    return undefined;
  }
}
