import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { feedShapes, fixturesDir, runFixture } from '@tfpass/core/testing';
import { expectSameOutputs } from '@tfpass/runtime/testing';
import * as plugin from '../src/index.js';

// Each fixtures/<pass>/<case>/ holds input.pbtxt (header: what it shows, --inputs/--outputs) and
// output.pbtxt, the graph <pass> must produce. Outputs are also compared numerically:
// inputs ~ U(-1, 1) (seed 3), |a-b| <= 1e-5 + 1e-5|b|.
const dir = fixturesDir(import.meta.url);
const passes = ['remove_nodes', 'strip_unused_nodes'];
/** What the report must say for cases where the pass refuses. */
/** What the report must say for cases where the pass refuses. */
const says: Record<string, RegExp> = {
  'remove_nodes/other_port': /idn: kept because outputs other than :0 are read/,
};

for (const pass of passes) {
  describe(`${pass} fixture pairs`, () => {
    for (const c of readdirSync(join(dir, pass)).sort()) {
      test(c, async () => {
        const { reports } = await runFixture(pass, `${pass}/${c}/input.pbtxt`, `${pass}/${c}/output.pbtxt`, {
          dir,
          plugins: [plugin],
          // Fed where the stripped graph is fed: a cut at an inner --inputs node feeds that node in both.
          numeric: (before, after, io) => io.outputs.length && expectSameOutputs(before, after, { inputs: feedShapes(after), outputs: io.outputs, seed: 3 }),
        });
        const want = says[`${pass}/${c}`];
        if (want) expect([...reports[0]!.messages, ...reports[0]!.warnings].join('\n')).toMatch(want);
      });
    }
  });
}
