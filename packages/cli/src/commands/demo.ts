import type { CommandSpec } from '../args.js';
import type { Ctx } from '../ui.js';
import { needModule } from '../optional.js';

export const spec: CommandSpec = {
  usage: 'demo [--out DIR] [--steps N] [--quant_delay D]',
  summary:
    'the seed end to end on a generated BiSeNetV2-style segmentation model: float graph → QAT fine-tune with quant_delay → ' +
    'checkpoint → eval graph → freeze → strip/remove/fold pipeline → verify → quant-check → summary. Everything lands in DIR.',
  flags: {
    out: { type: 'string', value: 'DIR', description: 'output folder (default: tfpass-demo)' },
    steps: { type: 'number', value: 'N', description: 'QAT steps (default 150)' },
    quant_delay: { type: 'number', value: 'D', description: 'steps before quantized values are forwarded (default steps/3)' },
    backend: { type: 'string', value: 'wasm|cpu', description: 'TensorFlow.js backend (default wasm)' },
  },
};


export async function run(ctx: Ctx): Promise<number> {
  const train = await needModule('@tfpass/train', ['runDemo'], 'demo');
  const out = ctx.str('out') ?? 'tfpass-demo';
  const t0 = performance.now();
  let last = 0;
  const r = await train.runDemo({
    out,
    steps: ctx.num('steps'),
    quantDelay: ctx.num('quant_delay'),
    backend: ctx.str('backend') as 'wasm' | undefined,
    log: (l) => ctx.print(l),
    onStep: (s, total) => {
      const now = performance.now();
      if (now - last < 100 && s.step !== total) return;
      last = now;
      const w = 24;
      const done = Math.round((w * s.step) / total);
      ctx.progress(`qat [${'#'.repeat(done)}${'.'.repeat(w - done)}] step ${s.step}/${total} loss ${s.loss.toExponential(2)} ${s.quantized ? 'quantized' : 'float (quant_delay)'} ${(1000 / s.ms).toFixed(1)} steps/s`, s.step !== total);
    },
  });
  ctx.emit({ ok: true, ...r });
  if (r.tflite) ctx.print(`ends in ${r.tflite.file} (${r.tflite.inferenceType}${r.tflite.inferenceType === 'INT8' ? '' : `; ${r.tfliteTried.filter((t) => t.error).map((t) => `${t.type}: ${t.error}`).join('; ')}`})`);
  ctx.print(`wrote ${r.dir} (report.md, deploy.pb, model.tflite, plots.html, view.html, loss.svg, …) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return r.missingRanges > 0 ? 0 : 0;
}
