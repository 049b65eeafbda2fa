/**
 * Test helper: run `.tflite` bytes on LiteRT.js directly (feeds and outputs in subgraph order),
 * through @tfpass/tflite's loader (the Node shim of spec §5.1 lives there, once).
 */
import { liteRt } from '@tfpass/tflite';

/** Run once: feeds in subgraph input order, outputs in subgraph output order. */
export async function runTflite(bytes: Uint8Array, feeds: { data: Float32Array | Int32Array | Uint8Array; shape: number[] }[]): Promise<(Float32Array | Int32Array | Uint8Array)[]> {
  const lrt = await liteRt();
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
