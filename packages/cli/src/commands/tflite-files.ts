/**
 * The `.tflite` side of `summarize` and `convert`. Files are told apart by content: a TFLite
 * flatbuffer carries the identifier `TFL3` at bytes 4–7. @tfpass/tflite loads only here.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { FileError } from '@tfpass/core/errors';
import type * as Tflite from '@tfpass/tflite';
import type { Ctx } from '../ui.js';
import { checkNotInput } from '../graphs.js';
import { needModule } from '../optional.js';

/** True when `path` is a regular file whose bytes 4–7 are `TFL3`, or named `*.tflite` (so a
 *  truncated or corrupt .tflite gets the TFLite reader's error, not a GraphDef one). */
export function isTfliteFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    if (/\.tflite$/i.test(path)) return true;
    const fd = openSync(path, 'r');
    try {
      const head = new Uint8Array(8);
      return readSync(fd, head, 0, 8, 0) === 8 && String.fromCharCode(...head.subarray(4)) === 'TFL3';
    } finally {
      closeSync(fd);
    }
  } catch {
    return false; // missing or unreadable: the GraphDef path reports it
  }
}

async function tflite(command: string) {
  return needModule<typeof Tflite>('@tfpass/tflite', ['readTflite', 'writeTflite', 'summarizeTflite', 'formatTfliteSummary'], command);
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FileError(path, `cannot read: ${(e as Error).message}`, { cause: e });
  }
}

/** `tfpass summarize MODEL.tflite [--json] [--layers N]`. */
export async function summarizeTfliteFile(ctx: Ctx, path: string): Promise<number> {
  const t = await tflite(ctx.command);
  const model = t.readTflite(readBytes(path), { file: path });
  const summary = t.summarizeTflite(model);
  ctx.emit({ in_graph: path, format: 'tflite', ...summary });
  for (const l of t.formatTfliteSummary(summary, { file: path, layers: ctx.num('layers') ?? 50 })) ctx.print(l);
  return 0;
}

/** `tfpass convert X.tflite Y.tflite`: decode and re-encode with the writer's layout rules. */
export async function convertTfliteFile(ctx: Ctx, src: string, dst: string): Promise<number> {
  checkNotInput(src, dst, ctx.bool('force'));
  const t = await tflite(ctx.command);
  const core = await import('@tfpass/core');
  const input = readBytes(src);
  const model = t.readTflite(input, { file: src });
  const bytes = t.writeTflite(model);
  ctx.outputPath(dst);
  core.writeFileAtomic(dst, bytes);
  const ops = model.subgraphs.reduce((a, g) => a + g.operators.length, 0);
  ctx.emit({ ok: true, in: src, out: dst, from: 'TFLite flatbuffer', to: 'TFLite flatbuffer', operators: ops, bytesIn: input.length, bytesOut: bytes.length });
  ctx.print(`converted ${src} (TFLite, ${input.length} bytes) -> ${dst} (TFLite, ${bytes.length} bytes), ${ops} operators`);
  return 0;
}
