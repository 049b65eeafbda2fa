import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { TfpassError, UsageError } from '@tfpass/core';

export type BackendName = 'wasm' | 'cpu' | 'node';

export const BACKENDS: readonly BackendName[] = ['wasm', 'cpu', 'node'];

let wasmPathSet = false;
let nodeLoaded: Promise<void> | undefined;
const ready = new Map<BackendName, Promise<void>>();

/** Point the wasm backend at the binaries inside its npm package, so nothing is downloaded. */
function useLocalWasm(): void {
  if (wasmPathSet) return;
  const req = createRequire(import.meta.url);
  const dir = dirname(req.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  setWasmPaths(join(dir, 'dist') + '/');
  wasmPathSet = true;
}

async function loadNode(): Promise<void> {
  // Optional peer dependency: imported by name at run time only, never listed in dependencies.
  const name = '@tensorflow/tfjs-node';
  try {
    await import(name);
  } catch (e) {
    throw new TfpassError(
      'E_USAGE',
      `backend 'node' needs the optional peer package ${name} (npm install ${name}@4.22.0; its install script downloads libtensorflow). ` +
        `Use --backend wasm (default) or cpu instead. Cause: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** Make `name` the active tfjs backend (initialising it once). */
export async function useBackend(name: BackendName): Promise<void> {
  if (!BACKENDS.includes(name)) throw new UsageError(`unknown backend '${name as string}' (choose ${BACKENDS.join(', ')})`);
  const tfName = name === 'node' ? 'tensorflow' : name;
  if (tf.getBackend() === tfName && ready.has(name)) return;
  let p = ready.get(name);
  if (!p) {
    p = (async () => {
      if (name === 'wasm') useLocalWasm();
      if (name === 'node') await (nodeLoaded ??= loadNode());
    })();
    ready.set(name, p);
  }
  await p;
  const ok = await tf.setBackend(tfName);
  if (!ok) throw new TfpassError('E_INTERNAL', `tfjs backend '${tfName}' failed to initialise`);
  // The cpu backend advertises tfjs-node on first use; docs/ops.md says how to opt in instead.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
}

let generation = 0;

/** Bumped by every reset: tensors and models made before it belong to a discarded backend. */
export function backendGeneration(): number {
  return generation;
}

/** A wasm trap (out-of-bounds access, unreachable, stack overflow inside the module). */
export function isWasmTrap(e: unknown): boolean {
  const RuntimeError = (globalThis as unknown as { WebAssembly?: { RuntimeError?: new () => Error } }).WebAssembly?.RuntimeError;
  if (!RuntimeError) return false;
  for (let x = e, i = 0; x && i < 8; x = (x as { cause?: unknown }).cause, i++) if (x instanceof RuntimeError) return true;
  return false;
}

/**
 * Discard the active instance of a backend so the next run starts a fresh one. After a wasm
 * trap the module's memory may be corrupt and every later call fails ("memory access out of
 * bounds"): one bad graph must not break a long-lived process. The old instance is dropped
 * without calling into it (its dispose would trap again); its factory stays registered.
 */
export function resetBackend(name: BackendName): void {
  const tfName = name === 'node' ? 'tensorflow' : name;
  const engine = tf.engine() as unknown as { registry: Record<string, unknown>; backendName: string | null; backendInstance: unknown; pendingBackendInit: unknown };
  delete engine.registry[tfName];
  if (engine.backendName === tfName) {
    engine.backendName = null;
    engine.backendInstance = null;
    engine.pendingBackendInit = null;
  }
  generation++;
}

export { tf };
