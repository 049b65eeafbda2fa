import { readdirSync, statSync, type Dirent } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { TfpassError, UsageError } from '@tfpass/core/errors';
import type { Executor, Graph, Tensor } from '@tfpass/core';
import type { Ctx } from './ui.js';
import { inputSpecs, type DataSpec, type InputSpec } from './inputs.js';
import { needModule } from './optional.js';
import { splitList } from './args.js';

const RUNTIME_NAMES = ['createExecutor', 'randomInputs', 'readNpy', 'writeNpy', 'summaryStats', 'compareTensors'] as const;

/** What data-feeding commands take from @tfpass/runtime (its own types). */
export type Runtime = Pick<typeof import('@tfpass/runtime'), (typeof RUNTIME_NAMES)[number]>;

export async function loadRuntime(command: string): Promise<Runtime> {
  return needModule('@tfpass/runtime', RUNTIME_NAMES, command);
}

export function executorFor(rt: Runtime, ctx: Ctx): ReturnType<Runtime['createExecutor']> {
  const backend = ctx.str('backend');
  if (backend && !['wasm', 'cpu', 'node'].includes(backend)) throw new UsageError(`--backend takes wasm, cpu or node, got '${backend}'`);
  return rt.createExecutor(backend ? { backend: backend as 'wasm' } : {});
}

/** Minimal glob: `*`, `?` and `[...]` within a path segment, `**` for any depth of folders; sorted results. */
export function expandGlob(pattern: string, cwd: string): string[] {
  const abs = resolve(cwd, pattern);
  const parts = abs.split('/');
  let dirs = ['/'];
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg === '') continue;
    const next: string[] = [];
    if (seg === '**') {
      // Any depth, this folder included (symlinked folders are not entered: no cycles).
      for (const d of dirs) next.push(...subfolders(d));
      dirs = next;
      continue;
    }
    const wild = /[*?[]/.test(seg);
    const re = wild ? new RegExp('^' + seg.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$') : undefined;
    for (const d of dirs) {
      if (!re) {
        next.push(join(d, seg));
        continue;
      }
      let entries: string[] = [];
      try {
        entries = readdirSync(d);
      } catch {
        continue;
      }
      for (const e of entries.sort()) if (re.test(e)) next.push(join(d, e));
    }
    dirs = next;
  }
  // `a/**/b/**/x` can reach a file along two ways: list it once.
  return [...new Set(dirs)].filter((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  });
}

/** `dir` and every folder below it, depth first in name order. */
function subfolders(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    out.push(d);
    let entries: Dirent[] = [];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
  return out;
}

/** Likely outputs: nodes nothing consumes that are not Const/NoOp/Assign/Placeholder. */
export function likelyOutputs(g: Graph, parseInput: (s: string) => { node: string }): string[] {
  const used = new Set<string>();
  for (const n of g.nodes()) for (const s of n.inputs) used.add(parseInput(s).node);
  return g.nodes().filter((n) => !used.has(n.name) && !['Const', 'NoOp', 'Assign', 'Placeholder', 'SaveV2', 'RestoreV2'].includes(n.op)).map((n) => n.name);
}

export interface Feeds {
  /** Fed tensor name -> how it is made, for reports. */
  describe: Record<string, string>;
  /** Build the feeds of trial `k` (files are the same for every trial; random inputs use seed+k). */
  make(k: number): Record<string, Tensor>;
  /** For --data: every file set, one feed dict per file index. */
  dataSets?: Record<string, string[]>;
}

/** Resolve every input flag against the graph: explicit specs, .npy files, data globs, or the Placeholders. */
export function buildFeeds(ctx: Ctx, g: Graph, rt: Runtime, core: typeof import('@tfpass/core'), opts: { seed?: number } = {}): Feeds {
  const { inputs, data } = inputSpecs(ctx);
  const specs: InputSpec[] = inputs.length ? inputs : g.nodes().filter((n) => n.op === 'Placeholder').map((n) => ({ name: n.name }));
  if (!specs.length && !data.length) throw new UsageError(`${ctx.command}: the graph has no Placeholder; name what to feed with --input NAME=D0,D1,...`);
  const random: Record<string, { shape: number[]; dtype?: string }> = {};
  const files: Record<string, Tensor> = {};
  const describe: Record<string, string> = {};
  for (const s of specs) {
    const node = g.get(core.parseInput(s.name).node);
    if (!node) throw new UsageError(`--input ${s.name}: no node '${core.parseInput(s.name).node}' in the graph`);
    if (s.file) {
      files[s.name] = rt.readNpy(resolve(ctx.cwd, s.file));
      describe[s.name] = `${s.file} (${files[s.name]!.dtype}[${files[s.name]!.shape.join(',')}])`;
      continue;
    }
    let shape = s.shape;
    if (!shape || shape.some((d) => d < 0)) {
      const attr = node.attrs.kind('shape') === 'shape' ? node.attrs.getShape('shape') : null;
      const known = shape ?? attr ?? undefined;
      if (!known) throw new UsageError(`input '${s.name}' has no known shape; give one: --input ${s.name}=D0,D1,...`);
      // An unknown batch dim becomes 1; other unknown dims must be given.
      shape = known.map((d, i) => (d >= 0 ? d : i === 0 ? 1 : -1));
      if (shape.some((d) => d < 0)) throw new UsageError(`input '${s.name}' has shape [${known.map((d) => (d < 0 ? '?' : d)).join(',')}]; give every dim: --input ${s.name}=D0,D1,...`);
    }
    const dtype = s.dtype ?? (node.attrs.kind('dtype') === 'type' ? node.attrs.getType('dtype') : node.attrs.kind('T') === 'type' ? node.attrs.getType('T') : 'float32');
    random[s.name] = { shape, dtype };
  }
  const seed = opts.seed ?? 1;
  for (const [k, v] of Object.entries(random)) describe[k] = `${v.dtype}[${v.shape.join(',')}] ~ U(-1, 1), seed ${seed}`;
  let dataSets: Record<string, string[]> | undefined;
  if (data.length) {
    dataSets = {};
    const placeholders = specs.map((s) => s.name);
    for (const d of data as DataSpec[]) {
      const name = d.name ?? (placeholders.length === 1 ? placeholders[0]! : undefined);
      if (!name) throw new UsageError(`--data ${d.glob}: the graph has ${placeholders.length} inputs; write --data NAME=GLOB`);
      const list = expandGlob(d.glob, ctx.cwd);
      if (!list.length) throw new TfpassError('E_FILE', `--data ${d.glob}: no file matches (in ${dirname(resolve(ctx.cwd, d.glob))})`);
      dataSets[name] = list;
      delete random[name];
      describe[name] = `${list.length} files matching ${d.glob}`;
    }
  }
  return {
    describe,
    dataSets,
    make: (k) => {
      const out: Record<string, Tensor> = { ...rt.randomInputs(random, seed + k), ...files };
      if (dataSets) for (const [name, list] of Object.entries(dataSets)) out[name] = rt.readNpy(list[k % list.length]!);
      return out;
    },
  };
}

/** `--outputs a,b` (or the graph's likely outputs). */
export function fetchList(ctx: Ctx, g: Graph, core: typeof import('@tfpass/core')): string[] {
  const given = [...splitList(ctx.str('outputs')), ...ctx.list('output')];
  const outs = given.length ? given : likelyOutputs(g, core.parseInput);
  if (!outs.length) throw new UsageError(`${ctx.command}: no output found; name them with --outputs a,b`);
  for (const o of outs) if (!g.has(core.parseInput(o).node)) throw new UsageError(`--outputs: no node '${core.parseInput(o).node}' in the graph`);
  return outs;
}

export function graphArg(ctx: Ctx, index = 0): string {
  const p = ctx.args.positionals[index] ?? (index === 0 ? ctx.str('in_graph') : undefined);
  if (!p) throw new UsageError(`${ctx.command}: which graph? (tfpass ${ctx.command} GRAPH, or --in_graph GRAPH)`);
  return p;
}

export const fmtNum = (x: number) => (Number.isNaN(x) ? 'nan' : Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(4) : x.toFixed(5).replace(/\.?0+$/, '') || '0');

/** Read a graph from any container, TF.js model.json included. */
export async function readAnyGraph(core: typeof import('@tfpass/core'), path: string, command: string): Promise<Graph> {
  if (/\.json$/i.test(path)) {
    const f = await needModule('@tfpass/tfjs-format', ['readTfjsModel'], command);
    return f.readTfjsModel(path);
  }
  return core.readGraph(path);
}

export const RUN_FLAGS = {
  in_graph: { type: 'string', value: 'FILE', description: 'the graph (or give it as the first argument)' },
  outputs: { type: 'string', value: 'a,b', description: 'tensors to fetch (default: the graph\'s likely outputs)' },
  backend: { type: 'string', value: 'wasm|cpu|node', description: 'TensorFlow.js backend (default wasm)' },
  seed: { type: 'number', value: 'N', default: 1, description: 'seed of the random inputs' },
} as const;
