import { UsageError } from '@tfpass/core/errors';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { humanCount } from '../ui.js';
import { needModule } from '../optional.js';

export const spec: CommandSpec = {
  usage: 'ckpt ls PREFIX | ckpt diff A B [--atol X] [--all]',
  summary: 'List a TensorFlow checkpoint (name, dtype, shape, bytes per tensor) or compare two.',
  flags: {
    atol: { type: 'number', value: 'X', default: 0, description: 'diff: values within this absolute tolerance are equal' },
    all: { type: 'bool', description: 'diff: also list identical tensors' },
  },
  maxPositionals: 3,
};

export async function run(ctx: Ctx): Promise<number> {
  const [sub, a, b] = ctx.args.positionals;
  const ck = await needModule('@tfpass/checkpoint', ['listCheckpoint', 'diffCheckpoints'], 'ckpt');
  if (sub === 'ls') {
    if (!a || b) throw new UsageError('usage: tfpass ckpt ls PREFIX');
    const rows = ck.listCheckpoint(a);
    ctx.emit({ checkpoint: a, tensors: rows });
    const w = Math.max(4, ...rows.map((r) => r.name.length));
    for (const r of rows) ctx.print(`${r.name.padEnd(w)}  ${r.dtype.padEnd(8)}  [${r.shape.join(',')}]  ${humanCount(r.bytes)}B${r.slices ? `  slices ${r.slices.join(' ')}` : ''}`);
    const total = rows.reduce((s, r) => s + r.bytes, 0);
    ctx.print(`${rows.length} tensors, ${humanCount(total)}B`);
    return 0;
  }
  if (sub === 'diff') {
    if (!a || !b) throw new UsageError('usage: tfpass ckpt diff A B');
    const rows = ck.diffCheckpoints(a, b, { atol: ctx.num('atol') ?? 0, includeSame: ctx.bool('all') });
    const changed = rows.filter((r) => r.kind !== 'same');
    ctx.emit({ a, b, same: changed.length === 0, tensors: rows });
    const sh = (x?: { dtype: string; shape: number[] }) => (x ? `${x.dtype}[${x.shape.join(',')}]` : '-');
    for (const r of rows) {
      const detail =
        r.kind === 'values' ? `max |a-b| ${r.maxAbsDiff}, ${r.differing}/${r.elements} elements differ`
        : r.kind === 'only_a' ? `only in A ${sh(r.a)}`
        : r.kind === 'only_b' ? `only in B ${sh(r.b)}`
        : r.kind === 'same' ? `same ${sh(r.a)}`
        : `${sh(r.a)} vs ${sh(r.b)}`;
      ctx.print(`${r.kind.padEnd(6)}  ${r.name}: ${detail}`);
    }
    ctx.print(changed.length ? `${changed.length} tensors differ` : 'checkpoints hold the same tensors');
    return changed.length ? 1 : 0;
  }
  throw new UsageError(`usage: tfpass ckpt ls PREFIX | tfpass ckpt diff A B${sub ? ` (unknown subcommand '${sub}')` : ''}`);
}
