import { realpathSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { PassError, PluginError, TfpassError } from './errors.js';
import { CORE_VERSION, PLUGIN_API_VERSION, type DiscoveredPlugin } from './discovery.js';
import { defaultRegistry, type PassContext, type PassDefinition, type PassOrigin, type PassRegistry } from './pass.js';
import { Graph, Node } from './graph.js';
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
    registerPass: (def) => registry.register(guardPass(def, origin), origin),
    lib,
  };
}

// ---- the host's checks around every plugin pass -------------------------------------------------

const DEFAULT_PASS_TIMEOUT_S = 600;
let passTimeoutS: number | undefined;

/**
 * Seconds a plugin pass may take before it is reported as hung (default 600, or
 * $TFPASS_PASS_TIMEOUT; the CLI's --pass_timeout sets it). 0 turns the timer off; a promise that
 * can never settle (nothing left for the event loop to do) is reported at once either way.
 */
export function setPassTimeout(seconds: number | undefined): void {
  if (seconds !== undefined && !(Number.isFinite(seconds) && seconds >= 0)) throw new TfpassError('E_USAGE', `--pass_timeout must be a number of seconds >= 0, got ${seconds}`);
  passTimeoutS = seconds;
}

export function passTimeout(): number {
  if (passTimeoutS !== undefined) return passTimeoutS;
  const env = Number(process.env.TFPASS_PASS_TIMEOUT);
  return process.env.TFPASS_PASS_TIMEOUT && Number.isFinite(env) && env >= 0 ? env : DEFAULT_PASS_TIMEOUT_S;
}

/** Core's own IR methods as loaded: a plugin that patches them cannot switch the checks off. */
const PROTOS = [Graph.prototype, Node.prototype] as const;
const ORIGINAL = PROTOS.map((p) => new Map(Reflect.ownKeys(p).map((k) => [k, Object.getOwnPropertyDescriptor(p, k)!] as const)));
const validateGraph = Graph.prototype.validate;

function samePropertyDescriptor(a: PropertyDescriptor | undefined, b: PropertyDescriptor): boolean {
  return !!a && a.value === b.value && a.get === b.get && a.set === b.set;
}

/** Undo patches of Graph/Node prototypes (and instance overrides on `g`); returns what was patched. */
function restoreCore(g: Graph): string[] {
  const patched: string[] = [];
  PROTOS.forEach((proto, i) => {
    const orig = ORIGINAL[i]!;
    for (const k of Reflect.ownKeys(proto)) {
      if (!samePropertyDescriptor(Object.getOwnPropertyDescriptor(proto, k), orig.get(k) ?? ({} as PropertyDescriptor)) || !orig.has(k)) {
        patched.push(`${i ? 'Node' : 'Graph'}.prototype.${String(k)}`);
        if (orig.has(k)) Object.defineProperty(proto, k, orig.get(k)!);
        else delete (proto as unknown as Record<PropertyKey, unknown>)[k];
      }
    }
    for (const [k, d] of orig) if (!Object.getOwnPropertyDescriptor(proto, k)) {
      patched.push(`${i ? 'Node' : 'Graph'}.prototype.${String(k)}`);
      Object.defineProperty(proto, k, d);
    }
  });
  for (const k of Reflect.ownKeys(Graph.prototype)) {
    if (k !== 'constructor' && Object.prototype.hasOwnProperty.call(g, k)) {
      patched.push(`graph.${String(k)}`);
      delete (g as unknown as Record<PropertyKey, unknown>)[k];
    }
  }
  return patched;
}

/** Declared element count of a Const and whether its TensorProto carries any values (no decode). */
function constPayload(n: Node): { elements: number; values: boolean } | undefined {
  const raw = n.attrs.raw()['value'] as { value?: { case?: string; value?: Record<string, unknown> } } | undefined;
  if (raw?.value?.case !== 'tensor') return undefined;
  const t = raw.value.value as { tensorShape?: { dim: { size: bigint }[]; unknownRank?: boolean }; [k: string]: unknown };
  const elements = (t.tensorShape?.dim ?? []).reduce((a, d) => a * Math.max(0, Number(d.size)), 1);
  const values = Object.entries(t).some(([k, v]) => (k === 'tensorContent' || k.endsWith('Val')) && ((v as { length?: number } | undefined)?.length ?? 0) > 0);
  return { elements, values };
}

/** What a pass must not lose: the requested outputs, and the values of Consts that had some. */
function beforePass(g: Graph, ctx: PassContext): { outputs: string[]; consts: Set<string> } {
  const outputs = ctx.outputs.map((s) => lib.parseInput(s.trim()).node).filter((n) => n && g.has(n));
  const consts = new Set<string>();
  for (const n of g) {
    if (n.op !== 'Const') continue;
    const c = constPayload(n);
    if (c && c.values && c.elements > 0) consts.add(n.name);
  }
  return { outputs, consts };
}

function afterPass(g: Graph, before: { outputs: string[]; consts: Set<string> }, fail: (m: string) => never): void {
  const patched = restoreCore(g);
  if (patched.length) fail(`patched tfpass core (${patched.slice(0, 3).join(', ')}${patched.length > 3 ? ', …' : ''}); plugins may not change the IR's methods`);
  validateGraph.call(g);
  for (const o of before.outputs) if (!g.has(o)) fail(`removed the graph output '${o}'`);
  for (const name of before.consts) {
    const n = g.get(name);
    if (!n || n.op !== 'Const') continue;
    const c = constPayload(n);
    if (!c) fail(`left Const '${name}' without a tensor value`);
    if (c.elements > 0 && !c.values) fail(`emptied the values of Const '${name}' (${c.elements} elements declared, none stored)`);
  }
}

/** Settle with `p`, or fail when the timeout passes or the process has nothing left to run. */
function settleOrReport<T>(p: Promise<T>, name: string, origin: PassOrigin | undefined): Promise<T> {
  const seconds = passTimeout();
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      if (timer) clearTimeout(timer);
      process.off('beforeExit', idle);
    };
    // Node exits (with code 13) when the event loop drains under a pending top-level await:
    // a pass promise nothing can settle any more is reported here instead, by name.
    const idle = () => {
      done();
      reject(new PassError(name, 'its promise never settled (the pass returned a promise with nothing left to resolve it)', origin));
    };
    process.on('beforeExit', idle);
    if (seconds > 0) {
      timer = setTimeout(() => {
        done();
        reject(new PassError(name, `did not finish within ${seconds} s (--pass_timeout=${seconds}; raise it, or 0 to wait forever)`, origin));
      }, seconds * 1000);
      timer.unref();
    }
    p.then(
      (v) => {
        done();
        resolve(v);
      },
      (e) => {
        done();
        reject(e);
      },
    );
  });
}

/**
 * Wrap a plugin's pass with the host's checks, which the plugin cannot switch off: the graph is
 * validated after the pass with core's own validator (whatever the pipeline's `validate`
 * option), requested outputs must survive, Consts keep their values, and a pass that hangs or
 * never settles is reported by name. A synchronous infinite loop cannot be interrupted in-process.
 */
export function guardPass<P>(def: PassDefinition<P>, origin?: PassOrigin): PassDefinition<P> {
  const run = def.run;
  if (typeof run !== 'function') return def;
  const guarded: PassDefinition<P> = Object.assign(Object.create(Object.getPrototypeOf(def) as object) as PassDefinition<P>, def, {
    run: async (g: Graph, ctx: PassContext<P>) => {
      const fail = (m: string): never => {
        throw new PassError(def.name, m, origin);
      };
      const before = beforePass(g, ctx as PassContext);
      try {
        const result = run.call(def, g, ctx) as unknown;
        if (result && typeof (result as { then?: unknown }).then === 'function') await settleOrReport(Promise.resolve(result), def.name, origin);
      } catch (e) {
        // A failing pass still gets core restored (the pipeline may go on with ignore_errors).
        restoreCore(g);
        throw e;
      }
      afterPass(g, before, fail);
    },
  });
  return guarded;
}

/** Register a plugin module's passes (from an import or a test). */
export async function registerPlugin(mod: PluginModule, registry: PassRegistry = defaultRegistry(), origin?: { packageName: string; packageVersion: string }): Promise<void> {
  if (typeof mod.register !== 'function') throw new PluginError(origin?.packageName ?? 'module', 'does not export register(api)');
  await mod.register(createPluginApi(registry, origin));
}

/**
 * The file a plugin's manifest `entry` names, after symlinks, which must lie inside the package
 * folder: a manifest cannot make the host import code from elsewhere.
 */
export function pluginEntry(p: DiscoveredPlugin): string {
  const dir = realpathSync(p.dir);
  const entry = join(dir, p.manifest.entry);
  let real: string;
  try {
    real = realpathSync(entry);
  } catch (e) {
    throw new PluginError(`${p.name}@${p.version}`, `entry ${p.manifest.entry} not found in ${p.dir} (is the package built?)`, { cause: e });
  }
  const rel = relative(dir, real);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new PluginError(`${p.name}@${p.version}`, `entry ${JSON.stringify(p.manifest.entry)} resolves to ${real}, outside the package folder ${dir}; refused`);
  return real;
}
