/**
 * The seed's pitfalls in `tfpass quantize` / `tfpass calibrate` (issue 15, items 5 and 7), run
 * in-process through main() on the real models: unfolded batch norms, no fake quant inserted,
 * a frozen graph made into a training graph. Each is one warning line, said once; --strict
 * turns it into E_PASS (exit 9) and writes nothing. Good inputs get no warning.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as core from '@tfpass/core';
import { modelsDir } from '@tfpass/core/testing';
import { main } from '../src/main.js';
import type { Io } from '../src/ui.js';
import { tmp } from './helpers.js';

type Captured = Io & { stdout: string; stderr: string };
function capture(cwd: string): Captured {
  const io = { stdout: '', stderr: '', tty: false, cwd, out: (s: string) => void (io.stdout += s), err: (s: string) => void (io.stderr += s) };
  return io;
}
async function cli(cwd: string, args: string[]): Promise<{ status: number; io: Captured }> {
  const io = capture(cwd);
  const status = await main(args, io);
  return { status, io };
}
const warnings = (io: Captured) => io.stderr.split('\n').filter((l) => l.startsWith('tfpass: warning: '));
/** Lines (of all output) containing `s`: a message said once is on exactly one line. */
const linesWith = (io: Captured, s: string) => `${io.stdout}\n${io.stderr}`.split('\n').filter((l) => l.includes(s));

const dir = modelsDir();
const mnet = dir ? join(dir, 'keras-mobilenet-0.25-128/mnet.pb') : '';
const mlpPb = dir ? join(dir, 'edgetpu-qat-fashion-mlp/frozen_model.pb') : '';
const mlpMeta = dir ? join(dir, 'edgetpu-qat-fashion-mlp/checkpoints.meta') : '';
const slim = dir ? join(dir, 'tf-doc-localisation-mnv2/frozen_model.pb') : '';

describe.skipIf(!dir)('quantize and calibrate pitfalls on real models', () => {
  const work = tmp('tfpass-pitfalls-');
  const folded = join(work, 'mnet-folded.pb');

  beforeAll(async () => {
    // The fix the warning names, exactly as printed.
    const r = await cli(work, ['transform', '--in_graph', mnet, '--out_graph', folded, "--transforms=fold_constants fold_batch_norms fold_old_batch_norms"]);
    expect(r.status, r.io.stderr).toBe(0);
  });

  it('raw Keras MobileNet: one warning naming the 27 unfolded batch norms and the fold command; no other warning with --eval', async () => {
    const r = await cli(work, ['quantize', '--in_graph', mnet, '--out_graph', 'raw-eval.meta', '--eval']);
    expect(r.status, r.io.stderr).toBe(0);
    const w = warnings(r.io);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/inserted 81 fake quants in the wrong places: the graph has 27 unfolded batch norms \(unfused Mul\/Add after Conv2D\/DepthwiseConv2dNative; e\.g\. conv1\/convolution -> conv1_bn\/batchnorm_1\/mul_1\)/);
    expect(w[0]).toContain("fold batch norms first: tfpass transform --in_graph");
    expect(w[0]).toContain("--transforms='fold_constants fold_batch_norms fold_old_batch_norms'");
    expect(linesWith(r.io, 'unfolded batch norms')).toHaveLength(1);
  });

  it('raw Keras MobileNet, training graph: the batch-norm and the frozen warnings, each once', async () => {
    const r = await cli(work, ['quantize', '--in_graph', mnet, '--out_graph', 'raw-train.meta', '--json']);
    expect(r.status, r.io.stderr).toBe(0);
    const w = warnings(r.io);
    expect(w).toHaveLength(2);
    expect(linesWith(r.io, 'warning: inserted 81 fake quants in the wrong places')).toHaveLength(1);
    expect(linesWith(r.io, 'warning: the graph is frozen: its weights are constants')).toHaveLength(1);
    // --json carries the same lines for scripts.
    expect(JSON.parse(r.io.stdout).warnings).toEqual(w.map((l) => l.slice('tfpass: warning: '.length)));
  });

  it('--strict: E_PASS, exit 9, naming the flag and the cause; no output written', async () => {
    const r = await cli(work, ['quantize', '--in_graph', mnet, '--out_graph', 'strict.meta', '--eval', '--strict']);
    expect(r.status).toBe(9);
    expect(r.io.stderr).toMatch(/^tfpass: error\[E_PASS\]: quantize --strict: inserted 81 fake quants in the wrong places: the graph has 27 unfolded batch norms/);
    expect(r.io.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(join(work, 'strict.meta'))).toBe(false);
  });

  it('folded Keras MobileNet --eval: no warning, one range per ReLU6 clip, and quant-check agrees with 0 errors', async () => {
    const r = await cli(work, ['quantize', '--in_graph', folded, '--out_graph', 'folded-eval.meta', '--eval', '--strict', '--json']);
    expect(r.status, r.io.stderr).toBe(0);
    expect(r.io.stderr).toBe('');
    expect(JSON.parse(r.io.stdout).sites).toBe(54);
    const g = core.readModel(join(work, 'folded-eval.meta')).graph;
    const fqInputs = g.nodes().filter((n) => n.op === 'FakeQuantWithMinMaxVars').map((n) => g.producer(n.dataInputs[0]!)!);
    const acts = fqInputs.filter((p) => p.op !== 'Const' && p.op !== 'Identity');
    expect(acts).toHaveLength(27);
    expect(new Set(acts.map((p) => p.op))).toEqual(new Set(['Maximum'])); // after the clip, never on Relu or Minimum
    const c = await cli(work, ['quant-check', join(work, 'folded-eval.meta'), '--outputs', 'output_0', '--json']);
    expect(c.status, c.io.stdout).toBe(0);
    expect(JSON.parse(c.io.stdout)).toMatchObject({ errors: 0, findings: [] });
    // Without --outputs too: variable initializers, the saver and range reads are not what a frozen graph keeps.
    const all = await cli(work, ['quant-check', join(work, 'folded-eval.meta'), '--json']);
    expect(all.status, all.io.stdout).toBe(0);
    expect(JSON.parse(all.io.stdout)).toMatchObject({ errors: 0, findings: [] });
    // The unfolded graph is where the missing ranges are (quant-check is not simply silent).
    const bad = await cli(work, ['quant-check', join(work, 'raw-eval.meta'), '--outputs', 'output_0', '--json']);
    expect(bad.status).not.toBe(0);
    expect(JSON.parse(bad.io.stdout).errors).toBeGreaterThan(0);
  });

  it('folded Keras MobileNet, frozen with calibrated ranges: quant-check 0 errors and toco agrees (uint8, 27 ops, each clip fused)', async () => {
    const c = await cli(work, ['calibrate', folded, '--batches', '2', '--out', join(work, 'fq-ranges.json'), '--strict']);
    expect(c.status, c.io.stderr).toBe(0);
    const t = await cli(work, ['transform', '--in_graph', folded, '--out_graph', join(work, 'fq.pb'), `--transforms=insert_fake_quant(ranges=${join(work, 'fq-ranges.json')})`]);
    expect(t.status, t.io.stderr).toBe(0);
    const q = await cli(work, ['quant-check', join(work, 'fq.pb'), '--json']);
    expect(q.status, q.io.stdout).toBe(0);
    expect(JSON.parse(q.io.stdout).errors).toBe(0);
    const out = join(work, 'fq.tflite');
    const v = await cli(work, ['toco', '--graph_def_file', join(work, 'fq.pb'), '--output_file', out, '--output_arrays', 'output_0', '--input_arrays', 'input_1', '--input_shapes', '1,128,128,3', '--inference_type', 'QUANTIZED_UINT8', '--mean_values', '128', '--std_dev_values', '128']);
    expect(v.status, v.io.stderr).toBe(0);
    expect(v.io.stdout).toMatch(/QUANTIZED_UINT8, 27 operators \(CONV_2D×14 DEPTHWISE_CONV_2D×13\)/);
  });

  it('folded Keras MobileNet, training graph: only the frozen warning, naming tfpass unfreeze; after unfreeze, none', async () => {
    const r = await cli(work, ['quantize', '--in_graph', folded, '--out_graph', 'folded-train.meta']);
    expect(r.status, r.io.stderr).toBe(0);
    const w = warnings(r.io);
    expect(w).toHaveLength(1);
    expect(w[0]).toBe(
      'tfpass: warning: the graph is frozen: its weights are constants (27 layer weights, 0 trainable variables), so training has nothing to update; ' +
        `unfreeze first: tfpass unfreeze ${folded} --out DIR, then quantize DIR/model.meta`,
    );
    const s = await cli(work, ['quantize', '--in_graph', folded, '--out_graph', 'folded-strict.meta', '--strict']);
    expect(s.status).toBe(9);
    expect(s.io.stderr).toMatch(/^tfpass: error\[E_PASS\]: quantize --strict: the graph is frozen/);
    expect(await cli(work, ['unfreeze', folded, '--out', join(work, 'uf')])).toMatchObject({ status: 0 });
    const u = await cli(work, ['quantize', '--in_graph', join(work, 'uf/model.meta'), '--out_graph', 'uf-train.meta', '--strict']);
    expect(u.status, u.io.stderr).toBe(0);
    expect(warnings(u.io)).toEqual([]);
  });

  it('edgetpu MLP: the frozen .pb warns that it is frozen; its .meta with variables does not; both say they are already quantized', async () => {
    const pb = await cli(work, ['quantize', '--in_graph', mlpPb, '--out_graph', 'mlp-pb.meta']);
    expect(pb.status, pb.io.stderr).toBe(0);
    expect(warnings(pb.io)).toHaveLength(1);
    expect(linesWith(pb.io, 'warning: the graph is frozen: its weights are constants (2 layer weights, 0 trainable variables)')).toHaveLength(1);
    const meta = await cli(work, ['quantize', '--in_graph', mlpMeta, '--out_graph', 'mlp-meta.meta', '--strict']);
    expect(meta.status, meta.io.stderr).toBe(0);
    expect(meta.io.stderr).toBe('');
    // 0 inserted is right here (contrib skips a layer a fake quant already follows): a fact, not a warning.
    expect(linesWith(meta.io, 'inserted 0 fake quants: the graph is already quantized (6 fake quants cover')).toHaveLength(1);
  });

  it('a graph with no Conv2D/MatMul: "inserted 0 fake quants" names the cause; --strict fails', async () => {
    const g = new core.Graph();
    g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: { type: 'float32' }, shape: { shape: [1, 4] } } });
    g.addNode({ name: 'y', op: 'Relu', inputs: ['x'], attrs: { T: { type: 'float32' } } });
    core.writeGraph(g, join(work, 'relu.pb'));
    const r = await cli(work, ['quantize', '--in_graph', 'relu.pb', '--out_graph', 'relu.meta', '--eval']);
    expect(r.status, r.io.stderr).toBe(0);
    expect(warnings(r.io)).toEqual(['tfpass: warning: inserted 0 fake quants: the graph has no Conv2D, DepthwiseConv2dNative or MatMul, the only layers create_training_graph quantizes (its ops: Placeholder×1 Relu×1)']);
    const s = await cli(work, ['quantize', '--in_graph', 'relu.pb', '--out_graph', 'relu2.meta', '--eval', '--strict']);
    expect(s.status).toBe(9);
    expect(s.io.stderr).toContain('quantize --strict: inserted 0 fake quants: the graph has no Conv2D');
  });

  it('calibrate on raw Keras MobileNet warns once (ranges will not match the folded graph); --strict fails before any batch; folded: no warning', async () => {
    const r = await cli(work, ['calibrate', mnet, '--batches', '1', '--out', 'raw.json']);
    expect(r.status, r.io.stderr).toBe(0);
    const w = warnings(r.io);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/calibrating 81 ranges on a graph with 27 unfolded batch norms .*will not match the folded graph TOCO converts; fold batch norms first: tfpass transform/);
    const s = await cli(work, ['calibrate', mnet, '--batches', '1', '--out', 'strict.json', '--strict']);
    expect(s.status).toBe(9);
    expect(s.io.stderr).toMatch(/^tfpass: error\[E_PASS\]: calibrate --strict: calibrating 81 ranges on a graph with 27 unfolded batch norms/);
    expect(existsSync(join(work, 'strict.json'))).toBe(false);
    const f = await cli(work, ['calibrate', folded, '--batches', '1', '--out', 'folded.json', '--strict']);
    expect(f.status, f.io.stderr).toBe(0);
    expect(f.io.stderr).toBe('');
    expect(Object.keys(JSON.parse(readFileSync(join(work, 'folded.json'), 'utf8')).ranges)).toHaveLength(54);
  });

  it('calibrate on the slim MobileNetV2 with 52 FusedBatchNorms: 2 ranges, and the warning says why', async () => {
    const r = await cli(work, ['calibrate', slim, '--batches', '1', '--out', 'slim.json']);
    expect(r.status, r.io.stderr).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(join(work, 'slim.json'), 'utf8')).ranges)).toHaveLength(2);
    const w = warnings(r.io);
    expect(w).toHaveLength(1);
    expect(w[0]).toContain('calibrating 2 ranges on a graph with 52 unfolded batch norms (FusedBatchNorm after Conv2D/DepthwiseConv2dNative; e.g. MobilenetV2/Conv/Conv2D -> MobilenetV2/Conv/BatchNorm/FusedBatchNorm): the layers a fused norm reads get no range');
  });
});
