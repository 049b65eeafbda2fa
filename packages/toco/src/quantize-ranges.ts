/** Where ranges come from before the converters derive the rest, and the all-at-once check. */
import type { TensorRange } from './lowered.js';
import type { QuantGraph } from './quant/graph.js';
import { QuantizationError } from './quant/errors.js';
import type { FileRange, QuantizeOptions } from './quantize.js';

const f32 = Math.fround;

const scalar = (v: number | number[], pick: (a: number, b: number) => number): number => (Array.isArray(v) ? v.reduce(pick) : v);

function fileRangeFor(file: Record<string, FileRange>, name: string): FileRange | undefined {
  return file[name] ?? file[name.endsWith(':0') ? name.slice(0, -2) : `${name}:0`];
}

/**
 * Ranges every converter starts from: FakeQuant ranges forced to contain 0 (TOCO's
 * ResolveFakeQuantArgsFromVars warning), then the `--ranges` file where no FakeQuant spoke, then
 * model inputs from mean/std (only when they have no range yet), in float32 as TOCO computes them.
 */
export function applyCommonRanges(g: QuantGraph, options: QuantizeOptions, qmin: number, qmax: number): void {
  const finite = (what: string, ...v: number[]) => {
    if (v.some((x) => !Number.isFinite(x))) throw new QuantizationError(`${what}: range [${v.join(', ')}] is not finite`);
  };
  for (const [t, r] of g.ranges) {
    finite(`array ${g.describe(t)} (from ${r.source})`, r.min, r.max, ...(r.perChannel?.min ?? []), ...(r.perChannel?.max ?? []));
    if (r.min > r.max) throw new QuantizationError(`array ${g.describe(t)} (from ${r.source}): min ${r.min} > max ${r.max}`);
  }
  if (options.defaultRanges) finite('--default_ranges_min/--default_ranges_max', options.defaultRanges.min, options.defaultRanges.max);
  for (const [t, r] of g.ranges) {
    if (r.min <= 0 && r.max >= 0) continue;
    g.notes.push({
      level: 'warning',
      node: r.source,
      message: `For ${r.source} the MinMax range [${r.min}, ${r.max}] does not contain 0. Proceeding by tweaking it to contain 0, which will result in poor accuracy.`,
    });
    g.ranges.set(t, { ...r, min: Math.min(r.min, 0), max: Math.max(r.max, 0) });
  }
  if (options.rangesFromFile) {
    const file = options.rangesFromFile;
    g.sg.tensors.forEach((t, i) => {
      if (g.ranges.has(i) || t.type !== 'float32' || g.isConst(i)) return;
      const fr = fileRangeFor(file, t.name);
      if (!fr) return;
      const min = Math.min(0, scalar(fr.min, Math.min));
      const max = Math.max(0, scalar(fr.max, Math.max));
      finite(`ranges file entry '${t.name}'`, min, max);
      g.ranges.set(i, { min, max, numBits: fr.numBits ?? 8, narrowRange: fr.narrowRange ?? false, source: 'ranges file' });
    });
  }
  const { meanValues: mean, stdValues: std } = options;
  if (mean || std) {
    const inputs = g.sg.inputs;
    if (!mean || !std) throw new QuantizationError('--mean_values and --std_dev_values must be given together');
    for (const [flag, v] of [['--mean_values', mean], ['--std_dev_values', std]] as const) {
      if (v.length !== inputs.length && v.length !== 1) throw new QuantizationError(`${flag} has ${v.length} values for ${inputs.length} input arrays`);
    }
    inputs.forEach((t, k) => {
      if (g.ranges.has(t) || !g.isFloat(t)) return;
      const m = f32(mean[mean.length === 1 ? 0 : k]!);
      const s = f32(std[std.length === 1 ? 0 : k]!);
      finite(`--mean_values for input '${g.describe(t)}'`, m);
      if (!(s > 0)) throw new QuantizationError(`--std_dev_values for input '${g.describe(t)}' must be > 0 (got ${s})`);
      g.ranges.set(t, { min: (qmin - m) / s, max: (qmax - m) / s, numBits: 8, narrowRange: false, source: 'mean/std' });
    });
  }
}

/**
 * TOCO's GetOrComputeMinMax for a constant without a FakeQuant: [min(0, data min), max(0, data
 * max)] (max 1 when all zero), with its warning unless the data holds only its extremes.
 */
export function constantRange(g: QuantGraph, t: number, data: Float32Array, consumer: string): TensorRange {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const onlyExtremes = data.every((v) => v === lo || v === hi);
  if (!onlyExtremes) {
    g.notes.push({
      level: 'warning',
      node: g.describe(t),
      message: `Constant array ${g.describe(t)} (input of ${consumer}) lacks MinMax information. To make up for that, we will now compute the MinMax from actual array elements. That will result in quantization parameters that probably do not match whichever arithmetic was used during training, and thus will probably be a cause of poor inference accuracy.`,
    });
  }
  const min = Math.min(0, lo);
  let max = Math.max(0, hi);
  if (min === 0 && max === 0) max = 1;
  return { min, max, numBits: 8, narrowRange: false, source: 'constant data' };
}

const ADVICE =
  "If accuracy matters, either target a non-quantized output format, or run quantized training with your model from a floating point checkpoint to change the input graph to contain min/max information. If you don't care about accuracy, you can pass --default_ranges_min= and --default_ranges_max= for easy experimentation.";

/**
 * CheckIsReadyForQuantization, reporting every problem at once (TOCO aborts on the first):
 * ops with no quantized form, op inputs and model outputs without a range.
 */
export function checkRanges(g: QuantGraph, supported: (builtin: string) => boolean): void {
  const lines: string[] = [];
  const unsupported = new Set<string>();
  g.sg.operators.forEach((op, i) => {
    const b = g.builtin(op);
    if (!supported(b) && !unsupported.has(b) && [...op.inputs, ...op.outputs].some((t) => t >= 0 && g.isFloat(t))) {
      unsupported.add(b);
      lines.push(`Unimplemented: this graph contains an operator of type ${b} (producing ${g.opName(i)}) for which the quantized form is not yet implemented.`);
    }
    for (const t of op.inputs) {
      if (t < 0 || !g.isFloat(t) || g.isConst(t) || g.ranges.has(t)) continue;
      lines.push(`Array ${g.describe(t)}, which is an input to the ${b} operator producing the output array ${g.opName(i)}, is lacking min/max data, which is necessary for quantization.`);
    }
  });
  for (const t of g.sg.outputs) {
    if (g.isFloat(t) && !g.ranges.has(t) && g.producer[t]! >= 0) {
      lines.push(`Array ${g.describe(t)} does not have MinMax information, and is not a constant array. Cannot proceed with quantization.`);
    }
  }
  if (lines.length === 0) return;
  const lacking = lines.some((l) => l.startsWith('Array '));
  throw new QuantizationError(`cannot quantize: ${lines.length} problem${lines.length > 1 ? 's' : ''}\n  ${lines.join('\n  ')}${lacking ? '\n  ' + ADVICE : ''}`);
}

/**
 * `--default_ranges_min/max` (TOCO's PropagateDefaultMinMax): every non-constant float array
 * still without a range gets [min, max]. Returns whether any default was given.
 */
export function applyDefaultRanges(g: QuantGraph, options: QuantizeOptions): boolean {
  if (!options.defaultRanges) return false;
  const { min, max } = options.defaultRanges;
  if (!(min <= 0 && max >= 0)) throw new QuantizationError(`--default_ranges_min=${min} --default_ranges_max=${max}: the range must contain 0`);
  for (const op of g.sg.operators) {
    for (const t of [...op.inputs, ...op.outputs]) {
      if (t >= 0 && g.isFloat(t) && !g.isConst(t) && !g.ranges.has(t)) g.ranges.set(t, { min, max, numBits: 8, narrowRange: false, source: 'default_ranges' });
    }
  }
  return true;
}
