import { readdirSync } from 'node:fs';
import { expect, test } from 'vitest';
import { fixturesDir, runFixture } from '@tfpass/core/testing';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import * as plugin from '../src/index.js';

// fixtures/mul_to_square/<case>/{input,output}.pbtxt, outputs compared on TF.js with
// inputs ~ U(-1, 1) (seed 7), |a-b| <= 1e-6 + 1e-6|b| (Square(x) and x * x are the same float op).
const dir = fixturesDir(import.meta.url);
for (const c of readdirSync(`${dir}/mul_to_square`).sort()) {
  test(c, async () => {
    const { reports } = await runFixture('mul_to_square', `mul_to_square/${c}/input.pbtxt`, `mul_to_square/${c}/output.pbtxt`, {
      dir,
      plugins: [plugin],
      numeric: (before, after, io) => expectSameOutputs(before, after, { inputs: io.feeds, outputs: io.outputs, seed: 7, atol: 1e-6, rtol: 1e-6 }),
    });
    const r = reports[0]!;
    if (c === 'output_kept') expect(r.messages.join('\n')).toMatch(/output: kept, it is a pipeline output/);
    else expect(r.stats.squared).toBe(1);
  });
}
