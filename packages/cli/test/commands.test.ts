import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as core from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { buildOnce, tfpass, tmp } from './helpers.js';
import { writeConvGraph } from './graphs.js';

const MNIST = modelPath('armnn-simple-mnist/simple_mnist_tf.pb');
const MNET = modelPath('keras-mobilenet-0.25-128/mnet.pb');
const REG = modelPath('tf2onnx-regression');
const QAT = modelPath('edgetpu-qat-fashion-mlp/frozen_model.pb');

beforeAll(() => buildOnce());

const f32 = { type: 'float32' as const };
/** x[1,4] -> <op> -> out */
function tiny(dir: string, file: string, op: string): string {
  const g = new core.Graph();
  g.addNode({ name: 'x', op: 'Placeholder', attrs: { dtype: f32, shape: { shape: [1, 4] } } });
  g.addNode({ name: 'out', op, inputs: ['x'], attrs: { T: f32 } });
  const p = join(dir, file);
  core.writeGraph(g, p);
  return p;
}

describe.concurrent('convert', () => {
  it('.pb -> TF.js (uint8 weights) -> .pbtxt: Consts equal TF.js\'s own dequantized weights', async () => {
    if (!MNIST) return void console.log('models not available: skipped');
    const dir = tmp();
    let r = await tfpass(['convert', MNIST, 'tj/model.json', '--quantize', 'uint8'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readdirSync(join(dir, 'tj')).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
    r = await tfpass(['convert', 'tj/model.json', 'back.pbtxt'], { cwd: dir });
    expect(r.status).toBe(0);
    const back = core.readGraph(join(dir, 'back.pbtxt'));
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    const json = JSON.parse(readFileSync(join(dir, 'tj/model.json'), 'utf8'));
    const bytes = readFileSync(join(dir, 'tj/group1-shard1of1.bin'));
    const decoded = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), json.weightsManifest[0].weights);
    const names = Object.keys(decoded);
    expect(names.length).toBeGreaterThanOrEqual(2);
    for (const n of names) {
      const ours = back.node(n).attrs.getTensor('value');
      expect(ours.shape).toEqual(decoded[n]!.shape);
      expect(Array.from(ours.toFloat32())).toEqual(Array.from(decoded[n]!.dataSync()));
    }
    // and the original weights are within one uint8 step
    const orig = core.readGraph(MNIST).node(names[0]!).attrs.getTensor('value').toFloat32();
    const q = back.node(names[0]!).attrs.getTensor('value').toFloat32();
    const range = Math.max(...orig) - Math.min(...orig);
    expect(Math.max(...orig.map((v, i) => Math.abs(v - q[i]!)))).toBeLessThanOrEqual(range / 255);
  });

  it('SavedModel -> GraphDef; refuses to overwrite the input', async () => {
    if (!REG) return void console.log('models not available: skipped');
    const dir = tmp();
    const r = await tfpass(['convert', join(REG, 'saved_model'), 'g.pb', '--json'], { cwd: dir });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ from: 'binary SavedModel', to: 'binary GraphDef' });
    expect(core.readModel(join(dir, 'g.pb')).kind).toBe('graph');
    const again = await tfpass(['convert', 'g.pb', 'g.pb'], { cwd: dir });
    expect(again.status).toBe(3);
  });
});

describe.concurrent('run, verify, trace', () => {
  it('run writes .npy outputs and prints statistics', async () => {
    if (!MNIST) return void console.log('models not available: skipped');
    const dir = tmp();
    const r = await tfpass(['run', MNIST, '--input', 'Placeholder=1,784', '--out_dir', 'o', '--json'], { cwd: dir });
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(j.outputs[0]).toMatchObject({ name: 'Softmax', shape: [1, 10], nan: 0 });
    expect(j.outputs[0].min).toBeGreaterThanOrEqual(0);
    expect(existsSync(join(dir, 'o/Softmax.npy'))).toBe(true);
  });

  it('the seed pipeline keeps MobileNet\'s outputs (verify); a changed graph fails with E_NUMERIC', async () => {
    if (!MNET) return void console.log('models not available: skipped');
    const dir = tmp();
    const t = await tfpass(['transform', `--in_graph=${MNET}`, '--out_graph=opt.pb', '--inputs=input_1', '--outputs=output_0',
      // pin_shapes=true: the opt-in that gives the existing input_1 [?,128,128,3] its batch of 1 (TF would ignore shape= here)
      '--transforms=strip_unused_nodes(type=float, shape="1,128,128,3", pin_shapes=true) remove_nodes(op=Identity, op=CheckNumerics) fold_constants fold_batch_norms fold_old_batch_norms'], { cwd: dir });
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(/677 -> \d+ nodes/);
    expect(t.stdout).toMatch(/op types changed: .*Identity 136 -> 1/);
    const opt = core.readGraph(join(dir, 'opt.pb'));
    expect(opt.nodes().filter((n) => n.op === 'Rsqrt')).toHaveLength(0);
    expect(opt.node('input_1').attrs.getShape('shape')).toEqual([1, 128, 128, 3]);
    const v = await tfpass(['verify', MNET, 'opt.pb', '--input', 'input_1=1,128,128,3', '--outputs', 'output_0', '--atol', '1e-4', '--rtol', '1e-4'], { cwd: dir });
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^ok {3}output_0 \[1,4,4,256\] max abs /m);
    const a = tiny(dir, 'a.pb', 'Relu');
    const b = tiny(dir, 'b.pb', 'Identity');
    const bad = await tfpass(['verify', a, b], { cwd: dir });
    expect(bad.status).toBe(core.EXIT_CODES.E_NUMERIC);
    expect(bad.stdout).toMatch(/^FAIL out \[1,4\]/m);
    expect(bad.stderr).toMatch(/b\.pb differs from .*a\.pb beyond tolerance on out/);
  });

  it('trace prints statistics of matched tensors in execution order', async () => {
    const dir = tmp();
    const a = tiny(dir, 'a.pb', 'Relu');
    const r = await tfpass(['trace', a, '--nodes', 'o*', '--json'], { cwd: dir });
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(j.tensors).toHaveLength(1);
    expect(j.tensors[0]).toMatchObject({ name: 'out', op: 'Relu', shape: [1, 4], nan: 0, inf: 0 });
    expect(j.tensors[0].min).toBeGreaterThanOrEqual(0);
    const none = await tfpass(['trace', a, '--nodes', 'zzz*'], { cwd: dir });
    expect(none.status).toBe(2);
  });
});

describe.concurrent('checkpoints and freezing', () => {
  it('freeze with freeze_graph flags, unfreeze, ckpt ls and diff', async () => {
    if (!REG) return void console.log('models not available: skipped');
    const dir = tmp();
    const ck = join(REG, 'checkpoint/model');
    const ls = await tfpass(['ckpt', 'ls', ck], { cwd: dir });
    expect(ls.stdout).toMatch(/^W\s+float32/m);
    const f = await tfpass(['freeze', `--input_graph=${ck}.meta`, `--input_checkpoint=${ck}`, '--output_node_names=pred', '--output_graph=frozen.pb'], { cwd: dir });
    expect(f.stderr).toBe('');
    expect(f.stdout).toMatch(/^Froze 2 variables/);
    const frozen = core.readGraph(join(dir, 'frozen.pb'));
    expect(frozen.nodes().some((n) => n.op === 'VariableV2')).toBe(false);
    const same = await tfpass(['freeze', `--in_graph=${ck}.meta`, `--input_checkpoint=${ck}`, '--output_node_names=pred', '--out_graph=frozen2.pbtxt'], { cwd: dir });
    expect(same.status).toBe(0);
    const missing = await tfpass(['freeze', `--input_graph=${ck}.meta`, '--output_graph=x.pb'], { cwd: dir });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--output_node_names/);
    const u = await tfpass(['unfreeze', 'frozen.pb', '--out', 'uf', '--pattern', '^(W|b)$'], { cwd: dir });
    expect(u.status).toBe(0);
    const d = await tfpass(['ckpt', 'diff', 'uf/model', ck, '--json'], { cwd: dir });
    expect(JSON.parse(d.stdout).same).toBe(true);
  });
});

describe.concurrent('quant-check and lint', () => {
  it('a QAT graph is ready; a float graph lacks ranges (non-zero exit, --json)', async () => {
    if (!QAT || !MNIST) return void console.log('models not available: skipped');
    const ok = await tfpass(['quant-check', QAT]);
    expect(ok.status).toBe(0);
    const bad = await tfpass(['quant-check', MNIST, '--json']);
    expect(bad.status).toBe(1);
    const j = JSON.parse(bad.stdout);
    expect(j.errors).toBeGreaterThan(0);
    expect(j.findings.some((f: { rule: string }) => f.rule === 'missing-range')).toBe(true);
    const lint = await tfpass(['lint', MNIST, '--disable', 'missing-range,dynamic-input']);
    expect(lint.stdout).not.toMatch(/missing-range/);
  });
});

describe.concurrent('calibrate', () => {
  it('records ranges over --data files and random batches', async () => {
    const dir = tmp();
    const g = writeConvGraph(dir);
    const r = await tfpass(['calibrate', g, '--batches', '2', '--out', 'ranges.json', '--json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, batches: 2 });
    const ranges = JSON.parse(readFileSync(join(dir, 'ranges.json'), 'utf8'));
    expect(ranges.format).toBe('tfpass-ranges');
    expect(Object.keys(ranges.ranges).length).toBeGreaterThan(0);
    for (const v of Object.values(ranges.ranges) as { min: number; max: number }[]) expect(v.min).toBeLessThanOrEqual(v.max);
    const none = await tfpass(['calibrate', g, '--data', 'nothing/*.npy', '--out', 'r.json'], { cwd: dir });
    expect(none.status).toBe(core.EXIT_CODES.E_FILE);
    expect(none.stderr).toMatch(/no file matches/);
  });
});
