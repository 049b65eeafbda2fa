/**
 * int8 model I/O → uint8 I/O, the rewrite of spec §3.2 "Boundaries" (what the MLIR converter does
 * for `inference_input_type=uint8`): each int8 input or output tensor of the main subgraph gets a
 * uint8 twin with the same scale and zero point + 128, joined to it by a QUANTIZE op. The twin
 * takes the tensor's name (so callers find their I/O under the same names) and the int8 tensor
 * becomes `<name>/int8`. Used to run int8-I/O models on LiteRT.js, whose API has no int8 tensors.
 */
import type { Model, Operator, Tensor } from './model.js';

export interface Uint8IoRewrite {
  model: Model;
  /** Positions in the main subgraph's `inputs`/`outputs` that were int8 and are now uint8. */
  inputs: Set<number>;
  outputs: Set<number>;
}

export function withUint8Io(model: Model): Uint8IoRewrite {
  const sg = model.subgraphs[0];
  const inputs = new Set<number>();
  const outputs = new Set<number>();
  if (!sg) return { model, inputs, outputs };
  sg.inputs.forEach((t, i) => sg.tensors[t]?.type === 'int8' && inputs.add(i));
  sg.outputs.forEach((t, i) => sg.tensors[t]?.type === 'int8' && outputs.add(i));
  if (!inputs.size && !outputs.size) return { model, inputs, outputs };

  const operatorCodes = [...model.operatorCodes];
  let quantize = operatorCodes.findIndex((c) => c.builtin === 'QUANTIZE' && c.version === 1);
  if (quantize < 0) quantize = operatorCodes.push({ builtin: 'QUANTIZE', version: 1 }) - 1;

  const tensors = [...sg.tensors];
  const twinOf = new Map<number, number>();
  const twin = (t: number): number => {
    let u = twinOf.get(t);
    if (u !== undefined) return u;
    const orig = tensors[t]!;
    const q = orig.quantization ?? {};
    const u8: Tensor = {
      ...orig,
      type: 'uint8',
      buffer: 0,
      quantization: { ...q, zeroPoint: (q.zeroPoint ?? [0]).map((z) => z + 128) },
    };
    tensors[t] = { ...orig, name: `${orig.name}/int8` };
    u = tensors.push(u8) - 1;
    twinOf.set(t, u);
    return u;
  };
  const head: Operator[] = [];
  const tail: Operator[] = [];
  const newInputs = sg.inputs.map((t, i) => {
    if (!inputs.has(i)) return t;
    const u = twin(t);
    head.push({ opcodeIndex: quantize, inputs: [u], outputs: [t] });
    return u;
  });
  const newOutputs = sg.outputs.map((t, i) => {
    if (!outputs.has(i)) return t;
    // A tensor that is both an input and an output already has its twin; feed it straight through.
    if (twinOf.has(t)) return twinOf.get(t)!;
    const u = twin(t);
    tail.push({ opcodeIndex: quantize, inputs: [t], outputs: [u] });
    return u;
  });
  const signatureDefs = model.signatureDefs.map((s) =>
    s.subgraphIndex !== 0 ? s : { ...s, inputs: s.inputs.map((m) => ({ ...m, tensorIndex: twinOf.get(m.tensorIndex) ?? m.tensorIndex })), outputs: s.outputs.map((m) => ({ ...m, tensorIndex: twinOf.get(m.tensorIndex) ?? m.tensorIndex })) },
  );
  const main = { ...sg, tensors, inputs: newInputs, outputs: newOutputs, operators: [...head, ...sg.operators, ...tail] };
  return { model: { ...model, operatorCodes, subgraphs: [main, ...model.subgraphs.slice(1)], signatureDefs }, inputs, outputs };
}
