import { TfpassError } from '@tfpass/core/errors';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';

export const spec: CommandSpec = { usage: 'unfreeze', summary: 'not available yet', flags: {}, maxPositionals: 8 };

export async function run(_ctx: Ctx): Promise<number> {
  throw new TfpassError('E_USAGE', "'tfpass unfreeze' is not available yet");
}
