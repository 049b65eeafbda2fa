import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIRST_PARTY, catalogueLookup } from '../src/catalogue.js';
import { ROOT } from './helpers.js';

/** pass -> package, read from every first-party manifest here (independently of the generator). */
function manifests(): Map<string, string> {
  const owner = new Map<string, string>();
  for (const dir of readdirSync(join(ROOT, 'packages'))) {
    const file = join(ROOT, 'packages', dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string; private?: boolean; tfpass?: { passes: { name: string }[] } };
    if (pkg.private) continue;
    for (const p of pkg.tfpass?.passes ?? []) owner.set(p.name, pkg.name);
  }
  return owner;
}

describe('the install-hint catalogue', () => {
  it('names, for every pass of every first-party manifest, the package that provides it, and nothing else', () => {
    const owner = manifests();
    expect(owner.size).toBeGreaterThan(30);
    for (const [pass, pkg] of owner) expect(catalogueLookup(pass), pass).toBe(pkg);
    const listed = Object.values(FIRST_PARTY).flat();
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed.sort()).toEqual([...owner.keys()].sort());
    // The two the issue found drifted.
    expect(catalogueLookup('round_weights')).toBe('@tfpass/pass-fold-bn');
    expect(catalogueLookup('insert_fake_quant')).toBe('@tfpass/quantize');
  });

  it('is what the generator writes from the manifests (gen-catalogue --check)', () => {
    expect(() => execFileSync(process.execPath, [join(ROOT, 'packages/cli/scripts/gen-catalogue.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
