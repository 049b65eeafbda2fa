import { UsageError } from '@tfpass/core/errors';
import type { CommandSpec } from '../args.js';
import { splitList } from '../args.js';
import type { Ctx } from '../ui.js';
import { checkNotInput } from '../graphs.js';
import { needModule } from '../optional.js';
// Types only: @tfpass/toco (and @tfpass/tflite) load when the command runs.
import type { ConvertOptions } from '@tfpass/toco';

/** TOCO's / tflite_convert's flags, spelt as they are, so existing scripts run unchanged. */
export const TOCO_FLAGS: CommandSpec['flags'] = {
  graph_def_file: { type: 'string', value: 'FILE', alias: ['in_graph', 'input_file', 'saved_model_dir'], description: 'frozen GraphDef (.pb/.pbtxt), MetaGraphDef or SavedModel' },
  output_file: { type: 'string', value: 'FILE', description: 'the .tflite to write' },
  input_arrays: { type: 'string', value: 'a,b', alias: ['input_array'], description: 'input tensors (default: the Placeholders the outputs need)' },
  output_arrays: { type: 'string', value: 'c,d', alias: ['output_array'], description: 'output tensors' },
  input_shapes: { type: 'string', value: '1,224,224,3[:…]', alias: ['input_shape'], description: 'one shape per input array, colon-separated (an unknown batch becomes 1 without it)' },
  inference_type: { type: 'string', value: 'FLOAT|QUANTIZED_UINT8|INT8', default: 'FLOAT', description: 'type of the model body' },
  inference_input_type: { type: 'string', value: 'FLOAT|QUANTIZED_UINT8|INT8', description: 'type of the model inputs (default: as the converter does)' },
  inference_output_type: { type: 'string', value: 'FLOAT|QUANTIZED_UINT8|INT8', description: 'type of the model outputs' },
  mean_values: { type: 'string', value: 'm[,…]', alias: ['mean_value'], description: 'per input: real = (q - mean) / std' },
  std_dev_values: { type: 'string', value: 's[,…]', alias: ['std_values', 'std_value', 'std_dev_value'], description: 'per input: real = (q - mean) / std' },
  default_ranges_min: { type: 'number', value: 'X', description: 'range of every activation without one ("dummy quantization")' },
  default_ranges_max: { type: 'number', value: 'X', description: 'see --default_ranges_min' },
  allow_custom_ops: { type: 'bool', description: 'write ops with no TFLite builtin as CUSTOM ops' },
  drop_control_dependency: { type: 'bool', default: true, description: 'control edges are dropped (always; TFLite has none)' },
  change_concat_input_ranges: { type: 'bool', description: 'concat inputs take the output range' },
  post_training_quantize: { type: 'bool', description: 'weights-only quantization: int8 weights of >= 1024 elements as TF 1.15 (per tensor, hybrid CONV_2D/FULLY_CONNECTED), or float16 with --quantize_to_float16' },
  per_channel_weights: { type: 'bool', description: 'with --post_training_quantize (tfpass): one scale per output channel, float arithmetic behind DEQUANTIZE (much closer to float on BN-folded nets)' },
  quantize_to_float16: { type: 'bool', description: 'float16 weights behind DEQUANTIZE ops (biases stay float32)' },
  ranges: { type: 'string', value: 'FILE', description: 'a `tfpass calibrate` ranges file: full-integer quantization of a float graph' },
  input_format: { type: 'string', value: 'TENSORFLOW_GRAPHDEF', description: "accepted for TOCO scripts (the format is detected)" },
  output_format: { type: 'string', value: 'TFLITE', description: 'accepted for TOCO scripts (only TFLITE)' },
  tags: { type: 'string', value: 'serve', alias: ['saved_model_tag_set'], description: 'SavedModel input: tag set to pick (comma-separated)' },
  reorder_across_fake_quant: { type: 'bool', description: 'FakeQuants no longer block fusions (diverges from the training graph, as in TOCO)' },
  force: { type: 'bool', description: 'allow writing over the input' },
};

export const spec: CommandSpec = {
  usage: 'toco --graph_def_file G.pb --output_file M.tflite --output_arrays y [--input_arrays x --input_shapes 1,224,224,3] [--inference_type FLOAT|QUANTIZED_UINT8|INT8]',
  summary:
    "TOCO / tflite_convert without Python: a frozen (fake-quant) GraphDef to a .tflite. FLOAT keeps FakeQuants as FAKE_QUANT ops (as TOCO); " +
    'QUANTIZED_UINT8 is TOCO 1.15\'s uint8; INT8 is today\'s full-integer converter.',
  flags: TOCO_FLAGS,
  maxPositionals: 2,
};

const TYPES: Record<string, 'float32' | 'uint8' | 'int8'> = { FLOAT: 'float32', FLOAT32: 'float32', QUANTIZED_UINT8: 'uint8', UINT8: 'uint8', INT8: 'int8', QUANTIZED_INT8: 'int8' };

function ioType(flag: string, v: string | undefined): 'float32' | 'uint8' | 'int8' | undefined {
  if (v === undefined) return undefined;
  const t = TYPES[v.toUpperCase()];
  if (!t) throw new UsageError(`--${flag} takes FLOAT, QUANTIZED_UINT8 or INT8, got '${v}'`);
  return t;
}

function numbers(flag: string, v: string | undefined): number[] | undefined {
  const parts = splitList(v);
  if (!parts.length) return undefined;
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isFinite(n)) throw new UsageError(`--${flag} takes numbers, got '${p}'`);
    return n;
  });
}

function shapes(v: string | undefined): number[][] | undefined {
  if (!v) return undefined;
  return v.split(':').map((s) =>
    splitList(s).map((d) => {
      const n = Number(d);
      if (!Number.isInteger(n) || n < -1) throw new UsageError(`--input_shapes: '${d}' in '${s}' is not a dimension`);
      return n;
    }),
  );
}

/** Shared with `tfpass convert G.pb M.tflite`: the converter options from the TOCO flags. */
export function tocoOptions(ctx: Ctx): ConvertOptions {
  const inferenceType = ctx.str('inference_type')?.toUpperCase() ?? 'FLOAT';
  const body = TYPES[inferenceType];
  if (!body) throw new UsageError(`--inference_type takes FLOAT, QUANTIZED_UINT8 or INT8, got '${ctx.str('inference_type')}'`);
  const fmt = ctx.str('output_format');
  if (fmt && fmt.toUpperCase() !== 'TFLITE') throw new UsageError(`--output_format=${fmt}: only TFLITE is written (convert GraphDefs with 'tfpass convert')`);
  const outputArrays = splitList(ctx.str('output_arrays'));
  if (!outputArrays.length) throw new UsageError('--output_arrays is required');
  const inputArrays = splitList(ctx.str('input_arrays'));
  const ptq = ctx.bool('post_training_quantize');
  // tflite_convert reads --quantize_to_float16 only together with --post_training_quantize.
  if (ctx.bool('quantize_to_float16') && !ptq) ctx.warn('--quantize_to_float16 is ignored without --post_training_quantize (as in tflite_convert): writing float32 weights');
  const float16 = ptq && ctx.bool('quantize_to_float16');
  const int8Weights = ptq && !float16;
  const lo = ctx.num('default_ranges_min');
  const hi = ctx.num('default_ranges_max');
  if ((lo === undefined) !== (hi === undefined)) throw new UsageError('--default_ranges_min and --default_ranges_max go together');
  const meanValues = numbers('mean_values', ctx.str('mean_values'));
  const stdValues = numbers('std_dev_values', ctx.str('std_dev_values'));
  return {
    inferenceType: body === 'float32' ? 'FLOAT' : body === 'uint8' ? 'QUANTIZED_UINT8' : 'INT8',
    outputArrays,
    ...(inputArrays.length ? { inputArrays } : {}),
    ...(shapes(ctx.str('input_shapes')) ? { inputShapes: shapes(ctx.str('input_shapes')) } : {}),
    allowCustomOps: ctx.bool('allow_custom_ops'),
    reorderAcrossFakeQuant: ctx.bool('reorder_across_fake_quant'),
    float16Weights: float16,
    int8Weights,
    perChannelInt8Weights: int8Weights && ctx.bool('per_channel_weights'),
    quantize: {
      inferenceInputType: ioType('inference_input_type', ctx.str('inference_input_type')),
      inferenceOutputType: ioType('inference_output_type', ctx.str('inference_output_type')),
      ...(meanValues ? { meanValues } : {}),
      ...(stdValues ? { stdValues } : {}),
      ...(lo !== undefined && hi !== undefined ? { defaultRanges: { min: lo, max: hi } } : {}),
      changeConcatInputRanges: ctx.bool('change_concat_input_ranges'),
    },
  };
}

/** Convert and write atomically; prints TOCO's warnings and one summary line. */
export async function convertToTflite(ctx: Ctx, src: string, dst: string, opts: ConvertOptions): Promise<number> {
  checkNotInput(src, dst, ctx.bool('force'));
  const core = await import('@tfpass/core');
  const tags = ctx.str('tags')?.split(',').map((s) => s.trim());
  const graph = core.readModel(src, tags ? { tags } : {}).graph;
  const ranges = ctx.str('ranges');
  if (ranges) {
    if (opts.inferenceType === 'FLOAT' || !opts.inferenceType) throw new UsageError('--ranges applies to --inference_type=QUANTIZED_UINT8 or INT8');
    const q = await needModule('@tfpass/quantize', ['readRanges'], ctx.command);
    opts.quantize = { ...opts.quantize, rangesFromFile: q.readRanges(ranges) };
  }
  const toco = await needModule('@tfpass/toco', ['convertGraph'], ctx.command);
  const tflite = await needModule('@tfpass/tflite', ['writeTflite'], ctx.command);
  const { model, notes } = toco.convertGraph(graph, opts);
  const bytes = tflite.writeTflite(model);
  core.writeFileAtomic(dst, bytes);
  for (const n of notes) if (n.level === 'warning') ctx.warn(`${n.node ? `${n.node}: ` : ''}${n.message}`);
  const sg = model.subgraphs[0]!;
  const counts = new Map<string, number>();
  for (const op of sg.operators) {
    const name = model.operatorCodes[op.opcodeIndex]!.builtin;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const ops = [...counts].map(([k, v]) => `${k}${v > 1 ? `×${v}` : ''}`).join(' ');
  ctx.emit({ ok: true, in: src, out: dst, inferenceType: opts.inferenceType, operators: sg.operators.length, tensors: sg.tensors.length, bytes: bytes.length, ops: Object.fromEntries(counts), notes });
  ctx.print(`wrote ${dst}: ${opts.inferenceType ?? 'FLOAT'}, ${sg.operators.length} operators (${ops}), ${bytes.length} bytes`);
  return 0;
}

export async function run(ctx: Ctx): Promise<number> {
  const src = ctx.str('graph_def_file') ?? ctx.args.positionals[0];
  const dst = ctx.str('output_file') ?? ctx.args.positionals[ctx.str('graph_def_file') ? 0 : 1];
  if (!src) throw new UsageError('--graph_def_file is required');
  if (!dst) throw new UsageError('--output_file is required');
  return convertToTflite(ctx, src, dst, tocoOptions(ctx));
}
