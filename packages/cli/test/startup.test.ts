import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, buildOnce, tmp } from './helpers.js';

// `tfpass passes` reads manifests only: neither core's IR (protobuf) nor TensorFlow.js may load.
// (The worker thread once imported core's index for one file helper: 139 modules, 2x the start-up.)
describe('a quick command stays quick', () => {
  beforeAll(buildOnce);
  it('`tfpass passes` loads no protobuf, no IR and no TensorFlow.js', () => {
    const dir = tmp();
    const log = join(dir, 'loaded.txt');
    writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';\nexport async function load(url, ctx, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, ctx); }\n`);
    writeFileSync(join(dir, 'reg.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'reg.mjs')).href, BIN, 'passes'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/fold_batch_norms/);
    const loaded = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    expect(loaded.filter((u) => /@bufbuild|@tensorflow|\/core\/dist\/(graph|io|pass|lib|index)\.js/.test(u))).toEqual([]);
  });
});
