import { loadGraphModelSync, type GraphModel as TfGraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import {
  Graph,
  GraphValidationError,
  Tensor,
  TfpassError,
  isTfpassError,
  parseInput,
  type Executor,
} from '@tfpass/core';
import { graphToArtifacts } from '@tfpass/tfjs-format';
import { backendGeneration, isWasmTrap, resetBackend, useBackend, type BackendName } from './backend.js';
import { fillDefaults } from './defaults.js';
import { installKernels, kernelEpoch, supportsOp, unsupportedOp } from './kernels.js';

type GraphModel = TfGraphModel<tf.io.IOHandlerSync>;

installKernels();

export interface ExecutorOptions {
  /** tfjs backend: 'wasm' (default), 'cpu', or 'node' (needs @tensorflow/tfjs-node installed). */
  backend?: BackendName;
}

// ---- host <-> tfjs tensors --------------------------------------------------------------------

/** A tfjs tensor from a host tensor (int64, unsigned and quantized ints become int32; float64/16 float32). */
export function toTf(t: Tensor): tf.Tensor {
  switch (t.dtype) {
    case 'string': return tf.tensor(t.data as Uint8Array[], t.shape, 'string');
    case 'bool': return tf.tensor(Uint8Array.from(t.data as Uint8Array), t.shape, 'bool');
    case 'float32': return tf.tensor(t.data as Float32Array, t.shape, 'float32');
    case 'float64': case 'float16': case 'bfloat16': return tf.tensor(Float32Array.from(t.toFloat32()), t.shape, 'float32');
    case 'complex64': case 'complex128': {
      const d = t.data as ArrayLike<number>;
      const re = new Float32Array(d.length / 2);
      const im = new Float32Array(d.length / 2);
      for (let i = 0; i < re.length; i++) { re[i] = d[2 * i]!; im[i] = d[2 * i + 1]!; }
      return tf.complex(tf.tensor(re, t.shape), tf.tensor(im, t.shape));
    }
    default: {
      const d = t.data as ArrayLike<number | bigint>;
      const out = new Int32Array(d.length);
      for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
      return tf.tensor(out, t.shape, 'int32');
    }
  }
}

/** A host tensor from a tfjs tensor (synchronous read; wasm and cpu backends). */
export function fromTf(x: tf.Tensor): Tensor {
  const shape = [...x.shape];
  switch (x.dtype) {
    case 'float32': return new Tensor('float32', shape, Float32Array.from(x.dataSync() as Float32Array));
    case 'int32': return new Tensor('int32', shape, Int32Array.from(x.dataSync() as Int32Array));
    case 'bool': return new Tensor('bool', shape, Uint8Array.from(x.dataSync() as Uint8Array));
    case 'string': return new Tensor('string', shape, (x.dataSync() as unknown as Uint8Array[]).map((b) => (typeof b === 'string' ? new TextEncoder().encode(b) : b)));
    case 'complex64': {
      const re = tf.real(x).dataSync() as Float32Array;
      const im = tf.imag(x).dataSync() as Float32Array;
      const d = new Float32Array(re.length * 2);
      for (let i = 0; i < re.length; i++) { d[2 * i] = re[i]!; d[2 * i + 1] = im[i]!; }
      return new Tensor('complex64', shape, d);
    }
    default: throw new TfpassError('E_INTERNAL', `unexpected tfjs dtype ${x.dtype as string}`);
  }
}

// ---- model cache ------------------------------------------------------------------------------

/**
 * Flat list of everything a run depends on: each node's def, name, op, device, inputs and the
 * identity of each attribute value object (the IR replaces AttrValues on every attr write).
 * Comparing two snapshots element by element detects any edit made through the IR.
 */
export function graphSnapshot(g: Graph): unknown[] {
  const out: unknown[] = [];
  for (const n of g) {
    const def = n.def;
    out.push(def, def.name, def.op, def.device, def.input.length, ...def.input);
    for (const k in def.attr) out.push(k, def.attr[k]);
    out.push(null);
  }
  return out;
}

function sameSnapshot(g: Graph, snap: unknown[]): boolean {
  let i = 0;
  for (const n of g) {
    const def = n.def;
    if (snap[i++] !== def || snap[i++] !== def.name || snap[i++] !== def.op || snap[i++] !== def.device) return false;
    const ins = def.input;
    if (snap[i++] !== ins.length) return false;
    for (let j = 0; j < ins.length; j++) if (snap[i++] !== ins[j]) return false;
    for (const k in def.attr) if (snap[i++] !== k || snap[i++] !== def.attr[k]) return false;
    if (snap[i++] !== null) return false;
  }
  return i === snap.length;
}

interface Cached {
  snapshot: unknown[];
  epoch: number;
  backend: string;
  /** backendGeneration() when built: a reset backend invalidates the model's weights. */
  generation: number;
  model: GraphModel;
  async: boolean;
  /** feed/fetch signatures already checked for unsupported ops */
  checked: Set<string>;
}

const DYNAMIC_OPS = new Set([
  'Enter', 'Exit', 'Merge', 'Switch', 'NextIteration', 'LoopCond', 'If', 'StatelessIf', 'While', 'StatelessWhile',
  'NonMaxSuppressionV2', 'NonMaxSuppressionV3', 'NonMaxSuppressionV4', 'NonMaxSuppressionV5', 'Where', 'ListDiff',
  'HashTable', 'HashTableV2', 'LookupTableImportV2', 'LookupTableFindV2', 'LookupTableSize', 'Unique', 'UniqueV2',
]);

/** Build a tfjs GraphModel from an IR graph, in memory. */
export function buildGraphModel(graph: Graph): GraphModel {
  const a = graphToArtifacts(graph);
  fillDefaults(a.modelTopology);
  return loadGraphModelSync({
    modelTopology: a.modelTopology as never,
    weightSpecs: a.weightSpecs as never,
    weightData: a.weightData,
    format: 'graph-model',
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy,
  });
}

// ---- executor ----------------------------------------------------------------------------------

// Weights of a cached model live in tfjs (wasm) memory: free them when the graph is collected.
const finalizer = new FinalizationRegistry<GraphModel>((m) => {
  try {
    m.dispose();
  } catch {
    // The backend may be gone at exit.
  }
});

/** A kernel failed while running a graph; names the node when it could be found. */
export class ExecutionError extends TfpassError {
  constructor(readonly node: string | undefined, message: string, options?: { cause?: unknown }) {
    super('E_GRAPH_VALIDATION', message, options);
  }
}

/** Executes IR graphs on TensorFlow.js; implements core's `Executor`. */
export class TfjsExecutor implements Executor {
  readonly backend: BackendName;
  private readonly cache = new WeakMap<Graph, Cached>();

  constructor(opts: ExecutorOptions = {}) {
    this.backend = opts.backend ?? 'wasm';
  }

  supportsOp(op: string): boolean {
    return supportsOp(op);
  }

  /** Nodes that a run with these feeds and fetches would execute (fetch cone cut at feeds). */
  requiredNodes(graph: Graph, feeds: Iterable<string>, fetches: string[]): string[] {
    const fed = new Set([...feeds].map((s) => parseInput(s).node));
    const seen = new Set<string>();
    const stack = fetches.map((s) => parseInput(s).node);
    const out: string[] = [];
    while (stack.length) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const n = graph.get(name);
      if (!n) throw new GraphValidationError(name, 'is fetched or read but is not in the graph');
      out.push(name);
      if (fed.has(name)) continue;
      for (const s of n.inputs) {
        if (s.startsWith('^')) continue;
        stack.push(parseInput(s).node);
      }
    }
    return out;
  }

  /** Throw UnsupportedOpError for the first op in the run's cone that has no kernel. */
  checkSupported(graph: Graph, feeds: Iterable<string>, fetches: string[]): void {
    const fed = new Set([...feeds].map((s) => parseInput(s).node));
    for (const name of this.requiredNodes(graph, fed, fetches)) {
      if (fed.has(name)) continue;
      const n = graph.node(name);
      if (!supportsOp(n.op)) throw unsupportedOp(n.op, n.name);
      if (n.op === 'Placeholder') throw new GraphValidationError(n.name, `Placeholder must be fed (fetching ${fetches.join(', ')})`);
    }
  }

  /** The cached tfjs GraphModel for the graph's current state (built on first use). */
  private readonly derived = new WeakMap<Graph, { snapshot: unknown[]; byKey: Map<string, { graph: Graph; rename: Map<string, string> }> }>();

  /** A copy of `graph` in which each fed tensor `n:k` (k > 0) is read from a new Placeholder. */
  private withFeedPlaceholders(graph: Graph, ported: string[]): { graph: Graph; rename: Map<string, string> } {
    let d = this.derived.get(graph);
    if (!d || !sameSnapshot(graph, d.snapshot)) {
      d = { snapshot: graphSnapshot(graph), byKey: new Map() };
      this.derived.set(graph, d);
    }
    const key = ported.map(canon).sort().join(',');
    let hit = d.byKey.get(key);
    if (!hit) {
      const g2 = graph.clone();
      const rename = new Map<string, string>();
      for (const t of ported) {
        const r = parseInput(t);
        const src = g2.get(r.node);
        if (!src) throw new GraphValidationError(r.node, 'is fed but is not in the graph');
        const ph = g2.uniqueName(`${r.node}/tfpass_feed_${r.port}`);
        // No dtype attr: tfjs then accepts whatever dtype the feed has.
        g2.addNode({ name: ph, op: 'Placeholder' });
        g2.replaceUses(canon(t), ph);
        rename.set(canon(t), ph);
      }
      hit = { graph: g2, rename };
      d.byKey.set(key, hit);
    }
    return hit;
  }

  /**
   * Find the first node (in topological order) whose execution fails, by bisecting on prefixes
   * of the run's nodes: fetching a prefix fails exactly when one of its nodes fails.
   */
  private async locateFailure(graph: Graph, feeds: Record<string, tf.Tensor>, fetches: string[]): Promise<{ name: string; op: string } | undefined> {
    const entry = this.valid(graph);
    if (!entry) return undefined;
    const fed = new Set(Object.keys(feeds).map((k) => parseInput(k).node));
    const cone = new Set(this.requiredNodes(graph, fed, fetches));
    const order = graph.topoOrder().filter((n) => cone.has(n.name) && !fed.has(n.name) && n.op !== 'Const' && !DYNAMIC_OPS.has(n.op) && n.op !== 'NextIteration');
    const fails = async (k: number): Promise<boolean> => {
      try {
        const names = order.slice(0, k).map((n) => n.name);
        const outs = toList(entry.async ? await entry.model.executeAsync(feeds, names) : entry.model.execute(feeds, names));
        const keep = new Set(Object.values(feeds).map((t) => t.id));
        for (const o of outs) if (o && !keep.has(o.id) && !isWeight(entry.model, o)) o.dispose();
        return false;
      } catch {
        return true;
      }
    };
    if (order.length === 0 || !(await fails(order.length))) return undefined;
    let lo = 1;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (await fails(mid)) hi = mid;
      else lo = mid + 1;
    }
    const n = order[lo - 1]!;
    return { name: n.name, op: n.op };
  }

  /** The cached entry when it still matches the graph, kernels and backend. */
  private valid(graph: Graph): Cached | undefined {
    const c = this.cache.get(graph);
    return c && c.epoch === kernelEpoch() && c.backend === tf.getBackend() && c.generation === backendGeneration() && sameSnapshot(graph, c.snapshot) ? c : undefined;
  }

  model(graph: Graph): Cached {
    const epoch = kernelEpoch();
    const backend = tf.getBackend();
    const ok = this.valid(graph);
    if (ok) return ok;
    const c = this.cache.get(graph);
    if (c) {
      finalizer.unregister(c);
      // Weights of a reset backend are not disposed: that would call into the discarded instance.
      if (c.generation === backendGeneration()) c.model.dispose();
    }
    const model = buildGraphModel(graph);
    let async = false;
    for (const n of graph) if (DYNAMIC_OPS.has(n.op)) async = true;
    const entry: Cached = { snapshot: graphSnapshot(graph), epoch, backend, generation: backendGeneration(), model, async, checked: new Set() };
    this.cache.set(graph, entry);
    finalizer.register(graph, model, entry);
    return entry;
  }

  /** Drop the cached model of a graph (frees its weights). */
  release(graph: Graph): void {
    const c = this.cache.get(graph);
    if (c) {
      finalizer.unregister(c);
      c.model.dispose();
      this.cache.delete(graph);
    }
  }

  async run(graph: Graph, feeds: Record<string, Tensor>, fetches: string[]): Promise<Tensor[]> {
    const ported = Object.keys(feeds).filter((k) => parseInput(k).port > 0);
    if (ported.length) {
      // tfjs feeds whole nodes: feeding `n:k` would leave n's other outputs undefined. Run a
      // copy where each fed `n:k` is a Placeholder of its own, cached per graph state.
      const { graph: g2, rename } = this.withFeedPlaceholders(graph, ported);
      const f2: Record<string, Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) f2[rename.get(canon(k)) ?? k] = v;
      return this.run(g2, f2, fetches.map((s) => rename.get(canon(s)) ?? s));
    }
    await useBackend(this.backend);
    const tfFeeds: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      const r = parseInput(k);
      if (!graph.has(r.node)) throw new GraphValidationError(r.node, 'is fed but is not in the graph');
      checkFeedShape(graph, r.node, v);
      tfFeeds[r.port ? `${r.node}:${r.port}` : r.node] = toTf(v);
    }
    if (fetches.length === 0) {
      for (const t of Object.values(tfFeeds)) t.dispose();
      return [];
    }
    const names = fetches.map((s) => {
      const r = parseInput(s);
      return r.port ? `${r.node}:${r.port}` : r.node;
    });
    try {
      const sig = Object.keys(tfFeeds).sort().join(',') + '|' + names.join(',');
      let entry = this.valid(graph);
      // Check before building: an unsupported op should fail fast, not after loading weights.
      if (!entry?.checked.has(sig)) this.checkSupported(graph, Object.keys(tfFeeds), names);
      entry ??= this.model(graph);
      entry.checked.add(sig);
      const { model, async } = entry;
      let outs: tf.Tensor[];
      if (async) outs = toList(await model.executeAsync(tfFeeds, names));
      else {
        try {
          outs = toList(model.execute(tfFeeds, names));
        } catch (e) {
          if (!/executeAsync/.test(String((e as Error).message))) throw e;
          outs = toList(await model.executeAsync(tfFeeds, names));
        }
      }
      try {
        return outs.map(fromTf);
      } finally {
        // Fetching a fed tensor or a Const returns the feed or the model's weight itself.
        const keep = new Set<number>(Object.values(tfFeeds).map((t) => t.id));
        for (const o of outs) if (!keep.has(o.id) && !isWeight(model, o)) o.dispose();
      }
    } catch (e) {
      if (isWasmTrap(e)) {
        // Bisecting would trap again on a corrupt module: reset it and name the widest node,
        // the usual culprit (an AddN of 20,000 inputs overflows the module's stack).
        resetBackend(this.backend);
        let widest: { name: string; op: string; n: number } | undefined;
        for (const n of graph) if (!widest || n.inputs.length > widest.n) widest = { name: n.name, op: n.op, n: n.inputs.length };
        const hint = widest && widest.n > 1000 ? `; node '${widest.name}' (${widest.op}) has ${widest.n} inputs` : '';
        throw new ExecutionError(widest && widest.n > 1000 ? widest.name : undefined, `the ${this.backend} backend trapped running this graph (${brief((e as Error).message)})${hint}; the backend was reset, later runs are unaffected`, { cause: e });
      }
      if (isTfpassError(e)) throw e;
      const at = await this.locateFailure(graph, tfFeeds, names);
      const where = at ? `node '${at.name}' (${at.op}) failed` : 'running graph failed';
      throw new ExecutionError(at?.name, `${where} on tfjs (${this.backend}): ${brief((e as Error).message)}`, { cause: e });
    } finally {
      for (const t of Object.values(tfFeeds)) {
        try {
          t.dispose();
        } catch {
          /* a tensor of a backend reset just now */
        }
      }
    }
  }
}

/** tfjs messages can quote whole shapes or value lists: one line, a few hundred characters. */
function brief(m: string): string {
  const line = String(m).split('\n')[0]!;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** A fed Placeholder with a known non-scalar shape must match it (-1 matches anything). */
function checkFeedShape(graph: Graph, name: string, t: Tensor): void {
  const n = graph.get(name);
  if (!n || n.op !== 'Placeholder' || n.attrs.kind('shape') !== 'shape') return;
  const shape = n.attrs.getShape('shape');
  if (!shape || shape.length === 0) return;
  const ok = shape.length === t.shape.length && shape.every((d, i) => d < 0 || d === t.shape[i]);
  if (!ok) throw new GraphValidationError(name, `fed a tensor of shape [${t.shape.join(',')}] but the Placeholder's shape is [${shape.join(',')}]`);
}

const weightIds = new WeakMap<GraphModel, Set<number>>();
function isWeight(model: GraphModel, t: tf.Tensor): boolean {
  let ids = weightIds.get(model);
  if (!ids) {
    ids = new Set();
    for (const list of Object.values(model.weights)) for (const w of list) ids.add(w.id);
    weightIds.set(model, ids);
  }
  return ids.has(t.id);
}

/** `n:0` -> `n`, `n:2` stays. */
function canon(s: string): string {
  const r = parseInput(s);
  return r.port ? `${r.node}:${r.port}` : r.node;
}

function toList(x: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(x) ? x : [x];
}

/** Create an executor (wasm by default). */
export function createExecutor(opts: ExecutorOptions = {}): TfjsExecutor {
  return new TfjsExecutor(opts);
}

/** Run a graph once with host tensors; convenience over createExecutor().run. */
export async function runGraph(graph: Graph, feeds: Record<string, Tensor>, fetches: string[], opts: ExecutorOptions = {}): Promise<Tensor[]> {
  return sharedExecutor(opts.backend ?? 'wasm').run(graph, feeds, fetches);
}

const shared = new Map<string, TfjsExecutor>();
export function sharedExecutor(backend: BackendName = 'wasm'): TfjsExecutor {
  let e = shared.get(backend);
  if (!e) shared.set(backend, (e = new TfjsExecutor({ backend })));
  return e;
}

