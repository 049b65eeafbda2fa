import type { Graph } from '@tfpass/core';
import type { Model } from '@tfpass/tflite';

/**
 * The comparison graph of spec §4.3, "the float simulation with the TFLite-side parameters": a copy
 * of `fq` with a FakeQuant after every array the int8 model quantizes but `fq` leaves float (e.g.
 * the inside of an instance norm, ranged from a calibration file), carrying the int8 tensor's own
 * scale and zero point (min = (−128 − zp)·s, max = (127 − zp)·s, which FakeQuant's nudging maps
 * back to exactly s and zp). Arrays `fq` already fake-quantizes are left as they are.
 */
export function mirrorInt8Params(fq: Graph, model: Model): { graph: Graph; added: string[] } {
  const g = fq.clone();
  const sg = model.subgraphs[0]!;
  const added: string[] = [];
  const isFq = (op: string) => op.startsWith('FakeQuant');
  for (const t of sg.tensors) {
    const q = t.quantization;
    if (t.type !== 'int8' || !q?.scale?.length || q.scale.length !== 1 || model.buffers[t.buffer]?.data?.length) continue;
    // `<array>_int8` is the int8 side of a float model output (its DEQUANTIZE gives `<array>`).
    const array = g.get(t.name) ? t.name : t.name.replace(/_int8$/, '');
    const node = g.get(array);
    if (!node || isFq(node.op) || node.op === 'Placeholder') continue;
    if (g.tensorConsumers(array).some((c) => isFq(c.node.op))) continue;
    const [s, zp] = [q.scale[0]!, q.zeroPoint![0]!];
    const name = g.uniqueName(`${array}/tflite_params`);
    g.addNode({ name, op: 'FakeQuantWithMinMaxArgs', inputs: [array], attrs: { min: { f: (-128 - zp) * s }, max: { f: (127 - zp) * s }, num_bits: { i: 8 }, narrow_range: { b: false } } });
    g.replaceUses(array, name, { except: new Set([name]) });
    added.push(array);
  }
  return { graph: g, added };
}
