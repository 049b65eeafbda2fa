/**
 * Fuzz the other parsers: the transform string, `.npy`, TF.js `model.json` + weight shards,
 * and plugin manifests (package.json files found by discovery).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassRegistry, Tensor, announcePlugins, discoverPlugins, formatTransforms, incompatibility, parseTransforms } from '@tfpass/core';
import { decodeNpy, encodeNpy } from '@tfpass/runtime';
import { randomGraph } from '@tfpass/runtime/testing';
import { readTfjsModel, writeTfjsModel } from '@tfpass/tfjs-format';
import { loadHost } from '@tfpass/cli';
import { applyMutation, applyTextMutation, expectClean, fuzzParams, mutationArb, printTally, textMutationArb } from './helpers.js';

afterAll(printTally);

describe('parseTransforms', () => {
  const seeds = [
    'strip_unused_nodes(type=float, shape="1,384,384,3") remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_errors=true)',
    'fold_batch_norms fold_old_batch_norms quantize_weights(minimum_size=16) sort_by_execution_order',
    'rename_attribute(old_attribute_name="a\\"b", new_attribute_name=c) \\\n merge_duplicate_nodes',
  ];
  const alphabet = fc.constantFrom(...'ab_(),= "\\\n\t=1.-/#\u0000é'.split(''));

  it('mutated and random transform strings parse or raise E_TRANSFORM_SYNTAX', () => {
    fc.assert(
      fc.property(fc.oneof(fc.tuple(fc.nat(), fc.array(textMutationArb, { minLength: 1, maxLength: 4 })), fc.string({ unit: alphabet, maxLength: 80 })), (x) => {
        let s: string;
        if (typeof x === 'string') s = x;
        else {
          s = seeds[x[0] % seeds.length]!;
          for (const m of x[1]) s = applyTextMutation(s, m);
        }
        const calls = expectClean('parseTransforms', s, () => parseTransforms(s), 1000);
        // What parses formats back to something that parses to the same calls.
        if (calls) {
          const again = parseTransforms(formatTransforms(calls));
          expect(again.map((c) => [c.name, c.params])).toEqual(calls.map((c) => [c.name, c.params]));
        }
      }),
      fuzzParams(1000, 9201),
    );
  });

  it('pathological lengths stay linear', () => {
    const long = 'a('.concat('k=v,'.repeat(50_000), 'k=v)');
    expectClean('parseTransforms', 'long', () => parseTransforms(long), 2000);
    expectClean('parseTransforms', 'unclosed', () => parseTransforms('x(' + 'k="'.repeat(20_000)), 2000);
  });
});

describe('decodeNpy', () => {
  const seeds = [
    encodeNpy(Tensor.fromValues('float32', [2, 3], [1, 2, 3, 4, 5, 6])),
    encodeNpy(Tensor.fromValues('int64', [2], [1, -1])),
    encodeNpy(Tensor.fromValues('uint8', [0], [])),
    encodeNpy(Tensor.fromValues('float64', [], [3.5])),
  ];
  const header = fc.record({
    descr: fc.constantFrom('<f4', '<f8', '|u1', '<i8', '>f4', '|O', '<c8', "'", ''),
    fortran: fc.constantFrom('False', 'True', 'maybe'),
    shape: fc.oneof(fc.array(fc.integer({ min: -3, max: 2 ** 31 }), { maxLength: 4 }).map((a) => a.join(', ') + (a.length === 1 ? ',' : '')), fc.constantFrom('1e9, 1e9', 'x', '-0', '', ',,', '2**40', '4294967296, 4294967296')),
    version: fc.constantFrom(1, 2, 3, 9),
    hlen: fc.option(fc.nat(), { nil: undefined }),
    body: fc.nat({ max: 64 }),
  });

  it('every mutated .npy decodes or raises a typed error', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(mutationArb, { maxLength: 3 }), (si, muts) => {
        let b = seeds[si % seeds.length]!;
        for (const m of muts) b = applyMutation(b, m);
        expectClean('decodeNpy(mutated)', b, () => decodeNpy(b), 1000);
      }),
      fuzzParams(600, 9301),
    );
  });

  it('hand-built headers with odd versions, shapes and lengths decode or raise a typed error', () => {
    fc.assert(
      fc.property(header, (h) => {
        const text = new TextEncoder().encode(`{'descr': '${h.descr}', 'fortran_order': ${h.fortran}, 'shape': (${h.shape}), }\n`);
        const pre = h.version === 1 ? 10 : 12;
        const b = new Uint8Array(pre + text.length + h.body);
        b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, h.version, 0]);
        const dv = new DataView(b.buffer);
        if (h.version === 1) dv.setUint16(8, (h.hlen ?? text.length) & 0xffff, true);
        else dv.setUint32(8, (h.hlen ?? text.length) >>> 0, true);
        b.set(text, pre);
        const before = process.memoryUsage().arrayBuffers;
        expectClean('decodeNpy(headers)', b, () => decodeNpy(b), 1000);
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(256 * 2 ** 20);
      }),
      fuzzParams(600, 9302),
    );
  });

  it('short files of every version are rejected cleanly', () => {
    for (let n = 0; n < 14; n++) {
      for (const v of [1, 2, 3]) {
        const b = new Uint8Array(n);
        b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, v, 0].slice(0, n));
        expectClean('decodeNpy(short)', b, () => decodeNpy(b), 1000);
      }
    }
  });
});

// ---- TF.js graph models ---------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path (list of keys) inside a JSON value, up to `max`. */
function jsonPaths(v: Json, max = 400): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (x: Json, p: (string | number)[]) => {
    if (out.length >= max) return;
    out.push(p);
    if (Array.isArray(x)) x.forEach((y, i) => walk(y, [...p, i]));
    else if (x && typeof x === 'object') for (const [k, y] of Object.entries(x)) walk(y, [...p, k]);
  };
  walk(v, []);
  return out;
}

function setAt(v: Json, path: (string | number)[], value: Json | undefined): Json {
  if (!path.length) return value ?? null;
  const copy = structuredClone(v) as Record<string | number, Json>;
  let cur = copy;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (value === undefined) {
    if (Array.isArray(cur)) cur.splice(last as number, 1);
    else delete cur[last];
  } else cur[last] = value;
  return copy;
}

const jsonEdit = fc.record({
  path: fc.nat(),
  value: fc.option(
    fc.oneof(
      fc.constantFrom<Json>(null, -1, 0, 1e12, 2 ** 31, -(2 ** 31), 1.5, 'float32', 'string', 'int32', 'complex64', 'bool', 'uint8', 'float16', '../../../etc/passwd', '', [], {}, [2 ** 30, 2 ** 30], [-1], { dtype: 'uint8' }, { dtype: 'float16' }, { dtype: 'uint8', scale: 1, min: 0 }),
      fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
    ),
    { nil: undefined },
  ),
});

describe('readTfjsModel', () => {
  let dir: string;
  const seeds: { json: Json; shards: Map<string, Uint8Array> }[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tfpass-fuzz-tfjs-'));
    for (const [i, q] of [[1, undefined], [2, 'uint8'], [3, 'float16']] as const) {
      const g = randomGraph(i, { depth: 2, size: 4 }).graph;
      g.addNode({ name: 'labels', op: 'Const', attrs: { dtype: { type: 'string' }, value: { tensor: Tensor.fromValues('string', [2], ['cat', 'dog']) } } });
      const d = join(dir, `seed${i}`);
      writeTfjsModel(g, d, { quantize: q, shardBytes: 256 });
      const shards = new Map<string, Uint8Array>();
      for (const f of readdirSync(d)) if (f.endsWith('.bin')) shards.set(f, readFileSync(join(d, f)));
      seeds.push({ json: JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')), shards });
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let k = 0;
  const write = (json: string, shards: Map<string, Uint8Array>): string => {
    const d = join(dir, `run${k++ % 8}`);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d);
    writeFileSync(join(d, 'model.json'), json);
    for (const [f, b] of shards) writeFileSync(join(d, f), b);
    return d;
  };

  it('the seeds read back', () => {
    for (const s of seeds) expect(readTfjsModel(write(JSON.stringify(s.json), s.shards)).size).toBeGreaterThan(3);
  });

  it('structurally edited model.json files read or raise a typed error', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(jsonEdit, { minLength: 1, maxLength: 3 }), (si, edits) => {
        const s = seeds[si % seeds.length]!;
        let json = s.json;
        for (const e of edits) {
          const paths = jsonPaths(json);
          json = setAt(json, paths[e.path % paths.length]!, e.value);
        }
        const d = write(JSON.stringify(json), s.shards);
        const before = process.memoryUsage().arrayBuffers;
        expectClean('readTfjsModel(json edits)', JSON.stringify(json), () => readTfjsModel(d));
        const grew = process.memoryUsage().arrayBuffers - before;
        if (grew > 256 * 2 ** 20) throw new Error(`readTfjsModel allocated ${(grew / 2 ** 20).toFixed(0)} MiB for ${JSON.stringify(json).slice(0, 300)}`);
      }),
      fuzzParams(200, 9401),
    );
  });

  it('mutated model.json text and shard bytes read or raise a typed error', () => {
    fc.assert(
      fc.property(fc.nat(), fc.boolean(), fc.array(textMutationArb, { minLength: 1, maxLength: 2 }), fc.array(mutationArb, { minLength: 1, maxLength: 2 }), (si, shardSide, tm, bm) => {
        const s = seeds[si % seeds.length]!;
        let text = JSON.stringify(s.json);
        const shards = new Map(s.shards);
        if (shardSide) {
          const names = [...shards.keys()];
          const f = names[si % names.length]!;
          let b = shards.get(f)!;
          for (const m of bm) b = applyMutation(b, m);
          shards.set(f, b);
        } else for (const m of tm) text = applyTextMutation(text, m);
        const d = write(text, shards);
        expectClean('readTfjsModel(bytes)', text, () => readTfjsModel(d));
      }),
      fuzzParams(200, 9402),
    );
  });
});

// ---- plugin manifests -------------------------------------------------------------------------

describe('plugin manifests', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tfpass-fuzz-plugins-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const good: Json = {
    name: 'tfpass-pass-fuzz',
    version: '1.2.3',
    type: 'module',
    peerDependencies: { '@tfpass/core': '^1.0.0' },
    tfpass: { apiVersion: 1, entry: './index.js', passes: [{ name: 'fuzz_pass', summary: 'does nothing' }] },
  };

  let k = 0;
  /** Discover, check compatibility and announce into a private registry, as hosts do. */
  const discover = (pkgJson: string): void => {
    const root = join(dir, `p${k++ % 8}`);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(root, 'node_modules', 'tfpass-pass-fuzz'), { recursive: true });
    mkdirSync(join(root, 'node_modules', '@scope', 'pkg'), { recursive: true });
    writeFileSync(join(root, 'node_modules', 'tfpass-pass-fuzz', 'package.json'), pkgJson);
    writeFileSync(join(root, 'node_modules', '@scope', 'pkg', 'package.json'), pkgJson);
    const found = discoverPlugins({ cwd: root });
    for (const p of found) incompatibility(p);
    announcePlugins(found, new PassRegistry());
    // The CLI reads an explicit `--plugin PATH` manifest with its own reader.
    loadHost({ cwd: root, plugins: [join(root, 'node_modules', 'tfpass-pass-fuzz')] });
  };

  it('structurally edited manifests are discovered, skipped or rejected with a typed error', () => {
    fc.assert(
      fc.property(fc.array(jsonEdit, { minLength: 1, maxLength: 3 }), (edits) => {
        let json: Json = good;
        for (const e of edits) {
          const paths = jsonPaths(json);
          json = setAt(json, paths[e.path % paths.length]!, e.value);
        }
        expectClean('discoverPlugins(manifest edits)', json, () => discover(JSON.stringify(json)), 2000);
      }),
      fuzzParams(40, 9501),
    );
  });

  it('mutated package.json text is skipped or rejected with a typed error', () => {
    fc.assert(
      fc.property(fc.array(textMutationArb, { minLength: 1, maxLength: 3 }), (muts) => {
        let s = JSON.stringify(good);
        for (const m of muts) s = applyTextMutation(s, m);
        expectClean('discoverPlugins(text)', s, () => discover(s), 2000);
      }),
      fuzzParams(20, 9502),
    );
  });
});
