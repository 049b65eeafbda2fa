import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { fixturesDir, runFixture } from '@tfpass/core/testing';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import * as plugin from '../src/index.js';

// Each fixtures/<pass>/<case>/ holds input.pbtxt (header: what it shows, --inputs/--outputs) and
// output.pbtxt, the graph <pass> must produce. Outputs are also compared numerically:
// inputs ~ U(-1, 1) (seed 3), |a-b| <= 1e-5 + 1e-5|b|.
// (The flat fixtures/*.pbtxt beside them are fixtures.test.ts's.)
const dir = fixturesDir(import.meta.url);
const passes = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
/** What the report must say for cases where the pass refuses. */
const says: Record<string, RegExp> = {
  'fold_batch_norms/not_per_channel': /output: multiplier of shape \[5,1\] is not per-channel for conv/,
  'fold_old_batch_norms/is_training': /output: not folded, FusedBatchNormV3 has is_training=true/,
  'fold_old_batch_norms/stats_used': /bn: not folded, its batch statistics outputs are used/,
};

for (const pass of passes) {
  describe(`${pass} fixture pairs`, () => {
    for (const c of readdirSync(join(dir, pass)).sort()) {
      test(c, async () => {
        const { reports } = await runFixture(pass, `${pass}/${c}/input.pbtxt`, `${pass}/${c}/output.pbtxt`, {
          dir,
          plugins: [plugin],
          numeric: (before, after, io) => expectSameOutputs(before, after, { inputs: io.feeds, outputs: io.outputs, seed: 3 }),
        });
        const want = says[`${pass}/${c}`];
        if (want) expect([...reports[0]!.messages, ...reports[0]!.warnings].join('\n')).toMatch(want);
      });
    }
  });
}
