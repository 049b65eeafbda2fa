import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The house rules of issue 19, checked on the source tree so that they stay true: no import
// circles, rewrite helpers defined only in core, the layering between packages, a README per
// package, and enough before/after fixtures.

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const packages = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json'))).sort();

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    if (e === 'gen' || e === 'node_modules' || e === 'dist') continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (e.endsWith('.ts') && !e.endsWith('.test.ts') && !e.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const files = packages.flatMap((p) => (existsSync(join(root, 'packages', p, 'src')) ? sources(join(root, 'packages', p, 'src')) : []));
const text = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
const rel = (f: string) => relative(join(root, 'packages'), f);

// Value imports only: `import type` and `export type` vanish at build time and cannot form a circle.
const RELATIVE = /(?:^|\n)\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]|import\(\s*(?:\/\*.*?\*\/\s*)?['"](\.[^'"]+)['"]\s*\)/g;
const PACKAGE = /(?:^|\n)\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"](@tfpass\/[^'"/]+|@tensorflow\/[^'"/]+|@litertjs\/[^'"/]+)[^'"]*['"]/g;

function target(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  for (const c of [base.replace(/\.js$/, '.ts'), join(base, 'index.ts'), `${base}.ts`]) if (text.has(c)) return c;
  return undefined;
}

/** Strongly connected components with more than one file (Tarjan). */
function circles(): string[][] {
  const edges = new Map(files.map((f) => [f, [...text.get(f)!.matchAll(RELATIVE)].map((m) => target(f, (m[1] ?? m[2])!)).filter((t): t is string => !!t)]));
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(rel(w));
      } while (w !== v);
      if (scc.length > 1 || edges.get(v)!.includes(v)) out.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return out;
}

const packageImports = (pkg: string) =>
  files.filter((f) => rel(f).startsWith(`${pkg}/`)).flatMap((f) => [...text.get(f)!.matchAll(PACKAGE)].map((m) => ({ file: rel(f), spec: m[1]! })));

describe('the house rules (issue 19)', () => {
  it('has no import circle among the packages\' sources (dynamic imports included)', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(circles()).toEqual([]);
  });

  it('defines the rewrite kit\'s helpers in core only', () => {
    const kit = readdirSync(join(root, 'packages/core/src/rewrite')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const names = kit.flatMap((f) => [...readFileSync(join(root, 'packages/core/src/rewrite', f), 'utf8').matchAll(/export function (\w+)/g)].map((m) => m[1]!));
    expect(names).toEqual(expect.arrayContaining(['removeIfDead', 'protectedNames', 'constProducer', 'replaceAllUses', 'applyRules']));
    // A function of that name taking core's Graph or Node elsewhere is a second copy of the kit.
    // (toco's helpers of the same names work on its own TFLite IR, LGraph/LOp, and are not matched.)
    const copies = files
      .filter((f) => !rel(f).startsWith('core/'))
      .flatMap((f) => names.filter((n) => new RegExp(`function ${n}\\s*\\([^)]*\\b(Graph|Node|string)\\b`).test(text.get(f)!)).map((n) => `${rel(f)}: ${n}`));
    expect(copies).toEqual([]);
  });

  it('keeps fake-quant arithmetic (nudge) in one module', () => {
    const defs = files.filter((f) => /function nudge\w*\s*\(/.test(text.get(f)!)).map(rel);
    expect(defs).toEqual(['core/src/fake-quant.ts']);
  });

  it('keeps the layering: core imports no other package, the CLI imports no pass, nobody needs a DI container', () => {
    expect(packageImports('core').filter((i) => !i.spec.startsWith('@tfpass/core'))).toEqual([]);
    expect(packageImports('cli').filter((i) => /^@tfpass\/(pass-|quantize)/.test(i.spec))).toEqual([]);
    for (const p of packages) {
      const pj = JSON.parse(readFileSync(join(root, 'packages', p, 'package.json'), 'utf8'));
      const deps = { ...pj.dependencies, ...pj.peerDependencies, ...pj.devDependencies };
      expect(Object.keys(deps).filter((d) => d === 'tsyringe' || d === 'reflect-metadata'), p).toEqual([]);
    }
  });

  it('gives every package a README and keeps at least 30 pbtxt fixtures, most of them before/after pairs', () => {
    expect(packages.filter((p) => !existsSync(join(root, 'packages', p, 'README.md')))).toEqual([]);
    const pbtxt: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        if (e === 'node_modules' || e === 'dist') continue;
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (e.endsWith('.pbtxt')) pbtxt.push(p);
      }
    };
    for (const p of packages) walk(join(root, 'packages', p));
    expect(pbtxt.length).toBeGreaterThanOrEqual(30);
    const paired = pbtxt.filter((f) => /(^|[/.-])(input|before)\.pbtxt$/.test(f) && pbtxt.some((g) => g === f.replace(/input\.pbtxt$/, 'output.pbtxt').replace(/before\.pbtxt$/, 'after.pbtxt')));
    expect(paired.length * 2).toBeGreaterThan(pbtxt.length / 2);
  });
});
