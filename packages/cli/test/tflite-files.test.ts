/**
 * `tfpass summarize X.tflite` and `tfpass convert X.tflite Y.tflite`, in-process (sources, no
 * build): the file is recognised by its TFL3 identifier, not its extension.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelsDir } from '@tfpass/core/testing';
import { readTflite } from '@tfpass/tflite';
import { main, type Io } from '../src/index.js';

function capture(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', tty: false, cwd: process.cwd(), out: (s: string) => void (io.stdout += s), err: (s: string) => void (io.stderr += s) };
  return io;
}

const dir = modelsDir();
const tiny = dir ? join(dir, 'speech-tiny-conv-qat/tiny_conv.tflite') : undefined;
if (!tiny) console.log('skipping tflite CLI tests: TFPASS_MODELS unset and ../shared/models absent');

describe.skipIf(!tiny)('tflite files in the CLI', () => {
  it('summarize MODEL.tflite prints operators, quantization and metadata; --json carries the same', async () => {
    const io = capture();
    expect(await main(['summarize', tiny!], io)).toBe(0);
    expect(io.stdout).toContain('Op types used: 1 DEPTHWISE_CONV_2D v1, 1 FULLY_CONNECTED v1, 1 SOFTMAX v1');
    expect(io.stdout).toContain('min_runtime_version 1.5.0');
    expect(io.stdout).toMatch(/add_1 +uint8 +\[1,6\] .*scale=0\.21404096 zero_point=137/);
    expect(io.stdout).toContain('MACs: 674,240');
    const j = capture();
    expect(await main(['summarize', `--in_graph=${tiny}`, '--json'], j)).toBe(0);
    const s = JSON.parse(j.stdout);
    expect(s.format).toBe('tflite');
    expect(s.subgraphs[0].operators.map((o: { builtin: string }) => o.builtin)).toEqual(['DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'SOFTMAX']);
    expect(s.subgraphs[0].tensors[4].quantization.zero_point).toEqual([137]);
  });

  it('a .tflite without the extension is still recognised', async () => {
    const d = mkdtempSync(join(tmpdir(), 'tfpass-tflite-cli-'));
    const p = join(d, 'model.bin');
    copyFileSync(tiny!, p);
    const io = capture();
    expect(await main(['summarize', p], io)).toBe(0);
    expect(io.stdout).toContain('TFLite model');
  });

  it('convert X.tflite Y.tflite round-trips to an identical decoded model; refuses to overwrite its input', async () => {
    const d = mkdtempSync(join(tmpdir(), 'tfpass-tflite-cli-'));
    const out = join(d, 'rt.tflite');
    const io = capture();
    expect(await main(['convert', tiny!, out], io)).toBe(0);
    const a = readTflite(readFileSync(tiny!));
    const b = readTflite(readFileSync(out));
    expect(b).toEqual(a);
    const copy = join(d, 'same.tflite');
    copyFileSync(tiny!, copy);
    const io2 = capture();
    expect(await main(['convert', copy, copy], io2)).not.toBe(0);
    expect(readFileSync(copy)).toEqual(readFileSync(tiny!));
  });

  it('a corrupt .tflite gives one E_GRAPH_FORMAT line with the byte offset', async () => {
    const d = mkdtempSync(join(tmpdir(), 'tfpass-tflite-cli-'));
    const p = join(d, 'cut.tflite');
    writeFileSync(p, readFileSync(tiny!).subarray(0, 4000));
    const io = capture();
    expect(await main(['summarize', p], io)).toBe(4);
    expect(io.stderr.trim().split('\n')).toHaveLength(1);
    expect(io.stderr).toMatch(/cut\.tflite:byte \d+: /);
    // Shorter than the identifier: still the TFLite reader's error, by the extension.
    writeFileSync(p, new Uint8Array([1, 2, 3]));
    const io2 = capture();
    expect(await main(['summarize', p], io2)).toBe(4);
    expect(io2.stderr).toMatch(/cut\.tflite:byte 0: file is 3 bytes, too short for a TFLite flatbuffer/);
  });
});
