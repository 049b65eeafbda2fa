import { expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import * as lib from '@tfpass/core';

test('package.json tfpass manifest lists exactly the registered passes', async () => {
  const pj = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const r = new lib.PassRegistry();
  await lib.registerPlugin(await import('../src/index.js'), r);
  expect(pj.tfpass.passes.map((p: { name: string }) => p.name).sort()).toEqual(r.names());
  for (const p of pj.tfpass.passes) expect(r.get(p.name)!.def.summary).toBe(p.summary);
});
