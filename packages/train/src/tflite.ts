/**
 * The end of a QAT run: the frozen fake-quant graph converted by @tfpass/toco and checked on
 * LiteRT.js against that same graph on the user's examples. @tfpass/toco and @tfpass/tflite
 * are loaded when asked for (optional: training alone does not need them).
 */

import { Graph, Tensor, TfpassError, inferShapes, parseInput } from '@tfpass/core';
import { writeFileAtomic } from '@tfpass/core';
import { createExecutor, runGraph, type BackendName } from '@tfpass/runtime';

export type TfliteType = 'INT8' | 'QUANTIZED_UINT8' | 'FLOAT';

export interface TfliteCheck {
  file: string;
  inferenceType: TfliteType;
  examples: number;
  /** Output difference in LSB of the output scale (quantized outputs only). */
  lsb?: { max: number; mean: number; within1: number };
  /** Fraction of examples (classifier) or pixels (segmenter) whose argmax is the same. */
  agreement: number;
  /** Of the .tflite's dequantized outputs against the fake-quant graph's. */
  sqnrDb: number;
  notes: string[];
}

export interface TfliteOptions {
  input: string;
  output: string;
  out: string;
  inferenceType: TfliteType;
  /** Examples one by one, [1, ...] each (as the converted model takes them). */
  examples: Tensor[];
  /** The input's real range (images: pixels 0–255 through --mean/--std); default the examples' own. */
  inputRange?: [number, number];
  backend?: BackendName;
}

/** [min, max] over tensors, widened to contain 0 as TOCO's ranges do. */
function spanOf(ts: Tensor[]): [number, number] {
  let lo = 0, hi = 0;
  for (const t of ts) for (const v of t.toFloat32()) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return [lo, hi > lo ? hi : lo + 1];
}

export async function convertAndCheck(frozen: Graph, o: TfliteOptions): Promise<TfliteCheck> {
  const toco = await import('@tfpass/toco');
  const tfl = await import('@tfpass/tflite');
  const out = parseInput(o.output).node;
  const shape = o.examples[0]?.shape;
  if (!shape) throw new TfpassError('E_USAGE', '--out_tflite: no example to check the .tflite with');
  const quantized = o.inferenceType !== 'FLOAT';
  const io = o.inferenceType === 'INT8' ? 'int8' : o.inferenceType === 'QUANTIZED_UINT8' ? 'uint8' : 'float32';
  // Ranges the fake-quant graph does not carry: its input (contrib never quantizes it; TOCO's
  // --mean_values/--std_dev_values give it) and a float output (the logits of a final layer
  // with no activation). The output's comes from the fake-quant graph on the check examples.
  const ranges: Record<string, { min: number; max: number }> = {};
  const notesOut: string[] = [];
  if (quantized) {
    if (!frozen.consumersOf(o.input).some((c) => c.node.op.startsWith('FakeQuant'))) {
      const [min, max] = o.inputRange ?? spanOf(o.examples);
      ranges[o.input] = { min, max };
      notesOut.push(`input ${o.input}: range [${min}, ${max}] (${o.inputRange ? 'pixels 0–255 through --mean/--std' : 'the check examples'})`);
    }
    if (!frozen.producer(o.output)?.op.startsWith('FakeQuant')) {
      const outs: Tensor[] = [];
      for (const x of o.examples) outs.push((await runGraph(frozen, { [o.input]: x }, [o.output], { backend: o.backend }))[0]!);
      const [min, max] = spanOf(outs);
      ranges[out] = { min, max };
      notesOut.push(`output ${out} has no fake quant: range [${min.toPrecision(4)}, ${max.toPrecision(4)}] from the fake-quant graph on ${o.examples.length} examples`);
    }
  }
  if (quantized) {
    // Arrays no fake quant covers (e.g. inside a fused instance norm) get ranges the way TFLite's
    // calibrator records them: min/max of every float tensor over the check examples. Ranges from
    // fake quants always win (toco fills only what is missing).
    const { calibrate } = await import('@tfpass/quantize');
    const types = inferShapes(frozen);
    const arrays = frozen.nodes().filter((n) => n.op !== 'Const' && !n.op.startsWith('FakeQuant') && types.get(n.name)?.dtype === 'float32').map((n) => n.name);
    const measured = await calibrate(frozen, { inputs: [o.input], data: o.examples.map((x) => ({ [o.input]: x })), method: 'minmax', executor: createExecutor({ backend: o.backend }), tensors: arrays });
    let filled = 0;
    for (const [k, r] of Object.entries(measured)) {
      if (k in ranges || !('min' in (r as object))) continue;
      ranges[k] = r as { min: number; max: number };
      filled++;
    }
    if (filled) notesOut.push(`${filled} arrays without a fake quant take their range from ${o.examples.length} check examples (min/max, as TFLite's calibrator); fake-quant ranges are kept`);
  }
  const { model, notes } = toco.convertGraph(frozen, {
    inferenceType: o.inferenceType,
    inputArrays: [o.input],
    inputShapes: [[...shape]],
    outputArrays: [out],
    quantize: quantized ? { inferenceInputType: io, inferenceOutputType: io, rangesFromFile: ranges } : undefined,
  });
  const bytes = tfl.writeTflite(model);
  writeFileAtomic(o.out, bytes);
  const runner = await tfl.loadTfliteRunner(bytes, { file: o.out });
  try {
    const inp = runner.inputs[0]!, res = runner.outputs[0]!;
    let lsbMax = 0, lsbSum = 0, within = 0, count = 0, same = 0, rows = 0, s = 0, e = 0;
    for (const x of o.examples) {
      // The .tflite reads a quantized input: the fake-quant graph is fed its dequantized value,
      // so both see the same numbers and only the conversion differs.
      let feed: Tensor = x;
      let q: Int8Array | Uint8Array | Float32Array = x.toFloat32();
      if (quantized) {
        const scale = inp.scale!, zp = inp.zeroPoint!;
        const [lo, hi] = io === 'int8' ? [-128, 127] : [0, 255];
        const v = x.toFloat32();
        q = io === 'int8' ? new Int8Array(v.length) : new Uint8Array(v.length);
        for (let i = 0; i < v.length; i++) q[i] = Math.min(hi, Math.max(lo, Math.round(v[i]! / scale) + zp));
        feed = new Tensor('float32', x.shape, Float32Array.from(q, (k) => scale * (k - zp)));
      }
      const [ref] = await runGraph(frozen, { [o.input]: feed }, [o.output], { backend: o.backend });
      const want = ref!.toFloat32();
      const got = (await runner.run({ [inp.name]: q }))[res.name]!;
      const deq = quantized ? Float32Array.from(got as Int8Array, (k) => res.scale! * (k - res.zeroPoint!)) : (got as Float32Array);
      if (deq.length !== want.length) throw new TfpassError('E_INTERNAL', `${o.out}: output ${res.name} has ${deq.length} values, the fake-quant graph's ${o.output} ${want.length}`);
      for (let i = 0; i < want.length; i++) {
        s += want[i]! ** 2;
        e += (want[i]! - deq[i]!) ** 2;
        if (quantized) {
          const d = Math.abs(want[i]! / res.scale! - deq[i]! / res.scale!);
          lsbMax = Math.max(lsbMax, d);
          lsbSum += d;
          if (d <= 1 + 1e-3) within++;
          count++;
        }
      }
      // Argmax over the last axis: a class per example or per pixel.
      const classes = ref!.shape[ref!.shape.length - 1]!;
      for (let r = 0; r < want.length / classes; r++, rows++) if (argmax(want, r * classes, classes) === argmax(deq, r * classes, classes)) same++;
    }
    return {
      file: o.out,
      inferenceType: o.inferenceType,
      examples: o.examples.length,
      lsb: quantized ? { max: lsbMax, mean: lsbSum / Math.max(count, 1), within1: within / Math.max(count, 1) } : undefined,
      agreement: same / Math.max(rows, 1),
      sqnrDb: 10 * Math.log10(s / Math.max(e, 1e-30)),
      notes: [...notesOut, ...notes.filter((n) => n.level === 'warning').map((n) => (n.node ? `${n.node}: ${n.message}` : n.message))],
    };
  } finally {
    runner.close();
  }
}

function argmax(v: Float32Array, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[off + i]! > v[off + best]!) best = i;
  return best;
}

