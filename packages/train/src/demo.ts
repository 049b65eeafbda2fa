/**
 * `tfpass demo`: the seed end to end on a generated segmentation model — float graph, QAT
 * fine-tune with quant_delay, TF checkpoint, eval graph (MetaGraphDef), freeze, the
 * strip/remove/fold pipeline, verify, quant-check and a before/after summary.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Graph, Tensor, countFlops, inferShapes, writeGraph, writeModel } from '@tfpass/core';
import { Rng, compareTensors, runGraph, type BackendName } from '@tfpass/runtime';
import { applySites, quantCheck, loadTarget } from '@tfpass/quantize';
import { evalMetaGraph } from './coverage.js';
import { freezeGraph } from '@tfpass/checkpoint';
import { buildDemoModel, DEMO_INPUT, DEMO_LOGITS, DEMO_OUTPUT, rng, gaussian } from './demo-model.js';
import { qat, type StepInfo } from './qat.js';
import { runFirstParty, SEED_PIPELINE } from './pipeline.js';
import { lossCurveSvg, trainingReportHtml } from './report.js';
import { convertAndCheck, type TfliteCheck, type TfliteType } from './tflite.js';

export interface DemoOptions {
  out: string;
  steps?: number;
  quantDelay?: number;
  batch?: number;
  size?: number;
  seed?: number;
  backend?: BackendName;
  log?: (line: string) => void;
  onStep?: (s: StepInfo, total: number) => void;
}

export interface DemoResult {
  /** The .tflite the demo ends with and its check (undefined when no type converted: see tfliteTried). */
  tflite?: TfliteCheck;
  tfliteTried: { type: TfliteType; error?: string }[];
  /** quant-check findings on the deployed graph. */
  findings: { rule: string; tensor?: string; consumerOp?: string }[];
  dir: string;
  files: Record<string, string>;
  steps: { name: string; ms: number; detail: string }[];
  /** Quantized (deployed) vs float logits. */
  sqnrDb: number;
  /** Share of pixels whose class agrees between float and deployed graphs. */
  agreement: number;
  /** Same figures for post-training quantization (ranges calibrated, no training). */
  ptq: { sqnrDb: number; agreement: number };
  missingRanges: number;
  before: { nodes: number; params: number; macs: number };
  after: { nodes: number; params: number; macs: number };
}

/** Smooth random "scenes": a few soft blobs plus noise, values in [0, 1]. */
export function demoImages(count: number, size: number, seed: number): Tensor {
  const r = rng(seed);
  const v = new Float32Array(count * size * size * 3);
  for (let b = 0; b < count; b++) {
    const blobs = Array.from({ length: 4 }, () => ({ x: r() * size, y: r() * size, s: 2 + r() * size / 3, c: [r(), r(), r()] }));
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        for (let c = 0; c < 3; c++) {
          let a = 0.1;
          for (const bl of blobs) a += bl.c[c]! * Math.exp(-((x - bl.x) ** 2 + (y - bl.y) ** 2) / (2 * bl.s * bl.s));
          v[((b * size + y) * size + x) * 3 + c] = Math.min(1, Math.max(0, a + 0.03 * gaussian(r)));
        }
  }
  return new Tensor('float32', [count, size, size, 3], v);
}

function sqnr(ref: Float32Array, got: Float32Array): number {
  let s = 0, n = 0;
  for (let i = 0; i < ref.length; i++) {
    s += ref[i]! * ref[i]!;
    n += (ref[i]! - got[i]!) ** 2;
  }
  return 10 * Math.log10(s / Math.max(n, 1e-30));
}

function agreement(a: Tensor, b: Tensor): number {
  const x = a.toNumbers(), y = b.toNumbers();
  let same = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === y[i]) same++;
  return same / x.length;
}

function costs(g: Graph, size: number): { nodes: number; params: number; macs: number } {
  const r = countFlops(g, inferShapes(g, { [DEMO_INPUT]: [1, size, size, 3] }));
  return { nodes: g.size, params: r.params, macs: r.macs };
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const dir = resolve(opts.out);
  mkdirSync(dir, { recursive: true });
  const log = opts.log ?? (() => {});
  const size = opts.size ?? 32;
  const batch = opts.batch ?? 4;
  const steps = opts.steps ?? 150;
  const quantDelay = opts.quantDelay ?? Math.floor(steps / 3);
  const backend = opts.backend ?? 'wasm';
  const files: Record<string, string> = {};
  const report: DemoResult['steps'] = [];
  const timed = async <T>(name: string, f: () => Promise<T> | T, detail: (r: T) => string): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    const ms = performance.now() - t0;
    const d = detail(r);
    report.push({ name, ms, detail: d });
    log(`${name.padEnd(10)} ${(ms / 1000).toFixed(1).padStart(5)} s  ${d}`);
    return r;
  };

  // 1. Float model.
  const float = await timed('model', () => buildDemoModel({ seed: opts.seed ?? 1, size }), (g) => `BiSeNetV2-style net, input ${DEMO_INPUT} [1,${size},${size},3], output ${DEMO_OUTPUT}, ${g.size} nodes`);
  writeGraph(float, (files.float = join(dir, 'float.pb')));

  // 2. Inference preparation for QAT: instance norm fused, batch norms folded into the convs.
  const prepared = float.clone();
  await timed('prepare', async () => {
    const reps = await runFirstParty(prepared, 'fuse_instance_norm fold_constants fold_batch_norms fold_old_batch_norms', [DEMO_INPUT], [DEMO_OUTPUT], backend);
    const fused = reps[0]!.stats.fused ?? 0;
    return `${fused} instance norm fused (no SquaredDifference left), batch norms folded: ${reps[0]!.nodesBefore} → ${reps[reps.length - 1]!.nodesAfter} nodes`;
  }, (s) => s);
  writeGraph(prepared, (files.prepared = join(dir, 'prepared.pb')));

  // 3. QAT fine-tune (distillation on generated images), checkpoints with every range.
  const data = (step: number) => ({ feeds: { [DEMO_INPUT]: demoImages(batch, size, 10_000 + step) } });
  const ckptDir = (files.checkpoint = join(dir, 'checkpoint'));
  const history: StepInfo[] = [];
  const trained = await timed('qat', () => qat({
    graph: prepared, output: DEMO_LOGITS, data, steps, quantDelay, backend, checkpointDir: ckptDir, checkpointEvery: Math.max(1, Math.floor(steps / 3)),
    onStep: (s) => {
      history.push(s);
      opts.onStep?.(s, steps);
    },
  }), (r) => `${r.stepsRun} steps (quant_delay ${quantDelay}), ${r.sites.length} fake-quant sites, loss ${r.history[quantDelay]?.loss.toExponential(2) ?? '?'} → ${r.history[r.history.length - 1]!.loss.toExponential(2)}`);
  writeFileSync((files.loss = join(dir, 'loss.svg')), lossCurveSvg(history, { quantDelay, title: 'QAT distillation loss' }));

  // 4. Eval graph: contrib's create_eval_graph placement, ranges as variables.
  const evalRes = await timed('eval', () => evalMetaGraph(trained.graph, trained.sites), (r) => `MetaGraphDef with ${r.variables} range variables at ${trained.sites.length} sites`);
  writeModel(evalRes.model, (files.eval = join(dir, 'eval.meta')), { format: 'binary' });

  // 5. Freeze eval graph + checkpoint.
  const frozen = await timed('freeze', () => freezeGraph({ inputGraph: evalRes.model, inputCheckpoint: ckptDir, outputNodeNames: [DEMO_OUTPUT, DEMO_LOGITS] }), (g) => `${g.size} nodes, every range from the checkpoint`);
  writeGraph(frozen, (files.frozen = join(dir, 'frozen.pb')));

  // 6. The seed's deployment pipeline.
  const deploy = frozen.clone();
  await timed('pipeline', () => runFirstParty(deploy, SEED_PIPELINE, [DEMO_INPUT], [DEMO_OUTPUT], backend), (reps) => reps.map((r) => `${r.name} ${r.nodesBefore}→${r.nodesAfter}`).join(', '));
  writeGraph(deploy, (files.deploy = join(dir, 'deploy.pb')));
  writeGraph(deploy, (files.deployText = join(dir, 'deploy.pbtxt')));

  // 7. Verify against the float model on held-out images; compare with post-training quantization.
  const evalX = demoImages(8, size, 99_999);
  const fetch = [DEMO_LOGITS, DEMO_OUTPUT];
  const verify = await timed('verify', async () => {
    const [fl, fp] = await runGraph(float, { [DEMO_INPUT]: evalX }, fetch, { backend });
    const [ql, qp] = await runGraph(deploy, { [DEMO_INPUT]: evalX }, fetch, { backend });
    const cmp = compareTensors(DEMO_LOGITS, ql!, fl!, 0, 0);
    // PTQ baseline: same placement, ranges from calibration only (no weight updates).
    const ptqRes = await qat({ graph: prepared, output: DEMO_LOGITS, data, steps: Math.max(8, quantDelay), quantDelay: 1e9, lr: 0, backend });
    const ptqFrozen = ptqRes.graph;
    applySites(ptqFrozen, ptqRes.sites, {
      kind: 'const',
      ranges: Object.fromEntries(ptqRes.sites.map((s) => [s.tensor, { min: ptqRes.ranges.get(s.prefix)![0], max: ptqRes.ranges.get(s.prefix)![1] }])),
    });
    const [pl, pp] = await runGraph(ptqFrozen, { [DEMO_INPUT]: evalX }, fetch, { backend });
    return {
      sqnrDb: sqnr(fl!.toFloat32(), ql!.toFloat32()),
      agreement: agreement(fp!, qp!),
      maxAbs: cmp.maxAbsError,
      ptq: { sqnrDb: sqnr(fl!.toFloat32(), pl!.toFloat32()), agreement: agreement(fp!, pp!) },
    };
  }, (v) => `logits SQNR ${v.sqnrDb.toFixed(1)} dB (PTQ ${v.ptq.sqnrDb.toFixed(1)} dB), pred agreement ${(100 * v.agreement).toFixed(1)}% (PTQ ${(100 * v.ptq.agreement).toFixed(1)}%)`);

  // 8. quant-check for TFLite.
  const findings = await timed('quant-check', () => quantCheck(deploy, loadTarget('tflite')), (f) => {
    const missing = f.filter((x) => x.rule === 'missing-range');
    const list = missing.map((x) => `${x.tensor} (read by ${x.consumerOp})`).join(', ');
    return `${missing.length} tensors lack a range${missing.length ? `: ${list} — left to the converter: a contrib range contains 0, so fake-quantizing var + eps before Rsqrt would round small variances to 0 (Inf)` : ''}; ${f.length - missing.length} other findings`;
  });
  const missingRanges = findings.filter((x) => x.rule === 'missing-range').length;

  // 9. The .tflite: INT8 first, then what converts (each failure is reported with its reason).
  const tried: { type: TfliteType; error?: string }[] = [];
  let tflite: TfliteCheck | undefined;
  await timed('tflite', async () => {
    const examples = Array.from({ length: evalX.shape[0]! }, (_, i) => new Tensor('float32', [1, size, size, 3], evalX.toFloat32().slice(i * size * size * 3, (i + 1) * size * size * 3)));
    for (const type of ['INT8', 'QUANTIZED_UINT8', 'FLOAT'] as const) {
      try {
        tflite = await convertAndCheck(deploy, { input: DEMO_INPUT, output: DEMO_LOGITS, out: join(dir, 'model.tflite'), inferenceType: type, examples, inputRange: [0, 1], backend });
        tried.push({ type });
        break;
      } catch (e) {
        tried.push({ type, error: (e as Error).message.split('\n').slice(0, 2).map((l) => l.trim()).join(': ').slice(0, 300) });
      }
    }
    return tflite;
  }, (t) => t
    ? `${t.inferenceType} model.tflite on LiteRT.js vs deploy.pb: pixel agreement ${(100 * t.agreement).toFixed(1)}%, SQNR ${t.sqnrDb.toFixed(1)} dB${t.lsb ? `, mean ${t.lsb.mean.toFixed(2)} LSB, ${(100 * t.lsb.within1).toFixed(0)}% within 1 LSB` : ''}${tried.length > 1 ? ` (${tried.filter((x) => x.error).map((x) => `${x.type} failed: ${x.error}`).join('; ')})` : ''}`
    : `no .tflite: ${tried.map((x) => `${x.type}: ${x.error}`).join('; ')}`);
  if (tflite) files.tflite = tflite.file;
  writeFileSync((files.plots = join(dir, 'plots.html')), trainingReportHtml(trained, { title: 'tfpass demo: QAT', quantDelay }));

  // 9. Summary.
  const before = costs(float, size);
  const after = costs(deploy, size);
  log(`summary    float: ${before.nodes} nodes, ${before.params} params, ${before.macs} MACs → deployed: ${after.nodes} nodes, ${after.params} params, ${after.macs} MACs`);
  try {
    const { diffHtml } = await import('@tfpass/view' as string);
    writeFileSync((files.view = join(dir, 'view.html')), diffHtml(float, deploy, { title: 'demo: float → deployed' }));
  } catch {
    /* the viewer is optional */
  }
  const md = [
    '# tfpass demo',
    '',
    `Model: BiSeNetV2-style segmentation, input \`${DEMO_INPUT}\` [1,${size},${size},3], output \`${DEMO_OUTPUT}\`.`,
    '',
    '| step | seconds | what happened |',
    '|---|---|---|',
    ...report.map((r) => `| ${r.name} | ${(r.ms / 1000).toFixed(1)} | ${r.detail.replace(/\|/g, '\\|')} |`),
    '',
    `| | nodes | params | MACs |`,
    '|---|---|---|---|',
    `| float | ${before.nodes} | ${before.params} | ${before.macs} |`,
    `| deployed | ${after.nodes} | ${after.params} | ${after.macs} |`,
    '',
    `Plots: [plots.html](plots.html) (loss with moving average, each fake-quant site's min/max over training, quant_delay marked).`,
    '',
    'Files: ' + Object.entries(files).map(([k, v]) => `${k}: \`${v.slice(dir.length + 1)}\``).join(', '),
    '',
    `Held-out inputs: 8 generated images (soft colour blobs plus N(0, 0.03) noise, clipped to [0, 1]).`,
  ].join('\n');
  writeFileSync((files.report = join(dir, 'report.md')), md + '\n');
  return { dir, files, tflite, tfliteTried: tried, findings, steps: report, sqnrDb: verify.sqnrDb, agreement: verify.agreement, ptq: verify.ptq, missingRanges, before, after };
}
