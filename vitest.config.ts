import { defineConfig } from 'vitest/config';
import { readdirSync, existsSync } from 'node:fs';

// One vitest project per workspace package; sources are resolved through the
// "tfpass-src" export condition so unit tests need no build.
const dirs = ['packages', 'examples'].flatMap((root) =>
  existsSync(root) ? readdirSync(root).map((d) => `${root}/${d}`) : [],
).filter((d) => existsSync(`${d}/package.json`));

export default defineConfig({
  test: {
    projects: dirs.map((dir) => ({
      resolve: { conditions: ['tfpass-src'] },
      ssr: { resolve: { conditions: ['tfpass-src'] } },
      test: {
        name: dir.split('/')[1],
        root: dir,
        include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        testTimeout: 120_000,
        hookTimeout: 120_000,
      },
    })),
    pool: 'forks',
    maxWorkers: 2,
  },
});
