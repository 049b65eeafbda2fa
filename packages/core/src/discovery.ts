import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginError } from './errors.js';

// Manifest-only plugin discovery. Kept free of the IR and protobuf imports so that a
// host listing plugins (`tfpass passes`) starts fast; plugin.ts re-exports all of it.

/** Version of the plugin API this core offers; manifests must ask for it. */
export const PLUGIN_API_VERSION = 1;

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

function readManifest(dir: string): DiscoveredPlugin | undefined {
  let pj: any;
  try {
    const text = readFileSync(join(dir, 'package.json'), 'utf8');
    // Most packages are not plugins: skip parsing those (discovery runs on every CLI start).
    if (!text.includes('"tfpass"')) return undefined;
    pj = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!pj || typeof pj.tfpass !== 'object' || pj.tfpass === null) return undefined;
  // A package without a string name is not installable; malformed fields must not crash discovery.
  if (typeof pj.name !== 'string') return undefined;
  const m = pj.tfpass;
  const passes = Array.isArray(m.passes) ? m.passes.filter((x: any) => x && typeof x.name === 'string') : [];
  const peer = pj.peerDependencies?.['@tfpass/core'];
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
  // A relative path inside the package (plugin.ts also checks where symlinks lead).
  const e = p.manifest.entry.replace(/\\/g, '/');
  if (e.startsWith('/') || /^[a-zA-Z]:/.test(e) || e.split('/').includes('..')) return `manifest entry ${JSON.stringify(p.manifest.entry)} points outside the package; it must be a path inside it`;
  return undefined;
}
