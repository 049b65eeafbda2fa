/**
 * The whole `tfpass qat` job on a user's graph: prepare (fold BN for inference), train,
 * eval graph + checkpoint, freeze, the seed pipeline, verify and quant-check.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Graph, Tensor, TfpassError, UsageError, writeGraph, writeModel } from '@tfpass/core';
import { runGraph, readNpy, type BackendName } from '@tfpass/runtime';
import { quantCheck, loadTarget, type PlanOptions } from '@tfpass/quantize';
import { evalMetaGraph } from './coverage.js';
import { freezeGraph } from '@tfpass/checkpoint';
import { qat, type LossKind, type QatResult, type StepInfo } from './qat.js';
import { runFirstParty, SEED_PIPELINE } from './pipeline.js';
import { lossCurveSvg } from './report.js';

export interface QatJobOptions extends PlanOptions {
  graph: Graph;
  /** Input name -> .npy files (one example or one batch each). */
  data: Record<string, string[]>;
  /** Label .npy files, aligned with the data files (omit for distillation). */
  labels?: string[];
  loss?: LossKind;
  /** The tensor trained on (logits); also the frozen graph's output. */
  output: string;
  /** More outputs to keep in the frozen graph. */
  keep?: string[];
  steps: number;
  batch?: number;
  quantDelay?: number;
  lr?: number;
  checkpointDir: string;
  checkpointEvery?: number;
  resume?: boolean;
  initCheckpoint?: string;
  exclude?: string;
  backend?: BackendName;
  outGraph?: string;
  seed?: number;
  onStep?: (s: StepInfo) => void;
}

export interface QatJobResult {
  result: QatResult;
  files: Record<string, string>;
  sqnrDb: number;
  maxAbsError: number;
  missingRanges: number;
}

/** Stack per-file tensors (with or without a leading batch dim of 1) into one [N, ...] tensor. */
function loadStack(files: string[], what: string): Tensor {
  const ts = files.map((f) => readNpy(f));
  const first = ts[0]!;
  const per = first.shape.length && first.shape[0] === 1 ? first.shape.slice(1) : first.shape;
  let n = 0;
  for (const [i, t] of ts.entries()) {
    const s = t.shape.length && t.shape[0]! >= 1 && t.shape.slice(1).join(',') === per.join(',') ? t.shape.slice(1) : t.shape;
    if (s.join(',') !== per.join(',')) throw new TfpassError('E_FILE', `${files[i]}: ${what} has shape [${t.shape}], expected [${per}] or [B,${per}]`);
    n += t.size / Math.max(1, per.reduce((a, b) => a * b, 1));
  }
  const data = new Float32Array(n * per.reduce((a, b) => a * b, 1));
  let off = 0;
  for (const t of ts) {
    const v = t.toFloat32();
    data.set(v, off);
    off += v.length;
  }
  return new Tensor('float32', [n, ...per], data);
}

function sliceRows(t: Tensor, rows: number[]): Tensor {
  const per = t.size / t.shape[0]!;
  const src = t.toFloat32();
  const out = new Float32Array(rows.length * per);
  rows.forEach((r, i) => out.set(src.subarray(r * per, (r + 1) * per), i * per));
  return new Tensor('float32', [rows.length, ...t.shape.slice(1)], out);
}

export async function runQatJob(o: QatJobOptions): Promise<QatJobResult> {
  const names = Object.keys(o.data);
  if (!names.length) throw new UsageError('qat needs training data: --data [NAME=]GLOB');
  const stacks = Object.fromEntries(names.map((k) => [k, loadStack(o.data[k]!, `input ${k}`)]));
  const count = stacks[names[0]!]!.shape[0]!;
  for (const k of names) if (stacks[k]!.shape[0] !== count) throw new UsageError(`--data: input ${k} has ${stacks[k]!.shape[0]} examples, ${names[0]} has ${count}`);
  const labels = o.labels ? loadStack(o.labels, 'labels') : undefined;
  if (labels && labels.shape[0] !== count) throw new UsageError(`--labels: ${labels.shape[0]} examples for ${count} inputs`);
  const batch = Math.min(o.batch ?? 8, count);
  // A fixed permutation per epoch, from the seed: reproducible runs.
  let seed = (o.seed ?? 1) >>> 0;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
  const perms: number[][] = [];
  const rowsFor = (step: number) => {
    const start = (step - 1) * batch;
    const rows: number[] = [];
    for (let i = 0; i < batch; i++) {
      const e = Math.floor((start + i) / count);
      while (perms.length <= e) {
        const p = Array.from({ length: count }, (_, j) => j);
        for (let j = p.length - 1; j > 0; j--) {
          const r = Math.floor(rand() * (j + 1));
          [p[j], p[r]] = [p[r]!, p[j]!];
        }
        perms.push(p);
      }
      rows.push(perms[e]![(start + i) % count]!);
    }
    return rows;
  };

  const dir = resolve(o.checkpointDir);
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  const outputs = [o.output, ...(o.keep ?? [])];
  const prepared = o.graph.clone();
  await runFirstParty(prepared, 'fuse_instance_norm remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms', names, outputs, o.backend);
  writeGraph(prepared, (files.prepared = join(dir, 'prepared.pb')));

  const result = await qat({
    ...o,
    graph: prepared,
    data: (step) => {
      const rows = rowsFor(step);
      return { feeds: Object.fromEntries(names.map((k) => [k, sliceRows(stacks[k]!, rows)])), labels: labels ? sliceRows(labels, rows) : undefined };
    },
    loss: o.labels ? (o.loss ?? 'sparse_softmax_cross_entropy') : undefined,
    exclude: o.exclude,
    checkpointDir: dir,
    checkpointEvery: o.checkpointEvery ?? Math.max(1, Math.floor(o.steps / 4)),
  });
  writeFileSync((files.loss = join(dir, 'loss.svg')), lossCurveSvg(result.history, { quantDelay: o.quantDelay, title: 'QAT loss' }));

  const ev = evalMetaGraph(result.graph, result.sites);
  writeModel(ev.model, (files.eval = join(dir, 'eval.meta')), { format: 'binary' });
  const frozen = freezeGraph({ inputGraph: ev.model, inputCheckpoint: dir, outputNodeNames: outputs });
  await runFirstParty(frozen, SEED_PIPELINE, names, outputs, o.backend);
  files.frozen = resolve(o.outGraph ?? join(dir, 'frozen.pb'));
  writeGraph(frozen, files.frozen);

  // Verify on up to 4 batches: the trained float graph vs the deployable quantized one (with
  // labels the weights moved, so the original graph is no reference for quantization error).
  let s = 0, nse = 0, maxAbs = 0;
  for (let k = 0; k < Math.min(4, Math.ceil(count / batch)); k++) {
    const rows = Array.from({ length: Math.min(batch, count - k * batch) }, (_, i) => k * batch + i);
    const feeds = Object.fromEntries(names.map((n) => [n, sliceRows(stacks[n]!, rows)]));
    const [f] = await runGraph(result.graph, feeds, [o.output], { backend: o.backend });
    const [q] = await runGraph(frozen, feeds, [o.output], { backend: o.backend });
    const a = f!.toFloat32(), b = q!.toFloat32();
    for (let i = 0; i < a.length; i++) {
      s += a[i]! ** 2;
      nse += (a[i]! - b[i]!) ** 2;
      maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
    }
  }
  const missingRanges = quantCheck(frozen, loadTarget('tflite')).filter((f) => f.rule === 'missing-range').length;
  return { result, files, sqnrDb: 10 * Math.log10(s / Math.max(nse, 1e-30)), maxAbsError: maxAbs, missingRanges };
}
