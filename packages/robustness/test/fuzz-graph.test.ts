/**
 * Fuzz core's graph reader: binary GraphDef, MetaGraphDef and SavedModel bytes, and text
 * GraphDefs, seeded from real models and generated graphs, mutated by bit flips, truncation,
 * length prefixes set to huge values, random bytes and spliced chunks.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph, Tensor, createMetaModel, encodeGraph, encodeModel, readModel, type ContainerKind } from '@tfpass/core';
import { randomGraph } from '@tfpass/runtime/testing';
import { applyMutation, applyTextMutation, expectClean, fuzzParams, lengthFields, modelFile, mutationArb, printTally, textMutationArb, GiB } from './helpers.js';

afterAll(printTally);

/** Parse, then (on success) encode again: an accepted graph must also be writable. */
function readAndWrite(bytes: Uint8Array, kind?: ContainerKind, name = 'fuzz.pb'): void {
  const m = readModel(bytes, { kind, name });
  encodeModel(m, 'binary');
}

function generatedGraph(seed: number): Uint8Array {
  const g = randomGraph(seed, { depth: 3, size: 4 }).graph;
  // A string and an int64 Const too, so mutations reach those TensorProto fields.
  g.addNode({ name: 'names', op: 'Const', attrs: { dtype: { type: 'string' }, value: { tensor: Tensor.fromValues('string', [2], ['a', 'bc']) } } });
  g.addNode({ name: 'big', op: 'Const', attrs: { dtype: { type: 'int64' }, value: { tensor: Tensor.fromValues('int64', [2], [1, -2]) } } });
  return encodeGraph(g, 'binary') as Uint8Array;
}

interface Seed { name: string; bytes: Uint8Array; kind?: ContainerKind }

function binarySeeds(): Seed[] {
  const seeds: Seed[] = [
    { name: 'generated GraphDef', bytes: generatedGraph(1) },
    { name: 'generated MetaGraphDef', bytes: encodeModel(createMetaModel(Graph.fromGraphDef(readModel(generatedGraph(2)).graph.toGraphDef()), { tags: ['serve'] }), 'binary') as Uint8Array, kind: 'meta' },
  ];
  const real: [string, ContainerKind | undefined][] = [
    ['litert-converter-testgraphs/multi_add.pb', undefined],
    ['tf2onnx-regression/graphdef/frozen.pb', undefined],
    ['armnn-simple-mnist/simple_mnist_tf.pb', undefined],
    ['tf2onnx-regression/checkpoint/model.meta', 'meta'],
    ['tf2onnx-regression/saved_model/saved_model.pb', 'saved_model'],
    ['tf-serving-half-plus-two/saved_model.pb', 'saved_model'],
  ];
  for (const [rel, kind] of real) {
    const b = modelFile(rel);
    if (b) seeds.push({ name: rel, bytes: b, kind });
  }
  return seeds;
}

describe('readModel on mutated binary protobufs', () => {
  const seeds = binarySeeds();
  const fields = seeds.map((s) => lengthFields(s.bytes));

  it('seeds parse and have length fields to corrupt', () => {
    for (const [i, s] of seeds.entries()) {
      expect(() => readAndWrite(s.bytes, s.kind, s.name), s.name).not.toThrow();
      expect(fields[i]!.length, s.name).toBeGreaterThan(3);
    }
  });

  it('every mutation parses or throws a typed error, quickly and without big allocations', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), fc.boolean(), (si, muts, forceKind) => {
        const seed = seeds[si % seeds.length]!;
        let b = seed.bytes;
        for (const m of muts) b = applyMutation(b, m, b === seed.bytes ? fields[si % seeds.length] : undefined);
        const huge = muts.some((m) => m.kind === 'length' && m.value >= GiB);
        const before = huge ? process.memoryUsage().arrayBuffers : 0;
        // Detection on its own, and with the container forced (as with a .meta / saved_model.pb name).
        expectClean('readModel(binary)', b, () => readAndWrite(b, forceKind ? seed.kind : undefined, seed.name), 3000);
        if (huge) {
          const grew = process.memoryUsage().arrayBuffers - before;
          if (grew > 256 * 2 ** 20) throw new Error(`a corrupted length made readModel allocate ${(grew / 2 ** 20).toFixed(0)} MiB`);
        }
      }),
      fuzzParams(400, 9001),
    );
  });

  it('random bytes (and random bytes after a valid prefix) are rejected cleanly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.constantFrom<ContainerKind | undefined>(undefined, 'graph', 'meta', 'saved_model'), (b, kind) => {
        expectClean('readModel(random bytes)', b, () => readAndWrite(b, kind));
        const prefixed = new Uint8Array([0x0a, b.length & 0x7f, ...b]);
        expectClean('readModel(random bytes)', prefixed, () => readAndWrite(prefixed, kind));
      }),
      fuzzParams(300, 9002),
    );
  });

  it('a real 1 MB model with one corrupted length still fails within the time bound', () => {
    const b = modelFile('keras-mobilenet-0.25-128/mnet.pb');
    if (!b) return;
    const fs = lengthFields(b, 400);
    expect(fs.length).toBeGreaterThan(100);
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom(2 * GiB, 0xffffffff, 7), (fi, value) => {
        const m = applyMutation(b, { kind: 'length', field: fi, value }, fs);
        expectClean('readModel(mnet.pb, length)', m, () => readAndWrite(m), 5000);
      }),
      fuzzParams(8, 9003),
    );
  });
});

describe('readModel on mutated text GraphDefs', () => {
  const seeds: string[] = [
    encodeGraph(readModel(generatedGraph(3)).graph, 'text') as string,
  ];
  for (const rel of ['litert-converter-testgraphs/quant_stats.pbtxt', 'litert-converter-testgraphs/fake_quant_without_identity.pbtxt']) {
    const b = modelFile(rel);
    if (b) seeds.push(new TextDecoder().decode(b));
  }

  it('every text mutation parses or throws a typed error with a position', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(textMutationArb, { minLength: 1, maxLength: 3 }), (si, muts) => {
        let s = seeds[si % seeds.length]!;
        for (const m of muts) s = applyTextMutation(s, m);
        const b = new TextEncoder().encode(s);
        expectClean('readModel(text)', s, () => readAndWrite(b, undefined, 'fuzz.pbtxt'));
      }),
      fuzzParams(100, 9004),
    );
  });

  it('paths: .meta / saved_model.pb names force the container, and mutated files read from disk stay clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-fuzz-'));
    try {
      const seeds = binarySeeds();
      fc.assert(
        fc.property(fc.nat(), mutationArb, fc.constantFrom('g.pb', 'm.meta', 'saved_model.pb', 'g.pbtxt'), (si, mut, name) => {
          const s = seeds[si % seeds.length]!;
          const b = applyMutation(s.bytes, mut);
          const sub = join(dir, String(si % 7));
          rmSync(sub, { recursive: true, force: true });
          const p = join(sub, name);
          mkdirSync(sub, { recursive: true });
          writeFileSync(p, b);
          expectClean('readModel(file)', b, () => {
            const m = readModel(p);
            encodeModel(m);
          });
          // A SavedModel folder resolves to its saved_model.pb.
          if (name === 'saved_model.pb') expectClean('readModel(file)', b, () => readModel(sub));
        }),
        fuzzParams(60, 9005),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
