import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from './files.js';
import type { Graph } from './graph.js';
import { encodeGraph, readGraph } from './io.js';
import { PassRegistry, runPipeline, type PassDefinition, type StepReport } from './pass.js';
import { registerPlugin, type PluginModule } from './plugin.js';
import { parseTransforms } from './transform-string.js';

/**
 * Where real models live. `TFPASS_MODELS` set and missing -> throws (CI must have them);
 * unset and the default folder absent -> undefined, and callers skip with the printed reason.
 */
export function modelsDir(): string | undefined {
  const env = process.env.TFPASS_MODELS;
  if (env) {
    if (!existsSync(env)) throw new Error(`TFPASS_MODELS=${env} does not exist: real-model tests cannot run`);
    return resolve(env);
  }
  const here = fileURLToPath(new URL('.', import.meta.url));
  const def = resolve(here, '../../../../shared/models');
  if (existsSync(def)) return def;
  console.warn(`[tfpass] skipping real-model tests: TFPASS_MODELS is unset and ${def} does not exist`);
  return undefined;
}

/** Path of a model file, or undefined when models are unavailable (see modelsDir). */
export function modelPath(rel: string): string | undefined {
  const d = modelsDir();
  return d ? join(d, rel) : undefined;
}

// ---- fixture pairs ---------------------------------------------------------------------------
// A pass test as two reviewable files, like Babel's input/output fixtures: `case/input.pbtxt`
// (with the pipeline's `--inputs`/`--outputs` in header comments) and `case/output.pbtxt`, the
// graph the pass must produce. TFPASS_UPDATE_FIXTURES=1 (re)writes the output files.

export interface FixtureOptions {
  /** Folder relative fixture paths are resolved against (e.g. `fixturesDir(import.meta.url)`). */
  dir?: string;
  /** Plugins whose passes the transform string may name (`register(api)` modules). */
  plugins?: PluginModule[];
  registry?: PassRegistry;
  /** Override the `# inputs: a, b` / `# outputs: c` header of the input file. */
  inputs?: string[];
  outputs?: string[];
  /** Tolerance for tensor attributes (default 1e-6 both): `|a-b| <= atol + rtol*|b|`. */
  atol?: number;
  rtol?: number;
  /**
   * The numeric half, run on (before, after): e.g. `(a, b) => expectSameOutputs(a, b, {...})`
   * from `@tfpass/runtime/testing`. Taken as a parameter so core never imports TensorFlow.js.
   */
  numeric?: (before: Graph, after: Graph, io: { inputs: string[]; outputs: string[]; feeds: Record<string, number[]> }) => unknown;
  /** Write `output` instead of comparing (default: TFPASS_UPDATE_FIXTURES=1). */
  update?: boolean;
}

export interface FixtureResult {
  before: Graph;
  after: Graph;
  reports: StepReport[];
}

/** `../fixtures` beside a test file: `fixturesDir(import.meta.url)`. */
export function fixturesDir(testUrl: string, rel = '../fixtures'): string {
  return fileURLToPath(new URL(rel.endsWith('/') ? rel : rel + '/', testUrl));
}

/** Shapes of the graph's Placeholders whose shape is fully known: the feeds of a numeric check. */
export function feedShapes(g: Graph): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const n of g.nodes()) {
    if (n.op !== 'Placeholder' || n.attrs.kind('shape') !== 'shape') continue;
    const s = n.attrs.getShape('shape');
    if (s && s.every((d) => d >= 0)) out[n.name] = s;
  }
  return out;
}

/** `# key: value` lines at the top of a pbtxt. */
function header(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*#\s*([a-z_]+)\s*:(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
    else if (line.trim() && !line.trim().startsWith('#')) break;
  }
  return out;
}

/** One line per node: name, op, inputs, device and attrs (tensors as dtype[shape]; their values are compared apart). */
function listing(g: Graph): string[] {
  return g.nodes().map((n) => {
    const attrs = n.attrs.keys().sort().map((k) => {
      if (n.attrs.kind(k) === 'tensor') {
        const t = n.attrs.getTensorInfo(k);
        return `${k}=${t.dtype}[${t.shape.join(',')}]`;
      }
      return `${k}=${JSON.stringify(n.attrs.getJson(k), (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`;
    });
    return `${n.name} = ${n.op}(${n.inputs.join(', ')})${n.device ? ` @${n.device}` : ''} {${attrs.join(' ')}}`;
  });
}

function compareTensors(after: Graph, want: Graph, atol: number, rtol: number): void {
  for (const n of want.nodes()) {
    const got = after.get(n.name);
    if (!got) continue;
    for (const k of n.attrs.keys()) {
      if (n.attrs.kind(k) !== 'tensor' || got.attrs.kind(k) !== 'tensor') continue;
      const b = n.attrs.getTensor(k);
      const a = got.attrs.getTensor(k);
      if (b.dtype === 'string') continue;
      const av = a.toNumbers();
      const bv = b.toNumbers();
      for (let i = 0; i < bv.length; i++) {
        const d = Math.abs(av[i]! - bv[i]!);
        if (!(d <= atol + rtol * Math.abs(bv[i]!)) && !(Number.isNaN(av[i]) && Number.isNaN(bv[i]))) {
          throw new assert.AssertionError({ message: `${n.name}.${k}[${i}]: got ${av[i]}, want ${bv[i]} (|diff| ${d.toExponential(2)} > ${atol} + ${rtol}*|want|)`, actual: av[i], expected: bv[i] });
        }
      }
    }
  }
}

/**
 * Run `pass` on `input` and compare with `output`: the node listing exactly (a readable diff on
 * failure), tensor attributes numerically, then `numeric(before, after, io)`. `pass` is a pass
 * name (run with the input's `# transform:` header parameters, if any), a full transform string
 * such as `remove_nodes(op=Identity)`, or a PassDefinition (for a pass under development).
 */
export async function runFixture(pass: string | PassDefinition, input: string, output: string, opts: FixtureOptions = {}): Promise<FixtureResult> {
  const at = (p: string) => (opts.dir ? resolve(opts.dir, p) : resolve(p));
  const inPath = at(input);
  const outPath = at(output);
  const h = header(readFileSync(inPath, 'utf8'));
  const registry = opts.registry ?? new PassRegistry();
  for (const p of opts.plugins ?? []) await registerPlugin(p, registry);
  if (typeof pass !== 'string') registry.register(pass);
  // A bare pass name runs with the parameters of the input's `# transform:` header, when it has one.
  const name = typeof pass === 'string' ? pass : pass.name;
  const bare = /^[A-Za-z0-9_]+$/.test(name);
  if (bare && h.transform && parseTransforms(h.transform)[0]?.name !== name) {
    throw new assert.AssertionError({ message: `${input}: its '# transform: ${h.transform}' header is not a ${name} transform` });
  }
  const transforms = bare ? h.transform ?? name : name;
  const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const before = readGraph(inPath);
  const after = before.clone();
  const io = { inputs: opts.inputs ?? list(h.inputs), outputs: opts.outputs ?? list(h.outputs) };
  const reports = await runPipeline(after, transforms, { registry, ...io });
  if (opts.update ?? process.env.TFPASS_UPDATE_FIXTURES === '1') {
    writeFileAtomic(outPath, `# ${transforms} of ${input}\n` + (encodeGraph(after, 'text') as string));
  } else {
    if (!existsSync(outPath)) throw new assert.AssertionError({ message: `${output} does not exist: run with TFPASS_UPDATE_FIXTURES=1 to write it, then review it` });
    const want = readGraph(outPath);
    assert.deepStrictEqual(listing(after), listing(want), `${transforms} on ${input} differs from ${output}`);
    compareTensors(after, want, opts.atol ?? 1e-6, opts.rtol ?? 1e-6);
  }
  await opts.numeric?.(before, after, { ...io, feeds: feedShapes(before) });
  return { before, after, reports };
}
