import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const cli = join(repo, 'node_modules/@changesets/cli/bin.js');

const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
const write = (p: string, v: unknown) => {
  mkdirSync(resolve(p, '..'), { recursive: true });
  writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v, null, 2) + '\n');
};

describe('changesets: a core minor does not force a release of every plugin', () => {
  it('`changeset version` bumps only core while plugins peer-depend on ^1.0.0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfpass-changesets-'));
    const config = json(join(repo, '.changeset/config.json'));
    // the property this test is about must be in the repo's own config
    expect(config.___experimentalUnsafeOptions_WILL_CHANGE_IN_PATCH?.onlyUpdatePeerDependentsWhenOutOfRange).toBe(true);
    mkdirSync(join(dir, '.changeset'));
    copyFileSync(join(repo, '.changeset/config.json'), join(dir, '.changeset/config.json'));
    // the changelog generator is resolved from the project: lend it the repo's installed packages
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
    write(join(dir, 'package.json'), { name: 'fixture-root', private: true, workspaces: ['packages/*'] });
    write(join(dir, 'packages/core/package.json'), { name: '@tfpass/core', version: '1.0.0' });
    write(join(dir, 'packages/pass-x/package.json'), {
      name: '@tfpass/pass-x',
      version: '1.0.0',
      peerDependencies: { '@tfpass/core': '^1.0.0' },
    });
    write(join(dir, '.changeset/core-minor.md'), '---\n"@tfpass/core": minor\n---\n\nA new helper in core.\n');

    execFileSync(process.execPath, [cli, 'version'], { cwd: dir, stdio: 'pipe', env: { ...process.env, CI: '1' } });

    expect(json(join(dir, 'packages/core/package.json')).version).toBe('1.1.0');
    const plugin = json(join(dir, 'packages/pass-x/package.json'));
    expect(plugin.version).toBe('1.0.0');
    expect(plugin.peerDependencies).toEqual({ '@tfpass/core': '^1.0.0' });
    expect(existsSync(join(dir, 'packages/pass-x/CHANGELOG.md'))).toBe(false);
    expect(readFileSync(join(dir, 'packages/core/CHANGELOG.md'), 'utf8')).toContain('A new helper in core.');
    // the changeset was consumed
    expect(readdirSync(join(dir, '.changeset')).filter((f) => f.endsWith('.md'))).toEqual([]);
  });
});
