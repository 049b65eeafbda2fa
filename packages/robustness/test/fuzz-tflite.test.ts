/**
 * Fuzz `readTflite` (and `writeTflite` on whatever it accepts) with mutated `.tflite` files:
 * TOCO's tiny_conv.tflite from $TFPASS_MODELS and a model written by our own writer that uses
 * the less common tables (signature defs, custom options, per-axis quantization, metadata).
 * Besides the generic mutations, flatbuffer-aware ones overwrite aligned 32-bit words (uoffsets,
 * soffsets, vector lengths) and 16-bit words (vtable entries) with hostile values.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { formatTfliteSummary, readTflite, summarizeTflite, writeTflite, type Model } from '@tfpass/tflite';
import { applyMutation, expectClean, fuzzParams, modelFile, printTally, type Mutation } from './helpers.js';

afterAll(printTally);

function handBuilt(): Uint8Array {
  const weights = new Uint8Array(3 * 3 * 2 * 4).map((_, i) => (i * 37) & 0xff);
  const model: Model = {
    version: 3,
    description: 'fuzz seed',
    operatorCodes: [
      { builtin: 'CONV_2D', version: 3 },
      { builtin: 'CUSTOM', customCode: 'MyOp', version: 1 },
      { builtin: 'BROADCAST_TO', version: 2 },
    ],
    buffers: [{}, { data: weights }, { data: new Uint8Array(16) }, {}, {}, { data: new TextEncoder().encode('1.14.0') }],
    subgraphs: [
      {
        name: 'main',
        inputs: [0],
        outputs: [4],
        tensors: [
          { name: 'x', type: 'int8', shape: [1, 5, 5, 2], shapeSignature: [-1, 5, 5, 2], buffer: 3, quantization: { scale: [0.5], zeroPoint: [-3] } },
          { name: 'w', type: 'int8', shape: [4, 3, 3, 2], buffer: 1, quantization: { scale: [0.1, 0.2, 0.3, 0.4], zeroPoint: [0, 0, 0, 0], quantizedDimension: 0 } },
          { name: 'b', type: 'int32', shape: [4], buffer: 2 },
          { name: 'y', type: 'int8', shape: [1, 3, 3, 4], buffer: 4, quantization: { min: [-1], max: [1], scale: [0.0078125], zeroPoint: [0] } },
          { name: 'z', type: 'int8', shape: [1, 3, 3, 4], buffer: 0, isVariable: false, hasRank: true },
        ],
        operators: [
          { opcodeIndex: 0, inputs: [0, 1, 2], outputs: [3], builtinOptions: { type: 'Conv2DOptions', padding: 'VALID', strideW: 1, strideH: 1, fusedActivationFunction: 'RELU6' } },
          { opcodeIndex: 1, inputs: [3, -1], outputs: [4], customOptions: new Uint8Array([1, 2, 3, 4]), customOptionsFormat: 'FLEXBUFFERS', intermediates: [2] },
        ],
      },
    ],
    metadata: [{ name: 'min_runtime_version', buffer: 5 }],
    signatureDefs: [{ signatureKey: 'serving_default', subgraphIndex: 0, inputs: [{ name: 'x', tensorIndex: 0 }], outputs: [{ name: 'z', tensorIndex: 4 }] }],
  };
  return writeTflite(model);
}

type FbMutation = { kind: 'word'; at: number; value: number } | { kind: 'half'; at: number; value: number };

const fbMutationArb: fc.Arbitrary<FbMutation> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      at: fc.nat(),
      value: fc.oneof(fc.constantFrom(0, 1, 3, 4, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffc, 0x40000000), fc.nat({ max: 1 << 16 })),
    }).map((r) => ({ kind: 'word' as const, ...r })),
  },
  {
    weight: 2,
    arbitrary: fc.record({ at: fc.nat(), value: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 0xfffe, 0xffff), fc.nat({ max: 512 })) }).map((r) => ({ kind: 'half' as const, ...r })),
  },
);

const genericArb = fc.constantFrom<Mutation['kind']>('flip', 'truncate', 'random', 'splice');

function applyFb(b: Uint8Array, m: FbMutation): Uint8Array {
  const out = b.slice();
  const view = new DataView(out.buffer);
  if (m.kind === 'word') {
    if (out.length < 4) return out;
    view.setUint32(((m.at % (out.length >> 2)) << 2), m.value >>> 0, true);
  } else {
    if (out.length < 2) return out;
    view.setUint16(((m.at % (out.length >> 1)) << 1), m.value, true);
  }
  return out;
}

function mutate(seed: Uint8Array, muts: (FbMutation | Mutation)[]): Uint8Array {
  let b = seed;
  for (const m of muts) b = m.kind === 'word' || m.kind === 'half' ? applyFb(b, m) : applyMutation(b, m);
  return b;
}

const seeds: Uint8Array[] = [handBuilt()];
const tiny = modelFile('speech-tiny-conv-qat/tiny_conv.tflite');
if (tiny) seeds.push(tiny);
else console.log('[fuzz] TFPASS_MODELS unavailable: fuzzing the hand-built .tflite only');

const mutationsArb = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fbMutationArb },
    {
      weight: 2,
      arbitrary: fc.tuple(genericArb, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.nat(), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.integer({ min: 1, max: 128 })).map(
        ([kind, bits, a, c, bytes, len]): Mutation => {
          switch (kind) {
            case 'flip': return { kind, bits };
            case 'truncate': return { kind, at: a };
            case 'random': return { kind, at: a, bytes };
            default: return { kind: 'splice', from: a, to: c, len };
          }
        },
      ),
    },
  ),
  { minLength: 1, maxLength: 3 },
);

describe('readTflite', () => {
  it('the seeds read and round-trip', () => {
    for (const s of seeds) {
      const m = readTflite(s);
      expect(readTflite(writeTflite(m)).subgraphs[0]!.tensors.length).toBe(m.subgraphs[0]!.tensors.length);
    }
  });

  it('mutated .tflite files read or raise E_GRAPH_FORMAT; what reads also summarizes, writes and reads again', () => {
    fc.assert(
      fc.property(fc.nat(), mutationsArb, (si, muts) => {
        const b = mutate(seeds[si % seeds.length]!, muts);
        const m = expectClean('readTflite(mutated)', b, () => readTflite(b, { file: 'fuzz.tflite' }), 1000);
        if (m) {
          // Whatever reads must summarize (the CLI's `summarize`), and write and read back.
          expectClean('summarizeTflite(read of mutated)', b, () => formatTfliteSummary(summarizeTflite(m), { layers: 0 }), 1000);
          expectClean('writeTflite(read of mutated)', b, () => readTflite(writeTflite(m)), 1000);
        }
      }),
      fuzzParams(6000, 13_001),
    );
  });

  it('errors name the file and a byte offset', () => {
    const b = seeds[0]!.slice(0, seeds[0]!.length >> 1);
    expect(() => readTflite(b, { file: 'half.tflite' })).toThrow(/^half\.tflite:byte \d+: /);
  });
});
