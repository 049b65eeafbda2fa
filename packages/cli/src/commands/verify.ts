import { NumericMismatchError } from '@tfpass/core/errors';
import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { INPUT_FLAGS } from '../inputs.js';
import { isTflitePath, verifyWithTflite } from '../tflite.js';
import { RUN_FLAGS, buildFeeds, executorFor, fetchList, fmtNum, graphArg, loadRuntime, readAnyGraph } from '../feeds.js';

/**
 * Default absolute tolerance per unit of output scale. Float rewrites (folded batch norms,
 * reassociated sums) move outputs by a few float32 ulps of the values along the way, so a fixed
 * 1e-5 fails a correct MobileNet rewrite with outputs up to 6 (7.9e-5) while 1e-4 × scale
 * still flags any real change.
 */
const SCALED_ATOL = 1e-4;

export const spec: CommandSpec = {
  usage: 'verify A B [--input NAME=D0,...]... [--outputs a,b] [--atol 1e-5] [--rtol 1e-5] [--trials N] [--max_lsb 1] (A or B may be a .tflite)',
  summary:
    'Run two graphs on identical inputs (seeded uniform [-1, 1], or .npy files) and report per-output max absolute and relative error; ' +
    'exits non-zero when |a-b| > atol + rtol*|a| anywhere (A is the reference). Either side may be a .tflite: a float input feeds a quantized model through ' +
    'its scale/zero point; quantized outputs are also compared in LSB (--max_lsb), with top-1 agreement and SQNR.',
  flags: {
    ...RUN_FLAGS,
    ...INPUT_FLAGS,
    atol: { type: 'number', value: 'X', description: `absolute tolerance (default ${SCALED_ATOL} × the output's scale, its largest |value| in A)` },
    rtol: { type: 'number', value: 'X', default: 1e-5, description: 'relative tolerance' },
    trials: { type: 'number', value: 'N', default: 1, description: 'input draws (seed, seed+1, ...)' },
    max_lsb: { type: 'number', value: 'N', default: 1, description: 'with a .tflite: tolerance for quantized outputs, in LSB of the output scale' },
  },
  maxPositionals: 2,
};

export async function run(ctx: Ctx): Promise<number> {
  const pa = graphArg(ctx, 0);
  const pb = graphArg(ctx, 1);
  if (isTflitePath(ctx.path(pa)) || isTflitePath(ctx.path(pb))) {
    const rt = await loadRuntime('verify');
    const core = await import('@tfpass/core');
    return verifyWithTflite(ctx, pa, pb, rt, { read: (p) => readAnyGraph(core, p, 'verify'), executor: () => executorFor(rt, ctx) });
  }
  const core = await import('@tfpass/core');
  const [a, b] = [await readAnyGraph(core, pa, 'verify'), await readAnyGraph(core, pb, 'verify')];
  const rt = await loadRuntime('verify');
  const fetches = fetchList(ctx, a, core);
  for (const o of fetches) if (!b.has(core.parseInput(o).node)) throw new NumericMismatchError(`output '${o}' of ${pa} is not in ${pb}`);
  const feeds = buildFeeds(ctx, a, rt, core, { seed: ctx.num('seed') });
  const given = ctx.args.given.has('atol') ? ctx.num('atol') : undefined;
  // Per output: the given --atol, or SCALED_ATOL × the largest |value| of A's output (first trial).
  const atols = new Map<string, number>();
  const atolFor = (name: string, ref: Parameters<typeof rt.summaryStats>[0]): number => {
    let v = atols.get(name);
    if (v === undefined) {
      const st = given === undefined && ref.dtype !== 'string' ? rt.summaryStats(ref) : undefined;
      const scale = st ? Math.max(Math.abs(st.min), Math.abs(st.max)) : 0;
      v = given ?? SCALED_ATOL * (Number.isFinite(scale) && scale > 0 ? scale : 1);
      atols.set(name, v);
    }
    return v;
  };
  const rtol = ctx.num('rtol') ?? 1e-5;
  const trials = Math.max(1, ctx.num('trials') ?? 1);
  const exec = executorFor(rt, ctx);
  const worst = new Map<string, ReturnType<typeof rt.compareTensors>>();
  for (let k = 0; k < trials; k++) {
    const f = feeds.make(k);
    const ra = await exec.run(a, f, fetches);
    const rb = await exec.run(b, f, fetches);
    fetches.forEach((n, i) => {
      const c = rt.compareTensors(n, rb[i]!, ra[i]!, atolFor(n, ra[i]!), rtol);
      const prev = worst.get(n);
      if (!prev || c.maxAbsError > prev.maxAbsError || (!c.ok && prev.ok)) worst.set(n, { ...c, mismatches: c.mismatches + (prev?.mismatches ?? 0), ok: c.ok && (prev?.ok ?? true) });
    });
    ctx.bar('trials', k + 1, trials);
  }
  const results = fetches.map((n) => worst.get(n)!);
  const ok = results.every((r) => r.ok);
  ctx.emit({ ok, a: pa, b: pb, atol: given ?? null, atol_per_scale: given === undefined ? SCALED_ATOL : null, rtol, trials, inputs: feeds.describe, outputs: results.map((r) => ({ ...r, atol: atols.get(r.name) })) });
  for (const r of results) {
    ctx.print(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} [${r.shape.join(',')}] max abs ${fmtNum(r.maxAbsError)}, max rel ${fmtNum(r.maxRelError)}, atol ${fmtNum(atols.get(r.name)!)}${given === undefined ? ' (scaled)' : ''}${r.ok ? '' : `, ${r.mismatches} elements beyond atol + rtol ${rtol} × |A|`}`);
  }
  ctx.print(`${ok ? 'same outputs' : 'outputs differ'} over ${trials} trial${trials > 1 ? 's' : ''} (inputs: ${Object.entries(feeds.describe).map(([k, v]) => `${k} ${v}`).join('; ')})`);
  if (!ok) {
    if (ctx.json) return 13;
    throw new NumericMismatchError(`${pb} differs from ${pa} beyond tolerance on ${results.filter((r) => !r.ok).map((r) => r.name).join(', ')}`);
  }
  return 0;
}
