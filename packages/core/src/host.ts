// The plugin host: the one way a registry is built from plugins, whether installed (the CLI,
// transformGraph) or pinned by a package that ships a fixed pipeline (@tfpass/train). Every
// plugin's code is loaded the same way: its manifest is checked, its entry must lie inside its
// package, and its passes are wrapped with the host's checks (plugin.ts).
import { pathToFileURL } from 'node:url';
import { PassError, PluginError, isTfpassError } from './errors.js';
import { incompatibility, ownerOf, planInstalled, planPlugins, pluginPackage, type DiscoveredPlugin, type HostOptions, type PluginPlan } from './discovery.js';
import { createPluginApi, pluginEntry, type PluginModule } from './plugin.js';
import { PassRegistry, TOKENS, defaultRegistry, pipelineSteps, runPipeline, type PipelineOptions, type StepReport } from './pass.js';
import { deferredExecutor, type Executor } from './executor.js';
import type { Graph } from './graph.js';
import { ServiceContainer } from './services.js';

/** A module already imported, with the package it stands for (tests, bundled hosts). */
export interface PluginSource {
  module: PluginModule;
  packageName: string;
  packageVersion: string;
}

export class PluginHost {
  private readonly modules = new Map<string, PluginModule>();

  private constructor(
    readonly plan: PluginPlan,
    private readonly opts: HostOptions = {},
  ) {}

  /** A plan made elsewhere (e.g. the CLI, from manifests only, before core's IR is loaded). */
  static fromPlan(plan: PluginPlan, opts: HostOptions = {}): PluginHost {
    return new PluginHost(plan, opts);
  }

  /** Installed plugins, discovered from `cwd` (manifests only); `plugins` (`--plugin`) win. */
  static installed(opts: HostOptions & { cwd?: string; plugins?: readonly string[] } = {}): PluginHost {
    return new PluginHost(planInstalled(opts), opts);
  }

  /**
   * Exactly these packages, as `from` (usually the caller's `import.meta.url`) resolves them, with
   * their installed versions: for a package that pins its first-party passes.
   */
  static packages(names: readonly string[], from: string, opts: HostOptions = {}): PluginHost {
    return new PluginHost(planPlugins(names.map((n) => pluginPackage(n, from))), opts);
  }

  /** Modules already imported. Their passes are known once `registry()` has registered them. */
  static async modules(sources: readonly PluginSource[], opts: HostOptions = {}): Promise<PluginHost> {
    const plugins: DiscoveredPlugin[] = [];
    const mods = new Map<string, PluginModule>();
    for (const s of sources) {
      // Register once into a scratch registry to learn the pass names, as a manifest would list them.
      const scratch = new PassRegistry();
      await callRegister(s.module, scratch, { packageName: s.packageName, packageVersion: s.packageVersion });
      plugins.push({ name: s.packageName, version: s.packageVersion, dir: '', manifest: { apiVersion: 1, entry: '', passes: scratch.list().map((p) => ({ name: p.def.name, summary: p.def.summary })) } });
      mods.set(s.packageName, s.module);
    }
    const host = new PluginHost(planPlugins([], plugins), opts);
    for (const [k, v] of mods) host.modules.set(k, v);
    return host;
  }

  get plugins(): DiscoveredPlugin[] {
    return this.plan.plugins;
  }

  /** Every pass some plugin of this host provides. */
  passNames(): string[] {
    return [...this.plan.claims.keys()].sort();
  }

  /** The package providing `pass` (typed errors for conflicts and unknown passes, with hints). */
  ownerOf(pass: string): DiscoveredPlugin {
    return ownerOf(this.plan, pass, this.opts);
  }

  /**
   * A registry holding `passes` (default: every pass of the host). Only their packages are
   * imported; a package that does not register a pass its manifest lists is refused.
   */
  async registry(passes?: readonly string[], into: PassRegistry = new PassRegistry()): Promise<PassRegistry> {
    const byPkg = new Map<DiscoveredPlugin, Set<string>>();
    for (const name of passes ?? this.passNames()) {
      if (into.has(name)) continue;
      const owner = this.ownerOf(name);
      if (!byPkg.has(owner)) byPkg.set(owner, new Set());
      byPkg.get(owner)!.add(name);
    }
    for (const [p, wanted] of byPkg) {
      // A pass whose claim went to another package (an explicit --plugin) is not registered.
      await this.load(p, into, (name) => this.plan.claims.get(name)?.[0]?.name === p.name || !this.plan.claims.has(name));
      for (const w of wanted) {
        if (!into.has(w)) throw new PluginError(`${p.name}@${p.version}`, `its manifest lists pass '${w}' but register() did not register it`);
      }
    }
    return into;
  }

  /** Import one plugin and register its passes (those `keep` accepts) into `registry`. */
  async load(p: DiscoveredPlugin, registry: PassRegistry, keep: (pass: string) => boolean = () => true): Promise<void> {
    const mod = this.modules.get(p.name) ?? (await importPlugin(p));
    await callRegister(mod, registry, { packageName: p.name, packageVersion: p.version }, keep);
  }

  /**
   * Run `transforms` on `graph` in place with this host's passes (TF's transform_graph). A pass
   * that runs the graph gets `opts.executor`, or one from @tfpass/runtime, loaded only if it runs.
   */
  async run(graph: Graph, transforms: string | readonly string[], opts: Omit<PipelineOptions, 'registry'> & { registry?: PassRegistry; executor?: Executor } = {}): Promise<StepReport[]> {
    const steps = pipelineSteps(typeof transforms === 'string' ? transforms : transforms.join(' '));
    const registry = await this.registry([...new Set(steps.map((s) => s.name))], opts.registry);
    return runPipeline(graph, steps, { ...opts, registry, container: withExecutor(registry, steps.map((s) => s.name), opts) });
  }
}

/** The services a run needs: an executor, only when a pass asks for one and none is registered. */
function withExecutor(registry: PassRegistry, names: readonly string[], opts: Pick<PipelineOptions, 'container'> & { executor?: Executor }): PipelineOptions['container'] {
  const base = opts.container;
  if (base?.isRegistered(TOKENS.executor, true)) return base;
  const needs = names.filter((n) => Object.values(registry.get(n)?.def.inject ?? {}).includes(TOKENS.executor));
  if (!needs.length && !opts.executor) return base;
  const child = base ? base.createChildContainer() : new ServiceContainer();
  // Deferred: a pass with nothing to run never loads TensorFlow.js.
  child.register(TOKENS.executor, { useValue: opts.executor ?? deferredExecutor(() => loadExecutor(needs[0] ?? 'transform')) });
  return child;
}

async function importPlugin(p: DiscoveredPlugin): Promise<PluginModule> {
  const why = incompatibility(p);
  if (why) throw new PluginError(`${p.name}@${p.version}`, why);
  // Inside the package after symlinks: a manifest cannot make the host import code from elsewhere.
  const entry = pluginEntry(p);
  try {
    return (await import(pathToFileURL(entry).href)) as PluginModule;
  } catch (e) {
    throw new PluginError(`${p.name}@${p.version}`, `failed to load: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

async function callRegister(mod: PluginModule, registry: PassRegistry, origin: { packageName: string; packageVersion: string }, keep: (pass: string) => boolean = () => true): Promise<void> {
  const id = `${origin.packageName}@${origin.packageVersion}`;
  if (typeof mod?.register !== 'function') throw new PluginError(id, 'does not export register(api)');
  const api = createPluginApi(registry, origin);
  const add = api.registerPass;
  api.registerPass = (def) => {
    if (keep(def.name)) add(def);
  };
  try {
    await mod.register(api);
  } catch (e) {
    if (isTfpassError(e) && e.code === 'E_PLUGIN') throw e;
    throw new PluginError(id, `register() threw: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

/** Import a discovered plugin and register its passes. */
export async function loadPlugin(p: DiscoveredPlugin, registry: PassRegistry = defaultRegistry()): Promise<void> {
  await callRegister(await importPlugin(p), registry, { packageName: p.name, packageVersion: p.version });
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

/** Discover installed plugins once per registry and announce their passes (loaded on first use). */
export async function ensurePluginsDiscovered(registry: PassRegistry = defaultRegistry(), opts: { cwd?: string } = {}): Promise<void> {
  if (DISCOVERED.has(registry)) return;
  DISCOVERED.add(registry);
  const found = PluginHost.installed(opts).plugins;
  // A plugin that is already registered (e.g. imported directly) is not announced twice.
  announcePlugins(found.filter((p) => !p.manifest.passes?.every((x) => registry.get(x.name)?.origin?.packageName === p.name)), registry);
}

/**
 * TF's Python `TransformGraph(graph_def, inputs, outputs, transforms)`: returns the
 * transformed graph (the input graph is left unchanged). Passes come from `opts.host`, or from
 * `opts.registry` (default: the process registry) plus the installed plugins (`discover: false`
 * uses only the registry). A pass that runs the graph (`fold_constants`) gets an executor from
 * `@tfpass/runtime`, imported only then.
 */
export async function transformGraph(
  graph: Graph,
  inputs: readonly string[],
  outputs: readonly string[],
  transforms: string | readonly string[],
  opts: Omit<PipelineOptions, 'inputs' | 'outputs'> & {
    onReport?: (r: StepReport[]) => void;
    /** Look for installed plugins (default true; false runs only what `registry` holds). */
    discover?: boolean;
    /** Take passes from this host instead of the installed plugins. */
    host?: PluginHost;
    /** Runs graphs for passes that need one (default: a shared one from @tfpass/runtime, when installed). */
    executor?: Executor;
  } = {},
): Promise<Graph> {
  const g = graph.clone();
  const registry = opts.registry ?? defaultRegistry();
  const steps = pipelineSteps(typeof transforms === 'string' ? transforms : transforms.join(' '));
  if (opts.host) await opts.host.registry(steps.map((s) => s.name), registry);
  else if (opts.discover !== false) await ensurePluginsDiscovered(registry);
  for (const s of steps) await registry.resolve(s.name, opts.hint);
  const reports = await runPipeline(g, steps, {
    ...opts,
    container: withExecutor(registry, steps.map((s) => s.name), opts),
    registry,
    inputs: [...inputs],
    outputs: [...outputs],
  });
  opts.onReport?.(reports);
  return g;
}

const RUNTIME = '@tfpass/runtime';

/**
 * The runtime's shared executor for `pass`, imported on first need. The specifier is a
 * variable so core never depends on the runtime (or TensorFlow.js) statically.
 */
export async function loadExecutor(pass: string, specifier = RUNTIME): Promise<Executor> {
  let rt: { sharedExecutor?: () => Executor; createExecutor?: () => Executor };
  try {
    rt = await import(/* @vite-ignore */ specifier);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const missing = (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_LOAD_URL' || /Cannot find (package|module)|Failed to load url/.test(String((e as Error).message))) && String((e as Error).message).includes(specifier);
    if (!missing) throw e;
    throw new PassError(pass, `runs the graph, which needs ${specifier} (TensorFlow.js): npm install ${specifier}, or pass { executor } to transformGraph`);
  }
  const make = rt.sharedExecutor ?? rt.createExecutor;
  if (typeof make !== 'function') throw new PassError(pass, `${specifier} has no sharedExecutor/createExecutor export; install a version matching @tfpass/core`);
  return make();
}
