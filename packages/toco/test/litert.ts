/**
 * Test helper: run `.tflite` bytes on LiteRT.js with the Node shim of spec §5.1. Tests use the
 * runtime colleague's `loadTfliteRunner` once `@tfpass/tflite` exports it; this is the fallback.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import vm from 'node:vm';

type LiteRt = typeof import('@litertjs/core');
let loading: Promise<LiteRt> | undefined;

async function load(): Promise<LiteRt> {
  const req = createRequire(import.meta.url);
  const wasmDir = join(dirname(req.resolve('@litertjs/core/package.json')), 'wasm');
  const g = globalThis as Record<string, unknown>;
  g.require ??= req;
  g.self ??= globalThis;
  g.__dirname ??= wasmDir;
  g.importScripts ??= (url: string | URL) => {
    const path = String(url).startsWith('file:') ? new URL(String(url)) : String(url);
    vm.runInThisContext(readFileSync(path, 'utf8'), { filename: String(url) });
  };
  const mod = (await import('@litertjs/core')) as LiteRt;
  const pending = mod.getGlobalLiteRtPromise();
  if (pending) await pending;
  else await mod.loadLiteRt(wasmDir + '/');
  return mod;
}

/** Run once: feeds in subgraph input order, outputs in subgraph output order. */
export async function runTflite(bytes: Uint8Array, feeds: { data: Float32Array | Int32Array | Uint8Array; shape: number[] }[]): Promise<(Float32Array | Int32Array | Uint8Array)[]> {
  const lrt = await (loading ??= load());
  const model = await lrt.loadAndCompile(bytes, { accelerator: 'wasm' });
  try {
    const ins = feeds.map((f) => new lrt.Tensor(f.data, f.shape));
    const outs = await model.run(ins);
    const r = outs.map((t) => t.toTypedArray() as Float32Array | Int32Array | Uint8Array);
    for (const t of [...ins, ...outs]) t.delete();
    return r.map((a) => a.slice());
  } finally {
    model.delete();
  }
}
