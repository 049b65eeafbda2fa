/**
 * Property tests of the numeric and structural passes on the runtime's seeded random graphs:
 * for each pass (and the seed pipeline) the outputs stay within 1e-4 (abs + rel), the graph
 * validates, and a second run changes no byte (where the pass is idempotent).
 */
import fc from 'fast-check';
import { rootServices as container } from '@tfpass/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Graph, PassRegistry, TOKENS, Tensor, encodeGraph, registerPlugin, runPipeline } from '@tfpass/core';
import { createExecutor } from '@tfpass/runtime';
import { Rng, expectSameOutputs, randomGraph, type RandomOp } from '@tfpass/runtime/testing';

const ATOL = 1e-4;
const RTOL = 1e-4;

let registry: PassRegistry;
const di = container.createChildContainer();

beforeAll(async () => {
  registry = new PassRegistry();
  for (const [mod, name] of [
    [await import('@tfpass/pass-strip'), '@tfpass/pass-strip'],
    [await import('@tfpass/pass-fold-constants'), '@tfpass/pass-fold-constants'],
    [await import('@tfpass/pass-fold-bn'), '@tfpass/pass-fold-bn'],
  ] as const) {
    await registerPlugin(mod, registry, { packageName: name, packageVersion: '0.1.0' });
  }
  di.register(TOKENS.executor, { useValue: createExecutor() });
});

/**
 * Frozen-graph habits the generator does not produce on its own: weights read through an
 * Identity, a constant computed from two Consts (fold_constants' work), a duplicated Const
 * (merge_duplicate_nodes' work), and a dead branch (strip_unused_nodes' work).
 */
function decorate(g: Graph, seed: number): void {
  const rng = new Rng(seed + 101);
  const consts = g.nodes().filter((n) => n.op === 'Const' && n.attrs.optType('dtype') === 'float32');
  for (const c of consts) {
    const users = g.consumersOf(c.name);
    if (!users.length) continue;
    const r = rng.next();
    if (r < 0.25) {
      const id = g.addNode({ name: g.uniqueName(`${c.name}/read`), op: 'Identity', inputs: [c.name], attrs: { T: { type: 'float32' } } });
      g.replaceUses(c.name, id.name, { except: new Set([id.name]) });
    } else if (r < 0.4) {
      const t = c.attrs.getTensor('value');
      const zero = g.addNode({ name: g.uniqueName(`${c.name}/zero`), op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.zeros('float32', [...t.shape]) } } });
      const sum = g.addNode({ name: g.uniqueName(`${c.name}/sum`), op: 'AddV2', inputs: [c.name, zero.name], attrs: { T: { type: 'float32' } } });
      g.replaceUses(c.name, sum.name, { except: new Set([sum.name]) });
    } else if (r < 0.5) {
      const dup = g.addNode({ name: g.uniqueName(`${c.name}/dup`), op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: c.attrs.getTensor('value') } } });
      const u = users[0]!;
      g.node(u.node.name).setInput(u.index, dup.name);
    }
  }
  const dead = g.addNode({ name: 'dead/relu', op: 'Relu', inputs: ['input'], attrs: { T: { type: 'float32' } } });
  g.addNode({ name: 'dead/identity', op: 'Identity', inputs: [dead.name], attrs: { T: { type: 'float32' } } });
}

const caseArb = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  depth: fc.integer({ min: 3, max: 9 }),
  profile: fc.constantFrom('all', 'bn', 'fold', 'fold'),
  matmulHead: fc.boolean(),
  decorate: fc.boolean(),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

const BN_OPS: RandomOp[] = ['conv', 'depthwise', 'fused_bn', 'unfused_bn', 'bias_add', 'addv2', 'mul', 'identity'];
/** Convolutions straight into batch norms / scales: the chains the fold passes look for. */
const FOLD_OPS: RandomOp[] = ['conv', 'depthwise', 'fused_bn', 'unfused_bn', 'mul', 'bias_add'];
const PROFILES = { all: undefined, bn: BN_OPS, fold: FOLD_OPS } as const;

function build(c: Case) {
  const ops = PROFILES[c.profile];
  const r = randomGraph(c.seed, { depth: c.depth, randomShapes: true, matmulHead: c.matmulHead, ...(ops ? { ops: [...ops] } : {}) });
  if (c.decorate) decorate(r.graph, c.seed);
  r.graph.validate();
  return r;
}

const bytes = (g: Graph) => Buffer.from(encodeGraph(g, 'binary') as Uint8Array);

interface Stats { graphs: number; worstAbs: number; worstRel: number; changed: number }
const stats = new Map<string, Stats>();
afterAll(() => {
  for (const [k, s] of stats) {
    console.log(`[property] ${k}: ${s.graphs} graphs (${s.changed} changed), worst |a-b| ${s.worstAbs.toExponential(2)}, worst rel ${s.worstRel.toExponential(2)}`);
  }
});

/** Run `transforms` on a random graph and check outputs, validity and (optionally) idempotence. */
async function check(transforms: string, c: Case, idempotent: boolean): Promise<void> {
  const { graph, inputs, outputs } = build(c);
  const after = graph.clone();
  const opts = { registry, container: di, inputs: Object.keys(inputs), outputs };
  await runPipeline(after, transforms, opts);
  after.validate();
  for (const o of outputs) expect(after.has(o.split(':')[0]!), `output ${o} kept`).toBe(true);
  const rep = await expectSameOutputs(graph, after, { inputs, outputs, seed: c.seed, atol: ATOL, rtol: RTOL });
  const s = stats.get(transforms) ?? { graphs: 0, worstAbs: 0, worstRel: 0, changed: 0 };
  s.graphs++;
  if (!bytes(graph).equals(bytes(after))) s.changed++;
  for (const o of rep.outputs) {
    s.worstAbs = Math.max(s.worstAbs, o.maxAbsError);
    s.worstRel = Math.max(s.worstRel, o.maxRelError);
  }
  stats.set(transforms, s);
  // Every node comes after its inputs (what sort_by_execution_order promises; others keep it).
  if (transforms === 'sort_by_execution_order') {
    const seen = new Set<string>();
    for (const n of after.nodes()) {
      for (const i of n.inputs) expect(seen.has(i.replace(/^\^/, '').split(':')[0]!), `${n.name} after ${i}`).toBe(true);
      seen.add(n.name);
    }
  }
  if (idempotent) {
    const again = after.clone();
    await runPipeline(again, transforms, opts);
    const a = bytes(after);
    const b = bytes(again);
    if (!a.equals(b)) {
      const diff = again.nodes().filter((n) => !after.has(n.name)).map((n) => n.name).slice(0, 5);
      throw new Error(`'${transforms}' is not idempotent on ${JSON.stringify(c)}: ${after.size} -> ${again.size} nodes; new: ${diff.join(', ')}`);
    }
  }
}

const SEED_PIPELINE = 'strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms';

const CASES: [string, boolean][] = [
  ['fold_batch_norms', true],
  ['fold_old_batch_norms', true],
  ['fold_constants', true],
  ['remove_nodes(op=Identity)', true],
  ['strip_unused_nodes', true],
  ['merge_duplicate_nodes', true],
  // TF's sort takes ready nodes last-in-first-out, so sorting a sorted graph can reorder
  // independent roots: checked for a valid order instead of byte idempotence.
  ['sort_by_execution_order', false],
  [SEED_PIPELINE, true],
];

const RUNS = Number(process.env.TFPASS_PROPERTY_RUNS ?? 6);

describe('passes on random graphs keep outputs, validity and idempotence', () => {
  for (const [transforms, idempotent] of CASES) {
    it(transforms, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, (c) => check(transforms, c, idempotent)),
        { numRuns: RUNS, seed: 4242, endOnFailure: true },
      );
    });
  }

  it('the seed pipeline on conv/BN-dense graphs folds constants and both batch-norm kinds, leaving no conv-fed FusedBatchNorm', async () => {
    const folded: Record<string, number> = {};
    for (let seed = 1; seed <= 3; seed++) {
      const { graph, inputs, outputs } = randomGraph(seed, { depth: 10, ops: FOLD_OPS });
      decorate(graph, seed);
      const after = graph.clone();
      const reps = await runPipeline(after, SEED_PIPELINE, { registry, container: di, inputs: Object.keys(inputs), outputs });
      for (const r of reps) folded[r.name] = (folded[r.name] ?? 0) + (r.stats.folded ?? 0);
      await expectSameOutputs(graph, after, { inputs, outputs, seed, atol: ATOL, rtol: RTOL });
      expect(after.nodes().filter((n) => n.op === 'Identity' && n.name !== 'output')).toHaveLength(0);
      // A batch norm right after a convolution that feeds nothing else must have been folded.
      const left = after.nodes().filter((n) => {
        const p = n.op.startsWith('FusedBatchNorm') ? after.producer(n.dataInputs[0]!) : undefined;
        return p && /Conv2D|Depthwise/.test(p.op) && after.consumersOf(p.name).length === 1;
      });
      expect(left.map((n) => `${n.name} <- ${after.producer(n.dataInputs[0]!)!.op}`)).toEqual([]);
    }
    expect(folded['fold_batch_norms']).toBeGreaterThan(0);
    expect(folded['fold_old_batch_norms']).toBeGreaterThan(0);
    expect(folded['fold_constants']).toBeGreaterThan(0);
  });
});
