import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';

export interface CommandModule {
  spec: CommandSpec;
  /** Returns the exit status (0 when omitted). */
  run(ctx: Ctx): Promise<number | void>;
}

export interface CommandEntry {
  summary: string;
  /** Loaded only when the command runs, so `tfpass passes` stays fast. */
  load(): Promise<CommandModule>;
}

/** Every command by name. Other packages add theirs with registerCommand (e.g. `demo`). */
export const commands = new Map<string, CommandEntry>([
  ['transform', { summary: 'run a transform_graph pipeline on a graph', load: () => import('./transform.js') }],
  ['summarize', { summary: 'inputs, outputs, op counts, parameters and FLOPs of a graph', load: () => import('./summarize.js') }],
  ['convert', { summary: 'convert between .pb, .pbtxt, MetaGraphDef/SavedModel and TF.js model.json', load: () => import('./convert.js') }],
  ['passes', { summary: 'list every installed pass', load: () => import('./passes.js') }],
  ['help', { summary: 'help for a command or a pass', load: () => import('./help.js') }],
  ['run', { summary: 'run a graph on given or random inputs', load: () => import('./run.js') }],
  ['eval', { summary: 'accuracy (top1/top5/mIoU) of a graph or .tflite on labelled images, TFRecords or .npy (needs @tfpass/data)', load: () => import('./eval.js') }],
  ['verify', { summary: 'check two graphs compute the same outputs', load: () => import('./verify.js') }],
  ['trace', { summary: 'statistics of intermediate tensors', load: () => import('./trace.js') }],
  ['ckpt', { summary: 'list or compare checkpoints (ckpt ls|diff)', load: () => import('./ckpt.js') }],
  ['freeze', { summary: 'freeze_graph: turn variables into constants from a checkpoint', load: () => import('./freeze.js') }],
  ['unfreeze', { summary: 'turn constants back into variables plus a checkpoint', load: () => import('./unfreeze.js') }],
  ['calibrate', { summary: 'record activation ranges over sample data', load: () => import('./calibrate.js') }],
  ['quant-check', { summary: 'tensors a converter needs a range for and lacks', load: () => import('./quant-check.js') }],
  ['lint', { summary: "the quantization debugging checklist as rules", load: () => import('./lint.js') }],
  ['quantize', { summary: "contrib's create_training_graph / create_eval_graph, written as a MetaGraphDef", load: () => import('./quantize.js') }],
  ['qat', { summary: 'quantization-aware training, then a deployable frozen fake-quant graph (needs @tfpass/train)', load: () => import('./qat.js') }],
  // The flow itself lives in @tfpass/train (runDemo); this is its command-line face.
  ['demo', { summary: 'the seed end to end: QAT, freeze, transform, verify (needs @tfpass/train)', load: () => import('./demo.js') }],
  ['toco', { summary: 'TOCO / tflite_convert: a frozen (fake-quant) GraphDef to .tflite (float, float16, uint8, int8)', load: () => import('./toco.js') }],
  ['view', { summary: 'a self-contained HTML picture of a graph, or of what a pipeline changed', load: () => import('./view.js') }],
]);

/** A command implemented by another package, exported as a CommandModule named `name`. */
export async function fromPackage(pkg: string, name: string, command: string): Promise<CommandModule> {
  const { needModule } = await import('../optional.js');
  const mod = await needModule<Record<string, CommandModule>>(pkg, [name], command);
  return mod[name]!;
}

/** Registration point for commands living outside this package. */
export function registerCommand(name: string, entry: CommandEntry): void {
  commands.set(name, entry);
}
