/**
 * Semantic fuzzing (issue 21): inputs that decode cleanly but mean nonsense. Graphs whose Consts
 * declare odd dtypes and shapes (DT_INVALID, enum 99, [-5,2], 2^32 or 2^63-1 elements with one
 * splat value or none), whose inputs dangle or loop, whose attrs lie, go through what the CLI's
 * commands do with a graph: summarize (shapes, FLOPs, parameter counts), transform
 * (fold_constants, strip), run (the wasm runtime), convert (TF.js artifacts) and write. Checkpoint
 * index entries are rewritten with valid block CRCs (dtype, shape, offset, size, shard, crc), and
 * TF.js manifests point at "", ".", folders, links out of the model folder and FIFOs.
 * The contract: success or a typed one-line error (never E_INTERNAL), within the time bound,
 * without allocating the declared sizes (< 256 MiB growth per input, peak RSS < 2 GiB).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, writeSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { rootServices as container } from '@tfpass/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  Graph, PassRegistry, TOKENS, Tensor, countFlops, encodeGraph, inferShapes, readModel, registerPlugin, runPipeline, writeGraph,
} from '@tfpass/core';
import { BundleEntryProtoSchema, GraphDefSchema, TensorShapeProto_DimSchema, type GraphDef, type NodeDef } from '@tfpass/core/proto';
import { TableBuilder, listCheckpoint, readCheckpoint, readTable, writeCheckpoint } from '@tfpass/checkpoint';
import { createExecutor } from '@tfpass/runtime';
import { graphToArtifacts, readTfjsModel, writeTfjsModel } from '@tfpass/tfjs-format';
import { expectClean, fuzzParams, isTypedError, modelFile, printTally } from './helpers.js';

afterAll(printTally);

const MiB = 2 ** 20;
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tfpass-fuzz-semantic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Growth of array-buffer memory during `f` must stay far below the sizes the inputs declare. */
function bounded<T>(what: string, f: () => T): T {
  const before = process.memoryUsage().arrayBuffers;
  const out = f();
  const grew = process.memoryUsage().arrayBuffers - before;
  if (grew > 256 * MiB) throw new Error(`${what} allocated ${(grew / MiB).toFixed(0)} MiB`);
  return out;
}

afterAll(() => {
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(`[fuzz] semantic: peak RSS ${(peak / MiB).toFixed(0)} MiB`);
  if (peak > 2 * 2 ** 30) throw new Error(`peak RSS ${(peak / MiB).toFixed(0)} MiB exceeds 2 GiB`);
});

// ---- seed graphs ----------------------------------------------------------------------------

function floatGraph(): Graph {
  const g = new Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 4] } } });
  g.addNode({ name: 'w', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [4, 3], Array.from({ length: 12 }, (_, i) => i / 7 - 0.5)) } } });
  g.addNode({ name: 'b', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [3], [0.1, -0.2, 0.3]) } } });
  g.addNode({ name: 'mm', op: 'MatMul', inputs: ['x', 'w'], attrs: { T: { type: 'float32' }, transpose_a: { b: false }, transpose_b: { b: false } } });
  g.addNode({ name: 'ba', op: 'BiasAdd', inputs: ['mm', 'b'], attrs: { T: { type: 'float32' } } });
  g.addNode({ name: 'relu', op: 'Relu', inputs: ['ba'], attrs: { T: { type: 'float32' } } });
  g.addNode({ name: 'shape', op: 'Const', attrs: { dtype: { type: 'int32' }, value: { tensor: Tensor.fromValues('int32', [2], [3, 1]) } } });
  g.addNode({ name: 'r', op: 'Reshape', inputs: ['relu', 'shape'], attrs: { T: { type: 'float32' }, Tshape: { type: 'int32' } } });
  g.addNode({ name: 'k2', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [], [2]) } } });
  g.addNode({ name: 'k3', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [], [3]) } } });
  g.addNode({ name: 'k6', op: 'Mul', inputs: ['k2', 'k3'], attrs: { T: { type: 'float32' } } });
  g.addNode({ name: 'y', op: 'Mul', inputs: ['r', 'k6'], attrs: { T: { type: 'float32' } } });
  return g;
}

function intGraph(): Graph {
  const g = new Graph();
  const c = (name: string, dtype: 'int32' | 'int64', shape: number[], v: (number | bigint)[]) => {
    const t = Tensor.zeros(dtype, shape);
    v.forEach((x, i) => ((t.data as unknown as (number | bigint)[])[i] = dtype === 'int64' ? BigInt(x) : Number(x)));
    g.addNode({ name, op: 'Const', attrs: { dtype: { type: dtype }, value: { tensor: t } } });
  };
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [3] } } });
  c('big', 'int64', [3], [2n ** 33n, 5, -7]);
  c('two', 'int64', [], [2]);
  g.addNode({ name: 'fdiv', op: 'FloorDiv', inputs: ['big', 'two'], attrs: { T: { type: 'int64' } } });
  g.addNode({ name: 'mod', op: 'Mod', inputs: ['big', 'two'], attrs: { T: { type: 'int64' } } });
  g.addNode({ name: 'sum', op: 'AddV2', inputs: ['fdiv', 'mod'], attrs: { T: { type: 'int64' } } });
  g.addNode({ name: 'f', op: 'Cast', inputs: ['sum'], attrs: { SrcT: { type: 'int64' }, DstT: { type: 'float32' } } });
  c('s0', 'int32', [], [0]);
  c('s3', 'int32', [], [3]);
  c('s1', 'int32', [], [1]);
  g.addNode({ name: 'rng', op: 'Range', inputs: ['s0', 's3', 's1'], attrs: { Tidx: { type: 'int32' } } });
  g.addNode({ name: 'rf', op: 'Cast', inputs: ['rng'], attrs: { SrcT: { type: 'int32' }, DstT: { type: 'float32' } } });
  g.addNode({ name: 'add', op: 'AddN', inputs: ['x', 'f', 'rf'], attrs: { T: { type: 'float32' }, N: { i: 3 } } });
  c('dims', 'int32', [1], [3]);
  g.addNode({ name: 'fill', op: 'Fill', inputs: ['dims', 'k'], attrs: { T: { type: 'float32' }, index_type: { type: 'int32' } } });
  g.addNode({ name: 'k', op: 'Const', attrs: { dtype: { type: 'float32' }, value: { tensor: Tensor.fromValues('float32', [], [0.5]) } } });
  g.addNode({ name: 'y', op: 'Mul', inputs: ['add', 'fill'], attrs: { T: { type: 'float32' } } });
  return g;
}

const seeds: { name: string; def: Uint8Array; feeds: Record<string, Tensor>; out: string }[] = [];

// ---- semantic graph mutations ---------------------------------------------------------------

const DIMS = [-5, -1, 0, 1, 3, 2 ** 31, 2 ** 32, 2 ** 62, 2n ** 63n - 1n] as const;
type GraphMutation =
  | { kind: 'dtype'; node: number; value: number }
  | { kind: 'shape'; node: number; dims: (number | bigint)[] }
  | { kind: 'splat'; node: number; keep: number }
  | { kind: 'content'; node: number; bytes: number }
  | { kind: 'input'; node: number; to: 'missing' | 'self' | 'control-first' | 'port' }
  | { kind: 'attr'; node: number; value: number }
  | { kind: 'op'; node: number; op: string };

const graphMutation: fc.Arbitrary<GraphMutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('dtype' as const), node: fc.nat(), value: fc.oneof(fc.constantFrom(0, 99, 1000, 101, 20, 21), fc.integer({ min: 0, max: 30 })) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('shape' as const), node: fc.nat(), dims: fc.array(fc.oneof(fc.constantFrom(...DIMS), fc.nat({ max: 8 })), { maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('splat' as const), node: fc.nat(), keep: fc.nat({ max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('content' as const), node: fc.nat(), bytes: fc.nat({ max: 64 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('input' as const), node: fc.nat(), to: fc.constantFrom('missing' as const, 'self' as const, 'control-first' as const, 'port' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('attr' as const), node: fc.nat(), value: fc.oneof(fc.constantFrom(0, 9, 99), fc.integer({ min: 0, max: 25 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('op' as const), node: fc.nat(), op: fc.constantFrom('NoSuchOp', 'Const', 'Placeholder', 'AddN', 'Identity', 'Reshape', 'Fill', 'Range', '') }) },
);

function tensorOf(n: NodeDef) {
  const v = n.attr['value']?.value;
  return v?.case === 'tensor' ? v.value : undefined;
}

function mutateGraph(def: GraphDef, m: GraphMutation): void {
  const consts = def.node.filter((n) => tensorOf(n));
  const pickConst = () => consts[m.node % Math.max(1, consts.length)];
  const n = def.node[m.node % def.node.length]!;
  switch (m.kind) {
    case 'dtype': {
      const c = pickConst();
      if (!c) return;
      tensorOf(c)!.dtype = m.value;
      const a = c.attr['dtype']?.value;
      if (a?.case === 'type') a.value = m.value;
      return;
    }
    case 'shape': {
      const t = pickConst() && tensorOf(pickConst()!);
      if (!t) return;
      t.tensorShape = { $typeName: 'tensorflow.TensorShapeProto', dim: m.dims.map((d) => create(TensorShapeProto_DimSchema, { size: BigInt(d) })), unknownRank: false } as never;
      return;
    }
    case 'splat': {
      // No content and at most `keep` values: TF's repeat-last rule fills the declared shape.
      const t = pickConst() && tensorOf(pickConst()!);
      if (!t) return;
      t.tensorContent = new Uint8Array();
      t.floatVal = t.floatVal.slice(0, m.keep);
      t.intVal = t.intVal.slice(0, m.keep);
      t.int64Val = t.int64Val.slice(0, m.keep);
      if (m.keep === 0) t.floatVal = [];
      return;
    }
    case 'content': {
      const t = pickConst() && tensorOf(pickConst()!);
      if (t) t.tensorContent = new Uint8Array(m.bytes).fill(0x41);
      return;
    }
    case 'input': {
      if (m.to === 'missing') n.input = [...n.input, 'no_such_node'];
      else if (m.to === 'self') n.input = [...n.input, n.name];
      else if (m.to === 'control-first') n.input = ['^' + (def.node[0]!.name), ...n.input];
      else n.input = n.input.map((s) => `${s.split(':')[0]}:7`);
      return;
    }
    case 'attr': {
      for (const k of ['T', 'DstT', 'Tidx', 'Tshape', 'dtype']) {
        const a = n.attr[k]?.value;
        if (a?.case === 'type') {
          a.value = m.value;
          return;
        }
      }
      const nAttr = n.attr['N']?.value;
      if (nAttr?.case === 'i') nAttr.value = BigInt(m.value) - 3n;
      return;
    }
    case 'op':
      n.op = m.op;
  }
}

let registry: PassRegistry;
const di = container.createChildContainer();
const executor = createExecutor();

beforeAll(async () => {
  registry = new PassRegistry();
  for (const [mod, name] of [
    [await import('@tfpass/pass-strip'), '@tfpass/pass-strip'],
    [await import('@tfpass/pass-fold-constants'), '@tfpass/pass-fold-constants'],
  ] as const) {
    await registerPlugin(mod, registry, { packageName: name, packageVersion: '0.1.0' });
  }
  di.register(TOKENS.executor, { useValue: executor });
  seeds.push({ name: 'float', def: encodeGraph(floatGraph()) as Uint8Array, feeds: { x: Tensor.fromValues('float32', [1, 4], [1, -2, 3, 0.5]) }, out: 'y' });
  seeds.push({ name: 'int', def: encodeGraph(intGraph()) as Uint8Array, feeds: { x: Tensor.fromValues('float32', [3], [1, 2, 3]) }, out: 'y' });
  const mnist = modelFile('armnn-simple-mnist/simple_mnist_tf.pb');
  if (mnist) {
    const g = readModel(mnist).graph;
    const ph = g.nodes().find((n) => n.op === 'Placeholder')!;
    const sinks = g.nodes().filter((n) => g.consumerCount(n.name) === 0 && n.op !== 'Const');
    seeds.push({ name: 'mnist', def: mnist, feeds: { [ph.name]: Tensor.zeros('float32', [1, 784]) }, out: sinks[0]!.name });
  }
});

describe('semantic graph mutations through summarize, transform, run, convert and write', () => {
  it('seeds go through every stage', async () => {
    for (const s of seeds) {
      const g = readModel(s.def).graph;
      countFlops(g);
      await runPipeline(g, 'fold_constants strip_unused_nodes', { registry, container: di, inputs: Object.keys(s.feeds), outputs: [s.out] });
      const [y] = await executor.run(g, s.feeds, [s.out]);
      expect(y!.size, s.name).toBeGreaterThan(0);
      graphToArtifacts(g);
    }
  });

  it('every mutated graph is accepted or refused with a typed error at each stage', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.array(graphMutation, { minLength: 1, maxLength: 3 }), async (si, muts) => {
        const s = seeds[si % seeds.length]!;
        const def = fromBinary(GraphDefSchema, s.def);
        for (const m of muts) mutateGraph(def, m);
        const bytes = toBinary(GraphDefSchema, def);
        // TFPASS_FUZZ_TRACE=1 prints each stage before it runs (the last line names a crashing input).
        const trace = (stage: string) => process.env.TFPASS_FUZZ_TRACE && writeSync(2, `[trace] ${s.name} ${stage} ${JSON.stringify(muts, (_, v) => (typeof v === 'bigint' ? String(v) : v))}\n`);
        trace('read');
        const g = bounded('readModel', () => expectClean('semantic: readModel', bytes, () => readModel(bytes, { name: 'fuzz.pb' }).graph));
        if (!g) return;
        trace('summarize');
        // summarize: shapes, FLOPs and parameter counts (from the proto, never decoded).
        bounded('summarize', () =>
          expectClean('semantic: summarize', bytes, () => {
            trace('summarize:infer');
            inferShapes(g);
            trace('summarize:flops');
            countFlops(g);
            trace('summarize:params');
            for (const n of g) if (n.op === 'Const' && n.attrs.kind('value') === 'tensor') n.attrs.getTensorInfo('value');
          }),
        );
        trace('convert');
        // convert: TF.js artifacts, and a GraphDef written only when valid.
        bounded('convert', () => expectClean('semantic: convert(tfjs)', bytes, () => graphToArtifacts(g)));
        const out = join(dir, `g${k++ % 8}.pb`);
        bounded('write', () => expectClean('semantic: writeGraph', bytes, () => writeGraph(g, out)));
        // run, then transform (the pass may rewrite the graph in place).
        const feeds = Object.fromEntries(Object.entries(s.feeds).filter(([n]) => g.has(n)));
        const before = process.memoryUsage().arrayBuffers;
        trace('run');
        await expectCleanAsync('semantic: run', bytes, () => executor.run(g, feeds, [s.out]));
        trace('transform');
        await expectCleanAsync('semantic: transform', bytes, () => runPipeline(g, 'fold_constants strip_unused_nodes', { registry, container: di, inputs: Object.keys(feeds), outputs: [s.out] }));
        const grew = process.memoryUsage().arrayBuffers - before;
        if (grew > 256 * MiB) throw new Error(`run/transform allocated ${(grew / MiB).toFixed(0)} MiB on ${JSON.stringify(muts, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
      }),
      fuzzParams(Number(process.env.TFPASS_SEMANTIC_RUNS ?? 1000), 2121),
    );
  });
});

/** expectClean for promises: resolves, or rejects with a short typed error that is not E_INTERNAL. */
async function expectCleanAsync(parser: string, input: unknown, f: () => Promise<unknown>): Promise<void> {
  let err: unknown;
  const t0 = performance.now();
  try {
    await f();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  expectClean(parser, input, () => {
    if (err) throw err;
  });
  if (ms > 10_000) throw new Error(`${parser} took ${ms.toFixed(0)} ms`);
}

// ---- checkpoint entries with valid CRCs -----------------------------------------------------

type EntryMutation =
  | { field: 'dtype'; value: number }
  | { field: 'dims'; dims: (number | bigint)[] }
  | { field: 'offset' | 'size'; value: bigint }
  | { field: 'shard'; value: number }
  | { field: 'crc'; value: number }
  | { field: 'slices'; n: number };

const entryMutation: fc.Arbitrary<EntryMutation> = fc.oneof(
  fc.record({ field: fc.constant('dtype' as const), value: fc.oneof(fc.constantFrom(0, 7, 20, 21, 99, 1000), fc.integer({ min: 0, max: 30 })) }),
  fc.record({ field: fc.constant('dims' as const), dims: fc.array(fc.oneof(fc.constantFrom(...DIMS), fc.nat({ max: 6 })), { maxLength: 3 }) }),
  fc.record({ field: fc.constantFrom('offset' as const, 'size' as const), value: fc.oneof(fc.constantFrom(-8n, -1n, 0n, 2n ** 31n, 2n ** 62n, 2n ** 63n - 1n), fc.bigInt({ min: 0n, max: 200n })) }),
  fc.record({ field: fc.constant('shard' as const), value: fc.oneof(fc.constantFrom(-1, 1, 5, 2 ** 31 - 1), fc.constant(0)) }),
  fc.record({ field: fc.constant('crc' as const), value: fc.nat() }),
  fc.record({ field: fc.constant('slices' as const), n: fc.nat({ max: 2 }) }),
);

describe('checkpoint index entries rewritten with valid CRCs', () => {
  let base: { index: Uint8Array; data: Uint8Array } | undefined;
  beforeAll(() => {
    const p = join(dir, 'ckpt-seed', 'model');
    mkdirSync(join(dir, 'ckpt-seed'), { recursive: true });
    const w = writeCheckpoint(p, {
      'conv/weights': Tensor.fromValues('float32', [2, 2, 1, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
      global_step: Tensor.fromValues('int64', [], [42]),
      names: Tensor.fromValues('string', [2], ['a', 'bcd']),
    });
    base = { index: new Uint8Array(readFileSync(w.indexFile)), data: new Uint8Array(readFileSync(w.dataFiles[0]!)) };
  });

  it('ckpt ls and reads refuse every corrupt entry with E_CHECKPOINT (or read it)', () => {
    let k = 0;
    fc.assert(
      fc.property(fc.nat(), fc.array(entryMutation, { minLength: 1, maxLength: 3 }), (which, muts) => {
        const table = readTable(base!.index, 'seed.index');
        const tb = new TableBuilder();
        const entries = table.entries.slice(1);
        const target = entries[which % entries.length]!;
        tb.add(table.entries[0]!.key, table.entries[0]!.value);
        for (const { key, value } of entries) {
          if (key !== target.key) {
            tb.add(key, value);
            continue;
          }
          const e = fromBinary(BundleEntryProtoSchema, value);
          for (const m of muts) {
            if (m.field === 'dtype') e.dtype = m.value;
            else if (m.field === 'dims') e.shape = { $typeName: 'tensorflow.TensorShapeProto', dim: m.dims.map((d) => create(TensorShapeProto_DimSchema, { size: BigInt(d) })), unknownRank: false } as never;
            else if (m.field === 'offset') e.offset = m.value;
            else if (m.field === 'size') e.size = m.value;
            else if (m.field === 'shard') e.shardId = m.value;
            else if (m.field === 'crc') e.crc32c = m.value;
            else if ('n' in m) e.slices = Array.from({ length: m.n }, () => ({ $typeName: 'tensorflow.TensorSliceProto', extent: [] }) as never);
          }
          tb.add(key, toBinary(BundleEntryProtoSchema, e));
        }
        const sub = join(dir, `ck${k++ % 8}`);
        mkdirSync(sub, { recursive: true });
        const prefix = join(sub, 'model');
        const index = tb.finish();
        writeFileSync(`${prefix}.index`, index);
        writeFileSync(`${prefix}.data-00000-of-00001`, base!.data);
        bounded('checkpoint', () =>
          expectClean('semantic: ckpt ls + read', index, () => {
            listCheckpoint(prefix);
            const c = readCheckpoint(prefix);
            try {
              for (const name of c.entries.keys()) c.read(name);
            } finally {
              c.close();
            }
          }),
        );
      }),
      fuzzParams(Number(process.env.TFPASS_SEMANTIC_RUNS ?? 1000) * 4, 2122),
    );
  });
});

// ---- TF.js manifests pointing at odd paths --------------------------------------------------

describe('TF.js manifests naming odd shard paths', () => {
  const secret = join(dir, 'outside-secret.bin');
  let model: string;
  beforeAll(() => {
    model = join(dir, 'tfjs-seed');
    writeTfjsModel(floatGraph(), model);
    writeFileSync(secret, readFileSync(join(model, 'group1-shard1of1.bin')));
  });

  it('every manifest reads or is refused with a typed error; links out of the folder are never followed', () => {
    let k = 0;
    const fifoOk = (() => {
      try {
        execFileSync('mkfifo', [join(dir, 'probe.fifo')]);
        return true;
      } catch {
        return false;
      }
    })();
    fc.assert(
      fc.property(
        fc.constantFrom('', '.', '..', '/etc/hostname', 'sub', 'link-out', 'link-in', 'fifo', 'missing.bin', 'group1-shard1of1.bin', './group1-shard1of1.bin', 'sub/../group1-shard1of1.bin', 'link-dir/x.bin'),
        fc.nat({ max: 2 }),
        (p, copies) => {
          const d = join(dir, `tj${k++ % 8}`);
          rmSync(d, { recursive: true, force: true });
          mkdirSync(d);
          const shard = readFileSync(join(model, 'group1-shard1of1.bin'));
          writeFileSync(join(d, 'group1-shard1of1.bin'), shard);
          mkdirSync(join(d, 'sub'));
          symlinkSync(secret, join(d, 'link-out'));
          symlinkSync('group1-shard1of1.bin', join(d, 'link-in'));
          symlinkSync(dir, join(d, 'link-dir'));
          if (fifoOk && p === 'fifo') execFileSync('mkfifo', [join(d, 'fifo')]);
          const mj = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8'));
          mj.weightsManifest[0].paths = Array.from({ length: copies + 1 }, () => p);
          writeFileSync(join(d, 'model.json'), JSON.stringify(mj));
          let followed = false;
          expectClean('semantic: readTfjsModel(paths)', p, () => {
            readTfjsModel(d);
            followed = p === 'link-out' || p === 'link-dir/x.bin';
          });
          expect(followed, `${p} was followed out of the model folder`).toBe(false);
        },
      ),
      fuzzParams(800, 2123),
    );
  });
});

// ---- outputs that are devices, folders or links: nothing is replaced ------------------------

describe('outputs that are devices, folders and links', () => {
  it('writeGraph and writeTfjsModel never replace a device, folder or link', () => {
    const g = floatGraph();
    const d = join(dir, 'outs');
    mkdirSync(d);
    mkdirSync(join(d, 'folder'));
    writeFileSync(join(d, 'target.pb'), 'old');
    symlinkSync('target.pb', join(d, 'link.pb'));
    symlinkSync('folder', join(d, 'link-folder'));
    writeFileSync(join(d, 'file'), 'x');
    const cases: [string, () => void, (e: unknown) => void][] = [
      ['/dev/null', () => writeGraph(g, '/dev/null'), () => expect(statSync('/dev/null').isCharacterDevice()).toBe(true)],
      [join(d, 'folder'), () => writeGraph(g, join(d, 'folder')), (e) => expect(statSync(join(d, 'folder')).isDirectory() && isTypedError(e)).toBe(true)],
      [join(d, 'link-folder'), () => writeGraph(g, join(d, 'link-folder')), (e) => expect(lstatSync(join(d, 'link-folder')).isSymbolicLink() && isTypedError(e)).toBe(true)],
      [join(d, 'link.pb'), () => writeGraph(g, join(d, 'link.pb')), () => {
        expect(readlinkSync(join(d, 'link.pb'))).toBe('target.pb');
        expect(readModel(join(d, 'target.pb')).graph.size).toBe(g.size);
      }],
      [join(d, 'file', 'tfjs'), () => writeTfjsModel(g, join(d, 'file', 'tfjs')), (e) => expect(isTypedError(e) && readFileSync(join(d, 'file'), 'utf8') === 'x').toBe(true)],
      ['/dev/null (tfjs)', () => writeTfjsModel(g, '/dev/null'), (e) => expect(isTypedError(e) && statSync('/dev/null').isCharacterDevice()).toBe(true)],
    ];
    for (const [what, write, check] of cases) {
      let err: unknown;
      try {
        write();
      } catch (e) {
        err = e;
      }
      expect(err === undefined || (isTypedError(err) && (err as { code: string }).code !== 'E_INTERNAL'), `${what}: ${String(err)}`).toBe(true);
      check(err);
    }
  });
});
