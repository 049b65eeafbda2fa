import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where real models live. `TFPASS_MODELS` set and missing -> throws (CI must have them);
 * unset and the default folder absent -> undefined, and callers skip with the printed reason.
 */
export function modelsDir(): string | undefined {
  const env = process.env.TFPASS_MODELS;
  if (env) {
    if (!existsSync(env)) throw new Error(`TFPASS_MODELS=${env} does not exist: real-model tests cannot run`);
    return resolve(env);
  }
  const here = fileURLToPath(new URL('.', import.meta.url));
  const def = resolve(here, '../../../../shared/models');
  if (existsSync(def)) return def;
  console.warn(`[tfpass] skipping real-model tests: TFPASS_MODELS is unset and ${def} does not exist`);
  return undefined;
}

/** Path of a model file, or undefined when models are unavailable (see modelsDir). */
export function modelPath(rel: string): string | undefined {
  const d = modelsDir();
  return d ? join(d, rel) : undefined;
}
