import { basename } from 'node:path';
import { TfpassError } from '@tfpass/core/errors';
import type { Pitfall } from '@tfpass/quantize';
import type { Ctx } from '../ui.js';

/** Shared by quantize and calibrate: fail on warnings (same code and exit status as qat --strict). */
export const STRICT_FLAG = {
  strict: { type: 'bool' as const, description: 'fail (E_PASS, exit 9) instead of warning: unfolded batch norms, no fake quant inserted, frozen weights in a training graph' },
};

function sh(p: string): string {
  return /^[\w@%+=:,./~-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** The command that fixes a pitfall, for the file the user gave. */
function fixLine(fix: Pitfall['fix'], input: string): string {
  // In the working folder: the model's own folder may be read-only.
  const folded = basename(input).replace(/(\.[^./]+)?$/, (ext) => `-folded${ext === '.pbtxt' ? ext : '.pb'}`);
  if (fix === 'fold') return `fold batch norms first: tfpass transform --in_graph ${sh(input)} --out_graph ${sh(folded)} --transforms='fold_constants fold_batch_norms fold_old_batch_norms'`;
  if (fix === 'unfreeze') return `unfreeze first: tfpass unfreeze ${sh(input)} --out DIR, then quantize DIR/model.meta`;
  return '';
}

/**
 * One line per pitfall, with the fixing command. Warnings are refused under --strict (call this
 * before writing anything); facts (an already quantized graph) come back as notes.
 */
export function checkPitfalls(ctx: Ctx, command: string, input: string, pitfalls: readonly Pitfall[]): { warnings: string[]; notes: string[] } {
  const warnings: string[] = [];
  const notes: string[] = [];
  for (const p of pitfalls) {
    const line = p.fix ? `${p.message}; ${fixLine(p.fix, input)}` : p.message;
    if (!p.warn) notes.push(line);
    else if (ctx.bool('strict')) throw new TfpassError('E_PASS', `${command} --strict: ${line}`);
    else warnings.push(line);
  }
  return { warnings, notes };
}
