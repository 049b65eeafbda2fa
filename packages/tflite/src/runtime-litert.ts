/**
 * Loading LiteRT.js (`@litertjs/core`, Google's TFLite runtime compiled to wasm) in Node.
 *
 * The package is an optional peer dependency: it is imported only when a `.tflite` is run, and a
 * missing install gives one line saying what to install. It is written for browsers and workers,
 * so Node needs the shim of spec §5.1 before the import: `require`, `self`, `__dirname` (the
 * package's wasm folder) and `importScripts` (read the file and run it in this context).
 *
 * LiteRT prints INFO/WARNING lines and a WebGPU failure through `console.*`. Its emscripten glue
 * binds `console.error`/`console.log` when the module is created, so the filter is installed
 * before loading and stays: inside our LiteRT calls everything printed is captured; outside them
 * only LiteRT's own line shapes are, so tfpass's output stays clean and the lines are still
 * available (`liteRtLog()`) for error messages.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import { TfpassError } from '@tfpass/core/errors';
import type * as LiteRtModule from '@litertjs/core';

export type LiteRt = typeof LiteRtModule;

const PKG = '@litertjs/core';
/** Lines LiteRT prints on its own: log levels with a source tag, the WebGPU probe, XNNPACK. */
const NOISE = /^(INFO|WARNING|ERROR|VERBOSE|DEBUG): |^Failed to create default WebGPU device|^\[StreamWeights\]/;
const LOG_LIMIT = 200;

const log: string[] = [];
let capturing = 0;
let loading: Promise<LiteRt> | undefined;

/** What LiteRT printed so far (most recent last, at most 200 lines). */
export function liteRtLog(): readonly string[] {
  return log;
}

function record(args: unknown[]): void {
  const line = args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : String(a))).join(' ');
  log.push(line);
  if (log.length > LOG_LIMIT) log.splice(0, log.length - LOG_LIMIT);
}

function installFilter(): void {
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const orig = console[level].bind(console);
    console[level] = (...args: unknown[]) => {
      if (capturing > 0 || (typeof args[0] === 'string' && NOISE.test(args[0]))) record(args);
      else orig(...args);
    };
  }
}

/** Run `f` with everything LiteRT prints captured. */
export async function quietly<T>(f: () => T | Promise<T>): Promise<T> {
  capturing++;
  try {
    return await f();
  } finally {
    capturing--;
  }
}

/** The LiteRT error lines printed since `mark` (a `liteRtLog().length`), for error messages. */
export function errorsSince(mark: number): string[] {
  return log.slice(Math.min(mark, log.length)).filter((l) => /^ERROR: /.test(l)).map((l) => l.replace(/^ERROR: /, ''));
}

/** LiteRT.js, loaded once per process (wasm build, CPU/XNNPACK). */
export function liteRt(): Promise<LiteRt> {
  loading ??= load().catch((e) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

async function load(): Promise<LiteRt> {
  const req = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    pkgDir = dirname(req.resolve(`${PKG}/package.json`));
  } catch (e) {
    throw new TfpassError('E_PLUGIN', `running a .tflite needs ${PKG} (LiteRT.js), which is not installed: npm i ${PKG}`, { cause: e });
  }
  const wasmDir = join(pkgDir, 'wasm');
  const g = globalThis as Record<string, unknown>;
  g.require ??= req;
  g.self ??= globalThis;
  g.__dirname ??= wasmDir;
  g.importScripts ??= (url: string | URL) => {
    const path = String(url).startsWith('file:') ? new URL(String(url)) : String(url);
    vm.runInThisContext(readFileSync(path, 'utf8'), { filename: String(url) });
  };
  if (!g.__tfpassLiteRtFilter) {
    installFilter();
    g.__tfpassLiteRtFilter = true;
  }
  let mod: LiteRt;
  try {
    mod = (await import(PKG)) as LiteRt;
  } catch (e) {
    throw new TfpassError('E_PLUGIN', `${PKG} failed to load: ${(e as Error)?.message ?? e}`, { cause: e });
  }
  await quietly(async () => {
    // Another library in this process may have loaded it already: reuse that instance.
    const pending = mod.getGlobalLiteRtPromise();
    if (pending) await pending;
    else await mod.loadLiteRt(wasmDir + '/');
  });
  return mod;
}
