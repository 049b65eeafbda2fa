import { readdirSync } from 'node:fs';
import { describe, test } from 'vitest';
import { fixturesDir, runFixture } from '@tfpass/core/testing';
import * as plugin from '../src/index.js';

// fixtures/<pass>/<case>/{input,output}.pbtxt: where the quantizers go and how they are named and
// wired, as a reviewable diff. Structure only: what fake quantization does to the numbers is
// numeric.test.ts's (compared in LSB of each range).
const dir = fixturesDir(import.meta.url);
const passes = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

for (const pass of passes) {
  describe(`${pass} fixture pairs`, () => {
    for (const c of readdirSync(`${dir}/${pass}`).sort()) {
      test(c, () => runFixture(pass, `${pass}/${c}/input.pbtxt`, `${pass}/${c}/output.pbtxt`, { dir, plugins: [plugin] }));
    }
  });
}
