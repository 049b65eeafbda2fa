import { existsSync, statSync } from 'node:fs';
import { UsageError } from '@tfpass/core/errors';
import type { Graph } from '@tfpass/core';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { needModule } from '../optional.js';

export const spec: CommandSpec = {
  usage: 'unfreeze FROZEN.pb --out DIR [--pattern REGEX] [--name model]',
  summary:
    'The reverse of freeze: chosen Consts (default: conv/matmul weights, biases, BN parameters, fake-quant ranges) become variables, ' +
    'written as DIR/<name>.meta plus a V2 checkpoint, so TensorFlow can fine-tune the model again.',
  flags: {
    in_graph: { type: 'string', value: 'FILE', description: 'the frozen graph (or give it as the first argument)' },
    out: { type: 'string', value: 'DIR', alias: ['out_dir'], description: 'folder for the .meta and checkpoint' },
    pattern: { type: 'string', value: 'REGEX', description: 'Consts whose names match become variables' },
    name: { type: 'string', value: 'model', default: 'model', description: 'file name prefix in DIR' },
    frozen_weights: { type: 'bool', description: 'make the chosen variables non-trainable' },
  },
  maxPositionals: 1,
};


export async function run(ctx: Ctx): Promise<number> {
  const input = ctx.args.positionals[0] ?? ctx.str('in_graph');
  if (!input) throw new UsageError('usage: tfpass unfreeze FROZEN.pb --out DIR');
  const dir = ctx.str('out');
  if (!dir) throw new UsageError('--out DIR is required');
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--out ${dir} is a file; give a folder`);
  const ck = await needModule('@tfpass/checkpoint', ['unfreezeGraph', 'writeUnfrozen'], 'unfreeze');
  const u = ck.unfreezeGraph(input, { pattern: ctx.str('pattern'), trainable: !ctx.bool('frozen_weights') });
  if (!u.variables.length) throw new UsageError(`no Const in ${input} matches${ctx.str('pattern') ? ` /${ctx.str('pattern')}/` : ' the default weight patterns'}; nothing to unfreeze`);
  const w = ck.writeUnfrozen(u, dir, { name: ctx.str('name') });
  const params = u.variables.reduce((s, v) => s + v.shape.reduce((a, b) => a * b, 1), 0);
  ctx.emit({ ok: true, meta: w.metaFile, checkpoint: w.prefix, variables: u.variables });
  ctx.print(`${u.variables.length} variables (${params} values) -> ${w.metaFile} + checkpoint ${w.prefix}`);
  if (ctx.verbose) for (const v of u.variables) ctx.print(`  ${v.name} ${v.dtype}[${v.shape.join(',')}]${v.trainable ? '' : ' (not trainable)'}`);
  return 0;
}

export type { Graph };
