import { readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { fixturesDir, runFixture } from '@tfpass/core/testing';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import * as plugin from '../src/index.js';

// fixtures/remove_neutral_ops/<case>/{input,output}.pbtxt; outputs also compared on TF.js with
// inputs ~ U(-1, 1) (seed 7), |a-b| <= 1e-6 + 1e-6|b| (removing x+0 or x*1 is exact).
const dir = fixturesDir(import.meta.url);
const notes: Record<string, RegExp> = {
  broadcast: /plus: kept, its constant is not a scalar/,
  output_and_controls: /scaled: kept, it is a pipeline output/,
};

describe('remove_neutral_ops fixture pairs', () => {
  for (const c of readdirSync(`${dir}/remove_neutral_ops`).sort()) {
    test(c, async () => {
      const { reports } = await runFixture('remove_neutral_ops', `remove_neutral_ops/${c}/input.pbtxt`, `remove_neutral_ops/${c}/output.pbtxt`, {
        dir,
        plugins: [plugin],
        numeric: (before, after, io) => expectSameOutputs(before, after, { inputs: io.feeds, outputs: io.outputs, seed: 7, atol: 1e-6, rtol: 1e-6 }),
      });
      if (notes[c]) expect(reports[0]!.messages.join('\n')).toMatch(notes[c]!);
    });
  }
});
