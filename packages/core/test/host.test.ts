import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Graph, PassRegistry, PluginHost, ServiceContainer, TOKENS, Tensor, definePass, discoverPlugins, planPlugins, resolvePluginSpec,
  transformGraph, type PluginApi, type PluginModule,
} from '../src/index.js';

// One host builds every registry (issue 19, step 2): installed plugins, pinned packages or
// imported modules all go through the same checks and report their real package and version.

const fixture = fileURLToPath(new URL('./fixtures/plugin-clock', import.meta.url));
const version = (pkg: string) => JSON.parse(readFileSync(fileURLToPath(new URL(`../../${pkg}/package.json`, import.meta.url)), 'utf8')).version as string;

function small(): Graph {
  const g = new Graph();
  g.addNode({ name: 'input', op: 'Placeholder', attrs: { dtype: { type: 'float32' } } });
  g.addNode({ name: 'id', op: 'Identity', inputs: ['input'], attrs: { T: { type: 'float32' } } });
  g.addNode({ name: 'out', op: 'Identity', inputs: ['id'], attrs: { T: { type: 'float32' } } });
  return g;
}

function moduleWith(name: string, run: () => void = () => {}): PluginModule {
  return { register: (api: PluginApi) => api.registerPass(definePass({ name, summary: name, run })) };
}

describe('PluginHost', () => {
  it('pins packages by name with their installed versions, and runs them like installed plugins', async () => {
    const host = PluginHost.packages(['@tfpass/pass-strip'], import.meta.url);
    expect(host.plugins.map((p) => [p.name, p.version])).toEqual([['@tfpass/pass-strip', version('pass-strip')]]);
    const registry = await host.registry(['remove_nodes']);
    // Only the asked-for pass's package is imported, and the origin is the package's real one.
    expect(registry.get('remove_nodes')?.origin).toEqual({ packageName: '@tfpass/pass-strip', packageVersion: version('pass-strip') });
    const g = small();
    const reports = await host.run(g, 'remove_nodes(op=Identity)', { inputs: ['input'], outputs: ['out'] });
    expect(g.has('id')).toBe(false);
    expect(g.node('out').inputs).toEqual(['input']);
    expect(reports[0]!.packageName).toBe('@tfpass/pass-strip');
  });

  it('refuses a package that is not installed, naming it', () => {
    expect(() => PluginHost.packages(['@tfpass/pass-nonexistent'], import.meta.url)).toThrow(/@tfpass\/pass-nonexistent.*not installed/);
  });

  it('takes imported modules, learns their passes, and reports a conflict naming both packages', async () => {
    const host = await PluginHost.modules([
      { module: moduleWith('first'), packageName: 'pkg-a', packageVersion: '1.0.0' },
      { module: moduleWith('second'), packageName: 'pkg-b', packageVersion: '2.0.0' },
    ]);
    expect(host.passNames()).toEqual(['first', 'second']);
    expect((await host.registry()).get('second')?.origin).toEqual({ packageName: 'pkg-b', packageVersion: '2.0.0' });
    const clash = await PluginHost.modules([
      { module: moduleWith('same'), packageName: 'pkg-a', packageVersion: '1.0.0' },
      { module: moduleWith('same'), packageName: 'pkg-b', packageVersion: '2.0.0' },
    ]);
    await expect(clash.registry(['same'])).rejects.toThrow(/pkg-a@1.0.0 and pkg-b@2.0.0.*both provide pass 'same'/);
    await expect(host.registry(['frist'])).rejects.toThrow(/unknown transform 'frist'; did you mean 'first'/);
  });

  it('lets an explicit plugin win over a discovered one for the same pass', () => {
    const [clock] = discoverPlugins({ extraDirs: [fixture] }).filter((p) => p.name === 'tfpass-fixture-plugin-clock');
    const other = { ...clock!, name: 'tfpass-other-clock' };
    const plan = planPlugins([resolvePluginSpec(fixture, process.cwd())], [other]);
    expect(plan.claims.get('stamp_time')!.map((p) => p.name)).toEqual(['tfpass-fixture-plugin-clock']);
    const both = planPlugins([], [clock!, other]);
    expect(() => PluginHost.fromPlan(both).ownerOf('stamp_time')).toThrow(/both provide pass 'stamp_time'/);
  });

  it('gives a pass that asks for an executor the one handed to run(), and none to a pass that does not', async () => {
    const seen: unknown[] = [];
    const host = await PluginHost.modules([{
      module: {
        register: (api: PluginApi) => {
          api.registerPass(definePass({ name: 'wants', summary: '', inject: { executor: TOKENS.executor }, run: (_g, ctx) => void seen.push(ctx.services.executor) }));
          api.registerPass(definePass({ name: 'plain', summary: '', run: (_g, ctx) => void seen.push(Object.keys(ctx.services).length) }));
        },
      },
      packageName: 'pkg', packageVersion: '1.0.0',
    }]);
    const executor = { run: async () => [] } as unknown as import('../src/index.js').Executor;
    await host.run(small(), 'wants plain', { executor });
    expect(seen).toEqual([executor, 0]);
  });

  it('transformGraph takes its passes from a host and its services from a ServiceContainer', async () => {
    const host = PluginHost.fromPlan(planPlugins([resolvePluginSpec(fixture, process.cwd())]));
    const services = new ServiceContainer().set(Symbol.for('tfpass.clock'), { now: () => 42 });
    const out = await transformGraph(small(), ['input'], ['out'], 'stamp_time(name=t)', { host, registry: new PassRegistry(), container: services });
    expect(out.node('t').attrs.getTensor('value').data).toEqual(new BigInt64Array([42n]));
  });
});

describe('the plugin contract: values from api.lib, or the host\'s own core', () => {
  it('loads @tfpass/quantize (a library too: it imports core itself) because it resolves the host\'s core', async () => {
    const host = PluginHost.packages(['@tfpass/quantize'], import.meta.url);
    expect(host.plugins[0]!.manifest.importsCore).toBe(true);
    const registry = await host.registry(['insert_fake_quant']);
    expect(registry.get('insert_fake_quant')?.origin?.packageName).toBe('@tfpass/quantize');
  });

  it('refuses a plugin that imports core itself but would get another copy, naming both folders', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-two-cores-'));
    try {
      const pkg = join(dir, 'tfpass-pass-own-core');
      mkdirSync(join(pkg, 'node_modules', '@tfpass', 'core'), { recursive: true });
      writeFileSync(join(pkg, 'node_modules', '@tfpass', 'core', 'package.json'), JSON.stringify({ name: '@tfpass/core', version: '1.0.0' }));
      writeFileSync(join(pkg, 'index.js'), 'export function register(api) { api.registerPass({ name: "own_core", summary: "", run() {} }); }');
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'tfpass-pass-own-core', version: '1.0.0', type: 'module', tfpass: { apiVersion: 1, entry: './index.js', importsCore: true, passes: [{ name: 'own_core', summary: '' }] } }));
      const plugin = resolvePluginSpec(pkg, dir);
      await expect(PluginHost.fromPlan(planPlugins([], [plugin])).registry(['own_core'])).rejects.toThrow(/imports @tfpass\/core itself.*tfpass-pass-own-core\/node_modules\/@tfpass\/core.*not the host's/);
      // Without the flag the same package is fine: it takes core's values from api.lib.
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'tfpass-pass-own-core', version: '1.0.0', type: 'module', tfpass: { apiVersion: 1, entry: './index.js', passes: [{ name: 'own_core', summary: '' }] } }));
      const ok = await PluginHost.fromPlan(planPlugins([], [resolvePluginSpec(pkg, dir)])).registry(['own_core']);
      expect(ok.has('own_core')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ServiceContainer', () => {
  it('resolves through parents, lets a child shadow, and names a missing token', () => {
    const a = Symbol.for('tfpass.test-a');
    const root = new ServiceContainer().set(a, 1);
    const child = root.createChildContainer();
    expect(child.isRegistered(a)).toBe(false);
    expect(child.isRegistered(a, true)).toBe(true);
    expect(child.resolve(a)).toBe(1);
    child.set(a, 2);
    expect([root.resolve(a), child.resolve(a)]).toEqual([1, 2]);
    expect(() => child.resolve(Symbol.for('tfpass.none'))).toThrow(/tfpass.none/);
  });

  it('is what core uses: importing core leaves the global Reflect alone', () => {
    expect((Reflect as unknown as Record<string, unknown>).getMetadata).toBeUndefined();
    void Tensor;
  });
});
