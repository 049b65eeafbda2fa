import type { Graph } from '@tfpass/core';
import type { Model, Tensor } from '@tfpass/tflite';

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
  /** A FakeQuant on `t`'s int8 grid reading `input`, named after `base`. */
  const onGrid = (t: Tensor, input: string, base: string): string => {
    const [s, zp] = [t.quantization!.scale![0]!, t.quantization!.zeroPoint![0]!];
    return g.addNode({ name: g.uniqueName(base), op: 'FakeQuantWithMinMaxArgs', inputs: [input], attrs: { min: { f: (-128 - zp) * s }, max: { f: (127 - zp) * s }, num_bits: { i: 8 }, narrow_range: { b: false } } }).name;
  };
  /** Put a FakeQuant between `array` and every reader of it. */
  const after = (t: Tensor, array: string, base: string) => {
    const name = onGrid(t, array, base);
    g.replaceUses(array, name, { except: new Set([name]) });
    added.push(t.name === `${array}_int8` ? array : t.name);
  };
  const requantized: Tensor[] = [];
  for (const t of sg.tensors) {
    const q = t.quantization;
    if (t.type !== 'int8' || !q?.scale?.length || q.scale.length !== 1 || model.buffers[t.buffer]?.data?.length) continue;
    if (t.name.endsWith('/requantize_in')) {
      requantized.push(t);
      continue;
    }
    // `<sqrt>/rsqrt`: the converter's x · rsqrt(v) for x / sqrt(v); the graph gets the same form.
    const sqrt = t.name.endsWith('/rsqrt') ? g.get(t.name.slice(0, -'/rsqrt'.length)) : undefined;
    if (sqrt?.op === 'Sqrt') {
      const r = g.addNode({ name: g.uniqueName(`${sqrt.name}/rsqrt`), op: 'Rsqrt', inputs: [sqrt.dataInputs[0]!], attrs: { T: { type: 'float32' } } }).name;
      const rq = onGrid(t, r, `${r}/tflite_params`);
      for (const c of g.tensorConsumers(sqrt.name)) {
        if (c.node.op !== 'RealDiv' || c.index !== 1) continue;
        const [num] = c.node.dataInputs;
        g.removeNode(c.node.name);
        g.addNode({ name: c.node.name, op: 'Mul', inputs: [num!, rq], attrs: { T: { type: 'float32' } } });
      }
      added.push(t.name);
      continue;
    }
    // `<array>_int8` is the int8 side of a float model output (its DEQUANTIZE gives `<array>`).
    const array = g.get(t.name) ? t.name : t.name.replace(/_int8$/, '');
    const node = g.get(array);
    if (!node || isFq(node.op) || node.op === 'Placeholder') continue;
    if (g.tensorConsumers(array).some((c) => isFq(c.node.op))) continue;
    after(t, array, `${array}/tflite_params`);
  }
  // `<array>/requantize_in`: a same-scale op wrote its input's grid before a QUANTIZE moved the
  // values to the array's own; the graph rounds onto that grid first, too (before the array's own).
  for (const t of requantized) {
    const array = t.name.slice(0, -'/requantize_in'.length);
    if (g.get(array)) after(t, array, `${array}/tflite_requantize_in`);
  }
  return { graph: g, added };
}
