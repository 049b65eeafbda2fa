import { TfpassError } from '@tfpass/core/errors';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';

export const spec: CommandSpec = { usage: 'freeze', summary: 'not available yet', flags: {}, maxPositionals: 8 };

export async function run(_ctx: Ctx): Promise<number> {
  throw new TfpassError('E_USAGE', "'tfpass freeze' is not available yet");
}
