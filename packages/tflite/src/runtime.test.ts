import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { modelPath } from '../../core/src/testing.js';
import { liteRt, loadTfliteRunner } from './runtime.js';
import { seededRandom } from './reference/random.js';
import { readTflite } from './read.js';
import { writeTflite } from './write.js';

const tinyConv = modelPath('speech-tiny-conv-qat/tiny_conv.tflite');

describe.skipIf(!tinyConv)('LiteRT.js runner on tiny_conv.tflite (TOCO 1.15, uint8)', () => {
  it('reports the file\'s I/O and gives outputs byte-identical to LiteRT.js called directly', async () => {
    const bytes = new Uint8Array(readFileSync(tinyConv!));
    const runner = await loadTfliteRunner(bytes, { file: 'tiny_conv.tflite' });
    expect(runner.inputs).toEqual([{ name: 'Reshape_2', index: 0, dtype: 'uint8', shape: [1, 98, 40, 1], scale: 0.10196070373058319, zeroPoint: 0 }]);
    expect(runner.outputs).toEqual([{ name: 'labels_softmax', index: 0, dtype: 'uint8', shape: [1, 6], scale: 0.00390625, zeroPoint: 0 }]);
    expect(runner.int8Shifted).toBe(false);
    const lrt = await liteRt();
    const direct = await lrt.loadAndCompile(bytes, { accelerator: 'wasm' });
    const rnd = seededRandom(7);
    let distinct = 0;
    for (let k = 0; k < 20; k++) {
      // Inputs: uint8 uniform over [0, 255], seed 7.
      const x = Uint8Array.from({ length: 98 * 40 }, () => Math.floor(rnd() * 256));
      const ours = (await runner.run({ Reshape_2: x })).labels_softmax!;
      const t = new lrt.Tensor(x, [1, 98, 40, 1]);
      const [o] = await direct.run([t]);
      const theirs = o!.toTypedArray();
      expect(ours).toBeInstanceOf(Uint8Array);
      expect(Array.from(ours)).toEqual(Array.from(theirs));
      if (ours.some((v) => v !== ours[0])) distinct++;
      t.delete();
      o!.delete();
    }
    // The outputs carry information (not a constant vector), so the equality above means something.
    expect(distinct).toBeGreaterThan(10);
    direct.delete();
    runner.close();
  });

  it('gives a typed one-line error for a wrong feed', async () => {
    const runner = await loadTfliteRunner(new Uint8Array(readFileSync(tinyConv!)), { file: 'tiny_conv.tflite' });
    await expect(runner.run({ Reshape_2: new Float32Array(98 * 40) })).rejects.toThrow(/input 'Reshape_2' is uint8, got Float32Array/);
    await expect(runner.run({ Reshape_2: new Uint8Array(5) })).rejects.toThrow(/has 3920 elements/);
    await expect(runner.run({})).rejects.toThrow(/input 'Reshape_2' .* is not fed/);
    runner.close();
  });
});

describe('LiteRT.js runner on bad input', () => {
  it('bytes that are not a TFLite file give E_GRAPH_FORMAT naming the file and offset', async () => {
    const err = await loadTfliteRunner(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), { file: 'junk.tflite' }).catch((e) => e);
    expect(err.code).toBe('E_GRAPH_FORMAT');
    expect(err.message).toMatch(/^junk\.tflite:.*byte 4/);
    expect(err.message).not.toMatch(/\n/);
  });

  it.skipIf(!tinyConv)('a well-formed file LiteRT refuses (unknown op version) carries LiteRT\'s reason in one line', async () => {
    const m = readTflite(new Uint8Array(readFileSync(tinyConv!)));
    const bad = writeTflite({ ...m, operatorCodes: m.operatorCodes.map((c, i) => (i === 0 ? { ...c, version: 99 } : c)) });
    const err = await loadTfliteRunner(bad, { file: 'v99.tflite' }).catch((e) => e);
    expect(err.code).toBe('E_GRAPH_FORMAT');
    expect(err.message).toMatch(/^v99\.tflite: LiteRT\.js cannot load the model: Didn't find op for builtin opcode 'DEPTHWISE_CONV_2D' version '99'/);
    expect(err.message).not.toMatch(/\n/);
  });
});
