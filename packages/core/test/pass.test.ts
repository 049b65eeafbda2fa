import { describe, expect, it } from 'vitest';
import { rootServices as container } from '../src/index.js';
import { fileURLToPath } from 'node:url';
import {
  Graph, PassRegistry, ParamError, PassError, UnknownPassError, GraphValidationError, TOKENS,
  coerceParams, definePass, discoverPlugins, encodeGraph, loadExecutor, loadPlugin, registerPlugin, runPipeline, transformGraph, Tensor,
  type PassDefinition, type Logger,
} from '@tfpass/core';

const fixture = fileURLToPath(new URL('./fixtures/plugin-clock', import.meta.url));

function small(): Graph {
  const g = new Graph();
  g.addNode({ name: 'input', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  g.addNode({ name: 'id', op: 'Identity', inputs: ['input'] });
  g.addNode({ name: 'out', op: 'Relu', inputs: ['id'] });
  return g;
}

describe('parameter coercion', () => {
  const def: PassDefinition = {
    name: 'p',
    summary: '',
    params: {
      count: { type: 'int', default: 1, description: '' },
      eps: { type: 'float', default: 1e-3, description: '' },
      flag: { type: 'bool', default: false, description: '' },
      type: { type: 'dtype', default: 'float32', description: '' },
      op: { type: 'string', repeated: true, description: '' },
      need: { type: 'string', description: '', default: 'x' },
    },
    run() {},
  };
  it('coerces each type and fills defaults', () => {
    expect(coerceParams(def, {})).toEqual({ ignore_errors: false, count: 1, eps: 1e-3, flag: false, type: 'float32', op: [], need: 'x' });
    const p = coerceParams(def, { count: [' -3 '], eps: ['1e-5'], flag: ['1'], type: ['half'], op: ['Identity', 'CheckNumerics'], ignore_errors: ['TRUE'] });
    expect(p).toMatchObject({ count: -3, eps: 1e-5, flag: true, type: 'float16', op: ['Identity', 'CheckNumerics'], ignore_errors: true });
    expect(coerceParams(def, { type: ['float_ref'], flag: ['false'] })).toMatchObject({ type: 'float32', flag: false });
  });
  it('rejects bad values, naming pass and parameter', () => {
    const bad: [Record<string, string[]>, RegExp][] = [
      [{ count: ['-23.232323'] }, /pass 'p', parameter 'count': expected an integer/],
      [{ eps: ['abc'] }, /parameter 'eps': expected a number/],
      [{ flag: ['True'] }, /parameter 'flag': expected true, false, 1 or 0/],
      [{ type: ['floot'] }, /unknown data type 'floot'/],
      [{ count: ['1', '2'] }, /expected a single value, found 2/],
      [{ ignore_errors: ['foo'] }, /parameter 'ignore_errors': expected true or false/],
    ];
    for (const [raw, re] of bad) {
      expect(() => coerceParams(def, raw)).toThrow(ParamError);
      expect(() => coerceParams(def, raw)).toThrow(re);
    }
  });
  it('a parameter the pass does not read is ignored with a message naming it, as TF does (issue 17)', () => {
    const seen: [string, string][] = [];
    const p = coerceParams(def, { cuont: ['2'], fallback_min: ['-10'] }, { onIgnored: (k, m) => seen.push([k, m]) });
    expect(p).toMatchObject({ count: 1 });
    expect(p).not.toHaveProperty('cuont');
    expect(seen.map((s) => s[0])).toEqual(['cuont', 'fallback_min']);
    expect(seen[0]![1]).toMatch(/parameter 'cuont' is not one this pass reads; ignored, as TensorFlow does \(did you mean 'count'\?\).*--strict refuses it/);
  });
  it('with strict, a misspelt parameter is an error that suggests and lists the accepted names', () => {
    try {
      coerceParams(def, { cuont: ['2'] }, { strict: true });
      expect.unreachable();
    } catch (e) {
      const err = e as ParamError;
      expect(err).toBeInstanceOf(ParamError);
      expect(err.code).toBe('E_PARAM');
      expect(err.param).toBe('cuont');
      expect(err.message).toContain("did you mean 'count'?");
      expect(err.message).toContain('accepted: ignore_errors, count, eps, flag, type, op, need');
    }
  });
  it('required parameters', () => {
    const req: PassDefinition = { name: 'r', summary: '', params: { file: { type: 'string', required: true, description: '' } }, run() {} };
    expect(() => coerceParams(req, {})).toThrow(/pass 'r', parameter 'file': is required/);
  });
});

describe('the seed pipeline through transformGraph', () => {
  const SEED = [
    'strip_unused_nodes',
    'strip_unused_nodes(type=float,shape="1,384,384,3")',
    'remove_nodes(op=Identity,op=CheckNumerics)',
    'fold_constants',
    'fold_batch_norms',
    'fold_old_batch_norms',
  ];
  it('runs stub passes in order with the right params, inputs and outputs', async () => {
    const registry = new PassRegistry();
    const seen: [string, Record<string, unknown>, string[], string[]][] = [];
    const stub = (name: string, params: PassDefinition['params'] = {}): PassDefinition => ({
      name,
      summary: 'stub',
      params,
      run(graph, ctx) {
        seen.push([name, ctx.params, ctx.inputs, ctx.outputs]);
        if (name === 'remove_nodes') {
          for (const n of graph.nodes()) {
            if ((ctx.params.op as string[]).includes(n.op)) {
              graph.replaceUses(n.name, n.inputs[0]!);
              graph.removeNode(n.name);
            }
          }
        }
      },
    });
    registry.register(stub('strip_unused_nodes', {
      type: { type: 'dtype', default: 'float32', description: '' },
      shape: { type: 'string', default: '', description: '' },
    }));
    registry.register(stub('remove_nodes', { op: { type: 'string', repeated: true, description: '' } }));
    for (const n of ['fold_constants', 'fold_batch_norms', 'fold_old_batch_norms']) registry.register(stub(n));
    const g = small();
    let reports: { name: string; nodesBefore: number; nodesAfter: number }[] = [];
    const out = await transformGraph(g, ['input'], ['out'], SEED, { registry, discover: false, onReport: (r) => (reports = r) });
    expect(seen.map((s) => s[0])).toEqual(['strip_unused_nodes', 'strip_unused_nodes', 'remove_nodes', 'fold_constants', 'fold_batch_norms', 'fold_old_batch_norms']);
    expect(seen[0]![1]).toEqual({ ignore_errors: false, type: 'float32', shape: '' });
    expect(seen[1]![1]).toEqual({ ignore_errors: false, type: 'float32', shape: '1,384,384,3' });
    expect(seen[2]![1]).toEqual({ ignore_errors: false, op: ['Identity', 'CheckNumerics'] });
    expect(seen[3]![1]).toEqual({ ignore_errors: false });
    for (const s of seen) {
      expect(s[2]).toEqual(['input']);
      expect(s[3]).toEqual(['out']);
    }
    // TransformGraph returns a new graph and leaves its argument alone
    expect(out.has('id')).toBe(false);
    expect(out.node('out').inputs).toEqual(['input']);
    expect(g.has('id')).toBe(true);
    expect(reports.map((r) => [r.name, r.nodesBefore, r.nodesAfter])[2]).toEqual(['remove_nodes', 3, 2]);
    // the same list as one string gives the same calls
    seen.length = 0;
    await transformGraph(g, ['input'], ['out'], SEED.join(' '), { registry, discover: false });
    expect(seen.map((s) => s[1])[1]).toEqual({ ignore_errors: false, type: 'float32', shape: '1,384,384,3' });
  });

  it('checks every pass and parameter before running anything', async () => {
    const registry = new PassRegistry();
    let ran = 0;
    registry.register(definePass({ name: 'fold_constants', summary: '', run: () => void ran++ }));
    await expect(runPipeline(small(), 'fold_constants fold_constans', { registry })).rejects.toThrow(UnknownPassError);
    await expect(runPipeline(small(), 'fold_constants fold_constans', { registry })).rejects.toThrow(/unknown transform 'fold_constans'; did you mean 'fold_constants'\?/);
    await expect(runPipeline(small(), 'fold_constants fold_constants(bogus=1)', { registry, strict: true })).rejects.toThrow(ParamError);
    expect(ran).toBe(0);
  });

  it('without strict, an unknown parameter runs the pass and is warned (the XLNet export passes fallback_min to quantize_weights)', async () => {
    const registry = new PassRegistry();
    let ran = 0;
    registry.register(definePass({ name: 'quantize_weights', summary: '', params: { minimum_size: { type: 'int', default: 1024, description: '' } }, run: () => void ran++ }));
    const warned: string[] = [];
    const logger: Logger = { info() {}, debug() {}, warn: (m) => warned.push(m) };
    const [rep] = await runPipeline(small(), 'quantize_weights(fallback_min=-10, fallback_max=10)', { registry, logger });
    expect(ran).toBe(1);
    expect(rep!.warnings).toHaveLength(2);
    expect(rep!.warnings[0]).toMatch(/parameter 'fallback_min' is not one this pass reads; ignored/);
    expect(warned[1]).toMatch(/^quantize_weights: parameter 'fallback_max'/);
  });
});

describe('runPipeline', () => {
  it('validates between passes and names the pass that broke the graph', async () => {
    const registry = new PassRegistry();
    registry.register(definePass({ name: 'break_it', summary: '', run: (g) => void g.removeNode('id') }));
    const err = await runPipeline(small(), 'break_it', { registry }).catch((e) => e);
    expect(err).toBeInstanceOf(GraphValidationError);
    expect(err.message).toMatch(/^break_it: node 'out': input 'id' refers to a node that does not exist/);
  });

  it('wraps plain exceptions in PassError with the pass and package', async () => {
    const registry = new PassRegistry();
    registry.register(definePass({ name: 'boom', summary: '', run: () => { throw new RangeError('bad index'); } }), { packageName: '@x/pass-boom', packageVersion: '2.0.0' });
    const err = await runPipeline(small(), 'boom', { registry }).catch((e) => e);
    expect(err).toBeInstanceOf(PassError);
    expect(err.message).toBe("pass 'boom' (@x/pass-boom@2.0.0): bad index");
    expect(err.exitCode).toBe(9);
  });

  it('ignore_errors=true rolls the graph back and records a warning', async () => {
    const registry = new PassRegistry();
    registry.register(definePass({ name: 'half_done', summary: '', run: (g) => { g.removeNode('out'); throw new Error('midway'); } }));
    const warnings: string[] = [];
    const logger: Logger = { info() {}, debug() {}, warn: (m) => warnings.push(m) };
    const g = small();
    const [r] = await runPipeline(g, 'half_done(ignore_errors=true)', { registry, logger });
    expect(g.has('out')).toBe(true);
    expect(g.node('out').inputs).toEqual(['id']);
    expect(r!.ignoredError).toContain('midway');
    expect(warnings[0]).toMatch(/half_done: ignoring error/);
  });

  it('the rollback is exact: same bytes, attributes and tensors a pass changed before failing come back', async () => {
    const registry = new PassRegistry();
    registry.register(definePass({ name: 'scribble', summary: '', run: (g) => {
      for (const n of [...g.nodes()]) n.attrs.setJson('_scribbled', { i: 1 });
      g.addNode({ name: 'extra', op: 'NoOp' });
      g.removeNode('out');
      throw new Error('late');
    } }));
    const g = small();
    const before = encodeGraph(g);
    await runPipeline(g, 'scribble(ignore_errors=true)', { registry, logger: { info() {}, debug() {}, warn() {} } });
    expect(encodeGraph(g)).toEqual(before);
    expect(g.has('extra')).toBe(false);
    // The restored graph's indexes work (consumers of the restored nodes are found).
    expect(g.consumersOf('id').map((c) => c.node.name)).toEqual(['out']);
  });

  it('reports per-pass timing, node counts, notes and counters; onStep sees start and end', async () => {
    const registry = new PassRegistry();
    registry.register(definePass({ name: 'add_two', summary: '', run: (g, ctx) => {
      g.addNode({ name: 'a', op: 'NoOp' });
      g.addNode({ name: 'b', op: 'NoOp' });
      ctx.count('added', 2);
      ctx.note('added two');
      ctx.warn('careful');
    } }));
    const phases: string[] = [];
    const [r] = await runPipeline(small(), ['add_two'], { registry, onStep: (p, s) => phases.push(`${p}:${s.name}`) });
    expect(phases).toEqual(['start:add_two', 'end:add_two']);
    expect(r).toMatchObject({ name: 'add_two', nodesBefore: 3, nodesAfter: 5, stats: { added: 2 }, messages: ['added two'], warnings: ['careful'] });
    expect(r!.ms).toBeGreaterThanOrEqual(0);
  });

  it('two packages registering one pass name is an error naming both', () => {
    const registry = new PassRegistry();
    registry.register(definePass({ name: 'x', summary: '', run() {} }), { packageName: 'a', packageVersion: '1.0.0' });
    expect(() => registry.register(definePass({ name: 'x', summary: '', run() {} }), { packageName: 'b', packageVersion: '1.0.0' })).toThrow(/provided by both a and b/);
  });
});

describe('a pass from outside core with an injected service', () => {
  it('is discovered from its manifest, loaded, and gets the clock from the container', async () => {
    const found = discoverPlugins({ extraDirs: [fixture] }).filter((p) => p.name === 'tfpass-fixture-plugin-clock');
    expect(found).toHaveLength(1);
    expect(found[0]!.manifest.passes.map((p) => p.name)).toEqual(['stamp_time']);
    const registry = new PassRegistry();
    await loadPlugin(found[0]!, registry);
    expect(registry.get('stamp_time')?.origin).toEqual({ packageName: 'tfpass-fixture-plugin-clock', packageVersion: '1.2.3' });

    const c = container.createChildContainer();
    c.register(Symbol.for('tfpass.clock'), { useValue: { now: () => 1_700_000_000 } });
    let reports: { stats: Record<string, number>; messages: string[] }[] = [];
    const out = await transformGraph(small(), ['input'], ['out'], ['stamp_time(name=built_at)'], {
      registry, container: c, discover: false, onReport: (r) => (reports = r),
    });
    expect(out.node('built_at').attrs.getTensor('value').data).toEqual(new BigInt64Array([1_700_000_000n]));
    expect(reports[0]!.stats).toEqual({ stamped: 1 });
    expect(reports[0]!.messages).toEqual(['stamped 1700000000']);

    // without the service the pass refuses to run, naming the token
    await expect(runPipeline(small(), 'stamp_time', { registry, container: container.createChildContainer() }))
      .rejects.toThrow(/pass 'stamp_time' \(tfpass-fixture-plugin-clock@1.2.3\): needs the service tfpass.clock/);
    // and the host logger is injectable through TOKENS.logger like any other service
    expect(TOKENS.logger).toBe(Symbol.for('tfpass.logger'));
  });

  it('registerPlugin works from a direct import too, and announce() loads lazily', async () => {
    const registry = new PassRegistry();
    await registerPlugin(await import('./fixtures/plugin-clock/index.js' as string), registry, { packageName: 'direct', packageVersion: '0.0.1' });
    expect(registry.get('stamp_time')?.origin?.packageName).toBe('direct');
    const lazy = new PassRegistry();
    let loads = 0;
    lazy.announce('later', 'pkg-later', async () => {
      loads++;
      lazy.register(definePass({ name: 'later', summary: '', run() {} }), { packageName: 'pkg-later', packageVersion: '1.0.0' });
    });
    expect(lazy.names()).toEqual(['later']);
    expect(loads).toBe(0);
    await runPipeline(small(), 'later', { registry: lazy });
    expect(loads).toBe(1);
  });

  it('an incompatible plugin is refused with the reason', async () => {
    const [p] = discoverPlugins({ extraDirs: [fixture] }).filter((x) => x.name === 'tfpass-fixture-plugin-clock');
    await expect(loadPlugin({ ...p!, peerCore: '^2.0.0' }, new PassRegistry())).rejects.toThrow(/needs @tfpass\/core \^2.0.0/);
    await expect(loadPlugin({ ...p!, manifest: { ...p!.manifest, apiVersion: 9 } }, new PassRegistry())).rejects.toThrow(/plugin API 9/);
  });
});

describe('transformGraph provides an executor (issue 17)', () => {
  const needsExecutor = (seen: number[][]) =>
    definePass({
      name: 'fold_constants',
      summary: '',
      inject: { executor: TOKENS.executor },
      async run(graph, ctx) {
        const ex = ctx.services.executor as import('@tfpass/core').Executor;
        const [t] = await ex.run(graph, {}, ['sum']);
        seen.push(t!.toNumbers());
      },
    });
  function consts(): Graph {
    const g = new Graph();
    g.addNode({ name: 'a', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [2], [1, 2]) } } });
    g.addNode({ name: 'b', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [2], [10, 20]) } } });
    g.addNode({ name: 'sum', op: 'Add', inputs: ['a', 'b'], attrs: { T: { type: 'float32' } } });
    return g;
  }

  it('loads @tfpass/runtime lazily for a pass that runs the graph, with no container in user code (also under ignore_errors)', async () => {
    const registry = new PassRegistry();
    const seen: number[][] = [];
    registry.register(needsExecutor(seen));
    await transformGraph(consts(), [], ['sum'], 'fold_constants(ignore_errors=true) fold_constants', { registry, discover: false });
    expect(seen).toEqual([[11, 22], [11, 22]]);
  });

  it('takes an executor given in the options, and explains what to install when the runtime is missing', async () => {
    const registry = new PassRegistry();
    const seen: number[][] = [];
    registry.register(needsExecutor(seen));
    const fake = { supportsOp: () => true, run: async () => [Tensor.fromValues('float32', [1], [7])] };
    await transformGraph(consts(), [], ['sum'], 'fold_constants', { registry, discover: false, executor: fake });
    expect(seen).toEqual([[7]]);
    const err = await loadExecutor('fold_constants', '@tfpass/no-such-runtime').catch((e) => e);
    expect(err).toBeInstanceOf(PassError);
    expect(err.message).toMatch(/fold_constants.*needs @tfpass\/no-such-runtime \(TensorFlow\.js\): npm install @tfpass\/no-such-runtime/);
  });
});
