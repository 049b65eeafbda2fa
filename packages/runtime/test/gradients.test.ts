/**
 * registerGradients in plain Node (vitest resolves tfjs-core's extensionless ESM imports itself,
 * so the hook is exercised only in a child process running the built module).
 */
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

beforeAll(() => {
  execFileSync('npx', ['tsc', '-p', 'packages/runtime'], { cwd: ROOT, stdio: 'pipe' });
}, 180_000);

describe('registerGradients', () => {
  it('gives tfjs-core its gradients in Node without the @tensorflow/tfjs union', () => {
    // f(x) = sum(relu(x . w)); df/dx[i][k] = sum_j [ (x.w)[i][j] > 0 ] * w[k][j]
    const script = `
      import { createRequire } from 'node:module';
      const rt = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'packages/runtime/dist/index.js')).href)});
      const req = createRequire(${JSON.stringify(pathToFileURL(join(ROOT, 'packages/runtime/package.json')).href)});
      const tf = req('@tensorflow/tfjs-core');
      req('@tensorflow/tfjs-backend-cpu');
      await rt.registerGradients();
      await rt.registerGradients();
      await tf.setBackend('cpu');
      const x = tf.tensor2d([[1, 2], [3, -4]]);
      const w = tf.tensor2d([[0.5, -1], [2, 0.25]]);
      const g = tf.grad((a) => tf.sum(tf.relu(tf.matMul(a, w))))(x);
      const union = Object.keys(req.cache).some((k) => k.includes('/@tensorflow/tfjs/'));
      process.stdout.write(JSON.stringify({ g: g.arraySync(), union }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const { g, union } = JSON.parse(out) as { g: number[][]; union: boolean };
    // x.w = [[4.5, -0.5], [-6.5, -4]]: row 0 passes column 0 only, row 1 nothing.
    expect(g).toEqual([[0.5, 2], [0, 0]]);
    expect(union).toBe(false);
  });
});
